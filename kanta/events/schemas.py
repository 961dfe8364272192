"""Pydantic schemas of the events API (request bodies, query strings, responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from kanta.privacy.policy import DEFAULT_RETENTION_DAYS, MAX_CONSENT_TEXT, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from kanta.validation import (
    BodyInt,
    EventCode,
    PageLimit,
    PageOffset,
    QueryBool,
    Text,
    Timestamp,
    check_window,
)

#: Days face data is kept after the event (``kanta.privacy.policy``): a JSON integer in
#: 1..3650; ``null``: until the event is deleted.
RetentionDays = BodyInt(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)


#: A host's consent text: 1 to ``MAX_CONSENT_TEXT`` characters once the whitespace around is
#: dropped, no NUL (``Text``'s check, applied after the length so a length error reads as one
#: of text).
ConsentText = Annotated[str, Field(min_length=1, max_length=MAX_CONSENT_TEXT), *get_args(Text)[1:]]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventCreate(_Request):
    """Body of ``POST /api/events``. Times: ``kanta.validation.Timestamp`` (ISO 8601 with a UTC
    offset, years 2000–2100); the event lasts at most ``MAX_EVENT_DURATION``.

    Privacy (README, "Privacy"): ``face_search``, guests may search by selfie; ``consent_text``,
    what guests read first (``null``: Kanta's ``DEFAULT_CONSENT_TEXT``); ``retention_days``,
    days after the event that its face data is kept (``null``: until the event is deleted);
    ``retention_deletes_photos``, the photos go at the end of the retention too."""

    code: EventCode = Field(description="3-32 chars of [a-z0-9-], unique")
    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    face_search: StrictBool = True
    consent_text: ConsentText | None = None
    retention_days: RetentionDays | None = DEFAULT_RETENTION_DAYS
    retention_deletes_photos: StrictBool = False

    @model_validator(mode="after")
    def _window(self) -> EventCreate:
        check_window(type(self).__name__, self.starts_at, self.ends_at)
        return self


class EventUpdate(_Request):
    """Body of ``PATCH /api/events/{code}``: only the fields present change; ``null`` clears.
    Both times present: checked as in ``EventCreate``; against the stored ones: by the
    database (``starts_at < ends_at``). ``face_search`` and ``retention_deletes_photos`` are
    ``true`` or ``false``, never ``null``."""

    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    # Absent: unchanged (defaults are not validated); null is refused: these have no "unset".
    face_search: StrictBool = None  # type: ignore[assignment]
    consent_text: ConsentText | None = None
    retention_days: RetentionDays | None = None
    retention_deletes_photos: StrictBool = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _window(self) -> EventUpdate:
        check_window(type(self).__name__, self.starts_at, self.ends_at)
        return self


class EventListQuery(BaseModel):
    """Query of ``GET /api/events``: ``running=true`` keeps events happening now; a page of
    ``limit`` events from ``offset``, newest first."""

    model_config = ConfigDict(extra="forbid")
    running: QueryBool | None = None
    limit: PageLimit = 50
    offset: PageOffset = 0


class StoredBytes(BaseModel):
    """What an event stores, bytes: its accepted photos, its faces' thumbnails, and both
    (what the host's storage account holds for it, refused uploads aside: they are deleted)."""

    photos: int
    thumbnails: int
    total: int


class Event(BaseModel):
    """An event as the API returns it. ``running``: now is within [starts_at, ends_at).

    Privacy (README, "Privacy"): ``face_search``, guests may search by selfie;
    ``consent_text``, the text guests read before a selfie is used (the host's, else Kanta's
    default: ``consent_text_is_default``); ``retention_days`` (``null``: kept until the event
    is deleted) and ``retention_ends_at``, when the event's face data is due for deletion:
    ``retention_days`` after the latest of its end, its creation and its last photo (``null``
    without a retention); ``retention_deletes_photos``; ``faces_purged_at``, when the hourly
    job deleted its face data (for good), with ``purged_face_count`` faces;
    ``erased_face_count``, faces erased at guests' or the host's request (how many, never
    whose). ``stored_bytes``: what the event stores (``StoredBytes``)."""

    code: str
    name: str | None
    description: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    running: bool
    image_count: int
    face_count: int
    stored_bytes: StoredBytes
    created_at: datetime
    updated_at: datetime
    last_clustered_at: datetime | None
    face_search: bool
    consent_text: str | None
    consent_text_is_default: bool
    retention_days: int | None
    retention_ends_at: datetime | None
    retention_deletes_photos: bool
    faces_purged_at: datetime | None
    purged_face_count: int
    erased_face_count: int


class EventList(BaseModel):
    """A page of events, newest first; ``next_offset``: where the next page starts, ``null``
    on the last."""

    items: list[Event]
    next_offset: int | None
