"""Retention: once an event's retention has ended, the hourly job deletes its face data (every
descriptor, thumbnail, person and name, and the do-not-index list), and its photos too when it
says so (leaving tombstones, as a delete does); the purge is recorded and final: search answers
409 ``retention_over``, new photos are indexed without looking for faces, and forgetting has
nothing left to erase. Other events keep theirs."""

from __future__ import annotations

import uuid

from kanta.db import connection
from kanta.privacy import service
from tests.helpers import browser_put, event_blobs, face_thumbnails, photo, run_blob_trigger, upload_ticket
from tests.privacy.helpers import age_event, event_of, faces_by_photo, forget, listed_count, names, stored_faces
from tests.search.helpers import add_photos, image_ids, recluster

PHOTOS = ["obama_1.jpg", "group_biden_obama.jpg", "biden_1.jpg"]


def new_event(api, **settings) -> str:
    code = f"ev-{uuid.uuid4().hex[:12]}"
    status, body = api("create_event", "POST", json_body={"code": code, **settings})
    assert status == 201, body
    return code


def indexed_event(api, functions, **settings) -> str:
    """An event with three photos (four faces), clustered, a named person, and someone forgotten."""
    code = new_event(api, **settings)
    add_photos(functions, code, PHOTOS)
    recluster(api, code)
    (biden,) = {f["cluster_id"] for f in stored_faces(code) if f["blob"] == "biden_1.jpg"}
    api("update_cluster", "PATCH", route={"code": code, "cluster_id": str(biden)}, json_body={"name": "Joe"})
    forget(code, "kit_harington_1.jpg")
    assert len(stored_faces(code)) == 4 and len(face_thumbnails(code)) == 4 and listed_count(code) == 1
    return code


def run_timer(functions) -> None:
    functions["retention_timer"](None)


def test_after_the_retention_no_descriptor_or_thumbnail_remains_and_the_event_stays_purged(api, functions):
    code = indexed_event(api, functions, retention_days=30)
    kept = indexed_event(api, functions, retention_days=30)       # not over yet
    forever = indexed_event(api, functions, retention_days=None)  # kept until deleted
    age_event(code, 29)
    age_event(forever, 3000)
    run_timer(functions)
    assert len(stored_faces(code)) == 4  # 29 days: not yet

    age_event(code, 2)
    status, answer = api("search_event", "POST", route={"code": code}, body=photo("obama_4_480p.jpg"))
    assert (status, answer["code"]) == (409, "retention_over"), answer  # due: refused before the hourly run
    run_timer(functions)

    assert stored_faces(code) == [] and face_thumbnails(code) == set() and listed_count(code) == 0
    assert names(code) == [] and set(faces_by_photo(code).values()) == {0}
    event = event_of(api, code)
    assert event["faces_purged_at"] is not None and event["purged_face_count"] == 4 and event["face_count"] == 0
    # The photos stay (retention_deletes_photos is false).
    assert len(event_blobs(code)) == 3 and event["image_count"] == 3
    status, people = api("list_clusters", route={"code": code})
    assert status == 200 and people["items"] == []
    # Other events keep theirs.
    for other in (kept, forever):
        assert len(stored_faces(other)) == 4 and len(face_thumbnails(other)) == 4 and names(other) == ["Joe"]

    # Final: search is refused, new photos index no faces, forgetting has nothing to erase.
    status, answer = api("search_event", "POST", route={"code": code}, body=photo("obama_4_480p.jpg"))
    assert (status, answer["code"]) == (409, "retention_over"), answer
    add_photos(functions, code, {"after.jpg": photo("obama_2.jpg")})
    status, image = api("get_image", route={"image_id": image_ids(code)["after.jpg"]})
    assert image["status"] == "processed" and image["width"] and image["faces"] == [] and image["face_count"] == 0
    assert stored_faces(code) == [] and face_thumbnails(code) == set()
    result = forget(code, b"not even an image: it is not read")
    assert result.erased == 0 and listed_count(code) == 0
    status, answer = api("update_event", "PATCH", route={"code": code}, json_body={"retention_days": None})
    run_timer(functions)
    status, answer = api("search_event", "POST", route={"code": code}, body=photo("obama_4_480p.jpg"))
    assert (status, answer["code"]) == (409, "retention_over"), answer


def test_retention_that_deletes_photos_leaves_tombstones(api, functions):
    code = indexed_event(api, functions, retention_days=1, retention_deletes_photos=True)
    ticket = upload_ticket(api, code)  # a guest's upload URL, not used yet
    blobs = event_blobs(code)
    assert len(blobs) == 3
    age_event(code, 2)
    report = service.purge_expired()
    assert report.events >= 1 and report.errors == 0
    assert event_blobs(code) == set() and face_thumbnails(code) == set() and stored_faces(code) == []
    event = event_of(api, code)
    assert event["image_count"] == 0 and event["faces_purged_at"] is not None
    with connection() as conn:
        buried = {r["blob_name"] for r in conn.execute("SELECT blob_name FROM deleted_blobs WHERE blob_name = ANY(%s)",
                                                        (list(blobs),))}
    assert buried == blobs
    # The upload URL still works at storage, but what it writes is deleted, not indexed.
    assert browser_put(ticket, photo("obama_1.jpg")) == 201
    run_blob_trigger(functions, ticket["blob_name"])
    assert event_blobs(code) == set() and event_of(api, code)["image_count"] == 0


def test_an_event_extended_while_the_run_goes_is_not_purged(api, functions):
    code = indexed_event(api, functions, retention_days=1)
    age_event(code, 2)
    with connection() as conn:
        (due,) = [e for e in service.retention_due(conn, 1000) if e["code"] == code]
    # The host extends the retention after the run listed the event, before it purges it.
    api("update_event", "PATCH", route={"code": code}, json_body={"retention_days": 30})
    assert service.purge_event(code, due["id"]) is None
    assert len(stored_faces(code)) == 4 and event_of(api, code)["faces_purged_at"] is None
