"""``kanta.validation``: the field types of the request schemas parse strictly and within
what PostgreSQL stores. Query numbers and booleans in one spelling (ASCII digits, no sign,
no exponent, ``true``/``false``) and within their bounds, PostgreSQL ``integer`` (int4)
included; numbers of thousands of digits refused saying the bound; ids in a body JSON
integers within int4; text without NUL and times PostgreSQL can hold. Each refusal is a
422 ``validation_error`` naming the field, in Kanta's words."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, assert_kantas_words, call_json, call_query, error_fields, new_code

# --- query parameters -------------------------------------------------------------------

BAD_QUERIES = [
    ("list_images", {"limit": "0"}, "limit"),
    ("list_images", {"limit": "201"}, "limit"),
    ("list_images", {"limit": "abc"}, "limit"),
    ("list_images", {"limit": "1.5"}, "limit"),
    ("list_images", {"offset": "-1"}, "offset"),
    ("list_images", {"min_faces": "-1"}, "min_faces"),
    ("list_images", {"status": "bogus"}, "status"),
    ("list_images", {"colour": "red"}, "colour"),
    ("list_clusters", {"sample_size": "-1"}, "sample_size"),
    ("list_clusters", {"sample_size": "21"}, "sample_size"),
    ("list_clusters", {"limit": "0"}, "limit"),
    ("list_clusters", {"offset": "-1"}, "offset"),
    ("list_events", {"limit": "201"}, "limit"),
    ("search_event", {"top_k": "0"}, "top_k"),
    ("search_event", {"top_k": "many"}, "top_k"),
    ("search_event", {"max_distance": "0"}, "max_distance"),
    ("search_event", {"max_distance": "nan"}, "max_distance"),
    ("search_event", {"person_max_distance": "-1"}, "person_max_distance"),
    ("search_event", {"person_max_distance": "inf"}, "person_max_distance"),
    ("search_event", {"threshold": "0.5"}, "threshold"),
    ("list_events", {"running": "maybe"}, "running"),
    ("list_events", {"page": "2"}, "page"),
    ("list_images", {"offset": str(2**63)}, "offset"),
    # Only ASCII digits: int() and float() would take all of these.
    ("list_images", {"limit": " 5"}, "limit"),
    ("list_images", {"limit": "+5"}, "limit"),
    ("list_images", {"limit": "1_0"}, "limit"),
    ("list_images", {"limit": "\u0661"}, "limit"),  # Arabic-Indic digit one
    ("list_images", {"limit": "5.0"}, "limit"),
    ("list_clusters", {"sample_size": "0x3"}, "sample_size"),
    ("search_event", {"max_distance": "5e-1"}, "max_distance"),
    ("search_event", {"max_distance": " 0.5"}, "max_distance"),
    ("search_event", {"max_distance": "\u0660.5"}, "max_distance"),
    ("list_events", {"running": "1"}, "running"),
    ("list_events", {"running": "True"}, "running"),
    ("list_events", {"running": "yes"}, "running"),
    # Within PostgreSQL integer (int4), the type of offsets, cluster ids and face counts.
    ("list_images", {"offset": str(2**31)}, "offset"),
    ("list_images", {"cluster_id": str(2**31)}, "cluster_id"),
    ("list_images", {"cluster_id": "-2"}, "cluster_id"),
    ("list_images", {"max_faces": str(2**31)}, "max_faces"),
    ("list_events", {"offset": str(2**31)}, "offset"),
    ("list_clusters", {"offset": str(2**31)}, "offset"),
]


@pytest.mark.parametrize(("name", "params", "field"), BAD_QUERIES)
def test_bad_query_parameters_are_422_naming_the_parameter(api, event, name, params, field):
    err = assert_error(call_query(api, event, name, params), 422, "validation_error")
    assert error_fields(err) == {field}
    assert_kantas_words(err)


@pytest.mark.parametrize(("name", "params"), [
    ("list_events", {"running": "false", "limit": "200", "offset": str(2**31 - 1)}),
    ("list_images", {"limit": "1", "offset": "0", "cluster_id": "-1", "min_faces": "0", "max_faces": str(2**31 - 1)}),
    ("list_clusters", {"sample_size": "20", "limit": "200", "offset": "0"}),
    ("search_event", {"top_k": "200", "max_distance": "2", "person_max_distance": "0.52", "faces": "all"}),
])
def test_query_parameters_at_their_bounds_are_taken(api, event, name, params):
    status, body = call_query(api, event, name, params)
    assert status == 200, body


# --- numbers, ids and text --------------------------------------------------------------

HUGE = "9" * 5000  # Python refuses to convert integers of over 4,300 digits


@pytest.mark.parametrize(("name", "params", "detail"), [
    ("list_events", {"limit": HUGE}, ("limit", "too_large", "Must be at most 200.")),
    ("list_events", {"offset": HUGE}, ("offset", "too_large", "Must be at most 2147483647.")),
    ("list_images", {"cluster_id": "-" + HUGE}, ("cluster_id", "too_small", "Must be at least -1.")),
    ("list_images", {"min_faces": HUGE}, ("min_faces", "too_large", "Must be at most 2147483647.")),
    ("list_clusters", {"sample_size": HUGE}, ("sample_size", "too_large", "Must be at most 20.")),
    ("search_event", {"top_k": HUGE}, ("top_k", "too_large", "Must be at most 200.")),
    ("search_event", {"max_distance": HUGE}, ("max_distance", "not_a_number",
                                              "Must be a decimal number in ASCII digits, like 0.5.")),
])
def test_huge_numbers_in_the_query_are_422_saying_the_bound(api, event, name, params, detail):
    err = assert_error(call_query(api, event, name, params), 422, "validation_error")
    assert [(d["field"], d["type"], d["message"]) for d in err["details"]] == [detail]


@pytest.mark.parametrize(("name", "method", "body", "detail"), [
    ("merge_cluster", "POST", '{"into": ' + HUGE + '}', ("into", "too_large", "Must be at most 2147483647.")),
    ("move_face", "PUT", '{"cluster_id": ' + HUGE + '}', ("cluster_id", "too_large", "Must be at most 2147483647.")),
    ("move_face", "PUT", '{"cluster_id": -' + HUGE + '}', ("cluster_id", "too_small", "Must be at least 0.")),
    ("create_event", "POST", '{"code": "huge-number", "starts_at": ' + HUGE + '}',
     ("starts_at", "not_a_time", "Must be an ISO 8601 time with a UTC offset, like 2026-06-01T18:00:00+02:00.")),
    ("create_event", "POST", '{"code": "huge-number", "name": ' + HUGE + '}', ("name", "not_a_string", "Must be a string.")),
    ("update_cluster", "PATCH", '{"name": 1e999}', ("name", "not_a_string", "Must be a string.")),
])
def test_huge_numbers_in_a_body_are_422_naming_the_field(api, event, name, method, body, detail):
    """A JSON number of 5,000 digits is valid JSON that Python will not convert: the field
    holding it is refused like any other value out of its bounds."""
    err = assert_error(call_json(api, event, name, method, body=body.encode()), 422, "validation_error")
    assert [(d["field"], d["type"], d["message"]) for d in err["details"]] == [detail]


@pytest.mark.parametrize(("name", "method", "body", "field"), [
    # A PostgreSQL integer (int4) holds a person's id.
    ("merge_cluster", "POST", {"into": 2**31}, "into"),
    ("move_face", "PUT", {"cluster_id": 2**31}, "cluster_id"),
    ("merge_cluster", "POST", {"into": -1}, "into"),
    # JSON integers only: int() would take the string, pydantic the float and the boolean.
    ("merge_cluster", "POST", {"into": "1"}, "into"),
    ("merge_cluster", "POST", {"into": 1.0}, "into"),
    ("merge_cluster", "POST", {"into": True}, "into"),
    ("move_face", "PUT", {"cluster_id": "\u0661"}, "cluster_id"),
])
def test_person_ids_in_a_body_are_json_integers_within_int4(api, event, name, method, body, field):
    err = assert_error(call_json(api, event, name, method, json_body=body), 422, "validation_error")
    assert error_fields(err) == {field}
    assert_kantas_words(err)


@pytest.mark.parametrize(("name", "method", "body", "field"), [
    ("create_event", "POST", {"code": new_code(), "name": "a\x00b"}, "name"),
    ("update_event", "PATCH", {"description": "\x00"}, "description"),
    ("create_uploads", "POST", {"files": [{"filename": "a\x00.jpg", "content_type": "image/jpeg"}]},
     "files.0.filename"),
    # Past year 9999 / before year 1 once in UTC: PostgreSQL stores it, Python cannot read it.
    ("create_event", "POST", {"code": new_code(), "ends_at": "9999-12-31T23:59:59-14:00"}, "ends_at"),
    ("create_event", "POST", {"code": new_code(), "starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
])
def test_text_and_times_postgres_cannot_hold_are_422(api, event, name, method, body, field):
    err = assert_error(call_json(api, event, name, method, json_body=body), 422, "validation_error")
    assert field in error_fields(err)
