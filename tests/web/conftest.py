"""Fixtures of the page tests: the local host serving the app over real HTTP with its blob
poller running, and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import local_host
from tests.web.helpers import CHROMIUM, playwright_api


@pytest.fixture(scope="module")
def site(services) -> Iterator[str]:
    """The local host serving ``function_app.app`` on a free port, its blob poller running in
    the background, and Azurite's CORS allowing the page's origin; yields that origin."""
    from function_app import app
    from kanta.local.host import BlobPoller, run_background
    from kanta.storage import allow_browser_origins, get_blob_service, uploads_container

    poller = BlobPoller(app, get_blob_service())
    # Blobs of earlier tests are done: the poller runs the trigger only for this module's.
    poller.receipts = {f"encode_uploaded_image:uploads/{b.name}": b.etag for b in uploads_container().list_blobs()}
    stop = threading.Event()
    with local_host(app) as origin:
        allow_browser_origins([origin])
        run_background(stop, 0.5, [poller.poll_once])
        yield origin
        stop.set()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package (scripts/bootstrap does)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
