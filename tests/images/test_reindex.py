"""``POST /api/images/{image_id}/reindex``: a host re-indexes a photo's stored blob now, against
real PostgreSQL, Azurite and dlib."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from tests.helpers import browser_put, photo, run_blob_trigger, upload_ticket


def reindex(api, image_id: str) -> tuple[int, Any]:
    return api("reindex_image", "POST", route={"image_id": image_id})


def indexed_and_clustered(api, functions, code: str, *names: str) -> dict[str, str]:
    """Upload each photo through an upload URL, run the blob trigger on it, re-cluster the
    event; the image ids by photo name."""
    uploads = {}
    for name in names:
        upload = upload_ticket(api, code)
        assert browser_put(upload, photo(name)) == 201
        run_blob_trigger(functions, upload["blob_name"])
        uploads[name] = upload["image_id"]
    assert api("recluster_event", "POST", route={"code": code})[0] == 200
    return uploads


def test_reindexing_a_processed_photo_indexes_it_again_even_if_unchanged(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, photo("group_biden_obama.jpg")) == 201
    run_blob_trigger(functions, upload["blob_name"])
    before = api("get_image", route={"image_id": upload["image_id"]})[1]

    status, after = reindex(api, upload["image_id"])

    assert status == 200, after
    assert (after["image_id"], after["status"], after["face_count"]) == (upload["image_id"], "processed", 2)
    assert [f["bbox"] for f in after["faces"]] == [f["bbox"] for f in before["faces"]]
    assert not {f["face_id"] for f in after["faces"]} & {f["face_id"] for f in before["faces"]}, "indexed anew"
    assert after["processed_at"] > before["processed_at"]
    assert api("get_event", route={"code": event["code"]})[1]["face_count"] == 2  # replaced, not added


def test_reindexing_a_photo_whose_trigger_never_ran_indexes_it(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, photo("obama_1.jpg")) == 201
    status, body = reindex(api, upload["image_id"])
    assert status == 200, body
    assert (body["status"], body["face_count"], len(body["faces"])) == ("processed", 1, 1)


def test_reindexing_a_bad_photo_says_its_file_was_removed_and_keeps_it_failed(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, b"not a photo at all") == 201
    run_blob_trigger(functions, upload["blob_name"])
    status, body = reindex(api, upload["image_id"])  # the refused blob was deleted
    assert (status, body["code"]) == (409, "image_not_uploaded"), body
    assert "refused and removed" in body["message"]
    image = api("get_image", route={"image_id": upload["image_id"]})[1]
    assert (image["status"], image["failure_code"], image["faces"]) == ("failed", "not_an_image", [])


def test_reindexing_a_photo_not_uploaded_yet_is_409(api, event):
    upload = upload_ticket(api, event["code"])
    status, body = reindex(api, upload["image_id"])
    assert (status, body["code"]) == (409, "image_not_uploaded"), body
    assert api("get_image", route={"image_id": upload["image_id"]})[1]["status"] == "pending"


@pytest.mark.parametrize("image_id", [str(uuid.uuid4()), "not-a-uuid", "{12345678-1234-5678-1234-567812345678}"])
def test_reindexing_an_unknown_image_is_404(api, image_id):
    status, body = reindex(api, image_id)
    assert (status, body["code"]) == (404, "image_not_found")


def test_reindexing_a_deleted_photo_is_404(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, photo("obama_2.jpg")) == 201
    run_blob_trigger(functions, upload["blob_name"])
    assert api("delete_image", "DELETE", route={"image_id": upload["image_id"]})[0] == 204
    status, body = reindex(api, upload["image_id"])
    assert (status, body["code"]) == (404, "image_not_found")


def _index_as_the_old_pipeline(image_id: str, name: str) -> None:
    """Turn the photo's stored faces into what the earlier pipeline wrote: face_recognition's
    HOG boxes and descriptors, detector ``hog``, pipeline ``dlib-hog`` (the migration's value
    for photos indexed before pipelines were recorded). The people stay as they are."""
    import face_recognition

    from kanta.db import connection
    from tests.helpers import DATA

    rgb = face_recognition.load_image_file(DATA / name)
    (top, right, bottom, left), = face_recognition.face_locations(rgb, number_of_times_to_upsample=1)
    (descriptor,) = face_recognition.face_encodings(rgb, [(top, right, bottom, left)])
    with connection() as conn:
        conn.execute(
            """UPDATE faces SET detector = 'hog', bbox_x = %s, bbox_y = %s, bbox_width = %s, bbox_height = %s,
                   descriptor = %s, yaw = NULL, roll = NULL WHERE image_id = %s""",
            (left, top, right - left, bottom - top, np.asarray(descriptor, np.float32), image_id))
        conn.execute("UPDATE images SET pipeline = 'dlib-hog', detection_profile = 'balanced' WHERE id = %s",
                     (image_id,))


def test_a_photo_of_the_old_pipeline_is_reindexed_by_the_timer_and_keeps_its_person(api, functions, event):
    """The re-index timer moves a photo indexed by the HOG pipeline to YuNet: its face is found
    again where it was, keeps its person and the host's name for them, and the next re-cluster
    keeps the person's id."""
    from kanta.images.service import reindex_outdated

    uploads = indexed_and_clustered(api, functions, event["code"], "obama_1.jpg", "obama_2.jpg", "obama_3.jpg",
                                    "biden_1.jpg")
    (face,) = api("get_image", route={"image_id": uploads["obama_1.jpg"]})[1]["faces"]
    person = face["cluster_id"]
    assert person >= 0
    assert api("update_cluster", "PATCH", route={"code": event["code"], "cluster_id": str(person)},
               json_body={"name": "Barack"})[0] == 200
    _index_as_the_old_pipeline(uploads["obama_1.jpg"], "obama_1.jpg")
    old = api("get_image", route={"image_id": uploads["obama_1.jpg"]})[1]["faces"]
    assert [f["detector"] for f in old] == ["hog"]

    assert reindex_outdated() == 1, "only the photo of the old pipeline"
    assert reindex_outdated() == 0, "nothing left to move"

    (new,) = api("get_image", route={"image_id": uploads["obama_1.jpg"]})[1]["faces"]
    assert new["detector"] == "yunet" and new["yaw"] is not None
    assert new["face_id"] != old[0]["face_id"] and new["cluster_id"] == person
    assert api("recluster_event", "POST", route={"code": event["code"]})[0] == 200
    (after,) = api("get_image", route={"image_id": uploads["obama_1.jpg"]})[1]["faces"]
    assert after["cluster_id"] == person
    people = api("list_clusters", route={"code": event["code"]})[1]["items"]
    assert {p["cluster_id"]: p["name"] for p in people}[person] == "Barack"


def test_a_reindexed_face_keeps_the_hosts_correction(api, functions, event):
    """A host put Biden's face into Obama's person (a pin); after the photo moves to the new
    pipeline its new face is still pinned there, through a re-cluster too."""
    from kanta.images.service import reindex_outdated

    uploads = indexed_and_clustered(api, functions, event["code"], "obama_1.jpg", "obama_2.jpg", "biden_1.jpg")
    (obama,) = api("get_image", route={"image_id": uploads["obama_1.jpg"]})[1]["faces"]
    (biden,) = api("get_image", route={"image_id": uploads["biden_1.jpg"]})[1]["faces"]
    assert obama["cluster_id"] >= 0 and biden["cluster_id"] != obama["cluster_id"]
    status, body = api("move_face", "PUT", route={"face_id": str(biden["face_id"])},
                       json_body={"cluster_id": obama["cluster_id"]})
    assert status == 200, body
    _index_as_the_old_pipeline(uploads["biden_1.jpg"], "biden_1.jpg")

    assert reindex_outdated() == 1
    assert api("recluster_event", "POST", route={"code": event["code"]})[0] == 200
    (after,) = api("get_image", route={"image_id": uploads["biden_1.jpg"]})[1]["faces"]
    assert after["detector"] == "yunet" and after["face_id"] != biden["face_id"]
    assert after["cluster_id"] == obama["cluster_id"]


def test_two_reindex_timers_at_once_move_a_photo_once(api, functions, event):
    """Two instances run the re-index timer at the same time: the photo of the old pipeline is
    indexed again by one of them; the other finds it done and leaves its faces alone."""
    import threading

    from kanta.images.service import reindex_outdated

    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, photo("obama_1.jpg")) == 201
    run_blob_trigger(functions, upload["blob_name"])
    _index_as_the_old_pipeline(upload["image_id"], "obama_1.jpg")
    counts: list[int] = []
    start = threading.Barrier(2)

    def timer() -> None:
        start.wait()
        counts.append(reindex_outdated())

    threads = [threading.Thread(target=timer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1]
    (face,) = api("get_image", route={"image_id": upload["image_id"]})[1]["faces"]
    assert face["detector"] == "yunet"
