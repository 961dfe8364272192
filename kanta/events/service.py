"""Events logic: SQL over the ``events`` table, used by ``kanta.events.functions`` (and, for an
event's privacy settings and records, by ``kanta.privacy`` and the services that obey them)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from kanta import storage
from kanta.db import connection
from kanta.errors import Conflict, Invalid, not_found
from kanta.events.schemas import EVENT_CODE_PATTERN, Event, EventCreate, EventList, EventListQuery, EventUpdate
from kanta.images import store
from kanta.privacy.policy import DEFAULT_CONSENT_TEXT
from kanta.search import descriptors
from kanta.validation import MAX_EVENT_DURATION

#: SQL predicate for "the event is happening now"; open-ended bounds count as running.
RUNNING_SQL = "((e.starts_at IS NULL OR e.starts_at <= now()) AND (e.ends_at IS NULL OR e.ends_at > now()))"

#: SQL: when the event's face data is due for deletion (``NULL``: no retention):
#: ``retention_days`` after the latest of its end, its creation, its last photo (upload ticket
#: or blob) and ``retention_from`` (an upgrade never shortens a retention). Photos uploaded
#: after the event (a host who creates it afterwards) keep their faces for the full period.
RETENTION_ENDS_SQL = """(CASE WHEN e.retention_days IS NOT NULL THEN
    greatest(e.ends_at, e.created_at, e.retention_from,
             (SELECT max(i.created_at) FROM images i WHERE i.event_id = e.id))
    + make_interval(days => e.retention_days) END)"""

_SELECT = f"""
SELECT e.id, e.code, e.name, e.description, e.starts_at, e.ends_at, {RUNNING_SQL} AS running,
       e.created_at, e.updated_at, e.last_clustered_at, e.face_search, e.consent_text, e.retention_days,
       {RETENTION_ENDS_SQL} AS retention_ends_at, e.retention_deletes_photos, e.faces_purged_at,
       e.purged_face_count, e.erased_face_count
FROM events e
"""


def _events(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> list[Event]:
    """Events from rows of ``_SELECT``, with their image and face counts and stored bytes
    (``kanta.images.store.event_counts``)."""
    counts = store.event_counts(conn, [r["id"] for r in rows])
    return [Event.model_validate(r | _counts(counts.get(r["id"], store.EventCounts()))
                                 | {"consent_text": r["consent_text"] or DEFAULT_CONSENT_TEXT,
                                    "consent_text_is_default": r["consent_text"] is None})
            for r in rows]


def _counts(c: store.EventCounts) -> dict[str, Any]:
    return {"image_count": c.image_count, "face_count": c.face_count,
            "stored_bytes": {"photos": c.photo_bytes, "thumbnails": c.thumbnail_bytes,
                             "total": c.photo_bytes + c.thumbnail_bytes}}


def _require_possible_code(code: str) -> None:
    # A code outside the pattern cannot exist (and may hold bytes PostgreSQL rejects, like NUL).
    if not re.fullmatch(EVENT_CODE_PATTERN, code):
        raise not_found("event", code)


def get_event_id(conn: psycopg.Connection, code: str) -> int:
    """Return the id of the event ``code``. Raises ``NotFound`` ``event_not_found``."""
    _require_possible_code(code)
    row = conn.execute("SELECT id FROM events WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise not_found("event", code)
    return row["id"]


def _get(conn: psycopg.Connection, code: str) -> Event:
    _require_possible_code(code)
    row = conn.execute(_SELECT + " WHERE e.code = %s", (code,)).fetchone()
    if row is None:
        raise not_found("event", code)
    return _events(conn, [row])[0]


def create_event(body: EventCreate) -> Event:
    """Insert an event. Raises ``Conflict`` ``event_exists`` when the code is taken."""
    with connection() as conn:
        try:
            conn.execute(
                """INSERT INTO events (code, name, description, starts_at, ends_at, face_search, consent_text,
                                      retention_days, retention_deletes_photos)
                   VALUES (%(code)s, %(name)s, %(description)s, %(starts_at)s, %(ends_at)s, %(face_search)s,
                           %(consent_text)s, %(retention_days)s, %(retention_deletes_photos)s)""",
                body.model_dump(),
            )
        except psycopg.errors.UniqueViolation:
            raise Conflict("event_exists", f"An event with code {body.code!r} already exists.") from None
        return _get(conn, body.code)


def get_event(code: str) -> Event:
    """Return one event. Raises ``NotFound``."""
    with connection() as conn:
        return _get(conn, code)


def list_events(query: EventListQuery) -> EventList:
    """A page of events, newest first; ``query.running`` filters on whether each is
    happening now."""
    where = "" if query.running is None else f" WHERE {RUNNING_SQL} = %(running)s"
    with connection() as conn:
        # One more than asked tells whether another page exists.
        rows = conn.execute(_SELECT + where + " ORDER BY e.created_at DESC, e.id DESC LIMIT %(limit)s OFFSET %(offset)s",
                            {"running": query.running, "limit": query.limit + 1, "offset": query.offset}).fetchall()
        items = _events(conn, rows[: query.limit])
    return EventList(items=items, next_offset=query.offset + query.limit if len(rows) > query.limit else None)


def update_event(code: str, body: EventUpdate) -> Event:
    """Change the fields present in ``body``. Raises ``NotFound``, or ``Invalid``
    ``validation_error`` (nothing changed) when the resulting starts_at is not before
    ends_at or the event would last over ``MAX_EVENT_DURATION``."""
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    with connection() as conn:
        get_event_id(conn, code)
        if changes:
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
            )
            try:
                conn.execute(
                    sql.SQL("UPDATE events SET {}, updated_at = now() WHERE code = %(code)s").format(assignments),
                    {**changes, "code": code},
                )
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


def delete_event(code: str) -> None:
    """Delete an event: its rows (images and faces cascade), leaving a tombstone for the blob
    name of each of its images, upload tickets included; then its blobs and thumbnails.
    Raises ``NotFound``.

    The rows go first, in one transaction with the tombstones: from then on no indexing run
    attaches a photo to the event or brings one back, and a blob that an old upload URL
    writes later, even into a new event with the same code, is deleted instead of indexed
    (``kanta.images.ingest``). Blobs written under the code after the delete (a new event's)
    are left alone.
    """
    _require_possible_code(code)
    with connection() as conn:
        # Locked first: an indexing run adding an image to the event waits, then finds it gone.
        row = conn.execute("SELECT id FROM events WHERE code = %s FOR UPDATE", (code,)).fetchone()
        if row is None:
            raise not_found("event", code)
        store.bury_event_images(conn, row["id"])
        conn.execute("DELETE FROM events WHERE id = %s", (row["id"],))
    deleted_at = dt.datetime.now(dt.UTC)
    descriptors.forget(row["id"])
    storage.delete_prefix(f"{code}/", modified_before=deleted_at + store.STORAGE_CLOCK_SKEW)


# --------------------------------------------------------------------------- privacy


@dataclass(frozen=True)
class FacePolicy:
    """What an event allows with faces now: ``face_search``, guests may search by selfie;
    ``purged``, its face data was deleted at the end of its retention, for good (it indexes
    and searches no faces any more); ``retention_over``, its retention has ended (purged, or
    due for the hourly purge); ``retention_deletes_photos``, its photos go at the purge too."""

    event_id: int
    face_search: bool
    purged: bool
    retention_over: bool
    retention_deletes_photos: bool


def face_policy(conn: psycopg.Connection, event_id: int, *, lock: bool = False) -> FacePolicy | None:
    """The ``FacePolicy`` of event ``event_id``, or ``None`` when it is gone. ``lock``: take
    the event row ``FOR UPDATE`` until commit (an erasure or a purge): an indexing run waits
    for it before writing its result (``kanta.images.store.lock_for_result`` takes ``FOR KEY
    SHARE``) and then sees what it did."""
    row = conn.execute(
        f"""SELECT e.face_search, e.faces_purged_at IS NOT NULL AS purged,
                   coalesce(e.faces_purged_at IS NOT NULL OR {RETENTION_ENDS_SQL} <= now(), false) AS retention_over,
                   e.retention_deletes_photos
            FROM events e WHERE e.id = %s""" + (" FOR UPDATE" if lock else ""),
        (event_id,),
    ).fetchone()
    return None if row is None else FacePolicy(event_id, row["face_search"], row["purged"], row["retention_over"],
                                               row["retention_deletes_photos"])


def event_dates(conn: psycopg.Connection, event_id: int) -> dict[str, Any] | None:
    """Event ``event_id``'s ``ends_at`` and ``retention_ends_at`` (``RETENTION_ENDS_SQL``;
    ``None``: no retention), or ``None`` when the event is gone."""
    return conn.execute(f"SELECT e.ends_at, {RETENTION_ENDS_SQL} AS retention_ends_at FROM events e WHERE e.id = %s",
                        (event_id,)).fetchone()


def retention_due(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` events whose retention has ended and whose face data is not purged
    yet, longest overdue first: ``id`` and ``code``."""
    return conn.execute(
        f"""SELECT e.id, e.code FROM events e
            WHERE e.faces_purged_at IS NULL AND e.retention_days IS NOT NULL AND {RETENTION_ENDS_SQL} <= now()
            ORDER BY {RETENTION_ENDS_SQL}, e.id LIMIT %s""",
        (limit,),
    ).fetchall()


def record_erased(conn: psycopg.Connection, event_id: int, faces: int) -> None:
    """Count ``faces`` more faces erased at a guest's or the host's request."""
    conn.execute("UPDATE events SET erased_face_count = erased_face_count + %s WHERE id = %s", (faces, event_id))


def record_purge(conn: psycopg.Connection, event_id: int, faces: int) -> None:
    """Record that the event's face data (``faces`` faces) was deleted now, for good."""
    conn.execute("UPDATE events SET faces_purged_at = now(), purged_face_count = %s WHERE id = %s",
                 (faces, event_id))
