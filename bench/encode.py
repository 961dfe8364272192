"""Kanta's face pipeline against the original face_recognition pipeline: recall, precision,
time and memory.

Two benchmarks, chosen by the arguments:

**Detection benchmark** (the default run, then the 24 MP memory check). On the labelled
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
against the original and the issue's criteria.

**24 MP memory check** (``--skip-24mp`` to leave it out). A 6000x4000 JPEG is built from
``tests/data/group_biden_obama.jpg`` (centre crop to 3:2, Lanczos, quality 90); for each
pipeline one fresh process loads the models and processes that file once. Printed: seconds
of that call, faces found, and peak RSS against the 700 MB target.

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

    .venv/bin/python bench/encode.py                                    # detection + 24 MP
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
#: Peak RSS target for one 24 MP JPEG, MB (10^6 bytes), from the issue.
RSS_TARGET_MB = 700.0

# `python bench/encode.py` puts bench/ on sys.path, not the repository root that holds kanta/.
sys.path.insert(0, str(REPO_ROOT))

from common import git_state  # bench/common.py: this directory is on sys.path

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


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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


def ours_settings(profile: str) -> dict[str, Any]:
    """``analyse_image`` keyword arguments of the default ``Settings()`` with ``profile``."""
    from kanta.config import Settings
    from kanta.faces.pipeline import analysis_settings

    return analysis_settings(Settings()) | {"profile": profile}


def load_runner(pipeline: str) -> Runner:
    """Load ``pipeline``'s models (``original`` or a profile name) and return its runner.

    The original's models load when face_recognition is imported (all of them: HOG, CNN,
    5- and 68-point landmarks, ResNet). Ours load HOG, the 5-point landmarks and ResNet,
    plus the CNN detector when the profile uses it.
    """
    if pipeline == ORIGINAL:
        import face_recognition  # noqa: F401  (loads its models)

        return Runner(prepare=lambda path: path, run=run_baseline)
    from kanta.faces.detection import PROFILES
    from kanta.faces.models import models

    settings = ours_settings(pipeline)
    if PROFILES[pipeline].cnn_max_side:
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


CHILD_TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "detect": child_detect,
    "single": child_single,
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
    from kanta.faces.detection import iou

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
    from kanta.faces.detection import iou

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
    """The issue's criteria for the profiles measured: each with its value and whether it holds."""
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
        return report
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
        print()
        print("criteria (issue):")
        for c in report["criteria"]:
            print(f"{c['profile']:<9} {c['criterion']}: {c['value']} -> {'holds' if c['holds'] else 'does not hold'}")
    return report


# --------------------------------------------------------------------------- 24 MP memory check


def make_24mp_jpeg(folder: Path) -> Path:
    """Write ``MEMORY_SOURCE`` centre-cropped to 3:2 and resized (Lanczos) to ``MEMORY_SIZE``,
    JPEG quality 90, into ``folder``; return its path. Deterministic for a given Pillow."""
    from PIL import Image

    target_w, target_h = MEMORY_SIZE
    with Image.open(MEMORY_SOURCE) as img:
        img = img.convert("RGB")
        w, h = img.size
        if w * target_h > h * target_w:  # too wide: crop the sides
            crop_w = round(h * target_w / target_h)
            box = ((w - crop_w) // 2, 0, (w - crop_w) // 2 + crop_w, h)
        else:  # too tall: crop top and bottom
            crop_h = round(w * target_h / target_w)
            box = (0, (h - crop_h) // 2, w, (h - crop_h) // 2 + crop_h)
        out = folder / f"{MEMORY_SOURCE.stem}_{target_w}x{target_h}.jpg"
        img.crop(box).resize(MEMORY_SIZE, Image.Resampling.LANCZOS).save(out, "JPEG", quality=90)
    return out


def memory_check(pipelines: list[str]) -> dict[str, Any]:
    """Peak RSS of one fresh process per pipeline that loads its models and processes one
    24 MP JPEG once; print one line per pipeline against ``RSS_TARGET_MB``; return the report."""
    with tempfile.TemporaryDirectory(prefix="kanta-bench-24mp-") as tmp:
        path = make_24mp_jpeg(Path(tmp))
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
        description="Detection benchmark on bench/data/detection and 24 MP memory check (default), or "
                    "per-photo timing of ours against the original pipeline (--photos / --resize-mp).")
    timing = parser.add_argument_group("per-photo timing (runs instead of the default when given)")
    timing.add_argument("--photos", type=Path, metavar="DIR",
                        help=f"folder of .jpg/.jpeg/.png photos (with --resize-mp alone: {DEFAULT_PHOTOS})")
    timing.add_argument("--resize-mp", type=float, metavar="MP",
                        help="first resize every photo (Lanczos, JPEG quality 90) to about MP megapixels, "
                             "e.g. 12 for phone-camera size")
    timing.add_argument("--repeat", type=int, metavar="N",
                        help="timed runs per photo and pipeline; the median is kept (default: 3)")
    default = parser.add_argument_group("detection benchmark and 24 MP check (the default run)")
    default.add_argument("--profiles", nargs="+", choices=list(PROFILES), metavar="PROFILE",
                         help=f"our profiles to compare with the original: {', '.join(PROFILES)} (default: all)")
    default.add_argument("--skip-24mp", action="store_true", help="leave out the 24 MP memory check")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    args.timing = args.photos is not None or args.resize_mp is not None
    if args.timing:
        if args.skip_24mp or args.profiles is not None:
            parser.error("--profiles and --skip-24mp apply to the default run, not to --photos/--resize-mp")
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
    """The default run: detection benchmark, then the 24 MP memory check."""
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
