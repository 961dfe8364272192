"""Which faces a selfie matches: evidence from a person's faces, not from the nearest face
alone. Pure computation on distances, shared by the search service and ``bench/recognition.py``.

Why: in a large event some stranger's face is almost always near a selfie. On 1,166 real
faces of 12 people, a selfie of someone absent had another person's face within 0.6 (dlib's
same-person threshold) in most tries, and the chance grows with the event's faces,
``1 - (1 - FMR)^N``. One face near the selfie is weak evidence; two faces of the same person
near it, or one very near, is strong. So a person (a cluster of the event) matches when its
*nearest* face is within ``SearchCuts.face`` or its *second nearest* face is within
``SearchCuts.person``; a match returns all of that person's faces, so photos where the
guest looks unlike the selfie are found too. A face in no person (not clustered yet, or
noise) matches only within ``SearchCuts.face``. The defaults and their measured stranger
rejection and recall are in ``kanta.config`` and bench/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

#: Person id of a face in no person (not clustered yet, noise, or "not this person").
NO_PERSON = -1


@dataclass(frozen=True)
class SearchCuts:
    """Euclidean distances between dlib descriptors. ``face``: one face this near matches
    (its person if it has one). ``person``: a person whose second nearest face is this near
    matches."""

    face: float
    person: float


@dataclass(frozen=True)
class PersonEvidence:
    """Why a person matched: the distances of their ``nearest`` and ``second`` nearest faces
    to the selfie (``second`` is ``None`` for a person with one face) and which cut was met
    (``"one_face"``: ``nearest <= cuts.face``; else ``"two_faces"``: ``second <= cuts.person``)."""

    person: int
    nearest: float
    second: float | None
    matched_by: Literal["one_face", "two_faces"]


@dataclass(frozen=True)
class Selection:
    """``faces``: indices into the inputs of every matched face, nearest first (ties by
    index): all faces of matched people and the faces in no person within ``cuts.face``.
    ``people``: the matched people, nearest first."""

    faces: np.ndarray
    people: list[PersonEvidence]


def select_faces(distances: np.ndarray, people: np.ndarray, cuts: SearchCuts) -> Selection:
    """Match a selfie against an event's faces.

    ``distances``: ``float`` ``(n,)`` Euclidean distance of each usable face of the event to
    the selfie's descriptor. ``people``: ``int`` ``(n,)`` each face's person id, ``NO_PERSON``
    (or any negative) for none. O(n) vectorised; only faces within ``max(cuts)`` are grouped.
    Raises ``ValueError`` when the shapes differ.
    """
    distances = np.asarray(distances, dtype=np.float64)
    people = np.asarray(people, dtype=np.int64)
    if distances.shape != people.shape or distances.ndim != 1:
        raise ValueError(f"distances {distances.shape} and people {people.shape} must be the same (n,)")
    near = np.flatnonzero(distances <= max(cuts.face, cuts.person))
    in_person = near[people[near] >= 0]
    # Per person, its faces among the near ones, nearest first.
    order = in_person[np.lexsort((in_person, distances[in_person], people[in_person]))]
    evidence: list[PersonEvidence] = []
    if len(order):
        who = people[order]
        starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for s, e in zip(starts.tolist(), ends.tolist()):
            nearest = float(distances[order[s]])
            second = float(distances[order[s + 1]]) if e - s > 1 else None
            if nearest <= cuts.face:
                evidence.append(PersonEvidence(int(who[s]), nearest, second, "one_face"))
            elif second is not None and second <= cuts.person:
                evidence.append(PersonEvidence(int(who[s]), nearest, second, "two_faces"))
    evidence.sort(key=lambda p: (p.nearest, p.person))
    matched = np.array([p.person for p in evidence], dtype=np.int64)
    chosen = np.isin(people, matched) if len(matched) else np.zeros(len(people), dtype=bool)
    loose = near[(people[near] < 0) & (distances[near] <= cuts.face)]
    chosen[loose] = True
    faces = np.flatnonzero(chosen)
    faces = faces[np.lexsort((faces, distances[faces]))]
    # A person matched by one face may have a second beyond max(cuts): give its true distance,
    # so "no second face" is not shown for a person who has one.
    who = people[faces]
    for i, p in enumerate(evidence):
        if p.second is None:
            mine = faces[who == p.person]
            if len(mine) > 1:
                evidence[i] = replace(p, second=float(distances[mine[1]]))
    return Selection(faces, evidence)
