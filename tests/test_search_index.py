"""The per-event HNSW index: created only for large events, serves the search query shape,
gives the same photos as the exact scan, and goes away with its event."""

from __future__ import annotations

import numpy as np
import psycopg

from kanta.search.index import ensure_event_index, index_name
from kanta.search.service import _NEAREST_FACES
from tests.conftest import photo, put_blob, run_blob_trigger


def event_id(dsn: str, code: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT id FROM events WHERE code = %s", (code,)).fetchone()[0]


def test_index_serves_search_with_the_same_results(api, functions, event, services):
    dsn = services["KANTA_DATABASE_URL"]
    code = event["code"]
    for name in ("obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "kit_harington_1.jpg"):
        put_blob(f"{code}/{name}", photo(name))
        run_blob_trigger(functions, f"{code}/{name}")
    selfie = photo("obama_4_480p.jpg")
    exact = api("search_event", "POST", route={"code": code}, body=selfie)[1]["matches"]

    eid = event_id(dsn, code)
    assert ensure_event_index(dsn, eid) is False  # 4 faces: far below the threshold
    assert ensure_event_index(dsn, eid, min_faces=1) is True
    indexed = api("search_event", "POST", route={"code": code}, body=selfie)[1]["matches"]
    assert [m["face_id"] for m in indexed] == [m["face_id"] for m in exact] and len(exact) == 2

    with psycopg.connect(dsn) as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        # A 4-row table: sorting is cheapest; forbid it to see whether the index can serve the order.
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        plan = conn.execute(
            "EXPLAIN " + _NEAREST_FACES,
            {"q": np.zeros(128, dtype=np.float32), "e": eid, "n": 20},
        ).fetchall()
    assert any(index_name(eid) in row[0] for row in plan)

    assert api("delete_event", "DELETE", route={"code": code})[0] == 204
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (index_name(eid),)).fetchone()[0] is None
