"""Clustering algorithms on synthetic descriptors: pure computation, no database."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kanta.clusters import algorithm
from kanta.clusters.algorithm import ALGORITHMS, NOISE, cluster_descriptors, radius_graph, stable_ids

#: Parameters per algorithm for the well-separated people below (eps: Euclidean distance).
PARAMS = {
    "dbscan": {"eps": 0.5, "min_samples": 2},
    "hdbscan": {"eps": 0.0, "min_samples": 3},
    "agglomerative": {"eps": 0.55, "min_samples": 2, "linkage": "average"},
    "chinese_whispers": {"eps": 0.5, "min_samples": 2},
}


def people(seed: int = 0, n_people: int = 6, faces: int = 8, loners: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors like dlib's: people about 1.0 apart, a person's faces about 0.3 apart;
    plus ``loners`` guests seen once. Returns ``(x, who)``, ``who`` = -1 for a loner."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_people + loners, 128)) * (1.0 / np.sqrt(2 * 128))
    who = np.repeat(np.arange(n_people), faces)
    x = centres[who] + rng.standard_normal((len(who), 128)) * (0.3 / np.sqrt(2 * 128))
    x = np.vstack([x, centres[n_people:]])
    who = np.concatenate([who, np.full(loners, -1)])
    order = rng.permutation(len(who))  # people's faces interleaved, as uploads arrive
    return x[order], who[order]


@pytest.mark.parametrize("name", ALGORITHMS)
def test_each_algorithm_finds_each_person_once_and_leaves_loners_as_noise(name):
    x, who = people()
    labels = cluster_descriptors(x, algorithm=name, **PARAMS[name])
    assert labels.dtype == np.int64 and labels.shape == (len(x),)
    for person in range(who.max() + 1):
        mine = set(labels[who == person].tolist())
        assert len(mine) == 1 and NOISE not in mine, f"{name} split or dropped person {person}: {mine}"
    clusters = [labels[who == p][0] for p in range(who.max() + 1)]
    assert len(set(clusters)) == len(clusters), f"{name} put two people in one cluster"
    if name != "hdbscan":
        assert (labels[who == -1] == NOISE).all(), f"{name} gave a guest seen once a cluster"
    # HDBSCAN has no distance threshold: a guest seen once, as far from everyone as people are
    # from each other, can join the person whose cluster forms at that level (here 1 of 4).
    # Ids 0..k-1 in order of each cluster's first face.
    firsts = [labels[i] for i in range(len(labels)) if labels[i] != NOISE and labels[i] not in labels[:i]]
    assert firsts == list(range(len(firsts)))


@pytest.mark.parametrize("name", ["dbscan", "agglomerative", "chinese_whispers"])
def test_two_people_closer_than_eps_apart_are_not_chained_through_a_lookalike(name):
    # Two people 1.0 apart and one face halfway (0.5 from both): DBSCAN with eps 0.45 must
    # not join them through it; neither may the others at their thresholds.
    rng = np.random.default_rng(3)
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 1.0
    x = np.vstack([a + rng.standard_normal((6, 128)) * 0.01, b + rng.standard_normal((6, 128)) * 0.01, (a + b) / 2])
    labels = cluster_descriptors(x, algorithm=name, **(PARAMS[name] | {"eps": 0.45}))
    assert set(labels[:6].tolist()).isdisjoint(labels[6:12].tolist())
    assert labels[12] == NOISE


def test_dbscan_gives_scikit_learn_labels():
    from sklearn.cluster import DBSCAN

    rng = np.random.default_rng(7)
    # Dense blobs with border faces and noise at distances around eps.
    x = np.vstack([rng.standard_normal((40, 8)) * 0.25 + c for c in rng.standard_normal((6, 8)) * 0.8])
    x[3] = x[4]  # identical faces count as neighbours
    for eps in (0.35, 0.5, 0.7):
        for min_samples in (1, 2, 3, 5, 8):
            ours = cluster_descriptors(x, eps=eps, min_samples=min_samples)
            theirs = algorithm._renumber(DBSCAN(eps=eps, min_samples=min_samples).fit_predict(x))
            assert (ours == theirs).all(), (eps, min_samples)


def test_chinese_whispers_gives_dlibs_labels():
    import dlib

    x, _ = people(seed=2)
    ours = cluster_descriptors(x, algorithm="chinese_whispers", eps=0.5, min_samples=1)
    theirs = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in x], 0.5)
    assert (ours == algorithm._renumber(np.array(theirs))).all()


def test_radius_graph_is_every_pair_within_the_radius():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((700, 128)) * 0.05
    x[10] = x[11]
    full = np.linalg.norm(x[:, None] - x[None], axis=2)
    radius = float(np.median(full))  # half of all pairs, many of them near the radius
    i, j = radius_graph(x, radius)
    want = {(a, b) for a, b in zip(*np.nonzero(full <= radius)) if a < b}
    assert set(zip(i.tolist(), j.tolist())) == want


def test_new_faces_keep_existing_people_ids():
    x, _ = people(seed=4)
    more, _ = people(seed=4, faces=10, loners=0)  # the same people, 2 more faces each
    first = cluster_descriptors(x, algorithm="dbscan", eps=0.5, min_samples=2)
    ids, next_id = stable_ids(first, np.full(len(x), -1), pinned={}, rejected={}, next_id=0)
    both = np.vstack([more, x])  # new faces first: cluster numbering changes
    labels = cluster_descriptors(both, algorithm="dbscan", eps=0.5, min_samples=2)
    previous = np.concatenate([np.full(len(more), -1), ids])
    again, _ = stable_ids(labels, previous, pinned={}, rejected={}, next_id=next_id)
    assert (again[len(more):] == ids).all()


def test_bad_arguments_are_refused(monkeypatch):
    x, _ = people()
    with pytest.raises(ValueError, match="unknown clustering algorithm"):
        cluster_descriptors(x, algorithm="kmeans", eps=0.5, min_samples=2)
    with pytest.raises(ValueError, match="linkage"):
        cluster_descriptors(x, algorithm="agglomerative", eps=0.5, min_samples=2, linkage="ward")
    monkeypatch.setattr(algorithm, "max_agglomerative_faces", 10)
    with pytest.raises(ValueError, match="O\\(n\\^2\\) memory"):
        cluster_descriptors(x, algorithm="agglomerative", eps=0.5, min_samples=2)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_tiny_inputs(name):
    assert cluster_descriptors(np.empty((0, 128)), algorithm=name, **PARAMS[name]).shape == (0,)
    one = cluster_descriptors(np.zeros((1, 128)), algorithm=name, **PARAMS[name])
    assert one.tolist() == [NOISE]


def test_importing_the_module_loads_neither_scikit_learn_nor_dlib():
    code = "import sys, kanta.clusters.algorithm; print('sklearn' in sys.modules, 'dlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
