"""Pydantic schemas of the events API (request bodies, query strings, responses)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from kanta.validation import PageLimit, PageOffset, QueryBool, Text, Timestamp, check_window, invalid

#: Event codes appear in URLs and blob names: 3–32 characters of ``[a-z0-9-]``.
EVENT_CODE_PATTERN = r"^[a-z0-9-]{3,32}$"


def _event_code(value: Any) -> Any:
    if not isinstance(value, str) or not re.fullmatch(EVENT_CODE_PATTERN, value):
        raise invalid("bad_event_code", "Must be 3 to 32 characters of a-z, 0-9 and '-'.")
    return value


#: An event code (``EVENT_CODE_PATTERN``), with Kanta's message when it is not one.
EventCode = Annotated[str, AfterValidator(_event_code)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EventCreate(_Request):
    """Body of ``POST /api/events``. Times: ``kanta.validation.Timestamp`` (ISO 8601 with a UTC
    offset, years 2000–2100); the event lasts at most ``MAX_EVENT_DURATION``."""

    code: EventCode = Field(description="3-32 chars of [a-z0-9-], unique")
    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None

    @model_validator(mode="after")
    def _window(self) -> EventCreate:
        check_window(type(self).__name__, self.starts_at, self.ends_at)
        return self


class EventUpdate(_Request):
    """Body of ``PATCH /api/events/{code}``: only the fields present change; ``null`` clears.
    Both times present: checked as in ``EventCreate``; against the stored ones: by the
    database (``starts_at < ends_at``)."""

    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None

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


class Event(BaseModel):
    """An event as the API returns it. ``running``: now is within [starts_at, ends_at)."""

    code: str
    name: str | None
    description: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    running: bool
    image_count: int
    face_count: int
    created_at: datetime
    updated_at: datetime
    last_clustered_at: datetime | None


class EventList(BaseModel):
    """A page of events, newest first; ``next_offset``: where the next page starts, ``null``
    on the last."""

    items: list[Event]
    next_offset: int | None
