"""The pure face pipeline (no database, no storage): equal to face_recognition's descriptors,
EXIF orientation, and rejection of bad bytes."""

from __future__ import annotations

import io

import face_recognition
import numpy as np
import pytest
from PIL import Image, ImageFilter

from kanta.faces.detection import iou
from kanta.faces.pipeline import BoundingBox, ImageRejected, analyse_image, decode_image, encode_faces
from tests.helpers import DATA, photo

LIMIT = 50_000_000


@pytest.mark.parametrize("profile", ["balanced", "accurate"])
@pytest.mark.parametrize("name", ["obama_1.jpg", "group_biden_obama.jpg", "alex_lacamoire_2.png", "obama_5_small.jpg"])
def test_upright_faces_equal_face_recognition(name, profile):
    """Upright faces keep face_recognition's boxes and descriptors whatever extra passes run."""
    ours = analyse_image(photo(name), max_pixels=LIMIT, profile=profile)
    image = face_recognition.load_image_file(DATA / name)
    locations = face_recognition.face_locations(image, number_of_times_to_upsample=1)
    expected = face_recognition.face_encodings(image, locations)
    assert [(f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height, f.bbox.x) for f in ours.faces] == locations
    assert len(ours.faces) >= 1
    for face, reference in zip(ours.faces, expected):
        assert face.descriptor.shape == (128,)
        np.testing.assert_allclose(face.descriptor, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["obama_1.jpg", "group_biden_obama.jpg", "alex_lacamoire_2.png", "obama_5_small.jpg"])
def test_fast_profile_finds_the_same_faces_with_compatible_descriptors(name):
    """``fast`` runs HOG on luma: boxes move by a few pixels, descriptors stay the same person's."""
    ours = analyse_image(photo(name), max_pixels=LIMIT, profile="fast").faces
    image = face_recognition.load_image_file(DATA / name)
    locations = face_recognition.face_locations(image, number_of_times_to_upsample=1)
    expected = face_recognition.face_encodings(image, locations)
    assert len(ours) == len(locations)
    for (top, right, bottom, left), reference in zip(locations, expected):
        face = max(ours, key=lambda f: iou((f.bbox.x, f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height),
                                           (left, top, right, bottom)))
        assert np.linalg.norm(face.descriptor - reference) < 0.15


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


def test_tilted_head_found_by_balanced_not_fast_and_same_person():
    """A head tilted 55°: upright HOG misses it; the ±30° pass finds it, and the descriptor
    from its mapped-back landmarks matches the upright photo's."""
    upright = Image.open(DATA / "obama_1.jpg").convert("RGB")
    tilted = jpeg(upright.rotate(55, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128)))
    assert analyse_image(tilted, max_pixels=LIMIT, profile="fast").faces == []
    found = analyse_image(tilted, max_pixels=LIMIT, profile="balanced").faces
    assert len(found) == 1 and found[0].angle == -30.0 and found[0].detector == "hog"  # the pass turning it back
    reference = analyse_image(jpeg(upright), max_pixels=LIMIT, profile="fast").faces[0]
    assert np.linalg.norm(found[0].descriptor - reference.descriptor) < 0.35
    # The box sits where the face is: its centre is the rotated centre of the upright box.
    w, h = upright.size
    cx, cy = reference.bbox.x + reference.bbox.width / 2 - w / 2, reference.bbox.y + reference.bbox.height / 2 - h / 2
    t = np.radians(55)
    rw, rh = Image.open(io.BytesIO(tilted)).size
    ex, ey = rw / 2 + cx * np.cos(t) + cy * np.sin(t), rh / 2 - cx * np.sin(t) + cy * np.cos(t)
    box = found[0].bbox
    assert abs(box.x + box.width / 2 - ex) < 0.15 * box.width and abs(box.y + box.height / 2 - ey) < 0.15 * box.height


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
        # Same face within a fifth of its width (HOG boxes shift with the detection scale).
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
