"""An event's privacy settings: face search on or off, the consent text in force (the host's,
else Kanta's default), the retention period and when it ends, whether photos go too, and the
records of what was erased; refused when out of bounds, in Kanta's words."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from kanta.privacy.policy import DEFAULT_CONSENT_TEXT, DEFAULT_RETENTION_DAYS
from tests.helpers import photo
from tests.privacy.helpers import age_event, event_of


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_a_new_event_has_search_on_the_default_text_and_30_days(api, event):
    assert event["face_search"] is True and event["retention_deletes_photos"] is False
    assert event["consent_text"] == DEFAULT_CONSENT_TEXT and event["consent_text_is_default"] is True
    assert event["retention_days"] == DEFAULT_RETENTION_DAYS == 30
    # Open-ended and no photo yet: counted from its creation.
    assert _time(event["retention_ends_at"]) == _time(event["created_at"]) + dt.timedelta(days=30)
    assert event["faces_purged_at"] is None and event["erased_face_count"] == 0 and event["purged_face_count"] == 0


def test_settings_are_set_at_creation_and_changed_or_cleared_by_patch(api):
    code = f"ev-{uuid.uuid4().hex[:12]}"
    status, created = api("create_event", "POST", json_body={
        "code": code, "ends_at": "2026-06-01T02:00:00+02:00", "face_search": False,
        "consent_text": "  Our own words.  ", "retention_days": 7, "retention_deletes_photos": True})
    assert status == 201, created
    assert created["face_search"] is False and created["retention_deletes_photos"] is True
    assert created["consent_text"] == "Our own words." and created["consent_text_is_default"] is False
    # Ended before it was created: the retention counts from its creation.
    assert _time(created["retention_ends_at"]) == _time(created["created_at"]) + dt.timedelta(days=7)

    status, changed = api("update_event", "PATCH", route={"code": code},
                          json_body={"face_search": True, "consent_text": None, "retention_days": None})
    assert status == 200, changed
    assert changed["face_search"] is True and changed["retention_deletes_photos"] is True  # absent: unchanged
    assert changed["consent_text"] == DEFAULT_CONSENT_TEXT and changed["consent_text_is_default"] is True
    assert changed["retention_days"] is None and changed["retention_ends_at"] is None  # kept until deleted


def test_retention_counts_from_the_latest_of_the_end_and_the_last_photo(api, functions, event):
    code = event["code"]
    age_event(code, 10)
    status, body = api("update_event", "PATCH", route={"code": code},
                       json_body={"ends_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).isoformat()})
    assert status == 200, body
    assert _time(body["retention_ends_at"]) == _time(body["ends_at"]) + dt.timedelta(days=30)
    # A photo uploaded after the event: its faces are kept 30 days from its upload.
    status, _ = api("create_uploads", "POST", route={"code": code},
                    json_body={"files": [{"filename": "late.jpg", "content_type": "image/jpeg"}]})
    assert status == 201
    late = _time(event_of(api, code)["retention_ends_at"]) - dt.timedelta(days=30)
    assert abs((late - dt.datetime.now(dt.UTC)).total_seconds()) < 60


@pytest.mark.parametrize(("body", "field", "kind"), [
    ({"face_search": None}, "face_search", "not_a_boolean"),
    ({"face_search": "false"}, "face_search", "not_a_boolean"),
    ({"face_search": 0}, "face_search", "not_a_boolean"),
    ({"retention_deletes_photos": None}, "retention_deletes_photos", "not_a_boolean"),
    ({"retention_days": 0}, "retention_days", "too_small"),
    ({"retention_days": 3651}, "retention_days", "too_large"),
    ({"retention_days": 7.5}, "retention_days", "not_an_integer"),
    ({"retention_days": "7"}, "retention_days", "not_an_integer"),
    ({"consent_text": "   "}, "consent_text", "too_short"),
    ({"consent_text": "x" * 4001}, "consent_text", "too_long"),
    ({"consent_text": "a\u0000b"}, "consent_text", "nul_character"),
])
def test_bad_settings_are_422_naming_the_field(api, event, body, field, kind):
    before = event_of(api, event["code"])
    for name, method, route, json_body in (
            ("update_event", "PATCH", {"code": event["code"]}, body),
            ("create_event", "POST", None, {"code": f"ev-{uuid.uuid4().hex[:12]}", **body})):
        status, answer = api(name, method, route=route, json_body=json_body)
        assert status == 422 and answer["code"] == "validation_error", answer
        assert [(d["field"], d["type"]) for d in answer["details"]] == [(field, kind)], answer
    assert event_of(api, event["code"]) == before


def test_face_search_off_is_409_before_the_selfie_is_read(api, functions, event):
    code = event["code"]
    api("update_event", "PATCH", route={"code": code}, json_body={"face_search": False})
    for body in (photo("obama_1.jpg"), b"not an image at all"):
        status, answer = api("search_event", "POST", route={"code": code}, body=body)
        assert (status, answer["code"]) == (409, "face_search_off"), answer
        assert "off" in answer["message"]
    api("update_event", "PATCH", route={"code": code}, json_body={"face_search": True})
    status, answer = api("search_event", "POST", route={"code": code}, body=photo("obama_1.jpg"))
    assert status == 200 and answer["reason"] == "no_match", answer
