"""A guest with only the link's token: uploads photos through their SAS URLs, polls their
indexing, finds the photos they are in by selfie (and nobody else's faces, ids or
distances), sees the gallery; their selfie is never stored."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import requests

from kanta.db import connection
from tests.guests.helpers import guest_call
from tests.helpers import browser_put, guest_link, photo, run_blob_trigger

#: Uploaded by the guest: two photos of Obama, one of Biden (tests/data/labels.csv).
UPLOADED = ["obama_1.jpg", "obama_2.jpg", "biden_1.jpg"]
#: The guest's selfie: a photo of Obama not uploaded.
SELFIE = "obama_4_480p.jpg"


def _url_expiry(url: str) -> dt.datetime:
    """When a SAS URL stops working (its ``se`` parameter)."""
    return dt.datetime.fromisoformat(parse_qs(urlsplit(url).query)["se"][0])


def _guest_uploads(functions, code: str, token: str, names: list[str]) -> dict[str, dict]:
    files = [{"filename": n, "content_type": "image/jpeg", "size_bytes": len(photo(n))} for n in names]
    status, body, _ = guest_call(functions, "guest_create_uploads", code, token, "POST", json_body={"files": files})
    assert status == 201, body
    tickets = dict(zip(names, body["uploads"]))
    for name, ticket in tickets.items():
        assert browser_put(ticket, photo(name)) == 201
    return tickets


def test_a_guest_uploads_and_finds_their_photos_with_the_link_alone(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    tickets = _guest_uploads(functions, code, token, UPLOADED)

    # Polling: pending until the blob trigger has run, then processed.
    ticket = tickets["obama_1.jpg"]
    status, state, _ = guest_call(functions, "guest_upload_status", code, token, route={"image_id": ticket["image_id"]})
    assert status == 200 and state["status"] == "pending"
    for t in tickets.values():
        run_blob_trigger(functions, t["blob_name"])
    status, state, _ = guest_call(functions, "guest_upload_status", code, token, route={"image_id": ticket["image_id"]})
    assert state == {"image_id": ticket["image_id"], "status": "processed", "failure_code": None,
                     "failure_reason": None}
    assert api("recluster_event", "POST", route={"code": code})[0] == 200  # the host's timer, in effect

    started = dt.datetime.now(dt.UTC)
    status, found, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                                  body=photo(SELFIE))
    assert status == 200, found
    by_image = {t["image_id"]: name for name, t in tickets.items()}
    assert sorted(by_image[p["image_id"]] for p in found["photos"]) == ["obama_1.jpg", "obama_2.jpg"]
    # Only the guest's photos and their own face in each: no face or person ids, no distances.
    assert set(found) == {"photos", "urls_expire_at", "reason", "message"} and found["reason"] is None
    for p in found["photos"]:
        assert set(p) == {"image_id", "url", "thumbnail_url", "bbox"}
        assert requests.get(p["url"], timeout=30).content == photo(by_image[p["image_id"]])
        assert requests.get(p["thumbnail_url"], timeout=30).status_code == 200
        # Read URLs live 10 minutes at most.
        for url in (p["url"], p["thumbnail_url"]):
            assert _url_expiry(url) <= started + dt.timedelta(minutes=10, seconds=5)
    assert _url_expiry(found["photos"][0]["url"]) == dt.datetime.fromisoformat(found["urls_expire_at"]).replace(
        microsecond=0)

    # A stranger's selfie finds nothing, and says so.
    status, none, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                                 body=photo("kit_harington_1.jpg"))
    assert status == 200 and none["photos"] == [] and none["reason"] == "no_match" and none["message"]


def test_a_guest_search_answers_the_hosts_search_errors(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    status, body, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                                 body=b"not a photo")
    assert (status, body["code"]) == (422, "invalid_image")
    status, body, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true", "top_k": "5"},
                                 body=photo(SELFIE))
    assert (status, body["code"]) == (422, "validation_error")  # guests choose no cuts or sizes


def _table_counts() -> dict[str, int]:
    """Rows of every table of the database, but the abuse counters (a search counts itself)."""
    with connection() as conn:
        tables = [r["tablename"] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'rate_counters'")]
        return {t: conn.execute(f'SELECT count(*) AS n FROM "{t}"').fetchone()["n"] for t in tables}


def _all_blobs() -> set[tuple[str, str]]:
    from kanta.storage import get_blob_service

    service = get_blob_service()
    return {(c.name, b.name) for c in service.list_containers()
            for b in service.get_container_client(c.name).list_blobs(include=["snapshots"])}


def test_a_guest_search_stores_no_selfie(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    for t in _guest_uploads(functions, code, token, ["obama_1.jpg"]).values():
        run_blob_trigger(functions, t["blob_name"])
    tables, blobs = _table_counts(), _all_blobs()
    assert {"images", "faces", "guest_links"} <= set(tables) and any(c == "faces" for c, _ in blobs)
    for selfie in (photo(SELFIE), photo("biden_2.jpg"), photo("obama_partial_face_1.jpg"), b"\xff\xd8\xff junk"):
        guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"}, body=selfie)
    assert _table_counts() == tables
    assert _all_blobs() == blobs
    # What the search wrote is a count, nothing of the photo.
    with connection() as conn:
        rows = conn.execute("SELECT scope, count FROM rate_counters c WHERE key = "
                            "(SELECT id::text FROM guest_links WHERE event_id = (SELECT id FROM events WHERE code = %s))"
                            " AND scope = 'link_searches'", (code,)).fetchall()
    assert [(r["scope"], r["count"]) for r in rows] == [("link_searches", 4)]


def test_the_gallery_lists_processed_photos_with_short_read_urls(api, functions, event):
    code = event["code"]
    token = guest_link(api, code, rights={"upload": True, "find_me": True, "gallery": True})["token"]
    tickets = _guest_uploads(functions, code, token, ["obama_1.jpg", "biden_1.jpg", "obama_2.jpg"])
    for name in ("obama_1.jpg", "biden_1.jpg"):
        run_blob_trigger(functions, tickets[name]["blob_name"])  # obama_2 stays pending
    started = dt.datetime.now(dt.UTC)

    status, page, _ = guest_call(functions, "guest_images", code, token, params={"limit": "1"})
    assert status == 200 and page["next_offset"] == 1
    (first,) = page["items"]
    assert set(first) == {"image_id", "url", "width", "height", "created_at"}
    status, rest, _ = guest_call(functions, "guest_images", code, token, params={"limit": "5", "offset": "1"})
    assert status == 200 and rest["next_offset"] is None
    # The processed photos, each once; the pending one is not shown.
    by_image = {t["image_id"]: name for name, t in tickets.items()}
    shown = [by_image[i["image_id"]] for i in page["items"] + rest["items"]]
    assert sorted(shown) == ["biden_1.jpg", "obama_1.jpg"]
    assert requests.get(first["url"], timeout=30).content == photo(by_image[first["image_id"]])
    assert _url_expiry(first["url"]) <= started + dt.timedelta(minutes=10, seconds=5)

    status, body, _ = guest_call(functions, "guest_images", code, token, params={"status": "pending"})
    assert (status, body["code"]) == (422, "validation_error")


def test_a_guest_has_their_face_forgotten_and_is_then_found_nowhere(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    tickets = _guest_uploads(functions, code, token, UPLOADED)
    for t in tickets.values():
        run_blob_trigger(functions, t["blob_name"])
    assert api("recluster_event", "POST", route={"code": code})[0] == 200

    status, result, _ = guest_call(functions, "guest_forget", code, token, "POST", params={"confirm": "true"},
                                   body=photo(SELFIE))
    assert status == 200 and result["erased"] == 2 and result["message"], result
    status, found, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                                  body=photo(SELFIE))
    assert status == 200 and found["photos"] == [] and found["reason"] == "no_match"
    # Biden's face is still there.
    status, found, _ = guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"},
                                  body=photo("biden_2.jpg"))
    assert [p["image_id"] for p in found["photos"]] == [tickets["biden_1.jpg"]["image_id"]]
