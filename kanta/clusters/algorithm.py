"""Clustering of face descriptors into people: pure computation, no Azure or database.

What the app runs, on Euclidean distance between dlib descriptors (128-d; dlib documents
0.6 as its same-person threshold):

* ``cluster_descriptors``: a full run, graph average linkage on distances capped at ``cap``,
  exact on the radius graph, with faces of one photo never put together (``graph_average``);
* ``stable_ids``: a run's clusters turned into person ids that persist across runs and
  honour a host's corrections;
* ``assign_to_people``: new faces joined to existing people between runs, by the same rule.

``bench/clustering.py`` holds the other candidates (DBSCAN, HDBSCAN, agglomerative, Chinese
whispers, rank-order) that ``bench/recognition.py`` compares with this one on real labelled
faces; bench/README.md, "Recognition", has why this one ships.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

#: Label of faces that belong to no cluster.
NOISE = -1
#: Default distance cap of graph average linkage (``graph_average``): dlib's same-person
#: threshold; a pair farther apart counts as this far, whatever its distance.
DEFAULT_CAP = 0.6
#: Tile of the brute-force radius search, rows x columns (float32: 16 MB per tile).
_TILE_ROWS, _TILE_COLS = 1024, 4096
#: Renamed pairs summed per slice when clusters merge (bounds the sort's memory).
_MERGE_SLICE = 2_000_000


def cluster_descriptors(
    descriptors: np.ndarray,
    *,
    eps: float,
    min_samples: int,
    algorithm: Literal["graph_average"] = "graph_average",
    cap: float = DEFAULT_CAP,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Label each descriptor with a cluster id (``0..k-1``) or ``NOISE``, by graph average
    linkage (``graph_average``).

    ``descriptors``: float array of shape ``(n, 128)`` (any ``(n, d)``).
    ``eps``: Euclidean distance (descriptor units): the largest mean capped distance between
    two clusters that merge.
    ``min_samples``: the smallest cluster kept (smaller ones become noise; with 2, a face
    like no other is noise).
    ``algorithm``: the name a run records (``kanta.config.Settings.cluster_algorithm``); only
    ``"graph_average"`` ships.
    ``cap``: the distance cap (``graph_average``).
    ``groups``: ``(n,)`` photo of each face, or ``None``; two faces of one photo are never put
    in one cluster.

    Returns ``int64`` of shape ``(n,)``. Cluster ids are numbered in order of each cluster's
    first face in the input, so the same input gives the same ids. Raises ``ValueError`` for
    another algorithm or unless ``0 < eps < cap``.
    """
    if algorithm != "graph_average":
        raise ValueError(f"unknown clustering algorithm {algorithm!r}; only graph_average ships "
                         "(the research candidates are in bench/clustering.py)")
    x = np.ascontiguousarray(descriptors, dtype=np.float64)
    if len(x) == 0:
        return np.empty(0, dtype=np.int64)
    return _renumber(_drop_small(graph_average(x, eps=eps, cap=cap, groups=groups), min_samples))


def radius_graph(x: np.ndarray, radius: float, *, distances: bool = False
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of rows of ``x`` (``(n, d)``) within Euclidean distance ``radius``
    (``<=``), as two ``int32`` arrays ``i``, ``j``; with ``distances=True`` also their
    Euclidean distances, ``float32`` (from the same product: no second pass over the pairs).

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
    dists: list[np.ndarray] = []
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
            values = g.ravel()[flat]
            unsure = np.flatnonzero(keep & (values <= margin))
            if len(unsure):
                d2 = ((x[i[unsure]] - x[j[unsure]]) ** 2).sum(axis=1)
                keep[unsure] = d2 <= r2
            rows.append(i[keep].astype(np.int32))
            cols.append(j[keep].astype(np.int32))
            if distances:
                # a'.b' = (r^2 - |a - b|^2) / 2; the unsure pairs take their float64 distance.
                d2_all = r2 - 2.0 * values.astype(np.float64)
                if len(unsure):
                    d2_all[unsure] = d2
                dists.append(np.sqrt(np.maximum(d2_all[keep], 0.0)).astype(np.float32))
    # Joined one list at a time, each freed as soon as it is joined: the pairs are the
    # largest thing here (12 bytes each; 21M pairs at 100k faces and radius 0.6).
    out = [_join(rows, np.int32), _join(cols, np.int32)]
    if distances:
        out.append(_join(dists, np.float32))
    return tuple(out)


def _join(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    """``np.concatenate(parts)`` (empty when there are none), emptying ``parts``."""
    joined = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
    parts.clear()
    return joined


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


#: Star absorption in ``graph_average``: a cluster may take in, in one round, clusters holding
#: up to this fraction of its own faces (see ``graph_average``). 0 makes every merge a
#: reciprocal-best pair, exactly ``scipy.cluster.hierarchy.linkage(method="average")``; with
#: 1 a cluster at most doubles per round. The shipped clustering uses it, so every figure of
#: ``bench/recognition.py`` includes its effect.
STAR_FRACTION = 1.0
#: Cannot-link in ``graph_average``: two clusters sharing photos in at most this fraction of
#: the smaller one's faces still merge, ejecting per shared photo the face less like the
#: merged cluster (see ``_resolve_conflicts``); sharing more, they never merge. 0.2 lets a
#: person of 5 or more faces outvote one misplaced face while twins or a couple seen together
#: in a fifth of their photos stay apart; with 0.1 the full mixed set's recall stayed 0.849
#: (0.900 with 0.2) because the halves blocked there were of 5 to 9 faces.
CONFLICT_FRACTION = 0.2


def graph_average(
    x: np.ndarray,
    *,
    eps: float,
    cap: float,
    groups: np.ndarray | None = None,
    star: float = STAR_FRACTION,
) -> np.ndarray:
    """Average-linkage agglomerative clustering on distances capped at ``cap``, with
    cannot-link groups: the labels of ``(n, d)`` descriptors ``x``, ``int64`` ``(n,)``
    (every face in a cluster; ``cluster_descriptors`` turns small clusters into noise).

    Two clusters A and B are merged while the mean over all pairs ``(a, b)`` of
    ``min(|a - b|, cap)`` is at most ``eps`` (Euclidean, descriptor units): a person is
    joined to another only when *most* of their faces agree, so one lookalike pair cannot
    chain two people together (Sokal and Michener's UPGMA, 1958). Capping the distance
    makes it exact on the radius graph at ``cap``: with similarity ``w = cap - d`` on the
    pairs within ``cap`` (0 elsewhere), the mean capped distance is ``cap - W(A, B) / (|A| |B|)``,
    ``W`` the sum of ``w`` between them: graph-based average linkage (Dhulipala, Eisenstat,
    Lacki, Mirrokni, Shi, "Hierarchical Agglomerative Graph Clustering in Nearly-Linear
    Time", ICML 2021), computed from ``radius_graph``'s pairs only.

    ``groups``: ``(n,)`` ids (the photo of each face) or ``None``. Faces with the same id are
    never put in one cluster: two faces in one photo are two people (a cannot-link
    constraint). Two clusters sharing photos never merge, unless they share photos in at most
    ``CONFLICT_FRACTION`` of the smaller one's faces: then one face per shared photo was put
    in the wrong cluster, the merge goes ahead and the face less like the merged cluster
    leaves it for a cluster of its own (it never rejoins the cluster it left). On the real
    sets of ``bench/recognition.py`` hard constraints alone cost recall (one misplaced face
    kept two halves of a person apart for good).

    Merges happen in rounds, vectorised. Each cluster finds its best partner (highest
    ``W / (|A| |B|)``, ties to the lower index); reciprocal best pairs above the threshold
    merge. Average linkage is reducible, so merging every reciprocal pair at once gives the
    same clusters as merging the single best pair at a time; with ``star=0`` and no groups
    the result equals ``scipy.cluster.hierarchy.fcluster(linkage(min(pdist(x), cap),
    "average"), eps, "distance")`` (tested). That can take one round per face of a large
    person (a big cluster takes in stragglers one by one), so in the same round a cluster
    ``v`` that is nobody's reciprocal partner also absorbs the clusters whose best partner it
    is, when each has mean capped distance at most ``cap - (1 + star)(cap - eps)`` to ``v``
    and together they hold at most ``star * |v|`` faces: each absorbed cluster's mean capped
    distance to the rest of the merged cluster is then still at most ``eps``. Measured while
    writing this on the synthetic events of ``bench/recognition.py`` at 100k faces: 869
    rounds and 138 s without stars, about 150 rounds and 41 s with ``star=1`` (before the
    memory work that brought a run to 20 s); one synthetic person of 2,000 faces took 862
    rounds exactly and 48 with stars.

    Raises ``ValueError`` unless ``0 < eps < cap``. Memory: the radius graph (12 bytes a
    pair: two ``int32`` and a ``float32``) and a few arrays of its size per round.
    """
    if not 0 < eps < cap:
        raise ValueError(f"graph_average needs 0 < eps < cap, got eps={eps}, cap={cap}")
    n = len(x)
    delta = cap - eps  # merge while W / (|A| |B|) >= delta
    a, b, w = radius_graph(x, cap, distances=True)
    np.subtract(np.float32(cap), w, out=w)  # similarity cap - d, in place: float32 is plenty
    if (w <= 0).any():
        a, b, w = a[w > 0], b[w > 0], w[w > 0]
    size = np.ones(n, dtype=np.float32)
    label = np.arange(n, dtype=np.int32)  # face -> its cluster (0..k-1)
    group_of = None if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1].astype(np.int64)
    k = n
    while len(a):
        score = w / (size[a] * size[b])
        best = np.full(k, -1.0, dtype=np.float32)
        np.maximum.at(best, a, score)
        np.maximum.at(best, b, score)
        partner = np.full(k, k, dtype=np.int64)
        hit = score == best[a]
        np.minimum.at(partner, a[hit], b[hit])
        hit = score == best[b]
        np.minimum.at(partner, b[hit], a[hit])
        del score, hit
        eligible = np.flatnonzero(best >= delta)
        mutual = eligible[(partner[partner[eligible]] == eligible) & (eligible < partner[eligible])]
        target, member = mutual, partner[mutual]
        if star > 0:
            target, member = _with_stars(target, member, best, partner, size, delta, star)
        if not len(target):
            break
        eject = np.empty(0, dtype=np.int64)
        if group_of is not None:
            target, member, forbidden, eject = _resolve_conflicts(x, cap, target, member, best, label, group_of,
                                                                  size, k)
            if len(forbidden):
                # Joining these two would put one photo's faces in one person: never.
                lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
                cut = ~np.isin(lo * k + hi, forbidden)
                a, b, w = a[cut], b[cut], w[cut]
            if not len(target):
                continue
        lab = np.arange(k, dtype=np.int32)
        lab[member] = target
        alive = np.ones(k, dtype=bool)
        alive[member] = False
        lab = (np.cumsum(alive, dtype=np.int32) - 1)[lab]
        k_new = int(alive.sum())
        size = np.bincount(lab, weights=size, minlength=k_new).astype(np.float32)
        label = lab[label]
        merged = np.zeros(k, dtype=bool)
        merged[target] = True
        merged[member] = True
        a, b, w = _merge_edges(a, b, w, lab, merged, k_new)
        k = k_new
        if len(eject):
            a, b, w, size, k = _eject(x, cap, eject, label, size, a, b, w, k)
    return label.astype(np.int64)


def _merge_edges(a: np.ndarray, b: np.ndarray, w: np.ndarray, lab: np.ndarray, merged: np.ndarray,
                 k_new: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cluster graph after a round: edges of merged clusters renamed by ``lab`` and summed
    per new pair (in slices of the lower end, to bound the memory of the sort), the others
    only renamed (``lab`` keeps the order of clusters that did not merge, so ``a < b`` holds)."""
    touched = merged[a] | merged[b]
    rest = ~touched
    kept = (lab[a[rest]], lab[b[rest]], w[rest])
    ta, tb, tw = lab[a[touched]], lab[b[touched]], w[touched]
    del a, b, w, touched, rest
    lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
    inner = lo != hi
    lo, hi, tw = lo[inner], hi[inner], tw[inner]
    del ta, tb, inner
    parts_a, parts_b, parts_w = [kept[0]], [kept[1]], [kept[2]]
    slices = max(1, len(lo) // _MERGE_SLICE)
    for s in range(slices):
        part = (lo >= s * k_new // slices) & (lo < (s + 1) * k_new // slices)
        keys, inverse = np.unique(lo[part].astype(np.int64) * k_new + hi[part], return_inverse=True)
        parts_w.append(np.bincount(inverse, weights=tw[part], minlength=len(keys)).astype(np.float32))
        parts_a.append((keys // k_new).astype(np.int32))
        parts_b.append((keys % k_new).astype(np.int32))
    del lo, hi, tw, kept
    return _join(parts_a, np.int32), _join(parts_b, np.int32), _join(parts_w, np.float32)


def _with_stars(target: np.ndarray, member: np.ndarray, best: np.ndarray, partner: np.ndarray,
                size: np.ndarray, delta: float, star: float) -> tuple[np.ndarray, np.ndarray]:
    """Add this round's star absorptions to the reciprocal pairs (see ``graph_average``)."""
    k = len(best)
    paired = np.zeros(k, dtype=bool)
    paired[target] = True
    paired[member] = True
    leaf = np.flatnonzero((best >= (1 + star) * delta) & ~paired)
    leaf = leaf[partner[leaf] < k]
    leaf = leaf[~paired[partner[leaf]]]
    centre_mask = np.zeros(k, dtype=bool)
    centre_mask[partner[leaf]] = True
    leaf = leaf[~centre_mask[leaf]]  # a cluster others point at absorbs, it is not absorbed
    if not len(leaf):
        return target, member
    centre = partner[leaf]
    order = np.lexsort((leaf, -best[leaf], centre))  # per centre, best first
    leaf, centre = leaf[order], centre[order]
    taken = np.cumsum(size[leaf])
    first = np.flatnonzero(np.r_[True, centre[1:] != centre[:-1]])
    before = np.repeat(taken[first] - size[leaf[first]], np.diff(np.r_[first, len(leaf)]))
    fits = taken - before <= star * size[centre]
    return np.concatenate([target, centre[fits]]), np.concatenate([member, leaf[fits]])


def _resolve_conflicts(x: np.ndarray, cap: float, target: np.ndarray, member: np.ndarray, best: np.ndarray,
                       label: np.ndarray, group_of: np.ndarray, size: np.ndarray, k: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply the cannot-link groups to this round's planned merges (``member`` into ``target``).

    Members of one target sharing a group with each other: the better-scoring one joins, the
    others wait for a later round. A member sharing groups with its target: if they share
    at most ``CONFLICT_FRACTION`` of the smaller one's faces, the merge goes ahead and, per
    shared group, the face less like the merged cluster is ejected (one misplaced face must
    not keep two halves of a person apart for good); else the two can never merge.
    Returns ``(target, member, forbidden_keys, eject)``: the merges left, the keys
    ``lo * k + hi`` of cluster pairs to forget, and the faces to eject after the merge.
    """
    planned = np.full(k, -1, dtype=np.int64)  # cluster -> the cluster it joins this round
    planned[target] = target
    planned[member] = target
    rank = np.zeros(k)
    rank[member] = best[member]
    rank[target] = np.inf  # the target comes first among the holders of a group
    face = np.flatnonzero(planned[label] >= 0)
    holder = label[face].astype(np.int64)
    owner, grp = planned[holder], group_of[face]
    order = np.lexsort((holder, -rank[holder], grp, owner))
    face, holder, owner, grp = face[order], holder[order], owner[order], grp[order]
    first = np.r_[True, (owner[1:] != owner[:-1]) | (grp[1:] != grp[:-1])]
    later = np.flatnonzero(~first)
    none = np.empty(0, dtype=np.int64)
    if not len(later):
        return target, member, none, none
    block_start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))[later]
    with_target = holder[block_start] == owner[later]
    waiting = np.unique(holder[later][~with_target])  # a group another member brings first
    # Member-target clashes: (member, target, the target's face, the member's face).
    c_member, c_target = holder[later][with_target], owner[later][with_target]
    c_face_t, c_face_m = face[block_start][with_target], face[later][with_target]
    clashes = np.bincount(c_member, minlength=k)
    ejectable = clashes[c_member] <= CONFLICT_FRACTION * np.minimum(size[c_member], size[c_target])
    never = np.unique(c_member[~ejectable])
    keep = ~np.isin(member, np.union1d(waiting, never))
    forbidden = np.unique(np.minimum(never, planned[never]) * k + np.maximum(never, planned[never]))
    eject = []
    kept_member = set(member[keep].tolist())
    if ejectable.any():
        by_cluster = np.argsort(label, kind="stable")
        starts = np.searchsorted(label[by_cluster], np.arange(k + 1))
        for m, t, ft, fm in zip(c_member[ejectable].tolist(), c_target[ejectable].tolist(),
                                c_face_t[ejectable].tolist(), c_face_m[ejectable].tolist()):
            if m not in kept_member:
                continue
            union = np.concatenate([by_cluster[starts[t]:starts[t + 1]], by_cluster[starts[m]:starts[m + 1]]])
            union = union[(union != ft) & (union != fm)]
            sims = [np.maximum(0.0, cap - np.linalg.norm(x[union] - x[f], axis=1)).sum() for f in (ft, fm)]
            eject.append(fm if sims[1] <= sims[0] else ft)
    return target[keep], member[keep], forbidden, np.array(eject, dtype=np.int64)


def _eject(x: np.ndarray, cap: float, faces: np.ndarray, label: np.ndarray, size: np.ndarray, a: np.ndarray,
           b: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Move each face of ``faces`` out of its cluster into a cluster of its own, updating
    ``label`` in place and the cluster graph: its similarities (``cap - d`` to faces within
    ``cap``, from the descriptors: one pass over ``x`` per face) leave its old cluster's edges
    and become the new cluster's, except those to the old cluster itself: the face and the
    cluster it left never merge again. Returns ``(a, b, w, size, k)``."""
    extra_a: list[np.ndarray] = []
    extra_b: list[np.ndarray] = []
    extra_w: list[np.ndarray] = []
    size = np.concatenate([size, np.ones(len(faces), dtype=np.float32)])
    for f in faces.tolist():
        old, new = int(label[f]), k
        sim = np.maximum(0.0, cap - np.linalg.norm(x - x[f], axis=1))
        sim[f] = 0.0
        label[f] = new
        size[old] -= 1
        k += 1
        per_cluster = np.bincount(label, weights=sim, minlength=k)
        linked = np.flatnonzero(per_cluster > 0)
        others = linked[(linked != old) & (linked != new)]
        # Its old cluster loses the face's similarities to every other cluster ...
        extra_a.append(np.full(len(others), old))
        extra_b.append(others)
        extra_w.append(-per_cluster[others])
        # ... and the new cluster has them, but none to the cluster it left: that cluster
        # holds this photo's other face, so the two must never merge.
        to_new = others
        extra_a.append(to_new)
        extra_b.append(np.full(len(to_new), new))
        extra_w.append(per_cluster[to_new])
    add_a, add_b = np.concatenate(extra_a), np.concatenate(extra_b)
    add_w = np.concatenate(extra_w).astype(np.float32)
    touched = np.zeros(k, dtype=bool)
    touched[add_a] = True
    touched[add_b] = True
    hit = touched[a] | touched[b]
    ta = np.concatenate([a[hit], add_a]).astype(np.int64)
    tb = np.concatenate([b[hit], add_b]).astype(np.int64)
    tw = np.concatenate([w[hit], add_w])
    lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
    keys, inverse = np.unique(lo * k + hi, return_inverse=True)
    sums = np.bincount(inverse, weights=tw, minlength=len(keys))
    live = sums > 1e-6  # what a departed face leaves behind is float rounding, not similarity
    rest = ~hit
    a = np.concatenate([a[rest], (keys[live] // k).astype(np.int32)])
    b = np.concatenate([b[rest], (keys[live] % k).astype(np.int32)])
    w = np.concatenate([w[rest], sums[live].astype(np.float32)])
    return a, b, w, size, k


def assign_to_people(similarity: np.ndarray, sizes: np.ndarray, *, eps: float, cap: float) -> np.ndarray:
    """Incremental assignment of the new faces of one photo to existing people, by
    ``graph_average``'s merge test: a face joins a person when the mean of its distances to
    the person's faces, each capped at ``cap``, is at most ``eps``.

    ``similarity``: ``float`` ``(m, p)``, for each new face and person the sum over the
    person's faces within ``cap`` of ``cap - distance`` (faces farther count 0); ``sizes``:
    ``(p,)`` faces per person (> 0). The mean capped distance is ``cap - similarity / size``.
    Each face takes its best qualifying person; one photo holds each person at most once,
    so faces are served best pair first and a person taken by a face is gone for the others.
    Returns ``int64`` ``(m,)``: a column index of ``sizes``, or ``-1`` (left to the next run).
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    m, p = similarity.shape if similarity.ndim == 2 else (0, 0)
    out = np.full(m, -1, dtype=np.int64)
    if m == 0 or p == 0:
        return out
    score = similarity / np.asarray(sizes, dtype=np.float64)[None, :]
    face, person = np.nonzero(score >= cap - eps)
    order = np.lexsort((person, face, -score[face, person]))
    taken: set[int] = set()
    for f, q in zip(face[order].tolist(), person[order].tolist()):
        if out[f] < 0 and q not in taken:
            out[f] = q
            taken.add(q)
    return out
