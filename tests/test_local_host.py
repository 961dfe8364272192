"""The local stand-in for the Functions host (used when Core Tools is not installed) serves
the app's HTTP functions over real HTTP and runs its blob and timer triggers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
from werkzeug.serving import make_server

from kanta.local.host import BlobPoller, TimerRunner, build_wsgi_app
from kanta.local.services import free_port
from tests.helpers import photo, put_blob


@pytest.fixture
def app(services):
    from function_app import app

    return app


@pytest.fixture
def base_url(app):
    port = free_port()
    server = make_server("127.0.0.1", port, build_wsgi_app(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/api"
    server.shutdown()


def test_http_functions_are_served_under_api(base_url):
    assert requests.get(f"{base_url}/health", timeout=10).json() == {"status": "ok", "database": "ok"}
    created = requests.post(f"{base_url}/events", json={"code": "local-host-1"}, timeout=10)
    assert created.status_code == 201 and created.headers["content-type"].startswith("application/json")
    assert requests.get(f"{base_url}/events/local-host-1", timeout=10).json()["code"] == "local-host-1"
    missing = requests.get(f"{base_url}/no/such/route", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "route_not_found"
    wrong = requests.put(f"{base_url}/events", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_blob_poller_runs_the_trigger_once_per_blob_version(app, api, event, tmp_path):
    from kanta.storage import get_blob_service

    blob = f"{event['code']}/polled.jpg"
    put_blob(blob, photo("rose_leslie_2.jpg"))
    poller = BlobPoller(app, get_blob_service(), tmp_path / "receipts.json")
    assert poller.poll_once() >= 1
    assert api("list_images", route={"code": event["code"]})[1]["items"][0]["face_count"] == 1
    # Accepting a photo sets its stored type, which gives its blob a new ETag: one more run
    # per photo (of every test's blobs in this container), which finds the same bytes and
    # changes nothing.
    poller.poll_once()
    assert api("list_images", route={"code": event["code"]})[1]["items"][0]["face_count"] == 1
    # A restarted poller with the same receipts does not redo finished blobs.
    again = BlobPoller(app, get_blob_service(), tmp_path / "receipts.json")
    assert again.poll_once() == 0
    # Overwriting the blob (new ETag) runs the trigger again, replacing the row's faces.
    put_blob(blob, photo("group_biden_obama.jpg"))
    assert again.poll_once() == 1
    items = api("list_images", route={"code": event["code"]})[1]["items"]
    assert [i["face_count"] for i in items] == [2]


def test_timer_runner_fires_due_timers(app, api, event):
    put_blob(f"{event['code']}/t.jpg", photo("kit_harington_1.jpg"))
    from tests.helpers import run_blob_trigger

    run_blob_trigger(api.functions, f"{event['code']}/t.jpg")
    runner = TimerRunner(app)
    assert [name for _, name, _ in runner.timers] == ["recluster_timer"]
    next_run = runner.next_runs[0]
    assert next_run > dt.datetime.now() and next_run.minute % 10 == 0 and next_run.second == 0
    runner.next_runs[0] = dt.datetime.now() - dt.timedelta(seconds=1)
    runner.run_due()
    assert runner.next_runs[0] > dt.datetime.now()
    assert api("get_event", route={"code": event["code"]})[1]["last_clustered_at"] is not None
