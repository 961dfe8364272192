"""``kanta.store.people``, the one writer of ``clusters``, ``face_corrections`` and
``cluster_runs``, tested directly against real PostgreSQL (faces come from indexing real
photos of tests/data)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from kanta.db import connection
from kanta.store import people as people_store
from kanta.store.events import get_event_id
from tests.clusters.test_people import upload


def test_names_are_set_carried_into_a_merge_and_forgotten(services, event):
    with connection() as conn:
        event_id = get_event_id(conn, event["code"])
        people_store.set_name(conn, event_id, 1, "Ana")
        people_store.set_name(conn, event_id, 2, "Ben")
        people_store.set_name(conn, event_id, 3, None)
        assert people_store.person_names(conn, event_id, [1, 2, 3, 4]) == {1: "Ana", 2: "Ben"}
        people_store.carry_name(conn, event_id, 1, into=3)  # 3 unnamed: takes Ana
        people_store.carry_name(conn, event_id, 2, into=3)  # 3 named: keeps Ana
        assert people_store.person_names(conn, event_id, [1, 2, 3]) == {3: "Ana"}
        people_store.set_name(conn, event_id, 5, "Cy")
        people_store.forget_names(conn, event_id, [3])
        assert people_store.person_names(conn, event_id, [3, 5]) == {5: "Cy"}
        people_store.forget_names(conn, event_id)
        assert people_store.person_names(conn, event_id, [5]) == {}
        assert people_store.person_names(conn, event_id, []) == {}


def test_a_face_has_one_pin_and_a_pin_withdraws_its_rejection(api, functions, event):
    upload(api, functions, event["code"], "obama_1.jpg", "biden_1.jpg")
    with connection() as conn:
        event_id = get_event_id(conn, event["code"])
        a, b = (r["id"] for r in conn.execute("SELECT id FROM faces WHERE event_id = %s ORDER BY id", (event_id,)))
        people_store.reject(conn, event_id, a, 4)
        people_store.pin(conn, event_id, [a, b], 3)
        people_store.pin(conn, event_id, [a], 4)  # moves a's pin and withdraws "a is not 4"
        kept = {(c["face_id"], c["kind"], c["cluster_id"]) for c in people_store.event_corrections(conn, event_id)}
        assert kept == {(a, "pinned", 4), (b, "pinned", 3)}
        people_store.reject(conn, event_id, b, 3)  # "not this person" drops b's pin
        people_store.reject(conn, event_id, b, 3)  # said twice: recorded once
        assert {(c["kind"], c["cluster_id"]) for c in people_store.corrections_of(conn, [b])} == {("rejected", 3)}
        assert people_store.corrections_of(conn, []) == []
        people_store.add_corrections(conn, [(b, event_id, "rejected", 3), (b, event_id, "rejected", 5)])
        assert len(people_store.corrections_of(conn, [b])) == 2


def test_the_last_run_is_the_one_recorded_last(services, event):
    started = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with connection() as conn:
        event_id = get_event_id(conn, event["code"])
        assert people_store.last_run(conn, event_id) is None
        for count in (4, 6):
            run = SimpleNamespace(trigger="manual", algorithm="graph_average", face_count=count, cluster_count=2,
                                  noise_count=1, kept_count=0, seconds=0.5)
            people_store.record_run(conn, event_id, started, run, {"eps": 0.5, "onset": None})
        last = people_store.last_run(conn, event_id)
    assert (last["face_count"], last["parameters"]) == (6, {"eps": 0.5, "onset": None})
