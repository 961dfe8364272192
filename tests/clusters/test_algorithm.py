"""Clustering algorithms on synthetic descriptors: pure computation, no database.

The shipped clustering (``kanta.clusters.algorithm``) and, held to the same expectations,
the research candidates ``bench/recognition.py`` compares it with (``bench/clustering.py``;
what only they do is tested in ``tests/bench/test_clustering.py``).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bench import clustering as research
from bench.clustering import ALGORITHMS
from kanta.clusters import algorithm
from kanta.clusters.algorithm import (
    NOISE,
    assign_to_people,
    cluster_descriptors,
    graph_average,
    radius_graph,
    stable_ids,
)
from tests.clusters.helpers import lumpy_people, people

#: Parameters per algorithm for the well-separated people below (eps: Euclidean distance).
PARAMS = {
    "graph_average": {"eps": 0.55, "cap": 0.6, "min_samples": 2},
    "rank_order": {"eps": 0.55, "min_samples": 2, "neighbours": 10, "threshold": 1.5},
    "dbscan": {"eps": 0.5, "min_samples": 2},
    "hdbscan": {"eps": 0.0, "min_samples": 3},
    "agglomerative": {"eps": 0.55, "min_samples": 2, "linkage": "average"},
    "chinese_whispers": {"eps": 0.5, "min_samples": 2},
}


def clusterer(name: str):
    """The ``cluster_descriptors`` that runs ``name``: the shipped one for graph_average (the
    code the app runs), the benchmark's for the research candidates."""
    return cluster_descriptors if name == "graph_average" else research.cluster_descriptors


@pytest.mark.parametrize("name", ALGORITHMS)
def test_each_algorithm_finds_each_person_once_and_leaves_loners_as_noise(name):
    x, who = people()
    labels = clusterer(name)(x, algorithm=name, **PARAMS[name])
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


@pytest.mark.parametrize("name", ["graph_average", "dbscan", "agglomerative", "chinese_whispers"])
def test_two_people_closer_than_eps_apart_are_not_chained_through_a_lookalike(name):
    # Two people 1.0 apart and one face halfway (0.5 from both): DBSCAN with eps 0.45 must
    # not join them through it; neither may the others at their thresholds.
    rng = np.random.default_rng(3)
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 1.0
    x = np.vstack([a + rng.standard_normal((6, 128)) * 0.01, b + rng.standard_normal((6, 128)) * 0.01, (a + b) / 2])
    labels = clusterer(name)(x, algorithm=name, **(PARAMS[name] | {"eps": 0.45}))
    assert set(labels[:6].tolist()).isdisjoint(labels[6:12].tolist())
    assert labels[12] == NOISE


def test_radius_graph_is_every_pair_within_the_radius_with_its_distance():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((700, 128)) * 0.05
    x[10] = x[11]
    full = np.linalg.norm(x[:, None] - x[None], axis=2)
    radius = float(np.median(full))  # half of all pairs, many of them near the radius
    i, j = radius_graph(x, radius)
    want = {(a, b) for a, b in zip(*np.nonzero(full <= radius)) if a < b}
    assert set(zip(i.tolist(), j.tolist())) == want
    i2, j2, d = radius_graph(x, radius, distances=True)
    assert (i2 == i).all() and (j2 == j).all() and d.dtype == np.float32
    np.testing.assert_allclose(d, full[i, j], atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("eps", "cap"), [(0.5, 0.6), (0.58, 0.6), (0.6, 0.65)])
def test_graph_average_without_stars_is_scipys_average_linkage_on_capped_distances(seed, eps, cap):
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    x, _ = lumpy_people(seed)
    ours = algorithm._renumber(graph_average(x, eps=eps, cap=cap, star=0))
    theirs = algorithm._renumber(fcluster(linkage(np.minimum(pdist(x), cap), "average"), eps, "distance"))
    assert (ours == theirs).all()
    assert 1 < len(set(ours.tolist())) < len(x)  # merges happened, and not everything merged


def mean_capped(x: np.ndarray, a: np.ndarray, b: np.ndarray, cap: float) -> float:
    return float(np.minimum(np.linalg.norm(x[a][:, None] - x[b][None], axis=2), cap).mean())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("star", [0.0, 1.0])
def test_graph_average_stops_only_when_no_two_clusters_may_merge(seed, star):
    # Whatever the merge order, the result is a fixed point of the rule: every pair of
    # clusters it returns is farther apart on average than eps (or shares a photo).
    x, _ = lumpy_people(seed + 10)
    groups = np.random.default_rng(seed).integers(0, len(x) // 2, len(x))
    labels = graph_average(x, eps=0.58, cap=0.6, groups=groups, star=star)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for m in members:
        assert len(set(groups[m].tolist())) == len(m), "two faces of one photo in one cluster"
    for p in range(len(members)):
        for q in range(p + 1, len(members)):
            if not set(groups[members[p]].tolist()) & set(groups[members[q]].tolist()):
                assert mean_capped(x, members[p], members[q], 0.6) > 0.58


def test_stars_take_in_a_large_persons_stragglers_without_joining_people():
    # One person of 400 faces: exact average linkage takes in stragglers one per round; with
    # stars the same person, and the people around, come out the same.
    x, who = people(seed=8, n_people=3, faces=400, loners=0)
    exact = algorithm._renumber(graph_average(x, eps=0.55, cap=0.6, star=0))
    fast = algorithm._renumber(graph_average(x, eps=0.55, cap=0.6))
    assert (exact == fast).all() and len(set(fast.tolist())) == 3
    assert all(len(set(fast[who == p].tolist())) == 1 for p in range(3))


def test_faces_of_one_photo_are_never_one_person():
    # Twins (0.2 apart on average) always photographed together: without the photos they are
    # one person; with them, two.
    rng = np.random.default_rng(11)
    centre = rng.standard_normal(128) / np.sqrt(128)
    twin = centre + rng.standard_normal(128) * (0.2 / np.sqrt(128))
    x = np.vstack([c + rng.standard_normal((10, 128)) * (0.2 / np.sqrt(2 * 128)) for c in (centre, twin)])
    photo = np.concatenate([np.arange(10), np.arange(10)])  # photo k shows face k of each twin
    assert len(set(cluster_descriptors(x, eps=0.55, min_samples=2).tolist())) == 1
    together = cluster_descriptors(x, eps=0.55, min_samples=2, groups=photo)
    assert set(together[:10].tolist()).isdisjoint(together[10:].tolist())
    assert NOISE not in together.tolist() and len(set(together.tolist())) == 2


def test_one_misplaced_face_does_not_keep_two_halves_of_a_person_apart():
    # A person photographed in two looks, A and B (centres 0.35 apart), and a stranger's face
    # w that looks like A (0.2 from A's centre, on the side away from B) and shares a photo
    # with one of B's faces. w joins A first; A and B then share a photo. With hard
    # cannot-links the person stays split for good; instead the merge goes ahead and w, less
    # like the merged person than B's face, leaves it.
    rng = np.random.default_rng(21)
    unit = rng.standard_normal(128)
    unit /= np.linalg.norm(unit)
    c_a = rng.standard_normal(128) / np.sqrt(128)
    c_b = c_a + 0.35 * unit
    noise = 0.15 / np.sqrt(2 * 128)
    x = np.vstack([c_a + rng.standard_normal((10, 128)) * noise, c_b + rng.standard_normal((10, 128)) * noise,
                   c_a - 0.2 * unit])
    groups = np.arange(len(x))
    groups[-1] = groups[10]  # w and B's first face in one photo
    labels = cluster_descriptors(x, eps=0.55, cap=0.6, min_samples=2, groups=groups)
    assert len(set(labels[:20].tolist())) == 1 and labels[0] != NOISE
    assert labels[20] != labels[0]


def test_graph_average_refuses_eps_not_under_cap():
    x, _ = people()
    with pytest.raises(ValueError, match="eps < cap"):
        cluster_descriptors(x, eps=0.6, cap=0.6, min_samples=2)


def test_new_faces_join_the_person_most_of_whose_faces_agree_once_per_photo():
    # Sums of (cap - distance) of 2 new faces against 3 people of 4, 10 and 2 faces, cap 0.6:
    # mean capped distance = 0.6 - sum / size.
    sims = np.array([[0.2, 0.5, 0.0],    # face 0: person 1 at 0.55 (person 0 at 0.55 too, 0.6 - 0.05)
                     [0.3, 0.9, 0.05]])  # face 1: person 1 at 0.51: better, so it wins person 1
    sizes = np.array([4, 10, 2])
    assert assign_to_people(sims, sizes, eps=0.56, cap=0.6).tolist() == [0, 1]
    assert assign_to_people(sims, sizes, eps=0.52, cap=0.6).tolist() == [-1, 1]
    # One face close to only one of a person's ten faces is not enough.
    assert assign_to_people(np.array([[0.3]]), np.array([10]), eps=0.56, cap=0.6).tolist() == [-1]
    assert assign_to_people(np.empty((0, 3)), sizes, eps=0.56, cap=0.6).tolist() == []


def test_new_faces_keep_existing_people_ids():
    x, _ = people(seed=4)
    more, _ = people(seed=4, faces=10, loners=0)  # the same people, 2 more faces each
    first = cluster_descriptors(x, eps=0.55, min_samples=2)
    ids, next_id = stable_ids(first, np.full(len(x), -1), pinned={}, rejected={}, next_id=0)
    both = np.vstack([more, x])  # new faces first: cluster numbering changes
    labels = cluster_descriptors(both, eps=0.55, min_samples=2)
    previous = np.concatenate([np.full(len(more), -1), ids])
    again, _ = stable_ids(labels, previous, pinned={}, rejected={}, next_id=next_id)
    assert (again[len(more):] == ids).all()


@pytest.mark.parametrize("name", ["kmeans", *(a for a in ALGORITHMS if a != "graph_average")])
def test_the_app_runs_only_graph_average(name):
    x, _ = people()
    with pytest.raises(ValueError, match="unknown clustering algorithm"):
        cluster_descriptors(x, algorithm=name, eps=0.5, min_samples=2)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_tiny_inputs(name):
    assert clusterer(name)(np.empty((0, 128)), algorithm=name, **PARAMS[name]).shape == (0,)
    one = clusterer(name)(np.zeros((1, 128)), algorithm=name, **PARAMS[name])
    assert one.tolist() == [NOISE]


def test_importing_the_module_loads_neither_scikit_learn_nor_dlib():
    code = "import sys, kanta.clusters.algorithm; print('sklearn' in sys.modules, 'dlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_shipped_clustering_runs_without_scipy_or_scikit_learn():
    # requirements.txt (what is deployed) holds neither: both are the benchmark's.
    code = (
        "import sys\n"
        "sys.modules.update(dict.fromkeys(['scipy', 'sklearn'], None))\n"  # importing them raises
        "import numpy as np\n"
        "from kanta.clusters.algorithm import assign_to_people, cluster_descriptors, stable_ids\n"
        "x = np.random.default_rng(0).standard_normal((50, 128)) * 0.02\n"
        "labels = cluster_descriptors(x, eps=0.55, min_samples=2, groups=np.arange(50))\n"
        "ids, _ = stable_ids(labels, np.full(50, -1), pinned={}, rejected={}, next_id=0)\n"
        "print(len(set(ids.tolist())), assign_to_people(np.array([[1.0]]), np.array([2]), eps=0.5, cap=0.6).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "[0]"]
