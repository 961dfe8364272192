"""Search matches over a per-process copy of each event's descriptors and people
(kanta.search.descriptors): it must give the answer the database gives, and follow it as
photos come and go and as people are re-clustered, merged and corrected, without a restart."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

from kanta.config import get_settings
from kanta.db import connection
from kanta.faces.pipeline import analyse_image, analysis_settings
from kanta.search import descriptors
from kanta.search.matching import SearchCuts, select_faces
from tests.helpers import age_tombstone, photo
from tests.search.helpers import SELFIE, add_photos, event_id, face_of, photos_found, recluster, search

#: Cuts that let every face of the event through: the copy is compared face by face.
EVERY_FACE = SearchCuts(face=2.0, person=2.0)


def selfie_descriptor(name: str = SELFIE) -> np.ndarray:
    """dlib descriptor ``(128,)`` of the largest face of a tests/data photo."""
    faces = analyse_image(photo(name), **analysis_settings(get_settings()), thumbnails=False).faces
    return max(faces, key=lambda f: f.bbox.area).descriptor


def database_answer(dsn: str, eid: int, q: np.ndarray, cuts: SearchCuts) -> tuple[list[int], list[float], list]:
    """The rule applied to pgvector's distances and the faces' cluster ids, read now."""
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        rows = conn.execute(
            "SELECT id, descriptor <-> %s, coalesce(cluster_id, -1) FROM faces "
            "WHERE event_id = %s AND excluded_reason IS NULL ORDER BY id", (q.astype(np.float32), eid)).fetchall()
    ids = np.array([r[0] for r in rows])
    distances = np.array([r[1] for r in rows])
    selection = select_faces(distances, np.array([r[2] for r in rows]), cuts)
    return ids[selection.faces].tolist(), distances[selection.faces].tolist(), selection.people


def test_same_faces_distances_and_people_as_the_database(api, functions, event, services):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "biden_2.jpg",
                                 "group_biden_obama.jpg", "kit_harington_1.jpg"])
    recluster(api, code)
    eid = event_id(code)
    settings = get_settings()
    selfie, random_face = selfie_descriptor(), np.random.default_rng(0).normal(0, 0.09, 128)
    cases = [(selfie, SearchCuts(settings.search_max_distance, settings.search_person_max_distance)),
             (selfie, SearchCuts(0.05, 0.4)),
             (random_face, EVERY_FACE)]
    dsn = services["KANTA_DATABASE_URL"]
    with connection() as conn:
        ours = [descriptors.match_faces(conn, eid, q[None], cuts, top_k=20)[0] for q, cuts in cases]
        together = descriptors.match_faces(conn, eid, np.array([selfie, random_face]), EVERY_FACE, top_k=2)
    for (q, cuts), mine in zip(cases, ours):
        ids, distances, people = database_answer(dsn, eid, q, cuts)
        assert mine.face_ids.tolist() == ids and len(ids) > 0
        assert np.allclose(mine.distances, distances, atol=1e-5)
        assert [(p.person, p.matched_by) for p in mine.people] == [(p.person, p.matched_by) for p in people]
        assert np.allclose([(p.nearest, p.second or 0) for p in mine.people],
                           [(p.nearest, p.second or 0) for p in people], atol=1e-5)
    # Several query faces in one call: each as if alone; photos limited to top_k.
    assert len(ours[2].face_ids) == 7  # every usable face of the event
    for q, mine in zip([selfie, random_face], together):
        assert mine.face_ids.tolist() == database_answer(dsn, eid, q, EVERY_FACE)[0] and len(mine.photos) == 2


def test_queries_of_the_wrong_shape_are_refused(event):
    with connection() as conn, pytest.raises(ValueError, match="queries"):
        descriptors.match_faces(conn, event_id(event["code"]), np.zeros(128), EVERY_FACE, top_k=5)


def test_the_copy_follows_new_and_deleted_photos(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg"])
    assert photos_found(search(api, code, max_distance=0.6), code) == ["obama_1.jpg"]  # the copy is read now

    add_photos(functions, code, ["obama_2.jpg"])  # read on the next search
    assert sorted(photos_found(search(api, code, max_distance=0.6), code)) == ["obama_1.jpg", "obama_2.jpg"]

    gone = face_of(api, code, "obama_1.jpg")["face_id"]
    (image,) = [i for i in api("list_images", route={"code": code})[1]["items"]
                if i["blob_name"].endswith("obama_1.jpg")]
    assert api("delete_image", "DELETE", route={"image_id": image["image_id"]})[0] == 204
    after = search(api, code, max_distance=0.6)
    assert photos_found(after, code) == ["obama_2.jpg"] and gone not in [m["face_id"] for m in after["matches"]]

    age_tombstone(image["blob_name"], 60)  # a minute later, the same file is uploaded again
    add_photos(functions, code, ["obama_1.jpg"])  # indexed again: new face rows, new ids
    assert sorted(photos_found(search(api, code, max_distance=0.6), code)) == ["obama_1.jpg", "obama_2.jpg"]


def test_a_face_committed_after_a_higher_id_is_found(api, functions, event, services):
    code = event["code"]
    add_photos(functions, code, ["kit_harington_1.jpg", "obama_2.jpg"])
    eid = event_id(code)
    near = SearchCuts(0.2, 0.2)
    with connection() as conn:
        assert descriptors.match_faces(conn, eid, selfie_descriptor()[None], near, top_k=5)[0].face_ids.size == 0
    # Two writers: the first takes a face id, the second a higher one and commits first.
    copy_face = ("INSERT INTO faces (image_id, event_id, bbox_x, bbox_y, bbox_width, bbox_height, descriptor) "
                 "SELECT image_id, event_id, 0, 0, 10, 10, {} FROM faces WHERE event_id = %s LIMIT 1 RETURNING id")
    q = selfie_descriptor().astype(np.float32)
    with psycopg.connect(services["KANTA_DATABASE_URL"]) as first, \
            psycopg.connect(services["KANTA_DATABASE_URL"]) as second:
        register_vector(first)
        register_vector(second)
        (low,) = first.execute(copy_face.format("%s"), (q, eid)).fetchone()
        (high,) = second.execute(copy_face.format("(SELECT descriptor FROM faces WHERE event_id = %s ORDER BY id "
                                                  "LIMIT 1)"), (eid, eid)).fetchone()
        second.execute("UPDATE events SET faces_version = faces_version + 1 WHERE id = %s", (eid,))
        second.commit()
        with connection() as conn:
            assert descriptors.match_faces(conn, eid, q[None], near, top_k=5)[0].face_ids.size == 0
        first.execute("UPDATE events SET faces_version = faces_version + 1 WHERE id = %s", (eid,))
        first.commit()
    assert low < high
    with connection() as conn:
        (found,) = descriptors.match_faces(conn, eid, q[None], near, top_k=5)
    assert found.face_ids.tolist() == [low] and found.distances[0] < 1e-6


def test_the_copy_follows_a_recluster_and_new_faces_of_a_person(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_3.jpg", "biden_1.jpg", "kit_harington_1.jpg"])
    cuts = {"max_distance": 0.2, "person_max_distance": 0.2}
    assert photos_found(search(api, code, **cuts), code) == ["obama_1.jpg"]  # nobody clustered yet
    eid = event_id(code)
    read = descriptors._copies[eid].matrix

    recluster(api, code)  # changes people only
    after = search(api, code, **cuts)
    assert sorted(photos_found(after, code)) == ["obama_1.jpg", "obama_3.jpg"]
    assert descriptors._copies[eid].matrix is read  # people re-read, descriptors not

    # A new photo joins its person as it is indexed, and search brings it with the person.
    add_photos(functions, code, ["obama_2.jpg"])
    assert face_of(api, code, "obama_2.jpg")["cluster_id"] == after["people"][0]["cluster_id"]
    latest = search(api, code, **cuts)
    assert sorted(photos_found(latest, code)) == ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"]
    assert latest["people"][0]["photo_count"] == 3


def test_the_copy_follows_a_merge_and_moves(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "biden_2.jpg"])
    recluster(api, code)
    obama = face_of(api, code, "obama_1.jpg")["cluster_id"]
    biden = face_of(api, code, "biden_1.jpg")["cluster_id"]
    assert obama >= 0 and biden >= 0 and obama != biden
    assert sorted(photos_found(search(api, code), code)) == ["obama_1.jpg", "obama_2.jpg"]

    # A host merges Biden into Obama (a wrong merge): the selfie now brings Biden's photos.
    status, merged = api("merge_cluster", "POST", route={"code": code, "cluster_id": str(biden)},
                         json_body={"into": obama})
    assert status == 200, merged
    result = search(api, code)
    assert sorted(photos_found(result, code)) == ["biden_1.jpg", "biden_2.jpg", "obama_1.jpg", "obama_2.jpg"]
    assert all(m["cluster_id"] == obama for m in result["matches"])
    assert result["people"][0]["photo_count"] == 4

    # "Not this person" on one Biden face: that photo is no longer brought.
    moved = face_of(api, code, "biden_2.jpg")["face_id"]
    assert api("move_face", "PUT", route={"face_id": str(moved)}, json_body={"cluster_id": None})[0] == 200
    assert sorted(photos_found(search(api, code), code)) == ["biden_1.jpg", "obama_1.jpg", "obama_2.jpg"]

    # Moved back into the person: brought again.
    assert api("move_face", "PUT", route={"face_id": str(moved)}, json_body={"cluster_id": obama})[0] == 200
    assert "biden_2.jpg" in photos_found(search(api, code), code)


def test_deleting_the_event_forgets_its_copy(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg"])
    search(api, code)
    eid = event_id(code)
    assert eid in descriptors._copies
    assert api("delete_event", "DELETE", route={"code": code})[0] == 204
    assert eid not in descriptors._copies
