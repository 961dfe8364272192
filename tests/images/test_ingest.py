"""``kanta.images.ingest``: the blob trigger on blobs that are no usable photo. Such a blob
marks its image ``failed`` with a stable ``failure_code`` and a reason, and the run never
raises (a retry could not help); a photo over a configured limit is failed and its blob
deleted; a blob of no event, or outside the event layout, is skipped; a blob delivered
twice keeps one image and no duplicate faces; a blob overwritten is indexed again."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import pytest
from PIL import Image

from tests.faces.bombs import BOMB_60_MP, BOMB_225_MP, JPEG_HEADER_JUNK, truncated_jpeg
from tests.helpers import (
    FACE,
    Api,
    assert_processed,
    get_event,
    get_image,
    new_code,
    photo,
    put_blob,
    run_blob_trigger,
    upload_ticket,
)


def deliver(functions: dict[str, Callable], blob_name: str, data: bytes) -> None:
    """Write ``data`` to blob ``blob_name`` and run the blob trigger on it, as the host would."""
    put_blob(blob_name, data)
    run_blob_trigger(functions, blob_name)


def upload(api: Api, functions: dict[str, Callable], code: str, data: bytes) -> str:
    """Upload ``data`` through a ticket of event ``code``, process it; return the image id."""
    ticket = upload_ticket(api, code)
    deliver(functions, ticket["blob_name"], data)
    return ticket["image_id"]


def image_rows(blob_name: str) -> int:
    """How many image rows hold ``blob_name`` (checked in the database itself)."""
    from kanta.db import connection

    with connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM images WHERE blob_name = %s", (blob_name,)).fetchone()["n"]


def assert_failed(api: Api, code: str, image_id: str, failure_code: str) -> None:
    """The image is ``failed`` with ``failure_code`` and a reason, in its detail and in the
    event's list of failed images, and has no faces."""
    image = get_image(api, image_id)
    assert (image["status"], image["failure_code"]) == ("failed", failure_code), image
    assert image["failure_reason"] and image["failure_reason"].strip()
    assert image["faces"] == [] and image["face_count"] == 0
    status, listing = api("list_images", route={"code": code}, params={"status": "failed"})
    assert status == 200, listing
    assert [(i["image_id"], i["failure_code"]) for i in listing["items"]] == [(image_id, failure_code)]


@pytest.mark.parametrize(("data", "failure_code"), [
    (b"", "empty"),
    (b"just some text, not a photo\n", "not_an_image"),
    (b"GIF89a" + bytes(100), "not_an_image"),
    (truncated_jpeg(), "corrupt"),
    (JPEG_HEADER_JUNK, "corrupt"),
    (BOMB_60_MP, "too_many_pixels"),
    (BOMB_225_MP, "too_many_pixels"),
], ids=["empty", "text", "gif", "truncated-jpeg", "jpeg-header-junk", "bomb-60mp", "bomb-225mp"])
def test_bad_blob_marks_image_failed_without_raising(api, functions, event, data, failure_code):
    image_id = upload(api, functions, event["code"], data)
    assert_failed(api, event["code"], image_id, failure_code)
    assert get_event(api, event["code"])["face_count"] == 0


@pytest.mark.parametrize(("setting", "failure_code"), [
    ("KANTA_MAX_IMAGE_BYTES", "too_large"),
    ("KANTA_MAX_IMAGE_PIXELS", "too_many_pixels"),
])
def test_photo_over_a_configured_limit_marks_image_failed(api, functions, event, settings_override, setting,
                                                         failure_code):
    """A real photo, one unit over the limit: rejected and its blob deleted; at the limit: processed."""
    from kanta.storage import blob_exists

    data = photo(FACE)
    with Image.open(io.BytesIO(data)) as img:
        size = len(data) if setting == "KANTA_MAX_IMAGE_BYTES" else img.width * img.height
    settings_override(**{setting: size - 1})
    image_id = upload(api, functions, event["code"], data)
    assert_failed(api, event["code"], image_id, failure_code)
    assert not blob_exists(get_image(api, image_id)["blob_name"])
    settings_override(**{setting: size})
    assert_processed(api, upload(api, functions, event["code"], data), faces=1)


def test_blob_of_unknown_event_is_skipped_and_deleted(functions):
    """No event to attach it to (say, deleted while a guest uploaded): no row, no exception (a
    retry could not help), and the orphaned blob is deleted."""
    from kanta.storage import uploads_container

    blob_name = f"{new_code()}/{uuid.uuid4()}.jpg"
    put_blob(blob_name, photo(FACE))
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 0
    assert not uploads_container().get_blob_client(blob_name).exists()


@pytest.mark.parametrize("layout", ["{code}/nested/{id}.jpg", "{code}//{id}.jpg", "{id}.jpg", "{code}/sub/"])
def test_blob_name_outside_the_event_layout_is_skipped(functions, event, layout):
    blob_name = layout.format(code=event["code"], id=uuid.uuid4())
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 0


@pytest.mark.parametrize("via_ticket", [True, False], ids=["ticket", "other-client"])
def test_same_blob_processed_twice_keeps_one_image_and_no_duplicate_faces(api, functions, event, via_ticket):
    """At-least-once delivery: a second run of the same blob replaces, never adds."""
    code = event["code"]
    blob_name = upload_ticket(api, code)["blob_name"] if via_ticket else f"{code}/IMG_0001.JPG"
    deliver(functions, blob_name, photo(FACE))
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 1
    status, listing = api("list_images", route={"code": code})
    assert status == 200 and len(listing["items"]) == 1, listing
    assert_processed(api, listing["items"][0]["image_id"], faces=1)
    after = get_event(api, code)
    assert (after["image_count"], after["face_count"]) == (1, 1)


def test_failed_image_overwritten_with_a_good_photo_is_processed(api, functions, event):
    image_id = upload(api, functions, event["code"], truncated_jpeg())
    assert_failed(api, event["code"], image_id, "corrupt")
    deliver(functions, get_image(api, image_id)["blob_name"], photo("group_biden_obama.jpg"))
    assert_processed(api, image_id, faces=2)
    assert get_event(api, event["code"])["face_count"] == 2


def test_good_image_overwritten_with_a_bad_one_loses_its_faces(api, functions, event):
    image_id = upload(api, functions, event["code"], photo(FACE))
    assert_processed(api, image_id, faces=1)
    deliver(functions, get_image(api, image_id)["blob_name"], b"not a photo any more")
    assert_failed(api, event["code"], image_id, "not_an_image")
    assert get_event(api, event["code"])["face_count"] == 0
