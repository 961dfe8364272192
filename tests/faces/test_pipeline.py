"""The pure face pipeline (no database, no storage): equal to face_recognition's descriptors,
EXIF orientation, rejection of bad bytes in Kanta's words, and cost checked before decoding:
tiny files declaring megapixels are refused from their header, selfies are held to their own
limit and decoded reduced, and real photos and screenshots still pass."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import face_recognition
import numpy as np
import pytest
from PIL import Image, ImageFile, ImageFilter

from kanta.config import Settings
from kanta.faces.boxes import iou
from kanta.faces.pipeline import (
    MAX_PIXELS_PER_BYTE,
    SMALL_IMAGE_PIXELS,
    BoundingBox,
    ImageRejected,
    analyse_image,
    analysis_settings,
    decode_image,
    encode_faces,
)
from tests.faces.bombs import (
    EXPANDING_ICC_PROFILE,
    EXPANDING_TEXT,
    library_words_in,
    lying_jpeg,
    png_bomb,
    screenshot_png,
    webp_bomb,
)
from tests.helpers import DATA, photo

LIMIT = 50_000_000


@pytest.mark.parametrize("profile", ["fast", "balanced", "accurate"])
@pytest.mark.parametrize("name", ["obama_1.jpg", "group_biden_obama.jpg", "alex_lacamoire_2.png", "obama_5_small.jpg"])
def test_faces_face_recognition_finds_are_found_with_its_descriptors(name, profile):
    """Every face the original pipeline (face_recognition, HOG) finds is found, and its
    descriptor stays that face's: within 0.12 of face_recognition's (stored faces, people and
    search cuts keep their meaning; the median over many faces is in bench/README.md)."""
    ours = analyse_image(photo(name), max_pixels=LIMIT, profile=profile).faces
    image = face_recognition.load_image_file(DATA / name)
    locations = face_recognition.face_locations(image, number_of_times_to_upsample=1)
    expected = face_recognition.face_encodings(image, locations)
    assert len(locations) >= 1 and len(ours) == len(locations)
    for (top, right, bottom, left), reference in zip(locations, expected):
        face = max(ours, key=lambda f: iou((f.bbox.x, f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height),
                                           (left, top, right, bottom)))
        assert iou((face.bbox.x, face.bbox.y, face.bbox.x + face.bbox.width, face.bbox.y + face.bbox.height),
                   (left, top, right, bottom)) > 0.4
        assert face.detector == "yunet" and face.descriptor.shape == (128,)
        assert np.linalg.norm(face.descriptor - reference) < 0.12


def test_encode_faces_equals_face_recognition_for_the_same_boxes():
    rgb = decode_image(photo("group_biden_obama.jpg"), max_pixels=LIMIT).rgb
    locations = face_recognition.face_locations(rgb, number_of_times_to_upsample=1)
    boxes = [BoundingBox(left, top, right - left, bottom - top) for top, right, bottom, left in locations]
    np.testing.assert_allclose(encode_faces(rgb, boxes), face_recognition.face_encodings(rgb, locations), atol=1e-6)


def test_same_person_closer_than_different_people():
    def descriptor(name: str) -> np.ndarray:
        return analyse_image(photo(name), max_pixels=LIMIT, profile="fast").faces[0].descriptor

    obama_a, obama_b, biden = descriptor("obama_1.jpg"), descriptor("obama_2.jpg"), descriptor("biden_1.jpg")
    assert np.linalg.norm(obama_a - obama_b) < 0.6 < np.linalg.norm(obama_a - biden)


def test_exif_orientation_is_applied_before_detection():
    """A phone photo stored sideways with an EXIF orientation tag is analysed upright."""
    upright = Image.open(DATA / "obama_1.jpg")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    buf = io.BytesIO()
    sideways.save(buf, "JPEG", quality=95, exif=exif)
    result = analyse_image(buf.getvalue(), max_pixels=LIMIT)
    assert (result.width, result.height) == upright.size
    assert len(result.faces) == 1


def test_encode_no_boxes_gives_empty_array():
    rgb = decode_image(photo("obama_5_small.jpg"), max_pixels=LIMIT).rgb
    assert encode_faces(rgb, []).shape == (0, 128)


def jpeg(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize("angle", [-55, 35, 55])
def test_tilted_head_is_found_and_aligned_like_the_upright_one(angle):
    """A head tilted up to 55°: found, its roll measured, and its descriptor (landmarks fitted
    where the face is upright, mapped back) that of the upright photo."""
    upright = Image.open(DATA / "obama_1.jpg").convert("RGB")
    tilted = jpeg(upright.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128)))
    (found,) = analyse_image(tilted, max_pixels=LIMIT, profile="accurate").faces
    (reference,) = analyse_image(jpeg(upright), max_pixels=LIMIT, profile="accurate").faces
    assert abs(found.roll - reference.roll - angle) < 8
    assert np.linalg.norm(found.descriptor - reference.descriptor) < 0.12
    # The box sits where the face is: its centre is the rotated centre of the upright box.
    w, h = upright.size
    cx, cy = reference.bbox.x + reference.bbox.width / 2 - w / 2, reference.bbox.y + reference.bbox.height / 2 - h / 2
    t = np.radians(angle)
    rw, rh = Image.open(io.BytesIO(tilted)).size
    ex, ey = rw / 2 + cx * np.cos(t) + cy * np.sin(t), rh / 2 - cx * np.sin(t) + cy * np.cos(t)
    box = found.bbox
    assert abs(box.x + box.width / 2 - ex) < 0.2 * box.width and abs(box.y + box.height / 2 - ey) < 0.2 * box.height


def test_large_jpeg_is_decoded_reduced_and_boxes_reported_full_size():
    """A 24 MP JPEG is decoded at 1/2 scale (draft); sizes and boxes are in full-size pixels."""
    small = Image.open(DATA / "group_biden_obama.jpg").convert("RGB")
    big = small.resize((small.width * 6, small.height * 6), Image.Resampling.BILINEAR)  # 6756x3966, 26.8 MP
    decoded = decode_image(jpeg(big), max_pixels=LIMIT, decode_max_pixels=16_000_000)
    assert decoded.rgb.shape[:2] == (big.height // 2, big.width // 2) and decoded.scale == 2.0
    result = analyse_image(jpeg(big), max_pixels=LIMIT, profile="balanced")
    assert (result.width, result.height) == big.size
    reference = analyse_image(photo("group_biden_obama.jpg"), max_pixels=LIMIT, profile="fast").faces
    assert len(result.faces) == len(reference) == 2
    for face in result.faces:
        # Same face within a fifth of its width (boxes shift with the detection scale).
        centre = (face.bbox.x + face.bbox.width / 2) / 6
        assert any(abs(centre - (r.bbox.x + r.bbox.width / 2)) < 0.2 * r.bbox.width for r in reference)


def test_quality_exclusions_and_thumbnails():
    sharp = analyse_image(photo("obama_1.jpg"), max_pixels=LIMIT, profile="fast", min_face_px=24, min_sharpness=25)
    face = sharp.faces[0]
    assert face.excluded is None and face.sharpness > 25
    thumb = Image.open(io.BytesIO(face.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (160, 160)

    blurred = jpeg(Image.open(DATA / "obama_1.jpg").filter(ImageFilter.GaussianBlur(4)))
    (face,) = analyse_image(blurred, max_pixels=LIMIT, profile="fast", min_sharpness=25).faces
    assert face.excluded == "too_blurry" and face.sharpness < 25
    (face,) = analyse_image(photo("obama_1.jpg"), max_pixels=LIMIT, profile="fast", min_face_px=1000).faces
    assert face.excluded == "too_small"
    turned = analyse_image(photo("group_biden_obama.jpg"), max_pixels=LIMIT, profile="fast", max_yaw=60).faces
    assert [f.excluded for f in turned] == [None, None]
    limit = min(abs(f.yaw) for f in turned) - 1  # both are turned a little (about 15 degrees)
    turned = analyse_image(photo("group_biden_obama.jpg"), max_pixels=LIMIT, profile="fast", max_yaw=limit).faces
    assert [f.excluded for f in turned] == ["too_turned", "too_turned"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"hello, not an image", "not_an_image"),
        (photo("obama_2.jpg")[:2000], "corrupt"),
    ],
)
def test_bad_bytes_are_rejected_with_a_code(data, code):
    with pytest.raises(ImageRejected) as err:
        decode_image(data, max_pixels=LIMIT)
    assert err.value.code == code and err.value.message


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(ImageRejected) as err:
        decode_image(photo("biden_1.jpg"), max_pixels=1_000_000)  # 970x2204
    assert err.value.code == "too_many_pixels"


# --- Cost checked before decoding: bombs, lying headers, and real photos kept -------------

#: Longest a refused bomb may take, seconds: a header read, where decoding took 1.1-3.7 s.
FAST_S = 0.5

BOMBS = {
    "png-1bit-2828x2828-1kB": (png_bomb(2828, 2828), "too_many_pixels"),
    "png-1bit-7000x7000-6kB": (png_bomb(7000, 7000), "too_many_pixels"),
    "webp-lossless-3000x3000-422B": (webp_bomb(3000), "too_many_pixels"),
    "jpeg-632B-claims-7000x7100": (lying_jpeg(), "corrupt"),
}


def rejected(data: bytes, **kwargs) -> tuple[ImageRejected, float]:
    """The ``ImageRejected`` that ``decode_image(data, **kwargs)`` raises, and seconds taken."""
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as err:
        decode_image(data, **kwargs)
    return err.value, time.perf_counter() - started


def decoders_words(data: bytes) -> str | None:
    """What the decoder itself says of ``data`` when it fails to read it (``None`` if it reads it)."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:  # noqa: BLE001  (whatever it raises, its words must not reach users)
        return str(exc)
    return None


def assert_in_kantas_words(error: ImageRejected, data: bytes | None = None) -> None:
    """A message of Kanta's own: no library's words, and not what the decoder said of ``data``."""
    assert error.message.strip() and not library_words_in(error.message), error.message
    said = decoders_words(data) if data is not None else None
    assert not said or said not in error.message, error.message


@pytest.mark.parametrize("name", BOMBS)
@pytest.mark.parametrize("purpose", ["event_photo", "selfie"])
def test_tiny_file_declaring_megapixels_is_refused_before_decoding(name, purpose):
    """The blob trigger's and search's own settings: each bomb fails in a header read."""
    data, code = BOMBS[name]
    settings = analysis_settings(Settings(), query=purpose == "selfie")
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as err:
        analyse_image(data, **settings, thumbnails=False)
    assert time.perf_counter() - started < FAST_S
    assert err.value.code == code, err.value.message
    assert_in_kantas_words(err.value, data)


def test_jpeg_too_short_for_its_declared_size_is_corrupt_not_a_grey_image():
    error, seconds = rejected(lying_jpeg(), max_pixels=LIMIT)
    assert (error.code, seconds < FAST_S) == ("corrupt", True)
    assert "7000x7100" in error.message and "632 bytes" in error.message
    # The same file with its true size is a fine 8x8 image.
    assert decode_image(lying_jpeg(8, 8), max_pixels=LIMIT).rgb.shape == (8, 8, 3)


def test_bomb_message_states_size_bytes_and_the_limit():
    error, _ = rejected(png_bomb(2828, 2828), max_pixels=LIMIT)
    assert "2828x2828" in error.message and "1,053 bytes" in error.message
    assert f"{MAX_PIXELS_PER_BYTE}" in error.message


def test_small_declared_sizes_are_decoded_whatever_their_byte_count():
    """Up to ``SMALL_IMAGE_PIXELS`` a tiny file is decoded (flat cards, icons); one row more is not."""
    side = int(SMALL_IMAGE_PIXELS**0.5)
    small = png_bomb(side, side)
    assert side * side / len(small) > MAX_PIXELS_PER_BYTE  # would be refused at any size above the floor
    assert decode_image(small, max_pixels=LIMIT).rgb.shape == (side, side, 3)
    error, _ = rejected(png_bomb(side, side + 1), max_pixels=LIMIT)
    assert error.code == "too_many_pixels"


@pytest.mark.parametrize("data", [EXPANDING_TEXT, EXPANDING_ICC_PROFILE], ids=["zTXt", "iCCP"])
def test_png_metadata_expanding_past_the_decoders_limit_is_corrupt_in_kantas_words(data):
    error, _ = rejected(data, max_pixels=LIMIT)
    assert error.code == "corrupt"
    assert_in_kantas_words(error, data)


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"),
    (b"hello, not an image", "not_an_image"),
    (b"GIF89a" + bytes(100), "not_an_image"),
    (photo("obama_2.jpg")[:2000], "corrupt"),  # the decoder's words: "image file is truncated"
    (b"\xff\xd8\xff\xe0" + b"garbage!" * 300, "corrupt"),
    (png_bomb(15_000, 15_000), "too_many_pixels"),  # refused by the decoder itself as a bomb
    (png_bomb(10_000, 6_000), "too_many_pixels"),
], ids=["empty", "text", "gif", "truncated-jpeg", "jpeg-header-junk", "bomb-225mp", "bomb-60mp"])
def test_every_rejection_is_in_kantas_words(data, code):
    error, _ = rejected(data, max_pixels=LIMIT)
    assert error.code == code
    assert_in_kantas_words(error, data)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.iterdir() if p.suffix in (".jpg", ".png")))
def test_real_photos_are_far_under_the_pixels_per_byte_limit_and_decode(name):
    data = photo(name)
    decoded = decode_image(data, max_pixels=LIMIT)
    assert decoded.width * decoded.height / len(data) < MAX_PIXELS_PER_BYTE / 10


def upscaled(name: str, megapixels: float, fmt: str = "JPEG", **save: object) -> bytes:
    """A tests/data photo enlarged to ``megapixels`` (bicubic: smoother than any camera's
    photo, so it packs more pixels per byte than a real one)."""
    img = Image.open(DATA / name).convert("RGB")
    scale = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "faces"), [
    (upscaled("group_biden_obama.jpg", 12.2, quality=75), 2),  # a phone's 12 MP: 18 pixels per byte
    (upscaled("obama_4_480p.jpg", 12.0, quality=50), 1),  # a video frame enlarged 5x: 35, over any photo
    (screenshot_png("obama_1.jpg"), 1),  # 7
    (screenshot_png("obama_1.jpg", (2560, 1440), 320), 1),  # 13
], ids=["phone-jpeg-12mp", "enlarged-video-frame-jpeg-12mp", "phone-screenshot-png", "desktop-screenshot-png"])
def test_phone_photos_and_screenshots_with_faces_are_accepted(data, faces):
    """Photos and screenshots as guests send them, at least as compact as real ones, pass the
    pixels-per-byte check and keep their faces."""
    result = analyse_image(data, **analysis_settings(Settings()), thumbnails=False)
    assert len(result.faces) == faces


def test_png_and_webp_over_the_decode_size_are_reduced_after_decoding():
    """Only JPEG has DCT scaling; other formats are reduced right after decoding, so detection
    never sees more than the decode size, with sizes and boxes still in full-size pixels."""
    for fmt in ("PNG", "WEBP"):
        data = upscaled("obama_1.jpg", 9.0, fmt)  # 3021x3777
        full = Image.open(io.BytesIO(data)).size
        decoded = decode_image(data, max_pixels=LIMIT, decode_max_pixels=4_000_000)
        assert decoded.rgb.shape == ((full[1] + 1) // 2, (full[0] + 1) // 2, 3), fmt
        assert (decoded.width, decoded.height) == full and decoded.scale == pytest.approx(2.0, abs=1e-3)


def test_palette_png_with_exif_orientation_is_reduced_and_turned_upright():
    upright = Image.open(DATA / "obama_1.jpg").convert("RGB").resize((2730, 3411))
    sideways = upright.transpose(Image.Transpose.ROTATE_90).quantize(256)  # as stored, 8-bit palette
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buf = io.BytesIO()
    sideways.save(buf, "PNG", exif=exif)
    decoded = decode_image(buf.getvalue(), max_pixels=LIMIT, decode_max_pixels=4_000_000)
    assert (decoded.width, decoded.height) == upright.size
    assert decoded.rgb.shape == (3411 // 2 + 1, 2730 // 2, 3)


def test_selfie_is_decoded_reduced_and_keeps_its_face():
    """Search's settings: a 12 MP phone selfie is decoded at 1/2 (3 MP); the face and its box
    in full-size pixels are those of a full decode, the descriptor the same person's."""
    selfie = upscaled("obama_1.jpg", 12.0, quality=90)
    query = analysis_settings(Settings(), query=True)
    assert query["decode_max_pixels"] == 4_000_000 < query["max_pixels"] < Settings().max_image_pixels
    decoded = decode_image(selfie, max_pixels=query["max_pixels"], decode_max_pixels=query["decode_max_pixels"])
    assert decoded.scale == pytest.approx(2.0, abs=1e-3) and decoded.rgb.size / 3 <= 4_000_000
    (reduced,) = analyse_image(selfie, **query, thumbnails=False).faces
    (full,) = analyse_image(selfie, **analysis_settings(Settings()), thumbnails=False).faces
    assert iou(*(
        (f.bbox.x, f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height) for f in (reduced, full)
    )) > 0.8
    assert np.linalg.norm(reduced.descriptor - full.descriptor) < 0.1


def test_selfie_over_the_query_pixel_limit_is_refused_before_decoding():
    """A selfie has its own, smaller limit: a 30 MP photo is fine for an event, not for search."""
    settings = Settings()
    width, height = 6000, 5000
    assert settings.max_query_image_pixels < width * height <= settings.max_image_pixels
    data = upscaled("obama_1.jpg", width * height / 1e6, quality=80)
    query = analysis_settings(settings, query=True)
    error, seconds = rejected(data, max_pixels=query["max_pixels"], decode_max_pixels=query["decode_max_pixels"])
    assert error.code == "too_many_pixels" and seconds < FAST_S
    assert f"{settings.max_query_image_pixels / 1e6:.1f} MP" in error.message


#: Run in a child process: a crash there fails the test instead of ending the test session.
CONCURRENT_ANALYSES = """
import sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from kanta.faces.pipeline import analyse_image
from tests.helpers import photo

names = ["obama_1.jpg", "group_biden_obama.jpg", "biden_2.jpg", "obama_3.jpg"]
def faces(name):
    return [(f.bbox, f.descriptor) for f in analyse_image(photo(name), max_pixels=50_000_000).faces]
alone = {n: faces(n) for n in names}
with ThreadPoolExecutor(max_workers=3) as pool:
    together = list(pool.map(faces, names * 4))
for name, found in zip(names * 4, together):
    assert [b for b, _ in found] == [b for b, _ in alone[name]], name
    assert all(np.array_equal(d, e) for (_, d), (_, e) in zip(found, alone[name])), name
print("same faces")
"""


def test_analyses_in_concurrent_threads_are_safe_and_give_the_same_faces():
    """The Functions worker runs functions on a thread pool: three analyses at once must
    neither crash the process (dlib's models are not thread-safe) nor change any result."""
    proc = subprocess.run([sys.executable, "-c", CONCURRENT_ANALYSES], cwd=DATA.parent.parent,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0 and "same faces" in proc.stdout, proc.stderr[-3000:]


def test_importing_the_pipeline_loads_no_dlib():
    """Models load on first use: HTTP functions other than search never pay for dlib."""
    code = "import sys, kanta.faces.pipeline; print('dlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=DATA.parent.parent, capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip() == "False"
