"""Indexing one uploaded blob: check, find and encode faces, store. The blob trigger, the
re-drive job and ``POST /api/images/{id}/reindex`` all index through ``ingest_blob``.

The photo's lifecycle (``kanta.store.images``): ``pending`` (upload URL issued) →
``indexing`` (a run started) → ``processed`` | ``failed``; a deleted photo leaves a
tombstone for its blob name. A run respects it at both ends: it deletes, never indexes, a
blob whose name has a tombstone or whose event is gone; and it writes its result only after
locking the image row and finding the photo still there, else it removes the thumbnails it
wrote, so a run that overlaps a delete never brings the photo back.

Idempotent: one row per blob name; a repeated delivery of bytes already indexed changes
nothing; a new result replaces the faces in one transaction. Bad blobs are recorded as
``failed`` and never raise (a retry could not help); database errors raise so the host
retries the blob, and the re-drive job takes over photos whose retries ran out.

Cost is checked before work: the blob's size comes from its properties, and a blob over
``KANTA_MAX_IMAGE_BYTES``, or over the size its upload request declared (plus
``DECLARED_SLACK_BYTES``), fails without a byte of it being downloaded. Every refused blob
(too large, not an image, corrupt, too many pixels) is deleted from storage in the same run;
its row keeps the status and the reason in words. A guest's upload is charged its real size
against its link's and event's byte budgets when it arrives (``kanta.caps``), in place of
the size declared when its URL was issued.

Privacy (``kanta.privacy``): once the event's retention is over no face is looked for (the
photo is only decoded, checked and measured); a face within the event's face cut
(``kanta.clusters.service.cuts_in_use``, at most ``KANTA_SEARCH_MAX_DISTANCE``) of the
event's do-not-index list is not stored: no row, no
thumbnail, not counted in the photo's ``face_count``. Both are read again under the row lock,
where the result is written, so an erasure or purge that commits while a run computes counts.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Literal

import numpy as np
import psycopg
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties

from kanta import caps, storage
from kanta.clusters.algorithm import assign_to_people
from kanta.clusters.cuts import EventCuts
from kanta.clusters.service import cuts_in_use, restore_corrections
from kanta.config import UPLOADS_CONTAINER, get_settings
from kanta.db import connection
from kanta.errors import NotFound
from kanta.faces import DESCRIPTOR_DIM, PIPELINE
from kanta.faces.boxes import BoundingBox, iou
from kanta.privacy.policy import listed
from kanta.store import images as store
from kanta.store.events import face_policy, get_event_id
from kanta.store.people import corrections_of

log = logging.getLogger(__name__)

#: Why a run stored nothing (``IngestResult.reason`` with status ``skipped``).
SKIP_NAME = "bad_name"            # not {event_code}/{file}
SKIP_NO_EVENT = "no_event"        # its event does not exist (the blob is deleted)
SKIP_DELETED = "deleted"          # the photo was deleted (the blob is deleted)
SKIP_BLOB_GONE = "blob_gone"      # the blob was deleted before it could be read
SKIP_BLOB_CHANGED = "blob_changed"  # the blob was replaced while it was read; its new version gets its own run
#: ``reason`` of a ``processed`` result that wrote nothing: these bytes were indexed already.
UNCHANGED = "unchanged"
#: Bytes a blob may exceed the size its upload request declared by: room for a client that
#: declares a file's size before adding a little metadata; anything larger is refused.
DECLARED_SLACK_BYTES = 65_536


@dataclass(frozen=True)
class IngestResult:
    """Outcome of ``ingest_blob``: ``status``, the image id and face count when stored (faces
    the do-not-index list kept out not counted), and ``reason``: the failure's reason, a
    ``SKIP_*`` code, or ``UNCHANGED``."""

    status: Literal["processed", "failed", "skipped"]
    image_id: uuid.UUID | None = None
    face_count: int = 0
    reason: str | None = None


def ingest_blob(blob: BlobClient, *, force: bool = False, properties: BlobProperties | None = None) -> IngestResult:
    """Index blob ``{event_code}/{file}`` of the uploads container, reached through ``blob``
    (the blob trigger's SDK-type binding, or ``kanta.storage.uploads_blob``). ``properties``:
    the blob's, when the caller has just read them (else read here); the version they
    describe is the one indexed.

    Returns ``skipped`` (see the ``SKIP_*`` codes) for a name outside that layout, an unknown
    event or a deleted photo (the blob is deleted: nobody can ever see it), or a blob gone or
    replaced while read; ``failed`` for a blob that is not a usable image (row marked failed
    with the reason); else ``processed``, with ``reason=UNCHANGED`` and nothing written when
    these exact bytes were already indexed with the current detection profile (a repeated
    delivery), unless ``force``.

    Raises ``psycopg.OperationalError`` when the database is unreachable and
    ``azure.core.exceptions.AzureError`` when storage is (the host retries either).
    """
    # Imported here: dlib loads only in workers that index photos.
    from kanta.faces.pipeline import ImageRejected, analyse_image, analysis_settings

    if blob.container_name != UPLOADS_CONTAINER:
        raise ValueError(f"not a blob of the {UPLOADS_CONTAINER} container: {blob.container_name}/{blob.blob_name}")
    blob_name = blob.blob_name
    parts = blob_name.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        log.warning("skipping blob %r: not named {event_code}/{file}", blob_name)
        return IngestResult("skipped", reason=SKIP_NAME)
    event_code = parts[0]
    settings = get_settings()

    # The size, before any byte is downloaded (one HEAD request).
    if properties is None:
        try:
            properties = blob.get_blob_properties()
        except ResourceNotFoundError:
            log.info("skipping blob %r: it was deleted before it could be read", blob_name)
            return IngestResult("skipped", reason=SKIP_BLOB_GONE)

    with connection() as conn:
        buried = store.buried_image(conn, blob_name, properties.last_modified)
        if buried is not None:
            return _remove(blob_name, buried, SKIP_DELETED, "the photo was deleted")
        try:
            event_id = get_event_id(conn, event_code)
        except NotFound:
            return _remove(blob_name, None, SKIP_NO_EVENT, f"no event {event_code!r}")
        image_id = store.image_id_for_blob(conn, blob_name)
        try:
            started = store.start_indexing(conn, image_id, event_id, blob_name, properties.size,
                                           properties.last_modified)
        except psycopg.errors.ForeignKeyViolation:
            started = None
        arrival = store.charge_arrival(conn, image_id, properties.size) if started else None
        if arrival is not None and arrival.guest_link_id is not None:
            _correct_budgets(conn, arrival, event_id, properties.size)
    if started is None:
        return _remove(blob_name, None, SKIP_NO_EVENT, f"event {event_code!r} was deleted")
    if not started:
        return _remove(blob_name, image_id, SKIP_DELETED, "the photo was deleted")

    record = store.ImageRecord(image_id, event_id, blob_name, properties.size)
    if properties.size > settings.max_image_bytes:
        return _store_failure(record, event_code, properties, "too_large",
                              f"The file is {properties.size} bytes; the limit is {settings.max_image_bytes} bytes.")
    declared = arrival.declared_bytes if arrival is not None else None
    if declared is not None and properties.size > declared + DECLARED_SLACK_BYTES:
        return _store_failure(record, event_code, properties, "larger_than_declared",
                              f"The file is {caps.size_in_words(properties.size)}, more than the "
                              f"{caps.size_in_words(declared)} declared when its upload was asked for.")
    try:
        # The very version whose size was checked: a blob replaced meanwhile is not read.
        data = blob.download_blob(etag=properties.etag, match_condition=MatchConditions.IfNotModified).readall()
    except ResourceNotFoundError:
        log.info("skipping blob %r: it was deleted while it was read", blob_name)
        return IngestResult("skipped", image_id, reason=SKIP_BLOB_GONE)
    except ResourceModifiedError:
        log.info("skipping blob %r: it was replaced while it was read; its new version is indexed", blob_name)
        return IngestResult("skipped", image_id, reason=SKIP_BLOB_CHANGED)

    digest = hashlib.sha256(data).digest()
    with connection() as conn:
        done = None if force else store.indexed_face_count(conn, image_id, digest, settings.detection_profile,
                                                            PIPELINE)
        if done is None:
            # Privacy (kanta.privacy): after the event's retention no face is looked for at
            # all; a face within the event's face cut of its do-not-index list is not stored
            # (no row, no thumbnail, not counted). Read again under the row lock below, where
            # it decides.
            faces_off, do_not_index, cuts = _privacy(conn, event_id)
    if done is not None:
        # A repeated delivery of bytes already indexed: re-indexing would give the faces
        # new ids and drop the hosts' corrections on them.
        log.info("%s is unchanged since it was indexed; nothing to do", blob_name)
        return IngestResult("processed", image_id, done, reason=UNCHANGED)
    try:
        analysis = analyse_image(data, **analysis_settings(settings), find_faces=not faces_off)
    except ImageRejected as rejected:
        return _store_failure(record, event_code, properties, rejected.code, rejected.message)
    del data

    kept_out = _kept_out(analysis.faces, faces_off, do_not_index, cuts.face)
    # Thumbnails first: no row ever points to a thumbnail that does not exist. If the photo
    # turns out to be gone below, they are removed again.
    prefix = storage.thumbnail_prefix(event_code, image_id)
    storage.delete_thumbnails(prefix)
    names = [f"{prefix}{i}.jpg" for i in range(len(analysis.faces))]
    written = [i for i in range(len(analysis.faces)) if not kept_out[i]]
    storage.write_thumbnails({names[i]: analysis.faces[i].thumbnail for i in written})
    unchanged = False
    with connection() as conn:
        current = store.lock_for_result(conn, image_id, event_id, properties.last_modified)
        if current is not None:
            # An erasure or purge that committed while this run computed counts: it held the
            # event row, which lock_for_result waited for.
            faces_off, do_not_index, cuts = _privacy(conn, event_id)
            kept_out = _kept_out(analysis.faces, faces_off, do_not_index, cuts.face)
            kept = [i for i in range(len(analysis.faces)) if not kept_out[i]]
            unchanged = not force and current["status"] == "processed" and (
                current["content_sha256"], current["detection_profile"], current["pipeline"]
            ) == (digest, settings.detection_profile, PIPELINE)
        if current is not None and not unchanged:
            record = store.ImageRecord(image_id, event_id, blob_name, properties.size, analysis.width,
                                       analysis.height, len(kept), analysis.seconds, settings.detection_profile,
                                       digest, PIPELINE)
            faces = [analysis.faces[i] for i in kept]
            # Indexed again (another pipeline, a host's re-index): a face where the photo had
            # one keeps that face's person and the host's corrections of it.
            earlier = store.faces_of_image(conn, image_id)
            same = same_faces([f.bbox for f in faces], [store.bbox(r) for r in earlier])
            carried = corrections_of(conn, [earlier[j]["face_id"] for j in same.values()])
            usable = [None if f.excluded or i in same else f.descriptor for i, f in enumerate(faces)]
            people = people_for_faces(conn, event_id, usable, eps=cuts.eps, cap=settings.cluster_cap,
                                      not_in=image_id)
            carried_people = {earlier[j]["cluster_id"] for i, j in same.items() if not faces[i].excluded}
            # Two faces of one photo are never one person: a carried person wins.
            people = [None if p in carried_people else p for p in people]
            for i, j in same.items():
                person = earlier[j]["cluster_id"]
                if not faces[i].excluded and person is not None and person >= 0:
                    people[i] = person
            ids = store.save_processed(conn, record, [
                store.FaceRecord(f.bbox, f.descriptor, f.detector, f.angle, f.score, f.sharpness, f.excluded,
                                 names[i] if i in written else None, person, f.yaw, f.roll,
                                 len(f.thumbnail) if i in written else None)
                for i, f, person in zip(kept, faces, people)
            ])
            restore_corrections(conn, event_id, carried, {
                earlier[j]["face_id"]: ids[i] for i, j in same.items() if not faces[i].excluded})
    if current is None:
        return _remove(blob_name, image_id, SKIP_DELETED, "the photo was deleted while it was indexed")
    late = [names[i] for i in written if kept_out[i]]
    if late:  # written for faces an erasure kept out while this run computed
        storage.delete_blobs(late, storage.faces_container())
    if unchanged:
        # Another delivery of the same bytes finished first: its faces stay.
        return IngestResult("processed", image_id, len(kept), reason=UNCHANGED)
    try:
        storage.seal_photo(blob_name, analysis.mime_type)
    except ResourceNotFoundError:
        pass  # deleted meanwhile; whoever deleted it removes the row too
    log.info("indexed %s: %d face(s) in %.2f s%s", blob_name, len(kept), analysis.seconds,
             f" ({len(analysis.faces) - len(kept)} kept out for privacy)" if len(kept) < len(analysis.faces) else "")
    return IngestResult("processed", image_id, len(kept))


def _privacy(conn: psycopg.Connection, event_id: int) -> tuple[bool, np.ndarray, EventCuts]:
    """``(faces_off, do_not_index, cuts)`` of the event: whether its retention is over (or it
    is gone), so no face may be stored; its do-not-index list (float32 ``(m, 128)``); and its
    own cuts (``kanta.clusters.service.cuts_in_use``): the list's face cut and the eps new
    faces join people by, as search and the last re-clustering use them."""
    cuts = cuts_in_use(conn, event_id)
    policy = face_policy(conn, event_id)
    if policy is None or policy.retention_over:
        return True, np.empty((0, DESCRIPTOR_DIM), np.float32), cuts
    return False, store.do_not_index(conn, event_id), cuts


def _kept_out(faces: list, faces_off: bool, do_not_index: np.ndarray, cut: float) -> np.ndarray:
    """``bool`` ``(n,)``: the faces of ``faces`` (``kanta.faces.pipeline.Face``) not to store:
    all when ``faces_off``, else those within ``cut`` of the do-not-index list
    (``kanta.privacy.policy.listed``)."""
    if faces_off:
        return np.ones(len(faces), dtype=bool)
    return listed(np.array([f.descriptor for f in faces]), do_not_index, cut)


#: A face found again where a photo had one, when their boxes overlap by at least this much
#: (intersection over union): boxes of one face by HOG and YuNet overlap by 0.5-0.8.
SAME_FACE_IOU = 0.4


def same_faces(new: list[BoundingBox], old: list[BoundingBox]) -> dict[int, int]:
    """Pairs ``{index in new: index in old}`` of boxes (pixels of the same upright photo)
    overlapping by at least ``SAME_FACE_IOU``, one to one, largest overlap first."""
    pairs = sorted(((iou(a.corners, b.corners), i, j) for i, a in enumerate(new) for j, b in enumerate(old)), reverse=True)
    out: dict[int, int] = {}
    for overlap, i, j in pairs:
        if overlap < SAME_FACE_IOU:
            break
        if i not in out and j not in out.values():
            out[i] = j
    return out


def people_for_faces(conn: psycopg.Connection, event_id: int, descriptors: list[np.ndarray | None], *,
                     eps: float, cap: float, not_in: uuid.UUID | None = None) -> list[int | None]:
    """Incremental assignment of the faces of one new photo: for each descriptor (``(128,)``,
    or ``None`` for a face kept out of people), the person it joins now, or ``None`` (left to
    the next full run). The rule is the full run's (``kanta.clusters.algorithm.assign_to_people``:
    mean capped distance to the person's faces at most ``eps``), and no two faces of the photo
    join the same person. Faces of photo ``not_in`` (the one being indexed again) do not
    count. One scan of the event's clustered faces per face (pgvector ``<->``)."""
    usable = [i for i, d in enumerate(descriptors) if d is not None]
    out: list[int | None] = [None] * len(descriptors)
    if not usable:
        return out
    sums = [store.person_similarities(conn, event_id, descriptors[i], cap, not_in) for i in usable]
    people = sorted(set().union(*sums))
    if not people:
        return out
    sizes = store.person_sizes(conn, event_id, people, not_in)
    similarity = np.array([[s.get(p, 0.0) for p in people] for s in sums])
    chosen = assign_to_people(similarity, np.array([sizes[p] for p in people]), eps=eps, cap=cap)
    for i, c in zip(usable, chosen.tolist()):
        out[i] = people[c] if c >= 0 else None
    return out


def _remove(blob_name: str, image_id: uuid.UUID | None, reason: str, why: str) -> IngestResult:
    """Delete a blob nobody may see (and the thumbnails a run may have written for it)."""
    log.warning("deleting blob %r: %s", blob_name, why)
    storage.delete_photo(blob_name, image_id)
    return IngestResult("skipped", image_id, reason=reason)


def _correct_budgets(conn: psycopg.Connection, arrival: store.Arrival, event_id: int, size_bytes: int) -> None:
    """Charge a guest's upload its real size: the link's and the event's byte budgets get the
    difference from what they were charged (``arrival.charged_bytes``), in the windows the
    charge was taken in (``kanta.caps.adjust``)."""
    change = size_bytes - (arrival.charged_bytes or 0)
    if change:
        caps.adjust(conn, caps.LINK_BYTES, arrival.guest_link_id, change, arrival.issued_at)
        caps.adjust(conn, caps.EVENT_BYTES, event_id, change, arrival.issued_at)


def _store_failure(record: store.ImageRecord, event_code: str, properties: BlobProperties, code: str, reason: str
                   ) -> IngestResult:
    """Mark the photo failed with ``code`` and ``reason`` (words), and delete the refused
    blob: nobody can ever see it, and it must not stay on the host's bill."""
    log.warning("image %s failed: %s (%s)", record.blob_name, reason, code)
    storage.delete_thumbnails(storage.thumbnail_prefix(event_code, record.image_id))
    with connection() as conn:
        current = store.lock_for_result(conn, record.image_id, record.event_id, properties.last_modified)
        if current is not None:
            store.save_failure(conn, record, code, reason)
    if current is None:
        return _remove(record.blob_name, record.image_id, SKIP_DELETED, "the photo was deleted")
    # After the row says why: a run that dies here leaves the blob to the next delivery or
    # the sweep of unclaimed uploads, never a row without its reason.
    storage.delete_version(record.blob_name, properties.etag)
    return IngestResult("failed", record.image_id, reason=reason)
