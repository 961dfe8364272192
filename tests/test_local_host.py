"""The local stand-in for the Functions host (used when Core Tools is not installed) serves
the app's HTTP functions over real HTTP and runs its blob and timer triggers."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import requests

from kanta.local.host import BlobPoller, TimerRunner
from tests.helpers import local_host, photo, put_blob


@pytest.fixture
def app(services):
    from function_app import app

    return app


@pytest.fixture
def base_url(app):
    with local_host(app) as origin:
        yield f"{origin}/api"


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
    names = [name for _, name, _ in runner.timers]
    assert sorted(names) == ["expire_uploads_timer", "purge_guest_counters_timer", "purge_tombstones_timer",
                             "recluster_timer", "redrive_uploads_timer", "reindex_outdated_timer", "retention_timer",
                             "sweep_uploads_timer"]
    recluster = names.index("recluster_timer")
    next_run = runner.next_runs[recluster]
    assert next_run > dt.datetime.now() and next_run.minute % 10 == 0 and next_run.second == 0
    runner.next_runs[recluster] = dt.datetime.now() - dt.timedelta(seconds=1)
    runner.run_due()
    assert runner.next_runs[recluster] > dt.datetime.now()
    assert api("get_event", route={"code": event["code"]})[1]["last_clustered_at"] is not None


def test_an_empty_path_segment_is_a_json_404_not_a_redirect(base_url, event):
    for path in ("events//images", f"events/{event['code']}//images", "images//reindex", "/health"):
        got = requests.get(f"{base_url}/{path}", timeout=10, allow_redirects=False)
        assert got.status_code == 404 and got.json()["code"] == "route_not_found", (path, got.status_code)
        assert "Location" not in got.headers


class _ListThenDelete:
    """Azure's blob service client, except that listing the uploads container deletes the
    blobs named in ``doomed`` right after listing them: a blob deleted between the poller's
    listing and its run (the stand-in for Azure here)."""

    def __init__(self, service, doomed: set[str]) -> None:
        self.service, self.doomed = service, doomed

    def get_container_client(self, name: str):
        client = self.service.get_container_client(name)
        doomed = self.doomed

        class Container:
            def __getattr__(self, attribute):
                return getattr(client, attribute)

            def list_blobs(self, *args, **kwargs):
                listed = list(client.list_blobs(*args, **kwargs))
                for props in listed:
                    if props.name in doomed:
                        client.delete_blob(props.name)
                return listed

        return Container()


def test_a_blob_deleted_between_listing_and_its_run_is_skipped_and_the_pass_goes_on(app, api, event, tmp_path):
    from kanta.storage import get_blob_service, uploads_container

    receipts = {f"encode_uploaded_image:uploads/{b.name}": b.etag for b in uploads_container().list_blobs()}
    (tmp_path / "receipts.json").write_text(json.dumps(receipts))
    gone, kept = f"{event['code']}/a-gone.jpg", f"{event['code']}/b-kept.jpg"
    put_blob(gone, photo("obama_1.jpg"))
    put_blob(kept, photo("biden_1.jpg"))
    poller = BlobPoller(app, _ListThenDelete(get_blob_service(), {gone}), tmp_path / "receipts.json")
    poller.poll_once()
    items = api("list_images", route={"code": event["code"]})[1]["items"]
    assert [(i["blob_name"], i["status"], i["face_count"]) for i in items] == [(kept, "processed", 1)]


def test_timers_log_one_line_per_failure_while_the_database_is_down(app, services, caplog):
    from tests.helpers import override_settings

    runner = TimerRunner(app)
    with override_settings(KANTA_DATABASE_URL="postgresql://postgres@127.0.0.1:1/x?connect_timeout=1",
                           KANTA_DB_POOL_TIMEOUT_S=1):
        caplog.set_level(logging.INFO, logger="kanta.local.host")
        runner.next_runs = [dt.datetime.now() - dt.timedelta(seconds=1)] * len(runner.timers)
        runner.run_due()
    failed = [r for r in caplog.records if r.name == "kanta.local.host"]
    # The sweep of unclaimed uploads asks the database only about blobs over a day old, and
    # this session's storage holds none: it succeeds without the database.
    assert sorted(r.getMessage().split(":")[0] for r in failed) == sorted(
        f"timer {name} failed" for _, name, _ in runner.timers if name != "sweep_uploads_timer")
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in failed)
