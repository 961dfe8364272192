"""Abuse caps of guest links: fixed-window counts in PostgreSQL, per link (upload URLs,
bytes, searches, forget requests an hour) and per event (upload URLs and bytes a day); over
a cap, 429 with Retry-After, the seconds to the window's end; a refused request counts
nothing; bytes are charged as declared and corrected to the blob's real size when it
arrives; counts are exact under concurrent requests; ended windows are deleted by the
hourly timer."""

from __future__ import annotations

import concurrent.futures
import time

from azure.functions.timer import TimerRequest

from kanta.db import connection
from tests.guests.helpers import guest_call, upload_body
from tests.helpers import guest_link, photo


def _seconds_to_window_end(window_s: int) -> float:
    return window_s - time.time() % window_s


def _expect_429(result, window_s: int) -> str:
    status, body, headers = result
    assert (status, body["code"]) == (429, "too_many_requests"), body
    retry = int(headers["Retry-After"])
    assert 1 <= retry <= window_s and abs(retry - _seconds_to_window_end(window_s)) <= 3, retry
    return body["message"]


def _uploads(functions, code, token, count, size_bytes=1_000_000):
    return guest_call(functions, "guest_create_uploads", code, token, "POST",
                      json_body=upload_body(count, size_bytes))


def _counted(scope: str, code: str) -> list[int]:
    """The counts of ``scope`` (a link's or an event's) of event ``code``, by window."""
    key = ("(SELECT id::text FROM guest_links WHERE event_id = (SELECT id FROM events WHERE code = %s))"
           if scope.startswith("link") else "(SELECT id::text FROM events WHERE code = %s)")
    with connection() as conn:
        return [r["count"] for r in conn.execute(
            f"SELECT count FROM rate_counters WHERE scope = %s AND key = {key} ORDER BY window_start", (scope, code))]


def test_upload_urls_per_link_and_hour(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_UPLOADS_PER_HOUR=5)
    code = event["code"]
    token = guest_link(api, code)["token"]
    assert _uploads(functions, code, token, 3)[0] == 201
    message = _expect_429(_uploads(functions, code, token, 3), 3600)
    assert "at most 5 photo uploads an hour" in message and "2 more" in message
    # The refused request counted nothing: the 2 left can still be asked for, then none.
    assert _uploads(functions, code, token, 2)[0] == 201
    _expect_429(_uploads(functions, code, token, 1), 3600)
    # A rotated link is a new link, with its own count.
    assert _uploads(functions, code, guest_link(api, code)["token"], 5)[0] == 201


def test_upload_urls_per_event_and_day_across_links(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_UPLOADS_PER_EVENT_DAY=4)
    code = event["code"]
    assert _uploads(functions, code, guest_link(api, code)["token"], 3)[0] == 201
    token = guest_link(api, code)["token"]  # rotating does not reset the event's day
    message = _expect_429(_uploads(functions, code, token, 2), 86400)
    assert "at most 4 photos a day" in message
    assert _uploads(functions, code, token, 1)[0] == 201
    # The host is not counted.
    status, _ = api("create_uploads", "POST", route={"code": code}, json_body=upload_body(10))
    assert status == 201


def test_bytes_per_link_and_hour(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_BYTES_PER_HOUR=3_000_000)
    code = event["code"]
    token = guest_link(api, code)["token"]
    assert _uploads(functions, code, token, 2)[0] == 201
    message = _expect_429(_uploads(functions, code, token, 2), 3600)
    assert "at most 3.0 MB of photos an hour" in message and "1.0 MB more" in message, message
    assert _counted("link_bytes", code) == [2_000_000]  # the refused request counted nothing
    assert _uploads(functions, code, token, 1)[0] == 201
    _expect_429(_uploads(functions, code, token, 1, size_bytes=1), 3600)


def test_bytes_per_event_and_day_across_links(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_BYTES_PER_EVENT_DAY=5_000_000)
    code = event["code"]
    assert _uploads(functions, code, guest_link(api, code)["token"], 4)[0] == 201
    token = guest_link(api, code)["token"]  # rotating does not reset the event's day
    message = _expect_429(_uploads(functions, code, token, 2), 86400)
    assert "at most 5.0 MB of photos a day to this event" in message
    assert _uploads(functions, code, token, 1)[0] == 201


def test_a_file_over_the_size_limit_gets_no_url_and_costs_nothing(api, functions, event, settings_override):
    settings_override(KANTA_MAX_IMAGE_BYTES=2_000_000)
    code = event["code"]
    token = guest_link(api, code)["token"]
    body = upload_body(2)
    body["files"][1]["size_bytes"] = 2_500_000
    status, answer, _ = guest_call(functions, "guest_create_uploads", code, token, "POST", json_body=body)
    assert (status, answer["code"]) == (422, "validation_error"), answer
    assert answer["details"] == [{"field": "files.1.size_bytes", "type": "too_large",
                                  "message": "guest-1.jpg is 2.5 MB; a photo may be at most 2.0 MB."}]
    assert _counted("link_bytes", code) == _counted("link_uploads", code) == []
    assert api("list_images", route={"code": code})[1]["items"] == []
    # The guest's event details say the limit, so the page can refuse such a file itself.
    assert guest_call(functions, "guest_event", code, token)[1]["max_photo_bytes"] == 2_000_000


def test_guests_must_declare_each_file_size(api, functions, event):
    code = event["code"]
    token = guest_link(api, code)["token"]
    body = {"files": [{"filename": "a.jpg", "content_type": "image/jpeg"}]}
    status, answer, _ = guest_call(functions, "guest_create_uploads", code, token, "POST", json_body=body)
    assert (status, answer["code"]) == (422, "validation_error")
    assert [d["field"] for d in answer["details"]] == ["files.0.size_bytes"]


def test_an_upload_is_charged_its_real_size_when_it_arrives(api, functions, event, settings_override):
    from tests.helpers import browser_put, run_blob_trigger

    settings_override(KANTA_GUEST_BYTES_PER_HOUR=12_000_000, KANTA_GUEST_BYTES_PER_EVENT_DAY=12_000_000)
    code = event["code"]
    token = guest_link(api, code)["token"]
    status, batch, _ = _uploads(functions, code, token, 1, size_bytes=10_000_000)
    assert status == 201
    assert _counted("link_bytes", code) == _counted("event_bytes", code) == [10_000_000]
    (ticket,) = batch["uploads"]
    real = photo("obama_1.jpg")
    assert browser_put(ticket, real) == 201
    for _ in range(2):  # a repeated delivery charges nothing more
        run_blob_trigger(functions, ticket["blob_name"])
    assert _counted("link_bytes", code) == _counted("event_bytes", code) == [len(real)]
    # What the declared size held back is free again.
    assert _uploads(functions, code, token, 1, size_bytes=12_000_000 - len(real))[0] == 201
    _expect_429(_uploads(functions, code, token, 1, size_bytes=1), 3600)


def test_a_link_shown_to_the_host_says_its_limits(api, event, settings_override):
    settings_override(KANTA_GUEST_BYTES_PER_HOUR=7_000_000_000)
    link = guest_link(api, event["code"])
    assert link["limits"]["bytes_per_hour"] == 7_000_000_000
    status, shown = api("get_guest_link", route={"code": event["code"]})
    assert status == 200 and shown["limits"] == link["limits"]
    assert set(shown["limits"]) == {"uploads_per_hour", "uploads_per_event_day", "bytes_per_hour",
                                    "bytes_per_event_day", "searches_per_hour", "forgets_per_hour", "max_photo_bytes"}


def test_searches_per_link_and_hour_count_even_failed_ones(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_SEARCHES_PER_HOUR=2)
    code = event["code"]
    token = guest_link(api, code)["token"]

    def search(body: bytes):
        return guest_call(functions, "guest_search", code, token, "POST", params={"consent": "true"}, body=body)

    assert search(b"not a photo")[0] == 422  # a refused selfie still cost a look
    assert search(photo("obama_5_small.jpg"))[0] == 200
    _expect_429(search(photo("obama_5_small.jpg")), 3600)
    # Refusals that need no look at the selfie do not count, and come first.
    status, body, _ = guest_call(functions, "guest_search", code, token, "POST", body=photo("obama_5_small.jpg"))
    assert (status, body["code"]) == (422, "consent_required")


def test_forget_requests_per_link_and_hour(api, functions, event, settings_override, monkeypatch):
    from kanta.privacy import service as privacy

    settings_override(KANTA_GUEST_FORGETS_PER_HOUR=1)
    from kanta.privacy.schemas import ForgetResult

    calls = []
    # Only the count is under test here; forgetting itself is the privacy service's.
    monkeypatch.setattr(privacy, "forget_face",
                        lambda code, selfie: calls.append(code) or ForgetResult(erased=0, message="None found."))
    code = event["code"]
    token = guest_link(api, code)["token"]

    def forget():
        return guest_call(functions, "guest_forget", code, token, "POST", params={"confirm": "true"},
                          body=photo("obama_5_small.jpg"))

    assert forget()[:2] == (200, {"erased": 0, "message": "None found."})
    _expect_429(forget(), 3600)
    assert calls == [code]


def _at_once(functions, code, token, *, files: int) -> list[int]:
    """Statuses of 12 upload-URL requests of ``files`` files each (1 MB declared per file),
    sent by 4 threads at once: four instances, each charging in its own transaction."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: _uploads(functions, code, token, files)[0], range(12)))


def test_counts_are_exact_under_concurrent_requests(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_UPLOADS_PER_HOUR=5)
    code = event["code"]
    token = guest_link(api, code)["token"]
    assert sorted(_at_once(functions, code, token, files=1)) == [201] * 5 + [429] * 7
    assert _counted("link_uploads", code) == [5]


def test_byte_budgets_are_exact_under_concurrent_requests(api, functions, event, settings_override):
    settings_override(KANTA_GUEST_BYTES_PER_HOUR=7_500_000)
    code = event["code"]
    token = guest_link(api, code)["token"]
    assert sorted(_at_once(functions, code, token, files=2)) == [201] * 3 + [429] * 9
    assert _counted("link_bytes", code) == [6_000_000]
    assert len(api("list_images", route={"code": code})[1]["items"]) == 6


def test_the_hourly_timer_deletes_ended_windows(functions):
    with connection() as conn:
        conn.execute("""INSERT INTO rate_counters (scope, key, window_start, count) VALUES
                        ('link_searches', 'old-test', now() - interval '25 hours', 3),
                        ('event_uploads', 'old-test', date_bin('1 day', now(), '2000-01-01'), 3),
                        ('link_searches', 'old-test', date_bin('1 hour', now(), '2000-01-01'), 3)""")
    functions["purge_guest_counters_timer"](TimerRequest(past_due=False))
    with connection() as conn:
        left = conn.execute("SELECT scope, window_start < now() - interval '1 day' AS old FROM rate_counters "
                            "WHERE key = 'old-test' ORDER BY scope").fetchall()
    assert [(r["scope"], r["old"]) for r in left] == [("event_uploads", False), ("link_searches", False)]
