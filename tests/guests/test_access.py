"""Who may use the guest routes: only a bearer of the event's current, unexpired guest link
token (401 otherwise, with a Bearer challenge), only on that event (404 elsewhere, as for an
event that does not exist), only within the link's rights (403), and searches only with
face search on (409) and the guest's consent (422)."""

from __future__ import annotations

import pytest

from kanta.db import connection
from tests.guests.helpers import GUEST_ROUTES, guest_call, upload_body
from tests.helpers import guest_link, photo, upload_ticket

ROUTE_IDS = [name for name, _, _ in GUEST_ROUTES]


def _other_event(api) -> str:
    import uuid

    code = f"ev-{uuid.uuid4().hex[:12]}"
    assert api("create_event", "POST", json_body={"code": code})[0] == 201
    return code


def _expect_invalid_token(status, body, headers):
    assert (status, body["code"]) == (401, "guest_token_invalid"), body
    assert headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("name", "method", "route"), GUEST_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer short",
                                           "Bearer " + "A" * 43, "Bearer " + "A" * 42 + "!", "Token " + "A" * 43],
                         ids=["none", "empty", "no-token", "basic", "short", "unknown", "bad-char", "other-scheme"])
def test_a_missing_malformed_or_unknown_token_is_401_with_a_bearer_challenge(api, functions, event, name, method,
                                                                            route, authorization):
    guest_link(api, event["code"])  # the event has a link; these requests do not hold its token
    headers = {} if authorization is None else {"Authorization": authorization}
    _expect_invalid_token(*guest_call(functions, name, event["code"], None, method, route=route, headers=headers))


def test_a_valid_token_counts_only_as_a_bearer_in_the_authorization_header(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    for authorization in (f"Token {token}", f"Basic {token}", f"Bearer {token} extra", f"Bearer{token}", token):
        _expect_invalid_token(*guest_call(functions, "guest_event", code, None,
                                          headers={"Authorization": authorization}))
    # Nor in the query string, where it would land in logs.
    _expect_invalid_token(*guest_call(functions, "guest_event", code, None, params={"t": token}))
    assert guest_call(functions, "guest_event", code, None, headers={"Authorization": f"BEARER {token}"})[0] == 200


@pytest.mark.parametrize(("name", "method", "route"), GUEST_ROUTES, ids=ROUTE_IDS)
def test_revoked_expired_and_rotated_tokens_are_401_on_every_route(api, functions, event, name, method, route):
    code = event["code"]
    token = guest_link(api, code)["token"]
    assert guest_call(functions, "guest_event", code, token)[0] == 200
    assert guest_call(functions, "guest_event", code, token, headers={"Authorization": f"bearer  {token}"})[0] == 200

    rotated = guest_link(api, code)["token"]
    _expect_invalid_token(*guest_call(functions, name, code, token, method, route=route))
    assert guest_call(functions, "guest_event", code, rotated)[0] == 200

    with connection() as conn:
        conn.execute("UPDATE guest_links SET expires_at = now() - interval '1 second' "
                     "WHERE event_id = (SELECT id FROM events WHERE code = %s)", (code,))
    _expect_invalid_token(*guest_call(functions, name, code, rotated, method, route=route))
    assert api("get_guest_link", route={"code": code})[1]["expired"] is True

    fresh = guest_link(api, code)["token"]
    assert guest_call(functions, "guest_event", code, fresh)[0] == 200
    assert api("delete_guest_link", "DELETE", route={"code": code})[0] == 204
    _expect_invalid_token(*guest_call(functions, name, code, fresh, method, route=route))


@pytest.mark.parametrize(("name", "method", "route"), GUEST_ROUTES, ids=ROUTE_IDS)
def test_a_token_of_one_event_opens_no_other_event_and_cannot_tell_it_exists(api, functions, event, name, method,
                                                                               route):
    token = guest_link(api, event["code"], rights={"upload": True, "find_me": True, "gallery": True})["token"]
    other = _other_event(api)
    guest_link(api, other, rights={"upload": True, "find_me": True, "gallery": True})
    status, body, _ = guest_call(functions, name, other, token, method, route=route, json_body=upload_body(),
                                 params={"consent": "true"} if name == "guest_search" else None)
    assert (status, body) == (404, {"code": "event_not_found", "message": f"No event {other}."})
    # Exactly as for an event that does not exist.
    status, missing, _ = guest_call(functions, name, "no-such-event", token, method, route=route)
    assert (status, missing["code"]) == (404, "event_not_found")


def test_a_token_of_one_event_reads_no_upload_of_another(api, functions, event):
    token = guest_link(api, event["code"])["token"]
    other = _other_event(api)
    image_id = upload_ticket(api, other)["image_id"]
    status, body, _ = guest_call(functions, "guest_upload_status", event["code"], token, route={"image_id": image_id})
    assert (status, body["code"]) == (404, "image_not_found")
    own = upload_ticket(api, event["code"])["image_id"]
    status, body, _ = guest_call(functions, "guest_upload_status", event["code"], token, route={"image_id": own})
    assert status == 200 and body == {"image_id": own, "status": "pending", "failure_code": None,
                                      "failure_reason": None}
    status, body, _ = guest_call(functions, "guest_upload_status", event["code"], token, route={"image_id": "1"})
    assert (status, body["code"]) == (404, "image_not_found")


def test_withheld_rights_are_403(api, functions, event):
    code = event["code"]
    token = guest_link(api, code, rights={"upload": False, "find_me": False, "gallery": False})["token"]
    refused = [
        guest_call(functions, "guest_create_uploads", code, token, "POST", json_body=upload_body()),
        guest_call(functions, "guest_upload_status", code, token,
                   route={"image_id": upload_ticket(api, code)["image_id"]}),
        guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                   body=photo("obama_5_small.jpg")),
        guest_call(functions, "guest_forget", code, token, "POST", params={"confirm": "true"},
                   body=photo("obama_5_small.jpg")),
        guest_call(functions, "guest_images", code, token),
    ]
    for status, body, _ in refused:
        assert (status, body["code"]) == (403, "right_withheld"), body
    # The event's details stay readable, and say what the link allows.
    status, details, _ = guest_call(functions, "guest_event", code, token)
    assert status == 200 and details["rights"] == {"upload": False, "find_me": False, "gallery": False}

    # Each right opens its own routes only.
    token = guest_link(api, code, rights={"upload": True, "find_me": False, "gallery": False})["token"]
    assert guest_call(functions, "guest_create_uploads", code, token, "POST", json_body=upload_body())[0] == 201
    assert guest_call(functions, "guest_images", code, token)[0] == 403
    token = guest_link(api, code, rights={"upload": False, "find_me": False, "gallery": True})["token"]
    assert guest_call(functions, "guest_images", code, token)[0] == 200
    assert guest_call(functions, "guest_create_uploads", code, token, "POST", json_body=upload_body())[0] == 403


def test_the_event_details_guests_see(api, functions):
    import uuid

    code = f"ev-{uuid.uuid4().hex[:12]}"
    status, created = api("create_event", "POST", json_body={
        "code": code, "name": "Ana & Ben", "description": "Garden party", "starts_at": "2026-06-01T16:00:00Z",
        "ends_at": "2027-06-02T02:00:00Z", "consent_text": "Our own words."})
    assert status == 201, created
    link = guest_link(api, code)
    status, details, _ = guest_call(functions, "guest_event", code, link["token"])
    assert status == 200
    assert set(details) == {"code", "name", "description", "starts_at", "ends_at", "rights", "link_expires_at",
                            "face_search", "consent_text", "retention_ends_at", "privacy", "max_photo_bytes"}
    assert (details["name"], details["description"], details["consent_text"]) == ("Ana & Ben", "Garden party",
                                                                                 "Our own words.")
    assert details["face_search"] is True and details["link_expires_at"] == link["expires_at"]
    assert "selfie" in details["privacy"] and "not stored" in details["privacy"]
    # Without the host's own text, Kanta's default consent text.
    from kanta.privacy.policy import DEFAULT_CONSENT_TEXT

    other = _other_event(api)
    details = guest_call(functions, "guest_event", other, guest_link(api, other)["token"])[1]
    assert details["consent_text"] == DEFAULT_CONSENT_TEXT


def test_a_search_needs_face_search_on_and_the_guests_consent(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    selfie = photo("obama_5_small.jpg")
    for params in ({}, {"consent": "false"}):
        status, body, _ = guest_call(functions, "guest_search", code, token, "POST", params=params, body=selfie)
        assert (status, body["code"]) == (422, "consent_required"), body
    status, body, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "yes"}, body=selfie)
    assert (status, body["code"]) == (422, "validation_error")
    assert guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"}, body=selfie)[0] == 200

    assert api("update_event", "PATCH", route={"code": code}, json_body={"face_search": False})[0] == 200
    status, body, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"}, body=selfie)
    assert (status, body["code"]) == (409, "face_search_off"), body
    assert guest_call(functions, "guest_event", code, token)[1]["face_search"] is False


def test_forgetting_needs_confirmation(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    for params in ({}, {"confirm": "false"}):
        status, body, _ = guest_call(functions, "guest_forget", code, token, "POST", params=params,
                                     body=photo("obama_5_small.jpg"))
        assert (status, body["code"]) == (422, "confirmation_required"), body


def test_through_the_local_host_a_guest_route_takes_the_bearer_and_answers_its_headers(api, event):
    """Routed by path as the Functions host routes it: the Authorization header reaches the
    function and the challenge and Retry-After headers reach the client."""
    from werkzeug.test import Client

    from function_app import app
    from kanta.local.host import build_wsgi_app

    client = Client(build_wsgi_app(app))
    code = event["code"]
    token = guest_link(api, code)["token"]
    answer = client.get(f"/api/guest/events/{code}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json["code"] == code
    refused = client.get(f"/api/guest/events/{code}")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
