"""Browser fixtures: the test's app served on 127.0.0.1 and Debian's chromium driven by Playwright.

Loaded by ``pytest_plugins`` in conftest. The Playwright driver and the browser start once per
session; each test gets its own live server (on its own fresh database, from the ``app``
fixture) and its own browser context and page. No browser is downloaded: Playwright launches the
system chromium (``shutil.which("chromium")`` or ``/usr/bin/chromium``). Without it the browser
tests fail under CI (``CI=true``) and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    """Fail under CI, where the browser must be there; skip on a developer's machine."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests must run; `bash .ci/test` installs it)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """The system chromium: on PATH, else Debian's /usr/bin/chromium."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return None


@dataclass
class LiveServer:
    """A running server: its base URL and the app it serves."""

    url: str
    app: Flask

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """This test's app served by werkzeug on 127.0.0.1, on a free port, in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """The Playwright sync driver, started once for the session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    from playwright.sync_api import expect

    # An ``expect`` retries until its condition holds; 5 s (Playwright's default) is short
    # for five charts drawn on a busy 2-core CI machine, and a longer wait costs nothing
    # when the condition holds at once.
    expect.set_options(timeout=15_000)
    manager = sync_playwright()
    driver = manager.start()
    try:
        yield driver
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Headless system chromium, launched once for the session."""
    path = chromium_path()
    if path is None:
        _unavailable("chromium is not on PATH nor at /usr/bin/chromium (apt-get install chromium)")
    assert path is not None
    launched = playwright_driver.chromium.launch(
        executable_path=path, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def browser_context_options() -> dict[str, Any]:
    """Options of each test's browser context; override in a test module to change them."""
    return {
        "locale": "ja-JP",
        "timezone_id": "Asia/Tokyo",
        "viewport": {"width": 1280, "height": 800},
    }


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, browser_context_options: dict[str, Any]
) -> Iterator[Page]:
    """A page in a fresh browser context, closed before the live server stops."""
    context = browser.new_context(base_url=live_server.url, **browser_context_options)
    context.set_default_timeout(10_000)
    # A navigation waits for its page's "load", which on a results page includes plotly.js
    # (4.6 MB) and, on a round's first visit, its counting; on a busy 2-core CI machine that
    # once took over 10 s. Playwright's own default for navigations is 30 s.
    context.set_default_navigation_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()
