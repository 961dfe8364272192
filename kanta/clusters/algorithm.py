"""Clustering of face descriptors into people: pure computation, no Azure or database.

DBSCAN (Ester et al., KDD 1996; scikit-learn ``sklearn.cluster.DBSCAN``) on Euclidean
distance between dlib descriptors: faces closer than ``eps`` are neighbours, a face with
at least ``min_samples - 1`` neighbours starts or extends a cluster, the rest are noise.
"""

from __future__ import annotations

import numpy as np

#: Label of faces that belong to no cluster.
NOISE = -1
#: Name of the clustering algorithm, as recorded with each run.
ALGORITHM = "dbscan"


def cluster_descriptors(descriptors: np.ndarray, *, eps: float, min_samples: int) -> np.ndarray:
    """Label each descriptor with a cluster id (``0..k-1``) or ``NOISE``.

    ``descriptors``: float array of shape ``(n, 128)``. Returns ``int64`` of shape ``(n,)``.
    Cluster ids are numbered in order of each cluster's first face in the input, so the same
    input gives the same ids.
    """
    if len(descriptors) == 0:
        return np.empty(0, dtype=np.int64)
    # Imported here: scikit-learn costs ~1 s of import that HTTP-only workers never need.
    from sklearn.cluster import DBSCAN

    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean").fit_predict(
        np.asarray(descriptors, dtype=np.float64)
    )
    return labels.astype(np.int64)


def stable_ids(
    labels: np.ndarray,
    previous: np.ndarray,
    *,
    pinned: dict[int, int],
    rejected: dict[int, set[int]],
    next_id: int,
) -> tuple[np.ndarray, int]:
    """Turn a run's labels into person ids that persist across runs, honouring corrections.

    ``labels``: ``int`` ``(n,)`` from ``cluster_descriptors`` (``NOISE`` = -1).
    ``previous``: ``int`` ``(n,)`` each face's id before the run (``-1`` when none).
    ``pinned``: face index → id a person assigned it to (a move or a merge).
    ``rejected``: face index → ids a person said it is not.
    ``next_id``: the event's first never-used id. Returns ``(ids, next_id)``.

    Each new cluster takes, in order: when more than half its faces are pinned, the id most
    of them are pinned to (two clusters may share it: a merge); else the previous id most
    of its faces carried, if no cluster sharing more faces took it first (greedy matching
    by shared faces); else a new id. Then pinned faces get their pinned id and rejected
    faces leave a cluster they were rejected from (to noise).
    """
    ids = np.full(len(labels), NOISE, dtype=np.int64)
    members: dict[int, np.ndarray] = {
        int(c): np.flatnonzero(labels == c) for c in np.unique(labels) if c != NOISE
    }
    chosen: dict[int, int] = {}
    for c, idx in members.items():
        pins = [pinned[i] for i in idx.tolist() if i in pinned]
        if 2 * len(pins) > len(idx):  # mostly faces a host placed: the host's person
            chosen[c] = max(set(pins), key=lambda p: (pins.count(p), -p))
    taken = set(chosen.values())
    candidates = []  # (shared faces, cluster, previous id)
    for c, idx in members.items():
        if c in chosen:
            continue
        old, counts = np.unique(previous[idx], return_counts=True)
        candidates += [(int(n), c, int(o)) for o, n in zip(old, counts) if o != NOISE]
    for shared, c, old in sorted(candidates, key=lambda t: (-t[0], t[1], t[2])):
        if c not in chosen and old not in taken:
            chosen[c] = old
            taken.add(old)
    for c in sorted(members):
        if c not in chosen:
            chosen[c] = next_id
            next_id += 1
    for c, idx in members.items():
        ids[idx] = chosen[c]
    for i, person in pinned.items():
        ids[i] = person
    for i, people in rejected.items():
        if ids[i] in people:
            ids[i] = NOISE
    return ids, max(next_id, int(ids.max(initial=-1)) + 1)
