"""Pydantic shapes of faces shared by the images, clusters and search APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

#: SQL select list giving a face's bounding box columns (table alias ``f``).
BBOX_COLUMNS = "f.bbox_x, f.bbox_y, f.bbox_width, f.bbox_height"
#: SQL predicate: the face may be clustered and searched (not too small or blurry).
USABLE_FACE = "f.excluded_reason IS NULL"


class BBox(BaseModel):
    """A face's bounding box in pixels of the upright image: left, top, width, height."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BBox:
        """Build from a row holding ``BBOX_COLUMNS``."""
        return cls(x=row["bbox_x"], y=row["bbox_y"], width=row["bbox_width"], height=row["bbox_height"])
