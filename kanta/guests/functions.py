"""Triggers of guest links: the host's routes that make, show and revoke an event's guest link
(function key), the guest routes (anonymous at the host, authorised by the link's token in
``Authorization: Bearer``), and the timer that deletes old abuse counters. Logic lives in
``service``."""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit
from uuid import UUID

import azure.functions as func

from kanta import caps
from kanta.endpoints import endpoint
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
from kanta.images.schemas import GuestUploadRequest, UploadBatch
from kanta.privacy.schemas import ForgetResult
from kanta.validation import EventCode

log = logging.getLogger(__name__)

bp = func.Blueprint()

#: What every guest route may answer before it looks at the request itself.
_GUEST_ERRORS = ("guest_token_invalid", "event_not_found")
#: What a selfie may be refused with (``kanta.search.service.search_selfie``).
_SELFIE_ERRORS = ("payload_too_large", "invalid_image", "no_face", "face_unusable")


def _guest(req: func.HttpRequest) -> service.Guest:
    """The guest the request's bearer token authorises for the route's event (first, before
    the request is read: a caller without a valid token learns nothing more)."""
    return service.authorize(req.route_params["code"], tokens.bearer_token(req.headers.get("authorization")))


#: A host's route (function key).
host = functools.partial(endpoint, bp, tag="guests")
#: A guest route: anonymous at the host, authorised by the guest link's token (``_guest``).
guest_route = functools.partial(endpoint, bp, tag="guests", auth="guest", authorize=_guest, path={"code": EventCode})


def _origin(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


# --------------------------------------------------------------------------- host


@host("create_guest_link", "POST", "events/{code}/guest-link", summary="Create or rotate the event's guest link",
      responses={201: GuestLinkCreated}, errors=("event_not_found",),
      # The token is shown once: no cache along the way may keep it (as RFC 6749 §5.1 asks of tokens).
      headers={"Cache-Control": "no-store"})
def create_guest_link(code: EventCode, body: GuestLinkCreate, req: func.HttpRequest) -> GuestLinkCreated:
    """Make the event's guest link, replacing any it had: its token (shown this once), join
    URL and QR codes."""
    return service.create_link(code, body, _origin(req))


@host("get_guest_link", "GET", "events/{code}/guest-link", summary="Show the event's guest link (without its token)",
      responses={200: GuestLink}, errors=("event_not_found", "guest_link_not_found"))
def get_guest_link(code: EventCode) -> GuestLink:
    """The guest link's rights and times; never its token."""
    return service.get_link(code)


@host("delete_guest_link", "DELETE", "events/{code}/guest-link", summary="Revoke the event's guest link",
      responses={204: None}, errors=("event_not_found", "guest_link_not_found"))
def delete_guest_link(code: EventCode) -> None:
    """Revoke the guest link: its token stops working at once."""
    service.delete_link(code)


# --------------------------------------------------------------------------- guests


@guest_route("guest_event", "GET", "guest/events/{code}", summary="The event as its guests see it",
             responses={200: GuestEvent}, errors=_GUEST_ERRORS)
def guest_event(guest: service.Guest) -> GuestEvent:
    """The event as its guests see it: what it is, what the link allows, its consent and
    privacy texts."""
    return service.event_details(guest)


@guest_route("guest_create_uploads", "POST", "guest/events/{code}/uploads", summary="Upload URLs for a guest's photos",
             responses={201: UploadBatch}, errors=(*_GUEST_ERRORS, "right_withheld", "too_many_requests"))
def guest_create_uploads(guest: service.Guest, body: GuestUploadRequest) -> UploadBatch:
    """Upload URLs as for the host (1-50 files); refused over the size limit, and over the
    link's or the event's budget of files or bytes (429)."""
    return UploadBatch(uploads=service.create_uploads(guest, body))


@guest_route("guest_upload_status", "GET", "guest/events/{code}/uploads/{image_id}",
             summary="Indexing status of a guest's upload", responses={200: GuestUploadStatus},
             errors=(*_GUEST_ERRORS, "right_withheld", "image_not_found"))
def guest_upload_status(guest: service.Guest, image_id: UUID) -> GuestUploadStatus:
    """Whether the photo is indexed yet, or why it failed."""
    return service.upload_status(guest, image_id)


@guest_route("guest_search", "POST", "guest/events/{code}/search", summary="Find my photos with a selfie",
             responses={200: GuestSearchResult},
             errors=(*_GUEST_ERRORS, "right_withheld", "face_search_off", "retention_over", "consent_required",
                     "too_many_requests", *_SELFIE_ERRORS))
def guest_search(guest: service.Guest, query: GuestSearchQuery, body: bytes) -> GuestSearchResult:
    """The event's photos of the person in the selfie, once the guest has accepted the
    event's consent text (``consent=true``)."""
    return service.search(guest, body, query.consent is True)


@guest_route("guest_images", "GET", "guest/events/{code}/images", summary="The event's photos (gallery)",
             responses={200: GuestGallery}, errors=(*_GUEST_ERRORS, "right_withheld"))
def guest_images(guest: service.Guest, query: GuestImagesQuery) -> GuestGallery:
    """One page of the event's photos, with read URLs."""
    return service.gallery(guest, query)


@guest_route("guest_forget", "POST", "guest/events/{code}/forget", summary="Forget my face (with a selfie)",
             responses={200: ForgetResult},
             errors=(*_GUEST_ERRORS, "right_withheld", "confirmation_required", "too_many_requests", *_SELFIE_ERRORS,
                     "people_busy", "faces_busy", "storage_unavailable"))
def guest_forget(guest: service.Guest, query: GuestForgetQuery, body: bytes) -> ForgetResult:
    """Erase the faces of the person in the selfie from the event, once confirmed
    (``confirm=true``; ``kanta.privacy.service.forget_face``). Nothing is erased when it
    answers 503: try again."""
    return service.forget(guest, body, query.confirm is True)


# --------------------------------------------------------------------------- timer


@bp.function_name("purge_guest_counters_timer")
@bp.timer_trigger(arg_name="timer", schedule="0 15 * * * *", run_on_startup=False)
def purge_guest_counters_timer(timer: func.TimerRequest) -> None:
    """Timer, hourly: delete the abuse counters of ended windows
    (``kanta.caps.purge_counters``). Database errors raise; the next run tries again."""
    purged = caps.purge_counters()
    if purged:
        log.info("deleted %d ended guest abuse counter(s)", purged)
