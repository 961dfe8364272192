"""Triggers of guest links: the host's routes that make, show and revoke an event's guest link
(function key), the guest routes (anonymous at the host, authorised by the link's token in
``Authorization: Bearer``), and the timer that deletes old abuse counters. Logic lives in
``service``."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit
from uuid import UUID

import azure.functions as func

from kanta import caps
from kanta.events.schemas import EventCode
from kanta.guests import service, tokens
from kanta.guests.schemas import (
    GuestEvent,
    GuestForgetQuery,
    GuestGallery,
    GuestImagesQuery,
    GuestLink,
    GuestLinkCreate,
    GuestLinkCreated,
    GuestSearchQuery,
    GuestSearchResult,
    GuestUploadStatus,
)
from kanta.http import api, json_response, no_content, parse_json, parse_query, route_uuid
from kanta.images.schemas import GuestUploadRequest, UploadBatch
from kanta.openapi import IMAGE_BODY, operation
from kanta.privacy.schemas import ForgetResult

log = logging.getLogger(__name__)

bp = func.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)

#: Guest routes skip the host's key check: the token is checked by ``service.authorize``.
GUEST = func.AuthLevel.ANONYMOUS
#: What every guest route may answer before it looks at the request itself.
_GUEST_ERRORS = ("guest_token_invalid", "event_not_found")
#: What a selfie may be refused with (``kanta.search.service.search_selfie``).
_SELFIE_ERRORS = ("payload_too_large", "invalid_image", "no_face", "face_unusable")
#: Route parameters, for the OpenAPI document.
_CODE = {"code": EventCode}


def _guest(req: func.HttpRequest) -> service.Guest:
    """The guest the request's bearer token authorises for the route's event (first, before
    the request is read: a caller without a valid token learns nothing more)."""
    return service.authorize(req.route_params["code"], tokens.bearer_token(req.headers.get("authorization")))


def _origin(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


# --------------------------------------------------------------------------- host


@bp.function_name("create_guest_link")
@bp.route(route="events/{code}/guest-link", methods=["POST"])
@operation(summary="Create or rotate the event's guest link", tag="guests", auth="function", path=_CODE,
           body=GuestLinkCreate, responses={201: GuestLinkCreated}, errors=("event_not_found",))
@api
def create_guest_link(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/events/{code}/guest-link`` ``{expires_at?, rights?: {upload, find_me, gallery}}``
    → 201 ``{token, join_url, expires_at, created_at, rights, qr_svg, qr_png}``, replacing any
    link the event had; 404 ``event_not_found``; 422."""
    link = service.create_link(req.route_params["code"], parse_json(req, GuestLinkCreate), _origin(req))
    response = json_response(link, 201)
    # The token is shown once: no cache along the way may keep it (as RFC 6749 §5.1 asks of tokens).
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.function_name("get_guest_link")
@bp.route(route="events/{code}/guest-link", methods=["GET"])
@operation(summary="Show the event's guest link (without its token)", tag="guests", auth="function", path=_CODE,
           responses={200: GuestLink}, errors=("event_not_found", "guest_link_not_found"))
@api
def get_guest_link(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/events/{code}/guest-link`` → ``{rights, expires_at, created_at, expired}``;
    404 ``event_not_found`` / ``guest_link_not_found``."""
    return json_response(service.get_link(req.route_params["code"]))


@bp.function_name("delete_guest_link")
@bp.route(route="events/{code}/guest-link", methods=["DELETE"])
@operation(summary="Revoke the event's guest link", tag="guests", auth="function", path=_CODE,
           responses={204: None}, errors=("event_not_found", "guest_link_not_found"))
@api
def delete_guest_link(req: func.HttpRequest) -> func.HttpResponse:
    """``DELETE /api/events/{code}/guest-link`` → 204, the token stops working at once; 404."""
    service.delete_link(req.route_params["code"])
    return no_content()


# --------------------------------------------------------------------------- guests


@bp.function_name("guest_event")
@bp.route(route="guest/events/{code}", methods=["GET"], auth_level=GUEST)
@operation(summary="The event as its guests see it", tag="guests", auth="guest", path=_CODE,
           responses={200: GuestEvent}, errors=_GUEST_ERRORS)
@api
def guest_event(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/guest/events/{code}`` → ``{code, name, description, starts_at, ends_at, rights,
    link_expires_at, face_search, consent_text, privacy}``; 401 ``guest_token_invalid``; 404."""
    return json_response(service.event_details(_guest(req)))


@bp.function_name("guest_create_uploads")
@bp.route(route="guest/events/{code}/uploads", methods=["POST"], auth_level=GUEST)
@operation(summary="Upload URLs for a guest's photos", tag="guests", auth="guest", path=_CODE,
           body=GuestUploadRequest, responses={201: UploadBatch},
           errors=(*_GUEST_ERRORS, "right_withheld", "too_many_requests"))
@api
def guest_create_uploads(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/guest/events/{code}/uploads`` ``{files: [{filename, content_type, size_bytes}]}``
    (1–50) → 201 ``{uploads: [ticket]}`` as for the host; 401; 403 ``right_withheld``; 404; 413;
    422 (also a file over the size limit); 429 ``too_many_requests`` (files or bytes over the
    link's or the event's budget)."""
    guest = _guest(req)
    tickets = service.create_uploads(guest, parse_json(req, GuestUploadRequest))
    return json_response(UploadBatch(uploads=tickets), 201)


@bp.function_name("guest_upload_status")
@bp.route(route="guest/events/{code}/uploads/{image_id}", methods=["GET"], auth_level=GUEST)
@operation(summary="Indexing status of a guest's upload", tag="guests", auth="guest",
           path={**_CODE, "image_id": UUID}, responses={200: GuestUploadStatus},
           errors=(*_GUEST_ERRORS, "right_withheld", "image_not_found"))
@api
def guest_upload_status(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/guest/events/{code}/uploads/{image_id}`` → ``{image_id, status, failure_code,
    failure_reason}``; 401; 403; 404 ``image_not_found``."""
    guest = _guest(req)
    return json_response(service.upload_status(guest, route_uuid(req, "image_id", "image")))


@bp.function_name("guest_search")
@bp.route(route="guest/events/{code}/search", methods=["POST"], auth_level=GUEST)
@operation(summary="Find my photos with a selfie", tag="guests", auth="guest", path=_CODE, query=GuestSearchQuery,
           body=IMAGE_BODY, responses={200: GuestSearchResult},
           errors=(*_GUEST_ERRORS, "right_withheld", "face_search_off", "retention_over", "consent_required",
                   "too_many_requests", *_SELFIE_ERRORS))
@api
def guest_search(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/guest/events/{code}/search?consent=true`` with the selfie's bytes →
    ``{photos: [{image_id, url, thumbnail_url, bbox}], urls_expire_at, reason, message}``; 401;
    403; 404; 409 ``face_search_off`` / ``retention_over``; 413; 422 ``consent_required`` /
    ``no_face`` / …; 429."""
    guest = _guest(req)
    query = parse_query(req, GuestSearchQuery)
    return json_response(service.search(guest, req.get_body(), query.consent is True))


@bp.function_name("guest_images")
@bp.route(route="guest/events/{code}/images", methods=["GET"], auth_level=GUEST)
@operation(summary="The event's photos (gallery)", tag="guests", auth="guest", path=_CODE, query=GuestImagesQuery,
           responses={200: GuestGallery}, errors=(*_GUEST_ERRORS, "right_withheld"))
@api
def guest_images(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/guest/events/{code}/images?limit&offset`` → ``{items: [{image_id, url, width,
    height, created_at}], next_offset, urls_expire_at}``; 401; 403; 404; 422."""
    guest = _guest(req)
    return json_response(service.gallery(guest, parse_query(req, GuestImagesQuery)))


@bp.function_name("guest_forget")
@bp.route(route="guest/events/{code}/forget", methods=["POST"], auth_level=GUEST)
@operation(summary="Forget my face (with a selfie)", tag="guests", auth="guest", path=_CODE, query=GuestForgetQuery,
           body=IMAGE_BODY, responses={200: ForgetResult},
           errors=(*_GUEST_ERRORS, "right_withheld", "confirmation_required", "too_many_requests", *_SELFIE_ERRORS,
                   "people_busy", "faces_busy", "storage_unavailable"))
@api
def guest_forget(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/guest/events/{code}/forget?confirm=true`` with a selfie's bytes → ``{erased,
    message}`` (``kanta.privacy.service.forget_face``); 401; 403; 404; 413; 422
    ``confirmation_required`` / ``no_face`` / …; 429; 503 ``people_busy`` / ``faces_busy`` /
    ``storage_unavailable``."""
    guest = _guest(req)
    query = parse_query(req, GuestForgetQuery)
    return json_response(service.forget(guest, req.get_body(), query.confirm is True))


# --------------------------------------------------------------------------- timer


@bp.function_name("purge_guest_counters_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 15 * * * *", run_on_startup=False)
def purge_guest_counters_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly: delete the abuse counters of ended windows
    (``kanta.caps.purge_counters``). Database errors raise; the next run tries again."""
    purged = caps.purge_counters()
    if purged:
        log.info("deleted %d ended guest abuse counter(s)", purged)
