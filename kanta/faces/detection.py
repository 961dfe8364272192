"""Face detection strategies for event photos: named profiles over dlib's detectors.

Pure computation: an RGB array in, face detections (box, landmarks, which detector and
angle found it, its score) out. dlib is loaded lazily by ``kanta.faces.models``.

Why more than one pass: dlib's HOG frontal detector (Dalal & Triggs, CVPR 2005; dlib's
``get_frontal_face_detector``, five filters: frontal, turned left/right, tilted slightly
left/right) found large faces of tests/data tilted up to about 40 degrees, none at 55, and
misses faces under about 80 px (40 px with one 2x upsample). Each profile adds passes:

- upright HOG, upsampled once when the image is small enough to afford it;
- HOG on copies rotated by a few angles (boxes and landmarks mapped back, duplicates
  merged by overlap), on a copy scaled down first, since tilted faces in close-ups are large;
- dlib's CNN detector (MMOD, King, arXiv:1502.00046) on a downscaled copy, for faces
  HOG cannot see (strong turns, occlusion).

Landmarks come from dlib's 5-point shape predictor run where the face is upright (in the
rotated copy for rotated passes), so descriptors are computed on aligned chips exactly as
face_recognition does for upright faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from kanta.faces.models import models


@dataclass(frozen=True)
class DetectionProfile:
    """How hard to look for faces. Sizes are pixels of the decoded (upright) image.

    ``upsample``: HOG upsample count of the upright pass, used only up to
    ``upsample_max_pixels``. ``angles``: degrees (counter-clockwise) of extra HOG passes on
    rotated copies, each run on a copy whose longest side is at most ``rotated_max_side``
    with ``rotated_upsample``, or upsampled once when the upright pass found a face
    narrower than ``small_face_px`` (a crowd: its tilted faces are small too). ``cnn_max_side``: run the CNN detector on a copy at most this
    long (``None``: no CNN). ``grey``: which HOG passes run on the luma image instead of
    RGB (dlib takes the strongest gradient of three channels; one channel is ~30% faster
    here and found the same faces but for one small face in bench/data). ``decode_max_pixels``: event photos larger than this are
    decoded at 1/2, 1/4 or 1/8 scale (JPEGs by libjpeg's DCT scaling, Pillow ``draft``; other
    formats reduced right after decoding) before anything else. ``query_decode_max_pixels``:
    the same for selfies sent to search, which are decoded to between 1/4 of it and it. A
    selfie's largest face is at least 13% as wide as the square root of its pixel count (61
    labelled photos of ../shared/faces/identities/photos: 13-96%, median 35%), so at the
    default 4 MP it keeps at least 133 px, about the 150 px chip the encoder reads: more
    pixels would cost time and memory without changing the descriptor much.
    """

    name: str
    upsample: int = 1
    upsample_max_pixels: int = 8_000_000
    angles: tuple[float, ...] = ()
    rotated_max_side: int = 1600
    rotated_upsample: int = 0
    small_face_px: int = 0
    grey: Literal["none", "rotated", "all"] = "none"
    cnn_max_side: int | None = None
    decode_max_pixels: int = 16_000_000
    query_decode_max_pixels: int = 4_000_000
    description: str = field(default="", compare=False)


#: The profiles, chosen by the ``KANTA_DETECTION_PROFILE`` setting. Figures: bench/README.md.
PROFILES: dict[str, DetectionProfile] = {
    p.name: p
    for p in (
        DetectionProfile(
            "fast",
            grey="all",
            description="Upright HOG on the luma image, upsampled once up to 8 MP.",
        ),
        DetectionProfile(
            "balanced",
            angles=(-30.0, 30.0),
            rotated_max_side=1024,
            small_face_px=60,
            grey="rotated",
            description="Upright RGB HOG as the original pipeline, plus luma HOG on copies tilted ±30° "
            "(at most 1024 px long; upsampled when the upright pass found faces under 60 px).",
        ),
        DetectionProfile(
            "accurate",
            angles=(-60.0, -30.0, 30.0, 60.0),
            rotated_max_side=1280,
            small_face_px=80,
            cnn_max_side=800,
            description="Upright HOG and RGB HOG at ±30°/±60° (upsampled when faces under 80 px were "
            "found), plus the CNN detector on a copy at most 800 px long.",
        ),
    )
}
DEFAULT_PROFILE = "balanced"

#: Boxes of two detections overlapping more than this (intersection over union) are one face.
MERGE_IOU = 0.3


@dataclass(frozen=True)
class Detection:
    """One face found in an image.

    ``box``: ``(left, top, right, bottom)`` floats in pixels of the image searched.
    ``landmarks``: ``float64`` ``(5, 2)`` x/y of dlib's 5-point model in that image.
    ``detector``: ``"hog"`` or ``"cnn"``; ``angle``: degrees (counter-clockwise) the image
    was rotated for the pass that found it (a head tilted +55° is found by the -30° pass);
    ``score``: the detector's confidence (HOG SVM margin or CNN confidence; not comparable
    across detectors).
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    detector: str
    angle: float
    score: float


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(left, top, right, bottom)`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _scaled(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk so its longest side is at most ``max_side``, and the factor applied."""
    h, w = rgb.shape[:2]
    factor = min(1.0, max_side / max(h, w))
    if factor == 1.0:
        return rgb, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)), factor


def _rotated(rgb: np.ndarray, angle: float) -> np.ndarray:
    """``rgb`` rotated ``angle`` degrees counter-clockwise about its centre, canvas expanded."""
    return np.asarray(Image.fromarray(rgb).rotate(angle, resample=Image.Resampling.BILINEAR, expand=True))


def _unrotate(points: np.ndarray, angle: float, src_size: tuple[int, int], rot_size: tuple[int, int]) -> np.ndarray:
    """Map ``(n, 2)`` x/y points of a copy rotated by ``_rotated`` back to the source image.

    ``src_size`` and ``rot_size`` are ``(width, height)`` of source and rotated copy. Pillow
    rotates counter-clockwise as displayed (y axis down) about the centre, so the inverse is
    a clockwise rotation about the rotated copy's centre.
    """
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    dx = points[:, 0] - rot_size[0] / 2
    dy = points[:, 1] - rot_size[1] / 2
    x = src_size[0] / 2 + dx * cos - dy * sin
    y = src_size[1] / 2 + dx * sin + dy * cos
    return np.stack([x, y], axis=1)


def _landmarks(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    m = models()
    rect = m.dlib.rectangle(*(round(v) for v in box))
    shape = m.shape_predictor(rgb, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _clip(box: tuple[float, ...], width: int, height: int) -> tuple[float, float, float, float]:
    return (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(width)), min(box[3], float(height)))


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of ``rgb`` as ``uint8`` ``(H, W)``."""
    return np.asarray(Image.fromarray(rgb).convert("L"))


def _hog(image: np.ndarray, upsample: int) -> list[tuple[tuple[float, float, float, float], float]]:
    rects, scores, _ = models().detector.run(image, upsample, 0.0)
    return [((r.left(), r.top(), r.right(), r.bottom()), s) for r, s in zip(rects, scores)]


def _upright_hog(rgb: np.ndarray, profile: DetectionProfile) -> list[Detection]:
    h, w = rgb.shape[:2]
    upsample = profile.upsample if w * h <= profile.upsample_max_pixels else 0
    found = []
    for box, score in _hog(grey_of(rgb) if profile.grey == "all" else rgb, upsample):
        box = _clip(box, w, h)  # as face_recognition's _trim_css_to_bounds
        if box[2] > box[0] and box[3] > box[1]:
            found.append(Detection(box, _landmarks(rgb, box), "hog", 0.0, score))
    return found


def _rotated_hog(rgb: np.ndarray, profile: DetectionProfile, upsample: int) -> list[Detection]:
    h, w = rgb.shape[:2]
    small, factor = _scaled(rgb, profile.rotated_max_side)
    sh, sw = small.shape[:2]
    found = []
    for angle in profile.angles:
        turned = _rotated(small, angle)
        th, tw = turned.shape[:2]
        for box, score in _hog(grey_of(turned) if profile.grey != "none" else turned, upsample):
            # Landmarks where the face is upright, then mapped back: alignment stays exact.
            points = _unrotate(_landmarks(turned, box), angle, (sw, sh), (tw, th)) / factor
            centre = _unrotate(np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]]), angle, (sw, sh), (tw, th))[0]
            cx, cy = centre / factor
            half_w, half_h = (box[2] - box[0]) / factor / 2, (box[3] - box[1]) / factor / 2
            mapped = _clip((cx - half_w, cy - half_h, cx + half_w, cy + half_h), w, h)
            if mapped[2] > mapped[0] and mapped[3] > mapped[1]:
                found.append(Detection(mapped, points, "hog", angle, score))
    return found


def _cnn(rgb: np.ndarray, profile: DetectionProfile) -> list[Detection]:
    assert profile.cnn_max_side is not None
    h, w = rgb.shape[:2]
    small, factor = _scaled(rgb, profile.cnn_max_side)
    found = []
    for d in models().cnn_detector(small, 0):
        r = d.rect
        box = _clip((r.left() / factor, r.top() / factor, r.right() / factor, r.bottom() / factor), w, h)
        if box[2] > box[0] and box[3] > box[1]:
            found.append(Detection(box, _landmarks(rgb, box), "cnn", 0.0, float(d.confidence)))
    return found


def merge(detections: list[Detection], threshold: float = MERGE_IOU) -> list[Detection]:
    """Keep one detection per face: the first in the given order among those overlapping
    by more than ``threshold`` IoU (callers order passes by trust: upright HOG first)."""
    kept: list[Detection] = []
    for d in detections:
        if all(iou(d.box, k.box) <= threshold for k in kept):
            kept.append(d)
    return kept


def detect(rgb: np.ndarray, profile: DetectionProfile) -> list[Detection]:
    """Find faces in ``rgb`` (``uint8`` ``(H, W, 3)``) as ``profile`` says; upright HOG
    detections come first, so an upright face gets face_recognition's exact box."""
    passes = _upright_hog(rgb, profile)
    if profile.angles:
        small = any(d.box[2] - d.box[0] < profile.small_face_px for d in passes)
        passes += _rotated_hog(rgb, profile, max(profile.rotated_upsample, 1 if small else 0))
    if profile.cnn_max_side:
        passes += _cnn(rgb, profile)
    return merge(passes)
