"""The dashboard in a real browser: Playwright (sync API) driving Debian's Chromium against the e2e stack.

One browser for this package, with its own Playwright lifecycle: Playwright's event loop runs only while these
tests do, so the other e2e tests can still use ``asyncio.run``. A fresh context and page per test. Every page is
watched: an uncaught script error or a Content-Security-Policy violation fails the test. Screenshots of each page
go to ``test-output/screenshots/`` on every run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Stack

CHROMIUM = os.environ.get("AETHERV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium from the system (never a downloaded build); a missing browser fails the tests, it does not skip."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the dashboard tests need it. "
            "Install it with `apt-get install -y chromium` (`make test` does when it runs as root) "
            "or set AETHERV_CHROMIUM.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: run `make install` (requirements-dev.txt pins it)", pytrace=False)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Ui:
    """A page of the dashboard and helpers to drive it."""

    page: Any
    base_url: str
    stack: Stack
    problems: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        """Load a dashboard URL and wait until its page has rendered."""
        self.page.goto(self.base_url + path)
        self.settled()
        return self.page

    def settled(self) -> None:
        """Wait until the current view finished loading."""
        self.page.wait_for_selector("html[data-ready='true']")
        self.page.wait_for_selector("main[aria-busy='false']")

    def shot(self, name: str, *, phone: bool = False) -> Path:
        """Save a screenshot (full page on a laptop, the screen on a phone)."""
        path = SCREENSHOTS / f"{name}-{'phone' if phone else 'laptop'}.png"
        self.page.screenshot(path=str(path), full_page=not phone)
        return path

    def on_phone(self) -> None:
        """Switch to a phone-sized viewport."""
        self.page.set_viewport_size(PHONE)

    def fits_width(self) -> bool:
        """Whether the page has no horizontal scroll bar."""
        return bool(self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@contextmanager
def open_ui(browser: Any, stack: Stack) -> Iterator[Ui]:
    """A fresh browser context on ``stack``; fails the test on script errors or CSP violations."""
    context = browser.new_context(viewport=LAPTOP, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(20_000)
    page = context.new_page()
    ui = Ui(page=page, base_url=stack.base_url, stack=stack)

    def on_console(message: Any) -> None:
        text = message.text
        if message.type == "error" and not text.startswith("Failed to load resource"):
            ui.problems.append(f"console error: {text}")
        if re.search(r"Content Security Policy", text):
            ui.problems.append(f"CSP: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: ui.problems.append(f"page error: {error}"))
    page.on("request", lambda request: ui.api_calls.append(f"{request.method} {request.url}"))
    try:
        yield ui
    finally:
        context.close()
    assert not ui.problems, "\n".join(ui.problems)


@pytest.fixture
def ui(browser: Any, synced: Stack) -> Iterator[Ui]:
    """A fresh browser context on the synced stack; fails the test on script errors or CSP violations."""
    with open_ui(browser, synced) as opened:
        yield opened
