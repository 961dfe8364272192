"""The host console's photos view in a real browser (Debian's Chromium, Playwright) against the
local host, PostgreSQL, Azurite and dlib (the local host's blob poller indexes what the page
uploads): a host uploads two photos and a text file named .jpg through the console, watches
them be indexed, filters, deletes one and asks for the refused one to be indexed again; the
API agrees after each step. Screenshots (each with an axe-core scan) go to
``test-output/screenshots/host-photos-*.png``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import DATA
from tests.web.helpers import Tab, expect
from tests.web.test_host_console import browser_reported, sign_in, tab_until

#: Seconds the page may take to show a photo indexed (dlib on 2 shared cores).
STEP_S = 90
PHOTOS = ("obama_1.jpg", "biden_1.jpg")
BAD = "notes.jpg"


@pytest.fixture
def host(browser, site) -> Iterator[Tab]:
    tab = Tab(browser, "host-photos")
    tab.page.goto(f"{site}/api/host")
    yield tab
    tab.close()


def open_photos(page: Any, event: dict) -> None:
    sign_in(page)
    page.locator(f'#event-list li[data-code="{event["code"]}"]').get_by_role(
        "button", name=f"Photos of {event['name']}").click()
    expect(page.locator("#photos")).to_be_visible()


def images(api, code: str) -> dict[str, dict]:
    status, body = api("list_images", route={"code": code}, params={"limit": "200"})
    assert status == 200, body
    return {image["original_filename"]: image for image in body["items"]}


def tile(page: Any, name: str) -> Any:
    return page.locator("#photo-grid li").filter(has=page.locator(".photo-name", has_text=name))


def test_a_host_uploads_watches_filters_deletes_and_reindexes_photos(host, api, event, tmp_path):
    page = host.page
    code = event["code"]
    open_photos(page, event)
    expect(page.locator("#photos-title")).to_have_text(f"Photos of {event['name']}")
    expect(page.locator("#photos-progress")).to_have_text("No photos yet: add some with Add photos.")
    assert page.locator("#photos-progress").get_attribute("aria-live") == "polite"
    host.shot("1-empty")

    bad = tmp_path / BAD
    bad.write_text("Shopping list: bread, milk. Not a photo.\n")
    page.set_input_files("#add-photos", [str(DATA / name) for name in PHOTOS] + [str(bad)])
    expect(page.locator("#photo-uploads progress")).to_have_count(3)
    for name in (*PHOTOS, BAD):
        expect(page.get_by_label(f"Upload of {name}")).to_have_attribute("max", "100")

    # Indexed by the blob poller while the host watches: the counts and tiles follow.
    expect(page.locator("#photos-progress")).to_have_text("2 added, 1 not added.", timeout=STEP_S * 1000)
    for name in PHOTOS:
        expect(tile(page, name).locator(".photo-status")).to_have_text("Added")
        expect(tile(page, name).get_by_role("img", name=name)).to_be_visible()
        expect(tile(page, name).locator(".photo-faces")).to_have_text("1 face")
    expect(tile(page, BAD).locator(".photo-status")).to_contain_text("Not added: ")
    for name in (*PHOTOS, BAD):
        expect(page.get_by_label(f"Upload of {name}")).to_have_attribute("value", "100")
    host.shot("2-indexed")
    stored = images(api, code)
    assert {n: i["status"] for n, i in stored.items()} == {"obama_1.jpg": "processed", "biden_1.jpg": "processed",
                                                            BAD: "failed"}
    reason = stored[BAD]["failure_reason"]
    assert reason
    expect(tile(page, BAD).locator(".photo-status")).to_have_text(f"Not added: {reason}")

    # Filter by status.
    page.select_option("#photos-filter", label="Not added")
    expect(page.locator("#photo-grid li")).to_have_count(1)
    expect(tile(page, BAD)).to_be_visible()
    host.shot("3-not-added")
    page.select_option("#photos-filter", label="Added")
    expect(page.locator("#photo-grid li")).to_have_count(2)
    page.select_option("#photos-filter", label="Waiting")
    expect(page.locator("#photo-grid li")).to_have_count(0)
    expect(page.locator("#photos-page")).to_have_text("No photos with this status.")
    page.select_option("#photos-filter", label="All")
    expect(page.locator("#photo-grid li")).to_have_count(3)

    # Index again: the refused file is gone, and Kanta says so.
    tile(page, BAD).get_by_role("button", name=f"Index again {BAD}").click()
    expect(page.locator("#photos-status")).to_contain_text("refused and removed")
    host.shot("4-index-again-refused")

    # Delete one, behind a dialog naming it; Cancel first keeps it.
    tile(page, "biden_1.jpg").get_by_role("button", name="Delete biden_1.jpg").click()
    dialog = page.locator("#confirm-photo")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("biden_1.jpg")
    host.check_accessibility("delete dialog")
    page.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert "biden_1.jpg" in images(api, code)
    tile(page, "biden_1.jpg").get_by_role("button", name="Delete biden_1.jpg").click()
    page.get_by_role("button", name="Delete for good").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#photo-grid li")).to_have_count(2)
    expect(page.locator("#photos-progress")).to_have_text("1 added, 1 not added.")
    gone = stored["biden_1.jpg"]["image_id"]
    assert api("get_image", route={"image_id": str(gone)})[0] == 404
    assert set(images(api, code)) == {"obama_1.jpg", BAD}
    host.shot("5-deleted")

    # Close: back to the events list.
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#photos")).to_be_hidden()
    expect(page.locator("#events")).to_be_visible()
    # The one the browser logs itself: the 409 of "Index again", which the page showed.
    assert [e for e in host.errors if not browser_reported(e, 409)] == []


def test_the_photos_view_is_usable_with_the_keyboard_and_every_control_has_a_label(host, event):
    page = host.page
    open_photos(page, event)
    expect(page.locator("#photos-progress")).to_have_text("No photos yet: add some with Add photos.")
    for control in page.locator("#photos input, #photos select, #photos button:visible").all():
        assert control.evaluate("e => (e.labels && e.labels.length ? e.labels[0].textContent"
                                " : e.getAttribute('aria-label') || e.textContent).trim()"), \
            control.evaluate("e => e.outerHTML")
    assert page.evaluate("document.activeElement.id") == "add-photos"
    reached = tab_until(page, "photos-filter")
    assert "photos-filter" in reached
    page.keyboard.press("ArrowDown")  # a focused select changes with the arrow keys
    expect(page.locator("#photos-filter")).to_have_value("pending")
    tab_until(page, "close-photos")
    page.keyboard.press("Enter")
    expect(page.locator("#photos")).to_be_hidden()
    assert host.errors == []


def test_one_view_of_an_event_is_open_at_a_time(host, api, event):
    """Opening the guest link, people, the editor or deleting the event closes the photos view
    (and each other): a host never sees one event's photos under another's title."""
    page = host.page
    open_photos(page, event)
    item = page.locator(f'#event-list li[data-code="{event["code"]}"]')
    views = ("#editor", "#link", "#photos", "#people")

    def only(shown: str) -> None:
        for view in views:
            expect(page.locator(view)).to_be_visible() if view == shown else expect(page.locator(view)).to_be_hidden()

    only("#photos")
    item.get_by_role("button", name=f"Guest link of {event['name']}").click()
    only("#link")
    item.get_by_role("button", name=f"People of {event['name']}").click()
    only("#people")
    item.get_by_role("button", name=f"Photos of {event['name']}").click()
    only("#photos")
    item.get_by_role("button", name=f"Edit {event['name']}").click()
    only("#editor")
    item.get_by_role("button", name=f"Photos of {event['name']}").click()
    only("#photos")

    # Deleting the event closes its open view.
    item.get_by_role("button", name=f"Delete {event['name']}").click()
    page.fill("#delete-code", event["code"])
    page.get_by_role("button", name="Delete for good").click()
    expect(page.locator("#events-status")).to_contain_text("Deleted")
    for view in views:
        expect(page.locator(view)).to_be_hidden()
    assert api("get_event", route={"code": event["code"]})[0] == 404
    # The browser reports the absent guest link (404) itself; the page's own script raised nothing.
    assert [e for e in host.errors if not browser_reported(e, 404)] == []
