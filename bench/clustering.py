"""Research clustering candidates that ``recognition.py`` compares with what Kanta ships.

Kanta runs one algorithm, graph average linkage (``kanta.clusters.algorithm``); the others
live here because only the benchmark runs them, so the deployed app needs neither
scikit-learn nor SciPy. ``cluster_descriptors`` runs any of them by name (``ALGORITHMS``),
all on Euclidean distance between dlib descriptors (128-d; dlib documents 0.6 as its
same-person threshold):

* ``"graph_average"``: Kanta's own ``kanta.clusters.algorithm.cluster_descriptors``, called
  as is, so its figures are those of the shipped code.
* ``"dbscan"``: DBSCAN (Ester, Kriegel, Sander, Xu, KDD 1996), the labels of scikit-learn's
  ``sklearn.cluster.DBSCAN`` (tested). Faces closer than ``eps`` are neighbours; a face
  with at least ``min_samples`` faces (itself included) within ``eps`` is a core face; core
  faces that are neighbours share a cluster, with the faces in reach of them; the rest is noise.
* ``"hdbscan"``: HDBSCAN (Campello, Moulavi, Sander, PAKDD 2013; McInnes and Healy, ICDMW
  2017), scikit-learn ``sklearn.cluster.HDBSCAN`` with ``min_cluster_size=min_samples``,
  ``cluster_selection_epsilon=eps`` and ``cluster_selection_method=selection``.
* ``"agglomerative"``: hierarchical agglomerative clustering, scikit-learn
  ``sklearn.cluster.AgglomerativeClustering(n_clusters=None, distance_threshold=eps,
  linkage=linkage)``: merging stops when the linkage distance between clusters reaches
  ``eps``. It holds all pairwise distances: O(n^2) memory (``max_agglomerative_faces``).
* ``"chinese_whispers"``: Chinese whispers (Biemann, TextGraphs 2006), dlib
  ``dlib.chinese_whispers`` on the graph whose edges join faces closer than ``eps`` (the
  graph of ``dlib.chinese_whispers_clustering(descriptors, eps)``, built here with
  ``kanta.clusters.algorithm.radius_graph`` instead of dlib's all-pairs loop); 100
  iterations, dlib's fixed seed, so the same input gives the same labels.
* ``"rank_order"``: approximate rank-order clustering (Otto, Wang, Jain, TPAMI 2018), which
  links faces that share their nearest neighbours (``rank_order``).

Every result uses ``NOISE`` (-1) for faces in no cluster. DBSCAN and HDBSCAN have their own
notion of noise; the others put every face in a cluster, so there clusters of fewer than
``min_samples`` faces become noise, which makes them comparable (with ``min_samples=2``: a
face like no other is noise).

Imported as ``clustering`` by the scripts (run as ``python bench/<name>.py``, this directory
on ``sys.path``) and as ``bench.clustering`` by the tests.
"""

from __future__ import annotations

import numpy as np

# The shipped clustering, and its helpers: every candidate numbers clusters and drops small
# ones the way the app does, so only the algorithm differs.
from kanta.clusters import algorithm as shipped
from kanta.clusters.algorithm import DEFAULT_CAP, NOISE, _drop_small, _renumber, radius_graph

#: Names accepted by ``cluster_descriptors(algorithm=...)``.
ALGORITHMS = ("graph_average", "dbscan", "hdbscan", "agglomerative", "chinese_whispers", "rank_order")
#: Agglomerative clustering keeps a condensed distance matrix, 4 * n * (n - 1) bytes with
#: float64 plus scikit-learn's copies: above this many faces it refuses (about 1.6 GB at 20k).
max_agglomerative_faces = 20_000
#: Rows per tile of the nearest-neighbour search (float32: 100 MB per tile at 100k faces).
_KNN_TILE_ROWS = 256


def cluster_descriptors(
    descriptors: np.ndarray,
    *,
    eps: float,
    min_samples: int,
    algorithm: str = "graph_average",
    cap: float = DEFAULT_CAP,
    groups: np.ndarray | None = None,
    linkage: str = "average",
    selection: str = "eom",
    neighbours: int = 20,
    threshold: float = 1.5,
) -> np.ndarray:
    """Label each descriptor with a cluster id (``0..k-1``) or ``NOISE``.

    ``descriptors``: float array of shape ``(n, 128)`` (any ``(n, d)``).
    ``algorithm``: one of ``ALGORITHMS``.
    ``eps``: Euclidean distance (descriptor units; dlib's same-person threshold is 0.6):
    graph average linkage's threshold on the mean capped distance between two clusters,
    DBSCAN's neighbourhood radius, Chinese whispers' edge threshold (edges join faces closer
    than ``eps``), agglomerative clustering's ``distance_threshold`` on the linkage distance,
    rank-order's largest distance of a linked pair, HDBSCAN's ``cluster_selection_epsilon``
    (0 for plain HDBSCAN; above 0 scikit-learn 1.9 with NumPy 2 may raise, scikit-learn
    issue #33219, reported here as ``ValueError``).
    ``min_samples``: DBSCAN's ``min_samples`` (faces within ``eps`` of a core face, itself
    included); HDBSCAN's ``min_cluster_size`` (its ``min_samples`` is left to default to
    it); for the others, the smallest cluster kept (smaller ones become noise).
    ``cap``: graph average linkage's distance cap.
    ``groups``: ``(n,)`` photo of each face, or ``None``; graph average linkage never puts
    two faces of one photo in one cluster (the others ignore it).
    ``linkage``: agglomerative clustering's linkage (``"average"``, ``"complete"``,
    ``"single"``; ``"ward"`` ignores ``eps``'s meaning as a distance and is refused).
    ``selection``: HDBSCAN's ``cluster_selection_method`` (``"eom"`` or ``"leaf"``).
    ``neighbours``, ``threshold``: rank-order's list length and distance threshold.

    Returns ``int64`` of shape ``(n,)``. Cluster ids are numbered in order of each cluster's
    first face in the input, so the same input gives the same ids. Raises ``ValueError`` for
    an unknown algorithm or linkage, ``eps`` not under ``cap`` (graph average linkage), or
    for agglomerative clustering above ``max_agglomerative_faces`` faces. scikit-learn and
    dlib are imported on first use.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown clustering algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if algorithm == "graph_average":
        return shipped.cluster_descriptors(descriptors, eps=eps, cap=cap, min_samples=min_samples, groups=groups)
    x = np.ascontiguousarray(descriptors, dtype=np.float64)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    if algorithm == "dbscan":
        labels = _dbscan(x, eps, min_samples)
    elif algorithm == "hdbscan":
        labels = _hdbscan(x, eps, min_samples, selection)
    elif algorithm == "agglomerative":
        labels = _drop_small(_agglomerative(x, eps, linkage), min_samples)
    elif algorithm == "rank_order":
        labels = _drop_small(rank_order(x, eps=eps, neighbours=neighbours, threshold=threshold), min_samples)
    else:
        labels = _drop_small(_chinese_whispers(x, eps), min_samples)
    return _renumber(labels)


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


def nearest_neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows of ``x`` (``(n, d)``), exact: ``int32`` indices and
    ``float32`` Euclidean distances, both ``(n, min(k, n - 1))``, nearest first (ties by
    index). Brute force in tiles of rows, one BLAS product each (the reasoning of
    ``radius_graph``); memory ``_KNN_TILE_ROWS * n`` floats per tile."""
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    k = min(k, n - 1)
    idx = np.empty((n, max(k, 0)), dtype=np.int32)
    dist = np.empty((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, dist
    sq = np.einsum("ij,ij->i", x, x)
    for r0 in range(0, n, _KNN_TILE_ROWS):
        r1 = min(r0 + _KNN_TILE_ROWS, n)
        d2 = sq[r0:r1, None] - 2.0 * (x[r0:r1] @ x.T) + sq[None, :]
        d2[np.arange(r1 - r0), np.arange(r0, r1)] = np.inf  # not its own neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, pd), axis=1)
        idx[r0:r1] = np.take_along_axis(part, order, axis=1)
        dist[r0:r1] = np.sqrt(np.maximum(np.take_along_axis(pd, order, axis=1), 0.0))
    return idx, dist


def rank_order(x: np.ndarray, *, eps: float, neighbours: int, threshold: float) -> np.ndarray:
    """Approximate rank-order clustering (Otto, Wang, Jain, "Clustering Millions of Faces by
    Identity", TPAMI 2018): labels ``int64`` ``(n,)`` of ``(n, d)`` descriptors ``x``.

    Each face's list holds itself (rank 0) and its ``neighbours`` nearest faces. For a face
    ``a`` and a face ``b`` of its list at rank ``O_a(b)``, ``d(a, b)`` counts the faces of
    ``a``'s list up to that rank that are absent from ``b``'s list; the rank-order distance is
    ``(d(a, b) + d(b, a)) / min(O_a(b), O_b(a))`` (``O_b(a)`` is ``neighbours`` when ``a`` is not
    in ``b``'s list). Pairs under ``threshold`` and within Euclidean ``eps`` (dlib descriptors
    carry an absolute scale that ranks ignore) are linked, and clusters are the connected
    components of the links, in one pass as in the paper's approximate version.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(x)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    near, dist = nearest_neighbours(x, neighbours)
    k = near.shape[1]
    lists = np.hstack([np.arange(n, dtype=np.int64)[:, None], near.astype(np.int64)])  # (n, k + 1)
    member_keys = np.sort((np.arange(n, dtype=np.int64)[:, None] * n + lists).ravel())

    def listed(owner: np.ndarray, faces: np.ndarray) -> np.ndarray:
        keys = owner[:, None] * n + faces
        pos = np.searchsorted(member_keys, keys).clip(max=len(member_keys) - 1)
        return member_keys[pos] == keys

    src, rank = np.nonzero(dist <= eps)
    rank = rank + 1  # rank in a's list (0 is a itself)
    a, b = src.astype(np.int64), lists[src, rank]
    in_b = listed(b, lists[a])  # (pairs, k + 1): is a's r-th face in b's list?
    in_a = listed(a, lists[b])
    where_a = np.argmax(lists[b] == a[:, None], axis=1)
    rank_ba = np.where(lists[b, where_a] == a, where_a, k)
    upto = np.arange(k + 1)[None, :]
    d_ab = ((~in_b) & (upto <= rank[:, None])).sum(axis=1)
    d_ba = ((~in_a) & (upto <= rank_ba[:, None])).sum(axis=1)
    distance = (d_ab + d_ba) / np.maximum(1, np.minimum(rank, rank_ba))
    link = distance < threshold
    graph = csr_matrix((np.ones(int(link.sum()), dtype=np.int8), (a[link], b[link])), shape=(n, n))
    return connected_components(graph, directed=True, connection="weak")[1].astype(np.int64)
