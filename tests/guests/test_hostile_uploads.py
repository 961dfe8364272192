"""A hostile guest link holder, bounded and over loopback only: 200 tries to upload 39 MB of
random bytes behind a JPEG header through Kanta's local host (guest routes over HTTP, SAS
PUTs to real Azurite, the local host's blob poller running in the background as the host's
trigger would), half of them declaring the real size and half lying (1 MB). Whatever the
guest does, the bytes left in storage stay within the link's byte budget and no answer is a
5xx. Prints bytes attempted, sent, accepted and left."""

from __future__ import annotations

import os
import threading

import requests

from tests.helpers import bearer, event_blobs, guest_link, photo

MB = 1_000_000
TRIES = 200
SIZE = 39 * MB
#: The link's byte budget for the run (the default, 5 GB an hour, would make CI write gigabytes).
BUDGET = 200 * MB


def test_a_hostile_link_holder_leaves_at_most_the_budget_in_storage(api, event, settings_override):
    from function_app import app
    from kanta.local.host import BlobPoller, run_background
    from kanta.storage import get_blob_service, uploads_container
    from tests.helpers import local_host

    settings_override(KANTA_GUEST_BYTES_PER_HOUR=BUDGET)
    code = event["code"]
    headers = bearer(guest_link(api, code)["token"])
    junk = photo("obama_1.jpg")[:2048] + os.urandom(SIZE - 2048)
    poller = BlobPoller(app, get_blob_service())
    poller.receipts = {f"encode_uploaded_image:uploads/{b.name}": b.etag for b in uploads_container().list_blobs()}
    statuses: list[int] = []
    sent = 0
    stop = threading.Event()
    try:
        with local_host(app) as origin:
            run_background(stop, 0.2, [poller.poll_once])
            url = f"{origin}/api/guest/events/{code}/uploads"
            for i in range(TRIES):
                declared = SIZE if i % 2 == 0 else MB
                asked = requests.post(url, headers=headers, timeout=30, json={"files": [
                    {"filename": f"junk-{i}.jpg", "content_type": "image/jpeg", "size_bytes": declared}]})
                statuses.append(asked.status_code)
                if asked.status_code != 201:
                    continue
                (ticket,) = asked.json()["uploads"]
                put = requests.put(ticket["upload_url"], data=junk, headers=ticket["headers"], timeout=300)
                statuses.append(put.status_code)
                sent += SIZE
            stop.set()
            while poller.poll_once():  # the trigger catches up with the last uploads
                pass
    finally:
        stop.set()
    items = api("list_images", route={"code": code}, params={"limit": "200"})[1]["items"]
    accepted = sum(i["size_bytes"] or 0 for i in items if i["status"] == "processed")
    left = sum(b.size for b in uploads_container().list_blobs(name_starts_with=f"{code}/"))
    print(f"\nhostile link: {TRIES} tries of {SIZE / MB:.0f} MB: attempted {TRIES * SIZE / MB:,.0f} MB, "
          f"sent {sent / MB:,.0f} MB in {sum(s == 201 for s in statuses) // 2} uploads, "
          f"accepted {accepted / MB:,.0f} MB, left in storage {left / MB:,.0f} MB (budget {BUDGET / MB:,.0f} MB)")
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert set(statuses) <= {201, 429}, sorted(set(statuses))
    assert 0 < sent <= BUDGET + 8 * SIZE  # a few liars' URLs may be out before their bytes arrive
    assert left <= BUDGET and event_blobs(code) == set()
    assert {i["failure_code"] for i in items} <= {"corrupt", "not_an_image", "too_many_pixels", "larger_than_declared"}, items
