"""Bad input, as users and broken clients send it, and an unreachable database.

HTTP: every mistake of the caller is a 4xx JSON error ``{"code", "message"}`` with a stable
code, never a 500. Blob trigger: a blob that is not a usable image marks its image
``failed`` with a stable ``failure_code`` and never raises (a retry could not help), while
an unreachable database raises so the host retries and nothing is lost.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from PIL import Image

from tests.helpers import Api, photo, put_blob, reset_clients, run_blob_trigger, upload_ticket

#: The smallest labelled photo with one face: keeps dlib's work per test short.
FACE = "obama_5_small.jpg"
#: Settings pointing Kanta at a database nothing listens on (port 1), with a 2 s pool timeout.
DATABASE_DOWN = {"KANTA_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x?connect_timeout=1",
                 "KANTA_DB_POOL_TIMEOUT": 2}


# --- bytes of bad images ---------------------------------------------------------------


def plain_jpeg() -> bytes:
    """A valid JPEG of one flat colour: decodes fine, has no face."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 160, 200)).save(buf, "JPEG")
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    """The first half of a real JPEG: a valid header, then the data stops."""
    data = photo(FACE)
    return data[: len(data) // 2]


def png_bomb(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of ``width`` x ``height``: a few KiB on the wire that
    decode to ``width * height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits packed
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))


#: JPEG's start-of-image and APP0 markers followed by junk.
JPEG_HEADER_JUNK = b"\xff\xd8\xff\xe0" + b"garbage!" * 300
#: 60 MP, over the default 50 MP limit but under Pillow's own bomb limit (~179 MP).
BOMB_60_MP = png_bomb(10_000, 6_000)
#: 225 MP, over Pillow's own bomb limit, which ``Image.open`` enforces itself.
BOMB_225_MP = png_bomb(15_000, 15_000)


# --- helpers ---------------------------------------------------------------------------


def assert_error(response: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is the JSON error ``code`` with a human message; return its body."""
    got_status, body = response
    assert got_status == status, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    """The fields a ``validation_error`` names in its ``details``."""
    return {d["field"] for d in body["details"]}


def new_code() -> str:
    return f"bad-{uuid.uuid4().hex[:12]}"


def request_uploads(api: Api, code: str, files: list[dict[str, Any]]) -> tuple[int, Any]:
    """``POST /api/events/{code}/uploads`` for ``files``."""
    return api("create_uploads", "POST", route={"code": code}, json_body={"files": files})


def deliver(functions: dict[str, Callable], blob_name: str, data: bytes) -> None:
    """Write ``data`` to blob ``blob_name`` and run the blob trigger on it, as the host would."""
    put_blob(blob_name, data)
    run_blob_trigger(functions, blob_name)


def upload(api: Api, functions: dict[str, Callable], code: str, data: bytes) -> str:
    """Upload ``data`` through a ticket of event ``code``, process it; return the image id."""
    ticket = upload_ticket(api, code)
    deliver(functions, ticket["blob_name"], data)
    return ticket["image_id"]


def get_image(api: Api, image_id: str) -> dict[str, Any]:
    status, body = api("get_image", route={"image_id": image_id})
    assert status == 200, body
    return body


def get_event(api: Api, code: str) -> dict[str, Any]:
    status, body = api("get_event", route={"code": code})
    assert status == 200, body
    return body


def image_rows(blob_name: str) -> int:
    """How many image rows hold ``blob_name`` (checked in the database itself)."""
    from kanta.db import connection

    with connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM images WHERE blob_name = %s", (blob_name,)).fetchone()["n"]


def assert_failed(api: Api, code: str, image_id: str, failure_code: str) -> None:
    """The image is ``failed`` with ``failure_code`` and a reason, in its detail and in the
    event's list of failed images, and has no faces."""
    image = get_image(api, image_id)
    assert (image["status"], image["failure_code"]) == ("failed", failure_code), image
    assert image["failure_reason"] and image["failure_reason"].strip()
    assert image["faces"] == [] and image["face_count"] == 0
    status, listing = api("list_images", route={"code": code}, params={"status": "failed"})
    assert status == 200, listing
    assert [(i["image_id"], i["failure_code"]) for i in listing["items"]] == [(image_id, failure_code)]


def assert_processed(api: Api, image_id: str, faces: int) -> dict[str, Any]:
    image = get_image(api, image_id)
    assert image["status"] == "processed", image
    assert (image["failure_code"], image["failure_reason"]) == (None, None)
    assert image["face_count"] == len(image["faces"]) == faces
    return image


class Env:
    """Changes Kanta's settings for one test: sets env vars, then resets the cached
    settings, pool and storage clients; ``restore`` (also run at teardown) undoes it."""

    def __init__(self) -> None:
        self.saved: dict[str, str | None] = {}

    def set(self, **values: object) -> None:
        for name, value in values.items():
            self.saved.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)
        reset_clients()

    def restore(self) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.saved.clear()
        reset_clients()


@pytest.fixture
def env(services: dict[str, str]) -> Iterator[Env]:
    changes = Env()
    yield changes
    changes.restore()


@pytest.fixture
def database_down(env: Env) -> Env:
    """Kanta pointed at a database that does not answer."""
    env.set(**DATABASE_DOWN)
    return env


# --- HTTP: request bodies --------------------------------------------------------------

#: The JSON-bodied functions, each with a route to an existing event (filled in per test).
JSON_FUNCTIONS = [("create_event", "POST"), ("update_event", "PATCH"), ("create_uploads", "POST"),
                  ("update_cluster", "PATCH"), ("merge_cluster", "POST"), ("move_face", "PUT")]
JSON = {"Content-Type": "application/json"}


def call_json(api: Api, event: dict[str, Any], name: str, method: str, **kwargs: Any) -> tuple[int, Any]:
    """Call a JSON-bodied function; a raw ``body`` goes as ``application/json`` unless
    ``headers`` say otherwise."""
    route = None if name == "create_event" else {"code": event["code"], "cluster_id": "0", "face_id": "0"}
    if "body" in kwargs:
        kwargs.setdefault("headers", JSON)
    return api(name, method, route=route, **kwargs)


#: Words of Python and of the libraries Kanta uses, which no message may show a client.
LIBRARY_WORDS = ["pydantic", "psycopg", "PIL", "Pillow", "sys.", "Traceback", "Error:", "recursion",
                 "Input should", "Value error", "int_max_str_digits", "Decimal(", "Expecting", "char ", "line 1",
                 "unable to parse", "should be"]


def assert_kantas_words(body: dict[str, Any]) -> None:
    """Neither the message nor any detail's message of an error names a library or Python."""
    messages = [body["message"]] + [d["message"] for d in body.get("details") or []]
    for message in messages:
        assert not [w for w in LIBRARY_WORDS if w.lower() in message.lower()], body


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


@pytest.mark.parametrize("code", ["", "ab", "Wedding-2026", "x" * 33, "wed ding", "wed_ding", "wed/ding",
                                  "wédding", "a\u200bbc", 42, None])
def test_bad_event_codes_are_422(api, code):
    err = assert_error(api("create_event", "POST", json_body={"code": code}), 422, "validation_error")
    assert error_fields(err) == {"code"}


def test_missing_event_code_is_422(api):
    err = assert_error(api("create_event", "POST", json_body={"name": "No code"}), 422, "validation_error")
    assert error_fields(err) == {"code"}


def test_duplicate_event_code_is_409(api, event):
    assert_error(api("create_event", "POST", json_body={"code": event["code"]}), 409, "event_exists")
    assert get_event(api, event["code"])["name"] == event["name"]


@pytest.mark.parametrize(("starts_at", "ends_at"), [
    ("2026-06-01T18:00:00+00:00", "2026-06-01T18:00:00+00:00"),
    ("2026-06-02T00:00:00+00:00", "2026-06-01T00:00:00+00:00"),
    ("2026-06-01T18:00:00+02:00", "2026-06-01T17:00:00+01:00"),  # same instant, other offsets
])
def test_create_with_start_not_before_end_is_422(api, starts_at, ends_at):
    body = {"code": new_code(), "starts_at": starts_at, "ends_at": ends_at}
    assert_error(api("create_event", "POST", json_body=body), 422, "validation_error")
    assert_error(api("get_event", route={"code": body["code"]}), 404, "event_not_found")


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


@pytest.mark.parametrize("when", ["2026-06-01T18:00:00", "2026-06-01 18:00", "2026-06-01", "tomorrow", "", 1e30])
def test_datetime_without_offset_or_invalid_is_422(api, event, when):
    err = assert_error(api("create_event", "POST", json_body={"code": new_code(), "starts_at": when}),
                       422, "validation_error")
    assert error_fields(err) == {"starts_at"}
    err = assert_error(api("update_event", "PATCH", route={"code": event["code"]}, json_body={"ends_at": when}),
                       422, "validation_error")
    assert error_fields(err) == {"ends_at"}


@pytest.mark.parametrize(("name", "method"), [("create_event", "POST"), ("create_uploads", "POST")])
def test_json_body_over_64_kib_is_413(api, event, name, method):
    body = {"code": new_code(), "description": "x" * 70_000} if name == "create_event" else {
        "files": [{"filename": f"IMG_{i:05}.jpg", "content_type": "image/jpeg"} for i in range(2_000)]}
    assert_error(call_json(api, event, name, method, json_body=body), 413, "payload_too_large")


@pytest.mark.parametrize("count", [0, 51])
def test_uploads_of_0_or_over_50_files_are_422(api, event, count):
    files = [{"filename": f"{i}.jpg", "content_type": "image/jpeg"} for i in range(count)]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files"}
    assert get_event(api, event["code"])["image_count"] == 0


@pytest.mark.parametrize("content_type", ["image/gif", "text/plain", "image/heic", "IMAGE/JPEG", "", None])
def test_unsupported_content_type_is_422(api, event, content_type):
    files = [{"filename": "a.jpg", "content_type": "image/jpeg"}, {"filename": "b", "content_type": content_type}]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files.1.content_type"}
    assert get_event(api, event["code"])["image_count"] == 0, "no ticket of the batch is created"


@pytest.mark.parametrize("filename", ["", "   ", "x" * 256])
def test_bad_filename_is_422(api, event, filename):
    files = [{"filename": filename, "content_type": "image/jpeg"}]
    err = assert_error(request_uploads(api, event["code"], files), 422, "validation_error")
    assert error_fields(err) == {"files.0.filename"}


# --- HTTP: unknown resources and query strings -----------------------------------------

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


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("image_id", [str(uuid.uuid4()), "not-a-uuid", "123", ""])
def test_unknown_or_malformed_image_id_is_404(api, method, image_id):
    name = "get_image" if method == "GET" else "delete_image"
    assert_error(api(name, method, route={"image_id": image_id}), 404, "image_not_found")


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


def call_query(api: Api, event: dict[str, Any], name: str, params: dict[str, str]) -> tuple[int, Any]:
    method = "POST" if name == "search_event" else "GET"
    route = None if name == "list_events" else {"code": event["code"]}
    return api(name, method, route=route, params=params, body=photo(FACE))


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


@pytest.mark.parametrize("name", ["list_events", "list_images", "list_clusters", "search_event"])
def test_function_key_in_the_query_is_not_a_parameter(api, event, name):
    """In Azure a caller may pass its function key as ``?code=``; the host hands it on with
    the route's own parameters."""
    status, body = call_query(api, event, name, {"code": "a-function-key", "top_k": "5"}
                              if name == "search_event" else {"code": "a-function-key", "limit": "5"})
    assert status == 200, body


# --- HTTP: numbers, times and messages in Kanta's words ---------------------------------

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


@pytest.mark.parametrize("name", ["update_cluster", "merge_cluster"])
@pytest.mark.parametrize("raw", [str(2**31), "9" * 18])
def test_person_ids_in_a_route_beyond_int4_address_nothing(api, event, name, raw):
    method, body = ("PATCH", {"name": "x"}) if name == "update_cluster" else ("POST", {"into": 0})
    assert_error(api(name, method, route={"code": event["code"], "cluster_id": raw}, json_body=body),
                 404, "cluster_not_found")


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


@pytest.mark.parametrize("body", [
    b"[" * 30_000 + b"]" * 30_000,  # valid JSON, deeper than Python's parser recurses
    b"[" * 900 + b"]" * 900,  # within the parser's reach
    b'{"files": [{"filename": [[[[[[[[["a"]]]]]]]]], "content_type": "image/jpeg"}]}',
])
def test_deeply_nested_json_is_400_in_kantas_words(api, event, body):
    err = assert_error(call_json(api, event, "create_uploads", "POST", body=body), 400, "malformed_json")
    assert_kantas_words(err)


@pytest.mark.parametrize(("name", "route", "code"), [
    ("get_event", {"code": "a\x00b"}, "event_not_found"),
    ("get_event", {"code": "Traceback (most recent call last)"}, "event_not_found"),
    ("get_image", {"image_id": "{12345678-1234-5678-1234-567812345678}"}, "image_not_found"),
])
def test_not_found_does_not_repeat_odd_keys(api, name, route, code):
    kind = code.removesuffix("_not_found")
    assert api(name, route=route) == (404, {"code": code, "message": f"No such {kind}."})


# --- HTTP: selfie search ---------------------------------------------------------------


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


def test_search_body_over_the_query_size_limit_is_413(api, event, env):
    selfie = photo(FACE)
    env.set(KANTA_MAX_QUERY_IMAGE_BYTES=len(selfie) - 1)
    assert_error(api("search_event", "POST", route={"code": event["code"]}, body=selfie), 413, "payload_too_large")
    env.set(KANTA_MAX_QUERY_IMAGE_BYTES=len(selfie))
    status, body = api("search_event", "POST", route={"code": event["code"]}, body=selfie)
    assert status == 200, body
    assert body["matches"] == [] and len(body["query_faces"]) == 1


# --- HTTP: text the database cannot store ----------------------------------------------

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


def test_event_code_with_nul_in_the_url_is_404(api):
    assert_error(api("get_event", route={"code": "a\x00b"}), 404, "event_not_found")


def test_deeply_nested_json_is_400(api):
    assert_error(api("create_event", "POST", body=b"[" * 50_000, headers=JSON), 400, "malformed_json")


# --- Blob trigger: bad blobs -----------------------------------------------------------


@pytest.mark.parametrize(("data", "failure_code"), [
    (b"", "empty"),
    (b"just some text, not a photo\n", "not_an_image"),
    (b"GIF89a" + bytes(100), "not_an_image"),
    (truncated_jpeg(), "corrupt"),
    (JPEG_HEADER_JUNK, "corrupt"),
    (BOMB_60_MP, "too_many_pixels"),
    (BOMB_225_MP, "too_many_pixels"),
], ids=["empty", "text", "gif", "truncated-jpeg", "jpeg-header-junk", "bomb-60mp", "bomb-225mp"])
def test_bad_blob_marks_image_failed_without_raising(api, functions, event, data, failure_code):
    image_id = upload(api, functions, event["code"], data)
    assert_failed(api, event["code"], image_id, failure_code)
    assert get_event(api, event["code"])["face_count"] == 0


@pytest.mark.parametrize(("setting", "failure_code"), [
    ("KANTA_MAX_IMAGE_BYTES", "too_large"),
    ("KANTA_MAX_IMAGE_PIXELS", "too_many_pixels"),
])
def test_photo_over_a_configured_limit_marks_image_failed(api, functions, event, env, setting, failure_code):
    """A real photo, one unit over the limit: rejected and its blob deleted; at the limit: processed."""
    from kanta.storage import blob_exists

    data = photo(FACE)
    with Image.open(io.BytesIO(data)) as img:
        size = len(data) if setting == "KANTA_MAX_IMAGE_BYTES" else img.width * img.height
    env.set(**{setting: size - 1})
    image_id = upload(api, functions, event["code"], data)
    assert_failed(api, event["code"], image_id, failure_code)
    assert not blob_exists(get_image(api, image_id)["blob_name"])
    env.set(**{setting: size})
    assert_processed(api, upload(api, functions, event["code"], data), faces=1)


def test_blob_of_unknown_event_is_skipped_and_deleted(functions):
    """No event to attach it to (say, deleted while a guest uploaded): no row, no exception (a
    retry could not help), and the orphaned blob is deleted."""
    from kanta.storage import uploads_container

    blob_name = f"{new_code()}/{uuid.uuid4()}.jpg"
    put_blob(blob_name, photo(FACE))
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 0
    assert not uploads_container().get_blob_client(blob_name).exists()


@pytest.mark.parametrize("layout", ["{code}/nested/{id}.jpg", "{code}//{id}.jpg", "{id}.jpg", "{code}/sub/"])
def test_blob_name_outside_the_event_layout_is_skipped(functions, event, layout):
    blob_name = layout.format(code=event["code"], id=uuid.uuid4())
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 0


@pytest.mark.parametrize("via_ticket", [True, False], ids=["ticket", "other-client"])
def test_same_blob_processed_twice_keeps_one_image_and_no_duplicate_faces(api, functions, event, via_ticket):
    """At-least-once delivery: a second run of the same blob replaces, never adds."""
    code = event["code"]
    blob_name = upload_ticket(api, code)["blob_name"] if via_ticket else f"{code}/IMG_0001.JPG"
    deliver(functions, blob_name, photo(FACE))
    run_blob_trigger(functions, blob_name)
    assert image_rows(blob_name) == 1
    status, listing = api("list_images", route={"code": code})
    assert status == 200 and len(listing["items"]) == 1, listing
    assert_processed(api, listing["items"][0]["image_id"], faces=1)
    after = get_event(api, code)
    assert (after["image_count"], after["face_count"]) == (1, 1)


def test_failed_image_overwritten_with_a_good_photo_is_processed(api, functions, event):
    image_id = upload(api, functions, event["code"], truncated_jpeg())
    assert_failed(api, event["code"], image_id, "corrupt")
    deliver(functions, get_image(api, image_id)["blob_name"], photo("group_biden_obama.jpg"))
    assert_processed(api, image_id, faces=2)
    assert get_event(api, event["code"])["face_count"] == 2


def test_good_image_overwritten_with_a_bad_one_loses_its_faces(api, functions, event):
    image_id = upload(api, functions, event["code"], photo(FACE))
    assert_processed(api, image_id, faces=1)
    deliver(functions, get_image(api, image_id)["blob_name"], b"not a photo any more")
    assert_failed(api, event["code"], image_id, "not_an_image")
    assert get_event(api, event["code"])["face_count"] == 0


# --- Database unreachable --------------------------------------------------------------


def test_blob_trigger_raises_while_database_is_down_and_a_retry_processes_it(api, functions, event, env):
    """The host retries a blob whose run raised; nothing is recorded meanwhile, nothing lost."""
    ticket = upload_ticket(api, event["code"])
    put_blob(ticket["blob_name"], photo(FACE))
    env.set(**DATABASE_DOWN)
    with pytest.raises(psycopg.OperationalError):
        run_blob_trigger(functions, ticket["blob_name"])
    env.restore()
    assert get_image(api, ticket["image_id"])["status"] == "pending"
    run_blob_trigger(functions, ticket["blob_name"])
    assert_processed(api, ticket["image_id"], faces=1)


@pytest.mark.parametrize(("name", "method", "kwargs"), [
    ("health", "GET", {}),
    ("list_events", "GET", {}),
    ("create_event", "POST", {"json_body": {"code": "while-down"}}),
])
def test_http_while_database_is_down_is_503(api, database_down, name, method, kwargs):
    assert_error(api(name, method, **kwargs), 503, "database_unavailable")


@pytest.mark.parametrize("raw", [" 1", "1 ", "+1", "١", "1.0", "0x1", "9" * 19, "-1"])
def test_ids_that_are_not_ascii_digits_address_nothing(api, event, raw):
    # int() would take " 1", "+1" or an Arabic-Indic digit as face 1.
    assert api("move_face", "PUT", route={"face_id": raw}, json_body={"cluster_id": None})[1]["code"] == "face_not_found"
    status, body = api("update_cluster", "PATCH", route={"code": event["code"], "cluster_id": raw},
                       json_body={"name": "x"})
    assert (status, body["code"]) == (404, "cluster_not_found")


@pytest.mark.parametrize("raw", ["{12345678-1234-5678-1234-567812345678}", "urn:uuid:12345678-1234-5678-1234-567812345678",
                                 "12345678123456781234567812345678"])
def test_image_ids_in_other_uuid_spellings_address_nothing(api, raw):
    assert assert_error(api("get_image", route={"image_id": raw}), 404, "image_not_found")


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
