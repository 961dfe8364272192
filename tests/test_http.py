"""``kanta.http``: how HTTP functions read requests and answer mistakes. Only strict JSON
objects in UTF-8 sent as ``application/json`` are read (else 400 ``malformed_json``, 415
``unsupported_media_type``, 413 over 64 KiB, 422 for what is not an object); a validation
error names each field in Kanta's words, never pydantic's or Python's; the function key in
the query string is not a parameter; route ids in any but their one spelling address
nothing (404), and a 404 never repeats the key it was given."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.helpers import JSON, assert_error, assert_kantas_words, call_json, call_query, error_fields, new_code

# --- request bodies ---------------------------------------------------------------------

#: The JSON-bodied functions, each with a route to an existing event (filled in per test).
JSON_FUNCTIONS = [("create_event", "POST"), ("update_event", "PATCH"), ("create_uploads", "POST"),
                  ("update_cluster", "PATCH"), ("merge_cluster", "POST"), ("move_face", "PUT")]


@pytest.mark.parametrize(("name", "method"), JSON_FUNCTIONS)
@pytest.mark.parametrize("body", [b"{not json", b'{"code": "abc",}', b"\xff\xfe\x00", b"{" * 10,
                                  b"NaN", b'{"name": Infinity}', b"\xef\xbb\xbf{}",
                                  '{"name": "x"}'.encode("utf-16"), '{"name": "x"}'.encode("utf-16-le"),
                                  b'{"name": "caf\xe9"}',  # Latin-1, not UTF-8
                                  b'{"name": "a", "name": "b"}'])
def test_malformed_json_is_400(api, event, name, method, body):
    """Only strict JSON (RFC 8259) in UTF-8 is read: no UTF-16 or byte order mark, no NaN, a
    name once per object."""
    assert_kantas_words(assert_error(call_json(api, event, name, method, body=body), 400, "malformed_json"))


@pytest.mark.parametrize(("name", "method"), JSON_FUNCTIONS)
@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; charset=utf-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/xml", "application/jsonx", "application/json-patch+json",
                                          "application/json; charset=utf-16", "application/json; charset=latin-1"])
def test_json_routes_refuse_other_content_types_with_415(api, event, name, method, content_type):
    """A JSON route takes ``application/json`` only, in UTF-8 (curl's ``-d`` sends form
    encoding, a browser's ``fetch`` of a string text/plain): the same valid body is refused."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = {"code": new_code()} if name == "create_event" else {"name": "x"}
    err = assert_error(call_json(api, event, name, method, body=json.dumps(body).encode(), headers=headers),
                       415, "unsupported_media_type")
    assert "application/json" in err["message"]
    assert_kantas_words(err)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8", 'application/json; charset="utf-8"',
                                          "application/json; charset=utf8"])
def test_json_with_utf8_or_no_charset_is_taken(api, content_type):
    body = json.dumps({"code": new_code(), "name": "Caf\u00e9"}, ensure_ascii=False).encode()
    status, created = api("create_event", "POST", body=body, headers={"Content-Type": content_type})
    assert status == 201, created
    assert created["name"] == "Caf\u00e9"


@pytest.mark.parametrize(("name", "method"), JSON_FUNCTIONS)
@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'[{"code": "abc"}]', b'"abc"', b"42", b"true"])
def test_json_that_is_not_an_object_is_422(api, event, name, method, body):
    assert_kantas_words(assert_error(call_json(api, event, name, method, body=body), 422, "validation_error"))


@pytest.mark.parametrize(("name", "method", "body", "field"), [
    ("create_event", "POST", {"code": "wedding-x", "colour": "red"}, "colour"),
    ("update_event", "PATCH", {"code": "renamed"}, "code"),  # the code cannot change
    ("create_uploads", "POST", {"files": [{"filename": "a.jpg", "content_type": "image/jpeg", "size": 1}]},
     "files.0.size"),
    ("create_uploads", "POST", {"files": [], "event": "x"}, "event"),
])
def test_unknown_fields_are_422_naming_the_field(api, event, name, method, body, field):
    err = assert_error(call_json(api, event, name, method, json_body=body), 422, "validation_error")
    assert field in error_fields(err)


@pytest.mark.parametrize(("name", "method"), [("create_event", "POST"), ("create_uploads", "POST")])
def test_json_body_over_64_kib_is_413(api, event, name, method):
    body = {"code": new_code(), "description": "x" * 70_000} if name == "create_event" else {
        "files": [{"filename": f"IMG_{i:05}.jpg", "content_type": "image/jpeg"} for i in range(2_000)]}
    assert_error(call_json(api, event, name, method, json_body=body), 413, "payload_too_large")


@pytest.mark.parametrize("body", [
    b"[" * 30_000 + b"]" * 30_000,  # valid JSON, deeper than Python's parser recurses
    b"[" * 900 + b"]" * 900,  # within the parser's reach
    b'{"files": [{"filename": [[[[[[[[["a"]]]]]]]]], "content_type": "image/jpeg"}]}',
])
def test_deeply_nested_json_is_400_in_kantas_words(api, event, body):
    err = assert_error(call_json(api, event, "create_uploads", "POST", body=body), 400, "malformed_json")
    assert_kantas_words(err)


def test_deeply_nested_json_is_400(api):
    assert_error(api("create_event", "POST", body=b"[" * 50_000, headers=JSON), 400, "malformed_json")


# --- validation errors in Kanta's words -------------------------------------------------

@pytest.mark.parametrize(("name", "method", "kwargs"), [
    ("create_event", "POST", {"json_body": {"code": 42, "name": ["x"], "description": {}, "starts_at": True,
                                            "ends_at": "soon", "colour": "red"}}),
    ("create_event", "POST", {"json_body": {"name": "\ud800", "description": "x" * 4001}}),
    ("create_uploads", "POST", {"json_body": {"files": [{"filename": 7, "content_type": "image/gif"}, "x", None]}}),
    ("create_uploads", "POST", {"json_body": {"files": "all of them"}}),
    ("update_cluster", "PATCH", {"json_body": {}}),
    ("update_cluster", "PATCH", {"json_body": {"name": "x" * 201}}),
    ("move_face", "PUT", {"json_body": {"cluster_id": [1]}}),
    ("list_images", "GET", {"params": {"status": "done", "limit": "many", "min_faces": "-1", "zoom": "2"}}),
    ("search_event", "POST", {"params": {"faces": "some", "top_k": "0", "max_distance": "nan"}}),
])
def test_every_validation_message_is_in_kantas_words(api, event, name, method, kwargs):
    """Each problem is one detail naming its field, with a stable type and Kanta's message,
    never pydantic's ("Input should be ...", "Value error, ...")."""
    route = None if name == "create_event" else {"code": event["code"], "cluster_id": "0", "face_id": "0"}
    err = assert_error(api(name, method, route=route, **kwargs), 422, "validation_error")
    assert err["details"] and all(d["field"] and d["message"] and re.fullmatch(r"[a-z_]+", d["type"])
                                  for d in err["details"]), err
    assert_kantas_words(err)


# --- query strings ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["list_events", "list_images", "list_clusters", "search_event"])
def test_function_key_in_the_query_is_not_a_parameter(api, event, name):
    """In Azure a caller may pass its function key as ``?code=``; the host hands it on with
    the route's own parameters."""
    status, body = call_query(api, event, name, {"code": "a-function-key", "top_k": "5"}
                              if name == "search_event" else {"code": "a-function-key", "limit": "5"})
    assert status == 200, body


# --- ids in the route -------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("image_id", [str(uuid.uuid4()), "not-a-uuid", "123", ""])
def test_unknown_or_malformed_image_id_is_404(api, method, image_id):
    name = "get_image" if method == "GET" else "delete_image"
    assert_error(api(name, method, route={"image_id": image_id}), 404, "image_not_found")


@pytest.mark.parametrize("raw", ["{12345678-1234-5678-1234-567812345678}", "urn:uuid:12345678-1234-5678-1234-567812345678",
                                 "12345678123456781234567812345678"])
def test_image_ids_in_other_uuid_spellings_address_nothing(api, raw):
    assert assert_error(api("get_image", route={"image_id": raw}), 404, "image_not_found")


@pytest.mark.parametrize("raw", [" 1", "1 ", "+1", "١", "1.0", "0x1", "9" * 19, "-1"])
def test_ids_that_are_not_ascii_digits_address_nothing(api, event, raw):
    # int() would take " 1", "+1" or an Arabic-Indic digit as face 1.
    assert api("move_face", "PUT", route={"face_id": raw}, json_body={"cluster_id": None})[1]["code"] == "face_not_found"
    status, body = api("update_cluster", "PATCH", route={"code": event["code"], "cluster_id": raw},
                       json_body={"name": "x"})
    assert (status, body["code"]) == (404, "cluster_not_found")


@pytest.mark.parametrize("name", ["update_cluster", "merge_cluster"])
@pytest.mark.parametrize("raw", [str(2**31), "9" * 18])
def test_person_ids_in_a_route_beyond_int4_address_nothing(api, event, name, raw):
    method, body = ("PATCH", {"name": "x"}) if name == "update_cluster" else ("POST", {"into": 0})
    assert_error(api(name, method, route={"code": event["code"], "cluster_id": raw}, json_body=body),
                 404, "cluster_not_found")


@pytest.mark.parametrize(("name", "route", "code"), [
    ("get_event", {"code": "a\x00b"}, "event_not_found"),
    ("get_event", {"code": "Traceback (most recent call last)"}, "event_not_found"),
    ("get_image", {"image_id": "{12345678-1234-5678-1234-567812345678}"}, "image_not_found"),
])
def test_not_found_does_not_repeat_odd_keys(api, name, route, code):
    kind = code.removesuffix("_not_found")
    assert api(name, route=route) == (404, {"code": code, "message": f"No such {kind}."})
