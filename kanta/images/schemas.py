"""Pydantic schemas of the images API and of upload tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.boxes import BoundingBox
from kanta.validation import INT4_MAX, BodyInt, PageLimit, PageOffset, QueryInt, Text

#: Content types a browser may upload, and the blob name extension each gets.
CONTENT_TYPE_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
#: Most files one ``POST /uploads`` may ask URLs for.
MAX_FILES_PER_REQUEST = 50

#: The photo's lifecycle: ``pending`` (upload URL issued, no photo yet), ``indexing`` (a run
#: is finding its faces), then ``processed`` or ``failed`` (``failure_code`` says why).
ImageStatus = Literal["pending", "indexing", "processed", "failed"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: Largest size a file may declare, bytes: the most one Put Blob request writes (5000 MiB,
#: Azure Storage's limit for a block blob uploaded in one request). Files over
#: ``KANTA_MAX_IMAGE_BYTES`` are refused by the service, which knows the setting.
MAX_DECLARED_BYTES = 5000 * 1024 * 1024
_DeclaredBytes = BodyInt(1, MAX_DECLARED_BYTES)


class UploadFile(_Request):
    """One file to upload: its name, type and ``size_bytes``, its size in bytes (optional for
    the host). A blob larger than declared (``kanta.images.ingest.DECLARED_SLACK_BYTES``
    allowed) is refused and deleted."""

    filename: Text = Field(min_length=1, max_length=255)
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size_bytes: _DeclaredBytes | None = None


class UploadRequest(_Request):
    """Body of ``POST /api/events/{code}/uploads``: 1–50 files."""

    files: list[UploadFile] = Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)


class GuestUploadFile(UploadFile):
    """One file a guest uploads: ``size_bytes`` is required (it is charged against the link's
    and the event's byte budgets before any URL is made)."""

    size_bytes: _DeclaredBytes


class GuestUploadRequest(UploadRequest):
    """Body of ``POST /api/guest/events/{code}/uploads``: 1–50 files, each with its size."""

    files: list[GuestUploadFile] = Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)


class UploadTicket(BaseModel):
    """Where and how to upload one image: ``PUT`` the bytes to ``upload_url`` with ``headers``."""

    image_id: UUID
    blob_name: str
    upload_url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: datetime


class UploadBatch(BaseModel):
    uploads: list[UploadTicket]


class FaceOut(BaseModel):
    """A face of an image. ``excluded_reason`` (``too_small``, ``too_blurry``, ``too_turned``)
    says why it is kept out of clustering and search; ``detector``/``angle`` say which
    detection pass found it (``yunet``; ``hog`` or ``cnn`` for photos indexed before) and
    ``score`` its confidence; ``sharpness`` is the variance of the Laplacian of its aligned
    chip; ``yaw``/``roll`` its pose in degrees (null for faces indexed before poses were kept)."""

    face_id: int
    bbox: BoundingBox
    cluster_id: int | None = Field(description="null: not clustered yet; -1: noise")
    excluded_reason: str | None
    detector: str
    angle: float
    score: float | None
    sharpness: float | None
    yaw: float | None = None
    roll: float | None = None
    thumbnail_url: str | None


class Image(BaseModel):
    """An image row; ``url`` is a short-lived read SAS URL (null until the blob exists)."""

    image_id: UUID
    event_code: str
    blob_name: str
    original_filename: str | None
    content_type: str | None
    status: ImageStatus
    failure_code: str | None
    failure_reason: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    face_count: int | None
    processing_seconds: float | None
    created_at: datetime
    processed_at: datetime | None
    url: str | None


class ImageDetail(Image):
    faces: list[FaceOut]


_ClusterFilter = QueryInt(-1, INT4_MAX)
_FaceCount = QueryInt(0, INT4_MAX)


class ImageListQuery(BaseModel):
    """Query of ``GET /api/events/{code}/images``: a page of ``limit`` images from ``offset``;
    ``cluster_id`` (``-1``: noise) and face counts within PostgreSQL ``integer``, the type of
    ``faces.cluster_id`` and ``images.face_count``."""

    model_config = ConfigDict(extra="forbid")
    limit: PageLimit = 50
    offset: PageOffset = 0
    cluster_id: _ClusterFilter | None = None
    min_faces: _FaceCount | None = None
    max_faces: _FaceCount | None = None
    status: ImageStatus | None = None


class ImageList(BaseModel):
    items: list[Image]
    next_offset: int | None
