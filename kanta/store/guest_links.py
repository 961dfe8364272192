"""The one module that writes ``guest_links``: each event's one guest link, kept as the
SHA-256 of its token (``kanta.guests.tokens``), its rights and its expiry.

Every function takes an open connection (``kanta.db.connection``) and runs in its
transaction; none commits. Rows are dicts (the pool's row factory). Raises
``psycopg.Error`` on database errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

#: A link's columns as ``link_of_event`` and ``link_by_token`` return them: ``link_id``,
#: ``event_id``, the rights ``can_upload`` / ``can_find_me`` / ``can_gallery``,
#: ``expires_at``, ``created_at`` and ``expired`` (by the database's clock).
_LINK_COLUMNS = """gl.id AS link_id, gl.event_id, gl.can_upload, gl.can_find_me, gl.can_gallery, gl.expires_at,
       gl.created_at, gl.expires_at <= now() AS expired"""


def put_link(conn: psycopg.Connection, event_id: int, token_sha256: bytes, *, can_upload: bool, can_find_me: bool,
             can_gallery: bool, expires_at: dt.datetime) -> dt.datetime:
    """Make the event's guest link, replacing the one it had, in one statement (concurrent
    rotations cannot both insert). A replaced link gets a new id, so its abuse counters
    (``kanta.caps``, keyed by link id) start afresh. Returns the link's ``created_at``."""
    return conn.execute(
        """INSERT INTO guest_links (event_id, token_sha256, can_upload, can_find_me, can_gallery, expires_at)
           VALUES (%(event_id)s, %(hash)s, %(upload)s, %(find_me)s, %(gallery)s, %(expires_at)s)
           ON CONFLICT (event_id) DO UPDATE SET id = DEFAULT, token_sha256 = EXCLUDED.token_sha256,
               can_upload = EXCLUDED.can_upload, can_find_me = EXCLUDED.can_find_me,
               can_gallery = EXCLUDED.can_gallery, expires_at = EXCLUDED.expires_at, created_at = now()
           RETURNING created_at""",
        {"event_id": event_id, "hash": token_sha256, "upload": can_upload, "find_me": can_find_me,
         "gallery": can_gallery, "expires_at": expires_at},
    ).fetchone()["created_at"]


def link_of_event(conn: psycopg.Connection, event_id: int) -> dict[str, Any] | None:
    """The event's guest link (``_LINK_COLUMNS``), or ``None`` when it has none."""
    return conn.execute(f"SELECT {_LINK_COLUMNS} FROM guest_links gl WHERE gl.event_id = %s", (event_id,)).fetchone()


def link_by_token(conn: psycopg.Connection, token_sha256: bytes) -> dict[str, Any] | None:
    """The link whose token has this SHA-256 (``_LINK_COLUMNS``) with its event's ``code``,
    ``name``, ``description``, ``starts_at``, ``ends_at``, ``face_search`` and
    ``consent_text``; ``None`` for an unknown hash, expired or not. Looked up by index: a
    timing difference could only tell a guesser about hashes, and a token cannot be found
    from its hash."""
    return conn.execute(
        f"""SELECT {_LINK_COLUMNS}, e.code, e.name, e.description, e.starts_at, e.ends_at, e.face_search,
                   e.consent_text
            FROM guest_links gl JOIN events e ON e.id = gl.event_id WHERE gl.token_sha256 = %s""",
        (token_sha256,),
    ).fetchone()


def delete_link(conn: psycopg.Connection, event_id: int) -> bool:
    """Revoke the event's guest link; ``False`` when it had none."""
    return bool(conn.execute("DELETE FROM guest_links WHERE event_id = %s", (event_id,)).rowcount)
