"""Re-clustering and cluster listing over PostgreSQL.

A run reads an event's descriptors, clusters them (``kanta.clusters.algorithm``) and writes
every face's ``cluster_id`` with one set-based ``UPDATE ... FROM unnest(...)`` in the same
transaction, under a transaction-scoped advisory lock so only one run per event proceeds
across instances.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
import psycopg

from kanta import storage
from kanta.clusters.algorithm import NOISE, cluster_descriptors, stable_ids
from kanta.clusters.cuts import EventCuts, event_cuts, recorded_cuts
from kanta.clusters.schemas import Cluster, ClusterList, ClusterListQuery, ClusterRun, ClusterSample, FaceAssignment
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import Invalid, Unavailable, not_found
from kanta.faces import DESCRIPTOR_DIM
from kanta.store import events as event_store
from kanta.store import images as store
from kanta.store import people as people_store
from kanta.store.events import get_event_id

log = logging.getLogger(__name__)

#: First key of the two-key advisory lock ``pg_try_advisory_xact_lock(key, event_id)``.
_LOCK_NAMESPACE = 0x6B6E74
#: Sample faces in the person returned by a rename or a merge.
RESPONSE_SAMPLES = 3


def recluster_event(event_code: str, trigger: str = "manual") -> ClusterRun:
    """Re-cluster all usable faces of one event now, keeping person ids stable and honouring
    corrections (``kanta.clusters.algorithm.stable_ids``); record the run.

    ``trigger``: ``"timer"`` or ``"manual"``. Raises ``NotFound`` for an unknown event.
    Returns ``status="skipped"`` without waiting when another run of this event is under way.
    """
    settings = get_settings()
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    parameters: dict[str, float | int | None] = {"eps": settings.cluster_eps, "cap": settings.cluster_cap,
                                                 "min_samples": settings.cluster_min_samples}
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        locked = conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s::int, %s::int) AS ok", (_LOCK_NAMESPACE, event_id)
        ).fetchone()["ok"]
        if not locked:
            return ClusterRun(event_code=event_code, status="skipped", trigger=trigger,
                              algorithm=settings.cluster_algorithm, parameters=parameters, started_at=started_at, face_count=0, cluster_count=0,
                              noise_count=0, kept_count=0, seconds=time.perf_counter() - started)
        # Read the version before the faces: anything committed before this read is also
        # in the faces read next, so recording it never hides a change.
        event = event_store.clustering_state(conn, event_id)
        rows = store.faces_to_cluster(conn, event_id)
        index = {r["id"]: i for i, r in enumerate(rows)}
        pinned: dict[int, int] = {}
        rejected: dict[int, set[int]] = {}
        for c in people_store.event_corrections(conn, event_id):
            if c["face_id"] in index:
                if c["kind"] == "pinned":
                    pinned[index[c["face_id"]]] = c["cluster_id"]
                else:
                    rejected.setdefault(index[c["face_id"]], set()).add(c["cluster_id"])
        descriptors = np.array([r["descriptor"].to_numpy() for r in rows]) if rows else np.empty((0, DESCRIPTOR_DIM))
        previous = np.array([r["previous"] for r in rows], dtype=np.int64)
        # Faces of one photo are never one person (graph_average's cannot-link groups).
        photo_of: dict = {}
        photos = np.array([photo_of.setdefault(r["image_id"], len(photo_of)) for r in rows], dtype=np.int64)
        # This event's own evidence of where different people start (kanta.clusters.cuts): the
        # cuts of clustering, search, forget and the do-not-index list until the next run.
        cuts = event_cuts(descriptors, photos, eps=settings.cluster_eps, face=settings.search_max_distance,
                          person=settings.search_person_max_distance)
        parameters.update(cuts.as_record())
        labels = cluster_descriptors(descriptors, algorithm=settings.cluster_algorithm, eps=cuts.eps,
                                     cap=settings.cluster_cap, min_samples=settings.cluster_min_samples,
                                     groups=photos)
        ids, next_id = stable_ids(labels, previous, pinned=pinned, rejected=rejected,
                                  next_id=event["next_cluster_id"])
        store.set_people(conn, event_id, [r["id"] for r in rows], ids.tolist())
        run = ClusterRun(
            event_code=event_code,
            status="done",
            trigger=trigger,
            algorithm=settings.cluster_algorithm,
            parameters=parameters,
            started_at=started_at,
            face_count=len(rows),
            cluster_count=len(set(ids.tolist()) - {NOISE}),
            noise_count=int((ids == NOISE).sum()),
            kept_count=int(((previous != NOISE) & (ids == previous)).sum()),
            seconds=time.perf_counter() - started,
        )
        people_store.record_run(conn, event_id, started_at, run, parameters)
        event_store.record_clustered(conn, event_id, event, next_id)
    log.info("re-clustered %s: %d faces, %d clusters, %d noise, %d kept their id, in %.2f s", event_code,
             run.face_count, run.cluster_count, run.noise_count, run.kept_count, run.seconds)
    return run


def cuts_in_use(conn: psycopg.Connection, event_id: int) -> EventCuts:
    """The cuts event ``event_id`` uses now: those its last re-clustering estimated from its
    faces, never looser than the settings' (``kanta.clusters.cuts.recorded_cuts``); the
    settings' before its first run."""
    run = people_store.last_run(conn, event_id)
    return recorded_cuts(run["parameters"] if run else None, get_settings())


def recluster_due_events() -> list[ClusterRun]:
    """Re-cluster every running event whose faces changed, or that a host corrected, since its
    last run (the timer's job)."""
    with connection() as conn:
        codes = event_store.running_events_due(conn)
    return [recluster_event(code, trigger="timer") for code in codes]


def list_clusters(event_code: str, query: ClusterListQuery) -> ClusterList:
    """A page of an event's clusters, largest first (``query.limit`` from ``query.offset``),
    with up to ``query.sample_size`` sample faces each (largest faces first), and the event's
    face tallies. Raises ``NotFound`` for an unknown event."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        counts = store.face_tallies(conn, event_id)
        last_clustered_at = event_store.last_clustered_at(conn, event_id)
        last_run = people_store.last_run(conn, event_id)
        # One more than asked tells whether another page exists.
        items = _clusters(conn, event_id, query.sample_size, limit=query.limit + 1, offset=query.offset)
    return ClusterList(
        items=items[: query.limit],
        next_offset=query.offset + query.limit if len(items) > query.limit else None,
        noise_count=counts["noise"],
        unclustered_count=counts["unclustered"],
        excluded_count=counts["excluded"],
        last_clustered_at=last_clustered_at,
        last_run=ClusterRun.model_validate(last_run | {"event_code": event_code, "status": "done"}) if last_run else None,
    )


def _clusters(conn: psycopg.Connection, event_id: int, sample_size: int, only: int | None = None,
              limit: int | None = None, offset: int = 0) -> list[Cluster]:
    """The event's clusters (just cluster ``only`` when given; at most ``limit`` from
    ``offset``), largest first, each with its name and up to ``sample_size`` sample faces
    (largest faces first) with read URLs."""
    people = store.people(conn, event_id, only=only, limit=limit, offset=offset)
    persons = [p["cluster_id"] for p in people]
    names = people_store.person_names(conn, event_id, persons)
    expires_at = storage.read_url_expiry()
    by_cluster: dict[int, list[ClusterSample]] = {}
    for s in store.person_samples(conn, event_id, persons, sample_size):
        by_cluster.setdefault(s["cluster_id"], []).append(
            ClusterSample(face_id=s["face_id"], image_id=s["image_id"], bbox=store.bbox(s),
                          **storage.face_urls(s, expires_at))
        )
    return [Cluster(cluster_id=p["cluster_id"], name=names.get(p["cluster_id"]), face_count=p["face_count"],
                    photo_count=p["photo_count"], samples=by_cluster.get(p["cluster_id"], [])) for p in people]


def _require_cluster(conn: psycopg.Connection, event_id: int, cluster_id: int) -> None:
    if not store.person_exists(conn, event_id, cluster_id):
        raise not_found("cluster", cluster_id)


#: Seconds a correction waits for a running re-clustering of its event before giving up.
CORRECTION_WAIT_S = 60


def hold_people(conn: psycopg.Connection, event_id: int) -> None:
    """Hold the event's people until this transaction ends: wait for a running re-clustering
    of the event to commit (the run's advisory lock; a run that starts meanwhile is skipped),
    so what the caller changes lands on top of its result. Corrections and erasures take it.
    Raises ``Unavailable`` ``people_busy`` after ``CORRECTION_WAIT_S`` seconds (the
    transaction's ``lock_timeout`` stays that long for the locks taken after)."""
    conn.execute(f"SET LOCAL lock_timeout = '{CORRECTION_WAIT_S}s'")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s::int, %s::int)", (_LOCK_NAMESPACE, event_id))
    except psycopg.errors.LockNotAvailable:
        raise Unavailable("people_busy", "The people of this event are being sorted again; try in a minute.") from None


def _correcting(conn: psycopg.Connection, event_id: int) -> None:
    """Start a correction of an event's people in this transaction: wait for a running
    re-clustering of the event to commit (``hold_people``), so the correction lands on top of
    its result instead of being overwritten by it, and schedule the next run.
    Raises ``Unavailable`` ``people_busy`` after ``CORRECTION_WAIT_S`` seconds."""
    hold_people(conn, event_id)
    event_store.corrected(conn, event_id)


def rename_cluster(event_code: str, cluster_id: int, name: str | None) -> Cluster:
    """Name a person (``None`` clears); the name stays with the id across runs.
    Raises ``NotFound`` for an unknown event or a cluster with no faces."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        _require_cluster(conn, event_id, cluster_id)
        people_store.set_name(conn, event_id, cluster_id, name)
        (person,) = _clusters(conn, event_id, RESPONSE_SAMPLES, only=cluster_id)
    return person


def merge_clusters(event_code: str, cluster_id: int, into: int) -> Cluster:
    """Merge person ``cluster_id`` into person ``into``: its faces are pinned to ``into``, so
    every later run keeps them together. ``into`` keeps its name, or takes the merged one's.
    Raises ``NotFound`` (event or either cluster) or ``Invalid`` ``same_cluster``."""
    if cluster_id == into:
        raise Invalid("same_cluster", "A person cannot be merged into itself.")
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        _correcting(conn, event_id)  # after a running re-clustering: its result is what we merge
        _require_cluster(conn, event_id, cluster_id)
        _require_cluster(conn, event_id, into)
        _pin(conn, event_id, store.faces_of_person(conn, event_id, cluster_id), into)
        people_store.carry_name(conn, event_id, cluster_id, into)
        (person,) = _clusters(conn, event_id, RESPONSE_SAMPLES, only=into)
    return person


def _pin(conn: psycopg.Connection, event_id: int, face_ids: list[int], cluster_id: int) -> None:
    """Pin faces ``face_ids`` to person ``cluster_id`` and put them in it: three statements,
    however many faces."""
    people_store.pin(conn, event_id, face_ids, cluster_id)
    store.set_person(conn, event_id, face_ids, cluster_id)


def move_face(face_id: int, cluster_id: int | None) -> FaceAssignment:
    """Put a face in person ``cluster_id`` of its event, or (``None``) take it out of the
    person it is in ("not this person"): recorded so every later run does the same.
    Raises ``NotFound`` ``face_not_found`` / ``cluster_not_found``, or ``Invalid``
    ``face_excluded`` (too small or blurry to cluster) / ``not_in_cluster``."""
    with connection() as conn:
        face = store.face(conn, face_id)
        if face is None:
            raise not_found("face", face_id)
        _correcting(conn, face["event_id"])
        face = store.face(conn, face_id)  # as a re-clustering we waited for left it
        if face is None:
            raise not_found("face", face_id)
        if face["excluded_reason"]:
            raise Invalid("face_excluded",
                           f"This face is {face['excluded_reason'].replace('_', ' ')} to be part of a person.")
        if cluster_id is None:
            current = face["cluster_id"]
            if current is None or current < 0:
                raise Invalid("not_in_cluster", "This face is not in a person.")
            people_store.reject(conn, face["event_id"], face_id, current)
            store.set_person(conn, face["event_id"], [face_id], NOISE)
            return FaceAssignment(face_id=face_id, cluster_id=NOISE)
        _require_cluster(conn, face["event_id"], cluster_id)
        _pin(conn, face["event_id"], [face_id], cluster_id)
    return FaceAssignment(face_id=face_id, cluster_id=cluster_id)


def restore_corrections(conn: psycopg.Connection, event_id: int, corrections: list[dict],
                        new_ids: dict[int, int]) -> None:
    """Give the faces that replaced others (``new_ids``: old face id → new face id) the
    corrections the old ones had (``kanta.store.people.corrections_of``), so a photo indexed
    again keeps what the host decided about its faces."""
    people_store.add_corrections(
        conn, [(new_ids[c["face_id"]], event_id, c["kind"], c["cluster_id"]) for c in corrections if c["face_id"] in new_ids])
