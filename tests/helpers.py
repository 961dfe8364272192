"""Helpers shared by the tests: photos of tests/data, the blob trigger and the HTTP functions
called the way the Functions host calls them, Kanta's settings changed for one test
(``SettingsOverride``, ``override_settings``; the fixture ``settings_override``), and the
checks of error responses, events and images that tests of several modules share."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func

#: The repository root, and the labelled photos of the tests (credits in data/README.md).
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def reset_clients() -> None:
    """Forget cached settings, pool and storage clients so changed env vars take effect."""
    from kanta.config import get_settings
    from kanta.db import close_pool
    from kanta.storage import get_blob_service

    close_pool()
    get_settings.cache_clear()
    get_blob_service.cache_clear()


class SettingsOverride:
    """Kanta's settings changed for one test, the one way tests do it: calling it with
    ``KANTA_…`` names sets those environment variables (``None`` unsets one), then forgets
    the cached settings, pool and storage clients (``reset_clients``) so the next use reads
    them afresh; ``restore`` puts back every variable as it was before its first change and
    resets the clients again. The fixture ``settings_override`` (tests/conftest.py) restores
    at teardown; ``override_settings`` does it for a ``with`` block."""

    def __init__(self) -> None:
        self.saved: dict[str, str | None] = {}

    def __call__(self, **values: object) -> None:
        for name, value in values.items():
            self.saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
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


@contextlib.contextmanager
def override_settings(**values: object) -> Iterator[SettingsOverride]:
    """Kanta's settings changed by ``values`` (``KANTA_…`` name → value; ``None`` unsets)
    for a ``with`` block, restored after it however it ends; yields the override, which may
    change more settings within the block."""
    override = SettingsOverride()
    try:
        override(**values)
        yield override
    finally:
        override.restore()


class Api:
    """Calls HTTP functions the way the host does: a ``func.HttpRequest`` in, a response out."""

    def __init__(self, functions: dict[str, Callable]) -> None:
        self.functions = functions

    def __call__(self, name: str, method: str = "GET", *, route: dict[str, str] | None = None,
                 params: dict[str, str] | None = None, json_body: Any = None, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = func.HttpRequest(method=method, url=f"http://localhost/api/{name}", params=params or {},
                               route_params=route or {}, body=body or b"", headers=headers)
        resp = self.functions[name](req)
        raw = resp.get_body()
        return resp.status_code, (json.loads(raw) if raw else None)


def photo(name: str) -> bytes:
    """Bytes of a labelled photo in tests/data (see tests/data/README.md)."""
    return (DATA / name).read_bytes()


def run_blob_trigger(functions: dict[str, Callable], blob_name: str) -> None:
    """Invoke the blob trigger as the host does for ``uploads/{blob_name}``: its parameter is
    an SDK type, so the Python worker hands it the ``BlobClient`` that the binding
    extension's converter builds from the host's model binding data (``kanta.local.host``).
    The blob need not exist."""
    from function_app import app
    from kanta.local.host import blob_trigger_argument, blob_triggers

    ((container, _, _, trigger),) = [t for t in blob_triggers(app) if t[1] == "encode_uploaded_image"]
    function = functions["encode_uploaded_image"]
    function(blob_trigger_argument(function, trigger, container, blob_name, read=_no_bytes))


def _no_bytes() -> bytes:
    raise AssertionError("the blob trigger takes a BlobClient: the host reads no byte of the blob")


def upload_tickets(api: Api, code: str, count: int = 1, content_type: str = "image/jpeg") -> list[dict[str, Any]]:
    """``count`` upload tickets (pending images, each with its SAS URL) of event ``code``."""
    files = [{"filename": f"photo-{i}.jpg", "content_type": content_type} for i in range(count)]
    status, body = api("create_uploads", "POST", route={"code": code}, json_body={"files": files})
    assert status == 201, body
    return body["uploads"]


def upload_ticket(api: Api, code: str, content_type: str = "image/jpeg") -> dict[str, Any]:
    """One upload ticket of event ``code``."""
    return upload_tickets(api, code, 1, content_type)[0]


def browser_put(upload: dict[str, Any], data: bytes) -> int:
    """PUT ``data`` to a ticket's upload URL with its headers, as a browser does; the HTTP status."""
    import requests

    return requests.put(upload["upload_url"], data=data, headers=upload["headers"], timeout=30).status_code


def age_tombstone(blob_name: str, seconds: float) -> None:
    """Make the tombstone of deleted blob ``blob_name`` ``seconds`` older: time passing since
    the delete, without waiting for it."""
    from kanta.db import connection

    with connection() as conn:
        conn.execute("UPDATE deleted_blobs SET deleted_at = deleted_at - make_interval(secs => %s) "
                     "WHERE blob_name = %s", (seconds, blob_name))


def put_blob(blob_name: str, data: bytes) -> None:
    """Write a blob to the uploads container with the SDK (a client other than a browser)."""
    from kanta.storage import uploads_container

    uploads_container().upload_blob(blob_name, data, overwrite=True)


def side_by_side(*names: str) -> bytes:
    """One JPEG holding the given photos of tests/data next to each other (several faces in
    one photo, as in a group photo)."""
    import io

    from PIL import Image

    images = [Image.open(DATA / n).convert("RGB") for n in names]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), (128, 128, 128))
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def guest_link(api: Api, code: str, **body: Any) -> dict[str, Any]:
    """Create (or rotate) event ``code``'s guest link as its host, with ``body``
    (``expires_at``, ``rights``); the 201 body, token included."""
    status, link = api("create_guest_link", "POST", route={"code": code}, json_body=body)
    assert status == 201, link
    return link


def bearer(token: str) -> dict[str, str]:
    """The headers of a guest request: the guest link's token, and no function key."""
    return {"Authorization": f"Bearer {token}"}


def face_thumbnails(code: str) -> set[str]:
    """Names of every blob of event ``code`` in the faces container (its face thumbnails)."""
    from kanta.storage import faces_container

    return {b.name for b in faces_container().list_blobs(name_starts_with=f"{code}/")}


def event_blobs(code: str) -> set[str]:
    """Names of every blob of event ``code`` in the uploads container (its photos)."""
    from kanta.storage import uploads_container

    return {b.name for b in uploads_container().list_blobs(name_starts_with=f"{code}/")}


def downscaled(data: bytes, side: int = 400) -> bytes:
    """A photo at most ``side`` pixels a side, as JPEG: indexing it again (a route may) stays quick."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@contextlib.contextmanager
def local_host(app: func.FunctionApp) -> Iterator[str]:
    """Serve ``app`` with Kanta's local host over real HTTP on a free port, in a thread;
    yields its origin (``http://127.0.0.1:<port>``)."""
    import threading

    from werkzeug.serving import make_server

    from kanta.local.host import build_wsgi_app
    from kanta.local.services import free_port

    port = free_port()
    server = make_server("127.0.0.1", port, build_wsgi_app(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def http_functions() -> list[tuple[str, str, list[str], str, Any]]:
    """``(function name, route, methods, auth level, user function)`` of each HTTP function of
    ``function_app.app``, as the host indexes them, by name."""
    from function_app import app
    from kanta.local.host import index_functions

    found = []
    for fn in index_functions(app):
        if fn.is_http_function():
            trigger = fn.get_trigger()
            methods = [str(getattr(m, "value", m)) for m in trigger.methods]
            found.append((fn.get_function_name(), trigger.route, methods, trigger.auth_level.name,
                          fn.get_user_function()))
    return sorted(found, key=lambda f: f[0])


def seeded_event(functions: dict[str, Callable], prefix: str, guests: bool = False) -> dict[str, list[str]]:
    """A new event (code ``{prefix}-<12 hex>``) with four 400 px photos of two people, indexed
    and clustered: the real keys of each route parameter name (``code``, ``image_id``,
    ``face_id``, ``cluster_id``; faces in the order of their images); with
    ``guests``, also the ``token`` of a guest link that allows everything."""
    api = Api(functions)
    code = f"{prefix}-{uuid.uuid4().hex[:12]}"
    status, body = api("create_event", "POST", json_body={"code": code})
    assert status == 201, body
    for name in ("obama_1.jpg", "obama_2.jpg", "biden_1.jpg", "biden_2.jpg"):
        put_blob(f"{code}/{name}", downscaled(photo(name)))
        run_blob_trigger(functions, f"{code}/{name}")
    assert api("recluster_event", "POST", route={"code": code})[0] == 200
    images = api("list_images", route={"code": code})[1]["items"]
    faces = [f for i in images for f in api("get_image", route={"image_id": i["image_id"]})[1]["faces"]]
    people = api("list_clusters", route={"code": code})[1]["items"]
    keys = {"code": [code], "image_id": [i["image_id"] for i in images], "face_id": [str(f["face_id"]) for f in faces],
            "cluster_id": [str(p["cluster_id"]) for p in people]}
    if guests:
        keys["token"] = [guest_link(api, code, rights={"upload": True, "find_me": True, "gallery": True})["token"]]
    return keys


# --- error responses, events and images, as the tests of several modules check them ------------

#: The smallest labelled photo with one face: keeps dlib's work per test short.
FACE = "obama_5_small.jpg"
#: The headers of a JSON request body.
JSON = {"Content-Type": "application/json"}
#: Words of Python and of the libraries Kanta uses, which no message may show a client.
LIBRARY_WORDS = ["pydantic", "psycopg", "PIL", "Pillow", "sys.", "Traceback", "Error:", "recursion",
                 "Input should", "Value error", "int_max_str_digits", "Decimal(", "Expecting", "char ", "line 1",
                 "unable to parse", "should be"]


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


def assert_kantas_words(body: dict[str, Any]) -> None:
    """Neither the message nor any detail's message of an error names a library or Python."""
    messages = [body["message"]] + [d["message"] for d in body.get("details") or []]
    for message in messages:
        assert not [w for w in LIBRARY_WORDS if w.lower() in message.lower()], body


def new_code() -> str:
    """A fresh event code (no event has it)."""
    return f"bad-{uuid.uuid4().hex[:12]}"


def call_json(api: Api, event: dict[str, Any], name: str, method: str, **kwargs: Any) -> tuple[int, Any]:
    """Call a JSON-bodied function; a raw ``body`` goes as ``application/json`` unless
    ``headers`` say otherwise."""
    route = None if name == "create_event" else {"code": event["code"], "cluster_id": "0", "face_id": "0"}
    if "body" in kwargs:
        kwargs.setdefault("headers", JSON)
    return api(name, method, route=route, **kwargs)


def call_query(api: Api, event: dict[str, Any], name: str, params: dict[str, str]) -> tuple[int, Any]:
    """Call a function that reads a query string (``list_events``, ``list_images``,
    ``list_clusters``, ``search_event`` with a selfie of ``FACE``) with ``params``."""
    method = "POST" if name == "search_event" else "GET"
    route = None if name == "list_events" else {"code": event["code"]}
    return api(name, method, route=route, params=params, body=photo(FACE))


def get_event(api: Api, code: str) -> dict[str, Any]:
    """``GET /api/events/{code}``; asserts 200."""
    status, body = api("get_event", route={"code": code})
    assert status == 200, body
    return body


def get_image(api: Api, image_id: str) -> dict[str, Any]:
    """``GET /api/images/{image_id}``; asserts 200."""
    status, body = api("get_image", route={"image_id": image_id})
    assert status == 200, body
    return body


def assert_processed(api: Api, image_id: str, faces: int) -> dict[str, Any]:
    """The image is ``processed``, with no failure and ``faces`` faces; its detail."""
    image = get_image(api, image_id)
    assert image["status"] == "processed", image
    assert (image["failure_code"], image["failure_reason"]) == (None, None)
    assert image["face_count"] == len(image["faces"]) == faces
    return image
