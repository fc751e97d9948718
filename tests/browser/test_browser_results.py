"""The committee's dashboard in Debian's chromium, with every request outside the live server
blocked: every chart is drawn by the app's own plotly.js under the CSP, with no console error;
the page fits a 360 px phone. Set KIJUN_SCREENSHOT_DIR (e.g. ``docs``) to keep
``results-1280.png``.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Page, Route, expect

from app.extensions import db
from app.models import Round, Ward, round_ward
from app.services.operations.demo import DEMO_PASSWORD, DEMO_WARD, build_demo
from tests.browser_support import LiveServer

CHARTS = ["chart-standards", "chart-lowest", "chart-change", "chart-heatmap", "chart-progress"]


def _demo_round(live_server: LiveServer) -> int:
    """The demo ward (高津区, two past rounds) on the live server's database; the latest round."""
    app = live_server.app
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        db.session.commit()
        return db.session.scalars(  # 高津区's latest closed one (the demo also has one open now)
            sa.select(Round.id)
            .join(round_ward, round_ward.c.round_id == Round.id)
            .join(Ward, Ward.id == round_ward.c.ward_id)
            .where(Round.closes_at <= sa.func.now(), Ward.name == DEMO_WARD)
            .order_by(Round.fiscal_year.desc())
            .limit(1)
        ).one()


def _guard(page: Page, live_server: LiveServer) -> tuple[list[str], list[str]]:
    """Block every request not to the live server; collect blocked URLs and console errors."""
    blocked: list[str] = []
    errors: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(live_server.url + "/"):
            if url.endswith("/favicon.ico"):  # the app has none: no 404 in the console
                route.fulfill(status=204, body="")
            else:
                route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)
    page.on("console", lambda m: errors.append(m.text) if m.type in {"error", "warning"} else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return blocked, errors


def _sign_in_committee(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", "900003")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")


def test_every_chart_renders_offline_under_the_csp(page: Page, live_server, tmp_path):
    """Signed in as the demo committee member, the round page draws all five charts as SVG
    with the app's plotly.js, no request leaves 127.0.0.1, and the console stays clean."""
    round_id = _demo_round(live_server)
    blocked, errors = _guard(page, live_server)
    _sign_in_committee(page)
    page.get_by_role("link", name="結果").click()
    page.get_by_role("link", name="令和7年度 区役所サービス基準 自己点検").click()
    page.wait_for_url(f"**/results/rounds/{round_id}")
    expect(page.locator("#compliance-table")).to_contain_text("基準14")
    for chart in CHARTS:
        box = page.locator(f"#{chart}")
        expect(box).to_have_attribute("data-rendered", "true")
        expect(box.locator(".main-svg").first).to_be_attached()
        assert box.locator(".main-svg").count() >= 1, chart
        expect(page.locator(f"#{chart}-figure figcaption")).not_to_be_empty()
    assert page.locator("figure.chart").count() == len(CHARTS)
    # The heatmap's colour key, and the rate axes' range in words.
    expect(page.locator("#chart-heatmap-key")).to_be_visible()
    expect(page.locator("#chart-heatmap-key")).to_contain_text("色が濃いほど遵守率が低い")
    expect(page.locator("#chart-standards-figure .chart-axis")).to_contain_text("縦軸は")
    expect(page.locator("#chart-lowest-figure .chart-axis")).to_contain_text("横軸は")
    assert page.locator(".modebar").count() == 0
    assert blocked == []
    assert errors == []

    out = Path(os.environ.get("KIJUN_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "results-1280.png"), full_page=True)


def test_results_fit_a_phone_with_tables_scrolling_inside(page: Page, live_server):
    """At 360 px and at 200 % text the page never scrolls sideways: wide tables scroll inside
    their focusable, labelled region; the group select works without JavaScript."""
    round_id = _demo_round(live_server)
    blocked, errors = _guard(page, live_server)
    _sign_in_committee(page)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"/results/rounds/{round_id}")
    expect(page.locator("#chart-heatmap")).to_have_attribute("data-rendered", "true")
    for zoom in ("100%", "200%"):
        page.evaluate(f"() => {{ document.documentElement.style.fontSize = '{zoom}'; }}")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], f"scrolls sideways at {zoom}: {widths}"
    region = page.locator(".table-scroll").filter(has=page.locator("#compliance-table"))
    expect(region).to_have_attribute("tabindex", "0")
    expect(region).to_have_attribute("aria-labelledby", "compliance-caption")
    page.select_option("select[name=group]", label="\u3000\u3000総務課")
    page.get_by_role("button", name="表示する").click()
    expect(page.locator("h2#table-heading")).to_contain_text("総務課")
    assert blocked == []
    assert errors == []


def test_the_city_page_draws_its_chart_and_fits_a_phone(page: Page, live_server, tmp_path):
    """Signed in as the city-wide committee member, the city page (reached from the results
    list) draws its chart offline under the CSP with the axis range stated; at 360 px the
    page does not scroll sideways and the city's own rate column stays on the screen."""
    _demo_round(live_server)
    blocked, errors = _guard(page, live_server)
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", "900005")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")
    page.get_by_role("link", name="結果").click()
    page.get_by_role("link", name="市全体の遵守率（7区の共通の基準）").click()
    expect(page.locator("#chart-city")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#chart-city-figure .chart-axis")).to_contain_text("縦軸は")
    headings = page.locator("table.city-table thead th").all_inner_texts()
    assert headings == ["基準", "市全体", "川崎区", "幸区", "中原区", "高津区", "宮前区", "多摩区",
                        "麻生区"]
    out = Path(os.environ.get("KIJUN_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "city-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_function(  # plotly redraws the chart to the new width
        "() => document.querySelector('#chart-city svg.main-svg').getBoundingClientRect()"
        ".right <= 360"
    )
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    city_rate = page.locator("table.city-table tbody tr").first.locator("td").first
    box = city_rate.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360
    page.screenshot(path=str(out / "city-360.png"), full_page=False)
    assert blocked == []
    assert errors == []
