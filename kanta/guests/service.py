"""Guest links and what guests may do with them.

A host makes (or rotates) an event's one guest link; whoever holds its token may, within the
link's rights and until it expires: read the event's public details, upload photos, poll
their indexing, find their own photos with a selfie, see the gallery, and ask Kanta to forget
their face. Every guest request is authorised afresh against the database (``authorize``),
so a revoked or rotated link stops working at once, on every instance.

Abuse caps (``kanta.caps``) bound what a link costs: upload URLs, bytes, searches and
forgets per hour, uploads and bytes per event per day. Knows nothing of HTTP: raises ``kanta.errors`` (``Unauthorized``, ``Forbidden``, ``NotFound``,
``Conflict``, ``Invalid``, ``TooManyRequests``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any

from kanta import storage
from kanta.caps import EVENT_BYTES, EVENT_UPLOADS, LINK_BYTES, LINK_FORGETS, LINK_SEARCHES, LINK_UPLOADS, take
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, not_found
from kanta.guests import tokens
from kanta.guests.schemas import (
    GUEST_NO_MATCH,
    PRIVACY_NOTICE,
    GalleryPhoto,
    GuestEvent,
    GuestGallery,
    GuestImagesQuery,
    GuestLimits,
    GuestLink,
    GuestLinkCreate,
    GuestLinkCreated,
    GuestPhoto,
    GuestRights,
    GuestSearchResult,
    GuestUploadStatus,
)
from kanta.images.schemas import GuestUploadRequest, UploadTicket
from kanta.privacy.policy import DEFAULT_CONSENT_TEXT
from kanta.privacy.schemas import ForgetResult
from kanta.store import guest_links as link_store
from kanta.store import images as store
from kanta.store.events import event_dates, get_event_id

# --------------------------------------------------------------------------- guest links

#: Default lifetime of a link past its event's ``ends_at``: guests look for their photos in
#: the days after an event.
AFTER_EVENT = dt.timedelta(days=7)
#: Default lifetime of a link of an event with no ``ends_at``.
OPEN_ENDED = dt.timedelta(days=30)
#: Longest a link may live from when it is made: a token that works for years is a token
#: that leaks; the host can always make a new one.
MAX_LIFETIME = dt.timedelta(days=365)
#: Longest a read URL given to a guest lives, seconds (at most ``KANTA_READ_URL_TTL_S``): long
#: enough to show a page of photos, short enough that a forwarded URL soon stops working.
GUEST_READ_URL_TTL_S = 600
#: Most photos one guest search returns (``kanta.search.schemas.MAX_TOP_K``).
GUEST_SEARCH_TOP_K = 200

_INVALID_TOKEN_MESSAGE = ("This guest link is not valid: it may have expired or been replaced by the host. "
                          "Ask the host for the current link.")


def _rights(row: dict[str, Any]) -> GuestRights:
    return GuestRights(upload=row["can_upload"], find_me=row["can_find_me"], gallery=row["can_gallery"])


def _expiry(body: GuestLinkCreate, ends_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When a new link expires: ``body.expires_at`` (in the future, at most ``MAX_LIFETIME``
    ahead), else ``ends_at`` + ``AFTER_EVENT`` or now + ``OPEN_ENDED``, at most
    ``MAX_LIFETIME`` ahead. Raises ``Invalid`` ``validation_error`` on ``expires_at``."""
    latest = now + MAX_LIFETIME
    if body.expires_at is not None:
        if body.expires_at <= now:
            raise _bad_expiry("in_the_past", "Must be in the future.")
        if body.expires_at > latest:
            raise _bad_expiry("too_far_ahead", f"A guest link lives at most {MAX_LIFETIME.days} days from now.")
        return body.expires_at
    default = ends_at + AFTER_EVENT if ends_at is not None else now + OPEN_ENDED
    if default <= now:
        raise _bad_expiry("event_over", f"The event ended over {AFTER_EVENT.days} days ago: "
                                        "send expires_at to say how long the link should work.")
    return min(default, latest)


def _bad_expiry(kind: str, message: str) -> Invalid:
    return Invalid("validation_error", "The request body is invalid; see details.",
                   [{"field": "expires_at", "message": message, "type": kind}])


def _qr_codes(text: str) -> tuple[str, str]:
    """QR codes of ``text`` (segno, error correction M: readable with 15% of it damaged, as
    on a printed card): an SVG document (no XML declaration, so it also embeds in HTML) and
    a PNG (base64), 10 px a module with the standard 4-module quiet zone."""
    import segno  # only link creation needs it

    qr = segno.make(text, error="m", micro=False)
    svg, png = io.BytesIO(), io.BytesIO()
    qr.save(svg, kind="svg", scale=10, border=4, xmldecl=False, title="Guest link")
    qr.save(png, kind="png", scale=10, border=4)
    return svg.getvalue().decode("utf-8"), base64.b64encode(png.getvalue()).decode("ascii")


def limits() -> GuestLimits:
    """What a guest link may cost, as the settings say now."""
    s = get_settings()
    return GuestLimits(uploads_per_hour=s.guest_uploads_per_hour, uploads_per_event_day=s.guest_uploads_per_event_day,
                       bytes_per_hour=s.guest_bytes_per_hour, bytes_per_event_day=s.guest_bytes_per_event_day,
                       searches_per_hour=s.guest_searches_per_hour, forgets_per_hour=s.guest_forgets_per_hour,
                       max_photo_bytes=s.max_image_bytes)


def create_link(event_code: str, body: GuestLinkCreate, request_origin: str) -> GuestLinkCreated:
    """Make the event's guest link, replacing any it had (whose token stops working at once).

    ``request_origin``: scheme and host of the request, the join URL's base unless
    ``KANTA_PUBLIC_URL`` is set. The token is returned here only; the database keeps its
    SHA-256. Raises ``NotFound`` ``event_not_found`` and ``Invalid`` ``validation_error``
    (``expires_at`` past, over ``MAX_LIFETIME`` ahead, or an event over for more than
    ``AFTER_EVENT`` with none given).
    """
    token = tokens.new_token()
    now = dt.datetime.now(dt.UTC)
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        expires_at = _expiry(body, event_dates(conn, event_id)["ends_at"], now)
        rights = body.rights
        created_at = link_store.put_link(conn, event_id, tokens.token_hash(token), can_upload=rights.upload,
                                         can_find_me=rights.find_me, can_gallery=rights.gallery, expires_at=expires_at)
    url = tokens.join_url(get_settings().public_url or request_origin, event_code, token)
    qr_svg, qr_png = _qr_codes(url)
    return GuestLinkCreated(token=token, join_url=url, expires_at=expires_at, created_at=created_at,
                            rights=body.rights, qr_svg=qr_svg, qr_png=qr_png, limits=limits())


def get_link(event_code: str) -> GuestLink:
    """The event's guest link, without its token. Raises ``NotFound`` ``event_not_found`` /
    ``guest_link_not_found``."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        row = link_store.link_of_event(conn, event_id)
    if row is None:
        raise _no_link(event_code)
    return GuestLink(rights=_rights(row), expires_at=row["expires_at"], created_at=row["created_at"],
                     expired=row["expired"], limits=limits())


def delete_link(event_code: str) -> None:
    """Revoke the event's guest link: its token stops working at once. Raises ``NotFound``
    ``event_not_found`` / ``guest_link_not_found``."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        if not link_store.delete_link(conn, event_id):
            raise _no_link(event_code)


def _no_link(event_code: str) -> NotFound:
    return NotFound("guest_link_not_found", f"Event {event_code} has no guest link.")


# --------------------------------------------------------------------------- authorising guests


@dataclass(frozen=True)
class Guest:
    """A guest authorised by a valid token: their link (``link_id``, ``rights``,
    ``expires_at``) and its event (id, code and the public columns of ``events``)."""

    link_id: int
    rights: GuestRights
    expires_at: dt.datetime
    event_id: int
    event_code: str
    event: dict[str, Any]


def authorize(event_code: str, token: str | None) -> Guest:
    """The guest whose ``token`` (``None``: none or a malformed one was sent) opens event
    ``event_code``.

    Raises ``Unauthorized`` ``guest_token_invalid`` for a missing, malformed, unknown,
    expired, revoked or rotated token (one message for all: it tells nothing of which), and
    ``NotFound`` ``event_not_found`` for a good token of another event, exactly as for an
    event that does not exist.
    """
    if token is None:
        raise Unauthorized("guest_token_invalid", _INVALID_TOKEN_MESSAGE)
    with connection() as conn:
        row = link_store.link_by_token(conn, tokens.token_hash(token))
    if row is None or row["expired"]:
        raise Unauthorized("guest_token_invalid", _INVALID_TOKEN_MESSAGE)
    if row["code"] != event_code:
        raise not_found("event", event_code)
    return Guest(link_id=row["link_id"], rights=_rights(row), expires_at=row["expires_at"], event_id=row["event_id"],
                 event_code=row["code"], event=row)


#: What each right lets a guest do, for the message of a refusal.
_RIGHT_WORDS = {"upload": "uploading photos", "find_me": "finding your photos with a selfie",
                "gallery": "seeing the event's photos"}


def _require(guest: Guest, right: str) -> None:
    if not getattr(guest.rights, right):
        raise Forbidden("right_withheld", f"This guest link does not allow {_RIGHT_WORDS[right]}.")


# --------------------------------------------------------------------------- guest routes


def event_details(guest: Guest) -> GuestEvent:
    """The event as its guests see it (no counts, no ids), with their link's rights, the
    consent text in force and when its face data goes (``kanta.store.events.event_dates``)."""
    with connection() as conn:
        dates = event_dates(conn, guest.event_id)
    if dates is None:
        raise not_found("event", guest.event_code)  # deleted since the token was checked
    e = guest.event
    return GuestEvent(code=guest.event_code, name=e["name"], description=e["description"], starts_at=e["starts_at"],
                      ends_at=e["ends_at"], rights=guest.rights, link_expires_at=guest.expires_at,
                      face_search=e["face_search"], consent_text=e["consent_text"] or DEFAULT_CONSENT_TEXT,
                      retention_ends_at=dates["retention_ends_at"], privacy=PRIVACY_NOTICE,
                      max_photo_bytes=get_settings().max_image_bytes)


def create_uploads(guest: Guest, body: GuestUploadRequest) -> list[UploadTicket]:
    """Upload tickets for a guest, as the host gets them (``kanta.images.service.create_uploads``),
    counted against ``LINK_UPLOADS`` and ``EVENT_UPLOADS`` per file and their declared sizes
    against ``LINK_BYTES`` and ``EVENT_BYTES``, in the transaction that records the tickets
    (a refused request counts nothing and gets no URL). Raises ``Forbidden``
    ``right_withheld`` without the upload right, ``Invalid`` ``validation_error`` for a file
    over ``KANTA_MAX_IMAGE_BYTES``, ``TooManyRequests``, ``NotFound``."""
    from kanta.images import service as images

    _require(guest, "upload")
    images.check_declared_sizes(body)
    declared = sum(f.size_bytes for f in body.files)
    with connection() as conn:
        take(conn, LINK_UPLOADS, guest.link_id, len(body.files))
        take(conn, EVENT_UPLOADS, guest.event_id, len(body.files))
        take(conn, LINK_BYTES, guest.link_id, declared)
        take(conn, EVENT_BYTES, guest.event_id, declared)
        return images.create_uploads(guest.event_code, body, guest_link_id=guest.link_id, conn=conn)


def upload_status(guest: Guest, image_id: uuid.UUID) -> GuestUploadStatus:
    """Status of one photo of the guest's event. Raises ``Forbidden`` without the upload
    right, ``NotFound`` ``image_not_found`` (also for a photo of another event)."""
    _require(guest, "upload")
    with connection() as conn:
        row = store.find_image(conn, image_id)
    if row is None or row["event_code"] != guest.event_code:
        raise not_found("image", image_id)
    return GuestUploadStatus.model_validate(row)


def search(guest: Guest, selfie: bytes, consented: bool) -> GuestSearchResult:
    """The guest's own photos, found with their selfie (``kanta.search.service.search_selfie``,
    largest face, default cuts): the photos of the matched person(s), each with read URLs
    valid ``GUEST_READ_URL_TTL_S`` and the box of the matched face, nothing about anyone
    else. The selfie is never stored. Counted against ``LINK_SEARCHES`` before it is looked at.

    Raises ``Forbidden`` ``right_withheld`` (no find_me right), ``Conflict``
    ``face_search_off`` (the host turned face search off), ``Invalid`` ``consent_required``
    (``consented`` false), ``TooManyRequests``, and what ``search_selfie`` raises
    (``TooLarge``, ``Invalid`` ``invalid_image`` / ``no_face`` / ``face_unusable``).
    """
    from kanta.search import service as search_service
    from kanta.search.schemas import SearchQuery

    _require(guest, "find_me")
    if not guest.event["face_search"]:
        raise Conflict("face_search_off", "The host has turned finding photos by face off for this event.")
    if not consented:
        raise Invalid("consent_required",
                      "Read and accept the event's consent text first, then search with consent=true.")
    with connection() as conn:
        take(conn, LINK_SEARCHES, guest.link_id, 1)
    found = search_service.search_selfie(
        guest.event_code, selfie, SearchQuery.model_validate({"top_k": str(GUEST_SEARCH_TOP_K)})  # as a query string
    ).found
    expires_at = storage.read_url_expiry(GUEST_READ_URL_TTL_S)
    photos = []
    for _, _, row in found.photos:
        urls = storage.face_urls(row, expires_at)
        photos.append(GuestPhoto(image_id=row["image_id"], url=urls["image_url"], thumbnail_url=urls["url"],
                                 bbox=store.bbox(row)))
    return GuestSearchResult(photos=photos, urls_expire_at=expires_at,
                             reason=None if photos else "no_match", message=None if photos else GUEST_NO_MATCH)


def gallery(guest: Guest, query: GuestImagesQuery) -> GuestGallery:
    """A page of the event's processed photos, oldest first, with read URLs valid
    ``GUEST_READ_URL_TTL_S``. Raises ``Forbidden`` ``right_withheld`` without the gallery right."""
    _require(guest, "gallery")
    with connection() as conn:
        # One row more than asked tells whether another page exists.
        rows = store.list_images(conn, guest.event_id, status="processed", min_faces=None, max_faces=None,
                                 cluster_id=None, limit=query.limit + 1, offset=query.offset)
    expires_at = storage.read_url_expiry(GUEST_READ_URL_TTL_S)
    items = [GalleryPhoto(image_id=r["image_id"], url=storage.photo_url(r, expires_at), width=r["width"],
                          height=r["height"], created_at=r["created_at"]) for r in rows[: query.limit]]
    next_offset = query.offset + query.limit if len(rows) > query.limit else None
    return GuestGallery(items=items, next_offset=next_offset, urls_expire_at=expires_at)


def forget(guest: Guest, selfie: bytes, confirmed: bool) -> ForgetResult:
    """Forget the face in ``selfie`` in the guest's event (``kanta.privacy.service.forget_face``:
    ``{erased, message}``), counted against ``LINK_FORGETS``. Raises ``Forbidden``
    ``right_withheld`` (no find_me right), ``Invalid`` ``confirmation_required`` (``confirmed``
    false), ``TooManyRequests``, and what ``forget_face`` raises (``TooLarge``, ``Invalid``
    ``invalid_image`` / ``no_face`` / ``face_unusable``, ``Unavailable`` ``people_busy`` /
    ``faces_busy`` / ``storage_unavailable``)."""
    from kanta.privacy import service as privacy

    _require(guest, "find_me")
    if not confirmed:
        raise Invalid("confirmation_required",
                      "Forgetting a face erases it for good: send confirm=true to say you mean it.")
    with connection() as conn:
        take(conn, LINK_FORGETS, guest.link_id, 1)
    return privacy.forget_face(guest.event_code, selfie)
