"""Clustering of face descriptors into people: pure computation, no Azure or database.

Four algorithms, all on Euclidean distance between dlib descriptors (128-d; dlib documents
0.6 as its same-person threshold), chosen by name (``ALGORITHMS``); ``bench/cluster.py``
compares them on labelled data and picks the default (``kanta.config.Settings.cluster_algorithm``):

* ``"dbscan"``: DBSCAN (Ester, Kriegel, Sander, Xu, KDD 1996), scikit-learn
  ``sklearn.cluster.DBSCAN``. Faces closer than ``eps`` are neighbours; a face with at least
  ``min_samples`` faces (itself included) within ``eps`` is a core face; core faces that are
  neighbours share a cluster, with the faces in reach of them; the rest is noise.
* ``"hdbscan"``: HDBSCAN (Campello, Moulavi, Sander, PAKDD 2013; McInnes and Healy, ICDMW
  2017), scikit-learn ``sklearn.cluster.HDBSCAN`` with ``min_cluster_size=min_samples``,
  ``cluster_selection_epsilon=eps`` and ``cluster_selection_method=selection``.
* ``"agglomerative"``: hierarchical agglomerative clustering, scikit-learn
  ``sklearn.cluster.AgglomerativeClustering(n_clusters=None, distance_threshold=eps,
  linkage=linkage)``: merging stops when the linkage distance between clusters reaches
  ``eps``. It holds all pairwise distances: O(n^2) memory (``max_agglomerative_faces``).
* ``"chinese_whispers"``: Chinese whispers (Biemann, TextGraphs 2006), dlib
  ``dlib.chinese_whispers`` on the graph whose edges join faces closer than ``eps`` (the
  graph of ``dlib.chinese_whispers_clustering(descriptors, eps)``, built here with a
  radius-neighbour search instead of dlib's all-pairs loop); 100 iterations, dlib's fixed
  seed, so the same input gives the same labels.

Every result uses ``NOISE`` (-1) for faces in no cluster. DBSCAN and HDBSCAN have their own
notion of noise; agglomerative clustering and Chinese whispers put every face in a cluster,
so there clusters of fewer than ``min_samples`` faces become noise, which makes the four
comparable (with ``min_samples=2``: a face like no other is noise).
"""

from __future__ import annotations

import numpy as np

#: Label of faces that belong to no cluster.
NOISE = -1
#: Names accepted by ``cluster_descriptors(algorithm=...)``.
ALGORITHMS = ("dbscan", "hdbscan", "agglomerative", "chinese_whispers")
#: Agglomerative clustering keeps a condensed distance matrix, 4 * n * (n - 1) bytes with
#: float64 plus scikit-learn's copies: above this many faces it refuses (about 1.6 GB at 20k).
max_agglomerative_faces = 20_000
#: Tile of the brute-force radius search, rows x columns (float32: 16 MB per tile).
_TILE_ROWS, _TILE_COLS = 1024, 4096


def cluster_descriptors(
    descriptors: np.ndarray,
    *,
    eps: float,
    min_samples: int,
    algorithm: str = "dbscan",
    linkage: str = "average",
    selection: str = "eom",
) -> np.ndarray:
    """Label each descriptor with a cluster id (``0..k-1``) or ``NOISE``.

    ``descriptors``: float array of shape ``(n, 128)`` (any ``(n, d)``).
    ``algorithm``: one of ``ALGORITHMS``.
    ``eps``: Euclidean distance (descriptor units; dlib's same-person threshold is 0.6):
    DBSCAN's neighbourhood radius, Chinese whispers' edge threshold (edges join faces closer
    than ``eps``), agglomerative clustering's ``distance_threshold`` on the linkage distance,
    HDBSCAN's ``cluster_selection_epsilon`` (0 for plain HDBSCAN; above 0 scikit-learn 1.9
    with NumPy 2 may raise, scikit-learn issue #33219, reported here as ``ValueError``).
    ``min_samples``: DBSCAN's ``min_samples`` (faces within ``eps`` of a core face, itself
    included); HDBSCAN's ``min_cluster_size`` (its ``min_samples`` is left to default to
    it); for agglomerative clustering and Chinese whispers, the smallest cluster kept
    (smaller ones become noise).
    ``linkage``: agglomerative clustering's linkage (``"average"``, ``"complete"``,
    ``"single"``; ``"ward"`` ignores ``eps``'s meaning as a distance and is refused).
    ``selection``: HDBSCAN's ``cluster_selection_method`` (``"eom"`` or ``"leaf"``).

    Returns ``int64`` of shape ``(n,)``. Cluster ids are numbered in order of each cluster's
    first face in the input, so the same input gives the same ids. Raises ``ValueError`` for
    an unknown algorithm or linkage, or for agglomerative clustering above
    ``max_agglomerative_faces`` faces. Heavy libraries (scikit-learn, dlib) are imported
    here, on first use: HTTP-only workers never pay for them.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown clustering algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    x = np.ascontiguousarray(descriptors, dtype=np.float64)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    if algorithm == "dbscan":
        labels = _dbscan(x, eps, min_samples)
    elif algorithm == "hdbscan":
        labels = _hdbscan(x, eps, min_samples, selection)
    elif algorithm == "agglomerative":
        labels = _drop_small(_agglomerative(x, eps, linkage), min_samples)
    else:
        labels = _drop_small(_chinese_whispers(x, eps), min_samples)
    return _renumber(labels)


def radius_graph(x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of rows of ``x`` (``(n, d)``) within Euclidean distance ``radius``
    (``<=``), as two ``int32`` arrays ``i``, ``j``.

    Brute force over the upper triangle in tiles, one BLAS product per tile: with rows
    extended to ``a' = (a, -h(a), 1)`` and ``b' = (b, 1, -h(b))``, ``h(v) = |v|^2/2 - r^2/4``,
    ``a'.b' = (r^2 - |a - b|^2) / 2``, positive exactly for pairs within ``r``. The product is
    in float32 (twice BLAS's float64 speed); pairs within float32 rounding of the radius are
    checked again in float64, so the result is the exact float64 one. O(n^2 d) time (100k
    128-d faces: about 15 s on one core here); memory: two float32 copies of ``x`` (100 MB at
    100k), one 16 MB tile, and 8 bytes per pair found. At 10k faces this took 0.2 s where
    scikit-learn's ball tree took 5 s and its k-d tree 15 s: trees prune little in 128-d.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n >= 2**31:
        raise ValueError("more than 2^31 faces")
    sq = np.einsum("ij,ij->i", x, x)
    r2 = radius * radius
    h = 0.5 * sq - 0.25 * r2
    ones = np.ones((n, 1))
    left = np.hstack([x, -h[:, None], ones]).astype(np.float32)
    right = np.hstack([x, ones, -h[:, None]]).astype(np.float32)
    # float32 error of a'.b' is ~1e-7 * |a'| |b'|; pairs within this margin are rechecked.
    margin = 1e-5 * max(1.0, float(sq.max(initial=0.0)), r2)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for r0 in range(0, n, _TILE_ROWS):
        r1 = min(r0 + _TILE_ROWS, n)
        for c0 in range(r0, n, _TILE_COLS):
            c1 = min(c0 + _TILE_COLS, n)
            g = left[r0:r1] @ right[c0:c1].T
            flat = np.flatnonzero(g > -margin)  # flatnonzero: far faster than 2-D nonzero
            if not len(flat):
                continue
            i, j = np.divmod(flat, c1 - c0)
            i += r0
            j += c0
            keep = j > i
            unsure = np.flatnonzero(keep & (g.ravel()[flat] <= margin))
            if len(unsure):
                d2 = ((x[i[unsure]] - x[j[unsure]]) ** 2).sum(axis=1)
                keep[unsure] = d2 <= r2
            rows.append(i[keep].astype(np.int32))
            cols.append(j[keep].astype(np.int32))
    if not rows:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
    return np.concatenate(rows), np.concatenate(cols)


def _dbscan(x: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN from the radius graph, the same labels as ``sklearn.cluster.DBSCAN(eps,
    min_samples).fit_predict(x)`` up to numbering (tested), without scikit-learn's per-face
    neighbourhood arrays (at 100k faces they took longer than the search itself, and
    several GB).

    A face is core when at least ``min_samples`` faces (itself included) lie within ``eps``.
    Clusters are the connected components of core faces joined by edges ``<= eps``; a
    non-core face within ``eps`` of core faces joins the cluster scikit-learn's expansion
    reaches first (the one whose lowest-index core face is lowest); the rest is noise.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(x)
    i, j = radius_graph(x, eps)
    degree = 1 + np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    core = degree >= min_samples
    labels = np.full(n, NOISE, dtype=np.int64)
    if not core.any():
        return labels
    both = core[i] & core[j]
    ci, cj = (i, j) if both.all() else (i[both], j[both])
    # One direction per edge is enough: components are computed as undirected (weak).
    graph = csr_matrix((np.ones(len(ci), dtype=np.int8), (ci, cj)), shape=(n, n))
    del ci, cj
    _, component = connected_components(graph, directed=True, connection="weak")
    del graph
    # Each cluster is named by its lowest-index core face: scikit-learn's cluster order.
    first_core = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_core, component[core], np.flatnonzero(core))
    labels[core] = first_core[component[core]]
    if not core.all():
        # Border faces: the lowest-named cluster among their core neighbours.
        border = np.full(n, n, dtype=np.int64)
        for a, b in ((i, j), (j, i)):
            edge = core[a] & ~core[b]
            np.minimum.at(border, b[edge], labels[a[edge]])
        reached = ~core & (border < n)
        labels[reached] = border[reached]
    return labels  # cluster_descriptors renumbers them 0..k-1


def _hdbscan(x: np.ndarray, eps: float, min_cluster_size: int, selection: str) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    if len(x) < max(2, min_cluster_size):  # HDBSCAN needs more samples than min_samples
        return np.full(len(x), NOISE, dtype=np.int64)
    try:
        return HDBSCAN(
            min_cluster_size=max(2, min_cluster_size),
            cluster_selection_epsilon=float(eps),
            cluster_selection_method=selection,
            metric="euclidean",
            copy=True,
        ).fit_predict(x)
    except TypeError as exc:  # scikit-learn issue #33219 (NumPy 2, cluster_selection_epsilon > 0)
        raise ValueError(
            f"scikit-learn's HDBSCAN fails with cluster_selection_epsilon={eps} here (scikit-learn "
            f"issue #33219, NumPy 2); use eps=0: {exc}"
        ) from exc


def _agglomerative(x: np.ndarray, eps: float, linkage: str) -> np.ndarray:
    if linkage not in ("average", "complete", "single"):
        raise ValueError(f"unsupported linkage {linkage!r}: average, complete or single")
    if len(x) > max_agglomerative_faces:
        raise ValueError(
            f"agglomerative clustering holds all pairwise distances (O(n^2) memory): "
            f"{len(x)} faces is more than {max_agglomerative_faces}"
        )
    if len(x) == 1:
        return np.zeros(1, dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(
        n_clusters=None, distance_threshold=eps, linkage=linkage, metric="euclidean"
    ).fit_predict(x)


def _chinese_whispers(x: np.ndarray, eps: float) -> np.ndarray:
    import dlib

    n = len(x)
    i, j = radius_graph(x, eps)
    # A self-edge per face, as dlib.chinese_whispers_clustering adds (its loop starts at j = i):
    # every face is a vertex, and one with no neighbour is its own cluster.
    diag = np.arange(n, dtype=np.int64)
    edges = list(zip(np.concatenate([diag, i]).tolist(), np.concatenate([diag, j]).tolist()))
    return np.asarray(dlib.chinese_whispers(edges), dtype=np.int64)


def _drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """``labels`` with clusters of fewer than ``min_size`` faces set to ``NOISE``."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    valid = labels >= 0
    counts = np.bincount(labels[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
    small = np.zeros(len(labels), dtype=bool)
    small[valid] = counts[labels[valid]] < min_size
    labels[small] = NOISE
    return labels


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered ``0..k-1`` in order of their first face; ``NOISE`` kept."""
    labels = np.asarray(labels, dtype=np.int64)
    out = np.full(len(labels), NOISE, dtype=np.int64)
    valid = labels != NOISE
    if not valid.any():
        return out
    uniq, first, inverse = np.unique(labels[valid], return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # cluster uniq[order[r]] gets id r
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    out[valid] = rank[inverse]
    return out


def _members(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Cluster → indices of its faces (ascending), for every label but ``NOISE``: one sort,
    O(n log n), instead of one scan of ``labels`` per cluster."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    cuts = np.flatnonzero(np.diff(sorted_labels)) + 1
    groups = np.split(order, cuts)
    return {int(labels[g[0]]): g for g in groups if len(g) and labels[g[0]] != NOISE}


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
    labels = np.asarray(labels, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    ids = np.full(len(labels), NOISE, dtype=np.int64)
    members = _members(labels)
    chosen: dict[int, int] = {}
    if pinned:
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
