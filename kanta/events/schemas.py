"""Pydantic schemas of the events API (request bodies, query strings, responses)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kanta.validation import Text, Timestamp

#: Event codes appear in URLs and blob names: 3–32 characters of ``[a-z0-9-]``.
EVENT_CODE_PATTERN = r"^[a-z0-9-]{3,32}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and starts_at >= ends_at:
        raise ValueError("starts_at must be before ends_at")


class EventCreate(_Request):
    """Body of ``POST /api/events``. Times need a UTC offset (ISO 8601)."""

    code: str = Field(pattern=EVENT_CODE_PATTERN, description="3-32 chars of [a-z0-9-], unique")
    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None

    @model_validator(mode="after")
    def _window(self) -> EventCreate:
        _check_window(self.starts_at, self.ends_at)
        return self


class EventUpdate(_Request):
    """Body of ``PATCH /api/events/{code}``: only the fields present change; ``null`` clears."""

    name: Text | None = Field(None, max_length=200)
    description: Text | None = Field(None, max_length=4000)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None

    @model_validator(mode="after")
    def _window(self) -> EventUpdate:
        _check_window(self.starts_at, self.ends_at)
        return self


class EventListQuery(_Request):
    """Query of ``GET /api/events``: ``running=true`` keeps events happening now; a page of
    ``limit`` events from ``offset``, newest first."""

    running: bool | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=2**31 - 1)


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
