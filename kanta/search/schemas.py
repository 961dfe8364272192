"""Pydantic schemas of the selfie search API."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.schemas import BBox


class SearchQuery(BaseModel):
    """Query of ``POST /api/events/{code}/search``.

    ``top_k``: most photos returned. ``max_distance``: Euclidean distance between
    descriptors (default ``KANTA_SEARCH_MAX_DISTANCE``). ``faces``: search with the largest
    usable face of the photo, or with every usable face (a group selfie).
    """

    model_config = ConfigDict(extra="forbid")
    top_k: int = Field(20, ge=1, le=200)
    max_distance: float | None = Field(None, gt=0, le=2)
    faces: Literal["largest", "all"] = "largest"


class QueryFace(BaseModel):
    """A face found in the query photo; ``used``: it was searched for."""

    bbox: BBox
    used: bool
    excluded_reason: str | None = None


class Match(BaseModel):
    """A photo of the event with its face nearest to a query face (each photo appears once).
    ``query_face``: index in ``query_faces``; ``url`` reads the face's thumbnail and
    ``image_url`` the photo, for a short time."""

    face_id: int
    image_id: UUID
    cluster_id: int | None
    distance: float
    query_face: int
    bbox: BBox
    url: str
    image_url: str


class PersonMatch(BaseModel):
    """A person of the event among the matches: how many matched photos show them."""

    cluster_id: int
    name: str | None
    photo_count: int
    best_distance: float


class SearchResult(BaseModel):
    """Matches nearest first. When there are none, ``reason`` is ``no_match`` and ``message``
    says why, so a client can tell "not at this event" from an error."""

    query_faces: list[QueryFace]
    matches: list[Match]
    people: list[PersonMatch]
    reason: str | None = None
    message: str | None = None
