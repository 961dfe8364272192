"""People that persist: stable ids across runs, incremental assignment on ingest, and human
corrections (names, merges, moves, "not this person") that every run honours. Real
PostgreSQL, Azurite and dlib on the labelled photos."""

from __future__ import annotations

import numpy as np
import pytest

from kanta.clusters.algorithm import NOISE, stable_ids
from tests.helpers import photo, put_blob, run_blob_trigger, side_by_side

# --- the pure id matching -----------------------------------------------------------------


def ids_for(labels, previous, pinned=None, rejected=None, next_id=10):
    return stable_ids(np.array(labels), np.array(previous), pinned=pinned or {}, rejected=rejected or {},
                      next_id=next_id)


def test_clusters_keep_the_id_most_of_their_faces_had():
    ids, next_id = ids_for([0, 0, 1, 1, 1, NOISE], [7, 7, 3, 3, -1, 7])
    assert ids.tolist() == [7, 7, 3, 3, 3, NOISE] and next_id == 10


def test_a_split_keeps_the_id_on_the_larger_part_and_new_ids_are_never_reused():
    ids, next_id = ids_for([0, 0, 0, 1, 1], [4, 4, 4, 4, 4], next_id=5)
    assert ids.tolist() == [4, 4, 4, 5, 5] and next_id == 6


def test_pins_decide_a_cluster_and_rejections_send_a_face_to_noise():
    # Faces 0-1 were merged into person 2 by a host; face 3 is "not person 8".
    ids, _ = ids_for([0, 0, 1, 1], [5, 5, 8, 8], pinned={0: 2, 1: 2}, rejected={3: {8}})
    assert ids.tolist() == [2, 2, 8, NOISE]


def test_one_moved_face_does_not_drag_its_cluster_along():
    ids, _ = ids_for([0, 0, 0, 1], [5, 5, 5, 8], pinned={2: 8})
    assert ids.tolist() == [5, 5, 8, 8]


# --- through the function objects ---------------------------------------------------------


def upload(api, functions, code: str, *names: str) -> dict[str, dict]:
    """Store each photo as ``{code}/{stem}`` and run the blob trigger; return the images by photo."""
    for name in names:
        put_blob(f"{code}/{name}", photo(name))
        run_blob_trigger(functions, f"{code}/{name}")
    items = api("list_images", route={"code": code}, params={"limit": "200"})[1]["items"]
    by_blob = {i["blob_name"].split("/", 1)[1]: i for i in items}
    return {n: api("get_image", route={"image_id": by_blob[n]["image_id"]})[1] for n in names}


def person_of(image: dict) -> int:
    (face,) = image["faces"]
    return face["cluster_id"]


def recluster(api, code: str) -> dict:
    status, run = api("recluster_event", "POST", route={"code": code})
    assert status == 200, run
    return run


@pytest.fixture
def people(api, functions, event):
    """An event with Obama (3 photos), Biden (2) and Kit Harington (2), clustered once."""
    code = event["code"]
    upload(api, functions, code, "obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
           "kit_harington_1.jpg", "kit_harington_2.jpg")
    recluster(api, code)
    return code, current(api, code)


def _images(api, code: str) -> dict[str, dict]:
    items = api("list_images", route={"code": code}, params={"limit": "200"})[1]["items"]
    return {i["blob_name"].split("/", 1)[1]: i for i in items}


def current(api, code: str) -> dict[str, int]:
    return {n: person_of(api("get_image", route={"image_id": i["image_id"]})[1]) for n, i in _images(api, code).items()}


def test_ids_survive_new_photos_and_new_photos_join_their_person_at_once(api, functions, people):
    code, before = people
    assert before["obama_1.jpg"] == before["obama_2.jpg"] == before["obama_3.jpg"] >= 0
    assert len({before["obama_1.jpg"], before["biden_1.jpg"], before["kit_harington_1.jpg"]}) == 3

    # Incremental assignment: a new photo of Obama is in his person before any run.
    new = upload(api, functions, code, "obama_4_480p.jpg", "rose_leslie_1.jpg", "rose_leslie_2.jpg")
    assert person_of(new["obama_4_480p.jpg"]) == before["obama_1.jpg"]
    assert person_of(new["rose_leslie_1.jpg"]) is None  # nobody close: left to the next run

    run = recluster(api, code)
    after = current(api, code)
    assert all(after[n] == before[n] for n in before)
    assert run["kept_count"] == 8 and run["face_count"] == 10 and run["trigger"] == "manual"
    assert after["rose_leslie_1.jpg"] == after["rose_leslie_2.jpg"] not in before.values()
    _, clusters = api("list_clusters", route={"code": code})
    assert clusters["last_run"]["kept_count"] == 8 and clusters["last_run"]["algorithm"] == "graph_average"


def test_names_merges_and_moves_survive_every_run(api, functions, people):
    code, before = people
    obama, biden, kit = before["obama_1.jpg"], before["biden_1.jpg"], before["kit_harington_1.jpg"]

    status, named = api("update_cluster", "PATCH", route={"code": code, "cluster_id": str(obama)},
                        json_body={"name": "Barack"})
    assert status == 200 and named["name"] == "Barack"

    # A host merges Kit into Biden (wrongly, but it is theirs to decide) ...
    status, merged = api("merge_cluster", "POST", route={"code": code, "cluster_id": str(kit)},
                         json_body={"into": biden})
    assert status == 200 and merged["cluster_id"] == biden and merged["face_count"] == 4
    # ... moves one Obama photo to Biden, and says another Obama photo is not Obama.
    faces = {n: api("get_image", route={"image_id": i["image_id"]})[1]["faces"][0]["face_id"]
             for n, i in _images(api, code).items()}
    assert api("move_face", "PUT", route={"face_id": str(faces["obama_2.jpg"])},
               json_body={"cluster_id": biden}) == (200, {"face_id": faces["obama_2.jpg"], "cluster_id": biden})
    assert api("move_face", "PUT", route={"face_id": str(faces["obama_3.jpg"])},
               json_body={"cluster_id": None})[1]["cluster_id"] == NOISE

    for _ in range(2):
        recluster(api, code)
        after = current(api, code)
        assert after["kit_harington_1.jpg"] == after["kit_harington_2.jpg"] == biden
        assert after["obama_2.jpg"] == biden and after["obama_3.jpg"] == NOISE and after["obama_1.jpg"] == obama
        names = {c["cluster_id"]: c["name"] for c in api("list_clusters", route={"code": code})[1]["items"]}
        assert names[obama] == "Barack" and kit not in names


def faces_of(api, code: str, name: str) -> list[dict]:
    """The faces of photo ``name`` of event ``code``, left to right."""
    image = _images(api, code)[name]
    return sorted(api("get_image", route={"image_id": image["image_id"]})[1]["faces"], key=lambda f: f["bbox"]["x"])


def test_two_faces_of_one_photo_never_join_one_person_on_ingest(api, functions, people):
    # A photo holding two pictures of Obama side by side: both faces are close to his
    # person, but one photo shows a person once; the closer face joins, the other waits.
    code, before = people
    obama = before["obama_1.jpg"]
    put_blob(f"{code}/two-obamas.jpg", side_by_side("obama_4_480p.jpg", "obama_5_small.jpg"))
    run_blob_trigger(functions, f"{code}/two-obamas.jpg")
    left, right = faces_of(api, code, "two-obamas.jpg")
    assert sorted([left["cluster_id"], right["cluster_id"]], key=str) == [obama, None]


def test_two_faces_of_one_photo_never_make_one_person_in_a_full_run(api, functions, event):
    # Two pictures of Obama in one photo (0.07 apart), plus three single ones. Without the
    # same-photo rule all five faces are one person; with it the two are never together (the
    # evidence says two people: the singles split between them rather than join both).
    code = event["code"]
    put_blob(f"{code}/two-obamas.jpg", side_by_side("obama_1.jpg", "obama_4_480p.jpg"))
    run_blob_trigger(functions, f"{code}/two-obamas.jpg")
    singles = upload(api, functions, code, "obama_2.jpg", "obama_3.jpg", "obama_5_small.jpg")
    recluster(api, code)
    pair = [f["cluster_id"] for f in faces_of(api, code, "two-obamas.jpg")]
    assert pair[0] != pair[1] and min(pair) >= 0
    for image in singles.values():
        assert person_of(api("get_image", route={"image_id": image["image_id"]})[1]) in pair


def test_a_repeated_delivery_keeps_face_ids_and_corrections(api, functions, people):
    """Event Grid delivers at least once: the same bytes again must not re-index the photo
    (new face ids would lose the host's corrections); new bytes under the name must."""
    code, before = people
    biden = before["biden_1.jpg"]
    image = _images(api, code)["obama_2.jpg"]
    face = api("get_image", route={"image_id": image["image_id"]})[1]["faces"][0]["face_id"]
    assert api("move_face", "PUT", route={"face_id": str(face)}, json_body={"cluster_id": biden})[0] == 200

    run_blob_trigger(functions, f"{code}/obama_2.jpg")  # the same blob, delivered again
    again = api("get_image", route={"image_id": image["image_id"]})[1]
    assert [f["face_id"] for f in again["faces"]] == [face] and again["faces"][0]["cluster_id"] == biden
    recluster(api, code)
    assert current(api, code)["obama_2.jpg"] == biden  # the correction still holds

    put_blob(f"{code}/obama_2.jpg", photo("obama_3.jpg"))  # different bytes, same name
    run_blob_trigger(functions, f"{code}/obama_2.jpg")
    replaced = api("get_image", route={"image_id": image["image_id"]})[1]
    assert len(replaced["faces"]) == 1 and replaced["faces"][0]["face_id"] != face


def test_correction_errors(api, functions, people):
    code, before = people
    obama = before["obama_1.jpg"]
    cases = [
        (api("update_cluster", "PATCH", route={"code": code, "cluster_id": "999"}, json_body={"name": "x"}),
         404, "cluster_not_found"),
        (api("update_cluster", "PATCH", route={"code": code, "cluster_id": "abc"}, json_body={"name": "x"}),
         404, "cluster_not_found"),
        (api("merge_cluster", "POST", route={"code": code, "cluster_id": str(obama)}, json_body={"into": obama}),
         422, "same_cluster"),
        (api("merge_cluster", "POST", route={"code": code, "cluster_id": str(obama)}, json_body={"into": 999}),
         404, "cluster_not_found"),
        (api("move_face", "PUT", route={"face_id": "123456789"}, json_body={"cluster_id": obama}),
         404, "face_not_found"),
        (api("move_face", "PUT", route={"face_id": "x"}, json_body={"cluster_id": obama}), 404, "face_not_found"),
        (api("move_face", "PUT", route={"face_id": "1"}, json_body={}), 422, "validation_error"),
    ]
    for (status, body), expected_status, code_ in cases:
        assert (status, body["code"]) == (expected_status, code_), body


@pytest.mark.parametrize("correction", ["merge", "move"])
def test_a_correction_during_a_running_recluster_lands_after_it_and_schedules_the_next_run(
        api, functions, people, monkeypatch, correction):
    # The run is slowed where it computes (between reading the faces and writing their
    # people), so the host's correction arrives while it runs; without waiting for it, the
    # run would write the old people over the correction.
    import threading
    import time

    from kanta.clusters import service

    code, before = people
    biden, kit = before["biden_1.jpg"], before["kit_harington_1.jpg"]
    real = service.cluster_descriptors
    started = threading.Event()

    def slow(*args, **kwargs):
        started.set()
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "cluster_descriptors", slow)
    run = threading.Thread(target=lambda: api("recluster_event", "POST", route={"code": code}))
    run.start()
    assert started.wait(30)
    if correction == "merge":
        status, _ = api("merge_cluster", "POST", route={"code": code, "cluster_id": str(kit)}, json_body={"into": biden})
        moved = ["kit_harington_1.jpg", "kit_harington_2.jpg"]
    else:
        face = api("get_image", route={"image_id": _images(api, code)["kit_harington_2.jpg"]["image_id"]})[1]
        status, _ = api("move_face", "PUT", route={"face_id": str(face["faces"][0]["face_id"])},
                        json_body={"cluster_id": biden})
        moved = ["kit_harington_2.jpg"]
    run.join()
    assert status == 200
    assert all(current(api, code)[n] == biden for n in moved)
    monkeypatch.setattr(service, "cluster_descriptors", real)
    # The correction scheduled a run; the timer's run keeps it.
    assert code in [r.event_code for r in service.recluster_due_events()]
    assert all(current(api, code)[n] == biden for n in moved)
    assert code not in [r.event_code for r in service.recluster_due_events()]
