"""The host's guest link: made with a 256-bit token that only its hash remembers, a join URL
with the token in its fragment, QR codes of that URL, a default expiry from the event's end,
shown without its token, revoked."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import re
import uuid

import azure.functions as func
import pytest
import segno
from PIL import Image

from kanta.db import connection
from tests.helpers import guest_link, override_settings


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _new_event(api, **fields) -> str:
    code = f"gl-{uuid.uuid4().hex[:12]}"
    status, body = api("create_event", "POST", json_body={"code": code, **fields})
    assert status == 201, body
    return code


def _png_modules(png: bytes, size: int, scale: int = 10, border: int = 4) -> list[list[bool]]:
    """The dark modules of a QR code drawn at ``scale`` px a module with a ``border``-module
    quiet zone, read from the centre of each module."""
    img = Image.open(io.BytesIO(png)).convert("L")
    assert img.size == ((size + 2 * border) * scale,) * 2
    return [[img.getpixel(((border + c) * scale + scale // 2, (border + r) * scale + scale // 2)) < 128
             for c in range(size)] for r in range(size)]


def test_a_guest_link_has_a_random_token_in_the_fragment_of_its_join_url_and_qr_codes_of_it(api, event):
    code = event["code"]
    status, link = api("create_guest_link", "POST", route={"code": code}, json_body={})
    assert status == 201, link
    token = link["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # secrets.token_urlsafe(32): 256 bits
    # The base is the request's scheme and host; the token is only in the fragment.
    assert link["join_url"] == f"http://localhost/api/join/{code}#t={token}"
    assert link["rights"] == {"upload": True, "find_me": True, "gallery": False}
    # The PNG is a QR code of the join URL: the same modules as segno's code of it.
    expected = segno.make(link["join_url"], error="m", micro=False)
    modules = [[bool(v) for v in row] for row in expected.matrix]
    assert _png_modules(base64.b64decode(link["qr_png"]), len(modules)) == modules
    assert link["qr_svg"].startswith("<svg") and link["qr_svg"].rstrip().endswith("</svg>")
    assert "<?xml" not in link["qr_svg"]
    # Two links never share a token.
    assert guest_link(api, code)["token"] != token


def test_the_token_is_shown_once_and_stored_only_as_its_sha256(api, event, functions):
    req = func.HttpRequest("POST", "http://localhost/api/x", route_params={"code": event["code"]},
                           body=b"{}", headers={"Content-Type": "application/json"})
    resp = functions["create_guest_link"](req)
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    token = json.loads(resp.get_body())["token"]
    with connection() as conn:
        row = conn.execute("SELECT gl.* FROM guest_links gl JOIN events e ON e.id = gl.event_id WHERE e.code = %s",
                           (event["code"],)).fetchone()
    assert bytes(row["token_sha256"]) == hashlib.sha256(token.encode()).digest()
    assert token not in repr(row)
    status, state = api("get_guest_link", route={"code": event["code"]})
    assert status == 200 and set(state) == {"rights", "expires_at", "created_at", "expired", "limits"}
    assert token not in repr(state) and state["expired"] is False


def test_the_join_url_uses_kanta_public_url_when_set(api, event):
    with override_settings(KANTA_PUBLIC_URL="https://photos.example.com/"):
        link = guest_link(api, event["code"])
    assert link["join_url"] == f"https://photos.example.com/api/join/{event['code']}#t={link['token']}"


def test_default_expiry_is_a_week_after_the_event_or_a_month_for_an_open_event_at_most_a_year(api):
    now = dt.datetime.now(dt.UTC)
    ends = (now + dt.timedelta(days=2)).replace(microsecond=0)
    code = _new_event(api, ends_at=ends.isoformat())
    assert _time(guest_link(api, code)["expires_at"]) == ends + dt.timedelta(days=7)

    open_ended = _time(guest_link(api, _new_event(api))["expires_at"])
    assert abs(open_ended - (now + dt.timedelta(days=30))) < dt.timedelta(minutes=1)

    far = _new_event(api, starts_at=now.isoformat(), ends_at=(now + dt.timedelta(days=700)).isoformat())
    capped = _time(guest_link(api, far)["expires_at"])
    assert abs(capped - (now + dt.timedelta(days=365))) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(("expires_in", "kind"), [(-60, "in_the_past"), (366 * 86400, "too_far_ahead")])
def test_an_expiry_in_the_past_or_over_a_year_ahead_is_422_naming_it(api, event, expires_in, kind):
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in)).isoformat()
    status, body = api("create_guest_link", "POST", route={"code": event["code"]}, json_body={"expires_at": expires_at})
    assert status == 422 and body["code"] == "validation_error", body
    assert [(d["field"], d["type"]) for d in body["details"]] == [("expires_at", kind)]
    assert api("get_guest_link", route={"code": event["code"]})[0] == 404  # nothing made


def test_an_event_over_for_more_than_a_week_needs_an_explicit_expiry(api):
    code = _new_event(api, starts_at="2024-01-01T10:00:00Z", ends_at="2024-01-02T10:00:00Z")
    status, body = api("create_guest_link", "POST", route={"code": code}, json_body={})
    assert status == 422 and body["details"][0]["type"] == "event_over", body
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    link = guest_link(api, code, expires_at=later.isoformat())
    assert _time(link["expires_at"]) == later


@pytest.mark.parametrize("body", [{"rights": {"upload": "true"}}, {"rights": {"upload": 1}},
                                  {"rights": {"delete": True}}, {"rights": None}, {"token": "mine"},
                                  {"expires_at": 1893456000}])
def test_rights_are_json_booleans_of_known_names(api, event, body):
    status, answer = api("create_guest_link", "POST", route={"code": event["code"]}, json_body=body)
    assert status == 422 and answer["code"] == "validation_error", answer


def test_get_and_delete_the_guest_link(api, event):
    code = event["code"]
    status, body = api("get_guest_link", route={"code": code})
    assert (status, body["code"]) == (404, "guest_link_not_found")
    assert api("delete_guest_link", "DELETE", route={"code": code})[1]["code"] == "guest_link_not_found"

    link = guest_link(api, code, rights={"upload": False, "gallery": True})
    status, state = api("get_guest_link", route={"code": code})
    assert status == 200 and state["rights"] == {"upload": False, "find_me": True, "gallery": True}
    assert state["expires_at"] == link["expires_at"] and state["created_at"] == link["created_at"]

    assert api("delete_guest_link", "DELETE", route={"code": code}) == (204, None)
    assert api("get_guest_link", route={"code": code})[0] == 404
    assert api("delete_guest_link", "DELETE", route={"code": code})[0] == 404


@pytest.mark.parametrize("name,method", [("create_guest_link", "POST"), ("get_guest_link", "GET"),
                                         ("delete_guest_link", "DELETE")])
def test_guest_link_routes_of_an_unknown_event_are_404(api, name, method):
    status, body = api(name, method, route={"code": "no-such-event"}, json_body={} if method == "POST" else None)
    assert (status, body["code"]) == (404, "event_not_found")


def test_deleting_the_event_deletes_its_guest_link(api, event):
    guest_link(api, event["code"])
    with connection() as conn:
        event_id = conn.execute("SELECT id FROM events WHERE code = %s", (event["code"],)).fetchone()["id"]
    assert api("delete_event", "DELETE", route={"code": event["code"]})[0] == 204
    with connection() as conn:
        assert conn.execute("SELECT 1 FROM guest_links WHERE event_id = %s", (event_id,)).fetchone() is None
