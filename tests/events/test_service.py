"""``kanta.events.service``: events created, listed in pages, changed and deleted. A code is
taken once (409 ``event_exists``); a change is checked against the stored start and end,
and a refused one changes nothing; an unknown event is 404 ``event_not_found`` on every
route of an event; deleting an event (``kanta.privacy.service.delete_event``) removes its
photos' blobs and rows."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.helpers import FACE, assert_error, get_event, new_code, photo, put_blob, run_blob_trigger

# --- create and change ------------------------------------------------------------------

def test_duplicate_event_code_is_409(api, event):
    assert_error(api("create_event", "POST", json_body={"code": event["code"]}), 409, "event_exists")
    assert get_event(api, event["code"])["name"] == event["name"]


@pytest.mark.parametrize("patch", [
    {"ends_at": "2026-05-31T00:00:00+00:00"},  # before the stored starts_at
    {"starts_at": "2026-06-03T00:00:00+00:00"},  # after the stored ends_at
    {"starts_at": "2026-06-02T00:00:00+00:00"},  # equal to the stored ends_at
    {"starts_at": "2026-07-02T00:00:00+00:00", "ends_at": "2026-07-01T00:00:00+00:00"},
])
def test_patch_that_would_invert_the_window_is_422_and_changes_nothing(api, patch):
    """The check covers the stored bounds too, not just the ones in the PATCH body."""
    code = new_code()
    window = {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-02T00:00:00Z"}
    status, created = api("create_event", "POST", json_body={"code": code, **window})
    assert status == 201, created
    assert_error(api("update_event", "PATCH", route={"code": code}, json_body=patch), 422, "validation_error")
    after = get_event(api, code)
    assert (after["starts_at"], after["ends_at"]) == (created["starts_at"], created["ends_at"])


@pytest.mark.parametrize("patch", [
    {"ends_at": "2029-06-03T00:00:01Z"},    # the stored start stays: over 1,098 days
    {"starts_at": "2026-05-31T23:59:59Z"},  # the stored end stays: over 1,098 days
])
def test_patching_one_end_past_three_years_is_422_and_changes_nothing(api, patch):
    """The length is checked against the stored other end, not just the PATCH body."""
    code = new_code()
    window = {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2029-06-02T23:59:59Z"}
    status, created = api("create_event", "POST", json_body={"code": code, **window})
    assert status == 201, created
    if "starts_at" in patch:  # move the end to exactly 1,098 days after the start first
        status, created = api("update_event", "PATCH", route={"code": code}, json_body={"ends_at": "2029-06-03T00:00:00Z"})
        assert status == 200, created
    err = assert_error(api("update_event", "PATCH", route={"code": code}, json_body=patch), 422, "validation_error")
    assert [(d["field"], d["type"]) for d in err["details"]] == [("ends_at", "event_too_long")]
    after = get_event(api, code)
    assert (after["starts_at"], after["ends_at"]) == (created["starts_at"], created["ends_at"])


def test_event_crud_and_delete_removes_blobs_and_rows(api, functions):
    from kanta.storage import uploads_container

    status, created = api("create_event", "POST", json_body={
        "code": "crud-event", "name": "Gala", "starts_at": "2026-01-01T18:00:00+01:00"})
    assert status == 201 and created["name"] == "Gala" and created["running"] is True
    status, patched = api("update_event", "PATCH", route={"code": "crud-event"},
                          json_body={"description": "Black tie", "name": None})
    assert status == 200 and patched["description"] == "Black tie" and patched["name"] is None
    assert patched["starts_at"] == created["starts_at"]
    assert any(e["code"] == "crud-event" for e in api("list_events", params={"running": "true"})[1]["items"])
    assert all(e["code"] != "crud-event" for e in api("list_events", params={"running": "false"})[1]["items"])

    _, body = api("create_uploads", "POST", route={"code": "crud-event"},
                  json_body={"files": [{"filename": "k.jpg", "content_type": "image/jpeg"}]})
    ticket = body["uploads"][0]
    requests.put(ticket["upload_url"], data=photo("kit_harington_1.jpg"), headers=ticket["headers"], timeout=30)
    run_blob_trigger(functions, ticket["blob_name"])
    assert api("get_event", route={"code": "crud-event"})[1]["face_count"] == 1

    status, _ = api("delete_event", "DELETE", route={"code": "crud-event"})
    assert status == 204
    assert api("get_event", route={"code": "crud-event"})[0] == 404
    assert api("get_image", route={"image_id": ticket["image_id"]})[0] == 404
    assert list(uploads_container().list_blobs(name_starts_with="crud-event/")) == []


# --- unknown events ---------------------------------------------------------------------

UNKNOWN_EVENT_CALLS = [
    ("get_event", "GET", {}),
    ("update_event", "PATCH", {"json_body": {"name": "Renamed"}}),
    ("delete_event", "DELETE", {}),
    ("create_uploads", "POST", {"json_body": {"files": [{"filename": "a.jpg", "content_type": "image/jpeg"}]}}),
    ("list_images", "GET", {}),
    ("list_clusters", "GET", {}),
    ("search_event", "POST", {"body": photo(FACE)}),
    ("recluster_event", "POST", {}),
]


@pytest.mark.parametrize(("name", "method", "kwargs"), UNKNOWN_EVENT_CALLS, ids=[c[0] for c in UNKNOWN_EVENT_CALLS])
@pytest.mark.parametrize("code", ["no-such-event", "NOT-A-VALID-CODE"])
def test_unknown_event_is_404(api, name, method, kwargs, code):
    assert_error(api(name, method, route={"code": code}, **kwargs), 404, "event_not_found")


def test_event_code_with_nul_in_the_url_is_404(api):
    assert_error(api("get_event", route={"code": "a\x00b"}), 404, "event_not_found")


# --- pages ------------------------------------------------------------------------------

def test_events_and_people_come_in_pages(api, functions, event):
    for _ in range(3):
        api("create_event", "POST", json_body={"code": f"page-{uuid.uuid4().hex[:10]}"})
    status, first = api("list_events", params={"limit": "2"})
    assert status == 200 and len(first["items"]) == 2 and first["next_offset"] == 2
    second = api("list_events", params={"limit": "2", "offset": "2"})[1]
    assert not {e["code"] for e in first["items"]} & {e["code"] for e in second["items"]}
    for name in ("obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "biden_2.jpg"):
        put_blob(f"{event['code']}/{name}", photo(name))
        run_blob_trigger(functions, f"{event['code']}/{name}")
    api("recluster_event", "POST", route={"code": event["code"]})
    page = api("list_clusters", route={"code": event["code"]}, params={"limit": "1"})[1]
    assert len(page["items"]) == 1 and page["next_offset"] == 1
    last = api("list_clusters", route={"code": event["code"]}, params={"limit": "1", "offset": "1"})[1]
    assert len(last["items"]) == 1 and last["next_offset"] is None
    assert page["items"][0]["cluster_id"] != last["items"][0]["cluster_id"]
