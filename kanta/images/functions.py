"""Triggers of the images domain: upload URLs, listing, detail, deletion (HTTP, function
key) and the blob trigger that indexes every blob written to the uploads container."""

from __future__ import annotations

import azure.functions as func

from kanta.config import STORAGE_CONNECTION, UPLOADS_CONTAINER, get_settings
from kanta.http import api, json_response, no_content, parse_json, parse_query, route_uuid
from kanta.images import ingest, service
from kanta.images.schemas import ImageListQuery, UploadBatch, UploadRequest

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


@bp.function_name("create_uploads")
@bp.route(route="events/{code}/uploads", methods=["POST"])
@api
def create_uploads(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/uploads`` ``{files: [{filename, content_type}]}`` (1–50)
    → 201 ``{uploads: [ticket]}``, one write-only SAS URL per image; 404; 413; 422."""
    tickets = service.create_uploads(req.route_params["code"], parse_json(req, UploadRequest))
    return json_response(UploadBatch(uploads=tickets), 201)


@bp.function_name("list_images")
@bp.route(route="events/{code}/images", methods=["GET"])
@api
def list_images(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}/images?limit&offset&cluster_id&min_faces&max_faces&status``
    → ``{items, next_offset}``; 404; 422."""
    return json_response(service.list_images(req.route_params["code"], parse_query(req, ImageListQuery)))


@bp.function_name("get_image")
@bp.route(route="images/{image_id}", methods=["GET"])
@api
def get_image(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/images/{image_id}`` → image with its faces; 404 ``image_not_found``."""
    return json_response(service.get_image(route_uuid(req, "image_id", "image")))


@bp.function_name("delete_image")
@bp.route(route="images/{image_id}", methods=["DELETE"])
@api
def delete_image(req: func.HttpRequest) -> func.HttpResponse:
    """``DELETE /api/images/{image_id}`` → 204 (blob, row and faces); 404."""
    service.delete_image(route_uuid(req, "image_id", "image"))
    return no_content()


_BLOB_SOURCE = {
    "EventGrid": func.BlobSource.EVENT_GRID,
    "LogsAndContainerScan": func.BlobSource.LOGS_AND_CONTAINER_SCAN,
}


@bp.function_name("encode_uploaded_image")
@bp.blob_trigger(
    arg_name="blob",
    path=UPLOADS_CONTAINER + "/{event_code}/{name}",
    connection=STORAGE_CONNECTION,
    source=_BLOB_SOURCE[get_settings().blob_trigger_source],
)
def encode_uploaded_image(blob: func.InputStream) -> None:
    """Blob trigger: index ``uploads/{event_code}/{name}`` (see ``kanta.images.ingest``).

    Returns normally for bad images (marked failed) and unknown events (logged); raises on
    database errors so the host retries, up to ``poisonBlobThreshold`` times.
    """
    ingest.ingest_blob(blob.name.removeprefix(UPLOADS_CONTAINER + "/"), blob.read())
