"""Images logic: upload tickets, listing, detail, deletion and re-indexing (the HTTP API),
and the lifecycle jobs the timers run: expiring uploads that never came, re-driving photos
no run indexed, purging old tombstones, sweeping upload blobs no accepted photo claims."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from azure.core.exceptions import ResourceNotFoundError

from kanta import storage
from kanta.caps import size_in_words
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import Conflict, Invalid, not_found
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
from kanta.store import images as store
from kanta.store.events import get_event_id

log = logging.getLogger(__name__)


def check_declared_sizes(body: UploadRequest) -> None:
    """Refuse an upload request that declares a file over ``KANTA_MAX_IMAGE_BYTES``, before
    any URL is made or anything is counted. Raises ``Invalid`` ``validation_error`` with one
    ``{field, message, type: "too_large"}`` per such file."""
    limit = get_settings().max_image_bytes
    details = [{"field": f"files.{i}.size_bytes", "type": "too_large",
                "message": f"{f.filename} is {size_in_words(f.size_bytes)}; a photo may be at most "
                           f"{size_in_words(limit)}."}
               for i, f in enumerate(body.files) if f.size_bytes is not None and f.size_bytes > limit]
    if details:
        raise Invalid("validation_error", "The request body is invalid; see details.", details)


def create_uploads(event_code: str, body: UploadRequest, *, guest_link_id: int | None = None,
                   conn: psycopg.Connection | None = None) -> list[UploadTicket]:
    """Create one pending image per file and a write-only SAS URL for its blob. Each image
    keeps its declared size (``size_bytes``; a larger blob is refused when it arrives) and,
    for a guest's request, the link that asked (``guest_link_id``) and the bytes charged to
    its budgets (the declared size, corrected when the blob arrives: ``kanta.images.ingest``).
    ``conn``: the transaction to write in (the guest's, which charged the budgets), else one
    of its own.

    Raises ``NotFound`` for an unknown event and ``Invalid`` ``validation_error`` for a file
    declared over ``KANTA_MAX_IMAGE_BYTES`` (``check_declared_sizes``).
    """
    check_declared_sizes(body)
    if conn is None:
        with connection() as own:
            return create_uploads(event_code, body, guest_link_id=guest_link_id, conn=own)
    settings = get_settings()
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.upload_url_ttl_s)
    tickets = []
    event_id = get_event_id(conn, event_code)
    rows = []
    for f in body.files:
        image_id = uuid.uuid4()
        blob_name = storage.blob_name_for(event_code, image_id, CONTENT_TYPE_EXTENSIONS[f.content_type])
        rows.append(store.PendingImage(image_id, blob_name, f.filename, f.content_type, f.size_bytes,
                                       guest_link_id))
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
    expires_at = storage.read_url_expiry()
    items = [Image.model_validate(_image(r, expires_at)) for r in rows[: query.limit]]
    next_offset = query.offset + query.limit if len(rows) > query.limit else None
    return ImageList(items=items, next_offset=next_offset)


def _image(row: Mapping[str, Any], expires_at: dt.datetime) -> dict[str, Any]:
    return {**row, "url": storage.photo_url(row, expires_at)}


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
    expires_at = storage.read_url_expiry()
    return ImageDetail.model_validate(
        {
            **_image(row, expires_at),
            "faces": [
                FaceOut(
                    face_id=f["face_id"], bbox=store.bbox(f), cluster_id=f["cluster_id"],
                    excluded_reason=f["excluded_reason"], detector=f["detector"], angle=f["angle"],
                    score=f["score"], sharpness=f["sharpness"], yaw=f["yaw"], roll=f["roll"],
                    thumbnail_url=storage.face_thumbnail_url(f, expires_at),
                )
                for f in faces
            ],
        }
    )


def delete_image(image_id: uuid.UUID) -> None:
    """Delete an image: its row and faces, leaving a tombstone for its blob name, then its
    blob and thumbnails. Raises ``NotFound``.

    The row goes first, in one transaction with the tombstone: from then on no indexing run
    can bring the photo back (``kanta.images.ingest``), and a blob or thumbnail that appears
    later is removed by whoever writes it, or by ``purge_tombstones`` at the latest.
    """
    with connection() as conn:
        deleted = store.delete_image(conn, image_id)
    if deleted is None:
        raise not_found("image", image_id)
    storage.delete_photo(deleted["blob_name"], deleted["image_id"])


def reindex_image(image_id: uuid.UUID) -> ImageDetail:
    """Index the image's stored blob again now, even if its bytes were indexed already, and
    return the image. Its faces get new ids; a face found where the photo had one keeps that
    face's person and the host's corrections of it.

    Raises ``NotFound`` (also when the photo is deleted meanwhile) and ``Conflict``
    ``image_not_uploaded`` when its blob is not in storage (not yet, or refused and deleted).
    """
    from kanta.images import ingest

    with connection() as conn:
        row = _find_image(conn, image_id)
    blob = storage.uploads_blob(row["blob_name"])
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        raise Conflict("image_not_uploaded", "The photo's file is not in storage (not uploaded yet, or refused and "
                                             "removed), so there is nothing to index.") from None
    result = ingest.ingest_blob(blob, force=True, properties=properties)
    if result.status == "skipped" and result.reason in (ingest.SKIP_BLOB_GONE, ingest.SKIP_BLOB_CHANGED):
        raise Conflict("image_changed", "The photo was replaced or removed while it was read; try again.")
    return get_image(image_id)


def expire_stale_uploads() -> int:
    """Mark failed ``not_uploaded`` the images whose blob never came:
    ``KANTA_UPLOAD_URL_TTL_S`` + ``store.UPLOAD_GRACE_S`` seconds after their upload URL was
    issued they are still unfinished and their blob is not in storage. (An unfinished image
    whose blob is there is the re-drive job's: ``redrive_uploads``.) Returns how many were marked.

    Raises ``psycopg.OperationalError`` when the database is unreachable.
    """
    older_than = get_settings().upload_url_ttl_s + store.UPLOAD_GRACE_S
    with connection() as conn:
        stale = store.stale_unfinished(conn, older_than, INDEXING_LEASE_S)
    missing = [r["id"] for r in stale if not storage.blob_exists(r["blob_name"])]
    if not missing:
        return 0
    with connection() as conn:
        # Only those still unfinished: a run may have indexed some meanwhile.
        return store.fail_unfinished(conn, missing, "not_uploaded", "No photo arrived before the upload URL expired.")


# Re-drive: a photo whose blob is in storage but that no run indexed (the database was down
# through all of the blob trigger's tries, whose message then went to the poison queue; the
# worker died mid-run) is indexed by the re-drive job, with backoff, once it can be.

#: Seconds a blob may wait for its blob trigger run before the re-drive job indexes it: the
#: trigger normally starts within seconds (Event Grid), and its tries (``poisonBlobThreshold``
#: 5, each waiting up to the pool timeout) are over within a minute or two. Indexing a photo
#: twice is harmless (the later run finds the same bytes and changes nothing); never
#: indexing it is not.
REDRIVE_AFTER_S = 120
#: Seconds after which an ``indexing`` run is dead: ``functionTimeout`` in host.json (10 min)
#: ends any run by then. A re-drive attempt that failed leaves its own run looking alive
#: this long too, so attempts are at least this far apart.
INDEXING_LEASE_S = 600
#: Wait after the first re-drive attempt, doubling after each further one, at most
#: ``REDRIVE_BACKOFF_MAX_S`` (and at least ``INDEXING_LEASE_S``): 10, 10, 10, 16, 32, 60, 60
#: minutes between the 8 attempts, about three hours of trying before a photo is given up.
#: An outage does not use attempts up: the job counts one only once it reached the database.
REDRIVE_BACKOFF_S = 120
REDRIVE_BACKOFF_MAX_S = 3600
#: Attempts before a photo is given up as ``failed`` ``not_indexed`` (a photo that crashes
#: or times out every run, say).
MAX_REDRIVE_ATTEMPTS = 8
#: Images one run looks at, and seconds after which it starts no more indexing (the timer
#: fires every 2 minutes; the host does not start a run while the last one goes on).
REDRIVE_BATCH = 200
REDRIVE_BUDGET_S = 300


@dataclass
class RedriveReport:
    """What one ``redrive_uploads`` run did: photos it indexed (``processed`` or ``failed``
    by their bytes), gave up on (``not_indexed``), and found still waiting for their blob."""

    indexed: int = 0
    given_up: int = 0
    waiting: int = 0
    errors: int = 0


def redrive_uploads() -> RedriveReport:
    """Index the unfinished photos whose blob is in storage but that no run indexed: those
    ``pending`` over ``REDRIVE_AFTER_S`` seconds after their blob was written, and those
    ``indexing`` by a run that started over ``INDEXING_LEASE_S`` seconds ago; each attempt
    is recorded first (``redrive_attempts``, ``next_redrive_at`` with exponential backoff),
    so a photo that kills its run is not retried at once; after ``MAX_REDRIVE_ATTEMPTS`` it
    is marked ``failed`` ``not_indexed``.

    Raises ``psycopg.OperationalError`` when the database is unreachable (the next run tries
    again; nothing was counted). Any other error on one photo is logged and the run goes on.
    """
    from kanta.images import ingest

    deadline = time.monotonic() + REDRIVE_BUDGET_S
    report = RedriveReport()
    with connection() as conn:
        candidates = store.redrive_candidates(conn, pending_after_s=REDRIVE_AFTER_S, lease_s=INDEXING_LEASE_S,
                                              limit=REDRIVE_BATCH)
    for image in candidates:
        if time.monotonic() > deadline:
            break
        blob = storage.uploads_blob(image["blob_name"])
        try:
            properties = blob.get_blob_properties()
        except ResourceNotFoundError:
            # Not uploaded (yet): expire_stale_uploads fails it once its URL is long expired.
            with connection() as conn:
                store.defer_redrive(conn, image["id"], REDRIVE_AFTER_S)
            report.waiting += 1
            continue
        fresh_for = REDRIVE_AFTER_S - (dt.datetime.now(dt.UTC) - properties.last_modified).total_seconds()
        if image["status"] == "pending" and fresh_for > 0:
            # Just uploaded: its blob trigger run is due first.
            with connection() as conn:
                store.defer_redrive(conn, image["id"], fresh_for)
            report.waiting += 1
            continue
        with connection() as conn:
            before = store.claim_redrive(conn, image["id"], lease_s=INDEXING_LEASE_S, backoff_s=REDRIVE_BACKOFF_S,
                                         backoff_max_s=REDRIVE_BACKOFF_MAX_S)
            if before is not None and before >= MAX_REDRIVE_ATTEMPTS:
                store.fail_unfinished(conn, [image["id"]], "not_indexed",
                                      "The photo arrived but could not be indexed; upload it again.")
                report.given_up += 1
                continue
        if before is None:
            continue  # finished, or taken up by a live run, meanwhile
        try:
            result = ingest.ingest_blob(blob, properties=properties)
        except psycopg.OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - one photo must not stop the others
            # One line: the attempt is counted, the photo comes back after its backoff.
            log.warning("re-drive of %s failed (attempt %d): %s: %s", image["blob_name"], before + 1,
                        type(exc).__name__, exc)
            report.errors += 1
            continue
        if result.status != "skipped":
            report.indexed += 1
    if report.indexed or report.given_up:
        log.info("re-drive: %d photo(s) indexed, %d given up, %d waiting for their blob, %d error(s)",
                 report.indexed, report.given_up, report.waiting, report.errors)
    return report


#: Seconds a tombstone is kept: longer than an upload URL lives (``KANTA_UPLOAD_URL_TTL_S``,
#: 15 minutes by default) plus the blob trigger's retries, and than Event Grid retries a
#: delivery (24 hours).
TOMBSTONE_RETENTION_S = 86_400
#: Tombstones one run purges (each costs two storage calls).
PURGE_BATCH = 1000


def purge_tombstones() -> int:
    """Forget tombstones older than ``TOMBSTONE_RETENTION_S`` (or twice an upload URL's
    lifetime and grace, if longer), after deleting whatever blob or thumbnails of their
    photo are still in storage (a delete whose storage calls failed, a run that died after
    writing thumbnails), unless the name was uploaded again since by another client.
    At most ``PURGE_BATCH`` per run; returns how many went.

    Raises ``psycopg.OperationalError`` and ``azure.core.exceptions.AzureError`` (the next
    run tries again: nothing is forgotten before its blobs are gone).
    """
    keep_s = max(TOMBSTONE_RETENTION_S, 2 * (get_settings().upload_url_ttl_s + store.UPLOAD_GRACE_S))
    with connection() as conn:
        old = store.old_tombstones(conn, keep_s, PURGE_BATCH)
    for tombstone in old:
        if tombstone["reused"]:
            continue  # uploaded again since: the blob and thumbnails are the new image's
        storage.delete_photo(tombstone["blob_name"], tombstone["image_id"])
    if not old:
        return 0
    with connection() as conn:
        return store.forget_tombstones(conn, old)


#: Photos the re-index timer takes per run, and seconds it may spend (a run must end well
#: within the 10-minute function timeout; about 1-2 s a photo).
REINDEX_BATCH = 100
REINDEX_BUDGET_S = 240


def reindex_outdated(batch: int = REINDEX_BATCH, budget_s: float = REINDEX_BUDGET_S) -> int:
    """Index again, oldest first, up to ``batch`` processed photos that an older pipeline
    indexed (``images.pipeline`` other than ``kanta.faces.PIPELINE``), for at most
    ``budget_s`` seconds; returns how many. Each photo is one ``ingest_blob`` run, so a run
    that dies loses nothing: the photo keeps its old faces and is taken again next time. A
    face found where the photo had one keeps its person and corrections (``ingest_blob``).
    A photo whose blob is gone or changed is left to the blob trigger and the re-drive job.

    Raises ``psycopg.OperationalError`` when the database is unreachable.
    """
    from kanta.faces import PIPELINE
    from kanta.images import ingest

    deadline = time.monotonic() + budget_s
    done = 0
    with connection() as conn:
        outdated = store.outdated_images(conn, PIPELINE, batch)
    for image in outdated:
        if time.monotonic() > deadline:
            break
        try:
            # Not forced: a photo another instance moved meanwhile is "unchanged" and skipped.
            result = ingest.ingest_blob(storage.uploads_blob(image["blob_name"]))
        except psycopg.OperationalError:
            raise
        except Exception:  # one photo must not stop the others: it is taken again next run
            log.exception("re-indexing %s failed", image["blob_name"])
            continue
        done += result.status != "skipped" and result.reason != ingest.UNCHANGED
    return done


#: Seconds after its last write from which a blob of the uploads container that no accepted
#: photo claims is deleted: past the blob trigger's tries and Event Grid's retries of a
#: delivery (24 hours), so no run can still be due on it.
UNCLAIMED_AFTER_S = 86_400
#: Blob names listed and checked against the database at once (one list call, one query).
SWEEP_PAGE = 500
#: Seconds a sweep may go on listing (a run must end well within the 10-minute function
#: timeout); what it did not reach waits for the next day's run.
SWEEP_BUDGET_S = 300


@dataclass
class SweepReport:
    """What one ``sweep_unclaimed_uploads`` run did: blobs it listed, blobs it deleted and
    their bytes (snapshots not counted), old unclaimed blobs it kept because they were written
    again after the listing, and whether it listed the whole container within its budget."""

    listed: int = 0
    deleted: int = 0
    deleted_bytes: int = 0
    rewritten: int = 0
    complete: bool = True


def sweep_unclaimed_uploads(now: dt.datetime | None = None, budget_s: float = SWEEP_BUDGET_S) -> SweepReport:
    """Delete, with their snapshots, the blobs of the uploads container that no accepted photo
    claims a day on. The rule: a blob last modified more than ``UNCLAIMED_AFTER_S`` seconds
    before ``now`` (timezone-aware; default: the current time) is deleted when no images row
    has its name (``blob_name``), or its row is ``failed``. Rows ``pending`` and ``indexing``
    (the re-drive job's, ``redrive_uploads``) and ``processed`` keep their blob.

    A second line: the blob trigger deletes the blob of a refused upload, of an unknown event
    and of a deleted photo, ``delete_image`` and ``purge_tombstones`` those of deleted photos,
    an event's delete its prefix. This removes what a failed storage call, a run that died or
    a write outside any upload ticket left. The container is listed in pages of
    ``SWEEP_PAGE`` names, each page checked in one query (``store.claimed_blobs``), for at
    most ``budget_s`` seconds; the count and bytes deleted are logged.

    Why a blob found unclaimed does not become claimed before its delete: upload tickets make
    rows only for new names, so a row appears for an existing blob only when a run indexes a
    write of it, and a run on a day-old write no longer comes (see ``UNCLAIMED_AFTER_S``); a
    ``failed`` row never becomes ``pending`` or ``indexing`` again (``store.start_indexing``),
    so it becomes ``processed`` only through a run on a new write of the blob. A new write,
    and the sealing of a photo a run accepted, change the blob's ETag, and the delete is
    conditional on the ETag listed (``If-Match``): a blob written after the listing is kept
    (``SweepReport.rewritten``). Not covered: a host's ``POST images/{id}/reindex`` of a
    day-old ``failed`` photo that reads the blob before the delete and writes ``processed``
    after it; the photo is then listed without its blob.

    Raises ``psycopg.OperationalError`` when the database is unreachable and
    ``azure.core.exceptions.AzureError`` when storage is (the next run tries again; what was
    deleted stays deleted, and nothing claimed is deleted).
    """
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=UNCLAIMED_AFTER_S)
    deadline = time.monotonic() + budget_s
    report = SweepReport()
    container = storage.uploads_container()
    for page in container.list_blobs(results_per_page=SWEEP_PAGE).by_page():
        if time.monotonic() > deadline:
            report.complete = False
            break
        blobs = list(page)
        report.listed += len(blobs)
        old = [b for b in blobs if b.last_modified < cutoff]
        if not old:
            continue
        with connection() as conn:
            claimed = store.claimed_blobs(conn, [b.name for b in old])
        for blob in old:
            if blob.name in claimed:
                continue
            # Gone meanwhile: a run, a photo's or an event's delete. Written again since it
            # was listed: its run decides.
            outcome = storage.delete_version(blob.name, blob.etag)
            report.rewritten += outcome == "rewritten"
            if outcome == "deleted":
                report.deleted += 1
                report.deleted_bytes += blob.size
    if report.deleted or report.rewritten or not report.complete:
        log.info("upload sweep: %d unclaimed blob(s) deleted (%d bytes) of %d listed, %d written again meanwhile%s",
                 report.deleted, report.deleted_bytes, report.listed, report.rewritten,
                 "" if report.complete else "; out of time, the rest waits for the next run")
    return report
