"""The one module that writes the ``events`` table: an event's row, its version counters
(``faces_version``, ``clusters_version``, ``corrections_version`` and what the last
re-clustering saw), and its privacy records (faces erased, the retention purge); with the
reads every domain shares (an event's id, its face policy, its dates, its statistics).

Every function takes an open connection (``kanta.db.connection``) and runs in its
transaction; none commits. Raises ``psycopg.Error`` on database errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from kanta.errors import Conflict, not_found
from kanta.validation import EVENT_CODE_PATTERN

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


# --------------------------------------------------------------------------- the event's row


def require_possible_code(code: str) -> None:
    """Raise ``NotFound`` ``event_not_found`` for a code outside ``EVENT_CODE_PATTERN``: it
    cannot exist (and may hold bytes PostgreSQL rejects, like NUL)."""
    if not re.fullmatch(EVENT_CODE_PATTERN, code):
        raise not_found("event", code)


def get_event_id(conn: psycopg.Connection, code: str, *, lock: bool = False) -> int:
    """The id of the event ``code``; ``lock``: its row ``FOR UPDATE`` until commit (a delete).
    Raises ``NotFound`` ``event_not_found``."""
    require_possible_code(code)
    row = conn.execute("SELECT id FROM events WHERE code = %s" + (" FOR UPDATE" if lock else ""), (code,)).fetchone()
    if row is None:
        raise not_found("event", code)
    return row["id"]


def event_row(conn: psycopg.Connection, code: str) -> dict[str, Any]:
    """The event ``code``'s row as the events API shows it (without counts). Raises
    ``NotFound``."""
    require_possible_code(code)
    row = conn.execute(_SELECT + " WHERE e.code = %s", (code,)).fetchone()
    if row is None:
        raise not_found("event", code)
    return row


def event_rows(conn: psycopg.Connection, *, running: bool | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Up to ``limit`` event rows from ``offset``, newest first; ``running`` filters on
    whether each is happening now (``None``: all)."""
    where = "" if running is None else f" WHERE {RUNNING_SQL} = %(running)s"
    return conn.execute(_SELECT + where + " ORDER BY e.created_at DESC, e.id DESC LIMIT %(limit)s OFFSET %(offset)s",
                        {"running": running, "limit": limit, "offset": offset}).fetchall()


#: The columns a host sets on creating an event.
_CREATED = ("code", "name", "description", "starts_at", "ends_at", "face_search", "consent_text",
            "retention_days", "retention_deletes_photos")


def insert_event(conn: psycopg.Connection, values: dict[str, Any]) -> None:
    """Insert an event of ``values`` (every column of ``_CREATED``). Raises ``Conflict``
    ``event_exists`` when the code is taken."""
    try:
        conn.execute(
            sql.SQL("INSERT INTO events ({}) VALUES ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, _CREATED)), sql.SQL(", ").join(map(sql.Placeholder, _CREATED))),
            values,
        )
    except psycopg.errors.UniqueViolation:
        raise Conflict("event_exists", f"An event with code {values['code']!r} already exists.") from None


def update_event(conn: psycopg.Connection, code: str, changes: dict[str, Any]) -> None:
    """Set the columns of ``changes`` on event ``code``. Raises
    ``psycopg.errors.CheckViolation`` when starts_at would not be before ends_at."""
    assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes)
    conn.execute(sql.SQL("UPDATE events SET {}, updated_at = now() WHERE code = %(code)s").format(assignments),
                 {**changes, "code": code})


def delete_event(conn: psycopg.Connection, event_id: int) -> None:
    """Delete the event's row (its images, faces and people cascade)."""
    conn.execute("DELETE FROM events WHERE id = %s", (event_id,))


def running_events_due(conn: psycopg.Connection) -> list[str]:
    """Codes of the running events whose faces changed, or that a host corrected, since
    their last re-clustering, oldest first."""
    return [r["code"] for r in conn.execute(
        f"""SELECT e.code FROM events e WHERE {RUNNING_SQL}
            AND (e.faces_version > e.clustered_version OR e.corrections_version > e.clustered_corrections_version)
            ORDER BY e.id""")]


# --------------------------------------------------------------------------- version counters


def faces_changed(conn: psycopg.Connection, event_id: int) -> None:
    """Faces were added or removed: the timer re-clusters the event, search copies re-read it."""
    conn.execute("UPDATE events SET faces_version = faces_version + 1 WHERE id = %s", (event_id,))


def people_changed(conn: psycopg.Connection, event_id: int) -> None:
    """Faces changed person only: search copies re-read who is who."""
    conn.execute("UPDATE events SET clusters_version = clusters_version + 1 WHERE id = %s", (event_id,))


def corrected(conn: psycopg.Connection, event_id: int) -> None:
    """A host corrected the event's people: the timer re-clusters it on top of that."""
    conn.execute("UPDATE events SET corrections_version = corrections_version + 1 WHERE id = %s", (event_id,))


def event_versions(conn: psycopg.Connection, event_id: int) -> tuple[int, int] | None:
    """``(faces_version, clusters_version)`` of an event, or ``None`` when it is gone."""
    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT faces_version, clusters_version FROM events WHERE id = %s", (event_id,)).fetchone()
    return None if row is None else (row[0], row[1])


def clustering_state(conn: psycopg.Connection, event_id: int) -> dict[str, Any]:
    """What a re-clustering starts from: ``faces_version``, ``corrections_version``,
    ``next_cluster_id``. Read before the faces, so a change committed before is in both."""
    return conn.execute("SELECT faces_version, corrections_version, next_cluster_id FROM events WHERE id = %s",
                        (event_id,)).fetchone()


def record_clustered(conn: psycopg.Connection, event_id: int, state: dict[str, Any], next_cluster_id: int) -> None:
    """Record a re-clustering done from ``state`` (``clustering_state``): the versions it
    saw, now as its time, and the next free person id."""
    conn.execute(
        """UPDATE events SET clustered_version = %s, clustered_corrections_version = %s,
                             last_clustered_at = now(), next_cluster_id = %s
           WHERE id = %s""",
        (state["faces_version"], state["corrections_version"], next_cluster_id, event_id),
    )


def last_clustered_at(conn: psycopg.Connection, event_id: int) -> Any:
    """When the event was last re-clustered (``datetime``), or ``None``."""
    return conn.execute("SELECT last_clustered_at FROM events WHERE id = %s", (event_id,)).fetchone()["last_clustered_at"]


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class EventCounts:
    """An event's photos (rows, any status) and faces, and the bytes it stores: its accepted
    (``processed``) photos' blobs and its faces' thumbnails (thumbnails indexed before their
    sizes were kept do not count)."""

    image_count: int = 0
    face_count: int = 0
    photo_bytes: int = 0
    thumbnail_bytes: int = 0


def event_counts(conn: psycopg.Connection, event_ids: Sequence[int]) -> dict[int, EventCounts]:
    """``event id → EventCounts`` for the given events (absent ones count 0)."""
    rows = conn.execute(
        """SELECT e.id, i.images, i.photo_bytes, f.faces, f.thumbnail_bytes
           FROM unnest(%s::bigint[]) AS e(id)
           CROSS JOIN LATERAL (SELECT count(*) AS images,
                                      coalesce(sum(size_bytes) FILTER (WHERE status = 'processed'), 0) AS photo_bytes
                               FROM images WHERE event_id = e.id) i
           CROSS JOIN LATERAL (SELECT count(*) AS faces, coalesce(sum(thumbnail_bytes), 0) AS thumbnail_bytes
                               FROM faces WHERE event_id = e.id) f""",
        (list(event_ids),),
    ).fetchall()
    return {r["id"]: EventCounts(r["images"], r["faces"], int(r["photo_bytes"]), int(r["thumbnail_bytes"]))
            for r in rows}


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
    for it before writing its result (``kanta.store.images.lock_for_result`` takes ``FOR KEY
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
