"""``kanta.store.events``, the one writer of the ``events`` table, tested directly against
real PostgreSQL: an event's row, its version counters, what re-clustering records, its
statistics and privacy records."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from kanta.db import connection
from kanta.errors import Conflict, NotFound
from kanta.store import events as event_store


def _values(**changes: Any) -> dict[str, Any]:
    values = {"code": f"st-{uuid.uuid4().hex[:12]}", "name": "Store", "description": None, "starts_at": None,
              "ends_at": None, "face_search": True, "consent_text": None, "retention_days": 30,
              "retention_deletes_photos": False}
    return values | changes


@pytest.fixture
def event_id(services) -> int:
    values = _values()
    with connection() as conn:
        event_store.insert_event(conn, values)
        return event_store.get_event_id(conn, values["code"])


def _row(event_id: int) -> dict[str, Any]:
    with connection() as conn:
        return conn.execute("SELECT * FROM events WHERE id = %s", (event_id,)).fetchone()


def test_an_inserted_event_reads_back_and_a_taken_code_is_a_conflict(services):
    values = _values(name="Ana & Ben", retention_days=None)
    with connection() as conn:
        event_store.insert_event(conn, values)
        row = event_store.event_row(conn, values["code"])
    assert (row["code"], row["name"], row["retention_days"], row["running"]) == (values["code"], "Ana & Ben", None, True)
    with pytest.raises(Conflict) as taken, connection() as conn:
        event_store.insert_event(conn, values)
    assert taken.value.code == "event_exists"


def test_unknown_and_impossible_codes_are_not_found(services):
    for code in ("no-such-event", "BAD CODE\x00"):
        with pytest.raises(NotFound) as missing, connection() as conn:
            event_store.get_event_id(conn, code)
        assert missing.value.code == "event_not_found"


def test_an_update_sets_only_the_columns_given_and_the_database_keeps_starts_before_ends(event_id):
    code = _row(event_id)["code"]
    with connection() as conn:
        event_store.update_event(conn, code, {"name": "Renamed"})
    assert (_row(event_id)["name"], _row(event_id)["retention_days"]) == ("Renamed", 30)
    with pytest.raises(psycopg.errors.CheckViolation), connection() as conn:
        event_store.update_event(conn, code, {"starts_at": "2026-06-02T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"})
    assert _row(event_id)["starts_at"] is None  # the refused change wrote nothing


def test_version_counters_move_one_step_each(event_id):
    before = _row(event_id)
    with connection() as conn:
        event_store.faces_changed(conn, event_id)
        event_store.people_changed(conn, event_id)
        event_store.people_changed(conn, event_id)
        event_store.corrected(conn, event_id)
        assert event_store.event_versions(conn, event_id) == (before["faces_version"] + 1,
                                                              before["clusters_version"] + 2)
    assert _row(event_id)["corrections_version"] == before["corrections_version"] + 1


def test_a_recorded_run_takes_the_event_off_the_due_list_until_its_faces_change(event_id):
    code = _row(event_id)["code"]
    with connection() as conn:
        event_store.faces_changed(conn, event_id)
        assert code in event_store.running_events_due(conn)
        state = event_store.clustering_state(conn, event_id)
        event_store.record_clustered(conn, event_id, state, next_cluster_id=7)
        assert code not in event_store.running_events_due(conn)
        assert event_store.last_clustered_at(conn, event_id) is not None
        assert event_store.clustering_state(conn, event_id)["next_cluster_id"] == 7
        event_store.corrected(conn, event_id)  # a host's correction makes it due again
        assert code in event_store.running_events_due(conn)


def test_a_run_that_read_an_older_version_leaves_the_event_due(event_id):
    """A face added while a run clusters: the run records the version it read, not the new one."""
    code = _row(event_id)["code"]
    with connection() as conn:
        state = event_store.clustering_state(conn, event_id)
        event_store.faces_changed(conn, event_id)
        event_store.record_clustered(conn, event_id, state, next_cluster_id=1)
        assert code in event_store.running_events_due(conn)


def test_counts_of_an_event_without_photos_are_zero_and_unknown_events_are_absent(event_id):
    with connection() as conn:
        counts = event_store.event_counts(conn, [event_id, -1])
    assert counts[event_id] == event_store.EventCounts(0, 0, 0, 0)
    assert counts[-1] == event_store.EventCounts(0, 0, 0, 0)


def test_privacy_records_add_up_and_a_purge_ends_the_retention(event_id):
    with connection() as conn:
        event_store.record_erased(conn, event_id, 3)
        event_store.record_erased(conn, event_id, 2)
        assert not event_store.face_policy(conn, event_id).purged
        event_store.record_purge(conn, event_id, 9)
        policy = event_store.face_policy(conn, event_id)
    row = _row(event_id)
    assert (row["erased_face_count"], row["purged_face_count"]) == (5, 9)
    assert policy.purged and policy.retention_over


def test_a_deleted_event_has_no_policy_and_no_versions(event_id):
    with connection() as conn:
        event_store.delete_event(conn, event_id)
        assert event_store.face_policy(conn, event_id) is None
        assert event_store.event_versions(conn, event_id) is None
        assert event_store.event_dates(conn, event_id) is None
