"""Images logic for the HTTP API: upload tickets, listing, detail, deletion."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg

from kanta import storage
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import not_found
from kanta.events.service import get_event_id
from kanta.images import store
from kanta.images.schemas import (
    CONTENT_TYPE_EXTENSIONS,
    FaceOut,
    Image,
    ImageDetail,
    ImageList,
    ImageListQuery,
    UploadRequest,
    UploadTicket,
)


def create_uploads(event_code: str, body: UploadRequest) -> list[UploadTicket]:
    """Create one pending image per file and a write-only SAS URL for its blob.

    Raises ``NotFound`` for an unknown event.
    """
    settings = get_settings()
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.upload_url_ttl_s)
    tickets = []
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        rows = []
        for f in body.files:
            image_id = uuid.uuid4()
            blob_name = store.blob_name_for(event_code, image_id, CONTENT_TYPE_EXTENSIONS[f.content_type])
            rows.append((image_id, blob_name, f.filename, f.content_type))
            tickets.append(
                UploadTicket(
                    image_id=image_id,
                    blob_name=blob_name,
                    upload_url=storage.upload_url(blob_name, expires_at),
                    headers={"x-ms-blob-type": "BlockBlob", "Content-Type": f.content_type},
                    expires_at=expires_at,
                )
            )
        store.insert_pending(conn, event_id, rows)
    return tickets


def list_images(event_code: str, query: ImageListQuery) -> ImageList:
    """A page of an event's images, oldest first, filtered as ``query`` says. Raises ``NotFound``."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        # One row more than asked tells whether another page exists.
        rows = store.list_images(conn, event_id, status=query.status, min_faces=query.min_faces,
                                 max_faces=query.max_faces, cluster_id=query.cluster_id, limit=query.limit + 1,
                                 offset=query.offset)
    expires_at = store.read_url_expiry()
    items = [Image.model_validate(_image(r, expires_at)) for r in rows[: query.limit]]
    next_offset = query.offset + query.limit if len(rows) > query.limit else None
    return ImageList(items=items, next_offset=next_offset)


def _image(row: Mapping[str, Any], expires_at: dt.datetime) -> dict[str, Any]:
    return {**row, "url": store.image_url(row, expires_at)}


def _find_image(conn: psycopg.Connection, image_id: uuid.UUID) -> Mapping[str, Any]:
    row = store.find_image(conn, image_id)
    if row is None:
        raise not_found("image", image_id)
    return row


def get_image(image_id: uuid.UUID) -> ImageDetail:
    """One image with its faces. Raises ``NotFound`` ``image_not_found``."""
    with connection() as conn:
        row = _find_image(conn, image_id)
        faces = store.faces_of_image(conn, row["image_id"])
    expires_at = store.read_url_expiry()
    return ImageDetail.model_validate(
        {
            **_image(row, expires_at),
            "faces": [
                FaceOut(
                    face_id=f["face_id"], bbox=store.bbox(f), cluster_id=f["cluster_id"],
                    excluded_reason=f["excluded_reason"], detector=f["detector"], angle=f["angle"],
                    score=f["score"], sharpness=f["sharpness"], thumbnail_url=store.thumbnail_url(f, expires_at),
                )
                for f in faces
            ],
        }
    )


def delete_image(image_id: uuid.UUID) -> None:
    """Delete an image's blob, then its row and faces. Raises ``NotFound``."""
    with connection() as conn:
        row = _find_image(conn, image_id)
    storage.delete_blobs([row["blob_name"]])
    storage.delete_thumbnails(store.thumbnail_prefix(row["event_code"], row["image_id"]))
    with connection() as conn:
        store.delete_image(conn, row["image_id"])


#: Seconds a pending image may wait for its blob beyond its upload URL's lifetime (browsers
#: may still be sending when the URL expires; retries of the blob trigger take minutes).
STALE_UPLOAD_GRACE_S = 3600


def expire_stale_uploads() -> int:
    """Mark failed the images still ``pending`` ``KANTA_UPLOAD_URL_TTL`` + ``STALE_UPLOAD_GRACE_S``
    seconds after their upload URL was issued, so nobody waits for them: ``not_uploaded`` when
    their blob never arrived, ``not_indexed`` when it did but was never indexed (the blob
    trigger gave up, e.g. the database was down through every retry; uploading the same
    photo again re-indexes it). Returns how many were marked.

    Raises ``psycopg.OperationalError`` when the database is unreachable.
    """
    older_than = get_settings().upload_url_ttl_s + STALE_UPLOAD_GRACE_S
    with connection() as conn:
        stale = store.stale_pending(conn, older_than)
    if not stale:
        return 0
    arrived = [r["id"] for r in stale if storage.blob_exists(r["blob_name"])]
    with connection() as conn:
        # Only those still pending: the blob trigger may have indexed some meanwhile.
        store.fail_stale(conn, [r["id"] for r in stale], arrived)
    return len(stale)
