"""The guest page in a real browser: Debian's Chromium (``/usr/bin/chromium``, or
``KANTA_CHROMIUM``) driven by Playwright with its executable path set (no browser download),
against the local host over real HTTP, with real PostgreSQL, Azurite (CORS set as
``scripts/start`` sets it) and dlib. The blob trigger runs as the local host runs it: a
poller in the background.

Screenshots of every step, at 360x780 and 1280x800, go to ``test-output/screenshots/``
(ignored by git), and at each step axe-core (npm, ``node_modules/axe-core``) scans the page
in the browser on both screens: no serious or critical violation may be found.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import DATA
from tests.web.helpers import Tab, expect

#: Seconds the page may take to show what a step does (indexing runs dlib on 2 shared cores).
STEP_S = 90
#: The guest's photos: two with Barack Obama in them, two without.
PHOTOS = ["obama_1.jpg", "group_biden_obama.jpg", "biden_1.jpg", "rose_leslie_1.jpg"]
#: A selfie of Barack Obama that is not one of the photos.
SELFIE = "obama_3.jpg"


@pytest.fixture
def guests(browser) -> Iterator[Any]:
    opened: list[Tab] = []

    def open_tab(name: str) -> Tab:
        opened.append(Tab(browser, name))
        return opened[-1]

    yield open_tab
    for guest in opened:
        guest.close()


def guest_link(code: str, origin: str, **rights: bool) -> str:
    """A new guest link of event ``code`` (host's side, as ``POST events/{code}/guest-link``): its join URL."""
    from kanta.guests.schemas import GuestLinkCreate, GuestRights
    from kanta.guests.service import create_link

    return create_link(code, GuestLinkCreate(rights=GuestRights(**rights)), origin).join_url


def image_ids_by_file(api, code: str) -> dict[str, str]:
    """Original file name → image id of the event's photos."""
    status, body = api("list_images", route={"code": code}, params={"limit": "200"})
    assert status == 200, body
    return {item["original_filename"]: item["image_id"] for item in body["items"]}


def image_id_in(url: str | None) -> str:
    """The image id in a read URL of a photo (``uploads/{code}/{id}.jpg``) or thumbnail
    (``faces/{code}/{id}/{n}.jpg``)."""
    found = re.search(r"/[a-z0-9-]+/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})[./]", url or "")
    assert found, url
    return found.group(1)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_guest_uploads_finds_downloads_and_forgets_their_photos(site, guests, api, event):
    guest = guests("journey")
    page = guest.page
    page.goto(guest_link(event["code"], site, upload=True, find_me=True, gallery=False))
    expect(page.locator("#event-name")).to_have_text(event["name"] or event["code"])
    expect(page.locator("#consent-text")).not_to_be_empty()
    expect(page.locator("#gallery")).to_be_hidden()  # a right the host withheld
    guest.shot("1-join")

    page.set_input_files("#pick-photos", [str(DATA / name) for name in PHOTOS])
    expect(page.locator("#uploads progress")).to_have_count(len(PHOTOS))
    expect(page.locator("#uploads .state.ok")).to_have_count(len(PHOTOS), timeout=STEP_S * 1000)
    expect(page.locator("#uploads .state")).to_have_text(["Added"] * len(PHOTOS))
    guest.shot("2-uploaded")
    ids = image_ids_by_file(api, event["code"])
    assert sorted(ids) == sorted(PHOTOS)

    page.check("#consent")
    page.set_input_files("#selfie", str(DATA / SELFIE))
    expect(page.locator("#find-status")).to_have_text("You are in 2 photos.", timeout=STEP_S * 1000)
    tiles = page.locator("#results img")
    expect(tiles).to_have_count(2)
    # Each tile shows the guest's face in one photo: faces/{code}/{image_id}/{n}.jpg.
    shown = sorted(image_id_in(tiles.nth(i).get_attribute("src")) for i in range(2))
    assert shown == sorted([ids["obama_1.jpg"], ids["group_biden_obama.jpg"]])
    guest.shot("3-found")

    with page.expect_response(lambda r: "/uploads/" in r.url and r.request.resource_type == "image") as opened:
        page.locator("#results button").first.click()
    assert opened.value.status == 200
    expect(page.locator("#viewer")).to_be_visible()
    opened_id = image_id_in(page.locator("#viewer-image").get_attribute("src"))
    guest.shot("4-opened")
    with page.expect_download() as downloaded:
        page.click("#viewer-download")
    original = next(name for name, image_id in ids.items() if image_id == opened_id)
    assert sha256(Path(downloaded.value.path()).read_bytes()) == sha256((DATA / original).read_bytes())
    page.click("#viewer-close")
    expect(page.locator("#viewer")).to_be_hidden()

    page.check("#forget-confirm")
    page.set_input_files("#forget-selfie", str(DATA / SELFIE))
    expect(page.locator("#forget-status")).to_contain_text("Done: 2 face(s) of yours were erased", timeout=STEP_S * 1000)
    guest.shot("5-forgotten")

    page.set_input_files("#selfie", str(DATA / SELFIE))
    expect(page.locator("#find-status")).to_contain_text("Try a selfie in good light", timeout=STEP_S * 1000)
    expect(page.locator("#results img")).to_have_count(0)
    guest.shot("6-no-match")
    assert guest.errors == []


@pytest.mark.parametrize("problem", ["wrong", "revoked", "missing"])
def test_a_bad_link_shows_what_to_do_not_a_broken_page(site, guests, event, problem):
    from kanta.guests.service import delete_link

    url = guest_link(event["code"], site)
    if problem == "wrong":
        url = url[:-4] + ("aaaa" if not url.endswith("aaaa") else "bbbb")
    elif problem == "revoked":
        delete_link(event["code"])
    else:
        url = url.split("#")[0]
    guest = guests(f"bad-link-{problem}")
    guest.page.goto(url)
    notice = guest.page.locator("#notice")
    expect(notice).to_be_visible()
    expected = "the part after # is missing" if problem == "missing" else "This link no longer works"
    expect(notice).to_contain_text(expected)
    for section in ("#join", "#upload", "#find", "#forget", "#gallery"):
        expect(guest.page.locator(section)).to_be_hidden()
    guest.shot("notice")
    # The browser reports the 401 itself; the page's own script raised nothing.
    assert [e for e in guest.errors if "401" not in e] == []


def test_the_page_is_usable_with_the_keyboard_and_every_control_has_a_label(site, guests, event):
    guest = guests("keyboard")
    page = guest.page
    page.goto(guest_link(event["code"], site, upload=True, find_me=True, gallery=True))
    expect(page.locator("#upload")).to_be_visible()
    guest.check_accessibility("every section shown")
    # Every control a guest can reach has a name a screen reader says.
    for control in page.locator("main input, main button:visible, main label.button").all():
        assert control.evaluate("e => (e.labels && e.labels.length ? e.labels[0].textContent : e.textContent).trim()"), \
            control.evaluate("e => e.outerHTML")
    # Tab reaches every control, in reading order.
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id"))
    wanted = ["pick-photos", "take-photo", "consent", "selfie", "forget-confirm", "forget-selfie"]
    first_visits = list(dict.fromkeys(i for i in reached if i in wanted))
    assert first_visits == wanted, reached
    # Enter on a focused file control opens the file chooser, as a click on its label does.
    page.focus("#pick-photos")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    assert guest.errors == []


def test_a_failed_upload_is_retried_and_a_bad_file_says_why(site, guests, api, event, tmp_path):
    """The first PUT to storage is cut off (as a phone losing its network): the file shows
    ``Upload failed.`` and a Retry button, and the retry adds it. A file that is no photo is
    sent, then shown ``Not added:`` with Kanta's reason."""
    guest = guests("retry")
    page = guest.page
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload")).to_be_visible()
    cut = []

    def cut_first_put(route: Any) -> None:
        if route.request.method == "PUT" and not cut:
            cut.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/uploads/**", cut_first_put)
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_bytes(b"these are my notes, not a photo" * 40)
    page.set_input_files("#pick-photos", [str(DATA / "kit_harington_1.jpg")])
    row = page.locator("#uploads li").first
    expect(row.locator(".state")).to_have_text("Upload failed.", timeout=STEP_S * 1000)
    guest.shot("1-failed")
    row.get_by_role("button", name="Retry kit_harington_1.jpg").click()
    expect(row.locator(".state")).to_have_text("Added", timeout=STEP_S * 1000)

    page.set_input_files("#pick-photos", [str(not_a_photo)])
    bad = page.locator("#uploads li").nth(1)
    expect(bad.locator(".state")).to_contain_text("Not added: ", timeout=STEP_S * 1000)
    guest.shot("2-retried")
    status, listed = api("list_images", route={"code": event["code"]})
    assert status == 200, listed
    names = sorted(item["original_filename"] for item in listed["items"])
    assert names == ["kit_harington_1.jpg", "notes.jpg"]  # the retry used the same upload URL
    ids = image_ids_by_file(api, event["code"])
    failed = api("get_image", route={"image_id": ids["notes.jpg"]})[1]
    assert bad.locator(".state").inner_text() == f"Not added: {failed['failure_reason']}"
    assert [e for e in guest.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_an_upload_whose_answer_was_lost_is_not_uploaded_twice(site, guests, api, event):
    """The photo reaches storage but its answer never reaches the phone: the retry finds the
    upload URL already used and follows that photo instead of uploading a second one."""
    guest = guests("lost-answer")
    page = guest.page
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload")).to_be_visible()
    lost = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method == "PUT" and not lost:
            # Storage gets the photo (sent here: Playwright does not hand a File body on)...
            headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/jpeg"}
            lost.append(requests.put(route.request.url, data=(DATA / "kit_harington_2.jpg").read_bytes(),
                                     headers=headers, timeout=30).status_code)
            route.abort("connectionreset")  # ...the browser never hears back
        else:
            route.continue_()

    page.route("**/uploads/**", lose_first_answer)
    page.set_input_files("#pick-photos", [str(DATA / "kit_harington_2.jpg")])
    row = page.locator("#uploads li").first
    expect(row.locator(".state")).to_have_text("Upload failed.", timeout=STEP_S * 1000)
    assert lost == [201]
    row.get_by_role("button", name="Retry kit_harington_2.jpg").click()
    expect(row.locator(".state")).to_have_text("Added", timeout=STEP_S * 1000)
    status, listed = api("list_images", route={"code": event["code"]})
    assert status == 200 and [i["original_filename"] for i in listed["items"]] == ["kit_harington_2.jpg"]
    assert [e for e in guest.errors if "ERR_CONNECTION_RESET" not in e and "403" not in e] == []


# ---------------------------------------------------------------- sizes and limits of uploads


#: The upload-URL request of the guest page: ``POST …/api/guest/events/{code}/uploads``.
UPLOAD_URLS = re.compile(r"/api/guest/events/[^/?#]+/uploads$")
#: What the page and the server say of a 2.5 MB file when photos may have 2.0 MB at most
#: (decimal megabytes with one decimal, as ``kanta.caps.size_in_words`` writes them).
TOO_LARGE = "big.jpg is 2.5 MB; a photo may be at most 2.0 MB."


def upload_url_requests(page: Any) -> list[Any]:
    """The upload-URL requests ``page`` sends from now on, as they are sent."""
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" and UPLOAD_URLS.search(r.url) else None)
    return sent


def declared(*paths: Path) -> dict[str, list[dict[str, Any]]]:
    """The body the page should send for JPEG files ``paths``: each file's name, type and size."""
    return {"files": [{"filename": p.name, "content_type": "image/jpeg", "size_bytes": p.stat().st_size}
                      for p in paths]}


@pytest.fixture
def big_file(tmp_path) -> Path:
    """A 2.5 MB ``.jpg`` (random bytes: the tests that use it never let it reach storage)."""
    path = tmp_path / "big.jpg"
    path.write_bytes(os.urandom(2_500_000))
    return path


def test_the_upload_url_request_declares_each_files_size(site, guests, api, event):
    guest = guests("declared-size")
    page = guest.page
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload")).to_be_visible()
    files = [DATA / "kit_harington_1.jpg", DATA / "rose_leslie_1.jpg"]
    with page.expect_request(lambda r: r.method == "POST" and UPLOAD_URLS.search(r.url)) as asked:
        page.set_input_files("#pick-photos", [str(p) for p in files])
    assert asked.value.post_data_json == declared(*files)
    assert asked.value.response().status == 201  # the real app took the declared sizes
    expect(page.locator("#uploads .state")).to_have_text(["Added", "Added"], timeout=STEP_S * 1000)
    ids = image_ids_by_file(api, event["code"])
    for path in files:
        assert api("get_image", route={"image_id": ids[path.name]})[1]["size_bytes"] == path.stat().st_size
    assert guest.errors == []


def pick_too_large_and_small(page: Any, big_file: Path) -> tuple[list[Any], Any, Path]:
    """Pick ``big_file`` (over the limit) and a small photo; wait until the first is refused
    and the second added. Returns the upload-URL requests sent, the upload rows and the small
    photo's path."""
    sent = upload_url_requests(page)
    small = DATA / "kit_harington_2.jpg"
    page.set_input_files("#pick-photos", [str(big_file), str(small)])
    rows = page.locator("#uploads li")
    expect(rows.nth(0).locator(".state")).to_have_text(f"Not added: {TOO_LARGE}")
    expect(rows.nth(1).locator(".state")).to_have_text("Added", timeout=STEP_S * 1000)
    return sent, rows, small


def test_a_photo_over_the_limit_is_refused_in_the_page_and_never_asked_for(site, guests, api, event,
                                                                           settings_override, big_file):
    """The page knows the largest photo from the event's details: a larger file is refused
    on its row in the server's words without a request; the other files of the pick go on."""
    # The local host runs in this process: the page's event details and the server's checks follow it.
    settings_override(KANTA_MAX_IMAGE_BYTES=2_000_000)
    guest = guests("too-large")
    page = guest.page
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload-hint")).to_contain_text("up to 2.0 MB each")
    sent, rows, small = pick_too_large_and_small(page, big_file)
    guest.shot("too-large")
    assert [r.post_data_json for r in sent] == [declared(small)]
    assert rows.nth(0).get_by_role("button").count() == 0  # nothing to retry: the file is refused
    assert sorted(image_ids_by_file(api, event["code"])) == [small.name]
    assert guest.errors == []


def test_a_page_not_told_the_limit_shows_the_servers_refusal_and_sends_the_other_files(
        site, guests, api, event, settings_override, big_file):
    """Event details without ``max_photo_bytes`` (as from a server before it): the page asks
    for both files, the real server refuses the request for the large one (422, per file), and
    the page shows that on its row and asks again for the other file alone."""
    settings_override(KANTA_MAX_IMAGE_BYTES=2_000_000)
    guest = guests("too-large-server")
    page = guest.page

    def without_limit(route: Any) -> None:
        answer = route.fetch()
        details = answer.json()
        details.pop("max_photo_bytes", None)
        route.fulfill(response=answer, json=details)

    page.route(re.compile(r"/api/guest/events/[^/?#]+$"), without_limit)
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload")).to_be_visible()
    sent, _, small = pick_too_large_and_small(page, big_file)
    assert [r.post_data_json for r in sent] == [declared(big_file, small), declared(small)]
    refusal = sent[0].response()
    assert refusal.status == 422
    assert refusal.json()["details"] == [{"field": "files.0.size_bytes", "message": TOO_LARGE, "type": "too_large"}]
    assert sorted(image_ids_by_file(api, event["code"])) == [small.name]
    assert [e for e in guest.errors if "422" not in e] == []


def test_an_upload_limit_reached_says_the_servers_words_then_the_retry_goes_through(site, guests, api, event):
    """The 429 answers are faked here (``page.route``): the real caps and byte budgets, their
    messages and ``Retry-After`` are tested server-side (``tests/guests/test_caps.py``). The
    first answer carries Kanta's message, the second none; the third request reaches the app."""
    guest = guests("over-budget")
    page = guest.page
    page.goto(guest_link(event["code"], site))
    expect(page.locator("#upload")).to_be_visible()
    message = "This guest link may upload at most 5.0 GB of photos an hour. Try again in 40 minutes."
    answers = [{"code": "too_many_requests", "message": message}, None]

    def over_budget(route: Any) -> None:
        if route.request.method != "POST" or not answers:
            route.continue_()
            return
        body = answers.pop(0)
        route.fulfill(status=429, headers={"Retry-After": "2400"}, content_type="application/json",
                      body="" if body is None else json.dumps(body))

    page.route(UPLOAD_URLS, over_budget)
    puts = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    photo = DATA / "kit_harington_2.jpg"
    page.set_input_files("#pick-photos", [str(photo)])
    status = page.locator("#upload-status")
    row = page.locator("#uploads li").first
    expect(status).to_have_text(message)
    expect(row.locator(".state")).to_have_text("Not sent: too many uploads just now. Try again later.")
    assert status.get_attribute("aria-live") == "polite" and status.get_attribute("role") == "status"
    guest.shot("over-budget")

    row.get_by_role("button", name=f"Retry {photo.name}").click()
    expect(status).to_have_text("Too many requests from this link just now. Wait a little and try again.")
    assert puts == []  # no photo went to storage while refused

    row.get_by_role("button", name=f"Retry {photo.name}").click()
    expect(row.locator(".state")).to_have_text("Added", timeout=STEP_S * 1000)
    expect(status).to_be_empty()
    assert sorted(image_ids_by_file(api, event["code"])) == [photo.name]
    assert [e for e in guest.errors if "429" not in e] == []
