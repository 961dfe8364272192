"""Search scans a per-process copy of each event's descriptors (kanta.search.descriptors): it
must give pgvector's exact answer and follow the database as photos come and go."""

from __future__ import annotations

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from kanta.db import connection
from kanta.search import descriptors
from tests.helpers import photo, put_blob, run_blob_trigger

SELFIE = "obama_4_480p.jpg"


def add(functions, code: str, name: str) -> None:
    put_blob(f"{code}/{name}", photo(name))
    run_blob_trigger(functions, f"{code}/{name}")


def search(api, code: str) -> list[dict]:
    status, body = api("search_event", "POST", route={"code": code}, body=photo(SELFIE))
    assert status == 200, body
    return body["matches"]


def event_id(code: str) -> int:
    with connection() as conn:
        return conn.execute("SELECT id FROM events WHERE code = %s", (code,)).fetchone()["id"]


def test_same_faces_and_distances_as_pgvector(api, functions, event, services):
    code = event["code"]
    for name in ("obama_1.jpg", "biden_1.jpg", "group_biden_obama.jpg", "kit_harington_1.jpg"):
        add(functions, code, name)
    eid = event_id(code)
    q = np.random.default_rng(0).normal(0, 0.09, 128).astype(np.float32)
    with connection() as conn:
        ours = descriptors.nearest_faces(conn, eid, q, 10)
    with psycopg.connect(services["KANTA_DATABASE_URL"]) as conn:
        register_vector(conn)
        exact = conn.execute(
            "SELECT id, descriptor <-> %s AS d FROM faces WHERE event_id = %s AND excluded_reason IS NULL "
            "ORDER BY d, id LIMIT 10", (q, eid)).fetchall()
    assert [f for f, _ in ours] == [r[0] for r in exact] and len(ours) == 5
    assert np.allclose([d for _, d in ours], [r[1] for r in exact], atol=1e-5)


def test_the_copy_follows_new_and_deleted_photos(api, functions, event):
    code = event["code"]
    add(functions, code, "obama_1.jpg")
    first = search(api, code)
    assert len(first) == 1  # the copy is read now

    add(functions, code, "obama_2.jpg")  # appended on the next search
    second = search(api, code)
    assert len(second) == 2 and {m["image_id"] for m in first} < {m["image_id"] for m in second}

    gone = first[0]["image_id"]
    assert api("delete_image", "DELETE", route={"image_id": gone})[0] == 204  # the copy is rebuilt
    third = search(api, code)
    assert [m["image_id"] for m in third] == [m["image_id"] for m in second if m["image_id"] != gone]

    add(functions, code, "obama_1.jpg")  # processed again: new face rows, new ids
    fourth = search(api, code)
    assert len(fourth) == 2


def test_deleting_the_event_forgets_its_copy(api, functions, event):
    code = event["code"]
    add(functions, code, "obama_1.jpg")
    search(api, code)
    eid = event_id(code)
    assert eid in descriptors._copies
    assert api("delete_event", "DELETE", route={"code": code})[0] == 204
    assert eid not in descriptors._copies
