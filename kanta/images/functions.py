"""Triggers of the images domain: upload URLs, listing, detail, deletion, re-indexing (HTTP,
function key), the blob trigger that indexes every blob written to the uploads container,
and one timer per lifecycle job: expiring uploads that never came, re-driving photos no run
indexed, purging old tombstones, sweeping blobs no accepted photo claims."""

from __future__ import annotations

import functools
import logging
from uuid import UUID

import azure.functions as func

# The blob trigger's SDK-type binding: the host hands the function a BlobClient, not the
# blob's bytes, so a blob's size is checked before it is downloaded.
from azurefunctions.extensions.bindings import blob

from kanta.config import STORAGE_CONNECTION, UPLOADS_CONTAINER, get_settings
from kanta.endpoints import endpoint
from kanta.images import ingest, service
from kanta.images.schemas import ImageDetail, ImageList, ImageListQuery, UploadBatch, UploadRequest
from kanta.validation import EventCode

log = logging.getLogger(__name__)

bp = func.Blueprint()
images = functools.partial(endpoint, bp, tag="images")


@images("create_uploads", "POST", "events/{code}/uploads", summary="Upload URLs for photos",
        responses={201: UploadBatch}, errors=("event_not_found",))
def create_uploads(code: EventCode, body: UploadRequest) -> UploadBatch:
    """One write-only SAS URL per photo (1-50 a request); a file declared over the size limit
    is refused."""
    return UploadBatch(uploads=service.create_uploads(code, body))


@images("list_images", "GET", "events/{code}/images", summary="List an event's photos", responses={200: ImageList},
        errors=("event_not_found",))
def list_images(code: EventCode, query: ImageListQuery) -> ImageList:
    """One page of the event's photos, filtered by person, face count or status."""
    return service.list_images(code, query)


@images("get_image", "GET", "images/{image_id}", summary="Get a photo and its faces", responses={200: ImageDetail},
        errors=("image_not_found",))
def get_image(image_id: UUID) -> ImageDetail:
    """The photo with its faces."""
    return service.get_image(image_id)


@images("delete_image", "DELETE", "images/{image_id}", summary="Delete a photo, its faces and thumbnails",
        responses={204: None}, errors=("image_not_found",))
def delete_image(image_id: UUID) -> None:
    """Delete the photo: its blob, row and faces."""
    service.delete_image(image_id)


@images("reindex_image", "POST", "images/{image_id}/reindex", summary="Index a photo again now",
        responses={200: ImageDetail}, errors=("image_not_found", "image_not_uploaded", "image_changed"))
def reindex_image(image_id: UUID) -> ImageDetail:
    """Index the photo again from its stored blob now, even if it is unchanged."""
    return service.reindex_image(image_id)


_BLOB_SOURCE = {
    "EventGrid": func.BlobSource.EVENT_GRID,
    "LogsAndContainerScan": func.BlobSource.LOGS_AND_CONTAINER_SCAN,
}


@bp.function_name("encode_uploaded_image")
@bp.blob_trigger(
    arg_name="client",
    path=UPLOADS_CONTAINER + "/{event_code}/{name}",
    connection=STORAGE_CONNECTION,
    source=_BLOB_SOURCE[get_settings().blob_trigger_source],
)
def encode_uploaded_image(client: blob.BlobClient) -> None:
    """Blob trigger: index ``uploads/{event_code}/{name}`` (see ``kanta.images.ingest``). The
    host passes an ``azure.storage.blob.BlobClient`` for the blob (SDK-type binding); the
    bytes are downloaded only after the blob's size passed the limit.

    Returns normally for bad images (marked failed), unknown events and deleted photos (the
    blob is deleted); raises on database and storage errors so the host retries, up to
    ``poisonBlobThreshold`` times (then ``redrive_uploads_timer`` takes over).
    """
    ingest.ingest_blob(client)


@bp.function_name("expire_uploads_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 */10 * * * *", run_on_startup=False)
def expire_uploads_timer(timer: func.TimerRequest) -> None:
    """Timer, every 10 minutes: mark ``failed`` ``not_uploaded`` the images whose blob never
    came (``kanta.images.service.expire_stale_uploads``). Database errors raise; the next
    run tries again."""
    expired = service.expire_stale_uploads()
    if expired:
        log.info("marked %d upload(s) that never came failed", expired)


@bp.function_name("redrive_uploads_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 */2 * * * *", run_on_startup=False)
def redrive_uploads_timer(timer: func.TimerRequest) -> None:
    """Timer, every 2 minutes: index the photos whose blob came but that no run indexed
    (``kanta.images.service.redrive_uploads``), with backoff. Database errors raise; the next
    run tries again."""
    service.redrive_uploads()


@bp.function_name("reindex_outdated_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 20 * * * *", run_on_startup=False)
def reindex_outdated_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly at :20: index again, within a budget, photos an older pipeline indexed
    (``kanta.images.service.reindex_outdated``), so they get the current detector's faces
    while their people keep their ids. Database errors raise; the next run tries again."""
    done = service.reindex_outdated()
    if done:
        log.info("re-indexed %d photo(s) of an older pipeline", done)


@bp.function_name("purge_tombstones_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 30 * * * *", run_on_startup=False)
def purge_tombstones_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly: forget the blob names of photos deleted over a day ago, removing any
    blob or thumbnail of theirs still in storage first (``kanta.images.service.purge_tombstones``)."""
    purged = service.purge_tombstones()
    if purged:
        log.info("purged %d tombstone(s) of deleted photos", purged)


@bp.function_name("sweep_uploads_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 40 3 * * *", run_on_startup=False)
def sweep_uploads_timer(timer: func.TimerRequest) -> None:
    """Timer, daily at 03:40: delete the blobs of the uploads container that no accepted
    photo claims a day after their last write, snapshots included
    (``kanta.images.service.sweep_unclaimed_uploads``, which logs what went). Database and
    storage errors raise; the next run tries again."""
    service.sweep_unclaimed_uploads()
