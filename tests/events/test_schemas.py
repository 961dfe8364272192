"""``kanta.events.schemas``: what a request to create or change an event may hold. Codes of
3 to 32 lowercase ASCII letters, digits and hyphens; times in ISO 8601 with a UTC offset,
between 2000 and 2100; a start before the end, at most 1,098 days apart. Anything else is a
422 ``validation_error`` naming the field, and no event is created."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, assert_kantas_words, error_fields, new_code


@pytest.mark.parametrize("code", ["", "ab", "Wedding-2026", "x" * 33, "wed ding", "wed_ding", "wed/ding",
                                  "wédding", "a\u200bbc", 42, None])
def test_bad_event_codes_are_422(api, code):
    err = assert_error(api("create_event", "POST", json_body={"code": code}), 422, "validation_error")
    assert error_fields(err) == {"code"}


def test_missing_event_code_is_422(api):
    err = assert_error(api("create_event", "POST", json_body={"name": "No code"}), 422, "validation_error")
    assert error_fields(err) == {"code"}


@pytest.mark.parametrize("when", ["2026-06-01T18:00:00", "2026-06-01 18:00", "2026-06-01", "tomorrow", "", 1e30])
def test_datetime_without_offset_or_invalid_is_422(api, event, when):
    err = assert_error(api("create_event", "POST", json_body={"code": new_code(), "starts_at": when}),
                       422, "validation_error")
    assert error_fields(err) == {"starts_at"}
    err = assert_error(api("update_event", "PATCH", route={"code": event["code"]}, json_body={"ends_at": when}),
                       422, "validation_error")
    assert error_fields(err) == {"ends_at"}


@pytest.mark.parametrize("when", [
    99999999999999,  # a number: pydantic read it as Unix milliseconds, the year 5138
    1767225600, "99999999999999", "5138-06-01T00:00:00Z", "1999-12-31T23:59:59Z", "2100-01-01T00:00:01Z",
    "0001-01-01T00:00:00+14:00", "2026-06-01T18:00:00.1234567Z", "2026-02-30T00:00:00Z", "2026-W23-1T00:00Z",
    "\u0662\u0660\u0662\u0666-06-01T18:00:00Z", "2026-06-01T18:00:00+0200", "2026-06-01T18:00:00 +02:00",
])
def test_times_outside_2000_to_2100_or_not_iso_8601_are_422(api, event, when):
    body = {"code": new_code(), "starts_at": when}
    err = assert_error(api("create_event", "POST", json_body=body), 422, "validation_error")
    assert error_fields(err) == {"starts_at"}
    assert_kantas_words(err)
    assert_error(api("get_event", route={"code": body["code"]}), 404, "event_not_found")
    err = assert_error(api("update_event", "PATCH", route={"code": event["code"]}, json_body={"ends_at": when}),
                       422, "validation_error")
    assert error_fields(err) == {"ends_at"}


@pytest.mark.parametrize(("starts_at", "ends_at"), [
    ("2000-01-01T00:00:00Z", "2000-01-01T00:00:01Z"),
    ("2099-12-31T00:00:00-10:00", "2100-01-01T00:00:00Z"),
    ("2026-06-01T02:00+02:00", "2029-06-03T00:00Z"),  # 1,098 days: the longest event
    ("2026-06-01t18:00:00.123z", None),
])
def test_times_within_bounds_are_taken(api, starts_at, ends_at):
    status, created = api("create_event", "POST", json_body={"code": new_code(), "starts_at": starts_at,
                                                             "ends_at": ends_at})
    assert status == 201, created


@pytest.mark.parametrize(("starts_at", "ends_at"), [
    ("2026-06-01T18:00:00+00:00", "2026-06-01T18:00:00+00:00"),
    ("2026-06-02T00:00:00+00:00", "2026-06-01T00:00:00+00:00"),
    ("2026-06-01T18:00:00+02:00", "2026-06-01T17:00:00+01:00"),  # same instant, other offsets
])
def test_create_with_start_not_before_end_is_422(api, starts_at, ends_at):
    body = {"code": new_code(), "starts_at": starts_at, "ends_at": ends_at}
    assert_error(api("create_event", "POST", json_body=body), 422, "validation_error")
    assert_error(api("get_event", route={"code": body["code"]}), 404, "event_not_found")


@pytest.mark.parametrize("window", [
    {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2029-06-03T00:00:01Z"},  # a second over 1,098 days
    {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z"},
])
def test_an_event_lasting_over_three_years_is_422(api, event, window):
    err = assert_error(api("create_event", "POST", json_body={"code": new_code(), **window}), 422, "validation_error")
    assert [(d["field"], d["type"]) for d in err["details"]] == [("ends_at", "event_too_long")]
    err = assert_error(api("update_event", "PATCH", route={"code": event["code"]}, json_body=window),
                       422, "validation_error")
    assert error_fields(err) == {"ends_at"}
