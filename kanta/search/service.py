"""Selfie search: encode the largest usable face of the query photo and find the event's nearest
faces by Euclidean distance (pgvector ``<->``), exact, nearest first."""

from __future__ import annotations

import numpy as np

from kanta.config import get_settings
from kanta.db import connection
from kanta.events.service import get_event_id
from kanta.faces.schemas import BBOX_COLUMNS, USABLE_FACE, BBox
from kanta.http import ApiError
from kanta.images.service import face_urls, read_url_expiry
from kanta.search.schemas import Match, QueryFace, SearchQuery, SearchResult


def search_event(event_code: str, image: bytes, query: SearchQuery) -> SearchResult:
    """Find the faces of event ``event_code`` nearest to the largest face in ``image``.

    Raises ``ApiError`` 404 (unknown event), 413 ``payload_too_large`` (over
    ``KANTA_MAX_QUERY_IMAGE_BYTES``), 422 ``invalid_image`` (not a decodable image) or 422
    ``no_face`` (no face found in the photo).
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
    used = max(usable, key=lambda i: analysis.faces[i].bbox.area)
    descriptor = analysis.faces[used].descriptor.astype(np.float32)
    max_distance = query.max_distance if query.max_distance is not None else settings.search_max_distance
    with connection() as conn:
        rows = conn.execute(
            f"""SELECT f.id AS face_id, f.image_id, f.cluster_id, {BBOX_COLUMNS}, i.blob_name, f.thumbnail_blob,
                       f.descriptor <-> %(q)s AS distance
                FROM faces f JOIN images i ON i.id = f.image_id
                WHERE f.event_id = %(e)s AND {USABLE_FACE} AND f.descriptor <-> %(q)s <= %(max)s
                ORDER BY distance, f.id
                LIMIT %(k)s""",
            {"q": descriptor, "e": event_id, "max": max_distance, "k": query.top_k},
        ).fetchall()
    expires_at = read_url_expiry()
    return SearchResult(
        query_faces=[
            QueryFace(bbox=BBox(**vars(f.bbox)), used=i == used) for i, f in enumerate(analysis.faces)
        ],
        matches=[
            Match(face_id=r["face_id"], image_id=r["image_id"], cluster_id=r["cluster_id"],
                  distance=r["distance"], bbox=BBox.from_row(r), **face_urls(r, expires_at))
            for r in rows
        ],
    )
