"""Helpers of the page tests: a browser tab that records console errors, takes screenshots at
both screens and runs axe-core at each (``Tab``), and the constants they use."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = os.environ.get("KANTA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: Impacts of axe-core findings that fail a step (WCAG 2.x A and AA rules, best practices).
BLOCKING_IMPACTS = {"serious", "critical"}
#: The two screens every step is shot at: a small phone and a laptop.
VIEWPORTS = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 800}}

class Tab:
    """One browser tab (a guest's or a host's), with the console errors and page errors it produced."""

    def __init__(self, browser: Any, name: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORTS["phone"], accept_downloads=True)
        self.page = self.context.new_page()
        self.name = name
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def shot(self, step: str) -> None:
        """Screenshots of the page as it is now, on each screen of ``VIEWPORTS``; on none may
        the page be wider than the screen (no sideways scrolling on a phone)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for screen, size in VIEWPORTS.items():
            self.page.set_viewport_size(size)
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"], f"{step}: the page is {width} px wide on a {size['width']} px screen"
            self.page.screenshot(path=SHOTS / f"{self.name}-{step}-{screen}.png", full_page=True)
            self.check_accessibility(f"{step} ({screen})")
        self.page.set_viewport_size(VIEWPORTS["phone"])

    def check_accessibility(self, where: str) -> None:
        """Run axe-core on the page as it is now; fail on any serious or critical violation,
        naming the rule and the elements. The script is evaluated through the DevTools
        protocol, which the page's Content-Security-Policy does not govern (the page itself
        still runs under it)."""
        if not AXE.exists():
            pytest.fail(f"no axe-core at {AXE}: run scripts/bootstrap (npm install)")
        if not self.page.evaluate("typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        found = self.page.evaluate("async () => (await axe.run(document)).violations.map("
                                   "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
        blocking = [v for v in found if v["impact"] in BLOCKING_IMPACTS]
        assert blocking == [], f"{self.name} {where}: {blocking}"

    def close(self) -> None:
        self.context.close()
