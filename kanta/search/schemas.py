"""Pydantic schemas of the selfie search API."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.schemas import BBox


class SearchQuery(BaseModel):
    """Query of ``POST /api/events/{code}/search``. ``max_distance``: Euclidean distance
    between descriptors; dlib's same-person threshold is 0.6 (the default setting)."""

    model_config = ConfigDict(extra="forbid")
    top_k: int = Field(20, ge=1, le=200)
    max_distance: float | None = Field(None, gt=0, le=2)


class QueryFace(BaseModel):
    """A face found in the selfie; ``used``: it was the one searched for (the largest)."""

    bbox: BBox
    used: bool


class Match(BaseModel):
    """A face of the event near the query face; ``url`` reads its thumbnail and ``image_url``
    its photo, for a short time."""

    face_id: int
    image_id: UUID
    cluster_id: int | None
    distance: float
    bbox: BBox
    url: str
    image_url: str


class SearchResult(BaseModel):
    query_faces: list[QueryFace]
    matches: list[Match]
