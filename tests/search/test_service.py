"""Selfie search answers by photo and by person, and says plainly when nobody matches."""

from __future__ import annotations

import io

from PIL import Image

from tests.helpers import DATA, photo, put_blob, run_blob_trigger


def side_by_side(*names: str) -> bytes:
    """One JPEG holding the given photos next to each other (several faces in one photo)."""
    images = [Image.open(DATA / n).convert("RGB") for n in names]
    height = max(i.height for i in images)
    canvas = Image.new("RGB", (sum(i.width for i in images), height), (128, 128, 128))
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def setup_event(api, functions, code: str) -> None:
    blobs = {
        "two-obamas.jpg": side_by_side("obama_2.jpg", "obama_3.jpg"),
        "obama.jpg": photo("obama_1.jpg"),
        "biden1.jpg": photo("biden_1.jpg"),
        "biden2.jpg": photo("biden_2.jpg"),
        "kit.jpg": photo("kit_harington_1.jpg"),
    }
    for name, data in blobs.items():
        put_blob(f"{code}/{name}", data)
        run_blob_trigger(functions, f"{code}/{name}")
    api("recluster_event", "POST", route={"code": code})


def search(api, code: str, body: bytes, **params: str) -> dict:
    status, result = api("search_event", "POST", route={"code": code}, body=body, params=params)
    assert status == 200, result
    return result


def test_each_photo_appears_once_with_its_best_face(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    result = search(api, code, photo("obama_4_480p.jpg"))
    image_ids = [m["image_id"] for m in result["matches"]]
    assert len(image_ids) == len(set(image_ids)) == 2  # the two-Obama photo once, plus obama.jpg
    assert result["reason"] is None
    (person,) = result["people"]
    assert person["photo_count"] == 2 and person["best_distance"] == result["matches"][0]["distance"]


def test_group_selfie_with_faces_all_finds_everyone_in_it(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    (obama_image,) = [i for i in api("list_images", route={"code": code})[1]["items"]
                      if i["blob_name"] == f"{code}/obama.jpg"]
    obama = api("get_image", route={"image_id": obama_image["image_id"]})[1]["faces"][0]["cluster_id"]
    api("update_cluster", "PATCH", route={"code": code, "cluster_id": str(obama)}, json_body={"name": "Barack"})

    largest = search(api, code, photo("group_biden_obama.jpg"))
    assert sum(f["used"] for f in largest["query_faces"]) == 1 and len(largest["people"]) == 1

    everyone = search(api, code, photo("group_biden_obama.jpg"), faces="all")
    assert all(f["used"] for f in everyone["query_faces"]) and len(everyone["query_faces"]) == 2
    assert {m["query_face"] for m in everyone["matches"]} == {0, 1}
    assert len(everyone["matches"]) == 4  # two Obama photos, two Biden photos; Kit not among them
    names = {p["cluster_id"]: p["name"] for p in everyone["people"]}
    assert len(names) == 2 and names[obama] == "Barack"


def test_a_stranger_gets_no_match_with_a_reason(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    for stranger in ("rose_leslie_1.jpg", "alex_lacamoire_1.jpg", "lin_manuel_miranda_1.png"):
        result = search(api, code, photo(stranger))
        assert result["matches"] == [] and result["people"] == []
        assert result["reason"] == "no_match" and "0.6" in result["message"]


def test_top_k_limits_photos(api, functions, event):
    code = event["code"]
    setup_event(api, functions, code)
    result = search(api, code, photo("obama_4_480p.jpg"), top_k="1")
    assert len(result["matches"]) == 1
