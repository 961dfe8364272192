"""Latency and recall of Kanta's selfie-search query at event scale, against an exact NumPy scan.

What is measured, in one run on one embedded PostgreSQL (pgserver: PostgreSQL 16, pgvector 0.6):

* a ``faces`` table (Kanta's real schema, applied by ``kanta.migrate``) holding ``--big-events``
  events of ``--big-size`` faces (default 10 × 100 000 = 1 000 000 rows) plus one event of
  each smaller size (default 1 000 and 10 000);
* for one event of each size, three ways to find its 20 faces nearest to a selfie:
  ``kanta``, what Kanta runs (``kanta.search.descriptors.nearest_faces`` on the process's
  copy of the event's descriptors, including its ``faces_version`` check, then the metadata
  query ``kanta.search.service._FACES_BY_ID``); and the two PostgreSQL alternatives it
  replaced: ``pg exact`` (``ORDER BY descriptor <-> q LIMIT 20`` over the event's rows found
  through the btree on ``event_id``, every distance computed) and ``pg hnsw`` (the same query
  served by a partial HNSW index of the event, m 16, ef_construction 64, ``hnsw.ef_search``
  ``EF_SEARCH``);
* the floor: an exact top-20 over the same event's descriptors held in a NumPy float32
  array (squared distances as ``|x|^2 - 2 x.q + |q|^2``, ``argpartition``), excluding the
  time to encode the selfie, as the query latency excludes it too;
* recall@20: the fraction of the exact top-20 face ids the query returns.

Descriptors are synthetic: identities with geometric photo counts (mean 10), centres and
per-photo noise scaled so that same-person distances are about 0.4 and different-person
distances about 0.9, as with dlib's descriptors. Queries are a known face plus noise (a
selfie of someone at the event). Latency is the wall time of ``execute`` + ``fetchall`` over
a Unix socket, p50 and p95 over ``--queries`` queries after 20 warm-up queries.

Run: ``.venv/bin/python bench/search.py`` (about 8 minutes at the default sizes on 2 cores;
``--big-events 1 --big-size 20000`` for a quick look).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kanta.local.services import LocalPostgres
from kanta.migrate import migrate
from kanta.search.descriptors import nearest_faces
from kanta.search.service import _FACES_BY_ID

DIM = 128
TOP_K = 20
#: hnsw.ef_search of the ``pg hnsw`` alternative (recall@20 0.97 at 100k faces; 40, the default, gives 0.87).
EF_SEARCH = 200
# The query shape an HNSW index can serve: ORDER BY distance LIMIT on faces alone.
_PG_NEAREST = """
SELECT c.*, i.blob_name FROM (
    SELECT f.id AS face_id, f.image_id, f.cluster_id, f.descriptor <-> %(q)s AS distance
    FROM faces f WHERE f.event_id = %(e)s AND f.excluded_reason IS NULL
    ORDER BY f.descriptor <-> %(q)s LIMIT %(n)s
) c JOIN images i ON i.id = c.image_id ORDER BY c.distance, c.face_id
"""
# Per-coordinate standard deviations: sqrt(2 * 128) * sigma is the expected distance
# between two draws, so 0.056 gives ~0.9 between centres and 0.025 gives ~0.4 within one.
CENTRE_SIGMA, FACE_SIGMA, QUERY_SIGMA = 0.056, 0.025, 0.02


def synthetic_faces(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 descriptors ``(n, 128)`` of identities with geometric photo counts."""
    out = np.empty((n, DIM), dtype=np.float32)
    filled = 0
    while filled < n:
        count = min(int(rng.geometric(0.1)), n - filled)
        centre = rng.normal(0.0, CENTRE_SIGMA, DIM)
        out[filled: filled + count] = centre + rng.normal(0.0, FACE_SIGMA, (count, DIM))
        filled += count
    return out


def load_event(conn: psycopg.Connection, code: str, descriptors: np.ndarray) -> tuple[int, np.ndarray]:
    """Insert an event with one image per 10 faces and ``descriptors`` as its faces (binary
    COPY); return the event id and the face ids in descriptor order."""
    event_id = conn.execute("INSERT INTO events (code) VALUES (%s) RETURNING id", (code,)).fetchone()["id"]
    images = [uuid.uuid4() for _ in range((len(descriptors) + 9) // 10)]
    with conn.cursor().copy("COPY images (id, event_id, blob_name, status) FROM STDIN") as copy:
        for image_id in images:
            copy.write_row((image_id, event_id, f"{code}/{image_id}.jpg", "processed"))
    first = conn.execute("SELECT coalesce(max(id), 0) AS m FROM faces").fetchone()["m"]
    with conn.cursor().copy(
        "COPY faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "int8", "int4", "int4", "int4", "int4", "vector"])
        for i, d in enumerate(descriptors):
            copy.write_row((images[i // 10], event_id, 0, 0, 100, 100, d))
    ids = [r["id"] for r in conn.execute(
        "SELECT id FROM faces WHERE event_id = %s AND id > %s ORDER BY id", (event_id, first))]
    conn.commit()
    return event_id, np.array(ids)


def numpy_top(matrix: np.ndarray, norms: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``matrix`` nearest to ``q`` (exact), nearest first."""
    d2 = norms - 2.0 * (matrix @ q) + float(q @ q)
    top = np.argpartition(d2, k)[:k]
    return top[np.argsort(d2[top])]


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def kanta_query(conn: psycopg.Connection, event_id: int, q: np.ndarray) -> set[int]:
    """Kanta's search data path for one selfie descriptor: the face ids it returns."""
    nearest = nearest_faces(conn, event_id, q, TOP_K)
    rows = conn.execute(_FACES_BY_ID, ([f for f, _ in nearest], event_id)).fetchall()
    return {r["face_id"] for r in rows}


def pg_query(conn: psycopg.Connection, event_id: int, q: np.ndarray) -> set[int]:
    conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
    return {r["face_id"] for r in conn.execute(_PG_NEAREST, {"q": q, "e": event_id, "n": TOP_K})}


def measure(run, ids: np.ndarray, matrix: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """p50/p95 ms of ``run(q)`` (face ids) and of the NumPy floor, and recall@20 of ``run``."""
    norms = (matrix.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    sql_ms, np_ms, recalls = [], [], []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        got = run(q)
        took = time.perf_counter() - t
        t = time.perf_counter()
        exact = ids[numpy_top(matrix, norms, q, TOP_K)]
        floor = time.perf_counter() - t
        if i >= 20:  # warm-up
            sql_ms.append(took * 1e3)
            np_ms.append(floor * 1e3)
            recalls.append(len(set(exact.tolist()) & got) / TOP_K)
    return {
        "p50_ms": percentile(sql_ms, 50), "p95_ms": percentile(sql_ms, 95),
        "numpy_p50_ms": percentile(np_ms, 50), "numpy_p95_ms": percentile(np_ms, 95),
        "recall_at_20": statistics.fmean(recalls),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="sizes of the small events (comma-separated)")
    parser.add_argument("--big-size", type=int, default=100_000, help="faces per big event")
    parser.add_argument("--big-events", type=int, default=10, help="number of big events")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261120)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"bench/search.py, {started}")

    root = Path(tempfile.mkdtemp(prefix="kanta-bench-search-"))
    root.chmod(0o755)
    postgres = LocalPostgres(root / "pgdata").start()
    dsn = postgres.dsn("bench_search")
    migrate(dsn)
    results = []
    try:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            register_vector(conn)
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            print(f"PostgreSQL {conn.info.server_version}, pgvector {version['extversion']}")
            events = []
            t = time.perf_counter()
            for size in [int(s) for s in args.sizes.split(",") if s]:
                faces = synthetic_faces(size, rng)
                events.append((size, *load_event(conn, f"small-{size}", faces), faces))
            for n in range(args.big_events):
                faces = synthetic_faces(args.big_size, rng)
                event_id, ids = load_event(conn, f"big-{n}", faces)
                if n == 0:
                    events.append((args.big_size, event_id, ids, faces))
            conn.execute("ANALYZE faces")
            total = conn.execute("SELECT count(*) AS n FROM faces").fetchone()["n"]
            print(f"faces table: {total} rows in {len(events) - 1 + args.big_events} events "
                  f"(loaded in {time.perf_counter() - t:.0f} s); queries: {args.queries} per case, "
                  f"20 warm-up; top {TOP_K}")
            print()
            header = (f"{'faces/event':>11}  {'query':<8} {'p50 ms':>8} {'p95 ms':>8} {'numpy p50':>10} "
                      f"{'numpy p95':>10} {'p95 ratio':>10} {'recall@20':>10} {'setup s':>8}")
            print(header)
            print("-" * len(header))
            for size, event_id, ids, faces in events:
                picks = rng.integers(0, size, args.queries + 20)
                queries = (faces[picks] + rng.normal(0, QUERY_SIGMA, (len(picks), DIM))).astype(np.float32)
                for variant in ("kanta", "pg exact", "pg hnsw"):
                    conn.commit()
                    t = time.perf_counter()
                    if variant == "kanta":
                        kanta_query(conn, event_id, queries[0])  # the first search reads the copy
                    elif variant == "pg hnsw":
                        conn.execute(
                            f"CREATE INDEX bench_hnsw_{event_id} ON faces USING hnsw (descriptor vector_l2_ops) "
                            f"WHERE event_id = {int(event_id)} AND excluded_reason IS NULL")
                        conn.commit()
                    setup = time.perf_counter() - t if variant != "pg exact" else None
                    query = kanta_query if variant == "kanta" else pg_query
                    run = functools.partial(query, conn, event_id)
                    m = measure(run, ids, faces, queries)
                    ratio = m["p95_ms"] / m["numpy_p95_ms"]
                    results.append({"faces_per_event": size, "query": variant, "setup_s": setup, **m,
                                    "p95_ratio": ratio})
                    print(f"{size:>11}  {variant:<8} {m['p50_ms']:>8.2f} {m['p95_ms']:>8.2f} "
                          f"{m['numpy_p50_ms']:>10.2f} {m['numpy_p95_ms']:>10.2f} {ratio:>10.2f} "
                          f"{m['recall_at_20']:>10.3f} {'' if setup is None else f'{setup:.2f}':>8}", flush=True)
            print("setup s: kanta = the first search of the event in a process (reads its copy by binary COPY); "
                  "pg hnsw = building the event's partial HNSW index")
    finally:
        postgres.stop()
    big = [r for r in results if r["faces_per_event"] == args.big_size and r["query"] == "kanta"]
    if big:
        r = big[0]
        print()
        print(f"criterion: p95 at {args.big_size} faces/event <= 2x the NumPy scan: {r['p95_ratio']:.2f}x -> "
              f"{'holds' if r['p95_ratio'] <= 2 else 'does not hold'}; recall@20 >= 0.99: "
              f"{r['recall_at_20']:.3f} -> {'holds' if r['recall_at_20'] >= 0.99 else 'does not hold'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"started_at": started, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
