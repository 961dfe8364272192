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
from azure.core.exceptions import ResourceNotFoundError

from kanta import storage
from kanta.clusters.algorithm import assign_to_people
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import NotFound
from kanta.events.service import get_event_id
from kanta.images import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """Outcome of ``ingest_blob``: ``status`` and, when stored, the image id and face count."""

    status: Literal["processed", "failed", "skipped"]
    image_id: uuid.UUID | None = None
    face_count: int = 0
    reason: str | None = None


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
        try:
            event_id = get_event_id(conn, event_code)
        except NotFound:
            # An upload that arrived after its event was deleted (upload URLs outlive the
            # deletion by up to KANTA_UPLOAD_URL_TTL): nobody can ever see it, so delete it.
            log.warning("deleting blob %r: no event %r", blob_name, event_code)
            storage.delete_blobs([blob_name])
            return IngestResult("skipped", reason=f"no event {event_code!r}")
        image_id = store.image_id_for_blob(conn, blob_name)
        settings = get_settings()
        digest = hashlib.sha256(data).digest()
        done = store.indexed_face_count(conn, image_id, digest, settings.detection_profile)
        if done is not None:
            # A repeated delivery of bytes already indexed: re-indexing would give the faces
            # new ids and drop the hosts' corrections on them.
            log.info("%s is unchanged since it was indexed; nothing to do", blob_name)
            return IngestResult("processed", image_id, done, reason="unchanged")

    record = store.ImageRecord(image_id, event_id, blob_name, len(data))
    if len(data) > settings.max_image_bytes:
        return _store_failure(record, event_code, "too_large",
                              f"The file is {len(data)} bytes; the limit is {settings.max_image_bytes} bytes.")
    try:
        analysis = analyse_image(data, **analysis_settings(settings))
    except ImageRejected as rejected:
        return _store_failure(record, event_code, rejected.code, rejected.message)

    record = store.ImageRecord(image_id, event_id, blob_name, len(data), analysis.width, analysis.height,
                               len(analysis.faces), analysis.seconds, settings.detection_profile, digest)
    # Thumbnails first: a retry after a failure below rewrites them, and no row ever points
    # to a thumbnail that does not exist.
    prefix = store.thumbnail_prefix(event_code, image_id)
    storage.delete_thumbnails(prefix)
    thumbnails = {f"{prefix}{i}.jpg": f.thumbnail for i, f in enumerate(analysis.faces)}
    storage.write_thumbnails(thumbnails)
    try:
        with connection() as conn:
            store.clear_faces(conn, image_id)
            people = people_for_faces(conn, event_id, [None if f.excluded else f.descriptor for f in analysis.faces],
                                      eps=settings.cluster_eps, cap=settings.cluster_cap)
            store.save_processed(conn, record, [
                store.FaceRecord(f.bbox, f.descriptor, f.detector, f.angle, f.score, f.sharpness, f.excluded,
                                 name, person)
                for f, name, person in zip(analysis.faces, thumbnails, people)
            ])
    except psycopg.errors.ForeignKeyViolation:
        # The event was deleted while we computed: nothing to attach to.
        log.warning("skipping blob %r: event %r was deleted during processing", blob_name, event_code)
        return IngestResult("skipped", image_id, reason=f"no event {event_code!r}")
    try:
        storage.seal_photo(blob_name, analysis.mime_type)
    except ResourceNotFoundError:
        pass  # deleted meanwhile; whoever deleted it removes the row too
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
    sums = [store.person_similarities(conn, event_id, descriptors[i], cap) for i in usable]
    people = sorted(set().union(*sums))
    if not people:
        return out
    sizes = store.person_sizes(conn, event_id, people)
    similarity = np.array([[s.get(p, 0.0) for p in people] for s in sums])
    chosen = assign_to_people(similarity, np.array([sizes[p] for p in people]), eps=eps, cap=cap)
    for i, c in zip(usable, chosen.tolist()):
        out[i] = people[c] if c >= 0 else None
    return out


def _store_failure(record: store.ImageRecord, event_code: str, code: str, reason: str) -> IngestResult:
    log.warning("image %s failed: %s (%s)", record.blob_name, reason, code)
    storage.delete_thumbnails(store.thumbnail_prefix(event_code, record.image_id))
    with connection() as conn:
        store.save_failure(conn, record, code, reason)
    return IngestResult("failed", record.image_id, reason=reason)
