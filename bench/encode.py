"""Kanta's face pipeline against the original face_recognition pipeline: recall, precision,
time and memory.

Two modes, chosen by the arguments. The default run prints, in this order, the detection
benchmark, the crowd set, the descriptor agreement, the phone-size and selfie timing and the
24 MP memory check; the original pipeline always runs beside each profile in the same run.
``--photos``/``--resize-mp`` run the per-photo timing instead.

**Detection benchmark** (default run). On the labelled
detection set ``bench/data/detection`` (``boxes.csv``: one row per face, boxes in pixels of
the upright image, i.e. after the EXIF orientation; see ``bench/data/README.md``), for the
original pipeline and for each of our detection profiles:

* **original** (the original Kanta pipeline): face_recognition with HOG, upsample 1, full
  resolution: ``load_image_file(path)`` (which ignores the EXIF orientation: that is what the
  original did, so its boxes are compared as they come), ``face_locations(img, 1, "hog")``,
  ``face_encodings(img, locs)``;
* **fast**, **balanced**, **accurate**: ``analyse_image(data, **analysis_settings(Settings()))``
  with the profile overridden, the blob trigger's whole computation (EXIF-aware decoding,
  detection, descriptors, sharpness and thumbnails) on the file's bytes in memory.

Each pipeline runs in its own fresh process (this script with a hidden ``--child`` flag), so
that its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, models included) is its own. The
child loads the models, runs the pipeline once on the first image (not timed), then times
every image once (wall seconds, ``time.perf_counter``). A labelled face is found when a
detection overlaps it with IoU >= 0.3, matched one to one per image (pairs taken greedily in
decreasing IoU). Printed: one row per pipeline with recall per category, overall recall,
precision (matched detections / all detections), mean seconds per image, seconds per
megapixel (total seconds / total megapixels of the upright images) and peak RSS; then ratios
against the original, the profiles' criteria (``criteria``) and the default profile's
(``kanta.faces.detection.DEFAULT_PROFILE``): overall recall >= 0.97, recall >= 0.90 in every
category, precision >= 0.95.

**Crowd set** (default run; ``--crowd DIR``, default ``../shared/faces/crowd``, skipped with a
message when missing; ``--crowd-limit N`` for the first N photos). 186 photos of groups and
events (1024 px wide) with 2,031 labelled faces from the WIDER FACE validation set, read at
run time (evaluation only, see its ``README.md``): ``images.csv`` lists the photos,
``boxes.csv`` the faces (``x,y,w,h`` pixels and WIDER's attributes), ``ignore_boxes.csv`` the
boxes WIDER marks invalid. The original and each profile run in their own child exactly as on
the detection set (whole pipeline, descriptors included; one untimed call on the first photo).
Matching as above (IoU >= 0.3, one to one, greedy). Printed per pipeline: recall of the faces
at least 40 px tall, at least 20 px tall and of all, recall by WIDER attribute (blur 0/1/2,
occlusion 0/1/2, pose 0/1), precision (matched detections / (all detections minus the
unmatched ones overlapping an ignore box with IoU >= 0.3)), mean wall seconds per photo,
detections per photo, peak RSS; then each profile's seconds per photo over the original's and
the default profile's criteria: recall >= 0.95 of faces >= 40 px, >= 0.90 of faces >= 20 px,
precision >= 0.95, seconds per photo <= 0.7x the original's.

**Descriptor agreement** (default run; ``--agreement-limit N`` for the first N photos). The
photos ``../shared/faces/identities/photos/*.jpg`` and the first 3 (by name) of each person
folder of ``../shared/faces/identities/asian/``, read at run time. Each is decoded upright
(Pillow, ``ImageOps.exif_transpose``), reduced (Lanczos) to at most 4 MP and re-encoded as a
JPEG of quality 95. In one child, the original (``face_locations(img, 1, "hog")`` +
``face_encodings``) runs on the RGB array Pillow decodes from that JPEG, the default profile
(``analyse_image``, default settings) on its bytes: both see the same pixels. Faces found by
both are paired one to one by box (IoU >= 0.5, greedy). Printed: faces found by each, the
number of pairs and the median, 90th and 99th percentile and maximum of the Euclidean
distance between a pair's two 128-d descriptors, and the criterion median <= 0.05.

**Phone-size and selfie timing** (default run). A 4000x3000 (12 MP) JPEG built like the 24 MP
one: for the original and the default profile (``analyse_image`` with thumbnails: decoding,
detection, descriptors, sharpness, thumbnails), each in a fresh child that loads the models
and runs once on ``tests/data/obama_1.jpg`` (not timed), the photo's end-to-end wall seconds,
median of 3 runs. A 4 MP selfie: ``tests/data/obama_1.jpg`` centre-cropped to 1:1, resized up
to 2000x2000 (Lanczos, JPEG quality 90), analysed as search does
(``analyse_image(data, **analysis_settings(Settings(), query=True), thumbnails=False)``) in a
fresh child: median of 10 runs after one warm-up call, against the 0.15 s target.

**24 MP memory check** (``--skip-24mp`` to leave it out). A 6000x4000 JPEG is built from
``tests/data/group_biden_obama.jpg`` (centre crop to 3:2, Lanczos, quality 90); for each
pipeline one fresh process loads the models and processes that file once. Printed: seconds
of that call, faces found, and peak RSS against the 500 MB target.

``--json PATH`` writes every part's results (per photo and per pair included).

Every child runs under an address-space limit (``RLIMIT_AS``, 8 GiB) and a timeout, and is
reported as ``failed: <reason>`` if it dies. MB are 10^6 bytes.

**Per-photo timing** (``--photos DIR`` and/or ``--resize-mp MP``, the earlier default): both
pipelines timed on the same photos in one process:

* **ours**: ``kanta.faces.pipeline.analyse_image(data, **analysis_settings(Settings()))``,
  the computation of the blob trigger on the file's bytes, already in memory as the trigger
  receives them.
* **baseline** (the original Kanta pipeline), as ``original`` above. It reads the file by
  path, so its time includes reading the file (from the OS page cache after the first pass,
  which costs well under a millisecond for these sizes).

Method: both pipelines' models are loaded and each pipeline is run once on the first photo
before anything is timed (model loading is not in the figures). Each photo is then timed
``--repeat`` times per pipeline with ``time.perf_counter`` (wall seconds), the two pipelines
interleaved on that photo (which one goes first alternates between repeats), and the median
of the repeats is reported. The ratio is baseline seconds / ours seconds: above 1 means ours
is faster. For photos where both pipelines found the same boxes, the largest absolute
difference between our descriptors and face_recognition's is printed too (the two should
agree to float rounding).

Photos: every ``.jpg``/``.jpeg``/``.png`` in ``--photos DIR`` (relative paths are taken from
the current directory; ``tests/data/`` of this repository when only ``--resize-mp`` is
given). When the folder holds a ``labels.csv`` (columns ``file,faces,...``) or a
``boxes.csv`` (one row per face, column ``file``), the labelled number of faces is shown
next to the faces found.

Run from the repository root (works from any directory)::

    .venv/bin/python bench/encode.py                                    # everything (default run)
    .venv/bin/python bench/encode.py --crowd-limit 10 --agreement-limit 10 --skip-24mp   # quick check
    .venv/bin/python bench/encode.py --profiles fast balanced --skip-24mp --json bench/results/det.json
    .venv/bin/python bench/encode.py --photos tests/data --repeat 5
    .venv/bin/python bench/encode.py --resize-mp 12 --repeat 1
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: Root of the repository (this file is ``<root>/bench/encode.py``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Default photo folder of the per-photo timing.
DEFAULT_PHOTOS = REPO_ROOT / "tests" / "data"
#: File name suffixes taken as photos (compared lower-case).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")

#: Labelled detection set: photos and ``boxes.csv`` (see ``bench/data/README.md``).
DETECTION_SET = REPO_ROOT / "bench" / "data" / "detection"
#: Name of the original pipeline among the pipelines compared.
ORIGINAL = "original"
#: A labelled face is found by a detection overlapping it with at least this IoU.
MATCH_IOU = 0.3
#: Address-space limit of every child process, bytes (``RLIMIT_AS``): a runaway child fails
#: with a memory error instead of taking the machine down.
CHILD_ADDRESS_SPACE = 8 * 1024**3
#: Seconds a detection-benchmark child may take (the whole set, models included).
DETECTION_TIMEOUT_S = 1800.0
#: Seconds a 24 MP child may take (model loading and one image).
MEMORY_TIMEOUT_S = 300.0
#: Photo the 24 MP JPEG is made from, and the size it is made at (pixels).
MEMORY_SOURCE = REPO_ROOT / "tests" / "data" / "group_biden_obama.jpg"
MEMORY_SIZE = (6000, 4000)
#: Peak RSS target for one 24 MP JPEG, MB (10^6 bytes), of the YuNet detector change.
RSS_TARGET_MB = 500.0

#: Crowd set (WIDER FACE validation, six categories; evaluation only, read at run time, see its
#: ``README.md``): ``images/<category>/<file>.jpg``, ``boxes.csv``, ``ignore_boxes.csv``, ``images.csv``.
CROWD_SET = REPO_ROOT.parent / "shared" / "faces" / "crowd"
#: Crowd recall is also reported for the labelled faces at least this tall, pixels (the set's
#: README: half its faces are under about 30 px).
CROWD_MIN_HEIGHTS = (40, 20)
#: WIDER's attributes the crowd recall is broken down by, and their values (``boxes.csv``).
CROWD_ATTRIBUTES = {"blur": (0, 1, 2), "occlusion": (0, 1, 2), "pose": (0, 1)}
#: Seconds a crowd child may take (the whole set, models included).
CROWD_TIMEOUT_S = 3600.0

#: Labelled identity photos (read at run time): ``photos/*.jpg`` and one folder per person in ``asian/``.
IDENTITIES = REPO_ROOT.parent / "shared" / "faces" / "identities"
#: Descriptor agreement: first files (by name) taken from each person folder of ``asian/``.
AGREEMENT_PER_PERSON = 3
#: Descriptor agreement: photos are reduced (Lanczos) to at most this many pixels, then
#: re-encoded as JPEG of this quality, which both pipelines decode.
AGREEMENT_MAX_PIXELS = 4_000_000
AGREEMENT_JPEG_QUALITY = 95
#: Descriptor agreement: a face found by both pipelines is a pair of boxes with at least this IoU.
AGREEMENT_IOU = 0.5
#: Seconds the descriptor agreement child may take (models and all photos).
AGREEMENT_TIMEOUT_S = 1800.0

#: Phone-size photo: made from ``MEMORY_SOURCE`` at this size (pixels, 12 MP), timed this many
#: times (median kept) after one call on ``PHONE_WARM_UP``.
PHONE_SIZE = (4000, 3000)
PHONE_RUNS = 3
PHONE_WARM_UP = REPO_ROOT / "tests" / "data" / "obama_1.jpg"
#: Selfie: made from this photo at this size (pixels, 4 MP, JPEG quality 90), analysed as search
#: does it this many times (median kept) after one warm-up call on the same file.
SELFIE_SOURCE = REPO_ROOT / "tests" / "data" / "obama_1.jpg"
SELFIE_SIZE = (2000, 2000)
SELFIE_RUNS = 10
#: Seconds a phone-size or selfie child may take (models, warm-up and all runs).
PHONE_TIMEOUT_S = 600.0

#: Targets of the YuNet detector change for the default profile (``DEFAULT_PROFILE``): recall
#: and precision as fractions, speed as the profile's seconds per photo over the original's,
#: descriptor distances in dlib's descriptor space (Euclidean), selfie time in seconds.
CROWD_RECALL_TARGETS = {40: 0.95, 20: 0.90}  # minimum face height (px) -> recall
CROWD_PRECISION_TARGET = 0.95
CROWD_SPEED_RATIO_TARGET = 0.7
DETECTION_RECALL_TARGET = 0.97
DETECTION_CATEGORY_RECALL_TARGET = 0.90
DETECTION_PRECISION_TARGET = 0.95
AGREEMENT_MEDIAN_TARGET = 0.05
SELFIE_TARGET_S = 0.15

# `python bench/encode.py` puts bench/ on sys.path, not the repository root that holds kanta/.
sys.path.insert(0, str(REPO_ROOT))

from common import cpu_model, git_state  # bench/common.py: this directory is on sys.path

# dlib, face_recognition and kanta are imported where they are used: a child process measuring
# one pipeline's memory must not hold the other pipeline's models (importing face_recognition
# loads all of its models, about 100 MB more than Kanta uses).

#: A face box as face_recognition writes it: (top, right, bottom, left), pixels.
Box = tuple[int, int, int, int]
#: A box as (left, top, right, bottom), pixels (``kanta.faces.detection.iou``'s order).
LTRB = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One pipeline's output for one photo: upright size in pixels, boxes and descriptors.

    ``excluded``: for our pipeline, why each face is kept out of clustering and search
    (``too_small``, ``too_blurry``) or ``None``; empty for the baseline.
    """

    width: int
    height: int
    boxes: list[Box]
    descriptors: np.ndarray  # float64, shape (len(boxes), 128)
    excluded: tuple[str | None, ...] = ()


@dataclass
class ImageResult:
    """Measurements for one photo. Times are wall seconds; sizes are pixels."""

    file: str
    width: int
    height: int
    labelled_faces: int | None
    faces_baseline: int
    faces_ours: int
    baseline_runs_s: list[float]
    ours_runs_s: list[float]
    baseline_s: float  # median of baseline_runs_s
    ours_s: float  # median of ours_runs_s
    ratio: float  # baseline_s / ours_s; > 1 means ours is faster
    same_boxes: bool
    max_abs_descriptor_diff: float | None  # None unless same_boxes and at least one face

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def run_ours(data: bytes, settings: dict[str, Any]) -> Detection:
    """Kanta's blob-trigger computation on the file's bytes (``settings``: ``analyse_image``'s
    keyword arguments)."""
    from kanta.faces.pipeline import analyse_image

    analysis = analyse_image(data, **settings)
    boxes = [(f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height, f.bbox.x) for f in analysis.faces]
    descriptors = np.array([f.descriptor for f in analysis.faces], dtype=np.float64).reshape(-1, 128)
    excluded = tuple(f.excluded for f in analysis.faces)
    return Detection(analysis.width, analysis.height, boxes, descriptors, excluded)


def run_baseline(path: Path) -> Detection:
    """The original pipeline: face_recognition, HOG, upsample 1, full resolution.

    ``load_image_file`` ignores the EXIF orientation: width, height and boxes are those of
    the stored pixel array.
    """
    import face_recognition

    img = face_recognition.load_image_file(path)
    locs = face_recognition.face_locations(img, number_of_times_to_upsample=1, model="hog")
    encs = face_recognition.face_encodings(img, locs)
    descriptors = np.array(encs, dtype=np.float64).reshape(-1, 128)
    return Detection(img.shape[1], img.shape[0], [tuple(loc) for loc in locs], descriptors)
def timed(fn: Callable[..., Detection], *args: Any) -> tuple[float, Detection]:
    """Call ``fn(*args)``; return (wall seconds, its result)."""
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def max_descriptor_diff(ours: Detection, baseline: Detection) -> float | None:
    """Largest |ours - baseline| over all descriptor components, pairing faces by box.

    ``None`` when the two found different boxes or no face (nothing to compare).
    """
    if not ours.boxes or sorted(ours.boxes) != sorted(baseline.boxes):
        return None
    order_ours = sorted(range(len(ours.boxes)), key=ours.boxes.__getitem__)
    order_base = sorted(range(len(baseline.boxes)), key=baseline.boxes.__getitem__)
    diff = ours.descriptors[order_ours] - baseline.descriptors[order_base]
    return float(np.max(np.abs(diff)))


def find_photos(folder: Path) -> list[Path]:
    """The photos in ``folder`` (not recursive), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def labelled_counts(folder: Path) -> dict[str, int]:
    """Labelled number of faces per file name, from ``labels.csv`` or ``boxes.csv`` if present."""
    labels, boxes = folder / "labels.csv", folder / "boxes.csv"
    if labels.is_file():
        with labels.open(newline="", encoding="utf-8") as f:
            return {row["file"]: int(row["faces"]) for row in csv.DictReader(f)}
    if boxes.is_file():
        with boxes.open(newline="", encoding="utf-8") as f:
            return dict(Counter(row["file"] for row in csv.DictReader(f)))
    return {}


def measure(path: Path, settings: dict[str, int], repeat: int, labelled: int | None) -> ImageResult:
    """Time both pipelines on one photo ``repeat`` times each, interleaved; keep the medians."""
    data = path.read_bytes()
    ours_runs: list[float] = []
    base_runs: list[float] = []
    ours = base = None
    for i in range(repeat):
        # Alternate which pipeline runs first, so neither always gets the warmer caches.
        if i % 2 == 0:
            t_ours, ours = timed(run_ours, data, settings)
            t_base, base = timed(run_baseline, path)
        else:
            t_base, base = timed(run_baseline, path)
            t_ours, ours = timed(run_ours, data, settings)
        ours_runs.append(t_ours)
        base_runs.append(t_base)
    assert ours is not None and base is not None
    ours_s, base_s = statistics.median(ours_runs), statistics.median(base_runs)
    return ImageResult(
        file=path.name,
        width=ours.width,
        height=ours.height,
        labelled_faces=labelled,
        faces_baseline=len(base.boxes),
        faces_ours=len(ours.boxes),
        baseline_runs_s=base_runs,
        ours_runs_s=ours_runs,
        baseline_s=base_s,
        ours_s=ours_s,
        ratio=base_s / ours_s,
        same_boxes=sorted(ours.boxes) == sorted(base.boxes),
        max_abs_descriptor_diff=max_descriptor_diff(ours, base),
    )


def warm_up(photos: list[Path], settings: dict[str, int]) -> tuple[Path, float]:
    """Load the models and run each pipeline once on the first photo that decodes.

    Returns that photo and the seconds the warm-up took (model loading included, untimed later).
    """
    from kanta.faces.models import models
    from kanta.faces.pipeline import ImageRejected

    started = time.perf_counter()
    models()
    for path in photos:
        try:
            run_ours(path.read_bytes(), settings)
            run_baseline(path)
        except (ImageRejected, OSError):
            continue
        return path, time.perf_counter() - started
    raise SystemExit("no photo could be decoded by both pipelines")


def machine_info() -> dict[str, Any]:
    """CPU, OS and library versions that the figures depend on."""
    import dlib

    dists = metadata.packages_distributions()
    dlib_dists = dists.get("dlib") or dists.get("_dlib_pybind11") or []
    dlib_dist = dlib_dists[0] if dlib_dists else "unknown"
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "dlib_version": dlib.__version__,
        "dlib_distribution": dlib_dist,
        "dlib_distribution_version": metadata.version(dlib_dist) if dlib_dists else None,
        "dlib_is_dlib_bin": dlib_dist == "dlib-bin",
        "dlib_avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        "dlib_cuda": bool(getattr(dlib, "DLIB_USE_CUDA", False)),
        "face_recognition_version": metadata.version("face-recognition"),
        "numpy_version": np.__version__,
        "pillow_version": metadata.version("pillow"),
    }


def summarise(results: list[ImageResult]) -> dict[str, Any]:
    """Means over images (seconds per image), the overall ratio and the descriptor check."""
    mean_base = statistics.fmean(r.baseline_s for r in results)
    mean_ours = statistics.fmean(r.ours_s for r in results)
    compared = [r for r in results if r.max_abs_descriptor_diff is not None]
    return {
        "images": len(results),
        "mean_baseline_s": mean_base,
        "mean_ours_s": mean_ours,
        "total_baseline_s": sum(r.baseline_s for r in results),
        "total_ours_s": sum(r.ours_s for r in results),
        "ratio_baseline_over_ours": mean_base / mean_ours,
        "faces_baseline": sum(r.faces_baseline for r in results),
        "faces_ours": sum(r.faces_ours for r in results),
        "images_same_boxes": sum(r.same_boxes for r in results),
        "images_descriptors_compared": len(compared),
        "faces_descriptors_compared": sum(r.faces_ours for r in compared),
        "max_abs_descriptor_diff": max((r.max_abs_descriptor_diff for r in compared), default=None),
    }


def print_table(results: list[ImageResult]) -> None:
    """One line per photo: size, faces, median seconds, ratio and descriptor difference."""
    name_w = max(len("file"), *(len(r.file) for r in results))
    header = (
        f"{'file':<{name_w}}  {'width x height (MP)':>20}  {'label':>5}  {'base':>4}  {'ours':>4}"
        f"  {'base s':>7}  {'ours s':>7}  {'base/ours':>9}  {'max|Δdesc|':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        size = f"{r.width}x{r.height} ({r.megapixels:.2f})"
        label = "-" if r.labelled_faces is None else str(r.labelled_faces)
        if r.max_abs_descriptor_diff is not None:
            diff = f"{r.max_abs_descriptor_diff:.1e}"
        else:
            diff = "n/a" if r.same_boxes else "boxes differ"
        print(
            f"{r.file:<{name_w}}  {size:>20}  {label:>5}  {r.faces_baseline:>4}  {r.faces_ours:>4}"
            f"  {r.baseline_s:>7.3f}  {r.ours_s:>7.3f}  {r.ratio:>9.2f}  {diff:>10}"
        )


def print_summary(summary: dict[str, Any]) -> None:
    """Means, overall ratio and the descriptor check, in words."""
    print()
    print(f"images: {summary['images']}; faces found: baseline {summary['faces_baseline']}, "
          f"ours {summary['faces_ours']}")
    print(f"mean seconds per image: baseline {summary['mean_baseline_s']:.3f} s, "
          f"ours {summary['mean_ours_s']:.3f} s "
          f"(totals {summary['total_baseline_s']:.2f} s and {summary['total_ours_s']:.2f} s)")
    print(f"overall ratio baseline/ours = {summary['ratio_baseline_over_ours']:.3f} "
          "(ratio > 1 means ours is faster)")
    diff = summary["max_abs_descriptor_diff"]
    print(f"descriptors: same boxes in {summary['images_same_boxes']}/{summary['images']} images; "
          + (f"max |ours - face_recognition| = {diff:.3g} over {summary['faces_descriptors_compared']} "
             f"faces in {summary['images_descriptors_compared']} images"
             if diff is not None else "no faces to compare"))


def resize_photos(photos: list[Path], megapixels: float, folder: Path) -> list[Path]:
    """Write each photo resized to about ``megapixels`` (aspect kept, Lanczos) as a JPEG of
    quality 90 into ``folder`` under the same stem; return the new paths. Labels by file name
    still apply (the faces are the same, only larger or smaller)."""
    from PIL import Image

    resized = []
    for path in photos:
        with Image.open(path) as img:
            scale = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
            size = (round(img.width * scale), round(img.height * scale))
            out = folder / path.name
            img.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
        resized.append(out)
    return resized


# --------------------------------------------------------------------------- child processes


def set_address_space_limit(limit: int = CHILD_ADDRESS_SPACE) -> None:
    """Cap this process's address space at ``limit`` bytes (``RLIMIT_AS``), below any hard cap
    already set: allocations beyond it fail (MemoryError / std::bad_alloc) instead of
    exhausting the machine."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, MB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


@dataclass(frozen=True)
class Runner:
    """A loaded pipeline: ``prepare(path)`` is not timed (ours: read the bytes, which the blob
    trigger receives in memory), ``run(prepared)`` is."""

    prepare: Callable[[Path], Any]
    run: Callable[[Any], Detection]


def default_profile() -> str:
    """Name of Kanta's default detection profile (``kanta.faces.detection.DEFAULT_PROFILE``)."""
    from kanta.faces.detection import DEFAULT_PROFILE

    return DEFAULT_PROFILE


def ours_settings(profile: str) -> dict[str, Any]:
    """``analyse_image`` keyword arguments of the default ``Settings()`` with ``profile``."""
    from kanta.config import Settings
    from kanta.faces.pipeline import analysis_settings

    return analysis_settings(Settings()) | {"profile": profile}


def load_runner(pipeline: str, settings: dict[str, Any] | None = None) -> Runner:
    """Load ``pipeline``'s models (``original`` or a profile name) and return its runner.

    The original's models load when face_recognition is imported (all of them: HOG, CNN,
    5- and 68-point landmarks, ResNet). Ours load what ``models()`` loads, plus the CNN
    detector when the profile has one (``cnn_max_side``). ``settings``: ``analyse_image``'s
    keyword arguments for ours (default: ``ours_settings(pipeline)``).
    """
    if pipeline == ORIGINAL:
        import face_recognition  # noqa: F401  (loads its models)

        return Runner(prepare=lambda path: path, run=run_baseline)
    from kanta.faces.detection import PROFILES
    from kanta.faces.models import models

    settings = ours_settings(pipeline) if settings is None else settings
    if getattr(PROFILES[pipeline], "cnn_max_side", None):
        models().cnn_detector  # noqa: B018  (loads on first access)
    else:
        models()
    return Runner(prepare=Path.read_bytes, run=lambda data: run_ours(data, settings))


def ltrb(box: Box) -> LTRB:
    """face_recognition's (top, right, bottom, left) as (left, top, right, bottom)."""
    top, right, bottom, left = box
    return (left, top, right, bottom)


def child_detect(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: load the pipeline, run it once on ``spec["warm_up"]`` (not timed), then time
    each of ``spec["files"]`` once. Boxes are (left, top, right, bottom) pixels; seconds wall."""
    started = time.perf_counter()
    runner = load_runner(spec["pipeline"])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    runner.run(runner.prepare(Path(spec["warm_up"])))
    warm_up_s = time.perf_counter() - started
    images = []
    for name in spec["files"]:
        prepared = runner.prepare(Path(name))
        seconds, det = timed(runner.run, prepared)
        images.append({
            "file": Path(name).name,
            "seconds": seconds,
            "boxes": [ltrb(b) for b in det.boxes],
            "excluded": list(det.excluded),
        })
    return {"load_s": load_s, "warm_up_s": warm_up_s, "images": images, "peak_rss_mb": peak_rss_mb()}


def child_single(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: load the pipeline and process ``spec["file"]`` once (boxes: (left, top, right,
    bottom) pixels; seconds: wall, of that call). Peak RSS includes the models."""
    started = time.perf_counter()
    runner = load_runner(spec["pipeline"])
    load_s = time.perf_counter() - started
    prepared = runner.prepare(Path(spec["file"]))
    seconds, det = timed(runner.run, prepared)
    return {"load_s": load_s, "seconds": seconds, "faces": len(det.boxes), "boxes": [ltrb(b) for b in det.boxes],
            "width": det.width, "height": det.height, "peak_rss_mb": peak_rss_mb()}


def child_timed(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: load the pipeline (``spec["settings"]``: ``analyse_image``'s keyword arguments for
    ours, default ``ours_settings``), run it once on ``spec["warm_up"]`` (not timed), then
    process ``spec["file"]`` ``spec["runs"]`` times. Seconds: wall, of each call (the file's
    bytes are read before timing); peak RSS includes the models and the warm-up."""
    started = time.perf_counter()
    runner = load_runner(spec["pipeline"], spec.get("settings"))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    runner.run(runner.prepare(Path(spec["warm_up"])))
    warm_up_s = time.perf_counter() - started
    prepared = runner.prepare(Path(spec["file"]))
    runs = []
    for _ in range(spec["runs"]):
        seconds, det = timed(runner.run, prepared)
        runs.append(seconds)
    return {"load_s": load_s, "warm_up_s": warm_up_s, "runs_s": runs, "seconds": statistics.median(runs),
            "faces": len(det.boxes), "width": det.width, "height": det.height, "peak_rss_mb": peak_rss_mb()}


def agreement_jpeg(path: Path) -> bytes:
    """``path`` decoded upright (Pillow, ``ImageOps.exif_transpose``), as RGB, reduced (Lanczos)
    to at most ``AGREEMENT_MAX_PIXELS``, and encoded as JPEG of ``AGREEMENT_JPEG_QUALITY``."""
    import io

    from PIL import Image, ImageOps

    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img).convert("RGB")
    pixels = upright.width * upright.height
    if pixels > AGREEMENT_MAX_PIXELS:
        scale = (AGREEMENT_MAX_PIXELS / pixels) ** 0.5
        size = (max(1, int(upright.width * scale)), max(1, int(upright.height * scale)))
        upright = upright.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    upright.save(buf, "JPEG", quality=AGREEMENT_JPEG_QUALITY)
    return buf.getvalue()


def child_agreement(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: for each of ``spec["files"]``, the original pipeline and ours (``spec["profile"]``,
    default settings) on the same pixels (``agreement_jpeg``: ours gets the JPEG bytes, the
    original the RGB array Pillow decodes from them); faces paired one to one by box (IoU >=
    ``AGREEMENT_IOU``, greedy in decreasing IoU); per pair the Euclidean distance between the
    two 128-d descriptors. Boxes are (left, top, right, bottom) pixels."""
    import io

    import face_recognition
    from PIL import Image

    from kanta.faces.boxes import iou

    load_runner(spec["profile"])  # ours' models; face_recognition's loaded on import
    settings = ours_settings(spec["profile"])
    photos = []
    for name in spec["files"]:
        data = agreement_jpeg(Path(name))
        with Image.open(io.BytesIO(data)) as img:
            rgb = np.asarray(img.convert("RGB"))
        locs = face_recognition.face_locations(rgb, number_of_times_to_upsample=1, model="hog")
        original = np.array(face_recognition.face_encodings(rgb, locs), dtype=np.float64).reshape(-1, 128)
        ours = run_ours(data, settings)
        boxes_original = [ltrb(tuple(loc)) for loc in locs]
        boxes_ours = [ltrb(b) for b in ours.boxes]
        pairs = []
        for i, j in enumerate(match(boxes_original, boxes_ours, AGREEMENT_IOU)):
            if j is not None:
                pairs.append({"original": i, "ours": j, "iou": iou(boxes_original[i], boxes_ours[j]),
                              "distance": float(np.linalg.norm(original[i] - ours.descriptors[j]))})
        photos.append({"file": name, "width": rgb.shape[1], "height": rgb.shape[0],
                       "boxes_original": boxes_original, "boxes_ours": boxes_ours, "pairs": pairs})
    return {"photos": photos, "peak_rss_mb": peak_rss_mb()}


CHILD_TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "detect": child_detect,
    "single": child_single,
    "timed": child_timed,
    "agreement": child_agreement,
}


def child_main(spec_json: str) -> int:
    """Entry point of a child process: run the task in ``spec_json`` and write its result as
    JSON to ``spec["out"]``. Any exception ends the process with a traceback on stderr."""
    set_address_space_limit()
    spec = json.loads(spec_json)
    result = CHILD_TASKS[spec["task"]](spec)
    Path(spec["out"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def run_child(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run ``spec`` in a fresh Python process of this script; return its result, or
    ``{"failed": reason}`` when it times out, is killed or raises."""
    with tempfile.TemporaryDirectory(prefix="kanta-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec | {"out": str(out)})]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"failed": f"timed out after {timeout_s:g} s (killed)"}
        if proc.returncode == 0 and out.is_file():
            return json.loads(out.read_text(encoding="utf-8"))
        if proc.returncode < 0:
            reason = f"killed by {signal.Signals(-proc.returncode).name}"
        else:
            reason = f"exit code {proc.returncode}"
        last = [line for line in proc.stderr.splitlines() if line.strip()][-1:]
        return {"failed": reason + (f": {last[0].strip()}" if last else "")}


# --------------------------------------------------------------------------- detection benchmark


@dataclass(frozen=True)
class LabelledFace:
    """One row of ``boxes.csv``: category and box (left, top, right, bottom) in upright pixels."""

    category: str
    box: LTRB


@dataclass(frozen=True)
class LabelledImage:
    """A photo of the detection set: its labelled faces and upright size in megapixels."""

    path: Path
    faces: list[LabelledFace]
    megapixels: float


def read_detection_set(folder: Path) -> list[LabelledImage]:
    """The photos of ``folder/boxes.csv`` in file-name order, with their labelled faces."""
    from PIL import Image

    faces: dict[str, list[LabelledFace]] = {}
    with (folder / "boxes.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            left, top, width, height = (float(row[k]) for k in ("left", "top", "width", "height"))
            faces.setdefault(row["file"], []).append(
                LabelledFace(row["category"], (left, top, left + width, top + height)))
    images = []
    for name in sorted(faces):
        with Image.open(folder / name) as img:  # header only; EXIF rotation keeps width x height
            megapixels = img.width * img.height / 1e6
        images.append(LabelledImage(folder / name, faces[name], megapixels))
    return images


def match(labels: list[LTRB], detections: list[LTRB], threshold: float = MATCH_IOU) -> list[int | None]:
    """One-to-one greedy matching of one image: every (label, detection) pair with IoU >=
    ``threshold`` is taken in decreasing IoU when neither is matched yet. Returns, per label,
    the index of its detection or ``None``."""
    from kanta.faces.boxes import iou

    pairs = sorted(
        ((iou(lab, det), i, j) for i, lab in enumerate(labels) for j, det in enumerate(detections)),
        reverse=True,
    )
    matched: list[int | None] = [None] * len(labels)
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < threshold:
            break
        if matched[i] is None and j not in used:
            matched[i] = j
            used.add(j)
    return matched


@dataclass
class PipelineScore:
    """One pipeline on the detection set. Seconds are wall seconds; RSS in MB (10^6 bytes)."""

    pipeline: str
    found: dict[str, int]  # labelled faces found, per category
    total: dict[str, int]  # labelled faces, per category
    detections: int
    matched_detections: int
    excluded_detections: int  # detections our pipeline marks excluded (counted as detections)
    seconds: float  # sum over images
    images: int
    megapixels: float  # sum of upright megapixels
    peak_rss_mb: float
    load_s: float
    warm_up_s: float

    @property
    def found_all(self) -> int:
        return sum(self.found.values())

    @property
    def total_all(self) -> int:
        return sum(self.total.values())

    @property
    def recall(self) -> float:
        return self.found_all / self.total_all

    @property
    def precision(self) -> float:
        return self.matched_detections / self.detections if self.detections else 1.0

    @property
    def s_per_image(self) -> float:
        return self.seconds / self.images

    @property
    def s_per_mp(self) -> float:
        return self.seconds / self.megapixels

    def summary(self) -> dict[str, Any]:
        return asdict(self) | {
            "found_all": self.found_all, "total_all": self.total_all, "recall": self.recall,
            "precision": self.precision, "s_per_image": self.s_per_image, "s_per_mp": self.s_per_mp,
        }


def score(pipeline: str, images: list[LabelledImage], result: dict[str, Any],
          categories: list[str]) -> tuple[PipelineScore, list[dict[str, Any]]]:
    """Match a child's detections against the labels; return the score and, per image, the
    detections, each label's match and IoU (for the JSON report)."""
    from kanta.faces.boxes import iou

    found = dict.fromkeys(categories, 0)
    total = dict.fromkeys(categories, 0)
    detections = matched_detections = excluded = 0
    per_image = []
    for image, out in zip(images, result["images"], strict=True):
        assert out["file"] == image.path.name
        boxes = [tuple(b) for b in out["boxes"]]
        matches = match([f.box for f in image.faces], boxes)
        for face, j in zip(image.faces, matches):
            total[face.category] += 1
            found[face.category] += j is not None
        detections += len(boxes)
        matched_detections += sum(j is not None for j in matches)
        excluded += sum(e is not None for e in out["excluded"])
        per_image.append(out | {
            "megapixels": image.megapixels,
            "labels": [
                {"category": f.category, "box": f.box, "detection": j,
                 "iou": None if j is None else iou(f.box, boxes[j])}
                for f, j in zip(image.faces, matches)
            ],
        })
    s = PipelineScore(
        pipeline=pipeline, found=found, total=total, detections=detections,
        matched_detections=matched_detections, excluded_detections=excluded,
        seconds=sum(out["seconds"] for out in result["images"]), images=len(images),
        megapixels=sum(i.megapixels for i in images), peak_rss_mb=result["peak_rss_mb"],
        load_s=result["load_s"], warm_up_s=result["warm_up_s"],
    )
    return s, per_image


def print_detection_table(scores: dict[str, PipelineScore | str], categories: list[str]) -> None:
    """One row per pipeline: found/total per category, recall, precision, s/image, s/MP, RSS.
    A failed pipeline (its value is the reason) gets its reason instead."""
    widths = {c: max(len(c), 7) for c in categories}
    header = (f"{'pipeline':<9}" + "".join(f"  {c:>{widths[c]}}" for c in categories)
              + f"  {'recall':>13}  {'precision':>13}  {'s/image':>7}  {'s/MP':>6}  {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    for name, s in scores.items():
        if isinstance(s, str):
            print(f"{name:<9}  failed: {s}")
            continue
        cells = "".join(f"  {f'{s.found[c]}/{s.total[c]}':>{widths[c]}}" for c in categories)
        recall = f"{s.found_all}/{s.total_all} {s.recall:.3f}"
        precision = f"{s.matched_detections}/{s.detections} {s.precision:.3f}"
        print(f"{name:<9}{cells}  {recall:>13}  {precision:>13}  {s.s_per_image:>7.3f}"
              f"  {s.s_per_mp:>6.3f}  {s.peak_rss_mb:>11.0f}")


def tilted_turned(s: PipelineScore) -> tuple[int, int]:
    """(found, total) over the ``tilted`` and ``turned`` faces together."""
    return (s.found.get("tilted", 0) + s.found.get("turned", 0),
            s.total.get("tilted", 0) + s.total.get("turned", 0))


def ratios(s: PipelineScore, original: PipelineScore) -> dict[str, Any]:
    """A profile against the original: found-count ratios and the seconds-per-image ratio."""
    tt, tt_orig = tilted_turned(s)[0], tilted_turned(original)[0]
    return {
        "tilted_turned_found": tt,
        "tilted_turned_found_original": tt_orig,
        "tilted_turned_ratio": tt / tt_orig if tt_orig else float("inf"),
        "recall_ratio": s.found_all / original.found_all if original.found_all else float("inf"),
        "s_per_image_ratio": s.s_per_image / original.s_per_image,
        "precision": s.precision,
    }


def criteria(scores: dict[str, PipelineScore], original: PipelineScore) -> list[dict[str, Any]]:
    """The detection profiles' criteria for the profiles measured: each with its value and whether it holds."""
    out: list[dict[str, Any]] = []
    if "balanced" in scores:
        r = ratios(scores["balanced"], original)
        tt_total = tilted_turned(original)[1]
        out += [
            {"profile": "balanced", "criterion": "tilted+turned faces found >= 1.5x the original's",
             "value": f"{r['tilted_turned_found']}/{r['tilted_turned_found_original']} = {r['tilted_turned_ratio']:.2f}"
                      f" (the set has {tt_total} tilted+turned faces: at most "
                      f"{tt_total / r['tilted_turned_found_original']:.2f} possible)",
             "holds": r["tilted_turned_ratio"] >= 1.5},
            {"profile": "balanced", "criterion": "precision >= 0.95",
             "value": f"{r['precision']:.3f}", "holds": r["precision"] >= 0.95},
            {"profile": "balanced", "criterion": "seconds per image <= 2x the original's",
             "value": f"{r['s_per_image_ratio']:.2f}x", "holds": r["s_per_image_ratio"] <= 2.0},
        ]
    if "fast" in scores:
        fast = scores["fast"]
        r = ratios(fast, original)
        worse = [f"{c} {fast.found[c]}/{fast.total[c]} vs {original.found[c]}/{original.total[c]}"
                 for c in fast.found if fast.found[c] < original.found[c]]
        out += [
            {"profile": "fast", "criterion": "seconds per image <= 1.0x the original's",
             "value": f"{r['s_per_image_ratio']:.2f}x", "holds": r["s_per_image_ratio"] <= 1.0},
            {"profile": "fast", "criterion": "overall recall >= the original's",
             "value": f"{fast.found_all}/{fast.total_all} vs {original.found_all}/{original.total_all}",
             "holds": fast.found_all >= original.found_all},
            {"profile": "fast", "criterion": "recall per category >= the original's",
             "value": "fewer in: " + "; ".join(worse) if worse else "no category with fewer",
             "holds": not worse},
        ]
    return out


def detection_benchmark(folder: Path, profiles: list[str]) -> dict[str, Any]:
    """Run the original and ``profiles`` on the labelled set, print the tables; return the report."""
    images = read_detection_set(folder)
    categories = [c for c in ("portrait", "group", "turned", "tilted", "exif", "small")
                  if any(f.category == c for i in images for f in i.faces)]
    categories += sorted({f.category for i in images for f in i.faces} - set(categories))
    settings = {p: ours_settings(p) for p in profiles}
    common = {k: v for k, v in next(iter(settings.values()), {}).items() if k != "profile"}
    warm = images[0].path
    print(f"Detection benchmark: {len(images)} images, {sum(len(i.faces) for i in images)} labelled faces, "
          f"{sum(i.megapixels for i in images):.1f} MP (upright) in {folder}")
    print(f"matching: a labelled face is found when a detection overlaps it with IoU >= {MATCH_IOU}, "
          "one to one per image (pairs taken in decreasing IoU)")
    print("original: face_recognition load_image_file(path) + face_locations(img, 1, \"hog\") + face_encodings; "
          "load_image_file ignores EXIF orientation (the original's behaviour), its boxes are compared as "
          "they come")
    print(f"ours: analyse_image(bytes, {', '.join(f'{k}={v}' for k, v in common.items())}, profile=<profile>), "
          "thumbnails and sharpness included; faces marked excluded count as detections")
    print(f"each pipeline in its own fresh process (address space limited to {CHILD_ADDRESS_SPACE / 1024**3:g} GiB): "
          f"models loaded and {warm.name} run once, not timed; then each image timed once (wall seconds)")
    print("s/MP = total seconds / total upright megapixels; peak RSS = ru_maxrss of that process "
          "(models, warm-up and all images), MB = 10^6 bytes")
    print()

    files = [str(i.path) for i in images]
    scores: dict[str, PipelineScore | str] = {}
    report: dict[str, Any] = {"folder": str(folder), "match_iou": MATCH_IOU, "warm_up_file": warm.name,
                              "ours_settings": settings, "pipelines": {}}
    for name in [ORIGINAL, *profiles]:
        result = run_child({"task": "detect", "pipeline": name, "files": files, "warm_up": str(warm)},
                           DETECTION_TIMEOUT_S)
        if "failed" in result:
            scores[name] = result["failed"]
            report["pipelines"][name] = {"failed": result["failed"]}
            continue
        s, per_image = score(name, images, result, categories)
        scores[name] = s
        report["pipelines"][name] = {"summary": s.summary(), "images": per_image}
    print_detection_table(scores, categories)

    ok = {n: s for n, s in scores.items() if isinstance(s, PipelineScore)}
    print()
    print("model loading (s): " + ", ".join(f"{n} {s.load_s:.2f}" for n, s in ok.items())
          + "; warm-up (s): " + ", ".join(f"{n} {s.warm_up_s:.2f}" for n, s in ok.items()))
    print("detections marked excluded (too small / too blurry), counted above: "
          + ", ".join(f"{n} {s.excluded_detections}" for n, s in ok.items() if n != ORIGINAL))
    original = ok.get(ORIGINAL)
    if original is None:
        print("no ratios: the original pipeline failed")
    else:
        print()
        print("against the original (found = labelled faces found; s/image ratio = profile / original):")
        report["ratios"] = {}
        for name in profiles:
            if name not in ok:
                continue
            r = ratios(ok[name], original)
            report["ratios"][name] = r
            print(f"{name:<9} tilted+turned found {r['tilted_turned_found']}/{r['tilted_turned_found_original']} = "
                  f"{r['tilted_turned_ratio']:.2f}x; all found {ok[name].found_all}/{original.found_all} = "
                  f"{r['recall_ratio']:.2f}x; s/image {r['s_per_image_ratio']:.2f}x; precision {r['precision']:.3f}")
        report["criteria"] = criteria({n: s for n, s in ok.items() if n != ORIGINAL}, original)
        if report["criteria"]:
            print_criteria("criteria (detection profiles):", report["criteria"])
    report["default_criteria"] = default_detection_criteria(ok.get(default_profile()))
    print_criteria(f"criteria for the default profile ({default_profile()}) on the detection set:",
                   report["default_criteria"])
    return report


def default_detection_criteria(s: PipelineScore | None) -> list[dict[str, Any]]:
    """The default profile's targets on the detection set (``DETECTION_*_TARGET``): overall
    recall, recall in every category, precision. ``holds`` is ``None`` when it was not measured."""
    profile = default_profile()
    names = (f"overall recall >= {DETECTION_RECALL_TARGET:.2f}",
             f"recall >= {DETECTION_CATEGORY_RECALL_TARGET:.2f} in every category",
             f"precision >= {DETECTION_PRECISION_TARGET:.2f}")
    if s is None:
        return [{"profile": profile, "criterion": n, "value": f"{profile} not run, or failed",
                 "holds": None} for n in names]
    per_category = {c: s.found[c] / s.total[c] for c in s.total if s.total[c]}
    low = [f"{c} {s.found[c]}/{s.total[c]} = {r:.3f}" for c, r in per_category.items()
           if r < DETECTION_CATEGORY_RECALL_TARGET]
    lowest = min(per_category, key=per_category.__getitem__)
    return [
        {"profile": profile, "criterion": names[0], "value": f"{s.found_all}/{s.total_all} = {s.recall:.3f}",
         "holds": s.recall >= DETECTION_RECALL_TARGET},
        {"profile": profile, "criterion": names[1],
         "value": ("below in: " + "; ".join(low)) if low else
                  f"lowest {lowest} {s.found[lowest]}/{s.total[lowest]} = {per_category[lowest]:.3f}",
         "holds": not low},
        {"profile": profile, "criterion": names[2],
         "value": f"{s.matched_detections}/{s.detections} = {s.precision:.3f}",
         "holds": s.precision >= DETECTION_PRECISION_TARGET},
    ]


def print_criteria(title: str, rows: list[dict[str, Any]]) -> None:
    """A blank line, ``title``, then one line per criterion: its value and whether it holds."""
    print()
    print(title)
    for c in rows:
        verdict = "not measured" if c["holds"] is None else "holds" if c["holds"] else "does not hold"
        print(f"{c['profile']:<9} {c['criterion']}: {c['value']} -> {verdict}")


# --------------------------------------------------------------------------- crowd set


@dataclass(frozen=True)
class CrowdFace:
    """One row of the crowd set's ``boxes.csv``: box (left, top, right, bottom) and height in
    pixels, and WIDER's attributes (``CROWD_ATTRIBUTES``)."""

    box: LTRB
    height: float
    attributes: dict[str, int]


@dataclass(frozen=True)
class CrowdImage:
    """A photo of the crowd set: its labelled faces and the boxes WIDER marks invalid (pixels)."""

    path: Path
    faces: list[CrowdFace]
    ignore: list[LTRB]


def read_crowd_set(folder: Path, limit: int | None = None) -> list[CrowdImage]:
    """The photos of ``folder/images.csv`` in its order (the first ``limit`` if given), with the
    faces of ``boxes.csv`` and the boxes of ``ignore_boxes.csv``."""
    def boxes(name: str) -> dict[str, list[dict[str, str]]]:
        rows: dict[str, list[dict[str, str]]] = {}
        path = folder / name
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    rows.setdefault(row["file"], []).append(row)
        return rows

    def corners(row: dict[str, str]) -> LTRB:
        x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        return (x, y, x + w, y + h)

    labelled, ignored = boxes("boxes.csv"), boxes("ignore_boxes.csv")
    with (folder / "images.csv").open(newline="", encoding="utf-8") as f:
        names = [row["file"] for row in csv.DictReader(f)]
    images = []
    for name in names[:limit]:
        faces = [CrowdFace(corners(r), float(r["h"]), {a: int(r[a]) for a in CROWD_ATTRIBUTES})
                 for r in labelled.get(name, [])]
        images.append(CrowdImage(folder / "images" / name, faces, [corners(r) for r in ignored.get(name, [])]))
    return images


def crowd_groups() -> list[str]:
    """Keys of the crowd recall: ``h>=40``, ``h>=20``, ``all``, then ``blur=0`` ... ``pose=1``."""
    return ([f"h>={h}" for h in CROWD_MIN_HEIGHTS] + ["all"]
            + [f"{a}={v}" for a, values in CROWD_ATTRIBUTES.items() for v in values])


def crowd_face_groups(face: CrowdFace) -> list[str]:
    """The recall groups (``crowd_groups``) a labelled face belongs to."""
    return ([f"h>={h}" for h in CROWD_MIN_HEIGHTS if face.height >= h] + ["all"]
            + [f"{a}={face.attributes[a]}" for a in CROWD_ATTRIBUTES])


@dataclass
class CrowdScore:
    """One pipeline on the crowd set. Seconds are wall seconds; RSS in MB (10^6 bytes).

    ``ignored_detections``: detections matched to no labelled face that overlap a box of
    ``ignore_boxes.csv`` with IoU >= ``MATCH_IOU``; they count as neither hit nor false positive.
    """

    pipeline: str
    found: dict[str, int]  # labelled faces found, per group of crowd_groups()
    total: dict[str, int]  # labelled faces, per group
    detections: int
    matched_detections: int
    ignored_detections: int
    excluded_detections: int  # detections our pipeline marks excluded (counted as detections)
    seconds: float  # sum over photos
    images: int
    peak_rss_mb: float
    load_s: float
    warm_up_s: float

    def recall(self, group: str) -> float | None:
        return self.found[group] / self.total[group] if self.total[group] else None

    @property
    def precision(self) -> float:
        counted = self.detections - self.ignored_detections
        return self.matched_detections / counted if counted else 1.0

    @property
    def s_per_photo(self) -> float:
        return self.seconds / self.images

    @property
    def faces_per_photo(self) -> float:
        return self.detections / self.images

    def summary(self) -> dict[str, Any]:
        return asdict(self) | {
            "recall": {g: self.recall(g) for g in self.total}, "precision": self.precision,
            "s_per_photo": self.s_per_photo, "faces_per_photo": self.faces_per_photo,
        }


def score_crowd(pipeline: str, images: list[CrowdImage],
                result: dict[str, Any]) -> tuple[CrowdScore, list[dict[str, Any]]]:
    """Match a child's detections against the crowd labels (``match``, IoU >= ``MATCH_IOU``);
    return the score and, per photo, the detections, matches and ignored detections."""
    from kanta.faces.boxes import iou

    found = dict.fromkeys(crowd_groups(), 0)
    total = dict.fromkeys(crowd_groups(), 0)
    detections = matched_detections = ignored = excluded = 0
    per_image = []
    for image, out in zip(images, result["images"], strict=True):
        assert out["file"] == image.path.name
        boxes = [tuple(b) for b in out["boxes"]]
        matches = match([f.box for f in image.faces], boxes)
        for face, j in zip(image.faces, matches):
            for group in crowd_face_groups(face):
                total[group] += 1
                found[group] += j is not None
        used = {j for j in matches if j is not None}
        on_ignored = [j for j, box in enumerate(boxes)
                      if j not in used and any(iou(box, ig) >= MATCH_IOU for ig in image.ignore)]
        detections += len(boxes)
        matched_detections += len(used)
        ignored += len(on_ignored)
        excluded += sum(e is not None for e in out["excluded"])
        per_image.append(out | {"labels": len(image.faces), "matches": matches, "ignored_detections": on_ignored})
    s = CrowdScore(
        pipeline=pipeline, found=found, total=total, detections=detections,
        matched_detections=matched_detections, ignored_detections=ignored, excluded_detections=excluded,
        seconds=sum(out["seconds"] for out in result["images"]), images=len(images),
        peak_rss_mb=result["peak_rss_mb"], load_s=result["load_s"], warm_up_s=result["warm_up_s"],
    )
    return s, per_image


def print_crowd_table(scores: dict[str, CrowdScore | str]) -> None:
    """One row per pipeline: recall per group, precision, s/photo, faces/photo, peak RSS. A
    failed pipeline (its value is the reason) gets its reason instead."""
    groups = crowd_groups()
    labels = {g: g.replace("occlusion", "occl").replace("=", "") if "h>=" not in g else g for g in groups}
    widths = {g: max(len(labels[g]), 5) for g in groups}
    header = (f"{'pipeline':<9}" + "".join(f"  {labels[g]:>{widths[g]}}" for g in groups)
              + f"  {'precision':>15}  {'s/photo':>7}  {'faces/photo':>11}  {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    for name, s in scores.items():
        if isinstance(s, str):
            print(f"{name:<9}  failed: {s}")
            continue
        cells = "".join(f"  {'-' if s.recall(g) is None else f'{s.recall(g):.3f}':>{widths[g]}}" for g in groups)
        precision = f"{s.matched_detections}/{s.detections - s.ignored_detections} {s.precision:.3f}"
        print(f"{name:<9}{cells}  {precision:>15}  {s.s_per_photo:>7.3f}  {s.faces_per_photo:>11.2f}"
              f"  {s.peak_rss_mb:>11.0f}")


def crowd_criteria(s: CrowdScore | None, original: CrowdScore | None) -> list[dict[str, Any]]:
    """The default profile's targets on the crowd set (``CROWD_*``): recall of faces at least
    40 and 20 px tall, precision, seconds per photo against the original's. ``holds`` is
    ``None`` when it was not measured."""
    profile = default_profile()
    missing = f"{profile} or the original not run, or failed"
    rows: list[dict[str, Any]] = []
    for height, target in CROWD_RECALL_TARGETS.items():
        group = f"h>={height}"
        recall = None if s is None else s.recall(group)
        rows.append({"profile": profile, "criterion": f"recall of faces >= {height} px tall >= {target:.2f}",
                     "value": missing if recall is None or s is None
                              else f"{s.found[group]}/{s.total[group]} = {recall:.3f}",
                     "holds": None if recall is None else recall >= target})
    rows.append({"profile": profile, "criterion": f"precision >= {CROWD_PRECISION_TARGET:.2f}",
                 "value": missing if s is None
                          else f"{s.matched_detections}/{s.detections - s.ignored_detections} = {s.precision:.3f}",
                 "holds": None if s is None else s.precision >= CROWD_PRECISION_TARGET})
    ratio = None if s is None or original is None else s.s_per_photo / original.s_per_photo
    rows.append({"profile": profile, "criterion": f"seconds per photo <= {CROWD_SPEED_RATIO_TARGET:g}x the original's",
                 "value": missing if ratio is None or s is None or original is None
                          else f"{s.s_per_photo:.3f} / {original.s_per_photo:.3f} = {ratio:.2f}x",
                 "holds": None if ratio is None else ratio <= CROWD_SPEED_RATIO_TARGET})
    return rows


def crowd_benchmark(folder: Path, profiles: list[str], limit: int | None) -> dict[str, Any]:
    """Run the original and ``profiles`` on the crowd set (the first ``limit`` photos if given),
    print the table, the ratios and the default profile's criteria; return the report."""
    if not (folder / "images.csv").is_file() or not (folder / "boxes.csv").is_file():
        print(f"Crowd set: skipped, no images.csv and boxes.csv in {folder} (see --crowd)")
        return {"folder": str(folder), "skipped": "images.csv or boxes.csv missing"}
    images = read_crowd_set(folder, limit)
    labelled = [f for i in images for f in i.faces]
    warm = images[0].path
    print(f"Crowd set: {len(images)} photos" + (f" (the first {limit}, --crowd-limit)" if limit else "")
          + f", {len(labelled)} labelled faces, {sum(len(i.ignore) for i in images)} ignore boxes in {folder}")
    print("labelled faces per group: " + ", ".join(
        f"{g} {sum(g in crowd_face_groups(f) for f in labelled)}" for g in crowd_groups()))
    print(f"the whole pipeline (descriptors included) per photo, as on the detection set; matching: IoU >= {MATCH_IOU}, "
          "one to one per photo, greedy in decreasing IoU; recall per group: h>=N = faces at least N px tall, "
          "blur 0 clear/1 normal/2 heavy, occlusion 0 none/1 partial/2 heavy, pose 0 typical/1 atypical (WIDER)")
    print(f"precision = matched detections / (all detections - unmatched ones overlapping an ignore box with "
          f"IoU >= {MATCH_IOU}); s/photo = mean wall seconds per photo; faces/photo = detections per photo; "
          f"each pipeline in its own fresh process, models loaded and {warm.name} run once, not timed")
    print()
    files = [str(i.path) for i in images]
    scores: dict[str, CrowdScore | str] = {}
    report: dict[str, Any] = {"folder": str(folder), "limit": limit, "photos": len(images),
                              "labelled_faces": len(labelled), "match_iou": MATCH_IOU,
                              "warm_up_file": str(warm.relative_to(folder)), "pipelines": {}}
    for name in [ORIGINAL, *profiles]:
        result = run_child({"task": "detect", "pipeline": name, "files": files, "warm_up": str(warm)},
                           CROWD_TIMEOUT_S)
        if "failed" in result:
            scores[name] = result["failed"]
            report["pipelines"][name] = {"failed": result["failed"]}
            continue
        s, per_image = score_crowd(name, images, result)
        scores[name] = s
        report["pipelines"][name] = {"summary": s.summary(), "images": per_image}
    print_crowd_table(scores)

    ok = {n: s for n, s in scores.items() if isinstance(s, CrowdScore)}
    print()
    print("detections on ignore boxes (not counted): " + ", ".join(f"{n} {s.ignored_detections}" for n, s in ok.items())
          + "; marked excluded (counted): "
          + ", ".join(f"{n} {s.excluded_detections}" for n, s in ok.items() if n != ORIGINAL))
    original = ok.get(ORIGINAL)
    if original is None:
        print("no ratios: the original pipeline failed")
    else:
        report["s_per_photo_ratio"] = {n: ok[n].s_per_photo / original.s_per_photo for n in profiles if n in ok}
        print("s/photo against the original (profile / original): "
              + ", ".join(f"{n} {r:.2f}x" for n, r in report["s_per_photo_ratio"].items()))
    report["criteria"] = crowd_criteria(ok.get(default_profile()), original)
    print_criteria(f"criteria for the default profile ({default_profile()}) on the crowd set:", report["criteria"])
    return report


# --------------------------------------------------------------------------- descriptor agreement


def agreement_photos(folder: Path) -> list[Path]:
    """``folder/photos/*.jpg`` by name, then the first ``AGREEMENT_PER_PERSON`` photos (by name)
    of each person folder of ``folder/asian`` (folders by name)."""
    photos = sorted(p for p in (folder / "photos").glob("*") if p.is_file() and p.suffix.lower() == ".jpg")
    people = folder / "asian"
    if people.is_dir():
        for person in sorted(p for p in people.iterdir() if p.is_dir()):
            photos += find_photos(person)[:AGREEMENT_PER_PERSON]
    return photos


def descriptor_agreement(folder: Path, limit: int | None) -> dict[str, Any]:
    """The original's and the default profile's descriptors of the same faces, in one child
    process (``child_agreement``); print the distance distribution and the median criterion."""
    photos = agreement_photos(folder) if folder.is_dir() else []
    if not photos:
        print(f"Descriptor agreement: skipped, no photos in {folder / 'photos'} or {folder / 'asian'}")
        return {"folder": str(folder), "skipped": "no photos"}
    photos = photos[:limit]
    profile = default_profile()
    print(f"Descriptor agreement: {len(photos)} photos" + (f" (the first {limit}, --agreement-limit)" if limit else "")
          + f" of {folder}: photos/*.jpg and the first {AGREEMENT_PER_PERSON} of each folder of asian/")
    print(f"each decoded upright (Pillow, exif_transpose), reduced (Lanczos) to at most {AGREEMENT_MAX_PIXELS / 1e6:g} MP "
          f"and re-encoded as JPEG quality {AGREEMENT_JPEG_QUALITY}; the original (face_locations(img, 1, \"hog\") + "
          f"face_encodings) on the RGB array Pillow decodes from that JPEG, {profile} (analyse_image, default "
          "settings) on its bytes: the same pixels")
    print(f"faces found by both: boxes paired one to one with IoU >= {AGREEMENT_IOU} (greedy in decreasing IoU); "
          "distance = Euclidean distance between the two 128-d descriptors of a pair; one child process")
    report: dict[str, Any] = {"folder": str(folder), "limit": limit, "profile": profile,
                              "max_pixels": AGREEMENT_MAX_PIXELS, "jpeg_quality": AGREEMENT_JPEG_QUALITY,
                              "pair_iou": AGREEMENT_IOU, "target_median": AGREEMENT_MEDIAN_TARGET}
    result = run_child({"task": "agreement", "profile": profile, "files": [str(p) for p in photos]},
                       AGREEMENT_TIMEOUT_S)
    if "failed" in result:
        print(f"failed: {result['failed']}")
        return report | {"failed": result["failed"]}
    for photo in result["photos"]:
        photo["file"] = str(Path(photo["file"]).relative_to(folder))
    distances = np.array([pair["distance"] for photo in result["photos"] for pair in photo["pairs"]])
    faces_original = sum(len(p["boxes_original"]) for p in result["photos"])
    faces_ours = sum(len(p["boxes_ours"]) for p in result["photos"])
    summary: dict[str, Any] = {"photos": len(photos), "faces_original": faces_original, "faces_ours": faces_ours,
                               "pairs": len(distances)}
    print(f"faces found: original {faces_original}, {profile} {faces_ours}; pairs (found by both) {len(distances)}")
    if len(distances):
        q = {k: float(np.percentile(distances, p)) for k, p in (("median", 50), ("p90", 90), ("p99", 99))}
        summary |= q | {"max": float(distances.max())}
        print(f"distance: n {len(distances)}, median {q['median']:.4f}, p90 {q['p90']:.4f}, p99 {q['p99']:.4f}, "
              f"max {summary['max']:.4f}")
    report |= {"summary": summary, "photos": result["photos"], "peak_rss_mb": result["peak_rss_mb"]}
    median = summary.get("median")
    report["criteria"] = [{"profile": profile, "criterion": f"median distance <= {AGREEMENT_MEDIAN_TARGET:g}",
                           "value": "no pairs" if median is None else f"{median:.4f}",
                           "holds": None if median is None else median <= AGREEMENT_MEDIAN_TARGET}]
    print_criteria("criterion:", report["criteria"])
    return report


# --------------------------------------------------------------------------- phone-size photo and selfie timing


def aspect(size: tuple[int, int]) -> str:
    """``size``'s aspect ratio in lowest terms, e.g. ``4:3`` for (4000, 3000)."""
    import math

    d = math.gcd(*size)
    return f"{size[0] // d}:{size[1] // d}"


def phone_timing() -> dict[str, Any]:
    """End-to-end seconds of a 12 MP JPEG for the original and the default profile, and of a
    4 MP selfie analysed as search does it; each in a fresh child; print; return the report."""
    from kanta.config import Settings
    from kanta.faces.pipeline import analysis_settings

    profile = default_profile()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kanta-bench-phone-") as tmp:
        phone = make_jpeg(MEMORY_SOURCE, PHONE_SIZE, Path(tmp))
        w, h = PHONE_SIZE
        print(f"Phone-size photo: {MEMORY_SOURCE.relative_to(REPO_ROOT)} centre-cropped to {aspect(PHONE_SIZE)}, resized to "
              f"{w}x{h} ({w * h / 1e6:.0f} MP, Lanczos, JPEG quality 90, {phone.stat().st_size / 1e6:.1f} MB), "
              "end to end: original = load_image_file(path) + face_locations(img, 1, \"hog\") + face_encodings; "
              f"{profile} = analyse_image(bytes, default settings) with thumbnails (decode, detection, descriptors, "
              "sharpness, thumbnails)")
        print(f"each in a fresh process: models loaded (not timed), one call on {PHONE_WARM_UP.name} (not timed), "
              f"then the photo timed {PHONE_RUNS} times (wall seconds, median)")
        print()
        print(f"{'pipeline':<9}  {'faces':>5}  {'median s':>8}  {'runs s':<22}  {'peak RSS MB':>11}")
        pipelines: dict[str, Any] = {}
        for name in (ORIGINAL, profile):
            result = run_child({"task": "timed", "pipeline": name, "file": str(phone), "warm_up": str(PHONE_WARM_UP),
                                "runs": PHONE_RUNS}, PHONE_TIMEOUT_S)
            pipelines[name] = result
            if "failed" in result:
                print(f"{name:<9}  failed: {result['failed']}")
                continue
            runs = ", ".join(f"{x:.2f}" for x in result["runs_s"])
            print(f"{name:<9}  {result['faces']:>5}  {result['seconds']:>8.2f}  {runs:<22}  {result['peak_rss_mb']:>11.0f}")
        report["phone"] = {"source": str(MEMORY_SOURCE.relative_to(REPO_ROOT)), "size": PHONE_SIZE,
                           "jpeg_bytes": phone.stat().st_size, "warm_up_file": PHONE_WARM_UP.name,
                           "runs": PHONE_RUNS, "pipelines": pipelines}
        if all("failed" not in r for r in pipelines.values()):
            ratio = pipelines[profile]["seconds"] / pipelines[ORIGINAL]["seconds"]
            report["phone"]["ratio"] = ratio
            print(f"{profile} / original: {ratio:.2f}x")

        selfie = make_jpeg(SELFIE_SOURCE, SELFIE_SIZE, Path(tmp))
        settings = analysis_settings(Settings(), query=True) | {"thumbnails": False}
        w, h = SELFIE_SIZE
        print()
        print(f"4 MP selfie: {SELFIE_SOURCE.relative_to(REPO_ROOT)} centre-cropped to {aspect(SELFIE_SIZE)} and resized up to "
              f"{w}x{h} (Lanczos, JPEG quality 90, {selfie.stat().st_size / 1e6:.2f} MB), analysed as search does: "
              f"analyse_image(bytes, {', '.join(f'{k}={v}' for k, v in settings.items())})")
        print(f"fresh process: models loaded, one call on the selfie (not timed), then {SELFIE_RUNS} timed "
              f"(wall seconds, median); target <= {SELFIE_TARGET_S:g} s")
        result = run_child({"task": "timed", "pipeline": settings["profile"], "settings": settings,
                            "file": str(selfie), "warm_up": str(selfie), "runs": SELFIE_RUNS}, PHONE_TIMEOUT_S)
        report["selfie"] = {"source": str(SELFIE_SOURCE.relative_to(REPO_ROOT)), "size": SELFIE_SIZE,
                            "jpeg_bytes": selfie.stat().st_size, "settings": settings, "runs": SELFIE_RUNS,
                            "target_s": SELFIE_TARGET_S, "result": result}
        if "failed" in result:
            print(f"{settings['profile']:<9}  failed: {result['failed']}")
            holds = None
        else:
            holds = result["seconds"] <= SELFIE_TARGET_S
            print(f"{settings['profile']:<9}  faces {result['faces']}, median {result['seconds']:.3f} s "
                  f"(min {min(result['runs_s']):.3f}, max {max(result['runs_s']):.3f}), "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB")
        report["selfie"]["criteria"] = [
            {"profile": settings["profile"], "criterion": f"selfie median seconds <= {SELFIE_TARGET_S:g}",
             "value": "not measured" if holds is None else f"{result['seconds']:.3f}", "holds": holds}]
        print_criteria("criterion:", report["selfie"]["criteria"])
    return report


# --------------------------------------------------------------------------- 24 MP memory check


def make_jpeg(source: Path, size: tuple[int, int], folder: Path) -> Path:
    """Write ``source`` centre-cropped to the aspect ratio of ``size`` and resized (Lanczos) to
    ``size`` (pixels), JPEG quality 90, into ``folder``; return its path. Deterministic for a
    given Pillow."""
    from PIL import Image

    target_w, target_h = size
    with Image.open(source) as img:
        img = img.convert("RGB")
        w, h = img.size
        if w * target_h > h * target_w:  # too wide: crop the sides
            crop_w = round(h * target_w / target_h)
            box = ((w - crop_w) // 2, 0, (w - crop_w) // 2 + crop_w, h)
        else:  # too tall: crop top and bottom
            crop_h = round(w * target_h / target_w)
            box = (0, (h - crop_h) // 2, w, (h - crop_h) // 2 + crop_h)
        out = folder / f"{source.stem}_{target_w}x{target_h}.jpg"
        img.crop(box).resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
    return out


def memory_check(pipelines: list[str]) -> dict[str, Any]:
    """Peak RSS of one fresh process per pipeline that loads its models and processes one
    24 MP JPEG once; print one line per pipeline against ``RSS_TARGET_MB``; return the report."""
    with tempfile.TemporaryDirectory(prefix="kanta-bench-24mp-") as tmp:
        path = make_jpeg(MEMORY_SOURCE, MEMORY_SIZE, Path(tmp))
        size_mb = path.stat().st_size / 1e6
        w, h = MEMORY_SIZE
        print(f"24 MP memory check: {MEMORY_SOURCE.relative_to(REPO_ROOT)} centre-cropped to 3:2, resized to "
              f"{w}x{h} ({w * h / 1e6:.0f} MP, Lanczos, JPEG quality 90, {size_mb:.1f} MB)")
        print("one fresh process per pipeline: models loaded, then the file processed once; seconds = that call "
              f"(wall); peak RSS includes the models; target < {RSS_TARGET_MB:.0f} MB; timeout "
              f"{MEMORY_TIMEOUT_S:g} s, address space limited to {CHILD_ADDRESS_SPACE / 1024**3:g} GiB")
        print(f"(the original upsamples once: HOG on {2 * w}x{2 * h} = {4 * w * h / 1e6:.0f} MP)")
        print()
        print(f"{'pipeline':<9}  {'faces':>5}  {'seconds':>7}  {'load s':>6}  {'peak RSS MB':>11}  target")
        report: dict[str, Any] = {"source": str(MEMORY_SOURCE.relative_to(REPO_ROOT)), "size": MEMORY_SIZE,
                                  "jpeg_bytes": path.stat().st_size, "target_mb": RSS_TARGET_MB,
                                  "timeout_s": MEMORY_TIMEOUT_S, "address_space_limit": CHILD_ADDRESS_SPACE,
                                  "pipelines": {}}
        for name in pipelines:
            result = run_child({"task": "single", "pipeline": name, "file": str(path)}, MEMORY_TIMEOUT_S)
            if "failed" in result:
                print(f"{name:<9}  failed: {result['failed']}")
                result["passes"] = False
            else:
                result["passes"] = result["peak_rss_mb"] < RSS_TARGET_MB
                print(f"{name:<9}  {result['faces']:>5}  {result['seconds']:>7.2f}  {result['load_s']:>6.2f}"
                      f"  {result['peak_rss_mb']:>11.0f}  {'pass' if result['passes'] else 'fail'}")
            report["pipelines"][name] = result
    return report


# --------------------------------------------------------------------------- command line


def print_machine(machine: dict[str, Any], started_at: str) -> None:
    """Start time, CPU, OS, Python and the library versions."""
    print(f"bench/encode.py, {started_at}")
    print(f"machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
          f"Python {machine['python']}")
    print(f"dlib {machine['dlib_version']} from {machine['dlib_distribution']} "
          f"{machine['dlib_distribution_version']} (dlib-bin: {'yes' if machine['dlib_is_dlib_bin'] else 'no'}; "
          f"AVX: {'yes' if machine['dlib_avx'] else 'no'}, CUDA: {'yes' if machine['dlib_cuda'] else 'no'}), "
          f"face_recognition {machine['face_recognition_version']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from kanta.faces.detection import PROFILES

    parser = argparse.ArgumentParser(
        description="Detection benchmark on bench/data/detection, crowd set, descriptor agreement, phone-size "
                    "and selfie timing and 24 MP memory check (default), or per-photo timing of ours against the "
                    "original pipeline (--photos / --resize-mp).")
    timing = parser.add_argument_group("per-photo timing (runs instead of the default when given)")
    timing.add_argument("--photos", type=Path, metavar="DIR",
                        help=f"folder of .jpg/.jpeg/.png photos (with --resize-mp alone: {DEFAULT_PHOTOS})")
    timing.add_argument("--resize-mp", type=float, metavar="MP",
                        help="first resize every photo (Lanczos, JPEG quality 90) to about MP megapixels, "
                             "e.g. 12 for phone-camera size")
    timing.add_argument("--repeat", type=int, metavar="N",
                        help="timed runs per photo and pipeline; the median is kept (default: 3)")
    default = parser.add_argument_group(
        "the default run: detection benchmark, crowd set, descriptor agreement, phone-size and selfie timing, "
        "24 MP check")
    default.add_argument("--profiles", nargs="+", choices=list(PROFILES), metavar="PROFILE",
                         help=f"our profiles to compare with the original: {', '.join(PROFILES)} (default: all)")
    default.add_argument("--crowd", type=Path, metavar="DIR", default=CROWD_SET,
                         help=f"crowd set (WIDER FACE part, read at run time; default: {CROWD_SET})")
    default.add_argument("--crowd-limit", type=int, metavar="N",
                         help="only the first N photos of the crowd set (quick runs)")
    default.add_argument("--agreement-limit", type=int, metavar="N",
                         help="only the first N photos of the descriptor agreement (quick runs)")
    default.add_argument("--skip-24mp", action="store_true", help="leave out the 24 MP memory check")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    args.timing = args.photos is not None or args.resize_mp is not None
    for option in ("crowd_limit", "agreement_limit"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.timing:
        if (args.skip_24mp or args.profiles is not None or args.crowd != CROWD_SET or args.crowd_limit is not None
                or args.agreement_limit is not None):
            parser.error("--profiles, --crowd, --crowd-limit, --agreement-limit and --skip-24mp apply to the "
                         "default run, not to --photos/--resize-mp")
        args.photos = args.photos if args.photos is not None else DEFAULT_PHOTOS
        args.repeat = 3 if args.repeat is None else args.repeat
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        if not args.photos.is_dir():
            parser.error(f"--photos: not a folder: {args.photos}")
    elif args.repeat is not None:
        parser.error("--repeat applies to the per-photo timing (--photos/--resize-mp)")
    else:
        args.profiles = list(dict.fromkeys(args.profiles or PROFILES))  # given order, no repeats
    return args


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON to ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


def detection_main(args: argparse.Namespace) -> int:
    """The default run: detection benchmark, crowd set, descriptor agreement, phone-size and
    selfie timing, then the 24 MP memory check."""
    if not (DETECTION_SET / "boxes.csv").is_file():
        raise SystemExit(f"no labelled detection set: {DETECTION_SET / 'boxes.csv'} is missing")
    machine = machine_info()
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    code = git_state()
    print_machine(machine, started_at)
    changed = code["kanta_uncommitted"]
    print(f"code: commit {code['commit']}; uncommitted changes under kanta/: "
          + ("unknown" if changed is None else ", ".join(changed) or "none"))
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print()
    report: dict[str, Any] = {
        "started_at": started_at,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine,
        "code": code,
        "load_average_start": os.getloadavg(),
        "detection": detection_benchmark(DETECTION_SET, args.profiles),
    }
    print()
    report["crowd"] = crowd_benchmark(args.crowd.resolve(), args.profiles, args.crowd_limit)
    print()
    report["descriptor_agreement"] = descriptor_agreement(IDENTITIES, args.agreement_limit)
    print()
    report["timing"] = phone_timing()
    if not args.skip_24mp:
        print()
        report["memory_24mp"] = memory_check([ORIGINAL, *args.profiles])
    report["load_average_end"] = os.getloadavg()
    print()
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in report["load_average_end"]))
    if args.json:
        write_json(args.json, report)
    return 0


def timing_main(args: argparse.Namespace) -> int:
    """Per-photo timing of ours against the baseline (``--photos`` / ``--resize-mp``)."""
    from kanta.config import Settings
    from kanta.faces.pipeline import ImageRejected, analysis_settings

    folder = args.photos.resolve()
    photos = find_photos(folder)
    if not photos:
        raise SystemExit(f"no .jpg/.jpeg/.png photos in {folder}")
    labelled = labelled_counts(folder)
    if args.resize_mp:
        photos = resize_photos(photos, args.resize_mp, Path(tempfile.mkdtemp(prefix="kanta-bench-")))
        print(f"photos resized to about {args.resize_mp:g} MP in {photos[0].parent}")
    settings = analysis_settings(Settings())
    machine = machine_info()
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")

    print_machine(machine, started_at)
    print(f"photos: {len(photos)} in {folder}")
    print(f"ours: analyse_image(bytes, {', '.join(f'{k}={v}' for k, v in settings.items())})")
    print("baseline: face_recognition load_image_file(path) + face_locations(upsample=1, hog) "
          "+ face_encodings")

    warm_photo, warm_s = warm_up(photos, settings)
    print(f"warm-up: models loaded and both pipelines run once on {warm_photo.name} "
          f"({warm_s:.2f} s, not timed)")
    print(f"timing: median of {args.repeat} runs per photo and pipeline, wall seconds, "
          "pipelines interleaved per photo")
    print()

    results: list[ImageResult] = []
    skipped: list[str] = []
    for path in photos:
        try:
            results.append(measure(path, settings, args.repeat, labelled.get(path.name)))
        except (ImageRejected, OSError) as exc:
            skipped.append(f"{path.name}: {exc}")
    if not results:
        raise SystemExit("every photo was rejected: " + "; ".join(skipped))

    print_table(results)
    for line in skipped:
        print(f"skipped {line}")
    summary = summarise(results)
    print_summary(summary)

    if args.json:
        write_json(args.json, {
            "started_at": started_at,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": machine,
            "photos": str(folder),
            "repeat": args.repeat,
            "ours_settings": settings,
            "warm_up": {"file": warm_photo.name, "seconds": warm_s},
            "images": [asdict(r) | {"megapixels": r.megapixels} for r in results],
            "skipped": skipped,
            "summary": summary,
        })
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # hidden: a child process of run_child, one JSON argument
        return child_main(argv[1])
    args = parse_args(argv)
    return timing_main(args) if args.timing else detection_main(args)


if __name__ == "__main__":
    sys.exit(main())
