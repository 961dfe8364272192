"""The one module that writes the ``images``, ``faces``, ``deleted_blobs`` and
``erased_descriptors`` tables.

Ingest, images, clusters, search and events call these functions; nobody else writes SQL on
these tables. They also bump the event's version counters with them (``faces_version`` for
faces added or removed, ``clusters_version`` for faces that change person;
``kanta.store.events``), and keep the photo's lifecycle: its
status (``pending`` → ``indexing`` → ``processed`` | ``failed``), the re-drive job's
bookkeeping, and the tombstones (``deleted_blobs``) that deleted photos leave. It also keeps
each event's do-not-index list (``erased_descriptors``, ``kanta.privacy``), erases faces on
request and purges them at the end of an event's retention.

Every function takes an open connection (``kanta.db.connection``) and runs in its
transaction; none commits. Raises ``psycopg.Error`` on database errors.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from kanta.config import get_settings
from kanta.faces import DESCRIPTOR_DIM
from kanta.faces.boxes import BoundingBox
from kanta.store import events as event_store
from kanta.store.copy import FACE_ROW, PERSON_RECORD, copy_rows

#: SQL predicate: the face may be clustered and searched (not too small or blurry).
USABLE_FACE = "f.excluded_reason IS NULL"
#: Person id of a face in no person, as the search copy stores it.
NO_PERSON = -1

_BBOX_COLUMNS = "f.bbox_x, f.bbox_y, f.bbox_width, f.bbox_height"
_IMAGE_COLUMNS = """
SELECT i.id AS image_id, e.code AS event_code, i.blob_name, i.original_filename, i.content_type,
       i.status, i.failure_code, i.failure_reason, i.size_bytes, i.width, i.height,
       i.face_count, i.processing_seconds, i.created_at, i.processed_at
FROM images i JOIN events e ON e.id = i.event_id
"""


def bbox(row: Mapping[str, Any]) -> BoundingBox:
    """The bounding box of a face row (its ``bbox_*`` columns)."""
    return BoundingBox(row["bbox_x"], row["bbox_y"], row["bbox_width"], row["bbox_height"])


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class PendingImage:
    """An upload ticket to record: the image's id, blob name, the uploader's file name and
    type, the size it declared (bytes; ``None``: none declared) and the guest link that
    asked (``None``: the host)."""

    image_id: uuid.UUID
    blob_name: str
    original_filename: str
    content_type: str
    declared_bytes: int | None = None
    guest_link_id: int | None = None


def insert_pending(conn: psycopg.Connection, event_id: int, images: Sequence[PendingImage]) -> None:
    """Record upload tickets: one ``pending`` image each. A guest's image is charged its
    declared size (``charged_bytes``), as its link's budget was."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO images (id, event_id, blob_name, original_filename, content_type, declared_bytes,
                                   guest_link_id, charged_bytes)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [(i.image_id, event_id, i.blob_name, i.original_filename, i.content_type, i.declared_bytes,
              i.guest_link_id, i.declared_bytes if i.guest_link_id is not None else None) for i in images],
        )


@dataclass(frozen=True)
class Arrival:
    """What an upload's ticket said, read when its blob arrives: the size it declared (bytes,
    ``None``: none), and for a guest's upload the link that asked (``None``: the host's), the
    bytes its budgets were charged before this arrival and when the ticket was issued."""

    declared_bytes: int | None
    guest_link_id: int | None
    charged_bytes: int | None
    issued_at: dt.datetime


def charge_arrival(conn: psycopg.Connection, image_id: uuid.UUID, size_bytes: int) -> Arrival | None:
    """Record that the image's blob arrived with ``size_bytes`` bytes: a guest's upload is
    charged its real size from now on (``charged_bytes``). Returns the ticket's terms as they
    were before (``None`` for an image without a row); the caller corrects the budgets by
    the difference (``kanta.caps.adjust``) in this transaction."""
    row = conn.execute(
        """SELECT declared_bytes, guest_link_id, charged_bytes, created_at FROM images WHERE id = %s FOR UPDATE""",
        (image_id,)).fetchone()
    if row is None:
        return None
    if row["guest_link_id"] is not None and row["charged_bytes"] != size_bytes:
        conn.execute("UPDATE images SET charged_bytes = %s WHERE id = %s", (size_bytes, image_id))
    return Arrival(row["declared_bytes"], row["guest_link_id"], row["charged_bytes"], row["created_at"])


def list_images(conn: psycopg.Connection, event_id: int, *, status: str | None, min_faces: int | None,
                max_faces: int | None, cluster_id: int | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Image rows of an event, oldest first, filtered; at most ``limit`` from ``offset``."""
    conditions = [sql.SQL("i.event_id = %(event_id)s")]
    if status is not None:
        conditions.append(sql.SQL("i.status = %(status)s"))
    if min_faces is not None:
        conditions.append(sql.SQL("i.face_count >= %(min_faces)s"))
    if max_faces is not None:
        conditions.append(sql.SQL("i.face_count <= %(max_faces)s"))
    if cluster_id is not None:
        conditions.append(
            sql.SQL("EXISTS (SELECT 1 FROM faces f WHERE f.image_id = i.id AND f.cluster_id = %(cluster_id)s)"))
    statement = sql.SQL(_IMAGE_COLUMNS + " WHERE {} ORDER BY i.created_at, i.id LIMIT %(limit)s OFFSET %(offset)s"
                        ).format(sql.SQL(" AND ").join(conditions))
    params = {"event_id": event_id, "status": status, "min_faces": min_faces, "max_faces": max_faces,
              "cluster_id": cluster_id, "limit": limit, "offset": offset}
    return conn.execute(statement, params).fetchall()


def find_image(conn: psycopg.Connection, image_id: uuid.UUID) -> dict[str, Any] | None:
    """An image row (with its ``event_code``), or ``None``."""
    return conn.execute(_IMAGE_COLUMNS + " WHERE i.id = %s", (image_id,)).fetchone()


def faces_of_image(conn: psycopg.Connection, image_id: uuid.UUID) -> list[dict[str, Any]]:
    """The face rows of an image, by id."""
    return conn.execute(
        f"""SELECT f.id AS face_id, {_BBOX_COLUMNS}, f.cluster_id, f.excluded_reason, f.detector, f.angle,
                   f.score, f.sharpness, f.yaw, f.roll, f.thumbnail_blob
            FROM faces f WHERE f.image_id = %s ORDER BY f.id""",
        (image_id,),
    ).fetchall()


def delete_image(conn: psycopg.Connection, image_id: uuid.UUID) -> dict[str, Any] | None:
    """Delete an image row and its faces, leaving a tombstone for its blob name (see
    ``buried_image``); return ``{image_id, event_code, blob_name}`` of what was deleted, or
    ``None`` when there is no such image.

    The row is locked first, so an indexing run that is writing its result finishes before
    (and the delete removes what it wrote) or finds the row gone after (and writes nothing)."""
    # The event row first, as indexing runs take it (``lock_for_result``): an erasure or purge
    # holding it FOR UPDATE finishes before this delete locks the photo and its faces.
    owner = conn.execute("SELECT event_id FROM images WHERE id = %s", (image_id,)).fetchone()
    if owner is None:
        return None
    conn.execute("SELECT 1 FROM events WHERE id = %s FOR KEY SHARE", (owner["event_id"],))
    row = conn.execute(
        """SELECT i.id AS image_id, e.code AS event_code, i.blob_name, i.event_id, i.face_count
           FROM images i JOIN events e ON e.id = i.event_id WHERE i.id = %s FOR UPDATE OF i""",
        (image_id,),
    ).fetchone()
    if row is None:
        return None
    _bury(conn, "id = %(key)s", image_id)
    conn.execute("DELETE FROM images WHERE id = %s", (image_id,))
    if row["face_count"]:
        event_store.faces_changed(conn, row["event_id"])
    return {k: row[k] for k in ("image_id", "event_code", "blob_name")}


def bury_event_images(conn: psycopg.Connection, event_id: int) -> int:
    """Leave a tombstone for the blob name of every image of the event, upload tickets
    included (before the event is deleted: its images go with it). Returns how many.

    The caller holds the event row ``FOR UPDATE``: no image of the event can be added meanwhile."""
    return _bury(conn, "event_id = %(key)s", event_id)


# --------------------------------------------------------------------------- lifecycle

#: Seconds past an upload URL's expiry during which its upload may still land (a browser
#: still sending when the URL expires) and be run by the blob trigger.
UPLOAD_GRACE_S = 3600

#: How far storage's clock may be from the database's, and the resolution of a blob's
#: last-modified time (HTTP dates have whole seconds): a blob last written within this much
#: of a delete counts as written before it. Erring this way, a re-upload in those seconds is
#: deleted; erring the other way, a deleted photo could come back.
STORAGE_CLOCK_SKEW = dt.timedelta(seconds=5)


def _bury(conn: psycopg.Connection, where: str, key: object) -> int:
    # A photo uploaded through a ticket: its upload URL may write the blob again until it
    # expires, so any blob under the name is refused until then (plus the grace). A blob
    # another client wrote (no ticket: no original filename): only that very blob, written
    # before the delete, is refused; the client may upload the name again.
    return conn.execute(
        f"""INSERT INTO deleted_blobs (blob_name, image_id, reuploads_blocked_until)
            SELECT blob_name, id, CASE WHEN original_filename IS NOT NULL THEN
                       greatest(now(), created_at + make_interval(secs => %(ttl)s)) + make_interval(secs => %(grace)s)
                   END
            FROM images WHERE {where}
            ON CONFLICT (blob_name) DO UPDATE SET image_id = EXCLUDED.image_id, deleted_at = now(),
                reuploads_blocked_until = EXCLUDED.reuploads_blocked_until""",
        {"key": key, "ttl": get_settings().upload_url_ttl_s, "grace": UPLOAD_GRACE_S},
    ).rowcount


def buried_image(conn: psycopg.Connection, blob_name: str, written_at: dt.datetime) -> uuid.UUID | None:
    """The image id of a deleted photo when the blob ``blob_name`` last written at
    ``written_at`` (storage's time, timezone-aware) must be deleted, never indexed: it was
    written before the photo's delete (a run that started before it, a late or repeated
    delivery; within ``STORAGE_CLOCK_SKEW`` counts as before), or the photo's upload URL may
    still have written it. Else ``None``."""
    row = conn.execute(
        """SELECT image_id FROM deleted_blobs
           WHERE blob_name = %s AND (%s < deleted_at + %s OR now() < reuploads_blocked_until)""",
        (blob_name, written_at, STORAGE_CLOCK_SKEW),
    ).fetchone()
    return None if row is None else row["image_id"]


def old_tombstones(conn: psycopg.Connection, older_than_s: float, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` tombstones older than ``older_than_s`` seconds, oldest first:
    ``blob_name``, ``image_id``, ``deleted_at``, and ``reused``: whether an image now holds
    that blob name or image id (its blob and thumbnails are that image's now)."""
    return conn.execute(
        """SELECT d.blob_name, d.image_id, d.deleted_at,
                  EXISTS (SELECT 1 FROM images i WHERE i.blob_name = d.blob_name OR i.id = d.image_id) AS reused
           FROM deleted_blobs d
           WHERE d.deleted_at < now() - make_interval(secs => %s) ORDER BY d.deleted_at LIMIT %s""",
        (older_than_s, limit),
    ).fetchall()


def forget_tombstones(conn: psycopg.Connection, tombstones: Sequence[Mapping[str, Any]]) -> int:
    """Delete these tombstones (rows of ``old_tombstones``), except any renewed since (a
    later delete of the same name). Returns how many went."""
    return conn.execute(
        """DELETE FROM deleted_blobs d USING unnest(%s::text[], %s::timestamptz[]) AS t(blob_name, deleted_at)
           WHERE d.blob_name = t.blob_name AND d.deleted_at = t.deleted_at""",
        ([t["blob_name"] for t in tombstones], [t["deleted_at"] for t in tombstones]),
    ).rowcount


def start_indexing(conn: psycopg.Connection, image_id: uuid.UUID, event_id: int, blob_name: str,
                   size_bytes: int, written_at: dt.datetime) -> bool:
    """Record that an indexing run starts on the image: a ``pending`` one (or one without a
    row yet: a blob written by another client) becomes ``indexing`` now; a ``processed`` or
    ``failed`` one keeps its status and faces until the run's result replaces them.

    Returns ``False``, writing nothing, when the blob (last written at ``written_at``) is
    one of a deleted photo (``buried_image``; a row this statement re-created is removed
    again). Raises ``psycopg.errors.ForeignKeyViolation`` when the event is gone.
    """
    conn.execute(
        """INSERT INTO images (id, event_id, blob_name, status, size_bytes, indexing_started_at)
           VALUES (%(id)s, %(event_id)s, %(blob)s, 'indexing', %(size)s, now())
           ON CONFLICT (id) DO UPDATE SET status = 'indexing', indexing_started_at = now(),
                                          size_bytes = EXCLUDED.size_bytes
           WHERE images.status IN ('pending', 'indexing')""",
        {"id": image_id, "event_id": event_id, "blob": blob_name, "size": size_bytes},
    )
    # A separate statement sees a delete that committed while the insert above waited for
    # the row: the insert then made a new row for a deleted photo.
    if buried_image(conn, blob_name, written_at) is not None:
        conn.execute("DELETE FROM images WHERE blob_name = %s", (blob_name,))
        return False
    return True


def lock_for_result(conn: psycopg.Connection, image_id: uuid.UUID, event_id: int, written_at: dt.datetime
                    ) -> dict[str, Any] | None:
    """Lock the image row to write the result of a run on the blob last written at
    ``written_at``; return the row's ``status``, ``content_sha256``, ``detection_profile`` and
    ``pipeline``, or ``None`` when the photo is gone: deleted (or its event) while
    the run computed, or the blob is one of a deleted photo (``buried_image``; a row
    re-created by a late run is removed). Then the run must write nothing and remove what
    it wrote to storage. Hold the locks until commit: a delete waits for them.

    The event row is locked first (``FOR KEY SHARE``), as an event's delete does (``FOR
    UPDATE``) before it deletes the images: taken in the other order, a run writing its
    result and the event's delete would wait for each other."""
    if conn.execute("SELECT 1 FROM events WHERE id = %s FOR KEY SHARE", (event_id,)).fetchone() is None:
        return None
    row = conn.execute(
        "SELECT blob_name, status, content_sha256, detection_profile, pipeline FROM images WHERE id = %s FOR UPDATE",
        (image_id,),
    ).fetchone()
    if row is None:
        return None
    if buried_image(conn, row["blob_name"], written_at) is not None:
        delete = conn.execute("DELETE FROM images WHERE id = %s RETURNING event_id, face_count", (image_id,)).fetchone()
        if delete["face_count"]:
            event_store.faces_changed(conn, delete["event_id"])
        return None
    return row


def stale_unfinished(conn: psycopg.Connection, older_than_s: float, lease_s: float) -> list[dict[str, Any]]:
    """``id`` and ``blob_name`` of images whose ticket is over ``older_than_s`` seconds old
    and that are still ``pending``, or ``indexing`` by a run that started over ``lease_s``
    seconds ago (a dead run)."""
    return conn.execute(
        """SELECT id, blob_name FROM images
           WHERE status IN ('pending', 'indexing') AND created_at < now() - make_interval(secs => %(old)s)
             AND (status = 'pending' OR indexing_started_at < now() - make_interval(secs => %(lease)s))""",
        {"old": older_than_s, "lease": lease_s},
    ).fetchall()


def fail_unfinished(conn: psycopg.Connection, image_ids: Sequence[uuid.UUID], code: str, reason: str) -> int:
    """Mark ``failed`` with ``code`` and ``reason`` the images of ``image_ids`` that are still
    ``pending`` or ``indexing``; return how many."""
    return conn.execute(
        """UPDATE images SET status = 'failed', processed_at = now(), failure_code = %s, failure_reason = %s,
                             next_redrive_at = NULL
           WHERE id = ANY(%s) AND status IN ('pending', 'indexing')""",
        (code, reason, list(image_ids)),
    ).rowcount


def redrive_candidates(conn: psycopg.Connection, *, pending_after_s: float, lease_s: float, limit: int
                       ) -> list[dict[str, Any]]:
    """Up to ``limit`` images the re-drive job should look at now, longest waiting first:
    ``pending`` with a ticket over ``pending_after_s`` seconds old, or ``indexing`` by a run
    that started over ``lease_s`` seconds ago, and due (``next_redrive_at`` passed or unset).
    Rows: ``id``, ``blob_name``, ``status``, ``redrive_attempts``."""
    return conn.execute(
        """SELECT id, blob_name, status, redrive_attempts FROM images
           WHERE status IN ('pending', 'indexing')
             AND (status = 'pending' AND created_at < now() - make_interval(secs => %(pending)s)
                  OR status = 'indexing' AND indexing_started_at < now() - make_interval(secs => %(lease)s))
             AND (next_redrive_at IS NULL OR next_redrive_at <= now())
           ORDER BY coalesce(next_redrive_at, created_at), id LIMIT %(limit)s""",
        {"pending": pending_after_s, "lease": lease_s, "limit": limit},
    ).fetchall()


def defer_redrive(conn: psycopg.Connection, image_id: uuid.UUID, seconds: float) -> None:
    """Have the re-drive job look at the image again in ``seconds`` at the earliest (its blob
    has not come yet, or only just came); not counted as an attempt."""
    conn.execute("UPDATE images SET next_redrive_at = now() + make_interval(secs => %s) WHERE id = %s",
                 (seconds, image_id))


def claim_redrive(conn: psycopg.Connection, image_id: uuid.UUID, *, lease_s: float, backoff_s: float,
                  backoff_max_s: float) -> int | None:
    """Count one re-drive attempt on the image, if it is still unfinished, due, and not being
    indexed by a live run (one that started under ``lease_s`` seconds ago); the next one may
    come ``backoff_s * 2**attempts_before`` seconds later, at most ``backoff_max_s``.
    Returns the attempts made before this one, or ``None`` when the image needs none now."""
    row = conn.execute(
        """UPDATE images SET redrive_attempts = redrive_attempts + 1,
               next_redrive_at = now() + make_interval(secs => least(%(max)s, %(base)s * power(2, redrive_attempts)))
           WHERE id = %(id)s AND status IN ('pending', 'indexing')
             AND (next_redrive_at IS NULL OR next_redrive_at <= now())
             AND NOT (status = 'indexing' AND indexing_started_at >= now() - make_interval(secs => %(lease)s))
           RETURNING redrive_attempts - 1 AS before""",
        {"id": image_id, "lease": lease_s, "base": backoff_s, "max": backoff_max_s},
    ).fetchone()
    return None if row is None else row["before"]


# --------------------------------------------------------------------------- ingest


#: Namespace for image ids of blobs whose name is not ``{uuid}.{ext}`` (uploaded by other clients).
_BLOB_NAMESPACE = uuid.UUID("5b0c1f6e-2a7d-4f0e-9a51-6b616e746121")


def image_id_for_blob(conn: psycopg.Connection, blob_name: str) -> uuid.UUID:
    """The image id of blob ``{event_code}/{stem}.{ext}``, stable across deliveries.

    The id of the row already holding this blob name if any; else the stem when it is a
    UUID no other blob uses (our upload tickets); else a UUIDv5 of the blob name (blobs
    written by other clients).
    """
    row = conn.execute("SELECT id FROM images WHERE blob_name = %s", (blob_name,)).fetchone()
    if row is not None:
        return row["id"]
    stem = blob_name.rsplit("/", 1)[-1].split(".", 1)[0]
    try:
        candidate = uuid.UUID(stem)
    except ValueError:
        return uuid.uuid5(_BLOB_NAMESPACE, blob_name)
    taken = conn.execute("SELECT 1 FROM images WHERE id = %s", (candidate,)).fetchone()
    return uuid.uuid5(_BLOB_NAMESPACE, blob_name) if taken else candidate


def indexed_face_count(conn: psycopg.Connection, image_id: uuid.UUID, sha256: bytes, profile: str,
                       pipeline: str) -> int | None:
    """The face count of an image already ``processed`` from exactly these bytes with this
    detection profile and pipeline (a repeated delivery), else ``None``."""
    row = conn.execute(
        """SELECT face_count FROM images WHERE id = %s AND status = 'processed'
           AND content_sha256 = %s AND detection_profile = %s AND pipeline = %s""",
        (image_id, sha256, profile, pipeline),
    ).fetchone()
    return None if row is None else row["face_count"]


@dataclass(frozen=True)
class ImageRecord:
    """What an indexing stores about an image: sizes in pixels and bytes, seconds spent."""

    image_id: uuid.UUID
    event_id: int
    blob_name: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    face_count: int = 0
    seconds: float | None = None
    profile: str | None = None
    sha256: bytes | None = None
    pipeline: str | None = None


def _write_result(conn: psycopg.Connection, image: ImageRecord, *, status: str, code: str | None = None,
                  reason: str | None = None) -> None:
    # An UPDATE, never an insert: a result must not re-create a photo deleted meanwhile.
    updated = conn.execute(
        """UPDATE images SET status = %(status)s, failure_code = %(code)s, failure_reason = %(reason)s,
               size_bytes = %(size_bytes)s, width = %(width)s, height = %(height)s, face_count = %(face_count)s,
               processing_seconds = %(seconds)s, detection_profile = %(profile)s, processed_at = now(),
               content_sha256 = %(sha256)s, pipeline = %(pipeline)s, next_redrive_at = NULL
           WHERE id = %(image_id)s""",
        {**vars(image), "status": status, "code": code, "reason": reason},
    ).rowcount
    if not updated:
        raise LookupError(f"image {image.image_id} is gone: call lock_for_result first, in the same transaction")


@dataclass(frozen=True)
class FaceRecord:
    """One face to store: ``descriptor`` float ``(128,)``, the box in pixels of the upright
    photo, how it was found, why it is kept out of people (or ``None``), its thumbnail blob,
    the person it joins now (or ``None``), its pose (``yaw``, ``roll``: degrees) and its
    thumbnail's size in bytes."""

    bbox: BoundingBox
    descriptor: np.ndarray
    detector: str
    angle: float
    score: float
    sharpness: float
    excluded: str | None
    thumbnail_blob: str | None
    person: int | None
    yaw: float | None = None
    roll: float | None = None
    thumbnail_bytes: int | None = None


def clear_faces(conn: psycopg.Connection, image_id: uuid.UUID) -> None:
    """Delete the faces of an image (before it is indexed again)."""
    conn.execute("DELETE FROM faces WHERE image_id = %s", (image_id,))


def save_processed(conn: psycopg.Connection, image: ImageRecord, faces: Sequence[FaceRecord]) -> list[int]:
    """Store an indexed image: the row ``processed`` and its faces (replacing any it had);
    returns the new faces' ids in the order of ``faces``. The row must be locked by
    ``lock_for_result`` in this transaction (``LookupError`` if it is gone)."""
    _write_result(conn, image, status="processed")
    clear_faces(conn, image.image_id)
    ids = []
    with conn.cursor() as cur:
        for f in faces:
            cur.execute(
                """INSERT INTO faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor,
                                      detector, angle, score, sharpness, excluded_reason, thumbnail_blob, cluster_id,
                                      yaw, roll, thumbnail_bytes)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (image.image_id, image.event_id, f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height,
                 np.asarray(f.descriptor, dtype=np.float32), f.detector, f.angle, f.score, f.sharpness, f.excluded,
                 f.thumbnail_blob, f.person, f.yaw, f.roll, f.thumbnail_bytes),
            )
            ids.append(cur.fetchone()["id"])
    event_store.faces_changed(conn, image.event_id)
    return ids


def save_failure(conn: psycopg.Connection, image: ImageRecord, code: str, reason: str) -> None:
    """Store an image that cannot be indexed: the row ``failed`` with ``code`` and ``reason``, no
    faces. The row must be locked by ``lock_for_result`` in this transaction (``LookupError`` if it is gone)."""
    _write_result(conn, image, status="failed", code=code, reason=reason)
    had_faces = conn.execute("DELETE FROM faces WHERE image_id = %s", (image.image_id,)).rowcount
    if had_faces:
        event_store.faces_changed(conn, image.event_id)


def person_similarities(conn: psycopg.Connection, event_id: int, descriptor: np.ndarray, cap: float,
                        not_in: uuid.UUID | None = None) -> dict[int, float]:
    """For each person of the event with a usable face within ``cap`` of ``descriptor``
    (``(128,)``): the sum over their faces of ``cap - distance`` (pgvector ``<->``). Faces of
    photo ``not_in`` do not count (a photo indexed again must not attract its own faces)."""
    rows = conn.execute(
        f"""SELECT cluster_id, sum(%(cap)s - distance) AS similarity FROM (
                SELECT f.cluster_id, f.descriptor <-> %(q)s AS distance FROM faces f
                WHERE f.event_id = %(e)s AND f.cluster_id >= 0 AND {USABLE_FACE}
                  AND f.image_id IS DISTINCT FROM %(not_in)s) near
            WHERE distance < %(cap)s GROUP BY cluster_id""",
        {"q": np.asarray(descriptor, dtype=np.float32), "e": event_id, "cap": cap, "not_in": not_in},
    ).fetchall()
    return {r["cluster_id"]: r["similarity"] for r in rows}


def person_sizes(conn: psycopg.Connection, event_id: int, people: Sequence[int],
                 not_in: uuid.UUID | None = None) -> dict[int, int]:
    """Usable faces of each of ``people`` in the event, those of photo ``not_in`` left out."""
    return {r["cluster_id"]: r["n"] for r in conn.execute(
        f"""SELECT f.cluster_id, count(*) AS n FROM faces f
            WHERE f.event_id = %s AND f.cluster_id = ANY(%s) AND {USABLE_FACE}
              AND f.image_id IS DISTINCT FROM %s GROUP BY f.cluster_id""",
        (event_id, list(people), not_in),
    )}


def outdated_images(conn: psycopg.Connection, pipeline: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` processed photos indexed by another pipeline than ``pipeline``, oldest
    first: ``image_id``, ``blob_name``."""
    return conn.execute(
        """SELECT id AS image_id, blob_name FROM images
           WHERE status = 'processed' AND pipeline IS DISTINCT FROM %s ORDER BY created_at, id LIMIT %s""",
        (pipeline, limit),
    ).fetchall()


# --------------------------------------------------------------------------- people (clusters)


def faces_to_cluster(conn: psycopg.Connection, event_id: int) -> list[dict[str, Any]]:
    """Every usable face of the event, by id: ``id``, ``image_id``, ``descriptor``
    (``pgvector.Vector``) and ``previous`` (its person, -1 for none)."""
    return conn.execute(
        f"""SELECT f.id, f.image_id, f.descriptor, coalesce(f.cluster_id, -1) AS previous
            FROM faces f WHERE f.event_id = %s AND {USABLE_FACE} ORDER BY f.id""",
        (event_id,),
    ).fetchall()


def set_people(conn: psycopg.Connection, event_id: int, face_ids: Sequence[int], people: Sequence[int]) -> None:
    """Give each face of ``face_ids`` its person of ``people`` (-1 noise), in one statement."""
    conn.execute(
        """UPDATE faces f SET cluster_id = v.cluster_id
           FROM unnest(%s::bigint[], %s::integer[]) AS v(id, cluster_id)
           WHERE f.id = v.id AND f.cluster_id IS DISTINCT FROM v.cluster_id""",
        (list(face_ids), list(people)),
    )
    event_store.people_changed(conn, event_id)


def set_person(conn: psycopg.Connection, event_id: int, face_ids: Sequence[int], person: int) -> None:
    """Put the faces ``face_ids`` of the event in ``person`` (-1: in none)."""
    conn.execute("UPDATE faces SET cluster_id = %s WHERE id = ANY(%s) AND event_id = %s",
                 (person, list(face_ids), event_id))
    event_store.people_changed(conn, event_id)


def face(conn: psycopg.Connection, face_id: int) -> dict[str, Any] | None:
    """A face's ``event_id``, ``cluster_id`` and ``excluded_reason``, or ``None``."""
    return conn.execute(
        "SELECT event_id, cluster_id, excluded_reason FROM faces WHERE id = %s", (face_id,)).fetchone()


def faces_of_person(conn: psycopg.Connection, event_id: int, person: int) -> list[int]:
    """Ids of the faces of ``person`` in the event."""
    return [r["id"] for r in conn.execute(
        "SELECT id FROM faces WHERE event_id = %s AND cluster_id = %s", (event_id, person))]


def person_exists(conn: psycopg.Connection, event_id: int, person: int) -> bool:
    """Whether ``person`` (>= 0) has a face in the event."""
    return person >= 0 and conn.execute(
        "SELECT 1 FROM faces WHERE event_id = %s AND cluster_id = %s LIMIT 1", (event_id, person)).fetchone() is not None


def face_tallies(conn: psycopg.Connection, event_id: int) -> dict[str, int]:
    """Faces of the event that are ``noise``, not clustered yet (``unclustered``) and kept out
    of people (``excluded``)."""
    return conn.execute(
        f"""SELECT count(*) FILTER (WHERE f.cluster_id = -1) AS noise,
                   count(*) FILTER (WHERE f.cluster_id IS NULL AND {USABLE_FACE}) AS unclustered,
                   count(*) FILTER (WHERE NOT {USABLE_FACE}) AS excluded
            FROM faces f WHERE f.event_id = %s""",
        (event_id,),
    ).fetchone()


def people(conn: psycopg.Connection, event_id: int, *, limit: int | None = None, offset: int = 0,
           only: int | None = None) -> list[dict[str, Any]]:
    """The event's people, largest first: ``cluster_id``, ``face_count`` and ``photo_count``
    (photos they are in); at most ``limit`` from ``offset``, or just person ``only``."""
    return conn.execute(
        """SELECT f.cluster_id, count(*) AS face_count, count(DISTINCT f.image_id) AS photo_count FROM faces f
           WHERE f.event_id = %(e)s AND f.cluster_id >= 0 AND (%(only)s::int IS NULL OR f.cluster_id = %(only)s)
           GROUP BY f.cluster_id ORDER BY face_count DESC, f.cluster_id LIMIT %(limit)s OFFSET %(offset)s""",
        {"e": event_id, "only": only, "limit": limit, "offset": offset},
    ).fetchall()


def person_samples(conn: psycopg.Connection, event_id: int, persons: Sequence[int], per_person: int
                   ) -> list[dict[str, Any]]:
    """Up to ``per_person`` faces of each of ``persons``, largest faces first: ``face_id``,
    ``image_id``, ``cluster_id``, the box, ``blob_name`` and ``thumbnail_blob``."""
    return conn.execute(
        f"""SELECT * FROM (
               SELECT f.id AS face_id, f.image_id, f.cluster_id, {_BBOX_COLUMNS}, i.blob_name, f.thumbnail_blob,
                      row_number() OVER (PARTITION BY f.cluster_id
                                         ORDER BY f.bbox_width * f.bbox_height DESC, f.id) AS rank
               FROM faces f JOIN images i ON i.id = f.image_id
               WHERE f.event_id = %(e)s AND f.cluster_id = ANY(%(persons)s)) s
            WHERE rank <= %(k)s ORDER BY cluster_id, rank""",
        {"e": event_id, "persons": list(persons), "k": per_person},
    ).fetchall()


# --------------------------------------------------------------------------- search


def usable_people(conn: psycopg.Connection, event_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Every usable face of the event now, by id: (ids int64 ``(n,)``, person int64 ``(n,)``,
    ``NO_PERSON`` for none)."""
    # One row of packed big-endian (id int8, cluster_id int4) records: at 100 000 faces ~27 ms,
    # where a binary COPY of the same rows takes ~75 ms (libpq hands COPY out row by row).
    (packed,) = conn.cursor(row_factory=tuple_row, binary=True).execute(
        f"""SELECT string_agg(int8send(f.id) || int4send(coalesce(f.cluster_id, {NO_PERSON})), ''::bytea ORDER BY f.id)
            FROM faces f WHERE f.event_id = %s AND {USABLE_FACE}""",
        (event_id,),
    ).fetchone()
    rows = np.frombuffer(packed or b"", dtype=PERSON_RECORD)
    return rows["id"].astype(np.int64), rows["person"].astype(np.int64)


def usable_descriptors(conn: psycopg.Connection, event_id: int, wanted: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Descriptors of the faces ``wanted`` (ids, int64, ascending) of the event that still
    exist: (ids int64 ``(m,)``, image ids ``V16`` ``(m,)``, float32 ``(m, 128)``), by id."""
    if not len(wanted):
        return np.empty(0, np.int64), np.empty(0, "V16"), np.empty((0, DESCRIPTOR_DIM), np.float32)
    # One range scan from the lowest wanted id by binary COPY, parsed with NumPy.
    rows = copy_rows(conn, f"SELECT f.id, f.image_id, f.descriptor FROM faces f WHERE f.event_id = {int(event_id)} "
                            f"AND f.id >= {int(wanted[0])} AND {USABLE_FACE} ORDER BY f.id", FACE_ROW, 3)
    if len(rows) and not ((rows["image_len"] == 16).all() and (rows["dim"] == DESCRIPTOR_DIM).all()):
        raise RuntimeError("unexpected COPY row layout for faces (id, image_id, vector(128))")
    rows = rows[np.isin(rows["id"], wanted, assume_unique=True)]
    return rows["id"].astype(np.int64), rows["image"].copy(), rows["vec"].astype(np.float32)


def faces_by_id(conn: psycopg.Connection, event_id: int, face_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Face rows of the event by id, with their photo's ``blob_name``: ``face_id``,
    ``image_id``, ``cluster_id``, the box, ``thumbnail_blob``. A face deleted meanwhile is absent."""
    # Scalar subquery: plans faster than a join for a few faces among a million.
    rows = conn.execute(
        f"""SELECT f.id AS face_id, f.image_id, f.cluster_id, {_BBOX_COLUMNS}, f.thumbnail_blob,
                   (SELECT i.blob_name FROM images i WHERE i.id = f.image_id) AS blob_name
            FROM faces f WHERE f.id = ANY(%s) AND f.event_id = %s""",
        (list(face_ids), event_id),
    ).fetchall()
    return {r["face_id"]: r for r in rows}


# --------------------------------------------------------------------------- privacy

# Descriptors sent as one flat real[] and cut into vectors in SQL (pgvector casts real[] to
# vector): one statement for any number of them.
_QUERY_VECTORS = (f"SELECT (%(flat)s::real[])[g * {DESCRIPTOR_DIM} + 1 : (g + 1) * {DESCRIPTOR_DIM}]"
                  f"::vector({DESCRIPTOR_DIM}) AS v FROM generate_series(0, %(n)s - 1) AS g")


def _flat(descriptors: np.ndarray) -> dict[str, Any]:
    matrix = np.asarray(descriptors, dtype=np.float32).reshape(-1, DESCRIPTOR_DIM)
    return {"flat": matrix.ravel().tolist(), "n": len(matrix)}


def do_not_index(conn: psycopg.Connection, event_id: int) -> np.ndarray:
    """The event's do-not-index list (``erased_descriptors``): float32 ``(m, 128)``."""
    rows = conn.execute("SELECT descriptor FROM erased_descriptors WHERE event_id = %s ORDER BY id",
                        (event_id,)).fetchall()
    if not rows:
        return np.empty((0, DESCRIPTOR_DIM), np.float32)
    return np.array([r["descriptor"].to_numpy() for r in rows], dtype=np.float32)


def add_do_not_index(conn: psycopg.Connection, event_id: int, descriptors: np.ndarray) -> None:
    """Add ``descriptors`` (float ``(n, 128)``) to the event's do-not-index list."""
    if len(descriptors):
        conn.execute(f"INSERT INTO erased_descriptors (event_id, descriptor) SELECT %(e)s, v FROM ({_QUERY_VECTORS}) q",
                     {"e": event_id, **_flat(descriptors)})


def faces_near(conn: psycopg.Connection, event_id: int, descriptors: np.ndarray, cut: float) -> list[int]:
    """Ids of the event's faces (usable or not) within Euclidean distance ``cut`` (pgvector
    ``<->``) of any of ``descriptors`` (float ``(n, 128)``), ascending."""
    if not len(descriptors):
        return []
    return [r["id"] for r in conn.execute(
        f"""SELECT f.id FROM faces f WHERE f.event_id = %(e)s
              AND EXISTS (SELECT 1 FROM ({_QUERY_VECTORS}) q WHERE f.descriptor <-> q.v <= %(cut)s)
            ORDER BY f.id""",
        {"e": event_id, "cut": cut, **_flat(descriptors)},
    )]


def usable_face_descriptors(conn: psycopg.Connection, event_id: int, face_ids: Sequence[int]) -> np.ndarray:
    """Descriptors of the usable faces among ``face_ids`` of the event: float32 ``(m, 128)``, by id."""
    rows = conn.execute(
        f"SELECT f.descriptor FROM faces f WHERE f.event_id = %s AND f.id = ANY(%s) AND {USABLE_FACE} ORDER BY f.id",
        (event_id, list(face_ids)),
    ).fetchall()
    if not rows:
        return np.empty((0, DESCRIPTOR_DIM), np.float32)
    return np.array([r["descriptor"].to_numpy() for r in rows], dtype=np.float32)


def erase_faces(conn: psycopg.Connection, event_id: int, face_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Erase faces ``face_ids`` of the event: their rows (descriptor, box, person, corrections)
    go, each photo's ``face_count`` drops by its faces erased, and the event's faces changed.
    Returns ``face_id``, ``image_id``, ``cluster_id`` and ``thumbnail_blob`` of each erased
    face (whose thumbnail the caller deletes).

    The caller holds the event row ``FOR UPDATE`` (``kanta.store.events.face_policy``): an
    indexing run writes its result before or after, never in between."""
    if not face_ids:
        return []
    erased = conn.execute(
        """DELETE FROM faces WHERE event_id = %s AND id = ANY(%s)
           RETURNING id AS face_id, image_id, cluster_id, thumbnail_blob""",
        (event_id, list(face_ids)),
    ).fetchall()
    if erased:
        conn.execute(
            """UPDATE images i SET face_count = greatest(i.face_count - e.n, 0)
               FROM (SELECT image_id, count(*) AS n FROM unnest(%s::uuid[]) AS t(image_id) GROUP BY image_id) e
               WHERE i.id = e.image_id""",
            ([r["image_id"] for r in erased],),
        )
        event_store.faces_changed(conn, event_id)
    return erased


def purge_faces(conn: psycopg.Connection, event_id: int) -> int:
    """Delete all face data of the event at the end of its retention: every face row, the
    do-not-index list, and the photos' face counts (0); the event's faces changed. Returns the
    faces deleted. The caller holds the event row ``FOR UPDATE`` and deletes the thumbnails
    (``thumbnail_prefix``'s event part: ``{event_code}/``)."""
    deleted = conn.execute("DELETE FROM faces WHERE event_id = %s", (event_id,)).rowcount
    conn.execute("DELETE FROM erased_descriptors WHERE event_id = %s", (event_id,))
    conn.execute("UPDATE images SET face_count = 0 WHERE event_id = %s AND face_count <> 0", (event_id,))
    event_store.faces_changed(conn, event_id)
    return deleted


def delete_event_images(conn: psycopg.Connection, event_id: int) -> int:
    """Delete every image of the event (upload tickets included) and their faces, leaving a
    tombstone for each blob name as ``delete_image`` does; returns how many. The caller holds
    the event row ``FOR UPDATE`` and deletes the blobs written before (``{event_code}/``)."""
    bury_event_images(conn, event_id)
    deleted = conn.execute("DELETE FROM images WHERE event_id = %s", (event_id,)).rowcount
    if deleted:
        event_store.faces_changed(conn, event_id)
    return deleted


# --------------------------------------------------------------------------- storage sweep


def claimed_blobs(conn: psycopg.Connection, blob_names: Sequence[str]) -> set[str]:
    """The names among ``blob_names`` (blobs of the uploads container) that an image row
    claims: a row with that ``blob_name`` whose status is ``pending``, ``indexing`` or
    ``processed``. A ``failed`` row claims nothing: its bytes are no photo Kanta keeps. One
    query (``blob_name`` is unique and indexed)."""
    if not blob_names:
        return set()
    return {r["blob_name"] for r in conn.execute(
        "SELECT blob_name FROM images WHERE blob_name = ANY(%s) AND status <> 'failed'", (list(blob_names),))}
