"""``POST /api/images/{image_id}/reindex``: a host re-indexes a photo's stored blob now, against
real PostgreSQL, Azurite and dlib."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers import browser_put, photo, run_blob_trigger, upload_ticket


def reindex(api, image_id: str) -> tuple[int, Any]:
    return api("reindex_image", "POST", route={"image_id": image_id})


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


def test_reindexing_a_bad_photo_keeps_it_failed(api, functions, event):
    upload = upload_ticket(api, event["code"])
    assert browser_put(upload, b"not a photo at all") == 201
    run_blob_trigger(functions, upload["blob_name"])
    status, body = reindex(api, upload["image_id"])
    assert status == 200, body
    assert (body["status"], body["failure_code"], body["faces"]) == ("failed", "not_an_image", [])


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
