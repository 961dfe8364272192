"""Decompression bombs and lying headers: seconds and peak memory of the blob trigger's and
search's image analysis, before and after the checks Kanta makes before decoding; and the
survey of real photos the pixels-per-byte limit comes from.

**The files** (built in memory, the same bytes as ``tests/faces/bombs.py``):

* ``png-2828-1kB``: a valid all-black 1-bit PNG, 2828x2828 (8 MP) in 1,053 bytes;
* ``png-7000-6kB``: the same, 7000x7000 (49 MP) in 6,034 bytes;
* ``jpeg-632B-lies``: a complete 8x8 JPEG of 632 bytes whose frame header (SOF0) declares
  7000x7100 (49.7 MP);
* ``webp-3000-422B``: a flat lossless WebP, 3000x3000 (9 MP) in 422 bytes;
* ``three-at-once``: the first three sent together, one thread each in one process (a
  worker runs functions on a thread pool); search only, as the tester sent them;
* controls, files that are accepted: ``photo-320x240`` (``tests/data/obama_5_small.jpg``:
  the noise floor of the measurement), ``jpeg-12mp`` (``tests/data/group_biden_obama.jpg``
  enlarged to 12 MP, bicubic, JPEG quality 90, a phone photo's size), ``png-24mp-rgba``
  (``tests/data/obama_4_480p.jpg`` enlarged to 23.9 MP, RGBA, PNG compress level 9, 5.8 MB: a
  selfie just under ``KANTA_MAX_QUERY_IMAGE_PIXELS`` and ``KANTA_MAX_QUERY_IMAGE_BYTES`` in a
  format that cannot be decoded reduced) and ``png-50mp`` (``tests/data/obama_1.jpg`` enlarged
  to 49.9 MP, RGB, compress level 1, 24 MB: an event photo just under
  ``KANTA_MAX_IMAGE_PIXELS``; over the selfie byte limit). The files are built in a forked
  child, so that the worker's heap holds none of the images they were made from.

**The two paths**, each as its function runs it once the bytes are in memory:

* ``blob``: ``kanta.images.ingest.ingest_blob``'s byte check (``KANTA_MAX_IMAGE_BYTES``),
  then ``analyse_image(data, **analysis_settings(settings))`` (thumbnails included);
* ``search``: ``kanta.search.service.search_event``'s byte check
  (``KANTA_MAX_QUERY_IMAGE_BYTES``: over it is 413 before any decoding), then
  ``analyse_image(data, **analysis_settings(settings, query=True), thumbnails=False)``.

The database and storage calls around them are left out (milliseconds, and the same before
and after). Settings are ``kanta.config.Settings()`` defaults.

**Before and after.** *after* is ``kanta/faces/pipeline.py`` as it is in the working tree.
*before* is the same file at ``--before`` (default ``b11cbd0``, the last commit before these
checks), read with ``git show`` into a temporary file and imported as its own module: it
imports the current ``kanta.faces.detection``, ``models`` and ``boxes``, which it used
unchanged. Its search used the blob trigger's settings (its ``analysis_settings`` had no
``query``): 50 MP limit, no reduced decoding. Nothing in the working tree is changed.

**Measurement.** The parent process imports Kanta, loads the dlib models and analyses
``tests/data/obama_5_small.jpg`` once with each version: a warm worker. Each case then runs in
a child forked from it (``os.fork``: it starts with the worker's memory). The child reads its
``VmRSS`` (the start, the worker's baseline), resets its peak (writes ``5`` to
``/proc/self/clear_refs``, so ``VmHWM`` restarts from the current RSS), runs the case once and
reads ``VmHWM``: **peak MB above start** = ``VmHWM`` - start (MB = 10^6 bytes). Seconds are
wall (``time.perf_counter``) and CPU (``time.process_time``, all threads) of the case. The
outcome is the ``ImageRejected`` code, ``413`` for the byte limit, or what was found. A child
runs under an address-space limit (``RLIMIT_AS``, 8 GiB) and a timeout (``--timeout``, 300 s)
and is reported as ``crashed: <signal>`` or ``timed out`` when it ends that way.

**Survey** (the source of ``kanta.faces.pipeline.MAX_PIXELS_PER_BYTE`` and of the profiles'
``query_decode_max_pixels``): declared pixels per byte of file of every photo in
``tests/data``, ``bench/data/detection`` and ``../shared/faces`` (when present), per format;
of photos enlarged 4x (bicubic, smoother than any camera's photo) saved as JPEG quality 50 and
75 (every ``tests/data`` JPEG and every 6th of ``bench/data/detection``); of phone and desktop
screenshots (``tests/faces/bombs.py``'s ``screenshot_png``); of the bombs. Then the
width of the largest face found (balanced profile, full decode) relative to the square root
of the pixel count, over the 61 labelled photos of ``../shared/faces/identities/photos``.

Run from the repository root (works from any directory)::

    .venv/bin/python bench/bombs.py                      # about 3 minutes on 2 CPUs
    .venv/bin/python bench/bombs.py --skip-survey --json bench/results/bombs.json
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import io
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

#: Root of the repository (this file is ``<root>/bench/bombs.py``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The photos of the repository, and the shared labelled photos next to it.
TESTS_DATA = REPO_ROOT / "tests" / "data"
DETECTION_SET = REPO_ROOT / "bench" / "data" / "detection"
SHARED_FACES = REPO_ROOT.parent / "shared" / "faces"
#: The commit whose ``kanta/faces/pipeline.py`` is the code before the checks.
BEFORE_REV = "b11cbd0"
#: Address-space limit of every child, bytes (``RLIMIT_AS``).
CHILD_ADDRESS_SPACE = 8 * 1024**3
#: Target of the issue: peak above the worker's baseline for each bomb, MB.
TARGET_MB = 300.0
#: Suffixes of photo files (compared lower-case).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

# `python bench/bombs.py` puts bench/ on sys.path, not the repository root that holds kanta/.
sys.path.insert(0, str(REPO_ROOT))

from common import git_state  # bench/common.py: this directory is on sys.path

# The same hostile files the tests send (tests/faces/bombs.py).
from tests.faces.bombs import lying_jpeg, png_bomb, screenshot_png, webp_bomb

# --------------------------------------------------------------------------- the files


def enlarged(name: str, megapixels: float, fmt: str, mode: str = "RGB", **save: Any) -> bytes:
    """``tests/data/<name>`` enlarged (bicubic, aspect kept) to about ``megapixels``."""
    from PIL import Image

    img = Image.open(TESTS_DATA / name).convert("RGB")
    scale = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.convert(mode).save(buf, fmt, **save)
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    """One measured case: ``files`` analysed at once (one thread each when more than one)
    on ``paths`` (``blob``, ``search``)."""

    name: str
    files: tuple[bytes, ...]
    paths: tuple[str, ...]
    bomb: bool


def cases() -> list[Case]:
    """The bombs of the issue, one more, the three at once, and the controls."""
    png_2828, png_7000, jpeg = png_bomb(2828, 2828), png_bomb(7000, 7000), lying_jpeg()
    both = ("blob", "search")
    return [
        Case("png-2828-1kB", (png_2828,), both, True),
        Case("png-7000-6kB", (png_7000,), both, True),
        Case("jpeg-632B-lies", (jpeg,), both, True),
        Case("webp-3000-422B", (webp_bomb(3000),), both, True),
        Case("three-at-once", (png_2828, png_7000, jpeg), ("search",), True),
        Case("photo-320x240", ((TESTS_DATA / "obama_5_small.jpg").read_bytes(),), both, False),
        Case("jpeg-12mp", (enlarged("group_biden_obama.jpg", 12.0, "JPEG", quality=90),), both, False),
        Case("png-24mp-rgba", (enlarged("obama_4_480p.jpg", 23.9, "PNG", "RGBA", compress_level=9),), both, False),
        Case("png-50mp", (enlarged("obama_1.jpg", 49.9, "PNG", compress_level=1),), both, False),
    ]


def in_child(task: Callable[[], Any]) -> Any:
    """Run ``task`` in a forked child and return its (pickled) result: the images it makes
    and frees stay out of this process's heap, where the measured children would reuse them
    without their RSS growing."""
    import pickle

    sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="kanta-bench-") as tmp:
        out = Path(tmp) / "result.pickle"
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                out.write_bytes(pickle.dumps(task()))
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0 or not out.is_file():
            raise SystemExit(f"{getattr(task, '__name__', 'task')} failed in its child (status {status})")
        return pickle.loads(out.read_bytes())


def declared(data: bytes) -> str:
    """``WxH`` from the header (``?`` when it cannot be read)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return f"{img.width}x{img.height}"
    except Exception:  # noqa: BLE001  (a label only)
        return "?"


# --------------------------------------------------------------------------- the code measured


def load_before(rev: str) -> ModuleType:
    """``kanta/faces/pipeline.py`` at ``rev`` as module ``kanta_pipeline_before`` (``git show``)."""
    source = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"{rev}:kanta/faces/pipeline.py"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    path = Path(tempfile.mkdtemp(prefix="kanta-bench-")) / "pipeline_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("kanta_pipeline_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def path_call(pipeline: ModuleType, path: str, version: str) -> Callable[[bytes], str]:
    """What the blob trigger (``blob``) or search (``search``) runs on one file's bytes with
    ``pipeline`` (``version``: ``before`` or ``after``); returns the outcome in words."""
    from kanta.config import Settings

    settings = Settings()
    if path == "blob":
        max_bytes, kwargs = settings.max_image_bytes, pipeline.analysis_settings(settings)
    elif version == "before":  # search used the blob trigger's settings
        max_bytes, kwargs = settings.max_query_image_bytes, pipeline.analysis_settings(settings) | {
            "thumbnails": False}
    else:
        max_bytes, kwargs = settings.max_query_image_bytes, pipeline.analysis_settings(settings, query=True) | {
            "thumbnails": False}

    def run(data: bytes) -> str:
        if len(data) > max_bytes:
            return "413 payload_too_large"
        try:
            analysis = pipeline.analyse_image(data, **kwargs)
        except pipeline.ImageRejected as rejected:
            return rejected.code
        return f"accepted, {len(analysis.faces)} face(s)"

    return run


# --------------------------------------------------------------------------- forked children


def proc_status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process from ``/proc/self/status``, MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_in_child(run: Callable[[bytes], str], files: tuple[bytes, ...], timeout_s: float) -> dict[str, Any]:
    """Fork; in the child run ``run`` on each of ``files`` (threads when several) and return
    seconds, outcomes and peak RSS above the child's start; ``{"failed": reason}`` if it dies."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        code = 0
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE if hard == resource.RLIM_INFINITY
                                                    else min(CHILD_ADDRESS_SPACE, hard), hard))
            start = proc_status_mb("VmRSS")
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")  # VmHWM restarts from the current RSS
            wall, cpu = time.perf_counter(), time.process_time()
            if len(files) == 1:
                outcomes = [run(files[0])]
            else:
                with ThreadPoolExecutor(max_workers=len(files)) as pool:
                    outcomes = list(pool.map(run, files))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            result = {"start_mb": start, "peak_above_start_mb": proc_status_mb("VmHWM") - start,
                      "wall_s": wall, "cpu_s": cpu, "outcomes": outcomes}
        except BaseException as exc:  # noqa: BLE001  (reported to the parent)
            result, code = {"failed": f"{type(exc).__name__}: {exc}"}, 1
        os.write(write_end, json.dumps(result).encode())
        os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            return {"failed": f"timed out after {timeout_s:g} s (killed)"}
        time.sleep(0.05)
    with os.fdopen(read_end, "rb") as f:
        raw = f.read()
    if os.WIFSIGNALED(status):
        return {"failed": f"crashed: {signal.Signals(os.WTERMSIG(status)).name}"}
    return json.loads(raw) if raw else {"failed": f"exit code {os.WEXITSTATUS(status)}"}


# --------------------------------------------------------------------------- survey


def pixels_per_byte(data: bytes) -> tuple[float, str]:
    """Declared pixels per byte of ``data`` and its format."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.width * img.height / len(data), img.format or "?"


def survey() -> dict[str, Any]:
    """Pixels per byte of real photos, enlarged photos, screenshots and bombs; printed."""
    from PIL import Image

    from kanta.faces.pipeline import MAX_PIXELS_PER_BYTE

    folders = [f for f in (TESTS_DATA, DETECTION_SET, SHARED_FACES) if f.is_dir()]
    real: list[tuple[float, str, str]] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in PHOTO_SUFFIXES:
                ratio, fmt = pixels_per_byte(path.read_bytes())
                real.append((ratio, fmt, str(path.relative_to(REPO_ROOT.parent))))
    print(f"Real photos: {len(real)} files in " + ", ".join(str(f.relative_to(REPO_ROOT.parent)) for f in folders))
    by_format: dict[str, list[float]] = {}
    for ratio, fmt, _ in real:
        by_format.setdefault(fmt, []).append(ratio)
    for fmt, ratios in sorted(by_format.items()):
        print(f"  {fmt:<5} {len(ratios):>5} files: pixels per byte median {statistics.median(ratios):6.2f}, "
              f"max {max(ratios):6.2f}")
    top = max(real)
    print(f"  most pixels per byte: {top[0]:.2f} ({top[2]})")

    stressed = []
    sources = sorted(TESTS_DATA.glob("*.jpg")) + sorted(DETECTION_SET.glob("*.jpg"))[::6]
    for path in sources:
        img = Image.open(path).convert("RGB")
        big = img.resize((img.width * 4, img.height * 4), Image.Resampling.BICUBIC)
        for quality in (50, 75):
            buf = io.BytesIO()
            big.save(buf, "JPEG", quality=quality)
            stressed.append((big.width * big.height / buf.tell(), quality, path.name))
    top_enlarged = max(stressed)
    print(f"Photos enlarged 4x, JPEG quality 50 and 75 ({len(sources)} photos): max {top_enlarged[0]:.1f} pixels "
          f"per byte ({top_enlarged[2]}, quality {top_enlarged[1]})")
    shots = {"phone 1170x2532, photo 400 px wide": screenshot_png("obama_1.jpg", (1170, 2532), 400),
             "desktop 2560x1440, photo 320 px wide": screenshot_png("obama_1.jpg", (2560, 1440), 320)}
    shot_ratios = {k: pixels_per_byte(v)[0] for k, v in shots.items()}
    for label, ratio in shot_ratios.items():
        print(f"Screenshot PNG, {label}: {ratio:.1f} pixels per byte")
    flat = {}
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        Image.new("RGB", (4000, 3000), (120, 160, 200)).save(buf, fmt, **({"optimize": True} if fmt == "PNG" else {}))
        flat[fmt] = 12e6 / buf.tell()
    print(f"Flat colour 4000x3000: JPEG {flat['JPEG']:.0f}, PNG {flat['PNG']:.0f} pixels per byte")
    bombs = {c.name: pixels_per_byte(c.files[0])[0] for c in cases() if c.bomb and len(c.files) == 1}
    print("Bombs: " + ", ".join(f"{k} {v:,.0f}" for k, v in bombs.items()) + " pixels per byte")
    print(f"Limit (kanta.faces.pipeline.MAX_PIXELS_PER_BYTE): {MAX_PIXELS_PER_BYTE}: "
          f"{MAX_PIXELS_PER_BYTE / top[0]:.1f}x the most compact real photo; the smallest bomb is "
          f"{min(bombs.values()) / MAX_PIXELS_PER_BYTE:.0f}x over it")
    return {"real_photos": len(real), "by_format": {k: {"files": len(v), "median": statistics.median(v),
                                                        "max": max(v)} for k, v in by_format.items()},
            "most_compact_real": top, "enlarged_max": top_enlarged, "screenshots": shot_ratios,
            "flat_4000x3000": flat, "bombs": bombs, "limit": MAX_PIXELS_PER_BYTE}


def face_survey() -> dict[str, Any] | None:
    """Largest face width / sqrt(pixels) over the labelled photos of identities/photos."""
    import csv

    from kanta.faces.detection import PROFILES
    from kanta.faces.pipeline import analyse_image

    folder = SHARED_FACES / "identities" / "photos"
    if not (folder / "labels.csv").is_file():
        print(f"Selfie faces: {folder} is missing; skipped")
        return None
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as f:
        names = [row["file"] for row in csv.DictReader(f)]
    fractions = []
    for name in names:
        analysis = analyse_image((folder / name).read_bytes(), max_pixels=10**9, decode_max_pixels=10**9,
                                 thumbnails=False)
        if analysis.faces:
            widest = max(f.bbox.width for f in analysis.faces)
            fractions.append((widest / (analysis.width * analysis.height) ** 0.5, name))
    smallest = min(fractions)
    target = PROFILES["balanced"].query_decode_max_pixels
    print(f"Selfie faces ({len(names)} labelled photos of {folder.relative_to(REPO_ROOT.parent)}, faces in "
          f"{len(fractions)}): largest face width / sqrt(pixels) min {smallest[0]:.3f} ({smallest[1]}), "
          f"median {statistics.median(f for f, _ in fractions):.3f}; decoded to between {target / 4e6:g} and "
          f"{target / 1e6:g} MP the smallest is at least {smallest[0] * (target / 4) ** 0.5:.0f} px wide")
    return {"photos": len(names), "with_faces": len(fractions), "min": smallest,
            "median": statistics.median(f for f, _ in fractions), "query_decode_max_pixels": target}


# --------------------------------------------------------------------------- main


def run_cases(all_cases: list[Case], before: ModuleType | None, timeout_s: float) -> list[dict[str, Any]]:
    """Every case on its paths, before (when given) and after; one forked child each."""
    import kanta.faces.pipeline as after

    versions = {"before": before, "after": after} if before is not None else {"after": after}
    rows = []
    header = (f"{'case':<15} {'bytes':>9} {'declared':>10} {'path':<6} {'version':<6}  {'outcome':<40}"
              f" {'wall s':>7} {'CPU s':>7} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for case in all_cases:
        size = "+".join(str(len(f)) for f in case.files) if len(case.files) > 1 else str(len(case.files[0]))
        shape = declared(case.files[0]) if len(case.files) == 1 else "3 files"
        for path in case.paths:
            for version, module in versions.items():
                result = measure_in_child(path_call(module, path, version), case.files, timeout_s)
                row = {"case": case.name, "bytes": [len(f) for f in case.files], "declared": shape,
                       "path": path, "version": version, "bomb": case.bomb} | result
                rows.append(row)
                if "failed" in result:
                    print(f"{case.name:<15} {size:>9} {shape:>10} {path:<6} {version:<6}  {result['failed']}")
                    continue
                outcome = ", ".join(dict.fromkeys(result["outcomes"]))
                print(f"{case.name:<15} {size:>9} {shape:>10} {path:<6} {version:<6}  {outcome:<40.40}"
                      f" {result['wall_s']:>7.3f} {result['cpu_s']:>7.3f} {result['peak_above_start_mb']:>8.1f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seconds and peak memory of tiny-file bombs, before and after "
                                                 "Kanta's checks before decoding; and the pixels-per-byte survey.")
    parser.add_argument("--before", default=BEFORE_REV, metavar="REV",
                        help=f"commit of the code before the checks (default {BEFORE_REV}); 'none' to skip it")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds per child (default 300)")
    parser.add_argument("--skip-survey", action="store_true", help="leave out the pixels-per-byte and face survey")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)

    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    code = git_state()
    print(f"bench/bombs.py, {started_at}")
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    changed = code["kanta_uncommitted"]
    print(f"code: commit {code['commit']}; uncommitted changes under kanta/: "
          + ("unknown" if changed is None else ", ".join(changed) or "none"))
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    report: dict[str, Any] = {"started_at": started_at, "code": code, "before": args.before}
    if not args.skip_survey:
        print()
        report["survey"] = in_child(survey)
        report["faces"] = in_child(face_survey)
    all_cases = in_child(cases)

    from kanta.faces.models import models
    from kanta.faces.pipeline import analyse_image, analysis_settings

    before = None if args.before == "none" else load_before(args.before)
    from kanta.config import Settings

    warm = (TESTS_DATA / "obama_5_small.jpg").read_bytes()
    models()
    analyse_image(warm, **analysis_settings(Settings()))
    if before is not None:
        before.analyse_image(warm, **before.analysis_settings(Settings()))
    print()
    print(f"Worker: models loaded and tests/data/obama_5_small.jpg analysed by each version; "
          f"VmRSS {proc_status_mb('VmRSS'):.0f} MB. One forked child per row; peak MB = VmHWM above the "
          f"child's starting VmRSS (MB = 10^6 bytes); before = kanta/faces/pipeline.py at {args.before}")
    print()
    report["rows"] = run_cases(all_cases, before, args.timeout)
    worst = max((r["peak_above_start_mb"] for r in report["rows"]
                 if r["bomb"] and r["version"] == "after" and "failed" not in r), default=None)
    failed = [r for r in report["rows"] if r["bomb"] and r["version"] == "after" and "failed" in r]
    print()
    if worst is not None:
        print(f"after, bombs: largest peak above the worker's start {worst:.1f} MB "
              f"(target: under {TARGET_MB:.0f} MB): {'pass' if worst < TARGET_MB and not failed else 'fail'}")
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
