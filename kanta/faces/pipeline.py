"""Decode → detect → encode, the face pipeline shared by the blob trigger and selfie search.

Pure computation: bytes in, faces (box, descriptor, quality, thumbnail) out. For an upright
face the ``balanced`` and ``accurate`` profiles give exactly face_recognition's result (github.com/ageitgey/face_recognition,
``api.py``): dlib's HOG frontal detector, the box trimmed to the image, dlib's 5-point
landmarks and dlib's ResNet model v1 for a 128-d descriptor
(http://dlib.net/face_recognition.py.html). Two descriptors of the same person are usually
closer than 0.6 in Euclidean distance (dlib's documented threshold). Which extra passes
run (tilted copies, CNN) is a ``DetectionProfile`` (``kanta.faces.detection``).

The models load on first use, once per process (``kanta.faces.models``).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from kanta.faces.boxes import BoundingBox
from kanta.faces.detection import DEFAULT_PROFILE, PROFILES, Detection, DetectionProfile, detect
from kanta.faces.models import models

#: Length of a dlib face descriptor.
DESCRIPTOR_DIM = 128
#: Image formats we accept, as Pillow names them (JPEG includes phones' multi-picture MPO files).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
#: The media type of each accepted format (MPO is served as the JPEG it starts with).
MIME_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: Side of the face thumbnails, pixels (aligned, upright chips).
THUMBNAIL_SIZE = 160
#: Margin around the face in thumbnails, as a fraction of the face (dlib ``get_face_chip`` padding).
THUMBNAIL_PADDING = 0.4
#: dlib's encoder works on 150x150 chips with 0.25 padding; sharpness is measured on the same.
_CHIP_SIZE, _CHIP_PADDING = 150, 0.25


class ImageRejected(ValueError):
    """The bytes are not an image we can process; ``code`` is stable, ``message`` human."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``descriptor``: ``float64`` ``(128,)``. ``detector``/``angle``/``score``: which pass found
    it (see ``Detection``). ``sharpness``: variance of the Laplacian of the face's aligned
    150x150 grey chip (Pech-Pacheco et al., ICPR 2000), higher is sharper. ``excluded``:
    why the face is kept out of clustering and search (``too_small``, ``too_blurry``), or
    ``None``. ``thumbnail``: JPEG bytes of an aligned ``THUMBNAIL_SIZE`` square crop.
    """

    bbox: BoundingBox
    descriptor: np.ndarray
    detector: str = "hog"
    angle: float = 0.0
    score: float = 0.0
    sharpness: float = 0.0
    excluded: str | None = None
    thumbnail: bytes = b""


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
    """Decode JPEG/PNG/WebP bytes into upright RGB pixels.

    EXIF orientation is applied (Pillow ``ImageOps.exif_transpose``); alpha is dropped,
    palettes expanded. A JPEG over ``decode_max_pixels`` is decoded at 1/2, 1/4 or 1/8
    scale by libjpeg's DCT scaling (Pillow ``draft``), a fraction of a full decode's time
    and memory. Raises ``ImageRejected`` with code ``empty`` (0 bytes), ``not_an_image``
    (unknown or unsupported format), ``too_many_pixels`` (width × height over
    ``max_pixels``, read from the header before any pixel is decoded: the
    decompression-bomb guard) or ``corrupt`` (truncated or damaged data).
    """
    if not data:
        raise ImageRejected("empty", "The file is empty (0 bytes).")
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow refuses images over 2x its MAX_IMAGE_PIXELS before we can compare sizes.
        raise ImageRejected("too_many_pixels", f"The image has far too many pixels: {exc}") from None
    except UnidentifiedImageError:
        raise ImageRejected("not_an_image", "The file is not a JPEG, PNG or WebP image.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected("corrupt", f"The image header is damaged: {exc}") from None
    full_width, full_height = img.size
    img_format = img.format if img.format in MIME_TYPES else "JPEG"
    pixels = full_width * full_height
    if pixels > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {full_width}x{full_height} pixels ({pixels / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:.1f} MP.",
        )
    reduction = 1
    while decode_max_pixels and pixels / reduction**2 > decode_max_pixels and reduction < 8:
        reduction *= 2
    if reduction > 1 and img.format == "JPEG":
        img.draft("RGB", (full_width // reduction, full_height // reduction))
    # Pillow's process-wide LOAD_TRUNCATED_IMAGES (face_recognition sets it to True on import)
    # would decode a truncated upload with grey padding; Kanta rejects such files instead.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img.load()
        orientation = img.getexif().get(0x0112, 1)
        img = ImageOps.exif_transpose(img)
        rgb = img.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected("corrupt", f"The image data is truncated or damaged: {exc}") from None
    # Orientations 5-8 swap width and height.
    width, height = (full_height, full_width) if orientation in (5, 6, 7, 8) else (full_width, full_height)
    return DecodedImage(np.asarray(rgb), width, height, MIME_TYPES[img_format])


def _shapes(rgb: np.ndarray, detections: list[Detection]) -> Any:
    dlib = models().dlib
    shapes = dlib.full_object_detections()
    for d in detections:
        rect = dlib.rectangle(*(round(v) for v in d.box))
        points = dlib.points()
        for x, y in d.landmarks:
            points.append(dlib.point(round(x), round(y)))
        shapes.append(dlib.full_object_detection(rect, points))
    return shapes


def encode_faces(rgb: np.ndarray, boxes: list[BoundingBox]) -> np.ndarray:
    """Descriptors of upright faces in ``boxes``: ``float64`` ``(len(boxes), 128)``, one encoder
    call. Equal to ``face_recognition.face_encodings(rgb, [(y, x + w, y + h, x)])``."""
    m = models()
    shapes = m.dlib.full_object_detections()
    for b in boxes:
        shapes.append(m.shape_predictor(rgb, m.dlib.rectangle(b.x, b.y, b.x + b.width, b.y + b.height)))
    return _descriptors(rgb, shapes)


def _descriptors(rgb: np.ndarray, shapes: Any) -> np.ndarray:
    if len(shapes) == 0:
        return np.empty((0, DESCRIPTOR_DIM), dtype=np.float64)
    # All faces in one call; num_jitters=1 is face_recognition's default (no jitter).
    descriptors = models().encoder.compute_face_descriptor(rgb, shapes, 1)
    return np.array([np.array(d) for d in descriptors], dtype=np.float64)


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


def analyse_image(
    data: bytes,
    *,
    max_pixels: int,
    profile: DetectionProfile | str = DEFAULT_PROFILE,
    min_face_px: int = 0,
    min_sharpness: float = 0.0,
    thumbnails: bool = True,
) -> ImageAnalysis:
    """Decode ``data`` and find, encode and assess every face in it.

    ``profile``: a ``DetectionProfile`` or its name. Faces whose box is narrower than
    ``min_face_px`` (full-size pixels) or whose sharpness is under ``min_sharpness`` are
    returned with ``excluded`` set. ``seconds`` is wall time of the whole call.
    Raises ``ImageRejected`` (see ``decode_image``) and ``KeyError`` for an unknown profile name.
    """
    started = time.perf_counter()
    if isinstance(profile, str):
        profile = PROFILES[profile]
    image = decode_image(data, max_pixels=max_pixels, decode_max_pixels=profile.decode_max_pixels)
    rgb = image.rgb
    detections = detect(rgb, profile)
    shapes = _shapes(rgb, detections)
    descriptors = _descriptors(rgb, shapes)
    dlib = models().dlib
    # Sharpness on chips no larger than the face itself: upscaling a small face would blur it.
    chips = [
        dlib.get_face_chip(rgb, shape, size=min(_CHIP_SIZE, max(16, int(d.box[2] - d.box[0]))), padding=_CHIP_PADDING)
        for d, shape in zip(detections, shapes)
    ]
    thumbs = (
        dlib.get_face_chips(rgb, shapes, size=THUMBNAIL_SIZE, padding=THUMBNAIL_PADDING)
        if detections and thumbnails
        else [None] * len(detections)
    )
    faces = []
    for d, descriptor, chip, thumb in zip(detections, descriptors, chips, thumbs):
        bbox = BoundingBox.from_corners(*d.box, scale=image.scale)
        sharpness = laplacian_variance(np.asarray(chip, dtype=np.float64).mean(axis=2))
        excluded = None
        if min(bbox.width, bbox.height) < min_face_px:
            excluded = "too_small"
        elif sharpness < min_sharpness:
            excluded = "too_blurry"
        faces.append(
            Face(bbox, descriptor, d.detector, d.angle, d.score, sharpness, excluded,
                 _thumbnail(thumb) if thumb is not None else b"")
        )
    return ImageAnalysis(image.width, image.height, faces, time.perf_counter() - started, image.mime_type)


def analysis_settings(settings: Any) -> dict[str, Any]:
    """Keyword arguments of ``analyse_image`` taken from a ``kanta.config.Settings``."""
    return {
        "max_pixels": settings.max_image_pixels,
        "profile": settings.detection_profile,
        "min_face_px": settings.min_face_px,
        "min_sharpness": settings.min_face_sharpness,
    }
