"""Selfie search answers with people: a matched person brings all their photos, even where
they look unlike the selfie; each person comes with the evidence that matched them and the
cuts used; a face in no person counts only when it is very near; a stranger is told plainly
that nobody matched; a selfie that is no usable photo, has no face or is over the size
limit is refused (422 ``invalid_image``, ``no_face``; 413). Real PostgreSQL, Azurite and
dlib on the labelled photos."""

from __future__ import annotations

import pytest

from kanta.config import get_settings
from tests.faces.bombs import BOMB_60_MP, BOMB_225_MP, JPEG_HEADER_JUNK, plain_jpeg, truncated_jpeg
from tests.helpers import FACE, assert_error, photo, side_by_side
from tests.search.helpers import SELFIE, add_photos, face_of, photos_found, recluster, search


def setup_event(api, functions, code: str) -> None:
    """Obama in two photos (one also holding a second Obama face), Biden in two, Kit in one; clustered."""
    add_photos(functions, code, {
        "two-obamas.jpg": side_by_side("obama_2.jpg", "obama_3.jpg"),
        "obama.jpg": photo("obama_1.jpg"),
        "biden1.jpg": photo("biden_1.jpg"),
        "biden2.jpg": photo("biden_2.jpg"),
        "kit.jpg": photo("kit_harington_1.jpg"),
    })
    recluster(api, code)


def test_each_photo_appears_once_with_its_best_face(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    result = search(api, code)
    assert sorted(photos_found(result, code)) == ["obama.jpg", "two-obamas.jpg"]
    distances = [m["distance"] for m in result["matches"]]
    assert distances == sorted(distances) and result["reason"] is None
    # The two-Obama photo comes with the nearer of its two faces.
    (two,) = [m for m in result["matches"] if photos_found({"matches": [m]}, code) == ["two-obamas.jpg"]]
    wide = search(api, code, max_distance=1.0, top_k=200)  # every face within reach: both faces of that photo
    assert two["distance"] == min(m["distance"] for m in wide["matches"] if m["image_id"] == two["image_id"])
    (person,) = result["people"]
    assert person["cluster_id"] == result["matches"][0]["cluster_id"] and person["photo_count"] == 2


def test_a_stranger_gets_no_match_with_a_reason_and_the_cuts(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    settings = get_settings()
    for stranger in ("rose_leslie_1.jpg", "alex_lacamoire_1.jpg", "lin_manuel_miranda_1.png"):
        result = search(api, code, stranger)
        assert result["matches"] == [] and result["people"] == []
        # Six faces and one pair sharing a photo are too little evidence to move the cuts:
        # the settings' are used, and the answer says on what evidence.
        assert result["cuts"] == {"face": settings.search_max_distance, "person": settings.search_person_max_distance,
                                  "ratio": None, "clear": None,
                                  "onset": None, "same_photo_pairs": 1, "event_faces": 6}
        assert result["reason"] == "no_match"
        assert f"{settings.search_max_distance:g}" in result["message"]
        assert f"{settings.search_person_max_distance:g}" in result["message"]


def test_a_person_brings_their_photos_where_they_look_unlike_the_selfie(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "kit_harington_1.jpg"])
    cuts = {"max_distance": 0.2, "person_max_distance": 0.2}

    # Nobody is a person yet: only the face within the face cut counts.
    alone = search(api, code, **cuts)
    assert photos_found(alone, code) == ["obama_1.jpg"] and alone["people"] == []
    assert alone["matches"][0]["cluster_id"] is None and alone["matches"][0]["distance"] <= 0.2

    recluster(api, code)
    result = search(api, code, **cuts)
    assert (result["cuts"]["face"], result["cuts"]["person"]) == (0.2, 0.2)
    found = photos_found(result, code)
    assert found[0] == "obama_1.jpg" and sorted(found) == ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"]
    far = [m for m in result["matches"] if m["distance"] > 0.2]
    assert len(far) == 2  # farther than the face cut, found because they are the same person
    (person,) = result["people"]
    assert {m["cluster_id"] for m in result["matches"]} == {person["cluster_id"]}
    assert person["matched_by"] == "one_face" and person["photo_count"] == 3 and person["query_face"] == 0
    assert person["nearest_distance"] == result["matches"][0]["distance"]
    assert person["second_distance"] == result["matches"][1]["distance"]


def test_two_faces_of_a_person_match_where_one_would_not(api, functions, event):
    code = event["code"]
    add_photos(functions, code, ["obama_1.jpg", "obama_5_small.jpg", "obama_2.jpg", "biden_1.jpg", "biden_2.jpg"])
    recluster(api, code)
    (obama,) = search(api, code)["people"]
    nearest, second = obama["nearest_distance"], obama["second_distance"]
    assert nearest < second

    # The nearest face alone is not near enough, the second is within the person cut.
    two = search(api, code, max_distance=nearest - 0.01, person_max_distance=second + 0.01)
    (person,) = two["people"]
    assert person["matched_by"] == "two_faces" and person["cluster_id"] == obama["cluster_id"]
    assert sorted(photos_found(two, code)) == ["obama_1.jpg", "obama_2.jpg", "obama_5_small.jpg"]

    # Neither cut met, and the mean of the two nearest beyond the person cut too (so the
    # clearly nearest person does not match either): nobody, and the message says which cuts
    # were used.
    person_cut = round((nearest + second) / 2 - 0.01, 3)
    none = search(api, code, max_distance=nearest - 0.01, person_max_distance=person_cut)
    assert none["matches"] == [] and none["people"] == [] and none["reason"] == "no_match"
    assert f"{nearest - 0.01:g}" in none["message"] and f"{person_cut:g}" in none["message"]
    assert none["cuts"]["ratio"] is None  # too little evidence to call this event's faces hard


def test_a_face_in_no_person_matches_only_within_the_face_cut(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    kit = face_of(api, code, "kit.jpg")
    assert kit["cluster_id"] == -1  # one photo of Kit: noise, in no person

    near = search(api, code, "kit_harington_2.jpg", max_distance=0.6)
    assert photos_found(near, code) == ["kit.jpg"] and near["people"] == []
    distance = near["matches"][0]["distance"]
    # Within the person cut but beyond the face cut: a face in no person is not enough.
    far = search(api, code, "kit_harington_2.jpg", max_distance=distance - 0.01, person_max_distance=0.6)
    assert far["matches"] == [] and far["reason"] == "no_match"


def test_group_selfie_with_faces_all_finds_everyone_in_it(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    obama = face_of(api, code, "obama.jpg")["cluster_id"]
    biden = face_of(api, code, "biden1.jpg")["cluster_id"]
    api("update_cluster", "PATCH", route={"code": code, "cluster_id": str(obama)}, json_body={"name": "Barack"})
    api("update_cluster", "PATCH", route={"code": code, "cluster_id": str(biden)}, json_body={"name": "Joe"})

    largest = search(api, code, "group_biden_obama.jpg")
    assert sum(f["used"] for f in largest["query_faces"]) == 1 and len(largest["people"]) == 1

    everyone = search(api, code, "group_biden_obama.jpg", faces="all")
    assert all(f["used"] for f in everyone["query_faces"]) and len(everyone["query_faces"]) == 2
    assert sorted(photos_found(everyone, code)) == ["biden1.jpg", "biden2.jpg", "obama.jpg", "two-obamas.jpg"]
    distances = [m["distance"] for m in everyone["matches"]]
    assert distances == sorted(distances)
    people = {p["cluster_id"]: p for p in everyone["people"]}
    assert set(people) == {obama, biden} and people[obama]["name"] == "Barack" and people[biden]["name"] == "Joe"
    # Each person is credited to the face of the group photo that matched them.
    assert people[obama]["query_face"] != people[biden]["query_face"]
    for m in everyone["matches"]:
        assert m["query_face"] == people[m["cluster_id"]]["query_face"]

    # One photo returned: both people are still listed, with their names and photo counts.
    one = search(api, code, "group_biden_obama.jpg", faces="all", top_k=1)
    assert len(one["matches"]) == 1
    assert {p["cluster_id"]: (p["name"], p["photo_count"]) for p in one["people"]} == {
        obama: ("Barack", 2), biden: ("Joe", 2)}


def test_top_k_limits_photos_not_the_count_of_a_persons_photos(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    result = search(api, code, top_k=1)
    assert photos_found(result, code) == ["obama.jpg"]
    (person,) = result["people"]
    assert person["photo_count"] == 2


@pytest.mark.parametrize("params", [{"person_max_distance": "0"}, {"person_max_distance": "3"},
                                    {"person_max_distance": "near"}])
def test_a_bad_person_cut_is_422_naming_it(api, event, params):
    status, body = api("search_event", "POST", route={"code": event["code"]}, body=photo(SELFIE), params=params)
    assert status == 422 and body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == ["person_max_distance"]


# --- unusable selfies -------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"",
    b"just some text, not a photo",
    truncated_jpeg(),
    JPEG_HEADER_JUNK,
    BOMB_60_MP,
    BOMB_225_MP,  # over Pillow's own bomb limit: refused before our size check
], ids=["empty", "text", "truncated-jpeg", "jpeg-header-junk", "bomb-60mp", "bomb-225mp"])
def test_search_with_an_unusable_image_is_422_invalid_image(api, event, body):
    assert_error(api("search_event", "POST", route={"code": event["code"]}, body=body), 422, "invalid_image")


def test_search_with_a_photo_without_faces_is_422_no_face(api, event):
    assert_error(api("search_event", "POST", route={"code": event["code"]}, body=plain_jpeg()), 422, "no_face")


def test_search_body_over_the_query_size_limit_is_413(api, event, settings_override):
    selfie = photo(FACE)
    settings_override(KANTA_MAX_QUERY_IMAGE_BYTES=len(selfie) - 1)
    assert_error(api("search_event", "POST", route={"code": event["code"]}, body=selfie), 413, "payload_too_large")
    settings_override(KANTA_MAX_QUERY_IMAGE_BYTES=len(selfie))
    status, body = api("search_event", "POST", route={"code": event["code"]}, body=selfie)
    assert status == 200, body
    assert body["matches"] == [] and len(body["query_faces"]) == 1
