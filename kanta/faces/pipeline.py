"""Decode → detect → encode, the face pipeline shared by the blob trigger and selfie search.

Pure computation: bytes in, faces (box, descriptor, quality, thumbnail) out. YuNet finds the
faces and dlib's 5-point shape predictor places their landmarks (``kanta.faces.detection``);
dlib's ResNet model v1 turns each aligned face into a 128-d descriptor, as the
face_recognition pipeline does (github.com/ageitgey/face_recognition, ``api.py``;
http://dlib.net/face_recognition.py.html), so descriptors stored by either pipeline can be
compared. Two descriptors of the same person are usually closer than 0.6 in Euclidean
distance (dlib's documented threshold). How large a copy the detector sees and which extra
passes run is a ``DetectionProfile``.

The models load on first use, once per process (``kanta.faces.models``).
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from kanta.faces.boxes import BoundingBox
from kanta.faces.detection import (
    DEFAULT_PROFILE,
    PROFILES,
    Detection,
    DetectionProfile,
    confirmed,
    detect,
    dlib_rect,
    locate,
)
from kanta.faces.encoder import CHIP_PADDING, CHIP_SIZE
from kanta.faces.models import models

#: Image formats we accept, as Pillow names them (JPEG includes phones' multi-picture MPO files).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
#: The media type of each accepted format (MPO is served as the JPEG it starts with).
MIME_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: Side of the face thumbnails, pixels (aligned, upright chips).
THUMBNAIL_SIZE = 160
#: Margin around the face in thumbnails, as a fraction of the face (dlib ``get_face_chip`` padding).
THUMBNAIL_PADDING = 0.4
#: Formats coded as JPEG (MPO: phones' multi-picture files, a JPEG first).
JPEG_FORMATS = ("JPEG", "MPO")
#: Most pixels a Huffman-coded JPEG can hold per byte of file: every 8x8 block of every
#: component carries a Huffman-coded DC difference of at least one bit (ITU-T T.81, F.1.2.1
#: and G.1.2.1, baseline and progressive alike), so n bytes cover at most 8n blocks of the
#: luma alone, 64 x 8 = 512 pixels per byte. A JPEG declaring more is truncated or its header
#: lies. (Arithmetic-coded JPEGs, which cameras and browsers do not write, are held to it too.)
JPEG_MAX_PIXELS_PER_BYTE = 512
#: Most declared pixels per byte of file accepted above ``SMALL_IMAGE_PIXELS``. Measured by
#: bench/bombs.py (bench/README.md, "Decompression bombs"): the 1,360 real photos of
#: tests/data, bench/data/detection and ../shared/faces have at most 24.8 pixels per byte (a
#: 960x640 JPEG of bench/data/detection; JPEGs median 5.6, PNGs at most 1.1); photos enlarged
#: 4x (smoother than any camera's) saved at JPEG quality 50-75 reach 57; screenshots with a
#: photo 7-13. The limit is 10x the most compact real photo; the bombs seen are 30x over it
#: or more (a 1,053-byte 2828x2828 1-bit PNG: 7,595; a 6 KB 7000x7000 one: 8,121), near
#: deflate's ceiling (1,032 bytes out per byte in: 8,256 one-bit pixels). An 8-bit RGB PNG
#: cannot exceed 344; a flat-colour 12 MP PNG has 284 and is refused: it is no photo.
MAX_PIXELS_PER_BYTE = 250
#: Declared sizes up to this many pixels are decoded whatever their byte count: the cost is
#: that of the smallest photos (3 MB of RGB), and flat test cards, icons and tiny images stay
#: accepted (a 640x480 flat-colour JPEG has 57 pixels per byte, a PNG 194).
SMALL_IMAGE_PIXELS = 1_000_000
#: EXIF tag of the orientation (TIFF/EXIF 2.32, tag 274), and the transposition that makes
#: each value upright (as ``PIL.ImageOps.exif_transpose``; 5-8 swap width and height).
EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Modes Pillow's ``reduce`` takes as they are; others are converted to RGB first.
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA")
#: What Pillow raises on damaged data (its documented OSError, ValueError and SyntaxError,
#: and what its plugins let through from struct, zlib and slicing on hostile input).
_DECODER_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error, zlib.error)
#: Held while dlib runs (shape predictor, chips). dlib's models keep working buffers in the
#: model objects, so two threads using them at once corrupt memory (three threads running HOG
#: on tests/data crashed the process here), and the Functions Python worker runs synchronous
#: functions, blob triggers and searches alike, on a thread pool. Decoding, YuNet and the
#: NumPy encoder run outside it, so two analyses overlap on two cores.
DLIB_LOCK = threading.Lock()


class ImageRejected(ValueError):
    """The bytes are not an image we can process; ``code`` is stable, ``message`` human and
    in Kanta's words (never a library's text).

    Codes: ``empty``, ``not_an_image``, ``corrupt``, ``too_many_pixels`` (see ``decode_image``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``bbox``: the detector's box in pixels of the upright photo. ``descriptor``: ``float64``
    ``(128,)``. ``detector``/``angle``: which pass found it (``"yunet"``; degrees the copy was
    rotated, 0 upright). ``score``: the detector's confidence, 0-1. ``sharpness``: variance of
    the Laplacian of the face's aligned grey chip (Pech-Pacheco et al., ICPR 2000), higher is
    sharper. ``yaw``/``roll``: pose in degrees from the landmarks
    (``kanta.faces.detection.yaw_of``, ``roll_of``). ``excluded``: why the face is kept out
    of clustering and search (``QUALITY_REASONS``), or ``None``. ``thumbnail``: JPEG bytes of
    an aligned ``THUMBNAIL_SIZE`` square crop.
    """

    bbox: BoundingBox
    descriptor: np.ndarray
    detector: str = "yunet"
    angle: float = 0.0
    score: float = 0.0
    sharpness: float = 0.0
    excluded: str | None = None
    thumbnail: bytes = b""
    yaw: float = 0.0
    roll: float = 0.0


@dataclass(frozen=True)
class DecodedImage:
    """``rgb``: ``uint8`` ``(h, w, 3)`` upright pixels, possibly decoded at reduced scale;
    ``width``/``height``: the upright image's full size in pixels; ``scale``: full-size
    pixels per decoded pixel (1.0 unless the JPEG was decoded reduced); ``mime_type``: the
    format the bytes really are (``image/jpeg``, ``image/png``, ``image/webp``)."""

    rgb: np.ndarray
    width: int
    height: int
    mime_type: str = "image/jpeg"

    @property
    def scale(self) -> float:
        return self.width / self.rgb.shape[1]


@dataclass(frozen=True)
class ImageAnalysis:
    """Result of ``analyse_image``: upright size in pixels, faces, seconds spent, and the
    format the bytes really are (``mime_type``)."""

    width: int
    height: int
    faces: list[Face]
    seconds: float
    mime_type: str = "image/jpeg"


def decode_image(data: bytes, *, max_pixels: int, decode_max_pixels: int | None = None) -> DecodedImage:
    """Decode JPEG/PNG/WebP bytes into upright RGB pixels, refusing before any pixel is decoded
    what would cost far more than the file is worth.

    From the header alone (Pillow ``Image.open`` parses it, decodes nothing), in this order:

    1. a JPEG (or MPO) whose ``len(data)`` bytes cannot hold the pixels it declares
       (more than ``JPEG_MAX_PIXELS_PER_BYTE`` per byte) is ``corrupt``: its data ends long
       before the image does, and the decoder would pad the rest with grey;
    2. width × height over ``max_pixels`` is ``too_many_pixels``;
    3. width × height over ``SMALL_IMAGE_PIXELS`` and over ``MAX_PIXELS_PER_BYTE`` × the
       byte count is ``too_many_pixels``: a decompression bomb (a kilobyte that decodes to
       megapixels), however far under ``max_pixels``.

    Then the pixels: over ``decode_max_pixels`` (``None``: no reduction) the image is
    decoded at 1/2, 1/4 or 1/8 scale, a JPEG by libjpeg's DCT scaling (Pillow ``draft``, a
    fraction of a full decode's time and memory), other formats by a box filter right after
    decoding (Pillow ``reduce``), so everything after sees at most ``decode_max_pixels``
    (up to 64 × that above 8x reduction). The EXIF (or XMP) orientation is applied; alpha
    is dropped, palettes expanded.

    Returns a ``DecodedImage`` (``rgb`` ``uint8`` ``(h, w, 3)``). Raises ``ImageRejected``
    with code ``empty`` (0 bytes), ``not_an_image`` (unknown or unsupported format),
    ``corrupt`` (damaged header, truncated or damaged data, or a JPEG too short for its
    size) or ``too_many_pixels`` (as above). Messages are Kanta's, never the decoder's.
    """
    if not data:
        raise ImageRejected("empty", "The file is empty (0 bytes).")
    # Pillow's process-wide LOAD_TRUNCATED_IMAGES (face_recognition sets it to True on import)
    # would decode a truncated upload with grey padding and ignore oversized PNG metadata;
    # Kanta rejects such files instead. Set before opening: PNG metadata is read by ``open``.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        # Pillow refuses sizes over twice its MAX_IMAGE_PIXELS (179 MP) before we see them.
        raise ImageRejected("too_many_pixels",
                            f"The image has far more pixels than the limit of {max_pixels / 1e6:.1f} MP.") from None
    except UnidentifiedImageError:
        raise ImageRejected("not_an_image", "The file is not a JPEG, PNG or WebP image.") from None
    except _DECODER_ERRORS:
        raise ImageRejected("corrupt", "The image header is damaged or cannot be read.") from None
    full_width, full_height = img.size
    img_format = img.format if img.format in MIME_TYPES else "JPEG"
    _refuse_implausible_size(img_format, full_width, full_height, len(data), max_pixels)

    pixels = full_width * full_height
    reduction = 1
    while decode_max_pixels and pixels / reduction**2 > decode_max_pixels and reduction < 8:
        reduction *= 2
    if reduction > 1 and img_format in JPEG_FORMATS:
        img.draft("RGB", (full_width // reduction, full_height // reduction))
    try:
        img.load()
        orientation = img.getexif().get(EXIF_ORIENTATION, 1)
        # What libjpeg's scaling left to do (all of it for PNG and WebP): a power of two.
        remaining = reduction // max(1, round(full_width / img.width))
        if remaining > 1:
            if img.mode not in _REDUCIBLE_MODES:  # palettes, 1-bit, 16-bit: expand first
                img = img.convert("RGB")
            img = img.reduce(remaining)
        if orientation in _TRANSPOSE:
            img = img.transpose(_TRANSPOSE[orientation])
        rgb = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    except (*_DECODER_ERRORS, Image.DecompressionBombError):
        raise ImageRejected("corrupt", "The image data is truncated or damaged.") from None
    # Orientations 5-8 swap width and height.
    width, height = (full_height, full_width) if orientation in (5, 6, 7, 8) else (full_width, full_height)
    return DecodedImage(rgb, width, height, MIME_TYPES[img_format])


def _refuse_implausible_size(img_format: str, width: int, height: int, size_bytes: int, max_pixels: int) -> None:
    """Raise ``ImageRejected`` when a header's ``width`` x ``height`` (pixels) cannot or should
    not be decoded from ``size_bytes`` bytes of ``img_format`` data (checks 1-3 of
    ``decode_image``)."""
    pixels = width * height
    size = f"{width}x{height} pixels ({pixels / 1e6:.1f} MP)"
    if img_format in JPEG_FORMATS and pixels > JPEG_MAX_PIXELS_PER_BYTE * size_bytes:
        raise ImageRejected(
            "corrupt",
            f"The image is damaged: its header declares {size}, but its {size_bytes:,} bytes can hold "
            f"at most {JPEG_MAX_PIXELS_PER_BYTE * size_bytes:,} pixels of JPEG data (truncated, or a false header).",
        )
    if pixels > max_pixels:
        raise ImageRejected("too_many_pixels", f"The image is {size}; the limit is {max_pixels / 1e6:.1f} MP.")
    if pixels > SMALL_IMAGE_PIXELS and pixels > MAX_PIXELS_PER_BYTE * size_bytes:
        raise ImageRejected(
            "too_many_pixels",
            f"The image declares {size} in only {size_bytes:,} bytes: {pixels / size_bytes:,.0f} pixels per byte, "
            f"where photos have a few dozen at most and the limit is {MAX_PIXELS_PER_BYTE}. It was refused "
            "without decoding, as a decompression bomb.",
        )


def _shapes(detections: list[Detection]) -> Any:
    """dlib ``full_object_detections`` of ``detections`` (their dlib-framed rectangles and
    5 landmarks), what the encoder and ``get_face_chips`` align on."""
    dlib = models().dlib
    shapes = dlib.full_object_detections()
    for d in detections:
        rect = dlib.rectangle(*(round(v) for v in dlib_rect(d.box)))
        points = dlib.points()
        for x, y in d.landmarks:
            points.append(dlib.point(round(x), round(y)))
        shapes.append(dlib.full_object_detection(rect, points))
    return shapes


def encode_faces(rgb: np.ndarray, boxes: list[BoundingBox]) -> np.ndarray:
    """Descriptors of the faces in ``boxes`` (dlib-framed boxes in pixels of ``rgb``):
    ``float64`` ``(len(boxes), 128)``. Equal to
    ``face_recognition.face_encodings(rgb, [(y, x + w, y + h, x)])``."""
    m = models()
    with DLIB_LOCK:
        shapes = m.dlib.full_object_detections()
        for b in boxes:
            shapes.append(m.shape_predictor(rgb, m.dlib.rectangle(b.x, b.y, b.x + b.width, b.y + b.height)))
        chips = _encoder_chips(rgb, shapes)
    return m.encoder.descriptors(chips)


def _encoder_chips(rgb: np.ndarray, shapes: Any) -> np.ndarray:
    """uint8 ``(len(shapes), 150, 150, 3)``: the aligned chips the encoder takes, cut as
    dlib's ``compute_face_descriptor`` cuts them. Call with ``DLIB_LOCK`` held."""
    if len(shapes) == 0:
        return np.empty((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    return np.stack(models().dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE, padding=CHIP_PADDING))


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a 2-d float image: a focus measure."""
    lap = (
        grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4.0 * grey[1:-1, 1:-1]
    )
    return float(lap.var())


def _thumbnail(chip: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(chip).save(buf, "JPEG", quality=85)
    return buf.getvalue()


#: Reasons a face is kept out of clustering and search, in the order they are checked.
QUALITY_REASONS = ("too_small", "too_blurry", "too_turned")


def quality_reason(bbox: BoundingBox, sharpness: float, yaw: float, *, min_face_px: int, min_sharpness: float,
                   max_yaw: float) -> str | None:
    """Why a face's descriptor is not trusted for clustering and search, or ``None``.

    The rule: a face whose box is narrower or shorter than ``min_face_px`` (pixels of the
    full-size photo) is ``too_small``; one whose chip's sharpness is under ``min_sharpness``
    is ``too_blurry``; one turned more than ``max_yaw`` degrees is ``too_turned``. Such a face
    is stored and shown as a face, but it never seeds, joins or bridges a person and a selfie
    never matches it: dlib's descriptor degrades as the aligned 150 px chip is enlarged from
    fewer pixels, blurred or seen in profile (its training set, VGGFace2 and FaceScrub, is
    mostly near-frontal), so such a face is where a stranger's selfie would land close by
    chance. Thresholds: ``kanta.config`` (``KANTA_MIN_FACE_PX``, ``KANTA_MIN_FACE_SHARPNESS``,
    ``KANTA_MAX_FACE_YAW_DEG``), measured in bench/README.md.
    """
    if min(bbox.width, bbox.height) < min_face_px:
        return "too_small"
    if sharpness < min_sharpness:
        return "too_blurry"
    if abs(yaw) > max_yaw:
        return "too_turned"
    return None


def analyse_image(
    data: bytes,
    *,
    max_pixels: int,
    profile: DetectionProfile | str = DEFAULT_PROFILE,
    min_face_px: int = 0,
    min_sharpness: float = 0.0,
    max_yaw: float = 90.0,
    thumbnails: bool = True,
    decode_max_pixels: int | None = None,
    detect_max_pixels: int | None = None,
    find_faces: bool = True,
) -> ImageAnalysis:
    """Decode ``data`` and find, encode and assess every face in it.

    ``profile``: a ``DetectionProfile`` or its name. ``max_pixels``: the largest image
    accepted (pixels, from the header); ``decode_max_pixels``: larger images are decoded
    reduced (``decode_image``), ``None`` for the profile's ``decode_max_pixels``;
    ``detect_max_pixels``: the detector's copy, ``None`` for the profile's. Faces are
    marked ``excluded`` by ``quality_reason`` with ``min_face_px`` (full-size pixels),
    ``min_sharpness`` and ``max_yaw`` (degrees). Without ``find_faces`` the image is only
    decoded (checked and measured) and ``faces`` is empty; no model is loaded. ``seconds`` is
    wall time of the whole call. Raises ``ImageRejected`` (see ``decode_image``) and
    ``KeyError`` for an unknown profile name.
    """
    started = time.perf_counter()
    if isinstance(profile, str):
        profile = PROFILES[profile]
    if decode_max_pixels is None:
        decode_max_pixels = profile.decode_max_pixels
    image = decode_image(data, max_pixels=max_pixels, decode_max_pixels=decode_max_pixels)
    if not find_faces:
        return ImageAnalysis(image.width, image.height, [], time.perf_counter() - started, image.mime_type)
    rgb = image.rgb
    # YuNet holds no shared state between calls: it runs outside the lock.
    found = detect(rgb, profile, max_pixels=detect_max_pixels)
    with DLIB_LOCK:
        located = locate(rgb, found)
    # Doubtful detections get a second look where their landmarks say the face is upright.
    detections = confirmed(rgb, located)
    with DLIB_LOCK:
        shapes = _shapes(detections)
        encoder_chips = _encoder_chips(rgb, shapes)
        dlib = models().dlib
        # Sharpness on chips no larger than the face itself: upscaling a small face would blur it.
        chips = [
            dlib.get_face_chip(rgb, shape, size=min(CHIP_SIZE, max(16, int(d.box[2] - d.box[0]))),
                               padding=CHIP_PADDING)
            for d, shape in zip(detections, shapes)
        ]
        thumbs = (
            dlib.get_face_chips(rgb, shapes, size=THUMBNAIL_SIZE, padding=THUMBNAIL_PADDING)
            if detections and thumbnails
            else [None] * len(detections)
        )
    # NumPy's matrix products release the GIL: the encoder runs outside the lock.
    descriptors = models().encoder.descriptors(encoder_chips)
    faces = []
    for d, descriptor, chip, thumb in zip(detections, descriptors, chips, thumbs):
        bbox = BoundingBox.from_corners(*d.box, scale=image.scale)
        sharpness = laplacian_variance(np.asarray(chip, dtype=np.float64).mean(axis=2))
        excluded = quality_reason(bbox, sharpness, d.yaw, min_face_px=min_face_px, min_sharpness=min_sharpness,
                                  max_yaw=max_yaw)
        faces.append(
            Face(bbox, descriptor, "yunet", d.angle, d.confidence, sharpness, excluded,
                 _thumbnail(thumb) if thumb is not None else b"", d.yaw, d.roll)
        )
    return ImageAnalysis(image.width, image.height, faces, time.perf_counter() - started, image.mime_type)


def analysis_settings(settings: Any, *, query: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``analyse_image`` taken from a ``kanta.config.Settings``: for an
    event photo (the blob trigger), or with ``query`` for a selfie (search), which has its own
    pixel limit (``KANTA_MAX_QUERY_IMAGE_PIXELS``), is decoded reduced to the profile's
    ``query_decode_max_pixels`` and detected on a copy of ``query_detect_max_pixels``."""
    common = {
        "profile": settings.detection_profile,
        "min_face_px": settings.min_face_px,
        "min_sharpness": settings.min_face_sharpness,
        "max_yaw": settings.max_face_yaw_deg,
    }
    if query:
        profile = PROFILES[settings.detection_profile]
        return {"max_pixels": settings.max_query_image_pixels, "decode_max_pixels": profile.query_decode_max_pixels,
                "detect_max_pixels": profile.query_detect_max_pixels, **common}
    return {"max_pixels": settings.max_image_pixels, **common}
