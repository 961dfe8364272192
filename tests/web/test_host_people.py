"""The host console's people view in a real browser (Debian's Chromium, Playwright) against the
local host, PostgreSQL, Azurite and dlib: an event of labelled photos (Obama 3, Biden 2, Kit
Harington 2) is sorted into people with the page's button, then a host names, merges, corrects
and erases people, and the API agrees after each step. Screenshots (with an axe-core scan) go
to ``test-output/screenshots/host-people-*.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clusters.test_people import _images, upload
from tests.web.helpers import Tab, expect
from tests.web.test_host_console import NAMES, sign_in, tab_until

PHOTOS = ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
          "kit_harington_1.jpg", "kit_harington_2.jpg")


@pytest.fixture
def host(browser, site) -> Iterator[Tab]:
    tab = Tab(browser, "host")
    tab.page.goto(f"{site}/api/host")
    yield tab
    tab.close()


@pytest.fixture
def seeded(api, functions, event) -> str:
    """The event's code, its seven photos indexed (not yet clustered)."""
    upload(api, functions, event["code"], *PHOTOS)
    return event["code"]


def faces_by_photo(api, code: str) -> dict[str, dict]:
    """The one face of each photo of the event, by photo name (absent: the photo has none)."""
    found = {}
    for name, image in _images(api, code).items():
        faces = api("get_image", route={"image_id": image["image_id"]})[1]["faces"]
        if faces:
            (found[name],) = faces
    return found


def people(api, code: str) -> list[dict]:
    return api("list_clusters", route={"code": code})[1]["items"]


def open_people(page: Any, code: str) -> None:
    sign_in(page)
    page.locator(f'#event-list li[data-code="{code}"]').get_by_role("button", name="People of Test").click()
    expect(page.locator("#people")).to_be_visible()
    expect(page.locator("#recluster")).to_be_focused()


def open_person(page: Any, cluster_id: int) -> None:
    page.locator(f'#people-grid li[data-cluster-id="{cluster_id}"]').get_by_role("button").click()
    expect(page.locator("#person")).to_be_visible()
    expect(page.locator("#person-faces li").first).to_be_visible()


def test_a_host_sorts_names_merges_corrects_and_erases_people(host, api, seeded):
    page, code = host.page, seeded
    open_people(page, code)
    expect(page.locator("#people-run")).to_contain_text("Not grouped into people yet")
    host.shot("people-1-before")

    page.get_by_role("button", name="Re-cluster now").click()
    grid = page.locator("#people-grid li")
    expect(grid).to_have_count(3)
    expect(page.locator("#people-run")).to_contain_text("3 people from 7 faces")
    expect(page.locator("#people-run")).to_have_attribute("aria-live", "polite")
    listed = people(api, code)
    assert [p["face_count"] for p in listed] == [3, 2, 2]
    shown = [int(i) for i in grid.evaluate_all("els => els.map(e => e.dataset.clusterId)")]
    assert shown == [p["cluster_id"] for p in listed]  # largest first, as the API lists them
    expect(grid.first).to_contain_text("Unnamed")
    expect(grid.first).to_contain_text("3 faces in 3 photos")
    assert [p["photo_count"] for p in listed] == [3, 2, 2]
    # The person's first face crop (its read URL's signature may be signed a second apart).
    crop = listed[0]["samples"][0]["url"].split("?")[0]
    expect(grid.first.locator("img")).to_have_attribute("src", re.compile(re.escape(crop) + r"\?"))
    host.shot("people-2-grid")

    faces = faces_by_photo(api, code)
    obama, biden, kit = (faces[n]["cluster_id"] for n in ("obama_1.jpg", "biden_1.jpg", "kit_harington_1.jpg"))
    assert obama == listed[0]["cluster_id"]

    # Name Obama.
    open_person(page, obama)
    expect(page.locator("#person-faces li")).to_have_count(3)
    expect(page.locator("#person-photos img")).to_have_count(3)
    expect(page.locator("#person-facts")).to_have_text("3 faces in 3 photos.")
    page.get_by_label("Name of this person").fill("Barack")
    page.get_by_role("button", name="Save name").click()
    expect(page.locator("#person-done")).to_have_text("Named Barack.")
    expect(page.locator("#person-title")).to_have_text("Barack")
    assert {p["cluster_id"]: p["name"] for p in people(api, code)}[obama] == "Barack"
    host.shot("people-3-person")

    # Back to the grid, then merge Kit into Biden.
    page.get_by_role("button", name="Back to people").click()
    expect(page.locator(f'#people-grid li[data-cluster-id="{obama}"]')).to_contain_text("Barack")
    open_person(page, kit)
    page.get_by_label("Merge this person into").select_option(str(biden))
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator("#person-done")).to_contain_text("Merged")
    expect(page.locator("#person-faces li")).to_have_count(4)
    after = people(api, code)
    assert len(after) == 2 and {p["cluster_id"]: p["face_count"] for p in after}[biden] == 4
    faces = faces_by_photo(api, code)
    assert {faces[n]["cluster_id"] for n in PHOTOS if n.startswith(("biden", "kit"))} == {biden}
    host.shot("people-4-merged")

    # Obama's third photo is not Obama.
    page.get_by_role("button", name="Back to people").click()
    open_person(page, obama)
    wrong = faces["obama_3.jpg"]["face_id"]
    page.locator(f'#person-faces li[data-face-id="{wrong}"]').get_by_role("button", name="Not this person").click()
    expect(page.locator("#person-done")).to_have_text("Face taken out of this person.")
    expect(page.locator("#person-faces li")).to_have_count(2)
    moved = faces_by_photo(api, code)["obama_3.jpg"]
    assert moved["face_id"] == wrong and moved["cluster_id"] != obama

    # The face in no person is shown apart, and can be moved back to a person.
    page.get_by_role("button", name="Back to people").click()
    expect(page.locator("#people-noise")).to_be_visible()
    page.get_by_role("button", name="Show faces in no person").click()
    expect(page.locator(f'#person-faces li[data-face-id="{wrong}"]')).to_be_visible()
    expect(page.locator("#name-form")).to_be_hidden()
    host.shot("people-5-noise")
    back = page.locator(f'#person-faces li[data-face-id="{wrong}"]')
    back.get_by_label("Move face 1 to").select_option(str(obama))
    back.get_by_role("button", name="Move face 1").click()
    expect(page.locator("#person-done")).to_have_text("Face moved to Barack.")
    assert faces_by_photo(api, code)["obama_3.jpg"]["cluster_id"] == obama

    # Erase Biden (with Kit's faces merged in): a dialog first, that says it is for good.
    page.get_by_role("button", name="Back to people").click()
    open_person(page, biden)
    page.get_by_role("button", name="Erase this person").click()
    dialog = page.locator("#confirm-erase")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("cannot be undone")
    expect(page.locator("#erase-cancel")).to_be_focused()
    host.shot("people-6-erase")
    page.get_by_role("button", name="Erase for good").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f'#people-grid li[data-cluster-id="{biden}"]')).to_have_count(0)
    assert biden not in [p["cluster_id"] for p in people(api, code)]
    left = faces_by_photo(api, code)
    assert not any(n.startswith(("biden", "kit")) for n in left), left
    host.shot("people-7-erased")

    # Close: back to the events.
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#people")).to_be_hidden()
    expect(page.locator("#events")).to_be_visible()
    assert host.errors == []


def test_the_people_view_is_usable_with_the_keyboard_and_every_control_has_a_label(host, api, seeded):
    page, code = host.page, seeded
    open_people(page, code)
    page.keyboard.press("Enter")  # Re-cluster now has the focus
    expect(page.locator("#people-grid li")).to_have_count(3)
    obama = people(api, code)[0]["cluster_id"]

    open_obama = page.locator(f'#people-grid li[data-cluster-id="{obama}"] button').get_attribute("aria-label")
    reached = tab_until(page, open_obama)
    assert "close-people" in reached
    page.keyboard.press("Enter")
    expect(page.locator("#person-title")).to_be_focused()
    expect(page.locator("#person-faces li")).to_have_count(3)

    tab_until(page, "person-name")
    page.keyboard.type("Barack")
    page.keyboard.press("Enter")
    expect(page.locator("#person-done")).to_have_text("Named Barack.")
    reached = tab_until(page, "close-person")
    for control in ("merge-into", "merge", "Face 1 is not this person", "erase-person", "back-people"):
        assert control in reached, reached
    controls = page.locator("#people button, #people input, #people select").evaluate_all(NAMES)
    assert controls and [c for c in controls if not c["name"]] == [], controls

    # The erase dialog: Escape closes it and nothing is erased.
    tab_until(page, "erase-person", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#erase-cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-erase")).to_be_hidden()
    assert obama in [p["cluster_id"] for p in people(api, code)]
    tab_until(page, "back-people")
    page.keyboard.press("Enter")
    expect(page.locator("#recluster")).to_be_focused()
    assert host.errors == []
