"""Selfie search's own limits, with real PostgreSQL, Azurite and dlib: a selfie is held to
``KANTA_MAX_QUERY_IMAGE_PIXELS`` (under the event photos' limit) and decoded reduced, so it
can never cost what an event photo may; tiny-file bombs, alone or three at once, answer 422
``invalid_image`` in Kanta's words within a header read; real selfies still find their person."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from kanta.config import get_settings
from tests.faces.bombs import library_words_in, lying_jpeg, png_bomb, webp_bomb
from tests.helpers import DATA, photo
from tests.search.helpers import SELFIE, add_photos, photos_found, recluster, search

#: Longest search may take to refuse a bomb, seconds (the event lookup included); decoding
#: and searching them took 1.1-3.7 s each.
FAST_S = 1.0

#: The bombs of the tests above, as a tester sent them to search.
BOMBS = {
    "png-1bit-2828x2828-1kB": png_bomb(2828, 2828),
    "png-1bit-7000x7000-6kB": png_bomb(7000, 7000),
    "webp-lossless-3000x3000-422B": webp_bomb(3000),
    "jpeg-632B-claims-7000x7100": lying_jpeg(),
}


def post_selfie(api, code: str, body: bytes) -> tuple[int, dict, float]:
    started = time.perf_counter()
    status, result = api("search_event", "POST", route={"code": code}, body=body)
    return status, result, time.perf_counter() - started


def assert_invalid_image(status: int, body: dict) -> None:
    assert (status, body["code"]) == (422, "invalid_image"), body
    assert body["message"].strip() and not library_words_in(body["message"]), body


@pytest.mark.parametrize("name", BOMBS)
def test_bomb_selfie_is_422_within_a_header_read(api, event, name):
    status, body, seconds = post_selfie(api, event["code"], BOMBS[name])
    assert_invalid_image(status, body)
    assert seconds < FAST_S


def test_three_bombs_at_once_are_all_422_quickly(api, event):
    bombs = list(BOMBS.values())[:2] + [BOMBS["jpeg-632B-claims-7000x7100"]]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda body: post_selfie(api, event["code"], body), bombs))
    assert time.perf_counter() - started < 2 * FAST_S
    for status, body, _ in answers:
        assert_invalid_image(status, body)


def enlarged(name: str, size: tuple[int, int], quality: int = 85) -> bytes:
    """A tests/data photo resized to ``size`` (pixels) as a JPEG: a phone-sized selfie."""
    buf = io.BytesIO()
    Image.open(DATA / name).convert("RGB").resize(size, Image.Resampling.BICUBIC).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_selfie_over_the_query_pixel_limit_is_422_naming_the_limit(api, event):
    """30 MP: within the event photos' limit, over the selfies' own."""
    settings = get_settings()
    assert settings.max_query_image_pixels < 6000 * 5000 <= settings.max_image_pixels
    status, body, seconds = post_selfie(api, event["code"], enlarged("obama_1.jpg", (6000, 5000), 70))
    assert_invalid_image(status, body)
    assert "6000x5000" in body["message"] and f"{settings.max_query_image_pixels / 1e6:.1f} MP" in body["message"]
    assert seconds < FAST_S


def test_query_pixel_limit_is_its_own_setting(api, functions, event, settings_override):
    """One pixel under the selfie: 422 for search, while the blob trigger indexes the same
    photo under the event photos' limit; at the selfie's size: searched."""
    selfie = photo(SELFIE)
    with Image.open(io.BytesIO(selfie)) as img:
        pixels = img.width * img.height
    settings_override(KANTA_MAX_QUERY_IMAGE_PIXELS=pixels - 1)
    assert_invalid_image(*post_selfie(api, event["code"], selfie)[:2])
    add_photos(functions, event["code"], {"same-photo.jpg": selfie})
    status, listing = api("list_images", route={"code": event["code"]}, params={"status": "processed"})
    assert status == 200 and len(listing["items"]) == 1, listing
    settings_override(KANTA_MAX_QUERY_IMAGE_PIXELS=pixels)
    assert photos_found(search(api, event["code"], selfie), event["code"]) == ["same-photo.jpg"]


def test_phone_sized_selfie_is_decoded_reduced_and_finds_its_person(api, functions, event):
    """A 12 MP selfie (4032x3024 class) is searched from a reduced decode: its face box comes
    back in its own full-size pixels and the person is found in every photo."""
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "kit_harington_1.jpg"])
    recluster(api, code)
    small = Image.open(DATA / SELFIE)
    size = (small.width * 5, small.height * 5)  # 4265x2400, 10.2 MP
    result = search(api, code, enlarged(SELFIE, size))
    assert sorted(photos_found(result, code)) == ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"]
    reference = search(api, code, SELFIE)["query_faces"][0]["bbox"]
    box = result["query_faces"][0]["bbox"]
    for key in ("x", "y", "width", "height"):
        assert box[key] == pytest.approx(reference[key] * 5, abs=0.1 * reference["width"] * 5)
