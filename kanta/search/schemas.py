"""Pydantic schemas of the selfie search API."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from kanta.faces.boxes import BoundingBox
from kanta.validation import QueryInt, QueryNumber

#: Most photos one search returns.
MAX_TOP_K = 200
#: Largest cut a query may ask for. dlib's same-person threshold is 0.6, and faces of
#: different people in tests/data lie at most about 1.0 apart: a cut of 2 already matches
#: every face, so a larger one means nothing.
MAX_CUT = 2.0

TopK = QueryInt(1, MAX_TOP_K)
Cut = QueryNumber(0, MAX_CUT)


class SearchQuery(BaseModel):
    """Query of ``POST /api/events/{code}/search``.

    ``top_k``: most photos returned. ``max_distance``: the face cut, Euclidean distance
    between descriptors (default ``KANTA_SEARCH_MAX_DISTANCE``): one face this near matches,
    and brings its person. ``person_max_distance``: the person cut (default
    ``KANTA_SEARCH_PERSON_MAX_DISTANCE``): a person whose second nearest face is this near
    matches. ``faces``: search with the largest usable face of the photo, or with every usable
    face (a group selfie).
    """

    model_config = ConfigDict(extra="forbid")
    top_k: TopK = 20
    max_distance: Cut | None = None
    person_max_distance: Cut | None = None
    faces: Literal["largest", "all"] = "largest"


class QueryFace(BaseModel):
    """A face found in the query photo; ``used``: it was searched for."""

    bbox: BoundingBox
    used: bool
    excluded_reason: str | None = None


class Match(BaseModel):
    """A photo of the event with its matched face nearest to a query face (each photo appears
    once). ``distance``: that face's Euclidean distance to the query face; it may exceed the
    face cut when the face belongs to a matched person. ``query_face``: index in
    ``query_faces``; ``url`` reads the face's thumbnail and ``image_url`` the photo, for a
    short time."""

    face_id: int
    image_id: UUID
    cluster_id: int | None
    distance: float
    query_face: int
    bbox: BoundingBox
    url: str
    image_url: str


class PersonMatch(BaseModel):
    """A person of the event who matched, and why: the Euclidean distances of their nearest
    and second nearest faces to the query face (``second_distance`` is ``null`` for a person
    with one face), and the cut that was met: ``one_face`` (nearest within the face cut) or
    ``two_faces`` (second nearest within the person cut) or ``clearly_nearest`` (the mean of
    their two nearest faces within ``clear`` and at most ``ratio`` times anyone else's);
    ``runner_up``: with the ratio test, the next candidate's score (``kanta.search.matching``:
    about the mean distance of their two nearest faces), which this person's beat (``null``:
    nobody else near, or no ratio test).
    ``photo_count``: photos of the event showing this person, all of them (``matches`` holds
    at most ``top_k``)."""

    cluster_id: int
    name: str | None
    query_face: int
    nearest_distance: float
    second_distance: float | None
    matched_by: Literal["one_face", "two_faces", "clearly_nearest"]
    runner_up: float | None = None
    photo_count: int


class Cuts(BaseModel):
    """The distances a search used: ``face``, one face this near matches (and brings its
    person); ``person``, a person whose second nearest face is this near matches. They are
    the event's own (``kanta.clusters.cuts``): its last re-clustering estimated from its
    ``event_faces`` and ``same_photo_pairs`` (pairs of faces sharing a photo: two people)
    where different people start (``onset``; null without enough evidence, then Kanta's
    settings), and lowered every cut by as much as that is below the clustering cut.
    ``ratio``: the ratio test (``kanta.search.matching``): a match's score must be at most
    this times the best score of anyone else; ``clear``: the score within which the clearly
    nearest person matches although no cut is met."""

    face: float
    person: float
    ratio: float | None = None
    clear: float | None = None
    onset: float | None = None
    same_photo_pairs: int = 0
    event_faces: int = 0


class SearchResult(BaseModel):
    """Matches nearest first, the people who matched and the cuts used. When there are no
    matches, ``reason`` is ``no_match`` and ``message`` says why, so a client can tell "not at
    this event" from an error."""

    query_faces: list[QueryFace]
    matches: list[Match]
    people: list[PersonMatch]
    cuts: Cuts
    reason: str | None = None
    message: str | None = None
