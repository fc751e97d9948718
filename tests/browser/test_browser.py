"""Smoke tests of the public pages in Debian's chromium: by keyboard, and on a phone screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.extensions import db
from tests import factories
from tests.browser_support import LiveServer


def _add_catalogue(live_server: LiveServer) -> tuple[str, list[str]]:
    with live_server.app.app_context():
        catalogue = factories.catalogue("browser-2025", standards=3)
        title = catalogue.title
        texts = [s.text for s in catalogue.standards]
        db.session.commit()
    return title, texts


def _focused_text(page: Page) -> str:
    text: str = page.evaluate("() => (document.activeElement?.textContent ?? '').trim()")
    return text


def test_home_page_is_japanese_and_reaches_a_catalogue_by_keyboard(page: Page, live_server):
    """The home page is lang=ja with its heading, and Tab/Enter alone open a catalogue's table."""
    title, texts = _add_catalogue(live_server)

    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "ja"
    heading = page.get_by_role("heading", level=1, name="区役所サービス基準の自己点検")
    expect(heading).to_be_visible()

    page.keyboard.press("Tab")
    assert _focused_text(page) == "本文へ移動"
    expect(page.get_by_role("link", name="本文へ移動")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name=title)).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url("**/catalogues/browser-2025")
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(len(texts))
    for row, text in zip(rows.all(), texts, strict=True):
        expect(row.locator("td").nth(1)).to_have_text(text)


def test_pages_fit_a_360px_phone_without_horizontal_scroll(page: Page, live_server, tmp_path):
    """At 360 px wide neither the home page nor a catalogue page scrolls sideways."""
    _add_catalogue(live_server)
    page.set_viewport_size({"width": 360, "height": 740})

    for name, path in (("home", "/"), ("catalogue", "/catalogues/browser-2025")):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        shot = tmp_path / f"{name}-360.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{path} scrolls sideways at 360 px: {widths}"
