"""The host console in a real browser: Debian's Chromium driven by Playwright (executable path
set, no browser download) against the local host over real HTTP, with real PostgreSQL and
Azurite. The fixtures (tests/web/conftest.py) and the tab helper (tests/web/helpers.py:
screenshots at 360x780 and 1280x800 into ``test-output/screenshots/host-*.png``, an axe-core
scan at each, no page wider than the screen, console errors recorded) are the guest page
tests'.

The local host, like Core Tools, checks no function key: any key signs in. Azure's own key
check is stood in for by ``page.route`` where a test needs a refused key.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.helpers import Tab, expect

#: Events per page of the console's list (``PAGE`` in host.js).
PAGE = 10
#: Any key works locally; the page must still send it on every call.
KEY = "local-host-key"
WRONG_KEY = "This key is not the event host's key."


@pytest.fixture
def host(browser, site) -> Iterator[Tab]:
    """A tab on the host console (not signed in), allowed to use the clipboard."""
    tab = Tab(browser, "host")
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    tab.page.goto(f"{site}/api/host")
    yield tab
    tab.close()


def api_requests(page: Any) -> list[Any]:
    """The requests ``page`` sends to the API (not the page or its files) from now on."""
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r) if "/api/" in r.url and "/api/host" not in r.url else None)
    return sent


def sign_in(page: Any, key: str = KEY) -> None:
    page.fill("#host-key", key)
    page.get_by_role("button", name="Sign in").click()


def decode_qr(data_url: str) -> str:
    """The text of the QR code in a ``data:image/png;base64,…`` URL (zxing-cpp,
    requirements-dev.txt)."""
    import zxingcpp
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix), data_url[:40]
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):]))))
    return found.text


def pdf_pages(page: Any, paper: str) -> int:
    """Pages the page prints on (print media, ``paper`` size: ``A4`` or ``Letter``)."""
    pdf = page.pdf(format=paper, print_background=True)
    return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")


def test_a_host_signs_in_runs_an_event_and_its_guest_link_then_deletes_it(host, site, api, event):
    page = host.page
    sent = api_requests(page)
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#events")).to_be_hidden()
    host.shot("1-sign-in")
    assert sent == []  # nothing of the host's before signing in

    sign_in(page)
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator(f'#event-list li[data-code="{event["code"]}"]')).to_be_visible()
    assert sent and all(r.headers.get("x-functions-key") == KEY and KEY not in r.url for r in sent)
    assert page.evaluate("sessionStorage.getItem('kanta.hostKey')") == KEY
    host.shot("2-events")

    # Create: a mistake first, shown with Kanta's words next to the form.
    code = f"host-{uuid.uuid4().hex[:10]}"
    page.get_by_role("button", name="New event").click()
    page.fill("#f-code", code)
    page.fill("#f-name", "Ana & Ben")
    page.fill("#f-starts", "2027-06-01T18:00")
    page.fill("#f-ends", "2027-06-01T12:00")
    page.get_by_role("button", name="Create event").click()
    status = page.locator("#editor-status")
    expect(status).to_contain_text("ends_at: Must be after starts_at.")
    assert status.get_attribute("aria-live") == "polite"
    host.shot("3-editor-error")
    page.fill("#f-ends", "2027-06-02T02:00")
    page.get_by_role("button", name="Create event").click()
    item = page.locator(f'#event-list li[data-code="{code}"]')
    expect(item).to_be_visible()
    expect(item.locator("h3")).to_have_text("Ana & Ben")
    expect(item).to_contain_text("0 bytes")
    created = api("get_event", route={"code": code})
    assert created[0] == 200 and created[1]["name"] == "Ana & Ben" and created[1]["retention_days"] == 30
    assert created[1]["starts_at"].startswith("2027-06-01")

    # Edit its name.
    item.get_by_role("button", name="Edit Ana & Ben").click()
    expect(page.locator("#f-code")).to_have_value(code)
    page.fill("#f-name", "Ana & Ben's wedding")
    page.get_by_role("button", name="Save changes").click()
    expect(item.locator("h3")).to_have_text("Ana & Ben's wedding")
    assert api("get_event", route={"code": code})[1]["name"] == "Ana & Ben's wedding"

    # The guest link: none yet, then created; its QR code decodes to its join URL.
    item.get_by_role("button", name="Guest link of Ana & Ben's wedding").click()
    expect(page.locator("#link-state")).to_contain_text("no guest link yet")
    with page.expect_response(lambda r: r.url.endswith("/guest-link") and r.request.method == "POST") as made:
        page.get_by_role("button", name="Create link").click()
    link = made.value.json()
    join_url = page.locator("#join-url")
    expect(join_url).to_have_value(link["join_url"])
    assert link["join_url"].startswith(f"{site}/api/join/{code}#t=")
    assert decode_qr(page.locator("#qr").get_attribute("src")) == link["join_url"]
    expect(page.locator("#qr")).to_have_attribute("alt", "QR code of the guest link of Ana & Ben's wedding")
    expect(page.locator("#limits")).to_contain_text("uploads and 5.0 GB an hour")
    expect(page.get_by_role("button", name="Rotate link")).to_be_visible()
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == link["join_url"]
    host.shot("4-guest-link")

    # The poster: on screen, then as printed: the name and the QR code, on one page.
    page.get_by_role("button", name="Print poster").click()
    expect(page.locator("#poster")).to_be_visible()
    expect(page.locator("#poster-title")).to_have_text("Ana & Ben's wedding")
    assert decode_qr(page.locator("#poster-qr").get_attribute("src")) == link["join_url"]
    host.shot("5-poster")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=host_shot("5-poster-print"), full_page=True)
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 360, "height": 780})
    assert pdf_pages(page, "A4") == 1 and pdf_pages(page, "Letter") == 1
    page.get_by_role("button", name="Back").click()
    expect(page.locator("#events")).to_be_visible()

    # Once the page forgets it, the link is only described: rotating shows it again.
    item.get_by_role("button", name="Guest link of Ana & Ben's wedding").click()
    expect(page.locator("#link-new")).to_be_visible()  # the same event: still shown
    page.get_by_role("button", name="Close").click()
    item.get_by_role("button", name="Guest link of Ana & Ben's wedding").click()
    expect(page.locator("#link-state")).to_contain_text("rotate it to show the QR code again")
    expect(page.locator("#link-new")).to_be_hidden()

    page.get_by_role("button", name="Revoke link").click()
    expect(page.locator("#link-state")).to_contain_text("Revoked")
    assert api("get_guest_link", route={"code": code})[1]["code"] == "guest_link_not_found"
    host.shot("6-revoked")

    # Delete: the dialog names what goes and asks for the code.
    item.get_by_role("button", name="Delete Ana & Ben's wedding").click()
    dialog = page.locator("#confirm-delete")
    expect(dialog).to_be_visible()
    expect(page.locator("#delete-loss")).to_contain_text("0 photos and 0 faces")
    expect(page.locator("#delete-loss")).to_contain_text("guest link stops working")
    page.fill("#delete-code", "not-the-code")
    page.get_by_role("button", name="Delete for good").click()
    expect(page.locator("#delete-status")).to_contain_text(f"Type {code} exactly")
    host.shot("7-delete")
    page.fill("#delete-code", code)
    page.get_by_role("button", name="Delete for good").click()
    expect(dialog).to_be_hidden()
    expect(item).to_have_count(0)
    expect(page.locator("#events-status")).to_have_text(f"Deleted Ana & Ben's wedding ({code}).")
    status_code, body = api("get_event", route={"code": code})
    assert (status_code, body["code"]) == (404, "event_not_found")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#events")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('kanta.hostKey')") is None
    # The browser reports the refused event (422) and the absent link (404) itself; the page's
    # own script raised nothing.
    assert [e for e in host.errors if not browser_reported(e, 404, 422)] == []


def browser_reported(error: str, *statuses: int) -> bool:
    """Whether console ``error`` is the browser's own report of an answer with one of ``statuses``."""
    return any(error.startswith(f"Failed to load resource: the server responded with a status of {s} ")
               for s in statuses)


def host_shot(step: str) -> str:
    from tests.web.helpers import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return str(SHOTS / f"host-{step}.png")


def test_a_wrong_key_says_so_and_stays_signed_out(host):
    """Azure checks the function key before Kanta runs, and the local host does not check it
    (as Core Tools): Azure's 401 is faked here with ``page.route`` for one wrong key."""
    page = host.page
    wrong = "not-the-host-key"

    def azure_key_check(route: Any) -> None:
        if route.request.headers.get("x-functions-key") == wrong:
            route.fulfill(status=401, body="")  # Azure answers a wrong key with an empty 401
        else:
            route.continue_()

    page.route("**/api/events**", azure_key_check)
    sign_in(page, wrong)
    expect(page.locator("#signin-status")).to_have_text(WRONG_KEY)
    expect(page.locator("#events")).to_be_hidden()
    expect(page.locator("#sign-out")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('kanta.hostKey')") is None
    host.shot("wrong-key")
    # The browser reports the 401 itself; the page's own script raised nothing.
    assert [e for e in host.errors if not browser_reported(e, 401)] == []

    sign_in(page)  # the right key (any, locally) then works
    expect(page.locator("#events")).to_be_visible()


def test_a_refused_key_mid_session_signs_the_host_out(host, event):
    """A key that stops working (rotated in Azure) while signed in: the next call's 403, faked
    as above, signs out with the message."""
    page = host.page
    sign_in(page)
    expect(page.locator("#events")).to_be_visible()
    page.route("**/api/events/**", lambda route: route.fulfill(status=403, body=""))
    item = page.locator(f'#event-list li[data-code="{event["code"]}"]')
    item.get_by_role("button", name="Guest link of Test").click()
    expect(page.locator("#signin-status")).to_have_text(WRONG_KEY)
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#link")).to_be_hidden()
    expect(page.locator("#event-list li")).to_have_count(0)
    assert [e for e in host.errors if not browser_reported(e, 403)] == []


def test_events_are_listed_a_page_at_a_time(host, api):
    made = [f"page-{uuid.uuid4().hex[:10]}" for _ in range(PAGE + 1)]
    for code in made:
        assert api("create_event", "POST", json_body={"code": code, "name": f"Paging {code}"})[0] == 201
    page = host.page
    try:
        sign_in(page)
        rows = page.locator("#event-list li")
        expect(rows).to_have_count(PAGE)
        first = rows.evaluate_all("items => items.map(i => i.dataset.code)")
        assert first == made[::-1][:PAGE]  # newest first
        expect(page.get_by_role("button", name="Previous")).to_be_disabled()
        page.get_by_role("button", name="Next").click()
        expect(rows.first).to_have_attribute("data-code", made[0])
        expect(page.locator("#events-status")).to_contain_text(f"Events {PAGE + 1}–")
        page.get_by_role("button", name="Previous").click()
        expect(rows.first).to_have_attribute("data-code", made[-1])
        assert host.errors == []
    finally:
        for code in made:
            api("delete_event", "DELETE", route={"code": code})


#: Every control a host can reach, with the name a screen reader says.
NAMES = """els => els.filter(e => e.offsetParent !== null || e.tagName === 'DIALOG').map(e => {
  const name = e.getAttribute('aria-label') || (e.labels && e.labels.length ? e.labels[0].textContent : e.textContent);
  return {id: e.id, tag: e.tagName, name: (name || '').trim()};
})"""


def tab_until(page: Any, wanted: str, limit: int = 60, key: str = "Tab") -> list[str]:
    """Press ``key`` (Tab, or Shift+Tab to go back) until the focused control is ``wanted`` (an
    accessible name or id); what was reached."""
    reached = []
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate("(() => { const e = document.activeElement; return "
                                "e.id || e.getAttribute('aria-label') || e.textContent.trim(); })()")
        reached.append(focused)
        if focused == wanted:
            return reached
    raise AssertionError(f"Tab never reached {wanted!r}: {reached}")


def test_the_console_is_usable_with_the_keyboard_and_every_control_has_a_label(host, api):
    page = host.page
    # Signing in: Tab to the key, type it, Enter.
    tab_until(page, "host-key")
    page.keyboard.type(KEY)
    page.keyboard.press("Enter")
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator("#new-event")).to_be_focused()

    # A new event from the keyboard alone.
    code = f"keys-{uuid.uuid4().hex[:10]}"
    page.keyboard.press("Enter")
    expect(page.locator("#f-code")).to_be_focused()
    page.keyboard.type(code)
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard party")
    reached = tab_until(page, "save-event")
    assert reached[:2] == ["f-description", "f-starts"], reached
    for control in ("f-ends", "f-face-search", "f-retention", "f-retention-photos", "f-consent"):
        assert control in reached
    page.keyboard.press("Enter")
    item = page.locator(f'#event-list li[data-code="{code}"]')
    expect(item).to_be_visible()
    expect(item.get_by_role("button", name="Guest link of Keyboard party")).to_be_focused()

    # Its guest link, the poster and back, each by Tab and Enter.
    page.keyboard.press("Enter")
    expect(page.locator("#create-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#copy-link")).to_be_focused()
    tab_until(page, "show-poster")
    page.keyboard.press("Enter")
    expect(page.locator("#print-poster")).to_be_focused()
    tab_until(page, "close-poster")
    page.keyboard.press("Enter")
    expect(page.locator("#show-poster")).to_be_focused()

    controls = page.locator("button, input, textarea").evaluate_all(NAMES)
    assert [c for c in controls if not c["name"]] == [], controls

    # Delete from the keyboard: the dialog takes focus, Escape closes it, Enter confirms.
    tab_until(page, "Delete Keyboard party")
    page.keyboard.press("Enter")
    expect(page.locator("#delete-code")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-delete")).to_be_hidden()
    page.keyboard.press("Enter")  # focus went back to the Delete button
    expect(page.locator("#delete-code")).to_be_focused()
    host.check_accessibility("delete dialog")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-delete")).to_be_hidden()
    assert api("get_event", route={"code": code})[0] == 404
    assert [e for e in host.errors if not browser_reported(e, 404)] == []  # the event had no link yet


def test_the_console_and_its_files_are_served_with_the_pages_security_headers(functions):
    import azure.functions as func

    def get(name: str, route: dict[str, str]) -> func.HttpResponse:
        return functions[name](func.HttpRequest(method="GET", url=f"http://localhost/api/{name}", params={},
                                                route_params=route, body=b"", headers={}))

    page = get("host_console", {})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'src="host-assets/host.js"' in page.get_body() and b"<script>" not in page.get_body()
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy and "data:" in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for name, mimetype in (("host.js", "text/javascript"), ("host.css", "text/css")):
        asset = get("host_console_asset", {"name": name})
        assert (asset.status_code, asset.mimetype) == (200, mimetype)
    for name in ("host.html", "app.js", "../functions.py", "HOST.JS", ""):
        refused = get("host_console_asset", {"name": name})
        assert refused.status_code == 404 and json.loads(refused.get_body())["code"] == "asset_not_found"
