"""Pydantic schemas of the clusters API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.boxes import BoundingBox
from kanta.validation import INT4_MAX, BodyInt, PageLimit, PageOffset, QueryInt, Text

#: A person's id in a request body: ``clusters.cluster_id`` is a PostgreSQL ``integer``.
ClusterId = BodyInt(0, INT4_MAX)
#: Most sample faces a person of ``GET …/clusters`` shows: each is two read URLs (about 300
#: bytes of JSON), so a full page of people stays near a megabyte (``kanta.validation.MAX_PAGE``).
MAX_SAMPLE_SIZE = 20


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClusterUpdate(_Request):
    """Body of ``PATCH /api/events/{code}/clusters/{cluster_id}``: the person's name (null clears)."""

    name: Text | None = Field(max_length=200)


class ClusterMerge(_Request):
    """Body of ``POST /api/events/{code}/clusters/{cluster_id}/merge``: the person to merge into."""

    into: ClusterId


class FaceMove(_Request):
    """Body of ``PUT /api/faces/{face_id}/cluster``: the person this face is (``null``: not the
    person it is in now)."""

    cluster_id: ClusterId | None


class FaceAssignment(BaseModel):
    face_id: int
    cluster_id: int | None


_SampleSize = QueryInt(0, MAX_SAMPLE_SIZE)


class ClusterListQuery(BaseModel):
    """Query of ``GET /api/events/{code}/clusters``: ``sample_size`` faces per person, a page
    of ``limit`` people from ``offset`` (largest first)."""

    model_config = ConfigDict(extra="forbid")
    sample_size: _SampleSize = 3
    limit: PageLimit = 50
    offset: PageOffset = 0


class ClusterSample(BaseModel):
    """A face shown for a cluster: its box, a read URL of its thumbnail (``url``) and of its
    photo (``image_url``), both short-lived."""

    face_id: int
    image_id: UUID
    bbox: BoundingBox
    url: str
    image_url: str


class Cluster(BaseModel):
    """A person of the event: a stable id, an optional name given by a host, and sample faces."""

    cluster_id: int
    name: str | None
    face_count: int
    #: Photos with at least one of the person's faces.
    photo_count: int
    samples: list[ClusterSample]


class ClusterRun(BaseModel):
    """One re-clustering of one event. ``status`` is ``skipped`` when another run of the same
    event held its lock; ``kept_count``: faces that had a person id before and kept it.
    ``parameters``: the clustering's settings and, from its faces, the event's cuts and their
    evidence (``eps`` used, search ``face`` / ``person`` cuts, ``onset`` of different people or
    null without enough evidence, ``same_photo_pairs``, ``faces``; ``kanta.clusters.cuts``)."""

    event_code: str
    status: str
    trigger: str
    algorithm: str
    parameters: dict[str, float | int | None]
    started_at: datetime
    face_count: int
    cluster_count: int
    noise_count: int
    kept_count: int
    seconds: float


class ClusterList(BaseModel):
    """A page of clusters, largest first; ``next_offset``: where the next page starts, ``null``
    on the last; ``noise_count``: faces in no cluster; ``unclustered_count``: faces added since
    the last run; ``excluded_count``: faces too small or blurry to use (all for the event)."""

    items: list[Cluster]
    next_offset: int | None
    noise_count: int
    unclustered_count: int
    excluded_count: int
    last_clustered_at: datetime | None
    last_run: ClusterRun | None
