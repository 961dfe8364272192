"""Per-image time of Kanta's face pipeline against the original face_recognition pipeline.

What is measured, on the same photos in one process:

* **ours**: ``kanta.faces.pipeline.analyse_image(data, **analysis_settings(Settings()))``,
  the computation of the blob trigger: the file's bytes (already in memory, as the trigger
  receives them) are decoded with the EXIF orientation applied, faces are found with dlib's
  HOG detector (upsampled as the settings say) and all faces of the image are encoded by
  dlib's ResNet in one batch call.
* **baseline** (the original Kanta pipeline): face_recognition with HOG, upsample 1, full
  resolution, one process::

      img = face_recognition.load_image_file(path)
      locs = face_recognition.face_locations(img, number_of_times_to_upsample=1, model="hog")
      encs = face_recognition.face_encodings(img, locs)

  It reads the file by path, so its time includes reading the file (from the OS page cache
  after the first pass, which costs well under a millisecond for these sizes).

Method: both pipelines' models are loaded and each pipeline is run once on the first photo
before anything is timed (model loading is not in the figures). Each photo is then timed
``--repeat`` times per pipeline with ``time.perf_counter`` (wall seconds), the two pipelines
interleaved on that photo (which one goes first alternates between repeats), and the median
of the repeats is reported. The ratio is baseline seconds / ours seconds: above 1 means ours
is faster. For photos where both pipelines found the same boxes, the largest absolute
difference between our descriptors and face_recognition's is printed too (the two should
agree to float rounding).

Photos: every ``.jpg``/``.jpeg``/``.png`` in ``tests/data/`` of this repository by default,
or in ``--photos DIR`` (relative paths are taken from the current directory). When the folder
holds a ``labels.csv`` (columns ``file,faces,...``) or a ``boxes.csv`` (one row per face,
column ``file``), the labelled number of faces is shown next to the faces found.

Run from the repository root (works from any directory)::

    .venv/bin/python bench/encode.py
    .venv/bin/python bench/encode.py --repeat 5 --json bench/results/encode.json
    .venv/bin/python bench/encode.py --photos ../shared/faces/detection
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
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
#: Default photo folder.
DEFAULT_PHOTOS = REPO_ROOT / "tests" / "data"
#: File name suffixes taken as photos (compared lower-case).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")

# `python bench/encode.py` puts bench/ on sys.path, not the repository root that holds kanta/.
sys.path.insert(0, str(REPO_ROOT))

import dlib
import face_recognition

from kanta.config import Settings
from kanta.faces.pipeline import ImageRejected, analyse_image, analysis_settings, models

#: A face box as face_recognition writes it: (top, right, bottom, left), pixels.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Detection:
    """One pipeline's output for one photo: upright size in pixels, boxes and descriptors."""

    width: int
    height: int
    boxes: list[Box]
    descriptors: np.ndarray  # float64, shape (len(boxes), 128)


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


def run_ours(data: bytes, settings: dict[str, int]) -> Detection:
    """Kanta's blob-trigger computation on the file's bytes."""
    analysis = analyse_image(data, **settings)
    boxes = [(f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height, f.bbox.x) for f in analysis.faces]
    descriptors = np.array([f.descriptor for f in analysis.faces], dtype=np.float64).reshape(-1, 128)
    return Detection(analysis.width, analysis.height, boxes, descriptors)


def run_baseline(path: Path) -> Detection:
    """The original pipeline: face_recognition, HOG, upsample 1, full resolution."""
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help=f"folder of .jpg/.jpeg/.png photos (default: {DEFAULT_PHOTOS})")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per photo and pipeline; the median is kept (default: 3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--resize-mp", type=float, metavar="MP",
                        help="first resize every photo (Lanczos, JPEG quality 90) to about MP megapixels, "
                             "e.g. 12 for phone-camera size")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not args.photos.is_dir():
        parser.error(f"--photos: not a folder: {args.photos}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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

    print(f"bench/encode.py, {started_at}")
    print(f"machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
          f"Python {machine['python']}")
    print(f"dlib {machine['dlib_version']} from {machine['dlib_distribution']} "
          f"{machine['dlib_distribution_version']} (dlib-bin: {'yes' if machine['dlib_is_dlib_bin'] else 'no'}; "
          f"AVX: {'yes' if machine['dlib_avx'] else 'no'}, CUDA: {'yes' if machine['dlib_cuda'] else 'no'}), "
          f"face_recognition {machine['face_recognition_version']}")
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
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
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
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
