"""The pure face pipeline (no database, no storage): equal to face_recognition's descriptors,
EXIF orientation, and rejection of bad bytes."""

from __future__ import annotations

import io

import face_recognition
import numpy as np
import pytest
from PIL import Image

from kanta.faces.pipeline import ImageRejected, analyse_image, decode_image, encode_faces
from tests.conftest import DATA, photo

LIMIT = 50_000_000


@pytest.mark.parametrize("name", ["obama_1.jpg", "group_biden_obama.jpg", "alex_lacamoire_2.png", "obama_5_small.jpg"])
def test_boxes_and_descriptors_equal_face_recognition(name):
    ours = analyse_image(photo(name), max_pixels=LIMIT, upsample=1)
    image = face_recognition.load_image_file(DATA / name)
    locations = face_recognition.face_locations(image, number_of_times_to_upsample=1)
    expected = face_recognition.face_encodings(image, locations)
    assert [(f.bbox.y, f.bbox.x + f.bbox.width, f.bbox.y + f.bbox.height, f.bbox.x) for f in ours.faces] == locations
    assert len(ours.faces) >= 1
    for face, reference in zip(ours.faces, expected):
        assert face.descriptor.shape == (128,)
        np.testing.assert_allclose(face.descriptor, reference, rtol=0, atol=1e-6)


def test_same_person_closer_than_different_people():
    def descriptor(name: str) -> np.ndarray:
        return analyse_image(photo(name), max_pixels=LIMIT).faces[0].descriptor

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
    rgb = decode_image(photo("obama_5_small.jpg"), max_pixels=LIMIT)
    assert encode_faces(rgb, []).shape == (0, 128)


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
