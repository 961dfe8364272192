"""Recognition on real labelled faces: clustering (who is who) and selfie search (which photos
are mine; is a stranger turned away), Kanta's algorithms against the original Kanta, with
parameters chosen on some identities and figures reported on others; plus re-clustering time,
memory and ID stability at 1k to 100k synthetic faces. One run, one report.

**Labelled faces** (read from ``--shared``, default ``<repo>/../shared/faces``, and from
``tests/data``; never copied into the repository). Descriptors are computed with Kanta's own
models and cached under ``bench/results/`` (git-ignored; ``--no-cache`` re-encodes), keyed by
the file list (names and sizes), the labels, dlib's version and the analysis settings.

* *crops*: ``identities/crops/``, 1,166 aligned 112x112 face crops of 12 people
  (``labels.csv``: file, identity). A crop is too tight for dlib's detector and landmarks,
  so each is upscaled x2 with Lanczos (224x224) and padded with a black border of 25% (56
  px) on every side (336x336); dlib's HOG detector (``dlib.get_frontal_face_detector()``, no
  upsampling) finds the face, the largest detection is kept, and when it finds none the
  ArcFace template box is used (x 18..94, y 34..110 in 112-pixel crop units, scaled x2 and
  offset by the pad). The descriptor is ``kanta.faces.pipeline.encode_faces(rgb, [box])``:
  dlib's 5-point landmarks and ResNet, as for any photo.
* *photos*: ``identities/photos/``, the 61 photos ``labels.csv`` labels (13 people,
  ``person_01`` .. ``person_13``, 2-8 photos each), each encoded by
  ``kanta.faces.pipeline.analyse_image(bytes, **analysis_settings(Settings()))`` (Kanta's
  detection profile and its too-small / too-blurry exclusions). The labelled identity goes
  to the largest usable face; other usable faces of the photo are unlabelled and left out.
  ``couple.jpg``, ``selfie-many-people.jpg`` and ``img11_reflection.jpg`` have no label and
  are left out.
* *asian*: ``identities/asian/``, the photos ``labels.csv`` labels (33 East and Southeast
  Asian people, one folder each), encoded as the photos are, the identity to the largest
  usable face. A population dlib's descriptor separates poorly: its sets are reported apart
  (``asian``, ``asian few #k``) and never merged with another source's identity. Each photo
  shows one labelled person, so, as for crops, the faces of a set are put in simulated
  photos of 1-4 distinct identities: the group photos a real event has.
* *tests/data*: the labelled photos of ``tests/data`` (``labels.csv``: file, faces,
  identities; 19 faces of 6 people), encoded the same way. In ``group_biden_obama.jpg``
  each of its two largest usable faces takes the identity (obama or biden) of the nearest
  mean descriptor of the single-identity photos. Several of its obama pictures are copies of
  one another (resized, cropped, re-saved), which makes them easy.

**One person in two sources.** The sources share people (public figures). For every pair of
identities from different sources, the median Euclidean distance between their faces is
computed; pairs under ``ALIAS_DISTANCE`` (0.6, dlib's same-person threshold) are printed
and merged into one identity named after its crops (else photos) member, in every set that
mixes sources. (Measured when written: tests/data ``obama`` = crops ``barack_obama``, median
0.41; photos ``person_02`` = crops ``jennifer_aniston``, 0.52.)

**Tuning and reporting identities.** Parameters are chosen on *tuning* identities only and
the headline figures come from the other, *reporting*, identities. Each source's identities
are sorted by name and alternate: even positions (0, 2, ...) tune, odd positions report; an
identity merged with a crops identity follows that identity; tests/data identities report
(unless merged). The *full* sets (all identities) are printed too, marked "includes tuning
identities", because the issue's criteria name "the crops set" and "the photos set".

**Sets** (simulated events built from the real faces), for each half (tuning, reporting):
``crops 3 #k`` all faces of 3 of the half's crops people (3 seeded draws), ``crops 6`` all
6 of them, ``photos`` the half's photos faces, ``tests/data`` (reporting only), ``mixed #k``
every identity of the half from all sources, each crops identity subsampled to a Zipf-like
count (``rng.zipf(1.6)`` clipped to 1..100: many guests a few times, a few many times; 2
draws), ``few #k`` every identity of the half with 2-6 of its faces (guests seen a few times,
as most guests of an event are; 2 draws). Full: ``crops 12``, ``photos``, ``tests/data``,
``mixed #k``, ``few #k``. Every face has a photo
(cannot-link group: two faces of one photo are two people): real photos are their file; a
crop has none, so crops are put in simulated photos of 1-4 faces of *distinct* identities
(seeded). Crops sets are also evaluated ``solo`` (every crop its own photo) to show what the
cannot-link constraint adds; only algorithms that use photo ids differ there.

**Clustering** (``clustering.cluster_descriptors``, ``bench/clustering.py``; ``graph_average``
runs Kanta's own ``kanta.clusters.algorithm``), each algorithm over a grid (``grid()``):
``graph_average`` (average linkage on capped distances, with and without
photo ids), ``dbscan``, ``hdbscan`` (``cluster_selection_epsilon`` 0 only: scikit-learn issue
#33219), ``agglomerative`` (average linkage), ``chinese_whispers``, ``rank_order``
(approximate rank-order, Otto et al., TPAMI 2018); and two baselines: the **original** Kanta
re-clustering (``sklearn.cluster.HDBSCAN(min_cluster_size=5,
cluster_selection_method="leaf")`` on L2-normalised descriptors) and the default shipped
before (DBSCAN eps 0.5, min_samples 2). Metrics: pairwise precision / recall / F1 over pairs
of faces put in one cluster (a noise face is in no pair; precision is 1 when no pair is
formed), BCubed precision / recall / F1 (Bagga and Baldwin 1998; a noise face is its own
cluster), noise fraction. *Parameter choice*, per algorithm, on the tuning sets (grouped):
among settings whose worst pairwise precision over them is >= ``TUNE_PRECISION`` (0.99),
the best worst-case F1, a set's F1 being the lower of its pairwise and BCubed F1 (pairwise
F1 weighs a person by the square of their faces and barely sees guests of few photos;
``rule_key``); if none reaches it, the best worst-case pairwise F0.5 (precision weighs twice
recall); ties (3 decimals) to the better worst precision (a merge shows a guest a
stranger's photos), then the better mean, then grid order (``grid()``). *Privacy veto*:
only settings whose pairwise precision is >= ``VETO_PRECISION`` (0.98) on *every* real set
(tuning, reporting and full) may be chosen: a lookalike pair whose two people fell in
different halves cannot show on the tuning sets alone (person_11 and person_12 of the
photos did). The veto only removes settings; when it removes the tuning sets' favourite,
the chosen setting's reporting figures are not independent of the reporting identities, and
the output says so. *Default*: the best by the same rule among the algorithms with a
setting that passes the veto and re-clusters the largest synthetic size in under 60 s on
one core with under ``MEMORY_BUDGET_MB`` extra peak memory; ties to the faster.

**Selfie search** (``kanta.search.matching.select_faces``), as a guest uses it. In each
grouped set, for each identity with >= 2 faces, 20% of its faces (at least 1, seeded) are
selfies taken out of the event; the event (the rest) is clustered with the default
clustering, photo ids as groups. *Present*: a selfie searches the event; the returned photos
are the photos of the selected faces; recall = returned photos showing the person / event
photos showing the person; precision = returned photos showing the person / returned photos
(a photo without the person is a privacy incident); ``wrong`` = searches returning at least
one such photo. *Absent*: for each identity, the event without it is clustered again and up
to ``ABSENT_QUERIES`` of its faces (seeded) search it; stranger rejection = searches
returning nothing. Baseline: the search before, every photo with a face within 0.6 of the
selfie. Cuts: the shipped ``Settings().search_max_distance`` / ``search_person_max_distance``
and a curve over face cut x person cut. *Calibration* on the tuning sets: the (face, person)
pair with the highest worst-case recall among those whose worst-case stranger rejection is
>= 0.99, and (the privacy veto) stranger rejection >= ``VETO_REJECTION`` (0.98) on every
real set; ties (3 decimals) to the better worst rejection, then the better mean recall;
pairs still tied form a plateau the data cannot tell apart, and the pair nearest its centre
(in grid steps; lower cuts first) is taken: the most margin both ways, not an edge. The
choice without the veto is printed too.
``ABSENT_QUERIES`` is 40 (10 with ``--quick``): the searches are cheap (the whole simulation
takes seconds) and more of them make the rejection figures less coarse.

**Scale** (synthetic): a generator of dlib-like descriptors fitted to the crops *tuning*
identities' distances (the mean and spread of same-person and of different-person
distances; ``fit_generator``); identities of Zipf sizes (exponent 2, largest n/50) and
simulated photos of 1-4 distinct identities as groups; 1k, 10k, 100k faces (``--sizes``).
Each algorithm's chosen setting, the original and the shipped-before default run in a forked
child on one core (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1,
set before numpy is imported), stopped after 60 s (``--limit``); one whose time, estimated
from the smaller sizes as n^2 or faster, exceeds 3x the limit is not run. Reported: seconds
(wall, ``time.perf_counter``, clustering plus ``stable_ids``), extra peak memory (``VmHWM``
above the ``VmRSS`` the child started with, 10^6 bytes), pairwise P / R / F1 against the
synthetic truth, and ID stability: add 10% faces (90% of people already there) in new
photos, re-cluster with the first run's ids as ``previous`` (``stable_ids``), and count old
faces keeping their id (``kept``: all old faces, noise -> noise counts as kept; ``kept*``:
old faces that had a person). The original has no id matching: raw labels are compared.

**Tables.**

* ``TUNING``: per algorithm, its five best settings by the rule: ``worst P`` / ``worst F1`` /
  ``worst F0.5`` = lowest pairwise precision / F1 / F0.5 over the tuning sets; ``mean F1``
  (the whole grid, per set, is in the JSON).
* ``SCALE``: ``faces``; ``seconds``; ``+MB`` extra peak memory; ``P R F1`` pairwise against
  the synthetic truth; ``kept`` / ``kept*`` as above.
* ``CLUSTERING``, per set: ``clust`` clusters formed; ``pair P R F1``; ``B3 P R F1``;
  ``noise``; ``F1/orig`` = pairwise F1 over the original's on that set. Then per algorithm
  the worst case over the grouped real sets of the table and the ratio to the original.
* ``SEARCH``, per set: ``faces`` in the event, ``people``, ``selfies``; ``recall``,
  ``precision``, ``wrong`` (present); ``absent`` searches and ``reject`` (stranger
  rejection), for the shipped cuts, the recommended cuts and the baseline.
* ``SEARCH CURVE``: ``recall/rejection`` for each face cut (rows) and person cut (columns),
  worst case over the tuning sets (what the calibration sees) and over the reporting sets
  (recall there over the crops and photos sets, as the criteria: tests/data has 4 selfies).
* ``CRITERIA``: each of the issue's criteria with its figure and PASS / FAIL, on the
  reporting sets (headline) and on the full sets.

Encoding, tuning and the search simulation run on ``--jobs`` forked processes (default: the
CPUs), one core each; the scale runs run one at a time, alone.

Run from the repository root (works from any directory)::

    .venv/bin/python bench/recognition.py --json bench/results/recognition.json   # ~7 min, 2 CPUs
    .venv/bin/python bench/recognition.py --quick          # ~1.5 min: 1k and 10k faces, fewer searches
    .venv/bin/python bench/recognition.py --skip-scale     # ~20 s: no synthetic runs (no time check)

``--quick`` checks the time and memory limits at 10 000 faces, where every algorithm fits
them, so its default may differ from a full run's. The first run also encodes the faces
(about 1.5 minutes on 2 CPUs); later runs read the cache.
"""

from __future__ import annotations

import os

# One core per process, set before numpy (or anything importing it) starts its thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import csv
import datetime
import functools
import hashlib
import json
import math
import multiprocessing
import platform
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Root of the repository (this file is ``<root>/bench/recognition.py``).
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# bench/clustering.py and bench/common.py: this directory is on sys.path
from clustering import cluster_descriptors, max_agglomerative_faces
from common import git_state

from kanta.clusters.algorithm import NOISE, stable_ids
from kanta.clusters.cuts import BULK_GAP, IMPOSTOR_QUANTILE, event_cuts, onset_of_strangers
from kanta.search.matching import SearchCuts, select_faces

#: The shared labelled faces (``--shared``).
SHARED = REPO_ROOT.parent / "shared" / "faces"
#: tests/data labelled photos (``labels.csv``: file, faces, identities).
TESTS_DATA = REPO_ROOT / "tests" / "data"
#: The tests/data photo with two people, labelled face by face by the nearest mean.
GROUP_PHOTO = "group_biden_obama.jpg"
#: Photos of ``identities/photos`` without a label (group photos, a mirror reflection).
UNLABELLED_PHOTOS = ("couple.jpg", "selfie-many-people.jpg", "img11_reflection.jpg")
#: Where descriptors are cached and results written by default (git-ignored).
RESULTS = REPO_ROOT / "bench" / "results"
#: Bumped when the encoding changes, so that old caches are not reused.
CACHE_VERSION = 1
#: Crop encoding: upscale factor, border (fraction of the upscaled side), ArcFace template
#: box in 112-pixel crop units (left, top, right, bottom).
CROP_UPSCALE, CROP_PAD, CROP_TEMPLATE = 2, 0.25, (18, 34, 94, 110)
#: Two identities of different sources whose faces' median distance is under this are one.
ALIAS_DISTANCE = 0.6
#: Sources, in order of preference for an identity's name.
SOURCES = ("crops", "photos", "asian", "tests")
#: Sources whose faces are put in simulated group photos (their photos show one labelled person).
SIMULATED_PHOTOS = ("crops", "asian")
#: Sources of another population than the rest: no identity of theirs is merged across sources,
#: and their sets are separate (module docstring).
SEPARATE_POPULATIONS = ("asian",)
#: Roles of a set.
TUNING, REPORTING, FULL = "tuning", "reporting", "full"
#: Seeds (sets, photos, selfies and synthetic sets derive theirs from it).
SEED = 20261130
#: Zipf exponent of crops identity counts in mixed sets, and the largest count.
MIXED_ZIPF, MIXED_MAX = 1.6, 100
#: Simulated photos hold 1..this many faces of distinct identities.
MAX_FACES_PER_PHOTO = 4
#: Synthetic identity sizes: Zipf exponent, largest identity as a fraction of the faces.
ZIPF_EXPONENT, LARGEST_IDENTITY = 2.0, 1 / 50
#: Share of the 10% new faces (ID stability) that belong to new people.
NEW_PEOPLE_SHARE = 0.1
#: Parameter choice: worst-case pairwise precision a setting must reach on the tuning sets.
TUNE_PRECISION = 0.99
#: "few" sets: each identity with this many faces at most (uniform), own random stream.
FEW_FACES, FEW_SEED = (2, 6), 7
#: Re-clustering limits of a default at the largest size: seconds on one core, and extra peak
#: memory (10^6 bytes): the 2048 MB Flex Consumption instance (infra/) minus the worker, the
#: event's descriptors and headroom.
TARGET_SECONDS, MEMORY_BUDGET_MB, TARGET_SIZE = 60.0, 1500.0, 100_000
#: A run whose estimated time exceeds this many limits is not started.
ESTIMATE_FACTOR = 3.0
#: Clustering criteria (issue): pairwise precision on every real set, F1 on the crops set.
TARGET_PRECISION, TARGET_CROPS_F1, TARGET_KEPT = 0.98, 0.90, 0.99
#: Selfie search: share of an identity's faces taken as selfies, absent searches per identity.
SELFIE_SHARE, ABSENT_QUERIES = 0.2, 40
#: Search before: every photo with a face within this distance of the selfie.
BASELINE_SEARCH = 0.6
#: Search cuts tried (face cut x person cut), Euclidean.
FACE_CUTS = (0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.55)
PERSON_CUTS = (0.48, 0.50, 0.52, 0.54, 0.56, 0.58, 0.60)
#: Calibration: worst-case stranger rejection the recommended cuts must reach on tuning sets.
TUNE_REJECTION = 0.99
#: Privacy veto: pairwise precision and stranger rejection the defaults must keep on EVERY
#: real set (tuning, reporting and full): settings below are never chosen (see ``main``).
VETO_PRECISION = 0.98
VETO_REJECTION = 0.98
#: Search criteria (issue), worst case over reporting sets.
TARGET_REJECTION, TARGET_PHOTOS_RECALL, TARGET_CROPS_RECALL = 0.98, 0.90, 0.80
#: Names of the two baselines among the clustering rows.
ORIGINAL, BEFORE = "original", "shipped before"


# --------------------------------------------------------------------------- child runs


@dataclass
class Outcome:
    """A run in a child process: its result and seconds, or why there is none."""

    value: Any
    seconds: float | None
    failure: str | None = None
    extra_mb: float | None = None


def _status_kb(field_name: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` line of /proc/self/status, kB (0 where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child(conn: Any, fn: Callable[[], Any]) -> None:
    try:
        # A forked child starts with the parent's resident pages (VmHWM = VmRSS): the run's
        # own peak is the high-water mark above that.
        rss_before = _status_kb("VmRSS")
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        extra_mb = (_status_kb("VmHWM") - rss_before) * 1024 / 1e6
        conn.send(("ok", value, (seconds, extra_mb)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))
    finally:
        conn.close()


def in_child(fn: Callable[[], Any], timeout: float) -> Outcome:
    """Run ``fn`` in a forked child (the data are inherited, not copied), timing it there;
    stop the child after ``timeout`` seconds."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn))
    proc.start()
    child.close()
    try:
        if parent.poll(timeout):
            status, value, measured = parent.recv()
        else:
            status, value, measured = "timeout", f"stopped after {timeout:.0f} s", None
    except EOFError:
        status, value, measured = "error", "the child died (out of memory?)", None
    if proc.is_alive():
        proc.kill()
    proc.join()
    parent.close()
    if status == "ok":
        return Outcome(value, measured[0], None, measured[1])
    return Outcome(None, None, value)


def parallel_map(fn: Callable[[Any], Any], items: list[Any], jobs: int) -> list[Any]:
    """``[fn(i) for i in items]`` on ``jobs`` forked processes (one core each): the data the
    functions read are module globals inherited by the fork."""
    if jobs <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(fn, items, chunksize=1)


# --------------------------------------------------------------------------- metrics


def _pairs(counts: np.ndarray) -> float:
    return float((counts * (counts - 1) / 2).sum())


def scores(truth: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Pairwise and BCubed precision / recall / F1, pairwise F0.5, noise fraction and clusters
    of ``labels`` (``(n,)``, ``NOISE`` = in no cluster) against identities ``truth`` (``(n,)``,
    every face has one)."""
    n = len(truth)
    noise = labels == NOISE
    # Noise faces become singletons: in no pair, and their own BCubed cluster.
    pred = np.where(noise, labels.max(initial=0) + 1 + np.arange(n), labels)
    _, pred = np.unique(pred, return_inverse=True)
    _, true = np.unique(truth, return_inverse=True)
    cells, cell_counts = np.unique(pred.astype(np.int64) * (true.max() + 1) + true, return_counts=True)
    cell_pred = cells // (true.max() + 1)
    cell_true = cells % (true.max() + 1)
    pred_sizes = np.bincount(pred)
    true_sizes = np.bincount(true)
    tp = _pairs(cell_counts)
    pred_pairs = _pairs(pred_sizes)
    true_pairs = _pairs(true_sizes)
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    # BCubed: each face of a cell (cluster c, identity t) has precision n_ct/|c|, recall n_ct/|t|.
    bp = float((cell_counts * cell_counts / pred_sizes[cell_pred]).sum() / n)
    br = float((cell_counts * cell_counts / true_sizes[cell_true]).sum() / n)
    return {
        "pairwise_precision": p, "pairwise_recall": r, "pairwise_f1": 2 * p * r / (p + r) if p + r else 0.0,
        # F-beta with beta 0.5 (van Rijsbergen): precision weighs twice recall.
        "pairwise_f05": 1.25 * p * r / (0.25 * p + r) if p + r else 0.0,
        "bcubed_precision": bp, "bcubed_recall": br, "bcubed_f1": 2 * bp * br / (bp + br) if bp + br else 0.0,
        "noise": float(noise.mean()) if n else 0.0,
        "clusters": len(np.unique(labels[~noise])),
    }


def kept(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """ID stability of the old faces: ``first`` their ids after run 1, ``second`` after run 2
    (both ``(n_old,)``)."""
    same = first == second
    clustered = first != NOISE
    return {
        "kept_all": float(same.mean()),
        "kept_clustered": float(same[clustered].mean()) if clustered.any() else 1.0,
        "noise_to_person": float((~clustered & (second != NOISE)).mean()),
    }


# --------------------------------------------------------------------------- encoding


@dataclass
class Faces:
    """Every labelled face of every source: descriptors ``x`` ``(n, 128)`` and, per face, its
    ``source`` (``SOURCES``), its identity ``label`` as that source names it, its ``file``
    (relative to the source folder) and ``hog`` (crops: dlib's HOG detector found the face;
    photos: always true); ``notes`` on what was left out."""

    x: np.ndarray
    source: np.ndarray
    label: np.ndarray
    file: np.ndarray
    hog: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> np.ndarray:
        """Per face, ``source:label``: the identity before sources are merged."""
        return np.char.add(np.char.add(self.source.astype(str), ":"), self.label.astype(str))


def _read_labels(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@functools.cache
def _hog_detector() -> Any:
    """dlib's HOG frontal face detector: crops are boxed as before YuNet, so their
    descriptors stay comparable across runs (Kanta itself no longer loads it)."""
    import dlib

    return dlib.get_frontal_face_detector()


def _encode_crop(path: str) -> tuple[np.ndarray, bool]:
    """One crop's descriptor ``(128,)`` and whether HOG found the face (module docstring)."""
    from PIL import Image, ImageOps

    from kanta.faces.pipeline import BoundingBox, encode_faces

    with Image.open(path) as im:
        crop = im.convert("RGB")
    side = crop.width * CROP_UPSCALE
    crop = crop.resize((side, crop.height * CROP_UPSCALE), Image.Resampling.LANCZOS)
    pad = round(side * CROP_PAD)
    rgb = np.asarray(ImageOps.expand(crop, border=pad, fill=(0, 0, 0)))
    detections = _hog_detector()(rgb, 0)
    if len(detections):
        d = max(detections, key=lambda r: r.area())
        box = BoundingBox(d.left(), d.top(), d.right() - d.left(), d.bottom() - d.top())
    else:
        k = side / 112
        left, top, right, bottom = (round(pad + v * k) for v in CROP_TEMPLATE)
        box = BoundingBox(left, top, right - left, bottom - top)
    return encode_faces(rgb, [box])[0], bool(len(detections))


def _analyse(path: str) -> list[tuple[np.ndarray, int, str | None]]:
    """A photo's faces as (descriptor, box area, excluded reason), Kanta's settings."""
    from kanta.config import Settings
    from kanta.faces.pipeline import analyse_image, analysis_settings

    settings = analysis_settings(Settings()) | {"thumbnails": False}
    faces = analyse_image(Path(path).read_bytes(), **settings).faces
    return [(f.descriptor, f.bbox.area, f.excluded) for f in faces]


def _cache_key(shared: Path) -> str:
    """Hash of what the descriptors depend on: files (names, sizes), labels, dlib, settings."""
    import dlib

    from kanta.config import Settings
    from kanta.faces import PIPELINE
    from kanta.faces.pipeline import analysis_settings

    parts: list[Any] = [CACHE_VERSION, PIPELINE, dlib.__version__, CROP_UPSCALE, CROP_PAD, CROP_TEMPLATE,
                        analysis_settings(Settings())]
    for folder in (shared / "identities" / "crops", shared / "identities" / "photos",
                   shared / "identities" / "asian", TESTS_DATA):
        labels = folder / "labels.csv"
        parts.append(labels.read_text(encoding="utf-8"))
        for row in _read_labels(labels):
            parts.append((row["file"], (folder / row["file"]).stat().st_size))
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encode_all(shared: Path, cache: bool, jobs: int) -> tuple[Faces, Path, bool]:
    """Encode (or load from the cache) every labelled face; returns the faces, the cache path
    and whether the cache was used."""
    path = RESULTS / f"recognition-faces-{_cache_key(shared)}.npz"
    if cache and path.is_file():
        z = np.load(path, allow_pickle=False)
        return Faces(z["x"], z["source"], z["label"], z["files"], z["hog"], json.loads(str(z["notes"]))), path, True
    crops_dir, photos_dir = shared / "identities" / "crops", shared / "identities" / "photos"
    asian_dir = shared / "identities" / "asian"
    crop_rows = _read_labels(crops_dir / "labels.csv")
    photo_rows = _read_labels(photos_dir / "labels.csv")
    asian_rows = _read_labels(asian_dir / "labels.csv")
    test_rows = _read_labels(TESTS_DATA / "labels.csv")
    crops = parallel_map(_encode_crop, [str(crops_dir / r["file"]) for r in crop_rows], jobs)
    analysed = parallel_map(_analyse, [str(photos_dir / r["file"]) for r in photo_rows]
                            + [str(asian_dir / r["file"]) for r in asian_rows]
                            + [str(TESTS_DATA / r["file"]) for r in test_rows], jobs)
    x: list[np.ndarray] = [d for d, _ in crops]
    source = ["crops"] * len(crops)
    label = [r["identity"] for r in crop_rows]
    file = [r["file"] for r in crop_rows]
    hog = [h for _, h in crops]
    notes: list[str] = []
    unlabelled = sorted(p.name for p in photos_dir.glob("*.jpg") if p.name not in {r["file"] for r in photo_rows})
    notes.append(f"photos without a label, left out: {', '.join(unlabelled)}")
    group: tuple[list[np.ndarray], list[str]] | None = None
    n_photos, n_asian = len(photo_rows), len(asian_rows)
    for src, rows, faces_of in (("photos", photo_rows, analysed[:n_photos]),
                                ("asian", asian_rows, analysed[n_photos:n_photos + n_asian]),
                                ("tests", test_rows, analysed[n_photos + n_asian:])):
        for row, faces in zip(rows, faces_of):
            people = (row.get("identities") or row["identity"]).split(";")
            usable = sorted((f for f in faces if f[2] is None), key=lambda f: -f[1])
            excluded = [f[2] for f in faces if f[2] is not None]
            if excluded:
                notes.append(f"{src} {row['file']}: {len(excluded)} face(s) excluded ({', '.join(excluded)})")
            if len(usable) > len(people):
                notes.append(f"{src} {row['file']}: {len(usable)} usable faces, the {len(people)} largest labelled, "
                             f"the others left out")
            if len(usable) < len(people):
                notes.append(f"{src} {row['file']}: {len(usable)} usable face(s) for {len(people)} labelled")
            if row["file"] == GROUP_PHOTO:
                group = ([f[0] for f in usable[:len(people)]], people)
                continue
            for f in usable[:1]:
                x.append(f[0])
                source.append(src)
                label.append(people[0])
                file.append(row["file"])
                hog.append(True)
    if group is not None:
        # Each face of the group photo: the identity of the nearest mean descriptor of the
        # single-identity tests/data photos of its labelled people.
        descriptors, people = group
        tests_x = np.array([d for d, s in zip(x, source) if s == "tests"])
        tests_label = np.array([lab for lab, s in zip(label, source) if s == "tests"])
        means = {p: tests_x[tests_label == p].mean(axis=0) for p in people}
        for d in descriptors:
            person = min(people, key=lambda p: float(np.linalg.norm(d - means[p])))
            x.append(d)
            source.append("tests")
            label.append(person)
            file.append(GROUP_PHOTO)
            hog.append(True)
            notes.append(f"tests {GROUP_PHOTO}: a face labelled {person} (nearest mean; distances "
                         + ", ".join(f"{p} {np.linalg.norm(d - means[p]):.3f}" for p in people) + ")")
    out = Faces(np.array(x, dtype=np.float64), np.array(source), np.array(label), np.array(file),
                np.array(hog, dtype=bool), notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=out.x, source=out.source, label=out.label, files=out.file, hog=out.hog,
             notes=json.dumps(notes))
    return out, path, False


# --------------------------------------------------------------------------- identities


@dataclass
class Identities:
    """Identities after merging sources: per face its ``canonical`` name; ``role`` per
    canonical name (``TUNING`` or ``REPORTING``); ``aliases``: the merged cross-source pairs
    and ``closest``: the nearest pair left apart, each ``(key a, key b, median distance)``."""

    canonical: np.ndarray
    role: dict[str, str]
    aliases: list[tuple[str, str, float]]
    closest: tuple[str, str, float] | None
    members: dict[str, list[str]]


def merge_identities(faces: Faces) -> Identities:
    """Find identities shared by two sources (median distance of their faces under
    ``ALIAS_DISTANCE``), merge them, and split the identities into tuning and reporting
    halves (module docstring)."""
    keys = faces.key
    names = sorted(set(keys.tolist()), key=lambda k: (SOURCES.index(k.split(":", 1)[0]), k))
    parent = {k: k for k in names}

    def find(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    aliases: list[tuple[str, str, float]] = []
    closest: tuple[str, str, float] | None = None
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a.split(":")[0] == b.split(":")[0]:
                continue  # one source labels different people differently
            if (a.split(":")[0] in SEPARATE_POPULATIONS) != (b.split(":")[0] in SEPARATE_POPULATIONS):
                continue  # no one is in both populations; their strangers are often within 0.6
            xa, xb = faces.x[keys == a], faces.x[keys == b]
            median = float(np.median(np.linalg.norm(xa[:, None, :] - xb[None, :, :], axis=2)))
            if median < ALIAS_DISTANCE:
                aliases.append((a, b, median))
                ra, rb = find(a), find(b)
                # The root is the member of the preferred source (names are in that order).
                parent[max(ra, rb, key=names.index)] = min(ra, rb, key=names.index)
            elif closest is None or median < closest[2]:
                closest = (a, b, median)
    members: dict[str, list[str]] = {}
    for k in names:
        members.setdefault(find(k), []).append(k)
    labels = {root: root.split(":", 1)[1] for root in members}
    if len(set(labels.values())) < len(labels):  # two sources use one name for two people
        labels = {root: root for root in members}
    canonical = np.array([labels[find(k)] for k in keys.tolist()])
    role: dict[str, str] = {}
    for src in SOURCES:
        own = sorted({k.split(":", 1)[1] for k in names if k.startswith(src + ":")})
        for pos, lab in enumerate(own):
            root = find(f"{src}:{lab}")
            if labels[root] in role:
                continue  # merged with an identity of a preferred source: it follows that one
            if src == "tests":
                role[labels[root]] = REPORTING
            else:
                role[labels[root]] = TUNING if pos % 2 == 0 else REPORTING
    return Identities(canonical, role, aliases, closest, {labels[r]: m for r, m in members.items()})


# --------------------------------------------------------------------------- sets


@dataclass
class EvalSet:
    """A simulated event: descriptors ``x`` ``(n, 128)``; ``truth`` ``(n,)`` identity index
    into ``names``; ``photo`` ``(n,)`` photo id (two faces of one photo are two people).
    ``role``: ``TUNING``, ``REPORTING`` or ``FULL``; ``kind``: crops, photos, tests, mixed or few;
    ``solo``: crops each in its own photo."""

    name: str
    role: str
    kind: str
    x: np.ndarray
    truth: np.ndarray
    photo: np.ndarray
    names: list[str]
    solo: bool = False

    @property
    def people(self) -> int:
        return len(np.unique(self.truth))

    @property
    def title(self) -> str:
        return self.name + (" solo" if self.solo else "")


def simulated_photos(truth: np.ndarray, rng: np.random.Generator, start: int = 0) -> np.ndarray:
    """Put faces into simulated photos of 1..``MAX_FACES_PER_PHOTO`` faces (size uniform) of
    distinct identities, in random order: ``int64`` ``(n,)`` photo ids from ``start``. A face
    whose identity is already in the photo being filled waits for a later one."""
    order = deque(rng.permutation(len(truth)).tolist())
    photo = np.empty(len(truth), dtype=np.int64)
    waiting: list[int] = []
    pid = start
    while order or waiting:
        size = int(rng.integers(1, MAX_FACES_PER_PHOTO + 1))
        members: list[int] = []
        seen: set[int] = set()
        still: list[int] = []
        for i in waiting:
            if len(members) < size and truth[i] not in seen:
                members.append(i)
                seen.add(int(truth[i]))
            else:
                still.append(i)
        waiting = still
        while len(members) < size and order:
            i = order.popleft()
            if truth[i] in seen:
                waiting.append(i)
            else:
                members.append(i)
                seen.add(int(truth[i]))
        photo[members] = pid
        pid += 1
    return photo


def build_sets(faces: Faces, ids: Identities) -> list[EvalSet]:
    """The tuning, reporting and full sets (module docstring), crops sets also ``solo``."""
    names = sorted(set(ids.canonical.tolist()))
    truth_all = np.array([names.index(c) for c in ids.canonical.tolist()])
    # Real photo ids: one per (source, file); crops get simulated ones per set.
    _, real_photo = np.unique(np.char.add(faces.source.astype(str), faces.file.astype(str)), return_inverse=True)
    crops = faces.source == "crops"
    simulated = np.isin(faces.source, SIMULATED_PHOTOS)
    out: list[EvalSet] = []
    counter = [0]

    def rng() -> np.random.Generator:
        counter[0] += 1
        return np.random.default_rng([SEED, counter[0]])

    def make(name: str, role: str, kind: str, idx: np.ndarray, solo_too: bool) -> None:
        idx = np.sort(idx)
        photo = real_photo[idx].astype(np.int64)
        c = simulated[idx]
        if c.any():  # crops and asian: simulated photos, numbered after every real photo
            photo[c] = simulated_photos(truth_all[idx][c], rng(), start=int(real_photo.max()) + 1)
        out.append(EvalSet(name, role, kind, faces.x[idx], truth_all[idx], photo, names))
        if solo_too:
            solo = photo.copy()
            solo[c] = real_photo.max() + 1 + np.arange(int(c.sum()))
            out.append(EvalSet(name, role, kind, faces.x[idx], truth_all[idx], solo, names, solo=True))

    def of(people: list[str], source: str | None = None) -> np.ndarray:
        m = np.isin(ids.canonical, people)
        if source:
            m &= faces.source == source
        return np.flatnonzero(m)

    crops_people = sorted(set(ids.canonical[crops].tolist()))
    for role in (TUNING, REPORTING, FULL):
        half = [p for p in names if role == FULL or ids.role[p] == role]
        crops_half = [p for p in crops_people if p in half]
        r = rng()
        if role != FULL:
            for k in range(3):
                three = sorted(r.choice(crops_half, size=min(3, len(crops_half)), replace=False).tolist())
                make(f"crops 3 #{k + 1}", role, "crops", of(three, "crops"), True)
        make(f"crops {len(crops_half)}", role, "crops", of(crops_half, "crops"), True)
        make("photos", role, "photos", of(half, "photos"), False)
        if role != TUNING:
            make("tests/data", role, "tests", of(half, "tests"), False)
        for k in range(2):
            keep = [of(half, "photos"), of(half, "tests")]
            for p in crops_half:
                idx = of([p], "crops")
                count = int(min(MIXED_MAX, r.zipf(MIXED_ZIPF)))
                keep.append(r.choice(idx, size=min(count, len(idx)), replace=False))
            make(f"mixed #{k + 1}", role, "mixed", np.concatenate(keep), False)
    # Guests seen a few times, as most guests of an event are: every identity of the half with
    # FEW_FACES faces at most (after the sets above, so that their random draws stay the same).
    for role in (TUNING, REPORTING, FULL):
        half = [p for p in names if role == FULL or ids.role[p] == role]
        r = np.random.default_rng([SEED, FEW_SEED, (TUNING, REPORTING, FULL).index(role)])
        for k in range(2):
            keep = []
            for p in half:
                idx = of([p])
                idx = idx[~np.isin(faces.source[idx], SEPARATE_POPULATIONS)]
                if not len(idx):
                    continue
                count = int(r.integers(FEW_FACES[0], FEW_FACES[1] + 1))
                keep.append(r.choice(idx, size=min(count, len(idx)), replace=False))
            make(f"few #{k + 1}", role, "few", np.concatenate(keep), False)
    # The other population last, so that the draws of the sets above stay what they were.
    for role in (TUNING, REPORTING, FULL):
        half = [p for p in names if role == FULL or ids.role[p] == role]
        make("asian", role, "asian", of(half, "asian"), False)
        r = np.random.default_rng([SEED, FEW_SEED, 10 + (TUNING, REPORTING, FULL).index(role)])
        for k in range(2):
            keep = [r.choice(idx, size=min(int(r.integers(FEW_FACES[0], FEW_FACES[1] + 1)), len(idx)), replace=False)
                    for p in half if len(idx := of([p], "asian"))]
            if keep:
                make(f"asian few #{k + 1}", role, "asian", np.concatenate(keep), False)
    return [s for s in out if len(s.x)]


# --------------------------------------------------------------------------- clustering


@dataclass(frozen=True)
class Candidate:
    """An algorithm with its parameters: ``kwargs`` of ``cluster_descriptors`` (the original
    takes none); ``groups``: photo ids are passed as cannot-link groups."""

    algorithm: str
    kwargs: tuple[tuple[str, Any], ...] = ()
    groups: bool = False

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.kwargs)

    @property
    def label(self) -> str:
        if self.algorithm == ORIGINAL:
            return "HDBSCAN leaf, min_cluster_size 5, L2-normalised"
        shown = {k: v for k, v in self.kwargs if not (k == "min_samples" and v == 2
                                                       and self.algorithm not in ("dbscan", "hdbscan"))}
        return ", ".join(f"{k} {v}" for k, v in shown.items()) + (", photo ids" if self.groups else "")

    def labels(self, x: np.ndarray, photo: np.ndarray | None) -> np.ndarray:
        """Cluster labels ``int64`` ``(n,)`` of descriptors ``x`` ``(n, 128)``; ``photo``
        ``(n,)`` photo ids (used when ``groups``)."""
        if self.algorithm == ORIGINAL:
            return run_original(x)
        if self.algorithm == EVENT:
            p = self.params
            onset, _ = event_onset(x, photo, p["quantile"], p["gap"])
            return cluster_descriptors(x, algorithm="graph_average", groups=photo, eps=max(0.1, min(p["eps"], onset)),
                                       cap=p["cap"], min_samples=2)
        return cluster_descriptors(x, algorithm=self.algorithm, groups=photo if self.groups else None,
                                   **self.params)


#: Graph average linkage with an eps each event estimates from its own faces (``event_onset``).
EVENT = "event_average"


def event_onset(x: np.ndarray, photo: np.ndarray | None, quantile: float, gap: float | None) -> tuple[float, int]:
    """Where different people start in one event by its own faces: Kanta's
    ``kanta.clusters.cuts.onset_of_strangers`` with this ``quantile`` and ``gap`` (``None``:
    same-photo pairs only; ``math.inf`` without enough evidence); and the same-photo pair
    count."""
    onset, pairs = onset_of_strangers(x, np.arange(len(x)) if photo is None else photo, quantile=quantile, gap=gap)
    return (math.inf if onset is None else onset), pairs


def candidate(algorithm: str, groups: bool = False, **kwargs: Any) -> Candidate:
    return Candidate(algorithm, tuple(kwargs.items()), groups)


def run_original(x: np.ndarray) -> np.ndarray:
    """The original Kanta re-clustering's computation: HDBSCAN, leaf selection,
    min_cluster_size 5, on L2-normalised descriptors (raw labels, -1 = noise)."""
    from sklearn.cluster import HDBSCAN

    if len(x) <= 5:
        return np.full(len(x), NOISE, dtype=np.int64)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    return HDBSCAN(min_cluster_size=5, cluster_selection_method="leaf", copy=True).fit_predict(xn).astype(np.int64)


#: The two baselines: the original Kanta, and the default shipped before graph_average.
BASELINES = {ORIGINAL: Candidate(ORIGINAL), BEFORE: candidate("dbscan", eps=0.5, min_samples=2)}


def grid() -> dict[str, list[Candidate]]:
    """The settings tried per algorithm, in grid order (ties go to the earlier one). eps and
    cap are Euclidean distances (``cluster_descriptors``); min_samples 2 = clusters of one
    face are noise."""
    def steps(lo: float, hi: float, step: float) -> list[float]:
        return [round(v, 3) for v in np.arange(lo, hi + step / 2, step)]

    ga_eps = steps(0.54, 0.60, 0.01)
    return {
        "graph_average": [candidate("graph_average", groups, eps=e, cap=c, min_samples=2)
                          for groups in (True, False) for c in (0.6, 0.62, 0.65) for e in ga_eps if e < c],
        "dbscan": [candidate("dbscan", eps=e, min_samples=m) for m in (2, 3, 5, 8)
                   for e in (0.40, 0.43, 0.45, 0.48, 0.50, 0.52, 0.55)],
        # cluster_selection_epsilon > 0 raises in scikit-learn 1.9 with NumPy 2 (issue #33219).
        "hdbscan": [candidate("hdbscan", eps=0.0, min_samples=m, selection=s)
                    for s in ("eom", "leaf") for m in (2, 3, 5, 10)],
        "agglomerative": [candidate("agglomerative", eps=e, min_samples=2, linkage="average")
                          for e in (0.55, 0.58, 0.60, 0.62, 0.65, 0.68, 0.70)],
        "chinese_whispers": [candidate("chinese_whispers", eps=e, min_samples=2)
                             for e in (0.45, 0.48, 0.50, 0.52, 0.55, 0.58, 0.60)],
        "rank_order": [candidate("rank_order", eps=e, min_samples=2, neighbours=k, threshold=t)
                       for k in (10, 20, 50) for t in (0.5, 1.0, 1.5, 2.0) for e in (0.5, 0.55, 0.6)],
        # Per-event eps: at most the shipped 0.58, lower where the event's own faces say
        # different people start lower (``event_onset``).
        EVENT: [candidate(EVENT, True, eps=0.58, cap=0.6, gap=g, quantile=q)
                for q in (0.005, 0.01) for g in (None, 0.15, 0.19, 0.23)],
    }


#: The sets a worker process evaluates (a module global, so forked workers inherit it).
_SETS: list[EvalSet] = []


def _score_on_sets(c: Candidate) -> list[dict[str, float]]:
    out = []
    for s in _SETS:
        try:
            out.append(scores(s.truth, c.labels(s.x, s.photo)))
        except ValueError as exc:  # e.g. agglomerative above its size limit
            out.append({"failure": str(exc)})
    return out


def evaluate_on(candidates: list[Candidate], sets: list[EvalSet], jobs: int) -> list[list[dict[str, float]]]:
    """Scores of each candidate on each set: ``[candidate][set]``, on ``jobs`` processes."""
    global _SETS
    _SETS = sets
    try:
        return parallel_map(_score_on_sets, candidates, jobs)
    finally:
        _SETS = []


def rule_key(rows: list[dict[str, float]]) -> tuple[int, float, float, float]:
    """Rank of a setting from its scores on the tuning sets (higher is better): settings whose
    worst pairwise precision reaches ``TUNE_PRECISION`` first, by their worst F1 over sets,
    each set's F1 being the lower of pairwise and BCubed F1; the others by worst pairwise
    F0.5; ties (3 decimals) to the better worst precision (a merge shows a guest a stranger's
    photos), then to the better mean of the same F. Both F1s: pairwise F1 counts pairs of
    faces, so a person in 100 photos outweighs fifty guests seen twice; BCubed counts faces,
    so it sees a setting that leaves guests of few photos as noise (DBSCAN with min_samples 5
    won on pairwise F1 alone while leaving every person of tests/data unclustered)."""
    if any("failure" in r for r in rows):
        return (-1, 0.0, 0.0, 0.0)
    worst_p = min(r["pairwise_precision"] for r in rows)
    if worst_p >= TUNE_PRECISION:
        values = [min(r["pairwise_f1"], r["bcubed_f1"]) for r in rows]
    else:
        values = [r["pairwise_f05"] for r in rows]
    return (int(worst_p >= TUNE_PRECISION), round(min(values), 3), round(worst_p, 3), round(float(np.mean(values)), 3))


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    """Worst and mean of a setting's scores over sets."""
    ok = [r for r in rows if "failure" not in r]
    if not ok:
        return {}
    return {"worst_precision": min(r["pairwise_precision"] for r in ok),
            "worst_recall": min(r["pairwise_recall"] for r in ok),
            "worst_f1": min(r["pairwise_f1"] for r in ok), "mean_f1": float(np.mean([r["pairwise_f1"] for r in ok])),
            "worst_f05": min(r["pairwise_f05"] for r in ok),
            "worst_bcubed_f1": min(r["bcubed_f1"] for r in ok), "max_noise": max(r["noise"] for r in ok)}


# --------------------------------------------------------------------------- synthetic identities


@dataclass(frozen=True)
class Generator:
    """Synthetic dlib-like descriptors: a face is ``centre + scale * noise``. ``mean``:
    ``(128,)`` centre of the centres; ``basis``: orthonormal ``(128, 128)``; ``centre_sd``:
    per-axis sd of centres ``(128,)`` in that basis (spectrum ``k^-alpha``); ``sigma``: noise
    scale (Euclidean); ``tau``: sd of the log of each face's noise scale."""

    mean: np.ndarray
    basis: np.ndarray
    centre_sd: np.ndarray
    sigma: float
    tau: float
    alpha: float

    def centres(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``(k, 128)`` identity centres."""
        return self.mean + (rng.standard_normal((k, 128)) * self.centre_sd) @ self.basis.T

    def faces(self, centres: np.ndarray, who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(len(who), 128)`` faces of identities ``who`` (indices into ``centres``)."""
        n = len(who)
        scale = self.sigma * np.exp(self.tau * rng.standard_normal(n) - self.tau**2)
        noise = rng.standard_normal((n, 128)) / math.sqrt(2 * 128)
        return centres[who] + noise * scale[:, None]


def identity_sizes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Zipf-distributed identity sizes summing to ``n`` (largest ``max(5, n * LARGEST_IDENTITY)``)."""
    cap = max(5, int(n * LARGEST_IDENTITY))
    sizes: list[int] = []
    total = 0
    while total < n:
        s = min(int(rng.zipf(ZIPF_EXPONENT)), cap, n - total)
        sizes.append(s)
        total += s
    return np.array(sizes, dtype=np.int64)


def synthetic_set(gen: Generator, n: int, seed: int) -> dict[str, Any]:
    """``n`` faces of Zipf-sized identities in simulated photos, plus 10% more faces (in new
    photos) for the ID stability run: ``x`` ``(n, 128)``, ``truth``, ``photo``, ``x_more``,
    ``truth_more``, ``photo_more``, ``sizes``."""
    rng = np.random.default_rng(seed)
    sizes = identity_sizes(n, rng)
    k = len(sizes)
    extra = max(1, round(0.1 * n))
    new_people = identity_sizes(max(1, round(NEW_PEOPLE_SHARE * extra)), rng)
    centres = gen.centres(k + len(new_people), rng)
    who = np.repeat(np.arange(k), sizes)
    # New faces of people already there, chosen in proportion to their faces, then new people.
    more = np.concatenate([rng.choice(who, size=extra - int(new_people.sum())),
                           np.repeat(k + np.arange(len(new_people)), new_people)])
    x = gen.faces(centres, who, rng)
    x_more = gen.faces(centres, more, rng)
    photo = simulated_photos(who, rng)
    photo_more = simulated_photos(more, rng, start=int(photo.max()) + 1)
    return {"x": x, "truth": who, "photo": photo, "x_more": x_more, "truth_more": more,
            "photo_more": photo_more, "sizes": sizes}


def pair_distances(x: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances of all same-identity and all different-identity pairs of ``x``."""
    d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2), 0.0))
    iu = np.triu_indices(len(x), 1)
    same = truth[iu[0]] == truth[iu[1]]
    return d[iu][same], d[iu][~same]


def pair_sample(x: np.ndarray, truth: np.ndarray, rng: np.random.Generator, m: int = 20000
                ) -> tuple[np.ndarray, np.ndarray]:
    """Distances of ``m`` random same-identity pairs and ``m`` random different-identity pairs."""
    order = np.argsort(truth, kind="stable")
    sizes = np.bincount(truth)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    multi = np.flatnonzero(sizes >= 2)
    weights = sizes[multi] * (sizes[multi] - 1)  # pairs are drawn uniformly among all pairs
    ids = rng.choice(multi, size=m, p=weights / weights.sum())
    a = rng.integers(0, sizes[ids])
    b = (a + rng.integers(1, sizes[ids])) % sizes[ids]
    i, j = order[starts[ids] + a], order[starts[ids] + b]
    within = np.linalg.norm(x[i] - x[j], axis=1)
    p, q = rng.integers(0, len(x), size=(2, 3 * m))
    diff = truth[p] != truth[q]
    p, q = p[diff][:m], q[diff][:m]
    between = np.linalg.norm(x[p] - x[q], axis=1)
    return within, between


def fit_generator(x: np.ndarray, truth: np.ndarray, within: np.ndarray, between: np.ndarray) -> Generator:
    """Fit ``sigma``, ``tau`` to the mean and sd of the real same-person distances ``within``
    and the centres' spectrum to those of the different-people distances ``between``;
    centres around the mean of the real identities' mean descriptors ``x`` ``(n, 128)``."""
    rng = np.random.default_rng(SEED)
    mean = np.array([x[truth == t].mean(axis=0) for t in np.unique(truth)]).mean(axis=0)
    basis, _ = np.linalg.qr(rng.standard_normal((128, 128)))
    target_w = (within.mean(), within.std())
    target_b = (between.mean(), between.std())

    def within_d(sigma: float, tau: float, r: np.random.Generator) -> np.ndarray:
        g = Generator(mean, basis, np.zeros(128), sigma, tau, 0.0)
        f = g.faces(np.zeros((2000, 128)), np.repeat(np.arange(2000), 2), r)
        return np.linalg.norm(f[0::2] - f[1::2], axis=1)

    # tau sets the coefficient of variation of within-person distances, sigma the mean.
    taus = np.linspace(0.0, 0.8, 81)
    cv = [np.std(d) / np.mean(d) for d in (within_d(1.0, t, np.random.default_rng(SEED)) for t in taus)]
    tau = float(taus[int(np.argmin(np.abs(np.array(cv) - target_w[1] / target_w[0])))])
    sigma = float(target_w[0] / np.mean(within_d(1.0, tau, np.random.default_rng(SEED))))

    def between_d(alpha: float, total: float, r: np.random.Generator) -> np.ndarray:
        sd = np.arange(1, 129, dtype=np.float64) ** (-alpha / 2)
        sd *= math.sqrt(total / (sd**2).sum())
        g = Generator(mean, basis, sd, sigma, tau, alpha)
        f = g.faces(g.centres(4000, r), np.arange(4000), r)
        return np.linalg.norm(f[0::2] - f[1::2], axis=1)

    best = (math.inf, 0.0, 0.0)
    for alpha in np.linspace(0.0, 3.0, 31):
        # The mean of between-person distances grows with the centres' total variance.
        lo, hi = 0.0, 4.0
        for _ in range(20):
            mid = (lo + hi) / 2
            if np.mean(between_d(alpha, mid, np.random.default_rng(SEED))) < target_b[0]:
                lo = mid
            else:
                hi = mid
        err = abs(np.std(between_d(alpha, (lo + hi) / 2, np.random.default_rng(SEED))) - target_b[1])
        if err < best[0]:
            best = (err, float(alpha), (lo + hi) / 2)
    _, alpha, total = best
    sd = np.arange(1, 129, dtype=np.float64) ** (-alpha / 2)
    sd *= math.sqrt(total / (sd**2).sum())
    return Generator(mean, basis, sd, sigma, tau, alpha)


def run_ids(c: Candidate, x: np.ndarray, photo: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """One re-clustering run's computation: cluster, then ids stable against ``previous``
    (``(n,)``, -1 for new faces; ``None`` for a first run). The original keeps raw labels."""
    labels = c.labels(x, photo)
    if c.algorithm == ORIGINAL:
        return labels
    if previous is None:
        previous = np.full(len(x), NOISE, dtype=np.int64)
    ids, _ = stable_ids(labels, previous, pinned={}, rejected={}, next_id=int(previous.max(initial=-1)) + 1)
    return ids


def estimate_seconds(history: list[tuple[int, float]], n: int) -> float | None:
    """Seconds at ``n`` from the largest smaller size measured, growing as n^2 (or faster,
    when two sizes show it)."""
    smaller = [(m, s) for m, s in history if m < n]
    if not smaller:
        return None
    m, s = max(smaller)
    exponent = 2.0
    if len(smaller) >= 2:
        m0, s0 = sorted(smaller)[-2]
        if s0 > 0.05:  # below that, start-up costs hide the growth
            exponent = max(2.0, math.log(s / s0) / math.log(m / m0))
    return s * (n / m) ** exponent


def scale_run(c: Candidate, data: dict[str, Any], limit: float, estimate: float | None) -> dict[str, Any]:
    """Re-cluster a synthetic set in a child (stopped after ``limit`` s), then the set plus
    its 10% more faces with the first run's ids (ID stability, stopped after
    ``ESTIMATE_FACTOR * limit`` s)."""
    x, photo = data["x"], data["photo"]
    if c.algorithm == "agglomerative" and len(x) > max_agglomerative_faces:
        return {"failure": f"refused: all pairwise distances (O(n^2) memory) above {max_agglomerative_faces} faces"}
    if estimate is not None and estimate > ESTIMATE_FACTOR * limit:
        return {"failure": f"not run: ~{estimate:.0f} s estimated from the smaller sizes (n^2 or faster)"}
    first = in_child(lambda: run_ids(c, x, photo, None), limit)
    if first.value is None:
        return {"failure": first.failure + (f" (~{estimate:.0f} s estimated)" if estimate else "")}
    out: dict[str, Any] = scores(data["truth"], first.value) | {"seconds": first.seconds, "extra_mb": first.extra_mb}
    full_x = np.vstack([x, data["x_more"]])
    full_photo = np.concatenate([photo, data["photo_more"]])
    previous = np.concatenate([first.value, np.full(len(data["x_more"]), NOISE, dtype=np.int64)])
    second = in_child(lambda: run_ids(c, full_x, full_photo, previous), ESTIMATE_FACTOR * limit)
    if second.value is None:
        out["kept_failure"] = second.failure
    else:
        out["kept"] = kept(first.value, second.value[:len(x)])
        out["seconds_grown"] = second.seconds
    return out


# --------------------------------------------------------------------------- selfie search


#: The clustering the search simulation uses, and the cuts it tries (module globals, so
#: forked workers inherit them).
_SEARCH: dict[str, Any] = {}


def search_cut_grid(shipped: SearchCuts) -> list[SearchCuts]:
    """Every (face, person) cut pair of the curve, plus the shipped one."""
    cuts = [SearchCuts(f, p) for f in FACE_CUTS for p in PERSON_CUTS]
    return cuts if shipped in cuts else [*cuts, shipped]


def draw_selfies(s: EvalSet) -> tuple[np.random.Generator, np.ndarray]:
    """The selfies of set ``s``: ``SELFIE_SHARE`` of each identity's faces (at least 1) of
    identities with 2 or more, seeded by the set's role and title (the same draw in every
    run and in every simulation); returns the generator, to draw on from, and the ``bool``
    ``(n,)`` mask."""
    rng = np.random.default_rng([SEED, zlib.crc32(f"{s.role}/{s.title}".encode())])
    selfie = np.zeros(len(s.x), dtype=bool)
    for t in np.unique(s.truth):
        idx = np.flatnonzero(s.truth == t)
        if len(idx) >= 2:
            selfie[rng.choice(idx, size=max(1, round(SELFIE_SHARE * len(idx))), replace=False)] = True
    return rng, selfie


def simulate_search(s: EvalSet) -> dict[str, Any]:
    """The selfie-search simulation on one set (module docstring): per cut pair, mean recall,
    mean precision and share of ``wrong`` searches (present), stranger rejection (absent);
    the same for the baseline. Uses ``_SEARCH["clustering"]`` (a ``Candidate``),
    ``_SEARCH["cuts"]`` and ``_SEARCH["absent_queries"]``."""
    clustering: Candidate = _SEARCH["clustering"]
    cuts: list[SearchCuts] = _SEARCH["cuts"]
    rng, selfie = draw_selfies(s)
    identities = np.unique(s.truth)
    event = ~selfie
    xe, te, pe = s.x[event], s.truth[event], s.photo[event]
    people = clustering.labels(xe, pe)
    recall = [[] for _ in cuts] + [[]]  # the last one: the baseline
    precision = [[] for _ in cuts] + [[]]
    wrong = [[] for _ in cuts] + [[]]

    def present(got: np.ndarray, mine: np.ndarray, k: int) -> None:
        hit = int(np.isin(got, mine).sum())
        recall[k].append(hit / len(mine))
        wrong[k].append(hit < len(got))
        if len(got):
            precision[k].append(hit / len(got))

    # Per-event cuts, as Kanta ships them: the shipped cuts lowered by as much as the event's onset
    # of different people (``event_onset``) is below the shipped clustering eps; without the
    # ratio test, with each ratio of ``RATIOS`` (the shipped one among them) where the cuts
    # were lowered (as shipped), with the shipped ratio in every event, and as shipped on the
    # people known exactly (what clustering costs).
    shipped: SearchCuts = _SEARCH["shipped"]
    ratio: float = _SEARCH["ratio"]
    ratios = sorted({*RATIOS, ratio})
    variants = ["cuts only", *(f"ratio {r:.2f}" for r in ratios), f"{ratio:.2f} always", "exact people"]
    event_rows = {v: {"recall": [], "precision": [], "wrong": [], "rejected": []} for v in variants}

    def event_search_cuts(x: np.ndarray, photo: np.ndarray) -> dict[str, SearchCuts]:
        c = event_cuts(x, photo, eps=SHIPPED_EPS, face=shipped.face, person=shipped.person)
        # As Kanta ships it (kanta.search.service.search_cuts): the ratio test where the
        # event's cuts were lowered.
        out = {"cuts only": SearchCuts(c.face, c.person)}
        out.update({f"ratio {r:.2f}": SearchCuts(c.face, c.person, r if c.lowered else None,
                                                  shipped.person if c.lowered else None) for r in ratios})
        out[f"{ratio:.2f} always"] = SearchCuts(c.face, c.person, ratio, shipped.person)
        out["exact people"] = out[f"ratio {ratio:.2f}"]
        return out

    own_cuts = event_search_cuts(xe, pe)
    for q in np.flatnonzero(selfie):
        d = np.linalg.norm(xe - s.x[q], axis=1)
        mine = np.unique(pe[te == s.truth[q]])
        for k, c in enumerate(cuts):
            present(np.unique(pe[select_faces(d, people, c).faces]), mine, k)
        present(np.unique(pe[d <= BASELINE_SEARCH]), mine, len(cuts))
        for v, c in own_cuts.items():
            got = np.unique(pe[select_faces(d, te if v == "exact people" else people, c).faces])
            hit = int(np.isin(got, mine).sum())
            event_rows[v]["recall"].append(hit / len(mine))
            event_rows[v]["wrong"].append(hit < len(got))
            if len(got):
                event_rows[v]["precision"].append(hit / len(got))
    rejected = [[] for _ in cuts] + [[]]
    for t in identities:
        others = te != t
        xa, pa = xe[others], pe[others]
        if not len(xa):
            continue
        people_a = clustering.labels(xa, pa)
        idx = np.flatnonzero(s.truth == t)
        queries = rng.choice(idx, size=min(len(idx), _SEARCH["absent_queries"]), replace=False)
        cuts_a = event_search_cuts(xa, pa)
        for q in queries:
            d = np.linalg.norm(xa - s.x[q], axis=1)
            for k, c in enumerate(cuts):
                rejected[k].append(len(select_faces(d, people_a, c).faces) == 0)
            rejected[len(cuts)].append(not (d <= BASELINE_SEARCH).any())
            for v, c in cuts_a.items():
                got = select_faces(d, te[others] if v == "exact people" else people_a, c).faces
                event_rows[v]["rejected"].append(len(got) == 0)

    def mean(v: list[Any]) -> float | None:
        return float(np.mean(v)) if v else None

    rows = [{"recall": mean(recall[k]), "precision": mean(precision[k]), "wrong": mean(wrong[k]),
             "rejection": mean(rejected[k])} for k in range(len(cuts) + 1)]
    per_variant = {v: {"recall": mean(e["recall"]), "precision": mean(e["precision"]), "wrong": mean(e["wrong"]),
                       "rejection": mean(e["rejected"])} for v, e in event_rows.items()}
    base = own_cuts["cuts only"]
    return {"event_faces": int(event.sum()), "people": len(identities), "selfies": int(selfie.sum()),
            "absent_searches": len(rejected[0]), "cuts": rows[:-1], "baseline": rows[-1],
            "event_cuts": {"face": base.face, "person": base.person, **per_variant[f"ratio {ratio:.2f}"]},
            "event_variants": per_variant}


#: Per-event search cuts (``simulate_search``): Kanta's ``kanta.clusters.cuts.event_cuts`` from
#: the shipped cuts and this clustering eps.
SHIPPED_EPS = 0.58
#: Ratios of the ratio test tried (``kanta.search.matching``); the shipped one is added.
RATIOS = (0.78, 0.80, 0.82, 0.83, 0.84, 0.85, 0.88)
#: Most strangers' selfies a set may match, for the ratio chosen on the tuning sets.
TARGET_STRANGERS = 0.02


def run_search(sets: list[EvalSet], clustering: Candidate, cuts: list[SearchCuts], absent_queries: int,
               jobs: int, shipped: SearchCuts | None = None) -> list[dict[str, Any]]:
    """``simulate_search`` on every set, on ``jobs`` processes; ``shipped``: the cuts the
    per-event rows start from (default: the last of ``cuts``), its ``ratio`` the shipped
    ratio test (default ``KANTA_SEARCH_RATIO``'s)."""
    from kanta.config import Settings

    shipped = shipped or cuts[-1]
    _SEARCH.update(clustering=clustering, cuts=cuts, absent_queries=absent_queries, shipped=shipped,
                   ratio=shipped.ratio if shipped.ratio is not None else Settings().search_ratio)
    try:
        return parallel_map(simulate_search, sets, jobs)
    finally:
        _SEARCH.clear()


#: Tight cuts tried for forget my face: a face is erased, and a later face dropped, only
#: within this Euclidean distance of the selfie (or, for later faces, of a face it erased).
ERASE_CUTS = (0.30, 0.33, 0.36, 0.39, 0.42)
#: Most of other guests' faces one forget may remove, and of their later faces the
#: do-not-index list may drop (mean over the guests' forgets of a set).
TARGET_OTHERS_ERASED = 0.01
_FORGET: dict[str, Any] = {}


def _erasure(xe: np.ndarray, query: np.ndarray, erased: np.ndarray, listing_cut: float, later: np.ndarray
             ) -> np.ndarray:
    """``bool`` over ``later`` faces: within ``listing_cut`` of the query or of an erased face
    (the do-not-index list is the selfie and the erased faces' descriptors)."""
    listing = np.vstack([query[None, :], xe[erased]])
    if not len(later):
        return np.zeros(0, dtype=bool)
    return (np.linalg.norm(later[:, None, :] - listing[None, :, :], axis=2) <= listing_cut).any(axis=1)


def simulate_forget(s: EvalSet) -> dict[str, Any]:
    """Forget my face on one set. The selfies and the event are drawn as ``simulate_search``
    draws them (same seed); the event is clustered with ``_FORGET["clustering"]``. For each
    selfie, the faces a forget erases and, of the held-out faces (the other selfies: photos
    uploaded later), those the do-not-index list then drops; as shares of other guests' faces
    and of the guest's own. Rules: ``today`` (``kanta.privacy.service`` before: the people the
    search matches with ``_FORGET["cuts"]``, their faces, and any face within the face cut of
    the selfie or of a face erased; later faces dropped within the face cut of any of them)
    and for each ``t`` of ``ERASE_CUTS``: ``tight t`` (faces within ``t`` of the selfie; later
    faces within ``t`` of the selfie or of a face erased) and ``hop t`` (as tight, plus the
    faces of the people the search matches that are within ``t`` of a face tight erased)."""
    clustering: Candidate = _FORGET["clustering"]
    shipped: SearchCuts = _FORGET["cuts"]
    per_event: Candidate = _FORGET["per_event"]
    _, selfie = draw_selfies(s)
    event = ~selfie
    xe, te, pe = s.x[event], s.truth[event], s.photo[event]
    people = clustering.labels(xe, pe)
    people_ev = per_event.labels(xe, pe)
    ev = event_cuts(xe, pe, eps=SHIPPED_EPS, face=shipped.face, person=shipped.person)
    cuts_ev = SearchCuts(ev.face, ev.person, _FORGET["ratio"] if ev.lowered else None,
                         shipped.person if ev.lowered else None)
    held = np.flatnonzero(selfie)
    rules = ["today", "per-event"] + [f"{kind} {c:.2f}" for c in ERASE_CUTS for kind in ("tight", "hop")]
    acc: dict[str, dict[str, list[float]]] = {r: {"others_erased": [], "own_erased": [], "others_dropped": [],
                                                  "own_dropped": []} for r in rules}
    for q in held:
        d = np.linalg.norm(xe - s.x[q], axis=1)
        mine, theirs = te == s.truth[q], te != s.truth[q]
        later = held[held != q]
        later_mine = s.truth[later] == s.truth[q]
        matched = select_faces(d, people, shipped).faces
        listing = np.vstack([s.x[q][None, :], xe[matched]])
        near = (np.linalg.norm(xe[:, None, :] - listing[None, :, :], axis=2) <= shipped.face).any(axis=1)
        erased_by = {"today": (np.isin(np.arange(len(xe)), matched) | near, shipped.face)}
        matched_ev = select_faces(d, people_ev, cuts_ev).faces
        listing_ev = np.vstack([s.x[q][None, :], xe[matched_ev]])
        near_ev = (np.linalg.norm(xe[:, None, :] - listing_ev[None, :, :], axis=2) <= cuts_ev.face).any(axis=1)
        erased_by["per-event"] = (np.isin(np.arange(len(xe)), matched_ev) | near_ev, cuts_ev.face)
        in_matched = np.isin(np.arange(len(xe)), matched)
        for c in ERASE_CUTS:
            tight = d <= c
            erased_by[f"tight {c:.2f}"] = (tight, c)
            # One hop: faces of the matched people within c of a face the selfie erased.
            hop = tight.copy()
            if tight.any() and in_matched.any():
                cand = np.flatnonzero(in_matched & ~tight)
                hop[cand] = (np.linalg.norm(xe[cand][:, None, :] - xe[tight][None, :, :], axis=2) <= c).any(axis=1)
                hop |= tight
            erased_by[f"hop {c:.2f}"] = (hop, c)
        for rule, (erased, cut) in erased_by.items():
            dropped = _erasure(xe, s.x[q], np.flatnonzero(erased), cut, s.x[later])
            a = acc[rule]
            a["others_erased"].append(float(erased[theirs].mean()) if theirs.any() else 0.0)
            a["own_erased"].append(float(erased[mine].mean()) if mine.any() else math.nan)
            if (~later_mine).any():
                a["others_dropped"].append(float(dropped[~later_mine].mean()))
            if later_mine.any():
                a["own_dropped"].append(float(dropped[later_mine].mean()))
    out: dict[str, Any] = {"forgets": len(held)}
    for rule, a in acc.items():
        row = {}
        for k, v in a.items():
            v = [x for x in v if not math.isnan(x)]
            row[k] = float(np.mean(v)) if v else None
            row[k + "_max"] = float(np.max(v)) if v else None
        out[rule] = row
    return out


def run_forget(sets: list[EvalSet], clustering: Candidate, cuts: SearchCuts, per_event: Candidate, jobs: int
               ) -> list[dict[str, Any]]:
    """``simulate_forget`` on every set, on ``jobs`` processes; ``per_event``: the clustering
    of the ``per-event`` rule."""
    from kanta.config import Settings

    _FORGET.update(clustering=clustering, cuts=cuts, per_event=per_event, ratio=Settings().search_ratio)
    try:
        return parallel_map(simulate_forget, sets, jobs)
    finally:
        _FORGET.clear()


#: The figure of strangers matched against photo recall (``plot_tradeoff``), beside bench/README.md.
FIGURE = REPO_ROOT / "bench" / "recognition-tradeoff.png"


def plot_tradeoff(sets: list[EvalSet], results: list[dict[str, Any]], variants: list[str], shipped: str,
                  path: Path) -> Path:
    """Per population (Western: crops, photos, tests, mixed, few; Asian) and per role
    (tuning, reporting), the worst strangers' rate against the worst photo recall over the
    population's sets, for each search variant of ``simulate_search``'s per-event rows in
    order (``variants``: the cuts only, then the ratio test's ratios), the ``shipped`` one
    marked; a PNG at ``path`` (matplotlib, Agg). Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for population, colour in (("Western", "tab:blue"), ("Asian", "tab:red")):
        for role, style in ((TUNING, ":"), (REPORTING, "-")):
            rows = [r["event_variants"] for st, r in zip(sets, results)
                    if st.role == role and (st.kind == "asian") == (population == "Asian")]
            points = []
            for v in variants:
                strangers = [1 - row[v]["rejection"] for row in rows if row[v]["rejection"] is not None]
                recall = [row[v]["recall"] for row in rows if row[v]["recall"] is not None]
                points.append((100 * max(strangers), min(recall)))
            xs, ys = zip(*points)
            ax.plot(xs, ys, style, marker="o", color=colour, label=f"{population}, {role} sets (worst)")
            k = variants.index(shipped)
            ax.plot([xs[k]], [ys[k]], marker="*", markersize=16, color=colour, linestyle="none")
            ax.annotate("cuts only", (xs[0], ys[0]), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.axvline(100 * TARGET_STRANGERS, color="grey", linewidth=0.8)
    ax.set_xlabel("strangers' selfies matched, % (worst set)")
    ax.set_ylabel("present guests' photo recall (worst set)")
    ax.set_title(f"Selfie search per population: the event's cuts, then the ratio test at "
                 f"{', '.join(v.split()[1] for v in variants[1:])}\n(star: shipped {shipped}; "
                 f"grey line: {TARGET_STRANGERS:.0%} target)", fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def worst_case(results: list[dict[str, Any]], k: int | None) -> dict[str, float]:
    """Worst recall and rejection (and mean recall) over sets for cut pair ``k`` (``None``:
    the baseline); sets without searches of a kind are skipped."""
    rows = [r["baseline"] if k is None else r["cuts"][k] for r in results]
    rec = [r["recall"] for r in rows if r["recall"] is not None]
    rej = [r["rejection"] for r in rows if r["rejection"] is not None]
    prec = [r["precision"] for r in rows if r["precision"] is not None]
    return {"recall": min(rec) if rec else math.nan, "mean_recall": float(np.mean(rec)) if rec else math.nan,
            "rejection": min(rej) if rej else math.nan, "precision": min(prec) if prec else math.nan}


def calibrate(results: list[dict[str, Any]], cuts: list[SearchCuts], allowed: list[bool] | None = None
              ) -> tuple[int | None, list[dict[str, float]]]:
    """The cut pair (index into ``cuts``) with the highest worst-case recall over ``results``
    among those whose worst-case stranger rejection reaches ``TUNE_REJECTION``; ties (3
    decimals) to the better worst rejection, then the better mean recall. Pairs still tied
    form a plateau the data cannot tell apart: the one nearest its centre is taken (the
    median face cut and the median person cut of the tied pairs, lower first), the most margin
    both ways, rather than an edge. Only pairs with ``allowed[k]`` (the privacy veto) are
    considered. ``None`` if no pair reaches the rejection."""
    table = [worst_case(results, k) for k in range(len(cuts))]
    ok = [k for k in range(len(cuts)) if table[k]["rejection"] >= TUNE_REJECTION and (allowed is None or allowed[k])]
    if not ok:
        return None, table

    def key(k: int) -> tuple[float, float, float]:
        return (round(table[k]["recall"], 3), round(table[k]["rejection"], 3), round(table[k]["mean_recall"], 3))

    top = key(max(ok, key=key))
    tied = [k for k in ok if key(k) == top]
    # Positions on the grid, in steps (the face cuts are not evenly spaced).
    grid_faces, grid_persons = sorted({c.face for c in cuts}), sorted({c.person for c in cuts})
    pos = {k: (grid_faces.index(cuts[k].face), grid_persons.index(cuts[k].person)) for k in tied}
    faces = sorted({p[0] for p in pos.values()})
    persons = sorted({p[1] for p in pos.values()})
    centre = (faces[(len(faces) - 1) // 2], persons[(len(persons) - 1) // 2])
    best = min(tied, key=lambda k: (abs(pos[k][0] - centre[0]) + abs(pos[k][1] - centre[1]), pos[k]))
    return best, table


# --------------------------------------------------------------------------- database writes


def database_writes(sizes: list[int], max_row_updates: int) -> dict[int, dict[str, Any]]:
    """Seconds of n single-row UPDATEs (one transaction; the original's writes) and of one
    set-based ``UPDATE ... FROM unnest()`` (Kanta's) of ``faces(id, cluster_id)``, per size,
    in an embedded PostgreSQL (``--db-writes``). Above ``max_row_updates`` rows the single-row
    UPDATEs are timed for that many and extrapolated linearly."""
    import warnings

    import psycopg

    from kanta.local.services import LocalPostgres

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # pgserver's platformdirs, harmless
    out: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kanta-bench-pg-") as tmp:
        pg = LocalPostgres(Path(tmp) / "pgdata").start()
        try:
            with psycopg.connect(pg.dsn("bench")) as conn:
                for n in sizes:
                    conn.execute("DROP TABLE IF EXISTS faces")
                    conn.execute("CREATE TABLE faces (id bigint PRIMARY KEY, cluster_id int)")
                    conn.execute("INSERT INTO faces SELECT g, -1 FROM generate_series(1, %s) g", (n,))
                    conn.execute("ANALYZE faces")
                    conn.commit()
                    ids = list(range(1, n + 1))
                    values = [i % 997 for i in ids]
                    rows = min(n, max_row_updates)
                    started = time.perf_counter()
                    for i in range(rows):
                        conn.execute("UPDATE faces SET cluster_id = %s WHERE id = %s", (values[i], ids[i]))
                    conn.commit()
                    per_face = (time.perf_counter() - started) * n / rows
                    values = [v + 1 for v in values]
                    started = time.perf_counter()
                    conn.execute(
                        """UPDATE faces f SET cluster_id = v.cluster_id
                           FROM unnest(%s::bigint[], %s::integer[]) AS v(id, cluster_id)
                           WHERE f.id = v.id AND f.cluster_id IS DISTINCT FROM v.cluster_id""",
                        (ids, values),
                    )
                    conn.commit()
                    out[n] = {"per_face_s": per_face, "per_face_rows_timed": rows,
                              "set_based_s": time.perf_counter() - started}
        finally:
            pg.stop()
    return out


# --------------------------------------------------------------------------- printing


def describe(d: np.ndarray) -> str:
    """One line: count, mean, sd and percentiles of distances ``d``."""
    p = np.percentile(d, [1, 5, 50, 95, 99])
    return (f"n={len(d):>6}  mean {d.mean():.3f}  sd {d.std():.3f}  p1 {p[0]:.3f}  p5 {p[1]:.3f}  "
            f"p50 {p[2]:.3f}  p95 {p[3]:.3f}  p99 {p[4]:.3f}")


def _f(v: float | None, width: int = 5, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return f"{'-':>{width}}"
    return f"{v:>{width}.{digits}f}"


def _ratio(a: float, b: float) -> str:
    if b == 0:
        return "  inf" if a > 0 else "    -"
    return f"{a / b:>5.2f}"


def machine_line() -> str:
    import dlib
    import scipy
    import sklearn

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}, Python {platform.python_version()}; "
            f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
            f"dlib {dlib.__version__}")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Candidate, SearchCuts)):
        return o.__dict__ if isinstance(o, SearchCuts) else {"algorithm": o.algorithm, **o.params, "groups": o.groups}
    raise TypeError(type(o))


CLUSTER_HEADER = (f"  {'algorithm':<17} {'parameters':<44} {'clust':>5} {'pair P':>6} {'R':>5} {'F1':>5}  "
                  f"{'B3 P':>5} {'R':>5} {'F1':>5}  {'noise':>5}  {'F1/orig':>7}")


def cluster_row(name: str, c: Candidate, r: dict[str, Any], original: dict[str, Any] | None) -> str:
    if "failure" in r:
        return f"  {name:<17} {c.label:<44} {r['failure']}"
    ratio = _ratio(r["pairwise_f1"], original["pairwise_f1"]) if original and "failure" not in original else "    -"
    return (f"  {name:<17} {c.label:<44} {r['clusters']:>5} {r['pairwise_precision']:>6.3f} "
            f"{r['pairwise_recall']:>5.3f} {r['pairwise_f1']:>5.3f}  {r['bcubed_precision']:.3f} "
            f"{r['bcubed_recall']:.3f} {r['bcubed_f1']:.3f}  {r['noise']:>5.3f}  {ratio:>7}")


def photos_line(s: EvalSet) -> str:
    sizes = np.bincount(np.unique(s.photo, return_inverse=True)[1])
    return f"{len(sizes)} photos ({len(s.x) / len(sizes):.2f} faces a photo, at most {sizes.max()})"


# --------------------------------------------------------------------------- criteria


def clustering_criteria(default: str, sets: list[EvalSet], results: dict[str, list[dict[str, Any]]],
                        role: str) -> list[tuple[str, bool]]:
    """The issue's clustering criteria for the default on the grouped sets of ``role``:
    pairwise precision >= 0.98 on every set, F1 >= 0.90 on the largest crops set, F1 >= the
    original's on every set."""
    grouped = [i for i, s in enumerate(sets) if s.role == role and not s.solo]
    d, o = results[default], results[ORIGINAL]
    out = []
    worst = min(grouped, key=lambda i: d[i]["pairwise_precision"])
    out.append(((f"pairwise precision >= {TARGET_PRECISION} on every {role} set: lowest "
                f"{d[worst]['pairwise_precision']:.3f} ({sets[worst].title})"),
                d[worst]["pairwise_precision"] >= TARGET_PRECISION))
    crops = max((i for i in grouped if sets[i].kind == "crops"), key=lambda i: len(sets[i].x))
    out.append(((f"pairwise F1 >= {TARGET_CROPS_F1} on the crops set ({sets[crops].title}, {sets[crops].people} "
                f"people): {d[crops]['pairwise_f1']:.3f}"), d[crops]["pairwise_f1"] >= TARGET_CROPS_F1))
    below = [f"{sets[i].title} {d[i]['pairwise_f1']:.3f} < {o[i]['pairwise_f1']:.3f}" for i in grouped
             if d[i]["pairwise_f1"] < o[i]["pairwise_f1"] - 1e-12]
    low = min(grouped, key=lambda i: d[i]["pairwise_f1"] - o[i]["pairwise_f1"])
    out.append((f"pairwise F1 >= the original's on every {role} set: "
                + ("; ".join(below) if below else f"smallest margin {d[low]['pairwise_f1'] - o[low]['pairwise_f1']:+.3f} "
                                                  f"({sets[low].title})"), not below))
    return out


def search_criteria(results: list[dict[str, Any]], sets: list[EvalSet], k: int | None, role: str
                    ) -> list[tuple[str, bool]]:
    """The issue's search criteria for cut pair ``k`` (``None``: baseline) on the sets of
    ``role``: worst stranger rejection >= 98%; recall >= 90% on the photos set and >= 80% on
    every crops set."""
    pick = [i for i, s in enumerate(sets) if s.role == role]
    row = [results[i]["baseline"] if k is None else results[i]["cuts"][k] for i in range(len(results))]
    rej = [(row[i]["rejection"], sets[i].title) for i in pick if row[i]["rejection"] is not None]
    worst_rej = min(rej)
    photos = [(row[i]["recall"], sets[i].title) for i in pick if sets[i].kind == "photos"]
    crops = [(row[i]["recall"], sets[i].title) for i in pick if sets[i].kind == "crops"]
    return [
        ((f"stranger rejection >= {TARGET_REJECTION:.0%} on every {role} set: lowest {worst_rej[0]:.3f} "
         f"({worst_rej[1]})"), worst_rej[0] >= TARGET_REJECTION),
        (f"recall >= {TARGET_PHOTOS_RECALL:.0%} on the photos set: {min(photos)[0]:.3f}",
         min(photos)[0] >= TARGET_PHOTOS_RECALL),
        (f"recall >= {TARGET_CROPS_RECALL:.0%} on the crops set" + ("s" if len(crops) > 1 else "")
         + f": lowest {min(crops)[0]:.3f} ({min(crops)[1]})", min(crops)[0] >= TARGET_CROPS_RECALL),
    ]


def scale_criteria(runs: dict[int, dict[str, Any]], sizes: list[int]) -> list[tuple[str, bool]]:
    """The issue's scale criteria for one setting's synthetic runs (``runs[n]``): 100k faces
    in < 60 s on one core and < ``MEMORY_BUDGET_MB``; >= 99% of clustered faces keep their id."""
    lines = []
    r = runs.get(TARGET_SIZE)
    if r and "failure" not in r:
        lines.append((f"re-clusters {TARGET_SIZE} faces in < {TARGET_SECONDS:.0f} s on one core: {r['seconds']:.1f} s",
                      r["seconds"] < TARGET_SECONDS))
        lines.append((f"... within {MEMORY_BUDGET_MB:.0f} MB of extra peak memory: {r['extra_mb']:.0f} MB",
                      r["extra_mb"] < MEMORY_BUDGET_MB))
    else:
        lines.append((f"re-clusters {TARGET_SIZE} faces in < {TARGET_SECONDS:.0f} s: "
                      + (r["failure"] if r else "not measured (size not run)"), False))
    for n in sizes:
        k = runs[n].get("kept")
        lines.append((f"{n} synthetic faces: >= {TARGET_KEPT:.0%} of old faces that had a person keep its id after "
                      f"+10% faces: " + (f"{k['kept_clustered']:.4f} (all old faces: {k['kept_all']:.4f})" if k
                                         else "not measured"), bool(k) and k["kept_clustered"] >= TARGET_KEPT))
    return lines


def config_candidate(settings: Any) -> Candidate:
    """The clustering ``kanta.config.Settings`` ships, as a ``Candidate`` (photo ids are
    passed to graph_average, as the re-clustering service does)."""
    return candidate(settings.cluster_algorithm, True, eps=settings.cluster_eps, cap=settings.cluster_cap,
                     min_samples=settings.cluster_min_samples)


def _print_criteria(lines: list[tuple[str, bool]], indent: str = "  ") -> None:
    for line, ok in lines:
        print(f"{indent}{'PASS' if ok else 'FAIL'}  {line}")


# --------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help=f"the shared faces folder (default {SHARED})")
    parser.add_argument("--sizes", default=None, help="synthetic set sizes, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter: sizes 1000,10000 (time and memory limits checked at 10000, so the default may "
                             "differ), 10 absent searches per identity")
    parser.add_argument("--skip-scale", action="store_true",
                        help="no synthetic scale runs (the default is then chosen without the time limit)")
    parser.add_argument("--limit", type=float, default=TARGET_SECONDS, help="seconds a scale run may take")
    parser.add_argument("--no-cache", action="store_true", help="encode the faces again (and rewrite the cache)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes for encoding, tuning and search (scale runs are always alone)")
    parser.add_argument("--db-writes", action="store_true",
                        help="also time n single-row UPDATEs against one set-based UPDATE in PostgreSQL")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else "1000,10000,100000")).split(",")
             if s.strip()]
    absent_queries = 10 if args.quick else ABSENT_QUERIES
    run_started = time.perf_counter()
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    report: dict[str, Any] = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "started_at": started_at}
    print(f"bench/recognition.py, {started_at}")
    print(f"command: {report['command']}")
    print(machine_line())
    code = git_state()
    changed = code["kanta_uncommitted"]
    print(f"code: commit {code['commit'] or 'unknown'}; uncommitted changes under kanta/: "
          + ((", ".join(changed) or "none") if changed is not None else "unknown"))
    print(f"one core per process (OMP/OPENBLAS/MKL_NUM_THREADS=1), {args.jobs} processes for encoding, tuning and "
          "search, scale runs alone; load average at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    report["machine"] = machine_line()
    report["code"] = code
    from kanta.config import Settings

    settings = Settings()

    # ---- labelled faces
    print()
    t0 = time.perf_counter()
    faces, cache_path, cached = encode_all(args.shared, not args.no_cache, args.jobs)
    seconds = time.perf_counter() - t0
    print(f"LABELLED FACES from {args.shared} and {TESTS_DATA.relative_to(REPO_ROOT)} "
          + (f"(cached descriptors {cache_path.relative_to(REPO_ROOT)}, {seconds:.1f} s)" if cached
             else f"(encoded in {seconds:.0f} s, cached in {cache_path.relative_to(REPO_ROOT)})"))
    crops = faces.source == "crops"
    print(f"  crops: {int(crops.sum())} faces of {len(set(faces.label[crops]))} people; upscaled x{CROP_UPSCALE} "
          f"(Lanczos), {CROP_PAD:.0%} black border; HOG found {int(faces.hog[crops].sum())}/{int(crops.sum())}, "
          f"the ArcFace template box for the other {int((~faces.hog[crops]).sum())}; encode_faces")
    for src in ("photos", "asian", "tests"):
        m = faces.source == src
        print(f"  {src}: {int(m.sum())} faces of {len(set(faces.label[m]))} people from {len(set(faces.file[m]))} "
              f"photos; analyse_image with {analysis_settings_line(settings)}")
    for note in faces.notes:
        print(f"  note: {note}")
    print("  distances (Euclidean) between faces, per source:")
    dist_report = {}
    for src in SOURCES:
        m = faces.source == src
        same, diff = pair_distances(faces.x[m], np.unique(faces.label[m], return_inverse=True)[1])
        print(f"    {src:<7} same person       {describe(same)}")
        print(f"    {'':<7} different people {describe(diff)}")
        print(f"    {'':<7} false-match rate (different-people pairs within) 0.5 / 0.55 / 0.6: {np.mean(diff <= 0.5):.4f}"
              f" / {np.mean(diff <= 0.55):.4f} / {np.mean(diff <= 0.6):.4f}; same-person pairs within: "
              f"{np.mean(same <= 0.5):.3f} / {np.mean(same <= 0.55):.3f} / {np.mean(same <= 0.6):.3f}")
        dist_report[src] = {"same": describe(same), "different": describe(diff)}
    report["faces"] = {"cache": str(cache_path), "cached": cached, "notes": faces.notes, "distances": dist_report,
                       "counts": {src: int((faces.source == src).sum()) for src in SOURCES},
                       "crops_hog_found": int(faces.hog[crops].sum())}

    # ---- identities
    ids = merge_identities(faces)
    print()
    print(f"SAME PERSON IN TWO SOURCES: pairs of identities of different sources whose faces' median distance is "
          f"< {ALIAS_DISTANCE}, merged into one identity in every set")
    for a, b, median in ids.aliases:
        print(f"  {b} = {a}: median distance {median:.3f}")
    if not ids.aliases:
        print("  none")
    if ids.closest:
        print(f"  closest pair left apart: {ids.closest[0]} / {ids.closest[1]}, median {ids.closest[2]:.3f}")
    print("TUNING / REPORTING IDENTITIES: each source's identities sorted, even positions tune, odd ones report "
          "(tests/data: report); merged identities follow their crops member")
    for role in (TUNING, REPORTING):
        names = [n for n in sorted(ids.role) if ids.role[n] == role]
        print(f"  {role:<9} ({len(names)}): " + ", ".join(
            n + (f" (= {', '.join(m for m in ids.members[n][1:])})" if len(ids.members[n]) > 1 else "")
            for n in names))
    report["identities"] = {"aliases": ids.aliases, "closest_apart": ids.closest, "role": ids.role,
                            "members": ids.members}

    # ---- sets
    sets = build_sets(faces, ids)
    grouped = [s for s in sets if not s.solo]
    print()
    print(f"SETS (simulated events; crops in simulated photos of 1-{MAX_FACES_PER_PHOTO} distinct people, 'solo' = "
          f"every crop its own photo; mixed: crops identities subsampled to min({MIXED_MAX}, zipf({MIXED_ZIPF})); "
          f"few: every identity with {FEW_FACES[0]}-{FEW_FACES[1]} faces)")
    for s in grouped:
        print(f"  {s.role:<9} {s.name:<12} {len(s.x):>5} faces, {s.people:>2} people, {photos_line(s)}")
    report["sets"] = [{"role": s.role, "name": s.title, "faces": len(s.x), "people": s.people,
                       "identities": sorted({s.names[t] for t in s.truth.tolist()}),
                       "photos": len(np.unique(s.photo))} for s in sets]

    # ---- parameter choice on the tuning sets
    tuning = [s for s in sets if s.role == TUNING and not s.solo]
    print()
    print(f"TUNING: per algorithm, on the {len(tuning)} grouped tuning sets ({', '.join(s.name for s in tuning)}): "
          f"settings whose worst pairwise precision is >= {TUNE_PRECISION}, by worst F1 (per set the lower of pairwise "
          "and BCubed F1), else by worst pairwise F0.5; "
          "ties (3 decimals) to the better worst precision, the better mean, grid order. Best five shown (full grid "
          "in the JSON)")
    t0 = time.perf_counter()
    chosen: dict[str, Candidate] = {}
    chosen_key: dict[str, tuple[int, float, float]] = {}
    vetoed: list[str] = []  # algorithms none of whose settings passes the privacy veto
    grid_report: dict[str, list[dict[str, Any]]] = {}
    for algorithm, candidates in grid().items():
        results = evaluate_on(candidates, tuning, args.jobs)
        keys = [rule_key(r) for r in results]
        # The privacy veto: pairwise precision >= VETO_PRECISION on every real set.
        everywhere = evaluate_on(candidates, grouped, args.jobs)
        lowest = [min(r["pairwise_precision"] for r in rows) if rows else 0.0 for rows in everywhere]
        passes = [p >= VETO_PRECISION for p in lowest]
        order = sorted(range(len(candidates)), key=lambda i: (passes[i], keys[i], -i), reverse=True)
        chosen[algorithm] = candidates[order[0]]
        chosen_key[algorithm] = keys[order[0]]
        if not passes[order[0]]:
            vetoed.append(algorithm)
        grid_report[algorithm] = [{"parameters": c, "rule": keys[i], **summary(results[i]),
                                   "lowest_precision_everywhere": lowest[i], "passes_veto": passes[i],
                                   "per_set": dict(zip((s.name for s in tuning), results[i]))}
                                  for i, c in enumerate(candidates)]
        print(f"  {algorithm} ({len(candidates)} settings, {sum(passes)} pass the veto):  {'worst P':>7} "
              f"{'worst F1':>8} {'worst F0.5':>10} {'mean F1':>7} {'P everywhere':>12}")
        shown = order[:5] + [i for i in order if keys[i] > keys[order[0]]][:3]  # and what the veto ruled out
        for i in sorted(set(shown), key=order.index):
            sm = summary(results[i])
            if not sm:
                print(f"    {candidates[i].label:<52} failed")
                continue
            print(f"    {candidates[i].label:<52} {sm['worst_precision']:>7.3f} {sm['worst_f1']:>8.3f} "
                  f"{sm['worst_f05']:>10.3f} {sm['mean_f1']:>7.3f} {lowest[i]:>12.3f}"
                  + ("  <- chosen" if i == order[0] else "" if passes[i] else "  vetoed"))
    print(f"  P everywhere: lowest pairwise precision over every real set (tuning, reporting and full). The privacy "
          f"veto keeps only settings where it is >= {VETO_PRECISION}: a merge shows a guest a stranger's photos, and a "
          "lookalike pair whose two people fell in different halves is invisible to the tuning sets alone. The "
          "veto only removes settings; a vetoed setting that was best on the tuning sets means the reporting "
          "figures of the choice are not independent of the reporting identities.")
    if vetoed:
        print(f"  no setting passes the veto: {', '.join(vetoed)} (not eligible as the default)")
    baseline_tuning = evaluate_on(list(BASELINES.values()), tuning, args.jobs)
    for name, res in zip(BASELINES, baseline_tuning):
        sm = summary(res)
        print(f"  baseline {name} ({BASELINES[name].label}): worst P {sm['worst_precision']:.3f}, worst F1 "
              f"{sm['worst_f1']:.3f}, mean F1 {sm['mean_f1']:.3f}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    report["tuning"] = {"sets": [s.name for s in tuning], "grid": grid_report, "chosen": chosen,
                        "no_setting_passes_veto": vetoed,
                        "baselines": {n: summary(r) for n, r in zip(BASELINES, baseline_tuning)}}

    # ---- scale
    shipped_c = config_candidate(settings)
    # What Kanta ships: the settings' clustering with the eps each event estimates for itself
    # (kanta.clusters.cuts); ``shipped_c``: the same with the settings' eps everywhere.
    shipped_event_c = candidate(EVENT, True, eps=settings.cluster_eps, cap=settings.cluster_cap, gap=BULK_GAP,
                                quantile=IMPOSTOR_QUANTILE)
    rows: dict[str, Candidate] = {**chosen, **BASELINES}
    if shipped_c not in rows.values():
        rows["config"] = shipped_c  # what kanta/config.py ships, when the rule chose otherwise
    scale: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in rows}
    if not args.skip_scale:
        tune_crops = faces.x[crops & np.isin(ids.canonical, [n for n, r in ids.role.items() if r == TUNING])]
        tune_truth = np.unique(ids.canonical[crops & np.isin(ids.canonical, [n for n, r in ids.role.items()
                                                                              if r == TUNING])],
                               return_inverse=True)[1]
        within, between = pair_distances(tune_crops, tune_truth)
        t0 = time.perf_counter()
        gen = fit_generator(tune_crops, tune_truth, within, between)
        print()
        print(f"SCALE: synthetic descriptors fitted to the crops tuning identities ({len(tune_crops)} faces of "
              f"{len(np.unique(tune_truth))} people): noise sigma {gen.sigma:.3f} (log-sd of per-face scale "
              f"{gen.tau:.2f}); centres' spectrum k^-{gen.alpha:.2f}, total variance {(gen.centre_sd**2).sum():.3f} "
              f"({time.perf_counter() - t0:.0f} s to fit)")
        data = {n: synthetic_set(gen, n, SEED + n) for n in sizes}
        w, b = pair_sample(data[max(sizes)]["x"], data[max(sizes)]["truth"], np.random.default_rng(SEED))
        print(f"  real same person      {describe(within)}")
        print(f"  synthetic same person {describe(w)}")
        print(f"  real different        {describe(between)}")
        print(f"  synthetic different   {describe(b)}")
        print(f"  false-match rate within 0.5 / 0.55 / 0.6: real {np.mean(between <= 0.5):.4f} / "
              f"{np.mean(between <= 0.55):.4f} / {np.mean(between <= 0.6):.4f}, synthetic {np.mean(b <= 0.5):.4f} / "
              f"{np.mean(b <= 0.55):.4f} / {np.mean(b <= 0.6):.4f} (the synthetic tail of lookalikes is lighter)")
        for n in sizes:
            sz = data[n]["sizes"]
            print(f"  {n:>6} faces: {len(sz)} people, {int((sz == 1).sum())} seen once, largest {int(sz.max())}; "
                  f"{photos_line(EvalSet('', '', '', data[n]['x'], data[n]['truth'], data[n]['photo'], []))}")
        print(f"  each run alone in a forked child, one core, stopped after {args.limit:.0f} s (the +10% run after "
              f"{ESTIMATE_FACTOR * args.limit:.0f} s); not run when estimated > {ESTIMATE_FACTOR * args.limit:.0f} s")
        print(f"  {'algorithm':<17} {'parameters':<44} {'faces':>6} {'seconds':>8} {'+MB':>6}  {'P':>5} {'R':>5} "
              f"{'F1':>5}  {'kept':>6} {'kept*':>6}")
        for name, c in rows.items():
            history: list[tuple[int, float]] = []
            for n in sizes:
                r = scale_run(c, data[n], args.limit, estimate_seconds(history, n))
                scale[name][n] = r
                if r.get("seconds"):
                    history.append((n, r["seconds"]))
                if "failure" in r:
                    print(f"  {name:<17} {c.label:<44} {n:>6}  {r['failure']}", flush=True)
                    continue
                k = r.get("kept")
                kept_txt = f"{k['kept_all']:>6.4f} {k['kept_clustered']:>6.4f}" if k else r.get("kept_failure", "-")
                print(f"  {name:<17} {c.label:<44} {n:>6} {r['seconds']:>8.2f} {r['extra_mb']:>6.0f}  "
                      f"{r['pairwise_precision']:.3f} {r['pairwise_recall']:.3f} {r['pairwise_f1']:.3f}  {kept_txt}",
                      flush=True)
        print("  seconds: clustering + stable_ids of one run; +MB: its peak resident memory above the child's start; "
              "P R F1: pairwise against the synthetic identities; kept: old faces keeping their id after +10% faces "
              "(noise -> noise kept), kept*: among old faces that had a person")
        report["scale"] = {"generator": {"sigma": gen.sigma, "tau": gen.tau, "alpha": gen.alpha,
                                         "centre_variance": float((gen.centre_sd**2).sum())},
                           "runs": {name: {str(n): r for n, r in v.items()} for name, v in scale.items()}}

    # ---- default
    largest = max(sizes)
    print()
    eligible = []
    excluded = []
    # When no algorithm passes the veto on every set (a population dlib separates poorly), the
    # default is still chosen, among all, and the output says the veto does not hold.
    veto_holds_somewhere = any(algorithm not in vetoed for algorithm in chosen)
    for algorithm, c in chosen.items():
        if algorithm in vetoed and veto_holds_somewhere:
            excluded.append(f"{algorithm} (no setting passes the privacy veto)")
            continue
        r = scale[algorithm].get(largest, {}) if not args.skip_scale else {}
        if not args.skip_scale:
            if "failure" in r or r["seconds"] >= TARGET_SECONDS:
                why = r.get("failure") or f"{r['seconds']:.0f} s"
                excluded.append(f"{algorithm} ({why})")
                continue
            if r["extra_mb"] >= MEMORY_BUDGET_MB:
                excluded.append(f"{algorithm} ({r['extra_mb']:.0f} MB)")
                continue
        eligible.append((chosen_key[algorithm], -(r.get("seconds") or 0.0), algorithm))
    default = max(eligible)[2]
    default_c = chosen[default]
    if not veto_holds_somewhere:
        print("NO ALGORITHM PASSES THE PRIVACY VETO on every set: the default below is the best by the tuning rule "
              "among all, and shows some guest a stranger's photos on some set")
    print(f"DEFAULT: {default} ({default_c.label}): best by the tuning rule "
          + (f"among the algorithms that re-cluster {largest} faces in < {TARGET_SECONDS:.0f} s within "
             f"{MEMORY_BUDGET_MB:.0f} MB" if not args.skip_scale else "(scale skipped: time and memory not checked)"))
    for key, minus_s, algorithm in sorted(eligible, reverse=True):
        metric = "F1" if key[0] else "F0.5"
        print(f"  {algorithm:<17} tuning: worst pairwise {metric} {key[1]:.3f}, worst P {key[2]:.3f}, mean {metric} "
              f"{key[3]:.3f}"
              + (f", {-minus_s:.1f} s at {largest}" if not args.skip_scale else ""))
    if excluded:
        print(f"  not eligible: {'; '.join(excluded)}")
    print(f"  kanta/config.py ships {settings.cluster_algorithm} ({shipped_c.label})"
          + (": the same" if shipped_c == default_c else ": different (its figures are in the tables as 'config')"))
    report["default"] = {"algorithm": default, "candidate": default_c, "config": shipped_c,
                         "eligible": [e[2] for e in eligible], "over_limits": excluded}

    # ---- clustering on the reporting and full sets
    table: dict[str, Candidate] = {ORIGINAL: BASELINES[ORIGINAL], BEFORE: BASELINES[BEFORE], **chosen}
    if shipped_c not in table.values():
        table["config"] = shipped_c
    if shipped_event_c not in table.values():
        table["shipped"] = shipped_event_c
    shown = [s for s in sets if s.role != TUNING]
    t0 = time.perf_counter()
    evaluated = evaluate_on(list(table.values()), shown, args.jobs)
    results = {name: evaluated[i] for i, name in enumerate(table)}
    clustering_report: dict[str, Any] = {}
    for role in (REPORTING, FULL):
        print()
        print(f"CLUSTERING, {role.upper()} SETS" + (" (includes tuning identities)" if role == FULL else
                                                   " (identities never used to choose anything)")
              + f": every algorithm with its chosen parameters, the baselines; default = {default}")
        print(CLUSTER_HEADER)
        for i, s in enumerate(shown):
            if s.role != role:
                continue
            print(f"  {s.title} ({len(s.x)} faces, {s.people} people, {photos_line(s)})"
                  + (": only algorithms using photo ids differ from the grouped set" if s.solo else ""))
            for name, c in table.items():
                if s.solo and not c.groups:
                    continue
                print(cluster_row(name + (" *" if name == default else ""), c, results[name][i], results[ORIGINAL][i]))
        idx = [i for i, s in enumerate(shown) if s.role == role and not s.solo]
        print(f"  worst case over the {len(idx)} grouped {role} sets (solo sets excluded: events have photo ids); "
              "F1/orig: lowest and mean ratio of pairwise F1 to the original's per set")
        print(f"  {'algorithm':<17} {'parameters':<44} {'P':>5} {'R':>5} {'F1':>5} {'B3 F1':>5} {'noise':>5} "
              f"{'mean F1':>7}  {'F1/orig low':>11} {'mean':>5}")
        per_role = {}
        for name, c in table.items():
            sm = summary([results[name][i] for i in idx])
            if not sm:
                print(f"  {name:<17} {c.label:<44} failed")
                continue
            ratios = [results[name][i]["pairwise_f1"] / results[ORIGINAL][i]["pairwise_f1"] for i in idx
                      if results[ORIGINAL][i]["pairwise_f1"] > 0]
            sm["f1_ratio_low"] = min(ratios) if ratios else None
            sm["f1_ratio_mean"] = float(np.mean(ratios)) if ratios else None
            per_role[name] = sm
            print(f"  {name + (' *' if name == default else ''):<17} {c.label:<44} {sm['worst_precision']:.3f} "
                  f"{sm['worst_recall']:.3f} {sm['worst_f1']:.3f} {sm['worst_bcubed_f1']:>5.3f} {sm['max_noise']:>5.3f} "
                  f"{sm['mean_f1']:>7.3f}  {_f(sm['f1_ratio_low'], 11, 2)} {_f(sm['f1_ratio_mean'], 5, 2)}")
        solo_idx = [i for i, s in enumerate(shown) if s.role == role and s.solo]
        if solo_idx and default_c.groups:
            print(f"  what photo ids add ({default}): " + "; ".join(
                f"{shown[i].name} P {results[default][i - 1]['pairwise_precision']:.3f} / F1 "
                f"{results[default][i - 1]['pairwise_f1']:.3f} with, {results[default][i]['pairwise_precision']:.3f} / "
                f"{results[default][i]['pairwise_f1']:.3f} solo" for i in solo_idx))
        clustering_report[role] = {"sets": [s.title for s in shown if s.role == role],
                                   "results": {n: [results[n][i] for i, s in enumerate(shown) if s.role == role]
                                               for n in table},
                                   "worst": per_role}
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    report["clustering"] = clustering_report

    # ---- clustering criteria
    crit = []
    judged = [(default, f"the default, {default}")] + ([("config", "kanta/config.py's setting")]
                                                       if "config" in table else [])
    for name, title in judged:
        print()
        print(f"CLUSTERING CRITERIA (issue) for {title} ({table[name].label}):")
        for role in (REPORTING, FULL):
            lines = clustering_criteria(name, shown, results, role)
            print(f"  {role} sets" + (" (includes tuning identities)" if role == FULL else " (headline)") + ":")
            _print_criteria(lines, "    ")
            crit += [{"setting": name, "role": role, "criterion": line, "holds": ok} for line, ok in lines]
        if not args.skip_scale:
            lines = scale_criteria(scale[name], sizes)
            print("  scale (synthetic):")
            _print_criteria(lines, "    ")
            crit += [{"setting": name, "role": "scale", "criterion": line, "holds": ok} for line, ok in lines]
    report["clustering_criteria"] = crit

    # ---- selfie search
    shipped = SearchCuts(settings.search_max_distance, settings.search_person_max_distance)
    before_c = config_candidate(settings)
    cuts = search_cut_grid(shipped)
    shipped_k = cuts.index(shipped)
    print()
    print(f"SELFIE SEARCH: in every grouped set, {SELFIE_SHARE:.0%} of each identity's faces (>= 2 faces; at least 1) "
          f"are selfies taken out of the event; the event is clustered with the default ({default}, "
          f"{default_c.label}); absent: each identity's event rebuilt without it, up to {absent_queries} of its "
          f"faces search it; {len(cuts)} cut pairs (face x person) + the baseline (every photo with a face within "
          f"{BASELINE_SEARCH})")
    t0 = time.perf_counter()
    searched = run_search(grouped, default_c, cuts, absent_queries, args.jobs, shipped)
    by_role = {role: [r for r, s in zip(searched, grouped) if s.role == role] for role in (TUNING, REPORTING, FULL)}
    sets_by_role = {role: [s for s in grouped if s.role == role] for role in (TUNING, REPORTING, FULL)}
    # The privacy veto: stranger rejection >= VETO_REJECTION on every real set.
    everywhere = [worst_case(searched, k)["rejection"] for k in range(len(cuts))]
    allowed = [r >= VETO_REJECTION for r in everywhere]
    ruled_k, tune_table = calibrate(by_role[TUNING], cuts)
    best_k, _ = calibrate(by_role[TUNING], cuts, allowed)
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    vetted = "the tuning sets among the pairs passing the privacy veto"
    for label, k in (("the tuning sets alone", ruled_k), (vetted, best_k)):
        if k is None:
            print(f"  CALIBRATION on {label}: no cut pair reaches worst-case stranger rejection {TUNE_REJECTION}")
            continue
        print(f"  CALIBRATION on {label}: face cut {cuts[k].face:.2f}, person cut {cuts[k].person:.2f}: worst-case "
              f"recall {tune_table[k]['recall']:.3f} (mean {tune_table[k]['mean_recall']:.3f}) with worst-case "
              f"stranger rejection {tune_table[k]['rejection']:.3f} (>= {TUNE_REJECTION} required); over every real "
              f"set {everywhere[k]:.3f}")
    print(f"  privacy veto: only cut pairs with stranger rejection >= {VETO_REJECTION} on every real set (tuning, "
          f"reporting, full) are chosen: {sum(allowed)} of {len(cuts)} pass"
          + ("" if best_k == ruled_k else "; it changed the choice, so the reporting figures of the choice are "
             "not independent of the reporting identities"))
    rec_k = best_k if best_k is not None else shipped_k
    print(f"  shipped (kanta/config.py): face {shipped.face:.2f}, person {shipped.person:.2f}")
    for role in (TUNING, REPORTING, FULL):
        print()
        print(f"  SEARCH, {role.upper()} SETS" + (" (includes tuning identities)" if role == FULL else ""))
        head = f"{'recall':>6} {'prec':>5} {'wrong':>5} {'reject':>6}"
        print(f"    {'set':<12} {'faces':>5} {'people':>6} {'selfies':>7} {'absent':>6} | shipped {shipped.face:.2f}/"
              f"{shipped.person:.2f}{'':>{len(head) - 17}} | recommended {cuts[rec_k].face:.2f}/{cuts[rec_k].person:.2f}"
              f"{'':>{len(head) - 21}} | baseline <= {BASELINE_SEARCH}")
        print(f"    {'':<12} {'':>5} {'':>6} {'':>7} {'':>6} | {head} | {head} | {head}")
        for s, r in zip(sets_by_role[role], by_role[role]):
            cells = []
            for row in (r["cuts"][shipped_k], r["cuts"][rec_k], r["baseline"]):
                cells.append(f"{_f(row['recall'], 6)} {_f(row['precision'])} {_f(row['wrong'])} {_f(row['rejection'], 6)}")
            print(f"    {s.name:<12} {r['event_faces']:>5} {r['people']:>6} {r['selfies']:>7} {r['absent_searches']:>6} | "
                  + " | ".join(cells))
        worst = [worst_case(by_role[role], k) for k in (shipped_k, rec_k)] + [worst_case(by_role[role], None)]
        print(f"    {'worst case':<12} {'':>5} {'':>6} {'':>7} {'':>6} | " + " | ".join(
            f"{_f(w['recall'], 6)} {_f(w['precision'])} {'':>5} {_f(w['rejection'], 6)}" for w in worst))
    print("    faces: in the event; selfies: present searches; absent: stranger searches; recall, prec(ision), wrong: "
          "means over present searches (prec over those returning photos; wrong = returned a photo without the "
          "person); reject: absent searches returning nothing")
    curves = {}
    for role in (TUNING, REPORTING):
        table_role = [worst_case(by_role[role], k) for k in range(len(cuts))]
        if role == REPORTING:
            # Recall as the criteria take it (the crops and photos sets): tests/data has a
            # handful of selfies, one miss is 0.25 of its recall.
            named = [r for r, s in zip(by_role[role], sets_by_role[role]) if s.kind in ("crops", "photos")]
            for k in range(len(cuts)):
                table_role[k]["recall"] = worst_case(named, k)["recall"]
        curves[role] = table_role
        print()
        print(f"  SEARCH CURVE, worst case over the {len(by_role[role])} {role} sets: recall/rejection "
              f"(rows: face cut, columns: person cut)" + (
                  "; recall over the crops and photos sets only (as the criteria)" if role == REPORTING else ""))
        print("    face\\person " + " ".join(f"{p:>11.2f}" for p in PERSON_CUTS))
        for f in FACE_CUTS:
            cells = []
            for p in PERSON_CUTS:
                w = table_role[cuts.index(SearchCuts(f, p))]
                here = cuts.index(SearchCuts(f, p))
                mark = "*" if here == rec_k else "+" if here == shipped_k else " "
                cells.append(f"{w['recall']:.3f}/{w['rejection']:.3f}{mark}")
            print(f"    {f:>11.2f} " + " ".join(f"{c:>11}" for c in cells))
    print("    * = recommended (calibrated on the tuning sets, then the privacy veto), + = shipped (kanta/config.py)")
    # ---- search criteria
    print()
    print("SEARCH CRITERIA (issue), worst case:")
    scrit = []
    for label, k in ((f"shipped {shipped.face:.2f}/{shipped.person:.2f}", shipped_k),
                     (f"recommended {cuts[rec_k].face:.2f}/{cuts[rec_k].person:.2f}", rec_k),
                     (f"baseline (nearest faces <= {BASELINE_SEARCH})", None)):
        for role in (REPORTING, FULL):
            lines = search_criteria(searched, grouped, k, role)
            print(f"  {label}, {role} sets" + (" (includes tuning identities)" if role == FULL else " (headline)") + ":")
            _print_criteria(lines, "    ")
            scrit += [{"cuts": label, "role": role, "criterion": line, "holds": ok} for line, ok in lines]
    report["search"] = {"cuts": cuts, "shipped": shipped, "recommended": cuts[rec_k], "ruled_without_veto": cuts[ruled_k] if ruled_k is not None else None,
                        "tuning_worst": tune_table, "curves": curves,
                        "sets": [{"role": s.role, "name": s.name, **r} for s, r in zip(grouped, searched)],
                        "criteria": scrit}
    if shipped_c != default_c:
        # What a deployment with kanta/config.py gets: its clustering and its cuts.
        print()
        print(f"SEARCH AS SHIPPED: the same simulation with kanta/config.py's clustering ({shipped_c.label}) and cuts "
              f"({shipped.face:.2f}/{shipped.person:.2f})")
        as_shipped = run_search(grouped, shipped_c, [shipped], absent_queries, args.jobs, shipped)
        print(f"    {'role':<9} {'set':<12} {'recall':>6} {'prec':>5} {'wrong':>5} {'reject':>6}   per-event cuts "
              f"(face/person): recall  prec wrong reject")
        for s, r in zip(grouped, as_shipped):
            row, ev = r["cuts"][0], r["event_cuts"]
            print(f"    {s.role:<9} {s.name:<12} {_f(row['recall'], 6)} {_f(row['precision'])} {_f(row['wrong'])} "
                  f"{_f(row['rejection'], 6)}   {ev['face']:.2f}/{ev['person']:.2f}   {_f(ev['recall'], 6)} "
                  f"{_f(ev['precision'])} {_f(ev['wrong'])} {_f(ev['rejection'], 6)}")
        shipped_crit = []
        for role in (REPORTING, FULL):
            lines = search_criteria(as_shipped, grouped, 0, role)
            print(f"  {role} sets" + (" (includes tuning identities)" if role == FULL else " (headline)") + ":")
            _print_criteria(lines, "    ")
            shipped_crit += [{"role": role, "criterion": line, "holds": ok} for line, ok in lines]
        report["search_as_shipped"] = {"clustering": shipped_c, "cuts": shipped, "criteria": shipped_crit,
                                       "sets": [{"role": s.role, "name": s.name, **r}
                                                for s, r in zip(grouped, as_shipped)]}

    # ---- per-event clustering and cuts, as Kanta ships them
    event_c = shipped_event_c
    if event_c is not None:
        print()
        print(f"SEARCH WITH PER-EVENT CLUSTERING AND CUTS (as shipped): clustering {EVENT} ({event_c.label}); cuts: "
              f"kanta.clusters.cuts.event_cuts: the shipped {shipped.face:.2f}/{shipped.person:.2f} lowered by "
              f"max(0, {SHIPPED_EPS} - the event's onset of strangers)")
        per_event = run_search(grouped, event_c, [shipped], absent_queries, args.jobs, shipped)
        variants = list(per_event[0]["event_variants"])
        ratio_names = [v for v in variants if v.startswith("ratio ")]
        shipped_ratio = f"ratio {settings.search_ratio:.2f}"
        print(f"  per set: recall / selfies returning anyone else's photo / strangers matched, for the cuts only, "
              f"each ratio of the ratio test (kanta.search.matching; shipped {settings.search_ratio:.2f}) in the "
              f"events whose cuts were lowered (as shipped), the shipped ratio in every event, and as shipped on the "
              f"people known exactly (no clustering error)")
        print(f"    {'role':<9} {'set':<13} {'cuts':>9}  " + "  ".join(f"{v:>17}" for v in variants))
        for st, r in zip(grouped, per_event):
            ev = r["event_cuts"]
            cells = ["/".join(_f(r["event_variants"][v][k], 4, 2) if k != "rejection" else
                              _f(None if r["event_variants"][v][k] is None else 1 - r["event_variants"][v][k], 4, 2)
                              for k in ("recall", "wrong", "rejection")) for v in variants]
            print(f"    {st.role:<9} {st.name:<13} {ev['face']:.2f}/{ev['person']:.2f}  "
                  + "  ".join(f"{c:>17}" for c in cells))

        def worst(role: str, v: str) -> dict[str, tuple[float, str]]:
            rows = [(r["event_variants"][v], st.name) for st, r in zip(grouped, per_event) if st.role == role]
            return {"strangers": max((1 - e["rejection"], n) for e, n in rows if e["rejection"] is not None),
                    "wrong": max((e["wrong"], n) for e, n in rows if e["wrong"] is not None),
                    "recall": min((e["recall"], n) for e, n in rows if e["recall"] is not None)}

        # The ratio chosen on the tuning sets: the largest whose worst strangers' rate holds.
        holding = [v for v in ratio_names if worst(TUNING, v)["strangers"][0] <= TARGET_STRANGERS]
        chosen_ratio = holding[-1] if holding else ratio_names[0]
        print(f"  ratio chosen on the tuning sets (the largest whose strangers matched is <= {TARGET_STRANGERS:.0%} "
              f"on every tuning set): {chosen_ratio.split()[1]}; kanta/config.py has {settings.search_ratio:.2f}")
        summary_rows = {}
        for role in (TUNING, REPORTING, FULL):
            for v in ("cuts only", shipped_ratio, f"{settings.search_ratio:.2f} always", "exact people"):
                w = worst(role, v)
                summary_rows[f"{role}/{v}"] = w
                print(f"  {role:<9} {v:<12}: strangers matched at most {w['strangers'][0]:.3f} ({w['strangers'][1]}), "
                      f"selfies returning anyone else's photo at most {w['wrong'][0]:.3f} ({w['wrong'][1]}), photo "
                      f"recall at least {w['recall'][0]:.3f} ({w['recall'][1]})")
        figure = plot_tradeoff(grouped, per_event, ["cuts only", *ratio_names], shipped_ratio, FIGURE)
        print(f"  figure: {figure.relative_to(REPO_ROOT)}")
        report["per_event"] = {"clustering": event_c, "chosen_ratio": chosen_ratio, "worst": summary_rows,
                               "sets": [{"role": st.role, "name": st.name, **r["event_cuts"],
                                         "variants": r["event_variants"]} for st, r in zip(grouped, per_event)]}

    # ---- forget my face
    print()
    print(f"FORGET MY FACE: per set, each present selfie forgets its guest from the event (today: {before_c.label}, "
          f"cuts {shipped.face:.2f}/{shipped.person:.2f}; per-event: {shipped_event_c.label} and the event's cuts); "
          "shares of other guests' faces erased and of their later faces (the held-out selfies) the do-not-index "
          "list drops, and of the guest's own; means over the set's forgets (max in brackets)")
    forgets = run_forget(grouped, before_c, shipped, shipped_event_c, args.jobs)
    rules = ["today", "per-event"] + [f"{kind} {c:.2f}" for c in ERASE_CUTS for kind in ("tight", "hop")]
    print(f"    {'role':<9} {'set':<13} {'rule':<10} {'others erased':>17} {'own erased':>10} {'others dropped':>18} "
          f"{'own dropped':>11}")
    for st, r in zip(grouped, forgets):
        for rule in rules:
            row = r[rule]
            print(f"    {st.role:<9} {st.name:<13} {rule:<10} {_f(row['others_erased'])} ({_f(row['others_erased_max'])}) "
                  f"{_f(row['own_erased'], 10)} {_f(row['others_dropped'], 8)} ({_f(row['others_dropped_max'])}) "
                  f"{_f(row['own_dropped'], 11)}")
    forget_summary = {}
    for role in (TUNING, REPORTING, FULL):
        pick = [(st, r) for st, r in zip(grouped, forgets) if st.role == role]
        print(f"  worst case over the {len(pick)} {role} sets (population: worst set):")
        for rule in rules:
            worst = {k: max(((r[rule][k] or 0.0), st.name) for st, r in pick) for k in ("others_erased", "others_dropped")}
            least = min(((r[rule]["own_erased"] if r[rule]["own_erased"] is not None else 1.0), st.name) for st, r in pick)
            ok = worst["others_erased"][0] <= TARGET_OTHERS_ERASED and worst["others_dropped"][0] <= TARGET_OTHERS_ERASED
            print(f"    {rule:<10} others erased {worst['others_erased'][0]:.3f} ({worst['others_erased'][1]}), "
                  f"others dropped {worst['others_dropped'][0]:.3f} ({worst['others_dropped'][1]}), "
                  f"own erased at least {least[0]:.3f} ({least[1]}) -> "
                  + ("holds" if ok else "does not hold") + f" (<= {TARGET_OTHERS_ERASED:.0%} of others)")
            forget_summary[f"{role}/{rule}"] = {"others_erased": worst["others_erased"], "others_dropped":
                                               worst["others_dropped"], "own_erased_min": least, "holds": ok}
    report["forget"] = {"rules": rules, "summary": forget_summary,
                        "sets": [{"role": st.role, "name": st.name, **r} for st, r in zip(grouped, forgets)]}

    # ---- database writes
    if args.db_writes:
        print()
        print("DATABASE WRITES (embedded PostgreSQL, table faces(id bigint primary key, cluster_id int), n rows; "
              "single-row UPDATEs in one transaction, timed for at most 10000 rows and extrapolated linearly above)")
        db = database_writes(sizes, 10_000)
        print(f"  {'faces':>8}  {'one UPDATE per face (original)':>31}  {'one set-based UPDATE (ours)':>28}  {'ratio':>7}")
        for n, r in db.items():
            print(f"  {n:>8}  {r['per_face_s']:>29.3f} s  {r['set_based_s']:>26.3f} s  "
                  f"{r['per_face_s'] / r['set_based_s']:>6.1f}x")
        report["database"] = db

    # ---- summary
    print()
    print("RECOMMENDED DEFAULTS (the tuning sets, then the privacy veto over every real set):")
    print(f"  clustering: {default} ({default_c.label})" + ("; kanta/config.py agrees" if shipped_c == default_c
                                                           else f"; kanta/config.py has {shipped_c.label}"))
    b = cuts[rec_k]
    print(f"  search: face cut {b.face:.2f}, person cut {b.person:.2f}" + (
        "; kanta/config.py agrees" if b == shipped else f"; kanta/config.py has {shipped.face:.2f}/{shipped.person:.2f}"))
    report["seconds"] = time.perf_counter() - run_started
    report["finished_at"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print()
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; whole run {report['seconds']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=_json_default) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def analysis_settings_line(settings: Any) -> str:
    from kanta.faces.pipeline import analysis_settings

    return ", ".join(f"{k}={v}" for k, v in analysis_settings(settings).items())


if __name__ == "__main__":
    sys.exit(main())
