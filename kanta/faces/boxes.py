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
    def area(self) -> int:
        """Pixels covered, ``width * height``."""
        return self.width * self.height

    @classmethod
    def from_corners(cls, left: float, top: float, right: float, bottom: float, scale: float = 1.0) -> BoundingBox:
        """From a detector's corners (dlib's ``rectangle``: left, top, right, bottom) in pixels
        of an image ``scale`` times smaller than the upright photo, rounded to whole pixels."""
        l, t, r, b = (round(v * scale) for v in (left, top, right, bottom))
        return cls(l, t, r - l, b - t)
