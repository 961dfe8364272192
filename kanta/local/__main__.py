"""``python -m kanta.local``: run Kanta locally on embedded defaults.

Starts PostgreSQL (pgserver, data in ``.kanta/pgdata``) and Azurite (``.kanta/azurite``),
applies the migrations, creates the uploads container, writes ``local.settings.json``, then
runs ``func start`` when Azure Functions Core Tools is installed, or else the local host
(``kanta.local.host``) on http://127.0.0.1:7071. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kanta.config import RECLUSTER_SCHEDULE_SETTING, STORAGE_CONNECTION, UPLOADS_CONTAINER
from kanta.local.services import ROOT, LocalAzurite, LocalPostgres

STATE_DIR = ROOT / ".kanta"
SETTINGS_FILE = ROOT / "local.settings.json"
EXAMPLE_FILE = ROOT / "local.settings.json.example"

log = logging.getLogger("kanta.local")


def write_local_settings(values: dict[str, str]) -> dict[str, str]:
    """Create or update ``local.settings.json`` from the example, setting ``values``; return all values."""
    source = SETTINGS_FILE if SETTINGS_FILE.exists() else EXAMPLE_FILE
    doc = json.loads(source.read_text())
    doc.setdefault("Values", {}).update(values)
    SETTINGS_FILE.write_text(json.dumps(doc, indent=2) + "\n")
    return doc["Values"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kanta.local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (default 7071, as func start)")
    parser.add_argument("--blob-port", type=int, default=10000)
    parser.add_argument("--queue-port", type=int, default=10001)
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="blob scan interval of the local host")
    parser.add_argument("--no-func", action="store_true", help="use the local host even if Core Tools is installed")
    parser.add_argument("--setup-only", action="store_true", help="start services, migrate, write settings, exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Azure SDK logs every HTTP request and response at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)

    # `kill` (SIGTERM) should stop PostgreSQL and Azurite too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    postgres = LocalPostgres(STATE_DIR / "pgdata").start()
    dsn = postgres.dsn("kanta")
    azurite = LocalAzurite(STATE_DIR / "azurite", args.blob_port, args.queue_port).start()
    try:
        values = write_local_settings(
            {
                "KANTA_DATABASE_URL": dsn,
                STORAGE_CONNECTION: azurite.connection_string,
                "AzureWebJobsStorage": azurite.connection_string,
            }
        )
        for key, value in values.items():
            os.environ.setdefault(key, value)
        os.environ.setdefault(RECLUSTER_SCHEDULE_SETTING, "0 */10 * * * *")

        from kanta.migrate import migrate
        from kanta.storage import allow_browser_origins, ensure_containers

        applied = migrate(dsn)
        log.info("database %s ready (%d migration(s) applied)", dsn, len(applied))
        ensure_containers()
        origin = f"http://127.0.0.1:{args.port}"
        # The guest page (served from this origin) PUTs photos to Azurite and reads them back.
        allow_browser_origins([origin, f"http://localhost:{args.port}"])
        log.info("Azurite blob service on 127.0.0.1:%d, container %r", args.blob_port, UPLOADS_CONTAINER)
        if args.setup_only:
            return 0
        log.info("guest page of the demo event (open it in a browser): %s", demo_guest_url(origin))
        # Locally no function key is checked: any key signs in to the console.
        log.info("host console (sign in with any key locally): %s/api/host", origin)
        if shutil.which("func") and not args.no_func:
            log.info("Azure Functions Core Tools found: running func start")
            return subprocess.call(["func", "start", "--port", str(args.port)], cwd=ROOT)
        return run_local_host(args.port, args.poll_seconds, STATE_DIR / "blob-receipts.json")
    finally:
        azurite.stop()
        postgres.stop()


#: The event ``scripts/start`` makes so a new user can try the guest page at once.
DEMO_EVENT = "demo"


def demo_guest_url(origin: str) -> str:
    """Create the demo event if missing and give it a new guest link (every right: upload,
    find me, gallery); return the link's join URL on ``origin``. A new token each start: the
    old one stops working, and only this run printed the new one."""
    from kanta.errors import Conflict
    from kanta.events.schemas import EventCreate
    from kanta.events.service import create_event
    from kanta.guests.schemas import GuestLinkCreate, GuestRights
    from kanta.guests.service import create_link

    try:
        create_event(EventCreate(code=DEMO_EVENT, name="Kanta demo",
                                 description="Upload a few photos, then find yourself with a selfie."))
    except Conflict:
        pass  # made by an earlier start
    rights = GuestRights(upload=True, find_me=True, gallery=True)
    return create_link(DEMO_EVENT, GuestLinkCreate(rights=rights), origin).join_url


def run_local_host(port: int, poll_seconds: float, receipts: Path) -> int:
    """Serve HTTP functions on 127.0.0.1:``port`` and run blob (receipts in ``receipts``) and
    timer triggers until interrupted (Ctrl-C, or SIGTERM)."""
    from werkzeug.serving import make_server

    from function_app import app
    from kanta.local.host import BlobPoller, TimerRunner, build_wsgi_app, run_background
    from kanta.storage import get_blob_service

    poller = BlobPoller(app, get_blob_service(), receipts)
    timers = TimerRunner(app)
    stop = threading.Event()
    run_background(stop, poll_seconds, [poller.poll_once, timers.run_due])
    server = make_server("127.0.0.1", port, build_wsgi_app(app), threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("Core Tools not found: local host serving http://127.0.0.1:%d/api (Ctrl-C stops)", port)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
