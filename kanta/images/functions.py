"""Triggers of the images domain: upload URLs, listing, detail, deletion, re-indexing (HTTP,
function key), the blob trigger that indexes every blob written to the uploads container,
and one timer per lifecycle job: expiring uploads that never came, re-driving photos no run
indexed, purging old tombstones, sweeping blobs no accepted photo claims."""

from __future__ import annotations

import logging
from uuid import UUID

import azure.functions as func

# The blob trigger's SDK-type binding: the host hands the function a BlobClient, not the
# blob's bytes, so a blob's size is checked before it is downloaded.
from azurefunctions.extensions.bindings import blob

from kanta.config import STORAGE_CONNECTION, UPLOADS_CONTAINER, get_settings
from kanta.events.schemas import EventCode
from kanta.http import api, json_response, no_content, parse_json, parse_query, route_uuid
from kanta.images import ingest, service
from kanta.images.schemas import ImageDetail, ImageList, ImageListQuery, UploadBatch, UploadRequest
from kanta.openapi import operation

log = logging.getLogger(__name__)

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("create_uploads")
@bp.route(route="events/{code}/uploads", methods=["POST"])
@operation(summary="Upload URLs for photos", tag="images", path={"code": EventCode}, body=UploadRequest,
           responses={201: UploadBatch}, errors=("event_not_found",))
@api
def create_uploads(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/uploads`` ``{files: [{filename, content_type, size_bytes?}]}``
    (1–50) → 201 ``{uploads: [ticket]}``, one write-only SAS URL per image; 404; 413; 422 (also a
    file declared over the size limit)."""
    tickets = service.create_uploads(req.route_params["code"], parse_json(req, UploadRequest))
    return json_response(UploadBatch(uploads=tickets), 201)


@bp.function_name("list_images")
@bp.route(route="events/{code}/images", methods=["GET"])
@operation(summary="List an event's photos", tag="images", path={"code": EventCode}, query=ImageListQuery,
           responses={200: ImageList}, errors=("event_not_found",))
@api
def list_images(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}/images?limit&offset&cluster_id&min_faces&max_faces&status``
    → ``{items, next_offset}``; 404; 422."""
    return json_response(service.list_images(req.route_params["code"], parse_query(req, ImageListQuery)))


@bp.function_name("get_image")
@bp.route(route="images/{image_id}", methods=["GET"])
@operation(summary="Get a photo and its faces", tag="images", path={"image_id": UUID}, responses={200: ImageDetail},
           errors=("image_not_found",))
@api
def get_image(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/images/{image_id}`` → image with its faces; 404 ``image_not_found``."""
    return json_response(service.get_image(route_uuid(req, "image_id", "image")))


@bp.function_name("delete_image")
@bp.route(route="images/{image_id}", methods=["DELETE"])
@operation(summary="Delete a photo, its faces and thumbnails", tag="images", path={"image_id": UUID},
           responses={204: None}, errors=("image_not_found",))
@api
def delete_image(req: func.HttpRequest) -> func.HttpResponse:
    """``DELETE /api/images/{image_id}`` → 204 (blob, row and faces); 404."""
    service.delete_image(route_uuid(req, "image_id", "image"))
    return no_content()


@bp.function_name("reindex_image")
@bp.route(route="images/{image_id}/reindex", methods=["POST"])
@operation(summary="Index a photo again now", tag="images", path={"image_id": UUID}, responses={200: ImageDetail},
           errors=("image_not_found", "image_not_uploaded", "image_changed"))
@api
def reindex_image(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/images/{image_id}/reindex`` → the image, indexed again from its stored blob
    now (even if unchanged); 404; 409 ``image_not_uploaded`` when it has no blob yet."""
    return json_response(service.reindex_image(route_uuid(req, "image_id", "image")))


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
