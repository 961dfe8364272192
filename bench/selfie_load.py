"""Selfie search under load through Kanta's local host over real HTTP: bytes in, JSON out.

Setup, self-contained in a temporary directory (the repository's ``.kanta/`` is not used):
an embedded PostgreSQL (pgserver) and Azurite on free ports (``kanta.local.services``), the
migrations (``kanta.migrate``), the containers (``kanta.storage.ensure_containers``), then
Kanta's local host (``kanta.local.host``: werkzeug, one thread per request, the blob trigger
poller and the timers) in a child process on a free port: this script run with a hidden
``--serve`` flag, so the load generator and the server do not share a GIL. Through the HTTP
API: an event (``POST /api/events``), every JPEG/PNG of ``tests/data`` uploaded the browser's
way (``POST /api/events/{code}/uploads``, then a ``PUT`` of the bytes to each SAS URL), a wait
until each photo is ``processed`` or ``failed`` (``GET /api/events/{code}/images``), a
re-clustering (``POST /api/events/{code}/recluster``) and a guest link with the upload and
find-me rights (``POST /api/events/{code}/guest-link``). The guest cap on searches
(``KANTA_GUEST_SEARCHES_PER_HOUR``) is raised so that no answer is a 429.

Selfies: the bytes of a few photos of ``tests/data`` (``--selfies``), as stored, or with
``--selfie-size MP`` decoded (EXIF orientation applied), resized to about that many
megapixels (Lanczos, up or down) and sent as JPEG (quality 90).

What is measured, each time as wall-clock seconds (``time.perf_counter``) from sending the
request to having the whole answer parsed as JSON, with ``requests`` (one ``Session``, that
is one kept-alive connection, per thread):

* **single**: after ``WARMUP`` untimed searches per route, ``--single`` sequential searches on
  each route, the two routes interleaved and the selfies taken in turn: the host's
  ``POST /api/events/{code}/search?top_k=20`` and the guest's
  ``POST /api/guest/events/{code}/search?consent=true`` (``Authorization: Bearer <token>``).
  Printed per route: p50, p95 and max latency of the 200 answers, every status, and the
  mean photos per 200 answer (a search that finds the photos, not an empty answer).
* **concurrent**: ``--guests`` threads start together and each sends guest searches one after
  another (each thread starting at another selfie) until ``--seconds`` have passed; a search
  under way at that moment is finished and counted. Throughput is the number of 200 answers
  divided by the wall time from the start to the last answer (searches/s); latency p50/p95
  over the 200 answers; every status counted (``error`` when no HTTP answer came: connection
  failure or the ``TIMEOUT_S`` timeout).

When the blob trigger fails on a photo every time (the local host gives it up after
``POISON_TRIES`` tries), the run goes on without that photo and prints the exceptions of the
host's log; so do the figures when searches answer 5xx.

Every process the run starts (the local host, Azurite, PostgreSQL) is stopped when it ends,
also on Ctrl-C or SIGTERM; the temporary directory is removed, or kept (and named) when the
run failed.

Percentiles are NumPy's (linear interpolation). The client and the server share the machine's
cores: on a 2-core machine, the 16 client threads take some of the CPU the server would
otherwise have, and other work on the machine shows in the figures (the load average is
printed at the start and the end). Targets, printed with "holds" or "does not hold": single
search p95 <= ``SINGLE_P95_TARGET_S`` on each route; ``--guests`` concurrent guests at least
``THROUGHPUT_TARGET`` searches/s with no 5xx answer.

Run from the repository root (works from any directory)::

    .venv/bin/python bench/selfie_load.py                         # 30 single, 16 guests for 20 s
    .venv/bin/python bench/selfie_load.py --single 10 --seconds 10
    .venv/bin/python bench/selfie_load.py --selfie-size 4 --json bench/results/selfie_load_4mp.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import requests

# `python bench/selfie_load.py` puts bench/ on sys.path, not the repository root that holds kanta/.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from common import cpu_model, git_state  # bench/common.py: this directory is on sys.path

#: Photos uploaded to the event: every file of this folder with one of the suffixes below.
PHOTOS = REPO_ROOT / "tests" / "data"
#: Content type of each photo suffix the upload route takes (README, "API": JPEG, PNG, WebP).
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
#: Default selfies, sent in turn: one photo of each of three people of ``tests/data/labels.csv``.
DEFAULT_SELFIES = ("obama_1.jpg", "biden_1.jpg", "kit_harington_1.jpg")
#: Untimed searches per route before the single searches.
WARMUP = 3
#: ``top_k`` of the host's search (the route's default, README "API").
TOP_K = 20
#: Rights of the guest link (README, "Access").
GUEST_RIGHTS = {"upload": True, "find_me": True, "gallery": False}
#: Guest searches allowed per link and hour during the run (``KANTA_GUEST_SEARCHES_PER_HOUR``,
#: default 300 in ``kanta/config.py``): high enough that the cap never answers 429.
GUEST_SEARCHES_PER_HOUR = 1_000_000_000
#: Re-clustering schedule of the timer (``KANTA_RECLUSTER_SCHEDULE``), as ``python -m kanta.local`` sets it.
RECLUSTER_SCHEDULE = "0 */10 * * * *"
#: Seconds between the local host's scans for new blobs (``python -m kanta.local`` uses 2).
POLL_SECONDS = 0.5
#: Tries of the blob trigger before the local host gives a blob up (``kanta.local.host.POISON_BLOB_THRESHOLD``).
POISON_TRIES = 5
#: Seconds a request may take before it counts as ``error``.
TIMEOUT_S = 60.0
#: Seconds to wait for the local host to answer ``GET /api/health`` (it loads dlib's models).
HOST_START_TIMEOUT_S = 180.0
#: Seconds to wait for every photo to be processed or failed.
INDEXING_TIMEOUT_S = 300.0
#: JPEG quality of selfies resized with ``--selfie-size``.
JPEG_QUALITY = 90
#: Targets: single search p95 (seconds, each route) and concurrent guests' throughput (searches/s).
SINGLE_P95_TARGET_S = 0.3
THROUGHPUT_TARGET = 8.0


# --- the machine and the selfies -------------------------------------------------------------


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def selfie_bytes(path: Path, megapixels: float | None) -> bytes:
    """The bytes of ``path`` as stored, or with ``megapixels`` the photo upright (EXIF
    orientation applied), resized to about that many megapixels and saved as JPEG."""
    data = path.read_bytes()
    if megapixels is None:
        return data
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        upright = ImageOps.exif_transpose(img).convert("RGB")
    scale = (megapixels * 1e6 / (upright.width * upright.height)) ** 0.5
    size = (max(1, round(upright.width * scale)), max(1, round(upright.height * scale)))
    buf = io.BytesIO()
    upright.resize(size, Image.Resampling.LANCZOS).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def describe_selfie(name: str, data: bytes) -> dict[str, Any]:
    """Name, pixel size, megapixels and bytes of a selfie as sent."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        width, height, fmt = img.width, img.height, img.format
    return {"file": name, "format": fmt, "width": width, "height": height,
            "megapixels": round(width * height / 1e6, 2), "bytes": len(data)}


# --- the local host, in a child process -------------------------------------------------------


def serve(port: int, receipts: Path) -> int:
    """Child process: serve ``function_app``'s HTTP functions on 127.0.0.1:``port`` with Kanta's
    local host and run its blob poller (receipts in ``receipts``) and timers, as
    ``python -m kanta.local`` does without Core Tools, until terminated. Settings come from the
    environment the parent set."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Azure SDK logs every storage request at INFO, werkzeug every HTTP request: not measured.
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from kanta.local.__main__ import run_local_host

    return run_local_host(port, POLL_SECONDS, receipts)


def start_host(port: int, root: Path) -> tuple[subprocess.Popen, Path]:
    """Start this script as the local host on ``port`` (its own session, so that Ctrl-C reaches
    only this process, which stops it); return the process and its log file."""
    log_path = root / "host.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(port), "--receipts",
             str(root / "blob-receipts.json")],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return process, log_path


def stop_process(process: subprocess.Popen) -> None:
    """Terminate ``process`` and wait for it; kill it after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_health(api: str, process: subprocess.Popen, log_path: Path) -> float:
    """Seconds until ``GET {api}/health`` answers 200. Raises ``RuntimeError`` (with the end of
    the host's log) when the host exits or does not come up in ``HOST_START_TIMEOUT_S``."""
    started = time.perf_counter()
    while time.perf_counter() - started < HOST_START_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the local host exited with status {process.returncode}:\n{log_tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{api}/health", timeout=5).status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.2)
    raise RuntimeError(f"the local host did not answer in {HOST_START_TIMEOUT_S:.0f} s:\n{log_tail(log_path)}")


def log_tail(log_path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the host's log."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


# --- seeding the event over HTTP --------------------------------------------------------------


def expect(response: requests.Response, status: int) -> Any:
    """The JSON body of ``response``; ``RuntimeError`` with the body when its status is not ``status``."""
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def upload_photos(session: requests.Session, api: str, code: str, photos: list[Path]) -> float:
    """Upload ``photos`` to event ``code`` as the browser does: upload URLs from the host's
    route, then a ``PUT`` of each file's bytes to its SAS URL. Returns the wall seconds taken."""
    started = time.perf_counter()
    files = [{"filename": p.name, "content_type": CONTENT_TYPES[p.suffix.lower()]} for p in photos]
    tickets = expect(session.post(f"{api}/events/{code}/uploads", json={"files": files}, timeout=TIMEOUT_S), 201)
    for path, ticket in zip(photos, tickets["uploads"], strict=True):
        headers = {**ticket.get("headers", {}), "x-ms-blob-type": "BlockBlob",
                   "Content-Type": CONTENT_TYPES[path.suffix.lower()]}
        put = session.request(ticket.get("method", "PUT"), ticket["upload_url"], data=path.read_bytes(),
                              headers=headers, timeout=TIMEOUT_S)
        if put.status_code not in (200, 201):
            raise RuntimeError(f"PUT of {path.name}: {put.status_code} {put.text[:300]}")
    return time.perf_counter() - started


def event_images(session: requests.Session, api: str, code: str) -> list[dict[str, Any]]:
    """Every image of event ``code`` (all pages of ``GET /api/events/{code}/images``)."""
    items, offset = [], 0
    while offset is not None:
        page = expect(session.get(f"{api}/events/{code}/images", params={"limit": 200, "offset": offset},
                                  timeout=TIMEOUT_S), 200)
        items += page["items"]
        offset = page["next_offset"]
    return items


def given_up(log_path: Path, code: str) -> int:
    """Blobs of event ``code`` that the local host gave up on (its poison-blob threshold
    reached: every try of the blob trigger failed), counted in its log. Their photos stay
    ``indexing`` until the re-drive timer (every 2 minutes, README "Triggers") tries again."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return 0
    return len(set(re.findall(rf"giving up on ({re.escape(code)}/\S+)", text)))


def host_errors(log_path: Path) -> Counter:
    """The exceptions in the host's log (the last line of each traceback), counted."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return Counter()
    return Counter(line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", line))


def wait_for_indexing(session: requests.Session, api: str, code: str, expected: int,
                      log_path: Path) -> tuple[list[dict], int, float]:
    """Poll the event's images until each of the ``expected`` is ``processed`` or ``failed``,
    or given up by the local host (``given_up``); return the images, how many were given up
    and the wall seconds waited. Raises ``TimeoutError`` after ``INDEXING_TIMEOUT_S``."""
    started = time.perf_counter()
    while True:
        images = event_images(session, api, code)
        done = [i for i in images if i["status"] in ("processed", "failed")]
        abandoned = given_up(log_path, code)
        if len(done) + abandoned >= expected:
            return images, abandoned, time.perf_counter() - started
        if time.perf_counter() - started > INDEXING_TIMEOUT_S:
            states = Counter(i["status"] for i in images)
            raise TimeoutError(f"{len(done)} of {expected} photos indexed after {INDEXING_TIMEOUT_S:.0f} s: {states}")
        time.sleep(0.5)


# --- the searches -----------------------------------------------------------------------------


class Route:
    """A search route: its URL, query parameters and headers, and how to count the photos of
    an answer."""

    def __init__(self, name: str, url: str, params: dict[str, str], headers: dict[str, str], photos_key: str):
        self.name, self.url, self.params, self.headers, self.photos_key = name, url, params, headers, photos_key

    def search(self, session: requests.Session, selfie: bytes) -> tuple[float, int | str, int | None]:
        """One search: ``(wall seconds, HTTP status or "error", photos in a 200 answer)``."""
        started = time.perf_counter()
        try:
            response = session.post(self.url, params=self.params, data=selfie,
                                    headers={**self.headers, "Content-Type": "application/octet-stream"},
                                    timeout=TIMEOUT_S)
        except requests.RequestException:
            return time.perf_counter() - started, "error", None
        try:
            body = response.json()
        except ValueError:  # an answer that is not JSON (a crashed worker's page) keeps its status
            body = None
        took = time.perf_counter() - started
        found = len(body.get(self.photos_key) or []) if response.status_code == 200 and body else None
        return took, response.status_code, found


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    """p50, p95 and max of ``seconds`` (``None`` when empty)."""
    if not seconds:
        return {"p50_s": None, "p95_s": None, "max_s": None}
    return {"p50_s": float(np.percentile(seconds, 50)), "p95_s": float(np.percentile(seconds, 95)),
            "max_s": float(max(seconds))}


def run_single(routes: list[Route], selfies: list[bytes], count: int) -> dict[str, dict[str, Any]]:
    """``WARMUP`` untimed then ``count`` timed sequential searches per route, the routes
    interleaved, the selfies in turn; per route the latency of the 200 answers, the statuses
    and the mean photos per answer."""
    session = requests.Session()
    for i in range(WARMUP):
        for route in routes:
            route.search(session, selfies[i % len(selfies)])
    times: dict[str, list[float]] = {r.name: [] for r in routes}
    statuses: dict[str, Counter] = {r.name: Counter() for r in routes}
    photos: dict[str, list[int]] = {r.name: [] for r in routes}
    for i in range(count):
        for route in routes:
            took, status, found = route.search(session, selfies[i % len(selfies)])
            statuses[route.name][str(status)] += 1
            if status == 200:
                times[route.name].append(took)
                photos[route.name].append(found)
    return {r.name: {**latency_summary(times[r.name]), "count": count, "statuses": dict(statuses[r.name]),
                     "photos_per_answer": float(np.mean(photos[r.name])) if photos[r.name] else None}
            for r in routes}


def run_concurrent(route: Route, selfies: list[bytes], guests: int, seconds: float) -> dict[str, Any]:
    """``guests`` threads, each with its own session, searching on ``route`` back to back for
    ``seconds``; throughput of 200 answers over the wall time to the last answer, their
    latency, and every status."""
    results: list[list[tuple[float, int | str]]] = [[] for _ in range(guests)]
    barrier = threading.Barrier(guests + 1)
    clock: dict[str, float] = {}

    def guest(n: int) -> None:
        session = requests.Session()
        barrier.wait()
        i = n
        while time.perf_counter() < clock["deadline"]:
            took, status, _ = route.search(session, selfies[i % len(selfies)])
            results[n].append((took, status))
            i += 1

    threads = [threading.Thread(target=guest, args=(n,), name=f"guest-{n}", daemon=True) for n in range(guests)]
    for thread in threads:
        thread.start()
    clock["start"] = time.perf_counter()
    clock["deadline"] = clock["start"] + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - clock["start"]
    answers = [a for per_guest in results for a in per_guest]
    ok = [took for took, status in answers if status == 200]
    statuses = Counter(str(status) for _, status in answers)
    server_errors = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500)
    return {"guests": guests, "seconds": seconds, "wall_s": wall, "requests": len(answers), "ok": len(ok),
            "searches_per_s": len(ok) / wall, **latency_summary(ok), "statuses": dict(statuses),
            "5xx": server_errors, "other_non_200": len(answers) - len(ok) - server_errors}


# --- the run ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """How a target is printed."""
    return "holds" if ok else "does not hold"


def fmt_s(value: float | None) -> str:
    """Seconds to the millisecond, ``-`` for none."""
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=30, help="sequential searches per route (default 30)")
    parser.add_argument("--guests", type=int, default=16, help="concurrent guests (default 16)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of the concurrent run (default 20)")
    parser.add_argument("--selfie-size", type=float, metavar="MP",
                        help="resize the selfies to about this many megapixels, sent as JPEG (default: as stored)")
    parser.add_argument("--selfies", default=",".join(DEFAULT_SELFIES),
                        help="photos of tests/data sent in turn as selfies (comma-separated)")
    parser.add_argument("--json", type=Path, help="write the settings and figures to this file")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--receipts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.receipts)

    # `kill` (SIGTERM) stops the host, Azurite and PostgreSQL too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    code_state = git_state()
    machine = {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
               "python": platform.python_version(), "load_average_start": load_average()}
    selfie_names = [s.strip() for s in args.selfies.split(",") if s.strip()]
    selfies = [selfie_bytes(PHOTOS / name, args.selfie_size) for name in selfie_names]
    selfie_info = [describe_selfie(n, d) for n, d in zip(selfie_names, selfies, strict=True)]
    photos = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in CONTENT_TYPES)

    print(f"bench/selfie_load.py, {started_at}; commit {code_state['commit']}, uncommitted under kanta/: "
          + ("unknown" if code_state["kanta_uncommitted"] is None
             else ", ".join(code_state["kanta_uncommitted"]) or "none"))
    print(f"machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
          f"Python {machine['python']}; load average (1, 5, 15 min) at start: "
          + ", ".join(f"{x:.2f}" for x in machine["load_average_start"]))
    print(f"run: {WARMUP} warm-up + {args.single} single searches per route; {args.guests} guests for "
          f"{args.seconds:g} s; request timeout {TIMEOUT_S:g} s")
    print("selfies: " + "; ".join(f"{s['file']} {s['width']}x{s['height']} ({s['megapixels']} MP, "
                                  f"{s['format']}, {s['bytes'] / 1e3:.0f} kB)" for s in selfie_info)
          + (f" (resized to ~{args.selfie_size:g} MP)" if args.selfie_size else " (as stored)"))

    root = Path(tempfile.mkdtemp(prefix="kanta-bench-selfie-load-"))
    root.chmod(0o755)  # pgserver runs postgres as an unprivileged user when we are root
    host = None
    failed, interrupted = True, False
    report: dict[str, Any] = {"started_at": started_at, "code": code_state, "machine": machine,
                              "selfies": selfie_info}
    with contextlib.ExitStack() as stack:
        try:
            from kanta.local.services import LocalAzurite, LocalPostgres, free_port

            t = time.perf_counter()
            postgres = LocalPostgres(root / "pgdata").start()
            stack.callback(postgres.stop)
            azurite = LocalAzurite(root / "azurite", free_port(), free_port()).start()
            stack.callback(azurite.stop)
            env = {
                "KANTA_DATABASE_URL": postgres.dsn("kanta_bench"),
                "KANTA_STORAGE": azurite.connection_string,
                "AzureWebJobsStorage": azurite.connection_string,
                "KANTA_RECLUSTER_SCHEDULE": RECLUSTER_SCHEDULE,
                "KANTA_GUEST_SEARCHES_PER_HOUR": str(GUEST_SEARCHES_PER_HOUR),
            }
            os.environ.update(env)
            from kanta.config import Settings
            from kanta.migrate import migrate
            from kanta.storage import ensure_containers

            migrate(env["KANTA_DATABASE_URL"])
            ensure_containers()
            settings = Settings()
            port = free_port()
            host, log_path = start_host(port, root)
            stack.callback(stop_process, host)
            api = f"http://127.0.0.1:{port}/api"
            host_up_s = wait_for_health(api, host, log_path)
            report["settings"] = {
                "single": args.single, "guests": args.guests, "seconds": args.seconds,
                "selfie_size_mp": args.selfie_size, "warmup": WARMUP, "top_k": TOP_K,
                "timeout_s": TIMEOUT_S, "poll_seconds": POLL_SECONDS,
                "env": {k: v for k, v in env.items() if k.startswith("KANTA_") and k not in
                        ("KANTA_DATABASE_URL", "KANTA_STORAGE")},
                "detection_profile": settings.detection_profile, "db_pool_max_size": settings.db_pool_max_size,
                "db_pool_timeout_s": settings.db_pool_timeout_s,
                "search_max_distance": settings.search_max_distance,
                "search_person_max_distance": settings.search_person_max_distance,
            }
            print(f"services: PostgreSQL, Azurite and the local host (child process, werkzeug threaded) up in "
                  f"{time.perf_counter() - t:.1f} s (host {host_up_s:.1f} s); settings: detection profile "
                  f"{settings.detection_profile}, DB pool max {settings.db_pool_max_size} (timeout "
                  f"{settings.db_pool_timeout_s:g} s), KANTA_GUEST_SEARCHES_PER_HOUR={GUEST_SEARCHES_PER_HOUR}, "
                  f"other settings kanta.config defaults")

            session = requests.Session()
            code = f"bench-{uuid.uuid4().hex[:12]}"
            expect(session.post(f"{api}/events", json={"code": code, "name": "selfie load"}, timeout=TIMEOUT_S), 201)
            upload_s = upload_photos(session, api, code, photos)
            images, abandoned, indexing_s = wait_for_indexing(session, api, code, len(photos), log_path)
            states = Counter(i["status"] for i in images)
            failures = Counter(i.get("failure_code") for i in images if i["status"] == "failed")
            faces = sum(i.get("face_count") or 0 for i in images)
            run = expect(session.post(f"{api}/events/{code}/recluster", timeout=TIMEOUT_S), 200)
            link = expect(session.post(f"{api}/events/{code}/guest-link", json={"rights": GUEST_RIGHTS},
                                       timeout=TIMEOUT_S), 201)
            report["event"] = {"photos": len(photos), "statuses": dict(states), "failure_codes": dict(failures),
                               "given_up_by_host": abandoned, "faces": faces,
                               "upload_s": upload_s, "indexing_wait_s": indexing_s,
                               "recluster": {k: run.get(k) for k in ("face_count", "cluster_count", "noise_count",
                                                                     "seconds")}}
            print(f"event {code}: {len(photos)} photos of tests/data uploaded in {upload_s:.1f} s, indexed "
                  f"{indexing_s:.1f} s later: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                  + (f" (failure codes: {dict(failures)})" if failures else "")
                  + (f", {abandoned} given up by the host after {POISON_TRIES} failed tries" if abandoned else "")
                  + f"; {faces} faces"
                  + f"; re-clustered: {run.get('face_count')} faces, {run.get('cluster_count')} people, "
                  f"{run.get('noise_count')} noise in {run.get('seconds') or 0:.2f} s")
            if abandoned or not states.get("processed"):
                print("WARNING: photos were not indexed: the blob trigger failed in the host; its errors: "
                      + "; ".join(f"{line} (x{n})" for line, n in host_errors(log_path).most_common(3)))

            routes = [
                Route("host", f"{api}/events/{code}/search", {"top_k": str(TOP_K)}, {}, "matches"),
                Route("guest", f"{api}/guest/events/{code}/search", {"consent": "true"},
                      {"Authorization": f"Bearer {link['token']}"}, "photos"),
            ]
            print()
            single = report["single"] = run_single(routes, selfies, args.single)
            header = f"{'single (sequential)':<22}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'photos':>8}  statuses"
            print(header)
            print("-" * len(header))
            for route in routes:
                r = single[route.name]
                photos_mean = "-" if r["photos_per_answer"] is None else f"{r['photos_per_answer']:.1f}"
                print(f"{route.name + ' route':<22}{fmt_s(r['p50_s']):>8}{fmt_s(r['p95_s']):>8}"
                      f"{fmt_s(r['max_s']):>8}{photos_mean:>8}  {r['statuses']}")
            print("photos: mean photos per 200 answer (host: matches; guest: photos)", flush=True)

            print()
            conc = report["concurrent"] = run_concurrent(routes[1], selfies, args.guests, args.seconds)
            print(f"concurrent: {conc['guests']} guests on the guest route for {conc['seconds']:g} s "
                  f"(wall {conc['wall_s']:.1f} s to the last answer): {conc['ok']} of {conc['requests']} answers "
                  f"200, {conc['searches_per_s']:.2f} searches/s; latency p50 {fmt_s(conc['p50_s'])} s, "
                  f"p95 {fmt_s(conc['p95_s'])} s, max {fmt_s(conc['max_s'])} s; statuses {conc['statuses']}; "
                  f"5xx: {conc['5xx']}, other non-200: {conc['other_non_200']}")

            machine["load_average_end"] = load_average()
            print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in machine["load_average_end"]))
            print()
            targets = {}
            for route in routes:
                p95 = single[route.name]["p95_s"]
                targets[f"single_p95_{route.name}"] = holds = p95 is not None and p95 <= SINGLE_P95_TARGET_S
                print(f"target: single search p95 <= {SINGLE_P95_TARGET_S} s ({route.name} route): "
                      f"{fmt_s(p95)} s -> {verdict(holds)}")
            holds = conc["searches_per_s"] >= THROUGHPUT_TARGET and conc["5xx"] == 0
            targets["concurrent"] = holds
            print(f"target: {args.guests} concurrent guests >= {THROUGHPUT_TARGET:g} searches/s with no 5xx: "
                  f"{conc['searches_per_s']:.2f} searches/s, {conc['5xx']} 5xx -> {verdict(holds)}")
            report["targets"] = targets
            errors = host_errors(log_path)
            report["host_errors"] = dict(errors)
            if errors:
                print("host errors (its log, last line of each traceback): "
                      + "; ".join(f"{line} (x{n})" for line, n in errors.most_common(5)))
            if host.poll() is not None:
                print(f"WARNING: the local host exited during the run:\n{log_tail(log_path)}")
            failed = False
        except (KeyboardInterrupt, SystemExit):
            interrupted = True
            print("interrupted: stopping the local host, Azurite and PostgreSQL", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - reported with what ran; cleanup follows
            print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            report["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if failed and not interrupted and host is not None:
                print(f"the end of the host's log ({root / 'host.log'}):\n{log_tail(root / 'host.log')}",
                      file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if failed and not interrupted:
        print(f"files of the run kept in {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
