"""Images logic for the HTTP API: upload tickets, listing, detail, deletion."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from kanta import storage
from kanta.config import get_settings
from kanta.db import connection
from kanta.events.service import get_event_id
from kanta.faces.schemas import BBOX_COLUMNS, BBox
from kanta.errors import not_found
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

_SELECT = """
SELECT i.id AS image_id, e.code AS event_code, i.blob_name, i.original_filename, i.content_type,
       i.status, i.failure_code, i.failure_reason, i.size_bytes, i.width, i.height,
       i.face_count, i.processing_seconds, i.created_at, i.processed_at
FROM images i JOIN events e ON e.id = i.event_id
"""


def blob_name_for(event_code: str, image_id: uuid.UUID, content_type: str) -> str:
    """Blob name of an uploaded image: ``{event_code}/{image_id}.{ext}``."""
    return f"{event_code}/{image_id}.{CONTENT_TYPE_EXTENSIONS[content_type]}"


def thumbnail_prefix(event_code: str, image_id: uuid.UUID) -> str:
    """Prefix of an image's face thumbnails in the faces container: ``{event_code}/{image_id}/``."""
    return f"{event_code}/{image_id}/"


def read_url_expiry() -> dt.datetime:
    """When read URLs issued now expire (``KANTA_READ_URL_TTL`` seconds from now)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=get_settings().read_url_ttl_s)


def face_urls(row: Mapping[str, Any], expires_at: dt.datetime) -> dict[str, str]:
    """``url`` (the face's thumbnail, else its photo) and ``image_url`` (the photo) of a row
    holding ``thumbnail_blob`` and ``blob_name``."""
    image_url = storage.read_url(row["blob_name"], expires_at)
    thumbnail = row.get("thumbnail_blob")
    return {"url": storage.thumbnail_url(thumbnail, expires_at) if thumbnail else image_url, "image_url": image_url}


def _image(row: Mapping[str, Any], expires_at: dt.datetime) -> dict[str, Any]:
    # A pending image's blob may not exist yet: no URL to hand out.
    url = None if row["status"] == "pending" else storage.read_url(row["blob_name"], expires_at)
    return {**row, "url": url}


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
            blob_name = blob_name_for(event_code, image_id, f.content_type)
            rows.append((image_id, event_id, blob_name, f.filename, f.content_type))
            tickets.append(
                UploadTicket(
                    image_id=image_id,
                    blob_name=blob_name,
                    upload_url=storage.upload_url(blob_name, expires_at),
                    headers={"x-ms-blob-type": "BlockBlob", "Content-Type": f.content_type},
                    expires_at=expires_at,
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO images (id, event_id, blob_name, original_filename, content_type)
                   VALUES (%s, %s, %s, %s, %s)""",
                rows,
            )
    return tickets


def list_images(event_code: str, query: ImageListQuery) -> ImageList:
    """A page of an event's images, oldest first, filtered as ``query`` says. Raises ``NotFound``."""
    conditions = [sql.SQL("i.event_id = %(event_id)s")]
    if query.status is not None:
        conditions.append(sql.SQL("i.status = %(status)s"))
    if query.min_faces is not None:
        conditions.append(sql.SQL("i.face_count >= %(min_faces)s"))
    if query.max_faces is not None:
        conditions.append(sql.SQL("i.face_count <= %(max_faces)s"))
    if query.cluster_id is not None:
        conditions.append(
            sql.SQL("EXISTS (SELECT 1 FROM faces f WHERE f.image_id = i.id AND f.cluster_id = %(cluster_id)s)")
        )
    statement = sql.SQL(_SELECT + " WHERE {} ORDER BY i.created_at, i.id LIMIT %(limit)s OFFSET %(offset)s").format(
        sql.SQL(" AND ").join(conditions)
    )
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        # One row more than asked tells whether another page exists.
        params = {**query.model_dump(), "event_id": event_id, "limit": query.limit + 1}
        rows = conn.execute(statement, params).fetchall()
    expires_at = read_url_expiry()
    items = [Image.model_validate(_image(r, expires_at)) for r in rows[: query.limit]]
    next_offset = query.offset + query.limit if len(rows) > query.limit else None
    return ImageList(items=items, next_offset=next_offset)


def _find_image(conn: psycopg.Connection, image_id: str) -> Mapping[str, Any]:
    try:
        key = uuid.UUID(image_id)
    except ValueError:
        raise not_found("image", image_id) from None
    row = conn.execute(_SELECT + " WHERE i.id = %s", (key,)).fetchone()
    if row is None:
        raise not_found("image", image_id)
    return row


def get_image(image_id: str) -> ImageDetail:
    """One image with its faces. Raises ``NotFound`` ``image_not_found``."""
    with connection() as conn:
        row = _find_image(conn, image_id)
        faces = conn.execute(
            f"""SELECT f.id AS face_id, {BBOX_COLUMNS}, f.cluster_id, f.excluded_reason, f.detector, f.angle,
                       f.score, f.sharpness, f.thumbnail_blob
                FROM faces f WHERE f.image_id = %s ORDER BY f.id""",
            (row["image_id"],),
        ).fetchall()
    expires_at = read_url_expiry()
    return ImageDetail.model_validate(
        {
            **_image(row, expires_at),
            "faces": [
                FaceOut(
                    face_id=f["face_id"], bbox=BBox.from_row(f), cluster_id=f["cluster_id"],
                    excluded_reason=f["excluded_reason"], detector=f["detector"], angle=f["angle"],
                    score=f["score"], sharpness=f["sharpness"],
                    thumbnail_url=storage.thumbnail_url(f["thumbnail_blob"], expires_at) if f["thumbnail_blob"] else None,
                )
                for f in faces
            ],
        }
    )


def delete_image(image_id: str) -> None:
    """Delete an image's blob, then its row and faces. Raises ``NotFound``."""
    with connection() as conn:
        row = _find_image(conn, image_id)
    storage.delete_blobs([row["blob_name"]])
    storage.delete_thumbnails(thumbnail_prefix(row["event_code"], row["image_id"]))
    with connection() as conn:
        deleted = conn.execute(
            "DELETE FROM images WHERE id = %s RETURNING event_id, face_count", (row["image_id"],)
        ).fetchone()
        if deleted and deleted["face_count"]:
            bump_faces_version(conn, deleted["event_id"])


def bump_faces_version(conn: psycopg.Connection, event_id: int) -> None:
    """Record that the event's faces changed, so the timer re-clusters it."""
    conn.execute("UPDATE events SET faces_version = faces_version + 1 WHERE id = %s", (event_id,))


def bump_clusters_version(conn: psycopg.Connection, event_id: int) -> None:
    """Record that faces of the event changed person (``faces.cluster_id``) while the faces
    themselves did not, so search workers re-read who is who (``kanta.search.descriptors``)."""
    conn.execute("UPDATE events SET clusters_version = clusters_version + 1 WHERE id = %s", (event_id,))


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
        stale = conn.execute(
            """SELECT id, blob_name FROM images
               WHERE status = 'pending' AND created_at < now() - make_interval(secs => %s)""",
            (older_than,),
        ).fetchall()
    if not stale:
        return 0
    arrived = [r["id"] for r in stale if storage.blob_exists(r["blob_name"])]
    with connection() as conn:
        # status = 'pending' again: the blob trigger may have indexed some meanwhile.
        conn.execute(
            """UPDATE images SET status = 'failed', processed_at = now(),
                   failure_code = CASE WHEN id = ANY(%(arrived)s) THEN 'not_indexed' ELSE 'not_uploaded' END,
                   failure_reason = CASE WHEN id = ANY(%(arrived)s)
                       THEN 'The photo arrived but could not be indexed; upload it again.'
                       ELSE 'No photo arrived before the upload URL expired.' END
               WHERE id = ANY(%(ids)s) AND status = 'pending'""",
            {"arrived": arrived, "ids": [r["id"] for r in stale]},
        )
    return len(stale)
