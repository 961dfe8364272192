"""The one module that writes the people tables: ``clusters`` (names hosts give people),
``face_corrections`` (a host's "this face is this person" pins and "not this person"
rejections) and ``cluster_runs`` (each re-clustering's record). Which person a face is in
is a column of ``faces`` (``kanta.store.images``).

Every function takes an open connection (``kanta.db.connection``) and runs in its
transaction; none commits. Raises ``psycopg.Error`` on database errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# --------------------------------------------------------------------------- names


def person_names(conn: psycopg.Connection, event_id: int, persons: Sequence[int]) -> dict[int, str]:
    """The names hosts gave any of ``persons`` of the event: ``cluster_id → name`` (unnamed
    people are absent)."""
    if not persons:
        return {}
    return {r["cluster_id"]: r["name"] for r in conn.execute(
        "SELECT cluster_id, name FROM clusters WHERE event_id = %s AND cluster_id = ANY(%s) AND name IS NOT NULL",
        (event_id, list(persons)))}


def set_name(conn: psycopg.Connection, event_id: int, person: int, name: str | None) -> None:
    """Name person ``person`` of the event (``None`` clears the name)."""
    conn.execute(
        """INSERT INTO clusters (event_id, cluster_id, name) VALUES (%s, %s, %s)
           ON CONFLICT (event_id, cluster_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()""",
        (event_id, person, name),
    )


def carry_name(conn: psycopg.Connection, event_id: int, person: int, into: int) -> None:
    """Person ``person`` is merged into ``into``: ``into`` keeps its name, or takes
    ``person``'s; ``person``'s name goes."""
    conn.execute(
        """INSERT INTO clusters (event_id, cluster_id, name)
           SELECT event_id, %s, name FROM clusters WHERE event_id = %s AND cluster_id = %s AND name IS NOT NULL
           ON CONFLICT (event_id, cluster_id) DO UPDATE
           SET name = coalesce(clusters.name, EXCLUDED.name), updated_at = now()""",
        (into, event_id, person),
    )
    forget_names(conn, event_id, [person])


def forget_names(conn: psycopg.Connection, event_id: int, persons: list[int] | None = None) -> None:
    """Delete the names of the event's ``persons`` (``None``: of all its people): a person's
    name is personal data too, and goes when their faces do."""
    conn.execute("DELETE FROM clusters WHERE event_id = %s AND (%s::int[] IS NULL OR cluster_id = ANY(%s))",
                 (event_id, persons, persons))


# --------------------------------------------------------------------------- corrections


def event_corrections(conn: psycopg.Connection, event_id: int) -> list[dict[str, Any]]:
    """Every correction of the event's faces, oldest first: ``face_id``, ``kind`` (``pinned``
    or ``rejected``), ``cluster_id``."""
    return conn.execute(
        "SELECT face_id, kind, cluster_id FROM face_corrections WHERE event_id = %s ORDER BY created_at", (event_id,)
    ).fetchall()


def corrections_of(conn: psycopg.Connection, face_ids: list[int]) -> list[dict[str, Any]]:
    """The corrections of faces ``face_ids``: ``face_id``, ``kind``, ``cluster_id``."""
    if not face_ids:
        return []
    return conn.execute(
        "SELECT face_id, kind, cluster_id FROM face_corrections WHERE face_id = ANY(%s)", (face_ids,)
    ).fetchall()


def pin(conn: psycopg.Connection, event_id: int, face_ids: list[int], person: int) -> None:
    """Pin faces ``face_ids`` to ``person``: a face has one pin, and pinning it to a person
    also withdraws "not this person" for that person. Two statements, however many faces."""
    conn.execute(
        """DELETE FROM face_corrections
           WHERE face_id = ANY(%s) AND (kind = 'pinned' OR (kind = 'rejected' AND cluster_id = %s))""",
        (face_ids, person),
    )
    conn.execute(
        """INSERT INTO face_corrections (face_id, event_id, kind, cluster_id)
           SELECT unnest(%s::bigint[]), %s, 'pinned', %s""",
        (face_ids, event_id, person),
    )


def reject(conn: psycopg.Connection, event_id: int, face_id: int, person: int) -> None:
    """Face ``face_id`` is not ``person``: its pin goes, the rejection stays for every run."""
    conn.execute("DELETE FROM face_corrections WHERE face_id = %s AND kind = 'pinned'", (face_id,))
    conn.execute(
        """INSERT INTO face_corrections (face_id, event_id, kind, cluster_id)
           VALUES (%s, %s, 'rejected', %s) ON CONFLICT DO NOTHING""",
        (face_id, event_id, person),
    )


def add_corrections(conn: psycopg.Connection, rows: Sequence[tuple[int, int, str, int]]) -> None:
    """Insert corrections ``(face_id, event_id, kind, cluster_id)``; ones already there stay."""
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO face_corrections (face_id, event_id, kind, cluster_id) VALUES (%s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""", rows)


# --------------------------------------------------------------------------- runs


def record_run(conn: psycopg.Connection, event_id: int, started_at: dt.datetime, run: Any,
               parameters: dict[str, Any]) -> None:
    """Record a re-clustering ``run`` (its ``trigger``, ``algorithm``, ``face_count``,
    ``cluster_count``, ``noise_count``, ``kept_count`` and ``seconds``) with its
    ``parameters`` (JSON)."""
    conn.execute(
        """INSERT INTO cluster_runs (event_id, started_at, trigger, algorithm, parameters, face_count,
                                     cluster_count, noise_count, kept_count, seconds)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (event_id, started_at, run.trigger, run.algorithm, Jsonb(parameters), run.face_count,
         run.cluster_count, run.noise_count, run.kept_count, run.seconds),
    )


def last_run(conn: psycopg.Connection, event_id: int) -> dict[str, Any] | None:
    """The event's last re-clustering: ``trigger``, ``algorithm``, ``parameters``,
    ``started_at``, ``face_count``, ``cluster_count``, ``noise_count``, ``kept_count``,
    ``seconds``; ``None`` before the first."""
    return conn.execute(
        """SELECT trigger, algorithm, parameters, started_at, face_count, cluster_count, noise_count, kept_count,
                  seconds
           FROM cluster_runs WHERE event_id = %s ORDER BY id DESC LIMIT 1""",
        (event_id,),
    ).fetchone()
