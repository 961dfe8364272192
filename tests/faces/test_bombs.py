"""The blob trigger on tiny-file bombs, with real Azurite and PostgreSQL: each marks its photo
``failed`` with a stable code and a reason in Kanta's words within a header read, instead of
decoding megapixels (or, for a JPEG whose header lies, indexing a grey image)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.faces.bombs import library_words_in, lying_jpeg, png_bomb, webp_bomb
from tests.helpers import photo, put_blob, run_blob_trigger

#: Longest the blob trigger may take on a bomb, seconds (database and storage calls
#: included); decoding them took 1.1-3.7 s.
FAST_S = 1.0


@pytest.mark.parametrize(("data", "failure_code"), [
    (png_bomb(2828, 2828), "too_many_pixels"),
    (png_bomb(7000, 7000), "too_many_pixels"),
    (webp_bomb(3000), "too_many_pixels"),
    (lying_jpeg(), "corrupt"),
], ids=["png-1bit-2828x2828-1kB", "png-1bit-7000x7000-6kB", "webp-lossless-3000x3000-422B",
        "jpeg-632B-claims-7000x7100"])
def test_bomb_blob_fails_fast_with_its_code_and_kantas_words(api, functions, event, data, failure_code):
    blob_name = f"{event['code']}/{uuid.uuid4()}.img"
    put_blob(blob_name, data)
    started = time.perf_counter()
    run_blob_trigger(functions, blob_name)
    assert time.perf_counter() - started < FAST_S
    status, listing = api("list_images", route={"code": event["code"]}, params={"status": "failed"})
    assert status == 200, listing
    (item,) = listing["items"]
    status, image = api("get_image", route={"image_id": item["image_id"]})
    assert status == 200, image
    assert (image["status"], image["failure_code"], image["faces"]) == ("failed", failure_code, [])
    assert image["failure_reason"].strip() and not library_words_in(image["failure_reason"]), image


def test_a_real_photo_next_to_the_bombs_is_indexed(api, functions, event):
    blob_name = f"{event['code']}/{uuid.uuid4()}.jpg"
    put_blob(blob_name, photo("group_biden_obama.jpg"))
    run_blob_trigger(functions, blob_name)
    status, listing = api("list_images", route={"code": event["code"]}, params={"status": "processed"})
    assert status == 200 and [i["face_count"] for i in listing["items"]] == [2], listing
