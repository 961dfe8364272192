"""Events logic: create, list and change events (``kanta.events.functions``). The ``events``
table's SQL is ``kanta.store.events``; deleting an event, which erases data of every domain,
is ``kanta.privacy.service.delete_event``."""

from __future__ import annotations

from typing import Any

import psycopg

from kanta.db import connection
from kanta.errors import Invalid
from kanta.events.schemas import Event, EventCreate, EventList, EventListQuery, EventUpdate
from kanta.privacy.policy import DEFAULT_CONSENT_TEXT
from kanta.store import events as event_store
from kanta.validation import MAX_EVENT_DURATION


def _events(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> list[Event]:
    """Events from rows of ``kanta.store.events.event_row``, with their image and face counts and stored bytes
    (``kanta.store.events.event_counts``)."""
    counts = event_store.event_counts(conn, [r["id"] for r in rows])
    return [Event.model_validate(r | _counts(counts.get(r["id"], event_store.EventCounts()))
                                 | {"consent_text": r["consent_text"] or DEFAULT_CONSENT_TEXT,
                                    "consent_text_is_default": r["consent_text"] is None})
            for r in rows]


def _counts(c: event_store.EventCounts) -> dict[str, Any]:
    return {"image_count": c.image_count, "face_count": c.face_count,
            "stored_bytes": {"photos": c.photo_bytes, "thumbnails": c.thumbnail_bytes,
                             "total": c.photo_bytes + c.thumbnail_bytes}}


def _get(conn: psycopg.Connection, code: str) -> Event:
    return _events(conn, [event_store.event_row(conn, code)])[0]


def create_event(body: EventCreate) -> Event:
    """Insert an event. Raises ``Conflict`` ``event_exists`` when the code is taken."""
    with connection() as conn:
        event_store.insert_event(conn, body.model_dump())
        return _get(conn, body.code)


def get_event(code: str) -> Event:
    """Return one event. Raises ``NotFound``."""
    with connection() as conn:
        return _get(conn, code)


def list_events(query: EventListQuery) -> EventList:
    """A page of events, newest first; ``query.running`` filters on whether each is
    happening now."""
    with connection() as conn:
        # One more than asked tells whether another page exists.
        rows = event_store.event_rows(conn, running=query.running, limit=query.limit + 1, offset=query.offset)
        items = _events(conn, rows[: query.limit])
    return EventList(items=items, next_offset=query.offset + query.limit if len(rows) > query.limit else None)


def update_event(code: str, body: EventUpdate) -> Event:
    """Change the fields present in ``body``. Raises ``NotFound``, or ``Invalid``
    ``validation_error`` (nothing changed) when the resulting starts_at is not before
    ends_at or the event would last over ``MAX_EVENT_DURATION``."""
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    with connection() as conn:
        event_store.get_event_id(conn, code)
        if changes:
            try:
                event_store.update_event(conn, code, changes)
            except psycopg.errors.CheckViolation:
                raise Invalid("validation_error", "starts_at must be before ends_at.") from None
        event = _get(conn, code)
        # One end may change alone: the window is checked as it now stands, in the same
        # transaction, so a refused change writes nothing.
        if event.starts_at and event.ends_at and event.ends_at - event.starts_at > MAX_EVENT_DURATION:
            message = f"An event lasts at most {MAX_EVENT_DURATION.days} days after starts_at."
            raise Invalid("validation_error", message,
                          [{"field": "ends_at", "message": message, "type": "event_too_long"}])
        return event

