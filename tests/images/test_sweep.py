"""The sweep of unclaimed uploads (``kanta.images.service.sweep_unclaimed_uploads``) against
real PostgreSQL and Azurite: a day after its last write, a blob of the uploads container
that no images row claims, or whose row is ``failed``, is deleted with its snapshots; the
blobs of ``pending`` and ``processed`` photos stay, and so does a blob written again after
the sweep listed it.

Time is not waited for: the sweep is given ``now`` a day and an hour ahead. It sweeps the
whole container, so these tests only look at the blobs of their own event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from azure.functions.timer import TimerRequest

from kanta.images import service
from kanta.store import images as store
from tests.helpers import browser_put, downscaled, photo, put_blob, run_blob_trigger, upload_ticket


def a_day_later(extra_s: float = 3600) -> dt.datetime:
    """The time ``UNCLAIMED_AFTER_S`` plus ``extra_s`` seconds from now (timezone-aware)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=service.UNCLAIMED_AFTER_S + extra_s)


def versions(name: str) -> list[Any]:
    """The blob ``name`` of the uploads container and its snapshots, as listed."""
    from kanta.storage import uploads_container

    return [b for b in uploads_container().list_blobs(name_starts_with=name, include=["snapshots"]) if b.name == name]


def exists(name: str) -> bool:
    from kanta.storage import uploads_blob

    return uploads_blob(name).exists()


def uploaded(api, code: str, data: bytes) -> dict[str, Any]:
    """A ticket of event ``code`` whose photo a browser uploaded (its row ``pending``)."""
    upload = upload_ticket(api, code)
    assert browser_put(upload, data) == 201
    return upload


def given_up(api, code: str) -> dict[str, Any]:
    """An upload whose blob came and that the re-drive job gave up on: ``failed``
    ``not_indexed``, its blob in storage, with a snapshot taken through the blob."""
    from kanta.db import connection
    from kanta.storage import uploads_blob

    upload = uploaded(api, code, downscaled(photo("rose_leslie_1.jpg")))
    with connection() as conn:
        assert store.fail_unfinished(conn, [uuid.UUID(upload["image_id"])], "not_indexed", "gave up") == 1
    uploads_blob(upload["blob_name"]).create_snapshot()
    assert len(versions(upload["blob_name"])) == 2
    return upload


def status(api, upload: dict[str, Any]) -> str:
    code, body = api("get_image", route={"image_id": upload["image_id"]})
    assert code == 200, body
    return body["status"]


def test_a_day_on_unclaimed_and_failed_blobs_go_and_claimed_ones_stay(api, functions, event):
    code = event["code"]
    processed = uploaded(api, code, downscaled(photo("obama_1.jpg")))
    run_blob_trigger(functions, processed["blob_name"])
    pending = uploaded(api, code, downscaled(photo("biden_1.jpg")))
    failed = given_up(api, code)
    stray = f"{code}/IMG_0001.JPG"  # written by a client with storage access; no run made a row
    stray_bytes = b"not a photo" * 100
    put_blob(stray, stray_bytes)
    assert [status(api, u) for u in (processed, pending, failed)] == ["processed", "pending", "failed"]
    failed_bytes = versions(failed["blob_name"])[0].size

    report = service.sweep_unclaimed_uploads(now=a_day_later())

    assert versions(failed["blob_name"]) == [], "the failed photo's blob and its snapshot are deleted"
    assert not exists(stray)
    assert exists(processed["blob_name"]) and exists(pending["blob_name"])
    assert report.complete and report.listed >= 4
    assert report.deleted >= 2 and report.deleted_bytes >= failed_bytes + len(stray_bytes)
    # Rows are not the sweep's: the failed photo still says why; the others are untouched.
    assert [status(api, u) for u in (processed, pending, failed)] == ["processed", "pending", "failed"]
    assert api("get_image", route={"image_id": processed["image_id"]})[1]["face_count"] == 1


def test_blobs_younger_than_a_day_stay(api, event):
    code = event["code"]
    failed = given_up(api, code)
    stray = f"{code}/young.jpg"
    put_blob(stray, b"stray bytes")

    service.sweep_unclaimed_uploads()  # now
    service.sweep_unclaimed_uploads(now=a_day_later(-600))  # ten minutes short of a day
    assert len(versions(failed["blob_name"])) == 2 and exists(stray)

    service.sweep_unclaimed_uploads(now=a_day_later(600))  # ten minutes past it
    assert versions(failed["blob_name"]) == [] and not exists(stray)


def test_a_blob_written_again_after_the_listing_is_kept(event, monkeypatch):
    """The blob is listed a day old and found unclaimed; before it is deleted, a client
    writes it again: the delete, conditional on the ETag listed, leaves the new version."""
    name = f"{event['code']}/rewritten.jpg"
    put_blob(name, b"first version")
    real = store.claimed_blobs

    def rewrite_then_check(conn, names: Sequence[str]) -> set[str]:
        if name in names:
            put_blob(name, b"second version")
        return real(conn, names)

    monkeypatch.setattr(store, "claimed_blobs", rewrite_then_check)
    report = service.sweep_unclaimed_uploads(now=a_day_later())

    from kanta.storage import uploads_container

    assert uploads_container().download_blob(name).readall() == b"second version"
    assert report.rewritten >= 1


def test_claimed_blobs_are_those_of_rows_that_are_not_failed(api, event):
    from kanta.db import connection

    code = event["code"]
    pending, indexing, processed, failed = (upload_ticket(api, code) for _ in range(4))
    with connection() as conn:
        for upload, state in ((indexing, "indexing"), (processed, "processed"), (failed, "failed")):
            conn.execute("UPDATE images SET status = %s WHERE id = %s", (state, uuid.UUID(upload["image_id"])))
        names = [u["blob_name"] for u in (pending, indexing, processed, failed)] + [f"{code}/no-row.jpg"]
        assert store.claimed_blobs(conn, names) == {pending["blob_name"], indexing["blob_name"],
                                                    processed["blob_name"]}
        assert store.claimed_blobs(conn, []) == set()


def test_the_daily_timer_runs_the_sweep(functions: dict[str, Callable], event, monkeypatch):
    """The timer sweeps at the current time: with the age cut down to nothing, a blob no row
    claims goes at once."""
    stray = f"{event['code']}/timer.jpg"
    put_blob(stray, b"stray bytes")
    functions["sweep_uploads_timer"](TimerRequest())
    assert exists(stray), "a day has not passed"
    monkeypatch.setattr(service, "UNCLAIMED_AFTER_S", -60)
    functions["sweep_uploads_timer"](TimerRequest())
    assert not exists(stray)
