"""Selfie search: encode the usable faces of the query photo and find the event's photos
whose faces are nearest by Euclidean distance, exact (``kanta.search.descriptors``), nearest
first, each photo once with its best face."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from kanta.config import get_settings
from kanta.db import connection
from kanta.events.service import get_event_id
from kanta.faces.schemas import BBOX_COLUMNS, BBox
from kanta.http import ApiError
from kanta.images.service import face_urls, read_url_expiry
from kanta.search.descriptors import nearest_faces
from kanta.search.schemas import Match, PersonMatch, QueryFace, SearchQuery, SearchResult

# Metadata of the candidate faces; a face deleted since the copy was read is simply absent.
_FACES_BY_ID = f"""
SELECT f.id AS face_id, f.image_id, f.cluster_id, {BBOX_COLUMNS}, f.thumbnail_blob, i.blob_name
FROM faces f JOIN images i ON i.id = f.image_id
WHERE f.id = ANY(%s) AND f.event_id = %s
"""
#: Candidate faces per photo asked for: a photo rarely holds two faces of one person.
CANDIDATES_PER_PHOTO = 3


def nearest_photos(conn: psycopg.Connection, event_id: int, descriptor: np.ndarray, max_distance: float,
                   top_k: int) -> list[dict[str, Any]]:
    """The event's ``top_k`` photos nearest to ``descriptor`` (``(128,)``), each once with its
    nearest face, within ``max_distance`` (Euclidean), nearest first. Exact
    (``kanta.search.descriptors``)."""
    candidates = [(f, d) for f, d in nearest_faces(conn, event_id, descriptor, max(CANDIDATES_PER_PHOTO * top_k, 60))
                  if d <= max_distance]
    if not candidates:
        return []
    rows = {r["face_id"]: r for r in conn.execute(_FACES_BY_ID, ([f for f, _ in candidates], event_id))}
    best: dict[Any, dict[str, Any]] = {}
    for face_id, distance in candidates:  # nearest first
        row = rows.get(face_id)
        if row is not None and row["image_id"] not in best:
            best[row["image_id"]] = row | {"distance": distance}
    return list(best.values())[:top_k]


def search_event(event_code: str, image: bytes, query: SearchQuery) -> SearchResult:
    """Find the photos of event ``event_code`` showing the person (or, with ``faces=all``, the
    people) in ``image``.

    Raises ``ApiError`` 404 (unknown event), 413 ``payload_too_large`` (over
    ``KANTA_MAX_QUERY_IMAGE_BYTES``), 422 ``invalid_image`` (not a decodable image), 422
    ``no_face`` (no face found) or ``face_unusable`` (every face too small or blurry).
    """
    # Imported here: only search loads dlib among the HTTP functions, on its first call.
    from kanta.faces.pipeline import ImageRejected, analyse_image, analysis_settings

    settings = get_settings()
    if len(image) > settings.max_query_image_bytes:
        raise ApiError(413, "payload_too_large",
                       f"The photo is over {settings.max_query_image_bytes} bytes; send a smaller one.")
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
    try:
        analysis = analyse_image(image, **analysis_settings(settings), thumbnails=False)
    except ImageRejected as rejected:
        raise ApiError(422, "invalid_image", rejected.message) from None
    if not analysis.faces:
        raise ApiError(422, "no_face", "No face was found in the photo. Use a clear, front-facing photo of one face.")
    usable = [i for i, f in enumerate(analysis.faces) if f.excluded is None]
    if not usable:
        reasons = sorted({f.excluded for f in analysis.faces})
        raise ApiError(422, "face_unusable",
                       f"The face in the photo is {' and '.join(r.replace('_', ' ') for r in reasons)} to search with. "
                       "Use a sharper, closer photo.")
    used = usable if query.faces == "all" else [max(usable, key=lambda i: analysis.faces[i].bbox.area)]
    max_distance = query.max_distance if query.max_distance is not None else settings.search_max_distance

    best: dict[Any, tuple[int, dict[str, Any]]] = {}  # image id → (query face, row)
    with connection() as conn:
        for q in used:
            for row in nearest_photos(conn, event_id, analysis.faces[q].descriptor, max_distance, query.top_k):
                if row["image_id"] not in best or row["distance"] < best[row["image_id"]][1]["distance"]:
                    best[row["image_id"]] = (q, row)
        ranked = sorted(best.values(), key=lambda qr: (qr[1]["distance"], qr[1]["face_id"]))[: query.top_k]
        cluster_ids = sorted({r["cluster_id"] for _, r in ranked if r["cluster_id"] is not None and r["cluster_id"] >= 0})
        names = {
            r["cluster_id"]: r["name"]
            for r in conn.execute(
                "SELECT cluster_id, name FROM clusters WHERE event_id = %s AND cluster_id = ANY(%s)",
                (event_id, cluster_ids),
            )
        }
    expires_at = read_url_expiry()
    matches = [
        Match(face_id=r["face_id"], image_id=r["image_id"], cluster_id=r["cluster_id"], distance=r["distance"],
              query_face=q, bbox=BBox.from_row(r), **face_urls(r, expires_at))
        for q, r in ranked
    ]
    people = [
        PersonMatch(
            cluster_id=c,
            name=names.get(c),
            photo_count=sum(m.cluster_id == c for m in matches),
            best_distance=min(m.distance for m in matches if m.cluster_id == c),
        )
        for c in cluster_ids
    ]
    people.sort(key=lambda p: (p.best_distance, p.cluster_id))
    result = SearchResult(
        query_faces=[
            QueryFace(bbox=BBox(**vars(f.bbox)), used=i in used, excluded_reason=f.excluded)
            for i, f in enumerate(analysis.faces)
        ],
        matches=matches,
        people=people,
    )
    if not matches:
        result.reason = "no_match"
        result.message = (f"No face in this event is within distance {max_distance:g} of yours: "
                          "you may not be in any photo yet.")
    return result
