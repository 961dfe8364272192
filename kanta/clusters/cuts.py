"""Per-event cuts: where different people start in one event, estimated from its own faces.
Pure computation on descriptors, no database.

Why: the cuts Kanta ships (clustering eps 0.58, search 0.48 / 0.52) were calibrated where
different people are almost never closer than 0.6. dlib's descriptor does not separate every
population that well: among 33 East and Southeast Asian people 29% of pairs of different
people are within 0.5 and 78% within 0.6, against under 0.5% for Western faces
(``bench/recognition.py``, "distances per source"). An event carries evidence of its own:

1. Faces that share a photo are different people by construction; with at least
   ``MIN_SAME_PHOTO_PAIRS`` such pairs, their ``IMPOSTOR_QUANTILE`` quantile is where
   different people start (a false-match rate per pair of about that quantile).
2. Most pairs of faces of an event of many guests are pairs of two people, so the upper part
   of the distances of all its pairs sits among different people's: the ``BULK_QUANTILE``
   quantile of all pairs, less ``BULK_GAP``, is a second estimate (needs ``MIN_FACES``
   faces). On every tuning set of the benchmark, Western and Asian, that quantile lies
   0.17-0.30 above the 1% quantile of different people's distances. The median would not do:
   where a few guests are in most photos, as at a wedding, it is a same-person distance (on
   the benchmark's mixed events it cut a present guest's photo recall from 0.93 to 0.13). An
   event of one or two guests has mostly same-person pairs, which only makes it cautious.

The onset is the lower of the estimates used; the cuts are never looser than the
settings: each is lowered by as much as the onset is below the clustering eps the settings
give (the shipped cuts sit at fixed distances below it). Constants chosen with
``bench/recognition.py`` on its tuning identities (figures: bench/README.md, "Populations,
per-event cuts and forget my face").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kanta.config import Settings

#: Pairs of faces sharing a photo an event needs before their quantile is used.
MIN_SAME_PHOTO_PAIRS = 50
#: Quantile of same-photo pair distances taken as the onset of different people.
IMPOSTOR_QUANTILE = 0.01
#: Quantile of the distances of all pairs of an event, and how far below it different people
#: start: the smallest gap that put the estimate at or under the 1% quantile of different
#: people's distances on every Asian tuning set of ``bench/recognition.py`` (0.186), where
#: on every Western tuning set it stays above the shipped eps (0.64 or more).
BULK_QUANTILE = 0.75
BULK_GAP = 0.19
#: Faces an event needs before the distances of all its pairs are used.
MIN_FACES = 20
#: Pairs sampled for the quantile of all pairs in larger events (seeded: the same faces give
#: the same cuts).
SAMPLE_PAIRS = 200_000
_SEED = 20261203
#: No cut goes below this: at 0.1 only copies of one photo match (re-encoded copies of one
#: face in tests/data are 0.05-0.10 apart).
FLOOR = 0.1


@dataclass(frozen=True)
class EventCuts:
    """The cuts one event uses (Euclidean distances between descriptors) and their evidence.

    ``eps``: clustering's threshold; ``face`` and ``person``: search's one-face and
    second-face cuts (``kanta.search.matching.SearchCuts``). ``onset``: where different people
    start by the event's own faces, ``None`` without enough evidence (then the cuts are the
    settings'). ``same_photo_pairs``: pairs of faces sharing a photo; ``faces``: faces seen.
    """

    eps: float
    face: float
    person: float
    onset: float | None
    same_photo_pairs: int
    faces: int

    @property
    def lowered(self) -> bool:
        """Whether the event's own faces put different people nearer than the clustering cut
        would (its cuts were lowered to the onset): faces hard to tell apart."""
        return self.onset is not None and self.onset <= self.eps

    def as_record(self) -> dict[str, float | int | None]:
        """The cuts and evidence as JSON-ready values (a re-clustering run's record)."""
        return {"eps": self.eps, "face": self.face, "person": self.person, "onset": self.onset,
                "same_photo_pairs": self.same_photo_pairs, "faces": self.faces}


def onset_of_strangers(descriptors: np.ndarray, photos: np.ndarray, *, quantile: float = IMPOSTOR_QUANTILE,
                       gap: float | None = BULK_GAP) -> tuple[float | None, int]:
    """Where different people start among ``descriptors`` (float ``(n, 128)``) whose photos
    are ``photos`` (int ``(n,)``, one id per photo): the lower of the estimates the module
    docstring describes (``quantile`` and ``gap`` as there, ``gap=None``: same-photo pairs
    only; other values for the benchmark's grid), or ``None`` without enough evidence; and
    the number of same-photo pairs.
    O(sum of squared faces per photo + ``SAMPLE_PAIRS``)."""
    x = np.asarray(descriptors, dtype=np.float64)
    photos = np.asarray(photos)
    n = len(x)
    estimates = []
    if gap is not None and n >= MIN_FACES:
        if n * (n - 1) // 2 <= SAMPLE_PAIRS:
            i, j = np.triu_indices(n, 1)
        else:
            rng = np.random.default_rng(_SEED)
            i, j = rng.integers(0, n, SAMPLE_PAIRS), rng.integers(0, n, SAMPLE_PAIRS)
            i, j = i[i != j], j[i != j]
        estimates.append(float(np.quantile(np.linalg.norm(x[i] - x[j], axis=1), BULK_QUANTILE)) - gap)
    same = []
    order = np.argsort(photos, kind="stable")
    starts = np.flatnonzero(np.r_[True, photos[order][1:] != photos[order][:-1]]) if n else np.empty(0, int)
    for a, b in zip(starts.tolist(), np.r_[starts[1:], n].tolist()):
        members = order[a:b]
        if len(members) > 1:
            u, v = np.triu_indices(len(members), 1)
            same.append(np.linalg.norm(x[members[u]] - x[members[v]], axis=1))
    pairs = int(sum(len(d) for d in same))
    if pairs >= MIN_SAME_PHOTO_PAIRS:
        estimates.append(float(np.quantile(np.concatenate(same), quantile)))
    return (min(estimates) if estimates else None), pairs


def event_cuts(descriptors: np.ndarray, photos: np.ndarray, *, eps: float, face: float, person: float) -> EventCuts:
    """The cuts of one event: the settings' ``eps``, ``face`` and ``person``, each lowered by
    ``max(0, eps - onset)`` (``onset_of_strangers``), never raised."""
    onset, pairs = onset_of_strangers(descriptors, photos)
    shift = 0.0 if onset is None else max(0.0, eps - onset)
    return EventCuts(max(FLOOR, eps - shift), max(FLOOR, face - shift), max(FLOOR, person - shift), onset, pairs,
                     len(descriptors))


def settings_cuts(settings: Settings) -> EventCuts:
    """The cuts of ``kanta.config.Settings`` with no evidence (an event not clustered yet)."""
    return EventCuts(settings.cluster_eps, settings.search_max_distance, settings.search_person_max_distance,
                     None, 0, 0)


def recorded_cuts(record: dict[str, Any] | None, settings: Settings) -> EventCuts:
    """The cuts a re-clustering run recorded (``EventCuts.as_record`` under its parameters),
    each no looser than ``settings``' (they may have been tightened since); the settings'
    cuts when ``record`` holds none (no run yet, or a run from before per-event cuts)."""
    base = settings_cuts(settings)
    if not record or "face" not in record or "person" not in record:
        return base
    return EventCuts(min(base.eps, float(record.get("eps", base.eps))), min(base.face, float(record["face"])),
                     min(base.person, float(record["person"])), record.get("onset"),
                     int(record.get("same_photo_pairs", 0)), int(record.get("faces", 0)))
