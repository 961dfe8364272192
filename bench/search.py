"""Latency and exactness of Kanta's selfie search at event scale, against an exact NumPy scan.

What is measured, in one run on one embedded PostgreSQL (pgserver: PostgreSQL 16, pgvector 0.6):

* a ``faces`` table (Kanta's real schema, applied by ``kanta.migrate``) holding ``--big-events``
  events of ``--big-size`` faces (default 10 × 100 000 = 1 000 000 rows) plus one event of
  each smaller size (default 1 000 and 10 000). Each face is in a photo of 10 faces (people
  spread over photos at random) and has a person as a clustering run leaves them: identities
  seen at least twice are people, guests seen once are noise (-1), and ``UNCLUSTERED`` of the
  faces, at random, are not clustered yet (NULL);
* for one event of each size, ``kanta``: what search runs once the selfie is encoded
  (``kanta.search.service.find_photos``, as ``search_event`` calls it, then the commit of its
  pooled connection): the event's versions check, ``kanta.search.descriptors.match_faces``
  on the process's copy of the event (one BLAS matrix-vector product, the matching rule
  ``kanta.search.matching.select_faces``, each photo once, float64 distances for the faces
  that decide and those returned), then the returned faces' metadata and the matched
  people's names by primary key; the cuts are ``kanta.config``'s defaults;
* the floor: an exact top-20 of the same event's descriptors held in a NumPy float32 array
  (squared distances as ``|x|^2 - 2 x.q + |q|^2``, ``argpartition``), excluding the time to
  encode the selfie, as the search latency excludes it too;
* exact: the fraction of queries whose photos (face ids, in order) and people (ids and the
  cut met) equal the rule applied to float64 distances of every face of the event in NumPy
  (``select_faces``, each photo once, top 20), computed after the timing (it reads 100 MB
  per query at 100 000 faces, which would leave the timed queries with cold caches);
* refresh: the first search of the event in a process (reads its copy by binary COPY), the
  search after a re-clustering (``clusters_version``: who is who read again) and after 10 new
  faces (``faces_version``: who is who read again, the new descriptors appended).

Descriptors are synthetic: identities with geometric photo counts (mean 10), centres and
per-photo noise scaled so that same-person distances are about 0.4 and different-person
distances about 0.9, as with dlib's descriptors. Queries are a known face plus noise (a
selfie of someone at the event). Latency is wall time, p50 and p95 over ``--queries`` queries
after 20 warm-up queries, over a Unix socket.

The version of this script at commit 610684e also timed PostgreSQL's exact scan and a
per-event HNSW index for the nearest 20 faces (bench/README.md has those figures).

Run: ``.venv/bin/python bench/search.py`` (about a minute at the default sizes on 2 cores,
most of it loading 1M rows; ``--big-events 1 --big-size 20000`` for a quick look). BLAS uses
every core: on a machine busy with other work, figures are noise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import git_state  # bench/common.py: this directory is on sys.path

from kanta.config import Settings
from kanta.faces import DESCRIPTOR_DIM
from kanta.local.services import LocalPostgres
from kanta.migrate import migrate
from kanta.search import descriptors
from kanta.search.matching import NO_PERSON, SearchCuts, select_faces
from kanta.search.service import find_photos

DIM = DESCRIPTOR_DIM
TOP_K = 20
FACES_PER_PHOTO = 10
#: Share of faces not clustered yet (uploaded since the last run).
UNCLUSTERED = 0.02
# Per-coordinate standard deviations: sqrt(2 * 128) * sigma is the expected distance
# between two draws, so 0.056 gives ~0.9 between centres and 0.025 gives ~0.4 within one.
CENTRE_SIGMA, FACE_SIGMA, QUERY_SIGMA = 0.056, 0.025, 0.02


def synthetic_faces(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 descriptors ``(n, 128)`` of identities with geometric photo counts, and
    each face's identity, int64 ``(n,)``."""
    out = np.empty((n, DIM), dtype=np.float32)
    who = np.empty(n, dtype=np.int64)
    filled = identity = 0
    while filled < n:
        count = min(int(rng.geometric(0.1)), n - filled)
        centre = rng.normal(0.0, CENTRE_SIGMA, DIM)
        out[filled: filled + count] = centre + rng.normal(0.0, FACE_SIGMA, (count, DIM))
        who[filled: filled + count] = identity
        filled += count
        identity += 1
    return out, who


def people_of(who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each face's ``cluster_id`` as a clustering run leaves it (``NO_PERSON`` for noise and
    for faces not clustered yet, which are stored as NULL): int64 ``(n,)``."""
    sizes = np.bincount(who)
    people = np.where(sizes[who] >= 2, who, NO_PERSON)
    people[rng.random(len(who)) < UNCLUSTERED] = NO_PERSON - 1  # marks NULL until stored
    return people


def load_event(conn: psycopg.Connection, code: str, faces: np.ndarray, people: np.ndarray,
               rng: np.random.Generator) -> tuple[int, np.ndarray, np.ndarray]:
    """Insert an event with ``faces`` (binary COPY) in photos of ``FACES_PER_PHOTO`` faces at
    random; return the event id, the face ids in descriptor order and each face's photo
    (int64 ``(n,)``)."""
    event_id = conn.execute("INSERT INTO events (code) VALUES (%s) RETURNING id", (code,)).fetchone()["id"]
    images = [uuid.uuid4() for _ in range((len(faces) + FACES_PER_PHOTO - 1) // FACES_PER_PHOTO)]
    photo = np.empty(len(faces), dtype=np.int64)
    photo[rng.permutation(len(faces))] = np.arange(len(faces)) // FACES_PER_PHOTO
    with conn.cursor().copy("COPY images (id, event_id, blob_name, status) FROM STDIN") as copy:
        for image_id in images:
            copy.write_row((image_id, event_id, f"{code}/{image_id}.jpg", "processed"))
    first = conn.execute("SELECT coalesce(max(id), 0) AS m FROM faces").fetchone()["m"]
    with conn.cursor().copy(
        "COPY faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor, cluster_id) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "int8", "int4", "int4", "int4", "int4", "vector", "int4"])
        for d, p, c in zip(faces, photo.tolist(), people.tolist()):
            copy.write_row((images[p], event_id, 0, 0, 100, 100, d, None if c < NO_PERSON else c))
    ids = [r["id"] for r in conn.execute(
        "SELECT id FROM faces WHERE event_id = %s AND id > %s ORDER BY id", (event_id, first))]
    conn.execute("INSERT INTO clusters (event_id, cluster_id, name) SELECT %s, c, 'person ' || c "
                 "FROM unnest(%s::int[]) AS c", (event_id, np.unique(people[people >= 0]).tolist()))
    conn.commit()
    return event_id, np.array(ids), photo


def numpy_top(matrix: np.ndarray, norms: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``matrix`` nearest to ``q`` (exact), nearest first."""
    d2 = norms - 2.0 * (matrix @ q) + float(q @ q)
    top = np.argpartition(d2, k)[:k]
    return top[np.argsort(d2[top])]


def reference(matrix64: np.ndarray, ids: np.ndarray, people: np.ndarray, photo: np.ndarray, q: np.ndarray,
              cuts: SearchCuts) -> tuple[list[int], list[tuple[int, str]]]:
    """The search answer computed from float64 distances of every face: the face ids of the
    top 20 photos (each once, its nearest face) and the people matched with the cut met."""
    distances = np.linalg.norm(matrix64 - q.astype(np.float64), axis=1)
    selection = select_faces(distances, np.maximum(people, NO_PERSON), cuts)
    _, first = np.unique(photo[selection.faces], return_index=True)
    best = selection.faces[np.sort(first)[:TOP_K]]
    return ids[best].tolist(), [(p.person, p.matched_by) for p in selection.people]


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def timed_search(conn: psycopg.Connection, event_id: int, q: np.ndarray, cuts: SearchCuts) -> tuple[float, Any]:
    """Seconds of one search as ``search_event`` runs it after encoding, and what it found."""
    t = time.perf_counter()
    found = find_photos(conn, event_id, q[None], cuts, TOP_K)
    conn.commit()
    return time.perf_counter() - t, found


def measure(conn: psycopg.Connection, event_id: int, ids: np.ndarray, matrix: np.ndarray, people: np.ndarray,
            photo: np.ndarray, queries: np.ndarray, cuts: SearchCuts) -> dict[str, float]:
    """p50/p95 ms of Kanta's search and of the NumPy floor, and how often Kanta's answer is exact."""
    norms = (matrix.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    kanta_ms, np_ms, answers = [], [], []
    for i, q in enumerate(queries):
        took, found = timed_search(conn, event_id, q, cuts)
        t = time.perf_counter()
        numpy_top(matrix, norms, q, TOP_K)
        floor = time.perf_counter() - t
        if i >= 20:  # warm-up
            kanta_ms.append(took * 1e3)
            np_ms.append(floor * 1e3)
            answers.append((q, [p.face_id for _, p, _ in found.photos],
                            [(e.person, e.matched_by) for _, e, _, _ in found.people]))
    # After the timing: the float64 reference reads 100 MB per query at 100 000 faces, which
    # would leave the next timed query with cold caches.
    matrix64 = matrix.astype(np.float64)
    exact = [(faces, found_people) == reference(matrix64, ids, people, photo, q, cuts)
             for q, faces, found_people in answers]
    return {
        "p50_ms": percentile(kanta_ms, 50), "p95_ms": percentile(kanta_ms, 95),
        "numpy_p50_ms": percentile(np_ms, 50), "numpy_p95_ms": percentile(np_ms, 95),
        "exact": statistics.fmean(exact), "photos_per_query": statistics.fmean(len(a[1]) for a in answers),
        "people_per_query": statistics.fmean(len(a[2]) for a in answers),
    }


def refresh_costs(conn: psycopg.Connection, event_id: int, q: np.ndarray, cuts: SearchCuts,
                  rng: np.random.Generator) -> dict[str, float]:
    """Seconds of the search that reads the event's copy, and of the ones after a re-clustering
    and after 10 new faces."""
    descriptors.forget(event_id)
    first, _ = timed_search(conn, event_id, q, cuts)
    conn.execute("UPDATE events SET clusters_version = clusters_version + 1 WHERE id = %s", (event_id,))
    conn.commit()
    reclustered, _ = timed_search(conn, event_id, q, cuts)
    image = conn.execute("SELECT id FROM images WHERE event_id = %s LIMIT 1", (event_id,)).fetchone()["id"]
    new, _ = synthetic_faces(10, rng)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor) "
                        "VALUES (%s, %s, 0, 0, 100, 100, %s)", [(image, event_id, d) for d in new])
    conn.execute("UPDATE events SET faces_version = faces_version + 1 WHERE id = %s", (event_id,))
    conn.commit()
    appended, _ = timed_search(conn, event_id, q, cuts)
    return {"first_search_s": first, "after_recluster_ms": reclustered * 1e3, "after_new_faces_ms": appended * 1e3,
            "copy_mb": descriptors._copies[event_id].nbytes / 1e6}


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
    code = git_state()
    settings = Settings()
    cuts = SearchCuts(settings.search_max_distance, settings.search_person_max_distance)
    print(f"bench/search.py, {started}; commit {code['commit']}, uncommitted under kanta/: "
          + ("unknown" if code["kanta_uncommitted"] is None else ", ".join(code["kanta_uncommitted"]) or "none"))
    print(f"{os.cpu_count()} CPUs; load average (1, 5, 15 min) at start: "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"cuts: face {cuts.face}, person {cuts.person} (kanta.config defaults)")

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
            sizes = [int(s) for s in args.sizes.split(",") if s] + [args.big_size] * args.big_events
            for n, size in enumerate(sizes):
                faces, who = synthetic_faces(size, rng)
                people = people_of(who, rng)
                event_id, ids, photo = load_event(conn, f"event-{n}-{size}", faces, people, rng)
                if n < len(sizes) - args.big_events + 1:  # each small event and the first big one
                    events.append((size, event_id, ids, faces, people, photo))
            conn.execute("ANALYZE")
            conn.commit()
            total = conn.execute("SELECT count(*) AS n FROM faces").fetchone()["n"]
            print(f"faces table: {total} rows in {len(sizes)} events (loaded in {time.perf_counter() - t:.0f} s); "
                  f"{FACES_PER_PHOTO} faces per photo; queries: {args.queries} per event, 20 warm-up; top {TOP_K}")
            print()
            header = (f"{'faces/event':>11} {'p50 ms':>7} {'p95 ms':>7} {'numpy p50':>9} {'numpy p95':>9} "
                      f"{'p95 ratio':>9} {'exact':>6} {'photos':>6} {'people':>6} {'first s':>7} "
                      f"{'recluster ms':>12} {'+10 faces ms':>12} {'copy MB':>7}")
            print(header)
            print("-" * len(header))
            for size, event_id, ids, faces, people, photo in events:
                picks = rng.integers(0, size, args.queries + 20)
                queries = (faces[picks] + rng.normal(0, QUERY_SIGMA, (len(picks), DIM))).astype(np.float32)
                m = measure(conn, event_id, ids, faces, people, photo, queries, cuts)
                refresh = refresh_costs(conn, event_id, queries[0], cuts, rng)  # adds faces: after measure
                ratio = m["p95_ms"] / m["numpy_p95_ms"]
                results.append({"faces_per_event": size, **m, "p95_ratio": ratio, **refresh})
                print(f"{size:>11} {m['p50_ms']:>7.2f} {m['p95_ms']:>7.2f} {m['numpy_p50_ms']:>9.2f} "
                      f"{m['numpy_p95_ms']:>9.2f} {ratio:>9.2f} {m['exact']:>6.3f} {m['photos_per_query']:>6.1f} "
                      f"{m['people_per_query']:>6.2f} {refresh['first_search_s']:>7.2f} "
                      f"{refresh['after_recluster_ms']:>12.1f} {refresh['after_new_faces_ms']:>12.1f} "
                      f"{refresh['copy_mb']:>7.1f}", flush=True)
            print("photos, people: mean per query; first s: the first search of the event in a process (reads its "
                  "copy); recluster ms / +10 faces ms: the search after clusters_version / faces_version moved")
    finally:
        postgres.stop()
    print("load average (1, 5, 15 min) at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    big = [r for r in results if r["faces_per_event"] == args.big_size]
    if big:
        r = big[0]
        print()
        print(f"criterion: p95 at {args.big_size} faces/event <= 2x the NumPy scan: {r['p95_ratio']:.2f}x -> "
              f"{'holds' if r['p95_ratio'] <= 2 else 'does not hold'}; answers equal to the float64 rule: "
              f"{r['exact']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"started_at": started, "code": code, "cuts": vars(cuts),
                                         "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
