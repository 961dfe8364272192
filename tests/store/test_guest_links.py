"""``kanta.store.guest_links``, the one writer of ``guest_links``, tested directly against
real PostgreSQL: an event has one link, a rotation replaces its token and id, an expired
link is found but marked expired, and a revoked one is gone."""

from __future__ import annotations

import datetime as dt
import hashlib

from kanta.db import connection
from kanta.store import guest_links as link_store
from kanta.store.events import get_event_id

RIGHTS = {"can_upload": True, "can_find_me": False, "can_gallery": True}


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def test_a_rotation_replaces_the_token_and_the_id_of_the_one_link(event):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with connection() as conn:
        event_id = get_event_id(conn, event["code"])
        assert link_store.link_of_event(conn, event_id) is None
        created = link_store.put_link(conn, event_id, _hash("first"), expires_at=later, **RIGHTS)
        first = link_store.link_of_event(conn, event_id)
        assert first["created_at"] == created and first["expires_at"] == later and not first["expired"]
        assert (first["can_upload"], first["can_find_me"], first["can_gallery"]) == (True, False, True)
        by_token = link_store.link_by_token(conn, _hash("first"))
        assert by_token["link_id"] == first["link_id"] and by_token["code"] == event["code"]
        assert by_token["name"] == event["name"]

        link_store.put_link(conn, event_id, _hash("second"), expires_at=later, **RIGHTS)
        assert link_store.link_by_token(conn, _hash("first")) is None  # the old token opens nothing
        second = link_store.link_by_token(conn, _hash("second"))
        assert second["link_id"] != first["link_id"]  # fresh abuse counters
        assert conn.execute("SELECT count(*) AS n FROM guest_links WHERE event_id = %s",
                            (event_id,)).fetchone()["n"] == 1


def test_an_expired_link_is_found_as_expired_and_a_revoked_one_is_gone(event):
    with connection() as conn:
        event_id = get_event_id(conn, event["code"])
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        link_store.put_link(conn, event_id, _hash("old"), expires_at=past, **RIGHTS)
        assert link_store.link_by_token(conn, _hash("old"))["expired"] is True
        assert link_store.delete_link(conn, event_id) is True
        assert link_store.delete_link(conn, event_id) is False
        assert link_store.link_of_event(conn, event_id) is None
        assert link_store.link_by_token(conn, _hash("old")) is None
