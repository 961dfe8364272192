"""YuNet in front of dlib's landmarks (``kanta.faces.detection``) on real photos: the
labelled faces of group photos are found where the labels put them, turned faces too, and two
analyses at once give what each gives alone."""

from __future__ import annotations

import csv
import threading

import numpy as np
import pytest

from kanta.faces.boxes import iou
from kanta.faces.detection import PROFILES, dlib_rect, roll_of, yaw_of
from kanta.faces.pipeline import analyse_image
from tests.helpers import ROOT

#: Hand-labelled PASCAL VOC group photos shipped with the detection benchmark (dlib's examples).
DETECTION = ROOT / "bench" / "data" / "detection"
LIMIT = 50_000_000


def labelled(file: str, category: str | None = None) -> list[tuple[float, float, float, float]]:
    with (DETECTION / "boxes.csv").open(newline="") as f:
        return [(int(r["left"]), int(r["top"]), int(r["left"]) + int(r["width"]), int(r["top"]) + int(r["height"]))
                for r in csv.DictReader(f) if r["file"] == file and category in (None, r["category"])]


def boxes(faces) -> list[tuple[float, float, float, float]]:
    return [f.bbox.corners for f in faces]


@pytest.mark.parametrize("file", ["2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg", "2008_002079.jpg"])
def test_every_labelled_face_of_a_group_photo_is_found_where_the_label_is(file):
    """Faces of about 37 px in group photos (HOG found 128 of 180 such faces in the benchmark):
    each labelled face has a face whose box overlaps its label by more than 0.3 and whose
    centre is within a third of the label's width of the label's centre."""
    found = boxes(analyse_image((DETECTION / file).read_bytes(), max_pixels=LIMIT).faces)
    for label in labelled(file):
        best = max(found, key=lambda b: iou(b, label))
        assert iou(best, label) > 0.3, (label, found)
        width = label[2] - label[0]
        assert abs((best[0] + best[2]) / 2 - (label[0] + label[2]) / 2) < width / 3
        assert abs((best[1] + best[3]) / 2 - (label[1] + label[3]) / 2) < width / 3


def test_turned_faces_are_found_and_their_turn_measured():
    """The faces of the group photos labelled as turned away from the camera are found, and
    their yaw is larger than that of the photo's frontal faces."""
    turned_total = 0
    for file in ("2008_001009.jpg", "2008_001322.jpg", "2007_007763.jpg", "2008_002079.jpg"):
        faces = analyse_image((DETECTION / file).read_bytes(), max_pixels=LIMIT).faces
        turned = labelled(file, "turned")
        for label in turned:
            assert max(iou(b, label) for b in boxes(faces)) > 0.3
        turned_total += len(turned)
    assert turned_total >= 3


def test_two_analyses_at_once_give_the_same_faces_as_one_at_a_time():
    """The blob trigger and search run analyses on a thread pool: YuNet runs outside the dlib
    lock (its OpenMP threads included), so two at once must not disturb each other."""
    files = [DETECTION / "2008_001322.jpg", DETECTION / "2007_007763.jpg", ROOT / "tests" / "data" / "obama_1.jpg"]
    alone = [analyse_image(f.read_bytes(), max_pixels=LIMIT, thumbnails=False).faces for f in files]
    results: dict[int, list] = {}

    def run(i: int) -> None:
        for _ in range(2):
            results[i] = analyse_image(files[i % len(files)].read_bytes(), max_pixels=LIMIT, thumbnails=False).faces

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, faces in results.items():
        expected = alone[i % len(files)]
        assert [f.bbox for f in faces] == [f.bbox for f in expected]
        np.testing.assert_array_equal(np.array([f.descriptor for f in faces]), np.array([f.descriptor for f in expected]))


def test_pose_from_landmarks():
    """Roll follows the eye line (counter-clockwise positive); yaw is 0 for a symmetric face
    and takes the side the nose moved to."""
    frontal = np.array([(70, 50), (60, 50), (30, 50), (40, 50), (50, 70)], dtype=float)
    assert roll_of(frontal) == pytest.approx(0) and yaw_of(frontal) == pytest.approx(0)
    tilted = frontal.copy()
    tilted[:, 1] -= (tilted[:, 0] - 50) * np.tan(np.radians(20))  # right side up: turned counter-clockwise
    assert roll_of(tilted) == pytest.approx(20, abs=0.5)
    turned = frontal.copy()
    turned[4, 0] += 14  # nose 14 px right of the eyes' middle, eyes 30 px apart: atan(14 / (30 * 0.35)) = 53.1°
    assert yaw_of(turned) == pytest.approx(53.1, abs=0.5)


def test_dlib_rect_is_the_hog_framing_of_a_yunet_box():
    """A YuNet box 100 wide and 130 tall becomes a square about 106 px wide, a little lower."""
    left, top, right, bottom = dlib_rect((0, 0, 100, 130))
    assert right - left == pytest.approx(bottom - top) == pytest.approx(105.5, abs=0.5)
    assert (top + bottom) / 2 > 65


def test_profiles_detect_on_bounded_copies():
    """No profile detects on more than 6 MP, where YuNet starts to fire on non-faces."""
    assert all(p.detect_max_pixels <= 6_000_000 and p.query_detect_max_pixels <= p.detect_max_pixels
               for p in PROFILES.values())
