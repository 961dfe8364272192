"""Which faces a selfie matches: evidence from a person's faces, not from the nearest face
alone. Pure computation on distances, shared by the search service, forget my face and
``bench/recognition.py``.

Why: in a large event some stranger's face is almost always near a selfie. On 1,166 real
faces of 12 people, a selfie of someone absent had another person's face within 0.6 (dlib's
same-person threshold) in most tries, and the chance grows with the event's faces,
``1 - (1 - FMR)^N``. One face near the selfie is weak evidence; two faces of the same person
near it, or one very near, is strong. So a person (a cluster of the event) *passes the cuts*
when its *nearest* face is within ``SearchCuts.face`` or its *second nearest* face is within
``SearchCuts.person``; a match returns all of that person's faces, so photos where the
guest looks unlike the selfie are found too. A face in no person (not clustered yet, or
noise) passes only within ``SearchCuts.face``.

The ratio test (with ``SearchCuts.ratio`` set; Lowe, IJCV 2004, for keypoints): where
different people's faces are as near as the same person's, as for dlib on East Asian faces,
a distance alone cannot tell, but the neighbourhood can: the selfie must be clearly nearer to
the person than to anyone else. Each candidate (a person, or a face in no person) has a
*score*: its nearest face's distance plus ``SINGLE_FACE_PENALTY`` (one face is weaker
evidence than two), or the mean distance of its two nearest faces when lower. Only the candidate with the best score may match, and only when its
score is at most ``ratio`` times the next candidate's: a selfie shows one person, and one
between two people gets no match rather than the wrong one. It matches when it passes the
cuts, or, if a person, when its score is within ``SearchCuts.clear`` (``matched_by``
``clearly_nearest``; a face in no person still needs the face cut). Only candidates with a
face within ``SearchCuts.reach`` count. Measured on the benchmark
(bench/README.md, "Populations, per-event cuts and forget my face").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

#: Person id of a face in no person (not clustered yet, noise, or "not this person").
NO_PERSON = -1


#: Added to the distance of a candidate's nearest face to give its score unless the mean of
#: its two nearest is lower: one face is weaker evidence than two (as if a second face were
#: 0.1 farther). Chosen on the tuning identities of ``bench/recognition.py`` against 0 (with
#: 0, Asian photo recall fell by up to 0.09 at the same strangers' rate).
SINGLE_FACE_PENALTY = 0.05


@dataclass(frozen=True)
class SearchCuts:
    """Euclidean distances between dlib descriptors. ``face``: one face this near passes
    (its person if it has one). ``person``: a person whose second nearest face is this near
    passes. ``ratio``: the ratio test's ratio in (0, 1], ``None`` for no ratio test (every
    candidate that passes matches); ``clear``: the score within which the clearly nearest
    person matches although it passes no cut (``None``: never)."""

    face: float
    person: float
    ratio: float | None = None
    clear: float | None = None

    @property
    def reach(self) -> float:
        """Distance beyond which a face is not looked at: the largest cut; with the ratio
        test, the largest score a match can have (``face + SINGLE_FACE_PENALTY``, ``person``
        or ``clear``) divided by ``ratio``: a rival whose nearest face is farther scores more
        than ``1 / ratio`` times any match, so it could not have stopped one."""
        if self.ratio is None:
            return max(self.face, self.person)
        return max(self.face + SINGLE_FACE_PENALTY, self.person, self.clear or 0.0) / self.ratio


@dataclass(frozen=True)
class PersonEvidence:
    """Why a person matched: the distances of their ``nearest`` and ``second`` nearest faces
    to the selfie (``second`` is ``None`` for a person with one face), which cut was met
    (``"one_face"``: ``nearest <= cuts.face``; else ``"two_faces"``: ``second <=
    cuts.person``; else ``"clearly_nearest"``: the ratio test's ``clear`` score) and, with
    the ratio test, the ``runner_up``: the next candidate's score (``None``: none within
    reach, or no ratio test)."""

    person: int
    nearest: float
    second: float | None
    matched_by: Literal["one_face", "two_faces", "clearly_nearest"]
    runner_up: float | None = None


@dataclass(frozen=True)
class Selection:
    """``faces``: indices into the inputs of every matched face, nearest first (ties by
    index): all faces of the matched people and the matched faces in no person.
    ``people``: the matched people, nearest first."""

    faces: np.ndarray
    people: list[PersonEvidence]


def select_faces(distances: np.ndarray, people: np.ndarray, cuts: SearchCuts) -> Selection:
    """Match a selfie against an event's faces by the rule of the module docstring.

    ``distances``: ``float`` ``(n,)`` Euclidean distance of each usable face of the event to
    the selfie's descriptor; every face of a person with a face within ``cuts.reach`` must be
    given. ``people``: ``int`` ``(n,)`` each face's person id, ``NO_PERSON`` (or any negative)
    for none. O(n log n); only candidates with a face within ``cuts.reach`` are grouped.
    Raises ``ValueError`` when the shapes differ.
    """
    distances = np.asarray(distances, dtype=np.float64)
    people = np.asarray(people, dtype=np.int64)
    if distances.shape != people.shape or distances.ndim != 1:
        raise ValueError(f"distances {distances.shape} and people {people.shape} must be the same (n,)")
    near = np.flatnonzero(distances <= cuts.reach)
    # Candidates: each person with a face within reach (all its faces), each face in no person
    # within reach on its own (a negative key of its own).
    persons = np.unique(people[near][people[near] >= 0])
    members = np.r_[np.flatnonzero(np.isin(people, persons)), near[people[near] < 0]].astype(np.int64)
    key = np.where(people[members] >= 0, people[members], -1 - members)
    order = np.lexsort((members, distances[members], key))
    members, key = members[order], key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, len(key)])
    first = distances[members[starts]]
    second = np.where(sizes > 1, distances[members[np.minimum(starts + 1, len(members) - 1)]], np.nan)
    score = np.where(sizes > 1, np.minimum((first + second) / 2, first + SINGLE_FACE_PENALTY),
                     first + SINGLE_FACE_PENALTY)
    in_person = key[starts] >= 0
    by_face = first <= cuts.face
    by_two = in_person & ~by_face & (second <= cuts.person)
    passes = by_face | by_two
    runner_up: float | None = None
    if cuts.ratio is None:
        chosen = passes
    else:
        chosen = np.zeros(len(starts), dtype=bool)
        if len(starts):
            ranked = np.lexsort((key[starts], score))
            best = ranked[0]
            runner_up = float(score[ranked[1]]) if len(ranked) > 1 else None
            clear = in_person[best] and cuts.clear is not None and score[best] <= cuts.clear
            chosen[best] = bool((passes[best] or clear)
                                and (runner_up is None or score[best] <= cuts.ratio * runner_up))
    evidence = [
        PersonEvidence(int(key[starts[g]]), float(first[g]), None if sizes[g] < 2 else float(second[g]),
                       "one_face" if by_face[g] else "two_faces" if by_two[g] else "clearly_nearest", runner_up)
        for g in np.flatnonzero(chosen & in_person)
    ]
    evidence.sort(key=lambda p: (p.nearest, p.person))
    group = np.repeat(np.arange(len(starts)), sizes)
    faces = members[chosen[group]] if len(members) else np.empty(0, np.int64)
    faces = faces[np.lexsort((faces, distances[faces]))]
    return Selection(faces, evidence)
