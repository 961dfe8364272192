"""Which faces of one event a selfie matches, exact, in NumPy over a per-process copy of the
event's descriptors and of who is who.

Why not an index in PostgreSQL: in ``bench/search.py`` (one event of 100 000 faces among
1 000 000), PostgreSQL's exact scan of the event takes ~35 ms at p95, and pgvector 0.6's
partial HNSW index per event (m 16, ef_construction 64) reaches recall@20 0.97 at
``hnsw.ef_search`` 200 with a p95 1.7x-2.7x an exact NumPy scan (two runs); more recall
costs more time. Search must stay within 2x the NumPy scan and be exact, and the matching
rule (``kanta.search.matching``) needs the distance of every face of a person, not the
nearest k. An exact scan here is all of that: one BLAS product over a float32 copy (512 bytes
per face: 51 MB per 100 000 faces), kept per event and per worker process, refreshed from
PostgreSQL when it changed.

The copy holds, per usable face ordered by id: its descriptor, its photo (``image_id``) and
its person (``cluster_id``, ``NO_PERSON`` for none or noise), so that selecting a person's
faces, keeping each photo once and counting a person's photos need no query proportional to
the person's size; only the returned photos are read from PostgreSQL (by primary key).

Consistency: each search reads the event's ``faces_version`` (bumped in the transaction of
every insert or delete of its faces) and ``clusters_version`` (bumped in the transaction of
every other change of ``cluster_id``: re-clustering, merge, move, "not this person"), before
any face row, so a change committed meanwhile is picked up by the next search. When either
moved, the (id, cluster_id) of every usable face is read again, packed in one row; when
``faces_version`` moved, the copy also drops the faces no longer there and reads the
descriptors of the ones it lacks (late commits with a lower id included) by binary ``COPY``.
Both are parsed with NumPy, not row by row. Distances that decide a match, and those
returned, are recomputed in float64, so they equal pgvector's ``<->`` to float32 rounding of
the stored descriptors.

Per query face, beyond the matrix-vector product, the work is one pass over the event's
faces to find those within the cuts, then proportional to the faces of the people found
(``_Copy.by_person``), never to the event.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import psycopg

from kanta.faces import DESCRIPTOR_DIM
from kanta.search.matching import NO_PERSON, PersonEvidence, SearchCuts, Selection, select_faces
from kanta.store import events as event_store
from kanta.store import images as store

#: Bytes of copies kept per process across events; least recently searched go first.
MAX_CACHE_BYTES = 512 * 1024 * 1024

#: float32 squared distances round distances by ~1e-6; faces this much beyond a cut are
#: measured again in float64 before the rule is applied, so rounding never decides a match.
_MARGIN = 1e-4
#: Photos measured again in float64 beyond ``top_k``, so rounding never decides which photo
#: makes the cut either.
_SPARE = 16


@dataclass(frozen=True)
class _Copy:
    """One event's usable faces, ascending id: ``ids`` int64 ``(n,)``, ``images`` 16-byte
    ``image_id`` ``V16`` ``(n,)``, ``people`` int64 ``(n,)`` (``NO_PERSON`` for none),
    ``matrix`` float32 ``(n, 128)``, ``half_sq_norms`` float32 ``(n,)`` (half squared norms);
    the event's versions when read. ``by_person`` int64: the rows of faces in a person,
    grouped by person (``persons``, ascending), person ``persons[j]``'s rows being
    ``by_person[starts[j]:starts[j + 1]]``. Arrays are read-only: searches share them."""

    ids: np.ndarray
    images: np.ndarray
    people: np.ndarray
    matrix: np.ndarray
    half_sq_norms: np.ndarray
    faces_version: int
    clusters_version: int
    by_person: np.ndarray = field(init=False)
    persons: np.ndarray = field(init=False)
    starts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        in_person = np.flatnonzero(self.people >= 0)
        by_person = in_person[np.argsort(self.people[in_person], kind="stable")]
        persons, starts = np.unique(self.people[by_person], return_index=True)
        object.__setattr__(self, "by_person", by_person)
        object.__setattr__(self, "persons", persons)
        object.__setattr__(self, "starts", np.append(starts, len(by_person)).astype(np.int64))
        for a in self._arrays():
            a.flags.writeable = False

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.ids, self.images, self.people, self.matrix, self.half_sq_norms, self.by_person, self.persons,
                self.starts)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays())

    def rows_of(self, persons: np.ndarray) -> np.ndarray:
        """Rows of every face of ``persons`` (int, each in ``self.persons``), int64, grouped by person."""
        j = np.searchsorted(self.persons, persons)
        if not len(j):
            return np.empty(0, np.int64)
        return np.concatenate([self.by_person[self.starts[k]: self.starts[k + 1]] for k in j.tolist()])


def _empty_copy(faces_version: int = -1, clusters_version: int = -1) -> _Copy:
    return _Copy(np.empty(0, np.int64), np.empty(0, "V16"), np.empty(0, np.int64), np.empty((0, DESCRIPTOR_DIM), np.float32),
                 np.empty(0, np.float32), faces_version, clusters_version)


_copies: OrderedDict[int, _Copy] = OrderedDict()
_lock = threading.Lock()


def _refreshed(conn: psycopg.Connection, event_id: int) -> _Copy:
    """The event's copy, brought up to date with the database (see the module docstring)."""
    versions = event_store.event_versions(conn, event_id)
    if versions is None:  # deleted meanwhile: nothing to search
        forget(event_id)
        return _empty_copy()
    faces_version, clusters_version = versions
    with _lock:
        current = _copies.get(event_id)
        if current is not None and (current.faces_version, current.clusters_version) == versions:
            _copies.move_to_end(event_id)
            return current
    person_ids, people = store.usable_people(conn, event_id)
    base = current if current is not None else _empty_copy()
    ids, images, matrix, half_sq_norms = base.ids, base.images, base.matrix, base.half_sq_norms
    if current is None or current.faces_version != faces_version:
        kept = np.isin(ids, person_ids, assume_unique=True)
        if not kept.all():  # deleted faces
            ids, images, matrix, half_sq_norms = ids[kept], images[kept], matrix[kept], half_sq_norms[kept]
        new_ids, new_images, new_matrix = store.usable_descriptors(
            conn, event_id, person_ids[~np.isin(person_ids, ids, assume_unique=True)])
        if len(new_ids):
            new_norms = np.einsum("ij,ij->i", new_matrix, new_matrix, dtype=np.float32) / np.float32(2)
            late = len(ids) and new_ids[0] < ids[-1]  # committed after a face with a higher id
            ids, images = np.concatenate([ids, new_ids]), np.concatenate([images, new_images])
            matrix, half_sq_norms = np.vstack([matrix, new_matrix]), np.concatenate([half_sq_norms, new_norms])
            if late:
                order = np.argsort(ids, kind="stable")
                ids, images, matrix, half_sq_norms = ids[order], images[order], matrix[order], half_sq_norms[order]
    # Who is who, aligned by id; a face deleted after the people were read has none.
    at = np.minimum(np.searchsorted(person_ids, ids), max(len(person_ids) - 1, 0))
    found = person_ids[at] == ids if len(person_ids) else np.zeros(len(ids), dtype=bool)
    fresh = _Copy(ids, images, np.where(found, people[at] if len(people) else NO_PERSON, NO_PERSON).astype(np.int64),
                  matrix, half_sq_norms, faces_version, clusters_version)
    with _lock:
        _copies[event_id] = fresh
        _copies.move_to_end(event_id)
        total = sum(c.nbytes for c in _copies.values())
        while total > MAX_CACHE_BYTES and len(_copies) > 1:
            _, evicted = _copies.popitem(last=False)
            total -= evicted.nbytes
    return fresh


class PhotoMatch(NamedTuple):
    """A photo of the event with its nearest matched face: ``distance`` float64 Euclidean."""

    image_id: uuid.UUID
    face_id: int
    distance: float


@dataclass(frozen=True)
class FaceMatches:
    """What one query face matches in an event (``kanta.search.matching.select_faces``).

    ``face_ids``: int64 ``(m,)`` every matched face (all faces of each matched person, and
    faces in no person within ``cuts.face``), nearest first, ties by id. ``distances``:
    float64 ``(m,)`` each one's Euclidean distance to the query face; in float64 for the faces
    within the cuts and those of ``photos``, else from float32 (off by ~1e-6).
    ``people``: the matched people, nearest first. ``photo_counts``: per matched person, how
    many photos of the event show one of their usable faces. ``photos``: at most ``top_k``
    photos, nearest first (ties by face id), each once with its nearest matched face.
    """

    face_ids: np.ndarray
    distances: np.ndarray
    people: list[PersonEvidence]
    photo_counts: dict[int, int]
    photos: list[PhotoMatch] = field(default_factory=list)


def _exact(matrix: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """float64 Euclidean distances of ``matrix[rows]`` to ``q``."""
    return np.linalg.norm(matrix[rows].astype(np.float64) - q.astype(np.float64), axis=1)


def match_faces(conn: psycopg.Connection, event_id: int, queries: np.ndarray, cuts: SearchCuts, top_k: int
                ) -> list[FaceMatches]:
    """Match each query face (``queries``: float ``(q, 128)`` dlib descriptors) against the
    usable faces of event ``event_id`` by the rule of ``kanta.search.matching.select_faces``
    (``cuts``: Euclidean distances), exact; one ``FaceMatches`` per query face, in order, with
    its ``top_k`` (>= 1) nearest photos.

    One BLAS product over this process's copy of the event for all query faces; reads from
    PostgreSQL the event's versions, and beyond that only what changed since this process last
    searched the event. Raises ``ValueError`` for queries not shaped ``(q, 128)`` or ``top_k``
    < 1, ``psycopg.Error`` on database errors.
    """
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim != 2 or q.shape[1] != DESCRIPTOR_DIM:
        raise ValueError(f"queries must be (q, {DESCRIPTOR_DIM}) descriptors, not {q.shape}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, not {top_k}")
    copy = _refreshed(conn, event_id)
    if not len(copy.ids):
        return [FaceMatches(np.empty(0, np.int64), np.empty(0, np.float64), [], {}) for _ in q]
    # |x - q|^2 / 2 = |x|^2 / 2 - x.q + |q|^2 / 2: one matrix product for every face and query
    # face, then one pass per query face finds the faces within the cuts.
    products = q @ copy.matrix.T
    reach = cuts.reach + _MARGIN
    out = []
    for i, query in enumerate(q):
        qq = float(query.astype(np.float64) @ query.astype(np.float64))
        half = np.subtract(copy.half_sq_norms, products[i], out=products[i])  # |x - q|^2 / 2 - |q|^2 / 2
        near = np.flatnonzero(half <= (reach * reach - qq) / 2)
        # The rule needs only the faces within the cuts and every face of their people.
        around = np.unique(copy.people[near])
        rows = np.union1d(near, copy.rows_of(around[around >= 0]))
        distances = np.sqrt(np.maximum(2.0 * half[rows].astype(np.float64) + qq, 0.0))
        distances[np.searchsorted(rows, near)] = _exact(copy.matrix, near, query)
        selection = select_faces(distances, copy.people[rows], cuts)
        out.append(_matches(copy, rows, selection, distances, query, top_k))
    return out


def _matches(copy: _Copy, rows: np.ndarray, selection: Selection, distances: np.ndarray, query: np.ndarray,
             top_k: int) -> FaceMatches:
    """``FaceMatches`` of one query face from its ``Selection`` over the copy's ``rows``
    (``distances``: float64, one per row, completed here in float64 where shown)."""
    chosen = selection.faces  # positions in rows, nearest first
    # A person's second nearest face may lie beyond the cuts (matched by one face): measure
    # it in float64 too, as the evidence shows it.
    people = list(selection.people)
    who = copy.people[rows[chosen]]
    for i, p in enumerate(people):
        if p.second is not None:
            two = chosen[who == p.person][:2]
            distances[two] = _exact(copy.matrix, rows[two], query)
            people[i] = replace(p, second=float(distances[two].max()))
    # Each photo once, with its nearest face: the first of the photo in nearest-first order.
    _, first = np.unique(copy.images[rows[chosen]], return_index=True)
    best = chosen[np.sort(first)[: top_k + _SPARE]]
    distances[best] = _exact(copy.matrix, rows[best], query)
    best = best[np.lexsort((rows[best], distances[best]))][:top_k]
    chosen = chosen[np.lexsort((rows[chosen], distances[chosen]))]
    return FaceMatches(
        face_ids=copy.ids[rows[chosen]],
        distances=distances[chosen],
        people=people,
        photo_counts={p.person: int(np.unique(copy.images[copy.rows_of(np.array([p.person]))]).size) for p in people},
        photos=[PhotoMatch(uuid.UUID(bytes=copy.images[r].tobytes()), int(copy.ids[r]), float(distances[b]))
                for b, r in zip(best.tolist(), rows[best].tolist())],
    )


def forget(event_id: int) -> None:
    """Drop this process's copy of event ``event_id`` (after the event is deleted)."""
    with _lock:
        _copies.pop(event_id, None)
