"""What the blob trigger does with one uploaded blob: validate, find and encode faces, store.

Idempotent: the image row is keyed by the blob name (and an id derived from it), and its
faces are replaced in one transaction, so at-least-once delivery leaves one row and no
duplicate faces. Bad blobs are recorded as ``failed`` with the reason and never raise
(a retry could not help); database errors raise so the host retries the blob.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Literal

import numpy as np
import psycopg

from kanta import storage
from kanta.clusters.algorithm import assign_to_people
from kanta.config import get_settings
from kanta.db import connection
from kanta.faces.schemas import USABLE_FACE
from kanta.images.service import bump_faces_version, thumbnail_prefix

log = logging.getLogger(__name__)

#: Namespace for image ids of blobs whose name is not ``{uuid}.{ext}`` (uploaded by other clients).
_BLOB_NAMESPACE = uuid.UUID("5b0c1f6e-2a7d-4f0e-9a51-6b616e746121")


@dataclass(frozen=True)
class IngestResult:
    """Outcome of ``ingest_blob``: ``status`` and, when stored, the image id and face count."""

    status: Literal["processed", "failed", "skipped"]
    image_id: uuid.UUID | None = None
    face_count: int = 0
    reason: str | None = None


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


def ingest_blob(blob_name: str, data: bytes) -> IngestResult:
    """Index one blob of the uploads container named ``{event_code}/{file}`` (bytes ``data``).

    Returns ``skipped`` for a name outside that layout (logged) or under an unknown event
    (logged, and the blob deleted: there is no event to attach it to), ``failed`` for bytes
    that are not a usable image (row marked failed with the reason), else ``processed``
    (with ``reason="unchanged"`` and nothing written when these exact bytes were already
    indexed with the current detection profile: a repeated delivery).
    Raises ``psycopg.OperationalError`` when the database is unreachable (host retries).
    """
    # Imported here: dlib loads only in workers that run the blob trigger.
    from kanta.faces.pipeline import ImageRejected, analyse_image, analysis_settings

    parts = blob_name.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        log.warning("skipping blob %r: not named {event_code}/{file}", blob_name)
        return IngestResult("skipped", reason="blob name is not {event_code}/{file}")
    event_code = parts[0]
    with connection() as conn:
        event = conn.execute("SELECT id FROM events WHERE code = %s", (event_code,)).fetchone()
        if event is None:
            # An upload that arrived after its event was deleted (upload URLs outlive the
            # deletion by up to KANTA_UPLOAD_URL_TTL): nobody can ever see it, so delete it.
            log.warning("deleting blob %r: no event %r", blob_name, event_code)
            storage.delete_blobs([blob_name])
            return IngestResult("skipped", reason=f"no event {event_code!r}")
        image_id = image_id_for_blob(conn, blob_name)
        settings = get_settings()
        digest = hashlib.sha256(data).digest()
        done = conn.execute(
            """SELECT face_count FROM images WHERE id = %s AND status = 'processed'
               AND content_sha256 = %s AND detection_profile = %s""",
            (image_id, digest, settings.detection_profile),
        ).fetchone()
        if done is not None:
            # A repeated delivery of bytes already indexed: re-indexing would give the faces
            # new ids and drop the hosts' corrections on them.
            log.info("%s is unchanged since it was indexed; nothing to do", blob_name)
            return IngestResult("processed", image_id, done["face_count"], reason="unchanged")

    if len(data) > settings.max_image_bytes:
        return _store_failure(
            event["id"], image_id, blob_name, len(data), "too_large",
            f"The file is {len(data)} bytes; the limit is {settings.max_image_bytes} bytes.",
        )
    try:
        analysis = analyse_image(data, **analysis_settings(settings))
    except ImageRejected as rejected:
        return _store_failure(event["id"], image_id, blob_name, len(data), rejected.code, rejected.message)

    row = {
        "id": image_id, "event_id": event["id"], "blob_name": blob_name, "size_bytes": len(data),
        "width": analysis.width, "height": analysis.height, "face_count": len(analysis.faces),
        "seconds": analysis.seconds, "profile": settings.detection_profile, "sha256": digest,
    }
    # Thumbnails first: a retry after a failure below rewrites them, and no row ever points
    # to a thumbnail that does not exist.
    prefix = thumbnail_prefix(event_code, image_id)
    storage.delete_thumbnails(prefix)
    thumbnails = {f"{prefix}{i}.jpg": f.thumbnail for i, f in enumerate(analysis.faces)}
    storage.write_thumbnails(thumbnails)
    try:
        with connection() as conn:
            _upsert_image(conn, row, status="processed")
            conn.execute("DELETE FROM faces WHERE image_id = %s", (image_id,))
            people = people_for_faces(conn, event["id"], [None if f.excluded else f.descriptor for f in analysis.faces],
                                      eps=settings.cluster_eps, cap=settings.cluster_cap)
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor,
                                          detector, angle, score, sharpness, excluded_reason, thumbnail_blob,
                                          cluster_id)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [
                        (image_id, event["id"], f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height,
                         f.descriptor.astype(np.float32), f.detector, f.angle, f.score, f.sharpness,
                         f.excluded, name, person)
                        for f, name, person in zip(analysis.faces, thumbnails, people)
                    ],
                )
            bump_faces_version(conn, event["id"])
    except psycopg.errors.ForeignKeyViolation:
        # The event was deleted while we computed: nothing to attach to.
        log.warning("skipping blob %r: event %r was deleted during processing", blob_name, event_code)
        return IngestResult("skipped", image_id, reason=f"no event {event_code!r}")
    log.info("indexed %s: %d face(s) in %.2f s", blob_name, len(analysis.faces), analysis.seconds)
    return IngestResult("processed", image_id, len(analysis.faces))


def people_for_faces(conn: psycopg.Connection, event_id: int, descriptors: list[np.ndarray | None], *,
                     eps: float, cap: float) -> list[int | None]:
    """Incremental assignment of the faces of one new photo: for each descriptor (``(128,)``,
    or ``None`` for a face kept out of people), the person it joins now, or ``None`` (left to
    the next full run). The rule is the full run's (``kanta.clusters.algorithm.assign_to_people``:
    mean capped distance to the person's faces at most ``eps``), and no two faces of the photo
    join the same person. One scan of the event's clustered faces per face (pgvector ``<->``)."""
    usable = [i for i, d in enumerate(descriptors) if d is not None]
    out: list[int | None] = [None] * len(descriptors)
    if not usable:
        return out
    sums: list[dict[int, float]] = []
    for i in usable:
        rows = conn.execute(
            f"""SELECT cluster_id, sum(%(cap)s - distance) AS similarity FROM (
                    SELECT f.cluster_id, f.descriptor <-> %(q)s AS distance FROM faces f
                    WHERE f.event_id = %(e)s AND f.cluster_id >= 0 AND {USABLE_FACE}) near
                WHERE distance < %(cap)s GROUP BY cluster_id""",
            {"q": np.asarray(descriptors[i], dtype=np.float32), "e": event_id, "cap": cap},
        ).fetchall()
        sums.append({r["cluster_id"]: r["similarity"] for r in rows})
    people = sorted(set().union(*sums))
    if not people:
        return out
    sizes = {r["cluster_id"]: r["n"] for r in conn.execute(
        f"""SELECT f.cluster_id, count(*) AS n FROM faces f
            WHERE f.event_id = %s AND f.cluster_id = ANY(%s) AND {USABLE_FACE} GROUP BY f.cluster_id""",
        (event_id, people),
    )}
    similarity = np.array([[s.get(p, 0.0) for p in people] for s in sums])
    chosen = assign_to_people(similarity, np.array([sizes[p] for p in people]), eps=eps, cap=cap)
    for i, c in zip(usable, chosen.tolist()):
        out[i] = people[c] if c >= 0 else None
    return out


def _upsert_image(conn: psycopg.Connection, row: dict, *, status: str, code: str | None = None,
                  reason: str | None = None) -> None:
    conn.execute(
        """INSERT INTO images (id, event_id, blob_name, status, failure_code, failure_reason, size_bytes,
                               width, height, face_count, processing_seconds, detection_profile, processed_at,
                               content_sha256)
           VALUES (%(id)s, %(event_id)s, %(blob_name)s, %(status)s, %(code)s, %(reason)s, %(size_bytes)s,
                   %(width)s, %(height)s, %(face_count)s, %(seconds)s, %(profile)s, now(), %(sha256)s)
           ON CONFLICT (id) DO UPDATE SET
               status = EXCLUDED.status, failure_code = EXCLUDED.failure_code,
               failure_reason = EXCLUDED.failure_reason, size_bytes = EXCLUDED.size_bytes,
               width = EXCLUDED.width, height = EXCLUDED.height, face_count = EXCLUDED.face_count,
               processing_seconds = EXCLUDED.processing_seconds,
               detection_profile = EXCLUDED.detection_profile, processed_at = EXCLUDED.processed_at,
               content_sha256 = EXCLUDED.content_sha256""",
        {**row, "status": status, "code": code, "reason": reason},
    )


def _store_failure(event_id: int, image_id: uuid.UUID, blob_name: str, size: int, code: str,
                   reason: str) -> IngestResult:
    log.warning("image %s failed: %s (%s)", blob_name, reason, code)
    storage.delete_thumbnails(thumbnail_prefix(blob_name.split("/", 1)[0], image_id))
    row = {"id": image_id, "event_id": event_id, "blob_name": blob_name, "size_bytes": size,
           "width": None, "height": None, "face_count": 0, "seconds": None, "profile": None, "sha256": None}
    with connection() as conn:
        had_faces = conn.execute("DELETE FROM faces WHERE image_id = %s", (image_id,)).rowcount
        _upsert_image(conn, row, status="failed", code=code, reason=reason)
        if had_faces:
            bump_faces_version(conn, event_id)
    return IngestResult("failed", image_id, reason=reason)
