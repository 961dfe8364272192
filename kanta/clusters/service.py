"""Re-clustering and cluster listing over PostgreSQL.

A run reads an event's descriptors, clusters them (``kanta.clusters.algorithm``) and writes
every face's ``cluster_id`` with one set-based ``UPDATE ... FROM unnest(...)`` in the same
transaction, under a transaction-scoped advisory lock so only one run per event proceeds
across instances.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from kanta import storage
from kanta.clusters.algorithm import NOISE, cluster_descriptors
from kanta.clusters.schemas import Cluster, ClusterList, ClusterRun, ClusterSample
from kanta.config import get_settings
from kanta.db import connection
from kanta.events.service import RUNNING_SQL, get_event_id
from kanta.faces.schemas import BBOX_COLUMNS, USABLE_FACE, BBox
from kanta.images.service import face_urls, read_url_expiry

log = logging.getLogger(__name__)

#: First key of the two-key advisory lock ``pg_try_advisory_xact_lock(key, event_id)``.
_LOCK_NAMESPACE = 0x6B6E74


def recluster_event(event_code: str) -> ClusterRun:
    """Re-cluster all faces of one event now. Raises ``ApiError`` 404 for an unknown event.

    Returns ``status="skipped"`` without waiting when another run of this event is under way.
    """
    settings = get_settings()
    started = time.perf_counter()
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        locked = conn.execute(
            "SELECT pg_try_advisory_xact_lock(%s::int, %s::int) AS ok", (_LOCK_NAMESPACE, event_id)
        ).fetchone()["ok"]
        if not locked:
            return ClusterRun(event_code=event_code, status="skipped", face_count=0, cluster_count=0,
                              noise_count=0, seconds=time.perf_counter() - started)
        # Read the version before the faces: anything committed before this read is also
        # in the faces read next, so recording it never hides a change.
        version = conn.execute("SELECT faces_version FROM events WHERE id = %s", (event_id,)).fetchone()[
            "faces_version"
        ]
        rows = conn.execute(
            f"SELECT f.id, f.descriptor FROM faces f WHERE f.event_id = %s AND {USABLE_FACE} ORDER BY f.id",
            (event_id,),
        ).fetchall()
        face_ids = [r["id"] for r in rows]
        descriptors = np.array([r["descriptor"].to_numpy() for r in rows]) if rows else np.empty((0, 128))
        labels = cluster_descriptors(descriptors, eps=settings.cluster_eps, min_samples=settings.cluster_min_samples)
        conn.execute(
            """UPDATE faces f SET cluster_id = v.cluster_id
               FROM unnest(%s::bigint[], %s::integer[]) AS v(id, cluster_id)
               WHERE f.id = v.id AND f.cluster_id IS DISTINCT FROM v.cluster_id""",
            (face_ids, labels.tolist()),
        )
        conn.execute(
            "UPDATE events SET clustered_version = %s, last_clustered_at = now() WHERE id = %s",
            (version, event_id),
        )
    run = ClusterRun(
        event_code=event_code,
        status="done",
        face_count=len(face_ids),
        cluster_count=len(set(labels.tolist()) - {NOISE}),
        noise_count=int((labels == NOISE).sum()),
        seconds=time.perf_counter() - started,
    )
    log.info("re-clustered %s: %d faces, %d clusters, %d noise in %.2f s", event_code, run.face_count,
             run.cluster_count, run.noise_count, run.seconds)
    return run


def recluster_due_events() -> list[ClusterRun]:
    """Re-cluster every running event whose faces changed since its last run (the timer's job)."""
    with connection() as conn:
        codes = [
            r["code"]
            for r in conn.execute(
                f"SELECT e.code FROM events e WHERE {RUNNING_SQL} AND e.faces_version > e.clustered_version ORDER BY e.id"
            )
        ]
    return [recluster_event(code) for code in codes]


def list_clusters(event_code: str, sample_size: int) -> ClusterList:
    """An event's clusters, largest first, with up to ``sample_size`` sample faces each
    (largest faces first). Raises ``ApiError`` 404 for an unknown event."""
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        counts = conn.execute(
            f"""SELECT count(*) FILTER (WHERE f.cluster_id = %(noise)s) AS noise,
                      count(*) FILTER (WHERE f.cluster_id IS NULL AND {USABLE_FACE}) AS unclustered,
                      count(*) FILTER (WHERE NOT {USABLE_FACE}) AS excluded,
                      (SELECT last_clustered_at FROM events WHERE id = %(e)s) AS last_clustered_at
               FROM faces f WHERE f.event_id = %(e)s""",
            {"e": event_id, "noise": NOISE},
        ).fetchone()
        clusters = conn.execute(
            """SELECT cluster_id, count(*) AS face_count FROM faces
               WHERE event_id = %s AND cluster_id >= 0
               GROUP BY cluster_id ORDER BY face_count DESC, cluster_id""",
            (event_id,),
        ).fetchall()
        samples = conn.execute(
            f"""SELECT * FROM (
                   SELECT f.id AS face_id, f.image_id, f.cluster_id, {BBOX_COLUMNS}, i.blob_name, f.thumbnail_blob,
                          row_number() OVER (PARTITION BY f.cluster_id
                                             ORDER BY f.bbox_width * f.bbox_height DESC, f.id) AS rank
                   FROM faces f JOIN images i ON i.id = f.image_id
                   WHERE f.event_id = %s AND f.cluster_id >= 0) s
                WHERE rank <= %s""",
            (event_id, sample_size),
        ).fetchall()
    expires_at = read_url_expiry()
    by_cluster: dict[int, list[ClusterSample]] = {}
    for s in samples:
        by_cluster.setdefault(s["cluster_id"], []).append(
            ClusterSample(face_id=s["face_id"], image_id=s["image_id"], bbox=BBox.from_row(s),
                          **face_urls(s, expires_at))
        )
    return ClusterList(
        items=[Cluster(cluster_id=c["cluster_id"], face_count=c["face_count"],
                       samples=by_cluster.get(c["cluster_id"], [])) for c in clusters],
        noise_count=counts["noise"],
        unclustered_count=counts["unclustered"],
        excluded_count=counts["excluded"],
        last_clustered_at=counts["last_clustered_at"],
    )
