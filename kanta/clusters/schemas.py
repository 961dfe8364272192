"""Pydantic schemas of the clusters API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.schemas import BBox


class ClusterListQuery(BaseModel):
    """Query of ``GET /api/events/{code}/clusters``."""

    model_config = ConfigDict(extra="forbid")
    sample_size: int = Field(3, ge=0, le=20)


class ClusterSample(BaseModel):
    """A face shown for a cluster: its box, a read URL of its thumbnail (``url``) and of its
    photo (``image_url``), both short-lived."""

    face_id: int
    image_id: UUID
    bbox: BBox
    url: str
    image_url: str


class Cluster(BaseModel):
    cluster_id: int
    face_count: int
    samples: list[ClusterSample]


class ClusterList(BaseModel):
    """Clusters largest first; ``noise_count``: faces in no cluster; ``unclustered_count``:
    faces added since the last run; ``excluded_count``: faces too small or blurry to use."""

    items: list[Cluster]
    noise_count: int
    unclustered_count: int
    excluded_count: int
    last_clustered_at: datetime | None


class ClusterRun(BaseModel):
    """Summary of one re-clustering of one event. ``status`` is ``skipped`` when another run
    of the same event holds its lock."""

    event_code: str
    status: str
    face_count: int
    cluster_count: int
    noise_count: int
    seconds: float
