"""Every erasure that crosses domains: deleting an event, forget my face, erase a person, and
the retention purge (README, "Privacy"). Each removes rows through their owners
(``kanta.store``), blobs through ``kanta.storage`` and the event's per-process descriptors
(``kanta.search.descriptors.forget``). A single photo's delete is ``kanta.images.service``'s.

An erasure removes every face of a person from an event: the face rows (descriptors, boxes,
their place in people, hosts' corrections on them), their thumbnails, and the person's name
when no face of theirs is left; it adds the person's descriptors to the event's do-not-index
list, so that photos uploaded later are indexed without their face (``kanta.images.ingest``
drops any new face within the search's face cut of a listed descriptor). The list is kept
only to honour the request: it goes with the event, or with its face data at the end of its
retention.

Which faces are a person's is decided as the search decides it (``kanta.search.matching``
with the event's cuts, ``kanta.clusters.service.cuts_in_use``: never looser than
``KANTA_SEARCH_MAX_DISTANCE`` / ``KANTA_SEARCH_PERSON_MAX_DISTANCE``, lower where the event's
own faces say different people start lower): the people the selfie's largest usable face
matches, with all their faces, and the faces in no person within the face cut; then any other
face within the face cut of a listed descriptor (the one-face rule the search and the ingest
apply to it).

Races: an erasure holds the event's people (``kanta.clusters.service.hold_people``, as hosts'
corrections do: a running re-clustering commits first, one starting meanwhile is skipped),
then the event row ``FOR UPDATE`` (an indexing run writes its result before, and is erased
with the rest, or after, and sees the list). The retention purge takes the same locks.

SQL on faces and on the list goes through ``kanta.store.images``, on events through
``kanta.store.events``; blobs through ``kanta.storage``. No HTTP here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import psycopg
from azure.core.exceptions import AzureError

from kanta import storage
from kanta.clusters.service import cuts_in_use, hold_people
from kanta.db import connection
from kanta.errors import Unavailable, not_found
from kanta.privacy.schemas import ForgetResult
from kanta.search import descriptors
from kanta.search.service import check_selfie_size, search_cuts, selfie_faces
from kanta.store import images as store
from kanta.store.events import FacePolicy, face_policy, get_event_id, record_erased, record_purge, retention_due
from kanta.store.events import delete_event as delete_event_row
from kanta.store.people import forget_names

log = logging.getLogger(__name__)

#: What a guest reads when the event's face data is already gone.
PURGED_MESSAGE = ("This event's face data was deleted at the end of its retention period: nothing of your face "
                  "is kept here.")


def forget_face(event_code: str, selfie: bytes) -> ForgetResult:
    """Erase the guest in ``selfie`` (JPEG/PNG/WebP bytes) from event ``event_code``: every
    face of the people its largest usable face matches, and every face within the face cut of
    it or of them (see the module docstring), and list their descriptors (the selfie's and the
    erased usable faces') so photos uploaded later are indexed without them. Works whether
    face search is on or off; after the retention purge there is nothing to erase and the
    selfie is not even decoded (``erased`` 0).

    Raises ``NotFound`` ``event_not_found``, ``TooLarge`` ``payload_too_large``, ``Invalid``
    ``invalid_image`` / ``no_face`` / ``face_unusable`` (``kanta.search.service.selfie_faces``),
    ``Unavailable`` ``people_busy`` / ``faces_busy`` (a re-clustering or indexing held the
    event over a minute) or ``storage_unavailable`` (nothing was erased; try again).
    """
    check_selfie_size(selfie)
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
        policy = face_policy(conn, event_id)
    if policy is None:
        raise not_found("event", event_code)
    if policy.purged:
        return ForgetResult(erased=0, message=PURGED_MESSAGE)
    analysis, usable = selfie_faces(selfie)
    face = max(usable, key=lambda i: analysis.faces[i].bbox.area)
    erased = _erase(event_code, event_id, selfie=np.asarray(analysis.faces[face].descriptor, dtype=np.float32))
    if erased is None:
        return ForgetResult(erased=0, message=PURGED_MESSAGE)
    if erased:
        message = (f"{erased} face(s) of yours were erased from this event. Photos uploaded later will be indexed "
                   "without your face.")
    else:
        message = ("No face of yours was found in this event's photos. Photos uploaded later will be indexed "
                   "without your face.")
    return ForgetResult(erased=erased, message=message)


def erase_person(event_code: str, cluster_id: int) -> ForgetResult:
    """Erase person ``cluster_id`` of event ``event_code`` at the host's request: all their
    faces, and every face within the face cut of one of their usable faces, whose descriptors
    join the do-not-index list.

    Raises ``NotFound`` ``event_not_found`` / ``cluster_not_found`` (no face is in that
    person, also after the retention purge), ``Unavailable`` ``people_busy`` / ``faces_busy``
    / ``storage_unavailable``.
    """
    with connection() as conn:
        event_id = get_event_id(conn, event_code)
    erased = _erase(event_code, event_id, person=cluster_id)
    if erased is None:
        raise not_found("cluster", cluster_id)
    return ForgetResult(erased=erased, message=f"{erased} face(s) of person {cluster_id} were erased from this event. "
                                               "Photos uploaded later will be indexed without their face.")


def _locked_policy(conn: psycopg.Connection, event_code: str, event_id: int) -> FacePolicy:
    """Hold the event's people, then its row ``FOR UPDATE`` (in this order, as corrections and
    re-clustering take them); its ``FacePolicy``. Raises ``NotFound`` (deleted meanwhile) and
    ``Unavailable`` ``people_busy`` / ``faces_busy``."""
    hold_people(conn, event_id)
    try:
        policy = face_policy(conn, event_id, lock=True)
    except psycopg.errors.LockNotAvailable:
        raise Unavailable("faces_busy", "This event's photos are being indexed; try again in a minute.") from None
    if policy is None:
        raise not_found("event", event_code)
    return policy


def _erase(event_code: str, event_id: int, *, selfie: np.ndarray | None = None, person: int | None = None
           ) -> int | None:
    """Erase the person of ``selfie`` (float32 ``(128,)``) or person ``person`` from the event
    in one transaction; return the faces erased, or ``None`` when there is nothing to erase
    from: the event's face data is purged, or ``person`` has no face."""
    with connection() as conn:
        policy = _locked_policy(conn, event_code, event_id)
        if policy.purged:
            return None
        event = cuts_in_use(conn, event_id)
        cuts = search_cuts(event)
        if selfie is not None:
            (found,) = descriptors.match_faces(conn, event_id, selfie[None, :], cuts, top_k=1)
            matched = found.face_ids.tolist()
            listing = np.vstack([selfie[None, :], store.usable_face_descriptors(conn, event_id, matched)])
        else:
            if person is None or not store.person_exists(conn, event_id, person):
                return None
            matched = store.faces_of_person(conn, event_id, person)
            listing = store.usable_face_descriptors(conn, event_id, matched)
        store.add_do_not_index(conn, event_id, listing)
        near = store.faces_near(conn, event_id, listing, cuts.face)
        erased = store.erase_faces(conn, event_id, sorted(set(matched) | set(near)))
        people = sorted({r["cluster_id"] for r in erased if r["cluster_id"] is not None and r["cluster_id"] >= 0})
        forget_names(conn, event_id, [p for p in people if not store.person_exists(conn, event_id, p)])
        record_erased(conn, event_id, len(erased))
        # Before the commit: if storage fails, the rows stay and the caller tries again; a
        # thumbnail is never left behind with no row to find it by.
        _delete_thumbnails([r["thumbnail_blob"] for r in erased if r["thumbnail_blob"]])
    # This process's search copy drops them now; other workers' copies at their next search of
    # the event (the faces version moved).
    descriptors.forget(event_id)
    log.info("erased %d face(s) from event %s at %s request", len(erased), event_code,
             "a guest's" if selfie is not None else "the host's")
    return len(erased)


def _delete_thumbnails(names: list[str]) -> None:
    try:
        storage.delete_blobs(names, storage.faces_container())
    except AzureError:
        raise Unavailable("storage_unavailable",
                          "Kanta cannot reach its photo storage, so the erasure did not finish; try again in a minute."
                          ) from None


# --------------------------------------------------------------------------- retention


#: Events one retention run purges (the timer is hourly; the next run takes the rest).
PURGE_BATCH = 50


@dataclass
class RetentionReport:
    """What one ``purge_expired`` run did: events whose face data it deleted, faces and photos
    deleted, and events it could not purge this time (the next run tries again)."""

    events: int = 0
    faces: int = 0
    photos: int = 0
    errors: int = 0


def purge_expired() -> RetentionReport:
    """Delete the face data of every event whose retention has ended
    (``kanta.store.events.RETENTION_ENDS_SQL``; at most ``PURGE_BATCH`` a run): its faces
    (descriptors, boxes, people, corrections), its people's names, its do-not-index list and
    every thumbnail; with ``retention_deletes_photos`` its photos too (their rows and blobs,
    leaving tombstones as a photo's delete does). The purge is recorded (``faces_purged_at``)
    and final: the event then searches (409 ``retention_over``) and indexes no faces.

    Raises ``psycopg.OperationalError`` when the database is unreachable; an error on one
    event (storage unreachable, its people held over a minute) is logged and the run goes on.
    """
    report = RetentionReport()
    with connection() as conn:
        due = retention_due(conn, PURGE_BATCH)
    for event in due:
        try:
            purged = purge_event(event["code"], event["id"])
        except psycopg.OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - one event must not stop the others
            log.warning("retention purge of event %s failed: %s: %s", event["code"], type(exc).__name__, exc)
            report.errors += 1
            continue
        if purged is not None:
            report.events += 1
            report.faces += purged[0]
            report.photos += purged[1]
    if report.events or report.errors:
        log.info("retention: face data of %d event(s) deleted (%d faces, %d photos), %d error(s)",
                 report.events, report.faces, report.photos, report.errors)
    return report


def purge_event(event_code: str, event_id: int) -> tuple[int, int] | None:
    """Purge one event's face data (and photos, if it says so) if its retention is still over
    once its people and row are held; return ``(faces, photos)`` deleted, or ``None`` when
    there was nothing to do (purged already, retention extended or the event deleted
    meanwhile). Raises ``psycopg.Error``, ``Unavailable`` and ``azure.core.exceptions.AzureError``
    (nothing was purged then)."""
    with connection() as conn:
        policy = _locked_policy(conn, event_code, event_id)
        if policy.purged or not policy.retention_over:
            return None
        faces = store.purge_faces(conn, event_id)
        forget_names(conn, event_id)
        photos = store.delete_event_images(conn, event_id) if policy.retention_deletes_photos else 0
        record_purge(conn, event_id, faces)
        # Thumbnails before the commit, as an erasure does: if storage fails nothing is purged
        # and the next run tries again.
        storage.delete_prefix(storage.event_prefix(event_code), [storage.faces_container()])
        purged_at = dt.datetime.now(dt.UTC)
    if policy.retention_deletes_photos:
        # After the commit, as an event's delete does: the tombstones make the blob trigger
        # delete any of these blobs, and the tombstone purge removes what is left.
        storage.delete_prefix(storage.event_prefix(event_code), [storage.uploads_container()],
                              modified_before=purged_at + store.STORAGE_CLOCK_SKEW)
    descriptors.forget(event_id)
    log.info("retention over for event %s: %d face(s) and %d photo(s) deleted", event_code, faces, photos)
    return faces, photos


def delete_event(code: str) -> None:
    """Delete an event: its rows (images and faces cascade), leaving a tombstone for the blob
    name of each of its images, upload tickets included; then its blobs and thumbnails.
    Raises ``NotFound``.

    The rows go first, in one transaction with the tombstones: from then on no indexing run
    attaches a photo to the event or brings one back, and a blob that an old upload URL
    writes later, even into a new event with the same code, is deleted instead of indexed
    (``kanta.images.ingest``). Blobs written under the code after the delete (a new event's)
    are left alone.
    """
    with connection() as conn:
        # Locked first: an indexing run adding an image to the event waits, then finds it gone.
        event_id = get_event_id(conn, code, lock=True)
        store.bury_event_images(conn, event_id)
        delete_event_row(conn, event_id)
    deleted_at = dt.datetime.now(dt.UTC)
    descriptors.forget(event_id)
    storage.delete_prefix(storage.event_prefix(code), modified_before=deleted_at + store.STORAGE_CLOCK_SKEW)
