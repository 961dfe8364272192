"""Selfie search: encode the usable faces of the query photo, match them against the event's
people (``kanta.search.matching``: one very near face, or two of a person's faces near enough,
bring all that person's photos) exactly over a per-process copy (``kanta.search.descriptors``),
and answer with photos nearest first, each once with its best face, and the people found."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from kanta import storage
from kanta.clusters.cuts import EventCuts
from kanta.clusters.service import cuts_in_use
from kanta.config import get_settings
from kanta.db import connection
from kanta.errors import Conflict, Invalid, TooLarge, not_found
from kanta.search.descriptors import FaceMatches, PhotoMatch, match_faces
from kanta.search.matching import PersonEvidence, SearchCuts
from kanta.search.schemas import Cuts, Match, PersonMatch, QueryFace, SearchQuery, SearchResult
from kanta.store import images as store
from kanta.store.events import FacePolicy, face_policy, get_event_id
from kanta.store.people import person_names


def best_photos(found: list[tuple[int, FaceMatches]], top_k: int) -> list[tuple[int, PhotoMatch]]:
    """Union of the photos of several query faces (``(query face index, FaceMatches)``): each
    photo once with its smallest distance (ties: lower face id, then first query face), nearest
    first, at most ``top_k``."""
    best: dict[uuid.UUID, tuple[int, PhotoMatch]] = {}
    for q, matches in found:
        for photo in matches.photos:
            held = best.get(photo.image_id)
            if held is None or (photo.distance, photo.face_id) < (held[1].distance, held[1].face_id):
                best[photo.image_id] = (q, photo)
    return sorted(best.values(), key=lambda qp: (qp[1].distance, qp[1].face_id))[:top_k]


def best_evidence(found: list[tuple[int, FaceMatches]]) -> list[tuple[int, PersonEvidence, int]]:
    """The matched people of several query faces, each once with the evidence of the query
    face nearest to them: ``(query face index, evidence, photo count)``, nearest first."""
    best: dict[int, tuple[int, PersonEvidence, int]] = {}
    for q, matches in found:
        for person in matches.people:
            held = best.get(person.person)
            if held is None or person.nearest < held[1].nearest:
                best[person.person] = (q, person, matches.photo_counts[person.person])
    return sorted(best.values(), key=lambda qe: (qe[1].nearest, qe[1].person))


def no_match_message(cuts: SearchCuts) -> str:
    """What a guest reads when nobody matched, stating the cuts used."""
    return (f"Nobody in this event looks enough like you: no face is within distance {cuts.face:g} of yours, "
            f"no person has two faces within {cuts.person:g}, and nobody is clearly nearer to you than everyone "
            "else. You may not be in any photo yet.")


def search_cuts(event: EventCuts, face: float | None = None, person: float | None = None) -> SearchCuts:
    """The search cuts of an event: its own ``face`` and ``person`` cuts (``EventCuts``) unless
    given; and, where the event's faces are hard to tell apart (``EventCuts.lowered``), the
    ratio test of ``KANTA_SEARCH_RATIO`` with the clear score
    ``KANTA_SEARCH_PERSON_MAX_DISTANCE``, or the given ``person`` cut when lower (the ratio
    test keeps it safe where the cuts alone are lowered; a caller's cut is never exceeded).

    Why not everywhere: where different people start beyond the clustering cut, the cuts
    alone kept every Western set of ``bench/recognition.py`` at no wrong photo and <= 1% of
    strangers matched, and the ratio test there cost up to 0.09 of photo recall (a guest
    split in two people is their own rival)."""
    settings = get_settings()
    clear = settings.search_person_max_distance if person is None else min(person, settings.search_person_max_distance)
    return SearchCuts(face=event.face if face is None else face, person=event.person if person is None else person,
                      ratio=settings.search_ratio if event.lowered else None,
                      clear=clear if event.lowered else None)


def require_face_search(policy: FacePolicy) -> None:
    """Refuse a selfie search the event does not allow: ``Conflict`` ``retention_over`` when
    its retention has ended (its face data is deleted, or due for the hourly purge), else
    ``Conflict`` ``face_search_off`` when its host turned face search off."""
    if policy.retention_over:
        raise Conflict("retention_over", "This event's face data has been deleted at the end of its retention period, "
                                         "so its photos can no longer be searched by face.")
    if not policy.face_search:
        raise Conflict("face_search_off", "The host has turned face search off for this event.")


def check_selfie_size(image: bytes) -> None:
    """Raise ``TooLarge`` ``payload_too_large`` for a selfie over ``KANTA_MAX_QUERY_IMAGE_BYTES``."""
    limit = get_settings().max_query_image_bytes
    if len(image) > limit:
        raise TooLarge("payload_too_large", f"The photo is over {limit} bytes; send a smaller one.")


def selfie_faces(image: bytes) -> tuple[Any, list[int]]:
    """Decode a selfie and find, encode and assess its faces: the
    ``kanta.faces.pipeline.ImageAnalysis`` (no thumbnails) and the indices of its usable faces
    (not too small or blurry), at least one.

    Raises ``Invalid`` ``invalid_image`` (not a decodable image, over
    ``KANTA_MAX_QUERY_IMAGE_PIXELS``, or a decompression bomb: ``kanta.faces.pipeline.decode_image``),
    ``no_face`` (no face found) or ``face_unusable`` (every face too small or blurry).
    """
    # Imported here: only search loads dlib among the HTTP functions, on its first call.
    from kanta.faces.pipeline import ImageRejected, analyse_image, analysis_settings

    try:
        # A selfie has its own, smaller pixel limit and is decoded reduced: it can never cost
        # what an event photo may.
        analysis = analyse_image(image, **analysis_settings(get_settings(), query=True), thumbnails=False)
    except ImageRejected as rejected:
        raise Invalid("invalid_image", rejected.message) from None
    if not analysis.faces:
        raise Invalid("no_face", "No face was found in the photo. Use a clear, front-facing photo of one face.")
    usable = [i for i, f in enumerate(analysis.faces) if f.excluded is None]
    if not usable:
        reasons = sorted({f.excluded for f in analysis.faces})
        raise Invalid("face_unusable",
                       f"The face in the photo is {' and '.join(r.replace('_', ' ') for r in reasons)} to search with. "
                       "Use a sharper, closer photo.")
    return analysis, usable


def search_event(event_code: str, image: bytes, query: SearchQuery) -> SearchResult:
    """Find the photos of event ``event_code`` showing the person (or, with ``faces=all``, the
    people) in ``image`` (``search_selfie``), with read URLs valid ``KANTA_READ_URL_TTL_S``: the
    photos of every matched person and of faces in no person within the face cut, each once
    with its face nearest to a query face, nearest first, at most ``query.top_k``; the matched
    people with their evidence; the cuts used. Raises what ``search_selfie`` raises.
    """
    searched = search_selfie(event_code, image, query)
    analysis, used, cuts, found = searched.analysis, searched.used, searched.cuts, searched.found
    expires_at = storage.read_url_expiry()
    return SearchResult(
        query_faces=[
            QueryFace(bbox=f.bbox, used=i in used, excluded_reason=f.excluded)
            for i, f in enumerate(analysis.faces)
        ],
        matches=[
            Match(face_id=p.face_id, image_id=r["image_id"], cluster_id=r["cluster_id"], distance=p.distance,
                  query_face=used[q], bbox=store.bbox(r), **storage.face_urls(r, expires_at))
            for q, p, r in found.photos
        ],
        people=[
            PersonMatch(cluster_id=e.person, name=name, query_face=used[q], nearest_distance=e.nearest,
                        second_distance=e.second, matched_by=e.matched_by, runner_up=e.runner_up,
                        photo_count=photo_count)
            for q, e, photo_count, name in found.people
        ],
        cuts=Cuts(face=cuts.face, person=cuts.person, ratio=cuts.ratio, clear=cuts.clear, onset=searched.event.onset,
                  same_photo_pairs=searched.event.same_photo_pairs, event_faces=searched.event.faces),
        reason=None if found.photos else "no_match",
        message=None if found.photos else no_match_message(cuts),
    )


@dataclass(frozen=True)
class Found:
    """What a search found, before read URLs. ``photos``: ``(query face, PhotoMatch, face
    row)`` nearest first, the row holding the face's image, cluster, bounding box and blobs;
    ``people``: ``(query face, evidence, photo count, name)`` nearest first. A query face is
    its position in the queries searched."""

    photos: list[tuple[int, PhotoMatch, dict[str, Any]]]
    people: list[tuple[int, PersonEvidence, int, str | None]]


def find_photos(conn: psycopg.Connection, event_id: int, queries: np.ndarray, cuts: SearchCuts, top_k: int) -> Found:
    """The photos of event ``event_id`` matching any of ``queries`` (float ``(q, 128)`` dlib
    descriptors) by ``cuts``, each once with its face nearest to a query face, nearest first,
    at most ``top_k``, and the people matched. Reads the database only for the event's
    versions, what changed since this process last searched it, and the returned faces and
    people by primary key. Raises ``psycopg.Error`` on database errors."""
    found = list(enumerate(match_faces(conn, event_id, queries, cuts, top_k)))
    ranked = best_photos(found, top_k)
    people = best_evidence(found)
    rows = store.faces_by_id(conn, event_id, [p.face_id for _, p in ranked]) if ranked else {}
    persons = [e.person for _, e, _ in people]
    names = person_names(conn, event_id, persons)
    return Found(photos=[(q, p, rows[p.face_id]) for q, p in ranked if p.face_id in rows],
                 people=[(q, e, count, names.get(e.person)) for q, e, count in people])


@dataclass(frozen=True)
class SelfieSearch:
    """A selfie search before read URLs: the selfie's ``analysis``
    (``kanta.faces.pipeline.ImageAnalysis``), the indices of its faces ``used``, the ``cuts``,
    what was ``found``, and the ``event``'s own cuts with their evidence
    (``kanta.clusters.cuts.EventCuts``)."""

    analysis: Any
    used: list[int]
    cuts: SearchCuts
    found: Found
    event: EventCuts


def search_selfie(event_code: str, image: bytes, query: SearchQuery) -> SelfieSearch:
    """Match the largest usable face of ``image`` (with ``faces=all``, every usable face)
    against event ``event_code`` by the cuts of ``query``, else the event's (those its last
    re-clustering estimated from its faces, never looser than ``KANTA_SEARCH_MAX_DISTANCE`` /
    ``KANTA_SEARCH_PERSON_MAX_DISTANCE``; ``kanta.clusters.service.cuts_in_use``), at most
    ``query.top_k`` photos (``find_photos``).

    Raises ``NotFound`` (unknown event), ``TooLarge`` ``payload_too_large`` (over
    ``KANTA_MAX_QUERY_IMAGE_BYTES``), ``Conflict`` ``retention_over`` / ``face_search_off``
    (``require_face_search``; the selfie is not even decoded), and ``selfie_faces``' ``Invalid``
    ``invalid_image``, ``no_face`` or ``face_unusable``.
    """
    check_selfie_size(image)
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        policy = face_policy(conn, event_id)
    if policy is None:  # deleted meanwhile
        raise not_found("event", event_code)
    require_face_search(policy)
    analysis, usable = selfie_faces(image)
    used = usable if query.faces == "all" else [max(usable, key=lambda i: analysis.faces[i].bbox.area)]
    with connection() as conn:
        event = cuts_in_use(conn, event_id)
        cuts = search_cuts(event, query.max_distance, query.person_max_distance)
        found = find_photos(conn, event_id, np.array([analysis.faces[q].descriptor for q in used]), cuts, query.top_k)
    return SelfieSearch(analysis, used, cuts, found, event)
