"""The one bounding-box type: a face's box in pixels of the upright photo."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BoundingBox:
    """A face's box in pixels of the upright image (full size, EXIF orientation applied):
    left ``x``, top ``y``, ``width``, ``height``. API responses show it as
    ``{x, y, width, height}`` (pydantic serialises the dataclass)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def corners(self) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` pixels, the order ``iou`` and dlib take."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    @property
    def area(self) -> int:
        """Pixels covered, ``width * height``."""
        return self.width * self.height

    @classmethod
    def from_corners(cls, left: float, top: float, right: float, bottom: float, scale: float = 1.0) -> BoundingBox:
        """From a detector's corners (dlib's ``rectangle``: left, top, right, bottom) in pixels
        of an image ``scale`` times smaller than the upright photo, rounded to whole pixels."""
        l, t, r, b = (round(v * scale) for v in (left, top, right, bottom))
        return cls(l, t, r - l, b - t)


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(left, top, right, bottom)`` boxes (pixels)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
