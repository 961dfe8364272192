"""Pydantic schemas of guest links (the host's routes) and of the guest routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kanta.faces.boxes import BoundingBox
from kanta.images.schemas import ImageStatus
from kanta.validation import PageLimit, PageOffset, QueryBool, Timestamp

#: A JSON ``true`` or ``false`` (not ``"true"``, ``1`` or ``"yes"``).
_Bool = Annotated[bool, Field(strict=True)]

#: What Kanta stores, in plain words: shown to guests before they upload or search
#: (``GET guest/events/{code}``), next to the consent text (``kanta.privacy.policy``, whose
#: terms it uses: a face template is a dlib descriptor).
#: A search that found nobody, as a guest reads it (the host's answer states the distance cuts).
GUEST_NO_MATCH = "No photos of you were found in this event."

PRIVACY_NOTICE = (
    "Kanta keeps the photos uploaded to this event. In each photo it finds the faces and keeps, for each, "
    "a small picture of the face and a face template (128 numbers that describe it), to group each person's "
    "photos and to find them. It keeps no names unless the host adds them. A selfie you search with is used "
    "for that search only and is not stored. The face data is deleted when the event's retention period ends, "
    "and everything when the host deletes the event. You can ask to be forgotten with a selfie."
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuestRights(_Request):
    """What a guest link allows: ``upload`` photos, ``find_me`` (selfie search and forgetting
    one's face), and ``gallery`` (see every processed photo of the event). Defaults: upload
    and find me, no gallery."""

    upload: _Bool = True
    find_me: _Bool = True
    gallery: _Bool = False


class GuestLinkCreate(_Request):
    """Body of ``POST /api/events/{code}/guest-link``. ``expires_at``: default the event's
    ``ends_at`` + 7 days, or 30 days from now for an open-ended event; at most a year ahead
    (``kanta.guests.service``)."""

    expires_at: Timestamp | None = None
    rights: GuestRights = Field(default_factory=GuestRights)


class GuestLimits(BaseModel):
    """What a guest link may cost the host (settings ``KANTA_GUEST_*``, ``KANTA_MAX_IMAGE_BYTES``):
    upload URLs and bytes (decimal) per hour for the link and per UTC day for the event,
    selfie searches and forgets per hour, and the largest photo, bytes."""

    uploads_per_hour: int
    uploads_per_event_day: int
    bytes_per_hour: int
    bytes_per_event_day: int
    searches_per_hour: int
    forgets_per_hour: int
    max_photo_bytes: int


class GuestLink(BaseModel):
    """A guest link's state, without its token (which is never stored): ``expired`` when
    ``expires_at`` is past; ``limits``, what it may cost."""

    rights: GuestRights
    expires_at: datetime
    created_at: datetime
    expired: bool
    limits: GuestLimits


class GuestLinkCreated(BaseModel):
    """A new guest link: ``token`` (shown only here: only its hash is stored), ``join_url``
    (the page guests open, the token in its fragment), and ``join_url`` as QR codes: an SVG
    document (``qr_svg``) and a PNG, base64 (``qr_png``)."""

    token: str
    join_url: str
    expires_at: datetime
    created_at: datetime
    rights: GuestRights
    qr_svg: str
    qr_png: str
    limits: GuestLimits


class GuestEvent(BaseModel):
    """What a guest sees of an event: its public details, what their link allows and until
    when (``link_expires_at``), whether selfie search is on (``face_search``), the consent
    text to accept before a search (the host's, else Kanta's default), when the event's face
    data is deleted (``retention_ends_at``; ``null``: when the event is), Kanta's own
    ``privacy`` notice (``PRIVACY_NOTICE``) and the largest photo accepted, bytes
    (``max_photo_bytes``)."""

    code: str
    name: str | None
    description: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    rights: GuestRights
    link_expires_at: datetime
    face_search: bool
    consent_text: str
    retention_ends_at: datetime | None
    privacy: str
    max_photo_bytes: int


class GuestUploadStatus(BaseModel):
    """Where one uploaded photo is in its lifecycle (``kanta.images.schemas.ImageStatus``),
    and why it failed, if it did."""

    image_id: UUID
    status: ImageStatus
    failure_code: str | None
    failure_reason: str | None


class GuestSearchQuery(BaseModel):
    """Query of ``POST guest/events/{code}/search``: ``consent=true`` says the guest accepted
    the event's consent text; without it the selfie is not looked at."""

    model_config = ConfigDict(extra="forbid")
    consent: QueryBool | None = None


class GuestForgetQuery(BaseModel):
    """Query of ``POST guest/events/{code}/forget``: ``confirm=true`` says the guest means it
    (what is erased cannot come back)."""

    model_config = ConfigDict(extra="forbid")
    confirm: QueryBool | None = None


class GuestImagesQuery(BaseModel):
    """Query of ``GET guest/events/{code}/images``: a page of ``limit`` photos from ``offset``."""

    model_config = ConfigDict(extra="forbid")
    limit: PageLimit = 50
    offset: PageOffset = 0


class GuestPhoto(BaseModel):
    """A photo a selfie search found: ``url`` reads the photo, ``thumbnail_url`` the guest's
    face in it, and ``bbox`` is where that face is (pixels of the upright photo)."""

    image_id: UUID
    url: str
    thumbnail_url: str
    bbox: BoundingBox


class GuestSearchResult(BaseModel):
    """The photos of the person (or people) the selfie matched, nearest first, with read URLs
    valid until ``urls_expire_at``; nobody else's faces, ids or distances. When none,
    ``reason`` is ``no_match`` and ``message`` says so."""

    photos: list[GuestPhoto]
    urls_expire_at: datetime
    reason: str | None = None
    message: str | None = None


class GalleryPhoto(BaseModel):
    """A processed photo of the event: ``url`` reads it; sizes in pixels, upright."""

    image_id: UUID
    url: str
    width: int | None
    height: int | None
    created_at: datetime


class GuestGallery(BaseModel):
    """A page of the event's processed photos, oldest first, read URLs valid until
    ``urls_expire_at``; ``next_offset``: where the next page starts, ``null`` on the last."""

    items: list[GalleryPhoto]
    next_offset: int | None
    urls_expire_at: datetime
