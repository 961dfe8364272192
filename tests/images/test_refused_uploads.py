"""Refused uploads leave storage: every blob the blob trigger refuses (too large, larger than
its upload request declared, not an image, corrupt) is deleted in the same run, its row
keeps the status and the reason in words; an accepted photo keeps its blob. Through Kanta's
local host over loopback HTTP (guest link, SAS PUTs to real Azurite, the local host's blob
poller), real PostgreSQL and dlib."""

from __future__ import annotations

import os

import pytest
import requests

from tests.helpers import bearer, event_blobs, guest_link, photo

MB = 1_000_000


@pytest.fixture
def guest(api, event):
    """``upload(files: {name: bytes}, declared: {name: size}) -> {name: status}``: a guest of
    ``event`` asks the local host for upload URLs (declaring each file's size, its real one
    unless ``declared`` says otherwise), PUTs the bytes as a browser does, and the local host's
    poller runs the blob trigger; returns each upload's status as the guest polls it."""
    from function_app import app
    from kanta.local.host import BlobPoller
    from kanta.storage import get_blob_service
    from tests.helpers import local_host

    code = event["code"]
    headers = bearer(guest_link(api, code)["token"])
    poller = BlobPoller(app, get_blob_service())

    with local_host(app) as origin:
        base = f"{origin}/api/guest/events/{code}/uploads"

        def upload(files: dict[str, bytes], declared: dict[str, int] | None = None) -> dict[str, dict]:
            sizes = {name: len(data) for name, data in files.items()} | (declared or {})
            asked = requests.post(base, headers=headers, timeout=30, json={"files": [
                {"filename": name, "content_type": "image/jpeg", "size_bytes": sizes[name]} for name in files]})
            assert asked.status_code == 201, asked.text
            tickets = dict(zip(files, asked.json()["uploads"]))
            for name, ticket in tickets.items():
                sent = requests.put(ticket["upload_url"], data=files[name], headers=ticket["headers"], timeout=300)
                assert sent.status_code == 201, sent.text
            poller.poll_once()
            return {name: requests.get(f"{base}/{t['image_id']}", headers=headers, timeout=30).json()
                    for name, t in tickets.items()}

        yield upload


def test_refused_uploads_leave_no_blob_and_say_why(api, event, guest):
    jpeg_header = photo("obama_1.jpg")[:2048]
    statuses = guest({
        "huge.jpg": jpeg_header + os.urandom(60 * MB),  # over KANTA_MAX_IMAGE_BYTES (40 MiB)
        "corrupt.jpg": photo("obama_1.jpg")[:30_000],
        "notes.jpg": b"not a photo, only words\n" * 100,
        "kept.jpg": photo("biden_1.jpg"),
    }, declared={"huge.jpg": 3 * MB})  # a size the service accepts; the PUT carries 60 MB
    failed = {name: s for name, s in statuses.items() if s["status"] == "failed"}
    assert set(failed) == {"huge.jpg", "corrupt.jpg", "notes.jpg"}, statuses
    assert failed["huge.jpg"]["failure_code"] == "too_large"
    assert all(s["failure_reason"] for s in failed.values())
    assert statuses["kept.jpg"]["status"] == "processed"
    # Only the accepted photo's blob is left; the host still sees why the others were not added.
    kept = [i for i in api("list_images", route={"code": event["code"]})[1]["items"]]
    by_id = {i["image_id"]: i for i in kept}
    assert event_blobs(event["code"]) == {by_id[statuses["kept.jpg"]["image_id"]]["blob_name"]}
    assert {by_id[s["image_id"]]["failure_code"] for s in failed.values()} >= {"too_large"}


def test_a_blob_larger_than_declared_is_refused_and_deleted(api, event, guest):
    real = photo("obama_1.jpg")
    statuses = guest({"small-said.jpg": real, "honest.jpg": photo("biden_2.jpg")},
                     declared={"small-said.jpg": len(real) // 4})
    refused = statuses["small-said.jpg"]
    assert (refused["status"], refused["failure_code"]) == ("failed", "larger_than_declared"), refused
    assert "declared" in refused["failure_reason"]
    assert statuses["honest.jpg"]["status"] == "processed"
    assert len(event_blobs(event["code"])) == 1



def test_the_host_sees_what_the_event_stores(api, event, guest):
    before = api("get_event", route={"code": event["code"]})[1]["stored_bytes"]
    assert before == {"photos": 0, "thumbnails": 0, "total": 0}
    guest({"kept.jpg": photo("biden_1.jpg"), "notes.jpg": b"not a photo\n" * 10})
    from kanta.storage import faces_container

    stored = api("get_event", route={"code": event["code"]})[1]["stored_bytes"]
    thumbnails = sum(b.size for b in faces_container().list_blobs(name_starts_with=f"{event['code']}/"))
    # Accepted photos and thumbnails count, as storage holds them; the refused file does not.
    assert stored == {"photos": len(photo("biden_1.jpg")), "thumbnails": thumbnails,
                      "total": len(photo("biden_1.jpg")) + thumbnails} and thumbnails > 0
    listed = api("list_events", params={"limit": "200"})[1]["items"]
    assert [e["stored_bytes"] for e in listed if e["code"] == event["code"]] == [stored]
