"""Per-event approximate nearest-neighbour indexes for selfie search at scale.

An HNSW index over the whole ``faces`` table cannot serve "nearest faces of one event":
pgvector applies the ``event_id`` filter after the index scan, so with one event among many
it returns fewer rows than asked (pgvector 0.8's iterative scans fix that, 0.6 has none).
A *partial* HNSW index per large event (``WHERE event_id = N AND excluded_reason IS NULL``)
holds only that event's usable faces, so no row is dropped, on pgvector 0.6 and 0.8 alike.
Events below ``MIN_FACES`` are scanned exactly (btree on ``event_id``), fast at that size.
HNSW: Malkov & Yashunin, arXiv:1603.09320; pgvector README, "HNSW".
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from kanta.db import connect

log = logging.getLogger(__name__)

#: Usable faces an event needs before it gets its own HNSW index.
MIN_FACES = 20_000
#: Candidates the HNSW scan keeps (``hnsw.ef_search``): recall@20 ≥ 0.99 in bench/search.py.
EF_SEARCH = 200


def index_name(event_id: int) -> str:
    """Name of the partial HNSW index of event ``event_id``."""
    return f"faces_hnsw_event_{int(event_id)}"


def ensure_event_index(dsn: str | None, event_id: int, min_faces: int = MIN_FACES) -> bool:
    """Create event ``event_id``'s partial HNSW index if it has at least ``min_faces`` usable
    faces and none exists; return whether the index exists afterwards.

    Uses ``CREATE INDEX CONCURRENTLY`` (writes go on meanwhile), so it opens its own
    autocommit connection to ``dsn`` (``None``: ``KANTA_DATABASE_URL``). Raises ``psycopg.Error`` on database errors.
    """
    name = index_name(event_id)
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0]:
            return True
        count = conn.execute(
            "SELECT count(*) FROM faces WHERE event_id = %s AND excluded_reason IS NULL", (event_id,)
        ).fetchone()[0]
        if count < min_faces:
            return False
        log.info("creating %s over %d faces", name, count)
        conn.execute(
            sql.SQL(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON faces USING hnsw (descriptor vector_l2_ops) "
                "WHERE event_id = {} AND excluded_reason IS NULL"
            ).format(sql.Identifier(name), sql.Literal(int(event_id)))
        )
    return True


def drop_event_index(conn: psycopg.Connection, event_id: int) -> None:
    """Drop event ``event_id``'s partial index, if any (when the event is deleted)."""
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name(event_id))))
