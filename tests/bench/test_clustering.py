"""The benchmark's research clustering candidates (``bench/clustering.py``) on synthetic
descriptors: each gives the labels of the library it reimplements or wraps (scikit-learn's
DBSCAN, dlib's Chinese whispers), its neighbour search is exact, rank-order links shared
neighbourhoods, bad arguments are refused, and its graph_average is the shipped one."""

from __future__ import annotations

import numpy as np
import pytest

from bench import clustering as research
from bench.clustering import nearest_neighbours
from kanta.clusters import algorithm
from kanta.clusters.algorithm import NOISE, cluster_descriptors
from tests.clusters.helpers import lumpy_people, people


def test_dbscan_gives_scikit_learn_labels():
    from sklearn.cluster import DBSCAN

    rng = np.random.default_rng(7)
    # Dense blobs with border faces and noise at distances around eps.
    x = np.vstack([rng.standard_normal((40, 8)) * 0.25 + c for c in rng.standard_normal((6, 8)) * 0.8])
    x[3] = x[4]  # identical faces count as neighbours
    for eps in (0.35, 0.5, 0.7):
        for min_samples in (1, 2, 3, 5, 8):
            ours = research.cluster_descriptors(x, algorithm="dbscan", eps=eps, min_samples=min_samples)
            theirs = algorithm._renumber(DBSCAN(eps=eps, min_samples=min_samples).fit_predict(x))
            assert (ours == theirs).all(), (eps, min_samples)


def test_chinese_whispers_gives_dlibs_labels():
    import dlib

    x, _ = people(seed=2)
    ours = research.cluster_descriptors(x, algorithm="chinese_whispers", eps=0.5, min_samples=1)
    theirs = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in x], 0.5)
    assert (ours == algorithm._renumber(np.array(theirs))).all()


def test_nearest_neighbours_are_exact():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((600, 128)) * 0.05
    idx, dist = nearest_neighbours(x, 7)
    full = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(full, np.inf)
    want = np.argsort(full, axis=1, kind="stable")[:, :7]
    assert (idx == want).all()
    np.testing.assert_allclose(dist, np.take_along_axis(full, want, axis=1), atol=1e-5)


def test_rank_order_links_shared_neighbourhoods_not_lone_lookalikes():
    x, who = people(seed=13, n_people=4, faces=12, loners=3)
    labels = research.cluster_descriptors(x, algorithm="rank_order", eps=0.6, min_samples=2, neighbours=10,
                                          threshold=1.5)
    for p in range(4):
        assert len(set(labels[who == p].tolist())) == 1 and NOISE not in labels[who == p]
    assert (labels[who == -1] == NOISE).all()


def test_bad_arguments_are_refused(monkeypatch):
    x, _ = people()
    with pytest.raises(ValueError, match="unknown clustering algorithm"):
        research.cluster_descriptors(x, algorithm="kmeans", eps=0.5, min_samples=2)
    with pytest.raises(ValueError, match="linkage"):
        research.cluster_descriptors(x, algorithm="agglomerative", eps=0.5, min_samples=2, linkage="ward")
    monkeypatch.setattr(research, "max_agglomerative_faces", 10)
    with pytest.raises(ValueError, match="O\\(n\\^2\\) memory"):
        research.cluster_descriptors(x, algorithm="agglomerative", eps=0.5, min_samples=2)


def test_the_benchmark_runs_the_shipped_graph_average():
    x, _ = lumpy_people(5)
    groups = np.random.default_rng(5).integers(0, len(x) // 2, len(x))
    ours = research.cluster_descriptors(x, algorithm="graph_average", eps=0.58, cap=0.6, min_samples=2, groups=groups)
    shipped = cluster_descriptors(x, eps=0.58, cap=0.6, min_samples=2, groups=groups)
    assert (ours == shipped).all() and 1 < len(set(shipped.tolist())) < len(x)
