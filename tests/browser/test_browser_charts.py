"""Every chart of every results page, measured in Debian's chromium at 1280 px and at 360 px:
the legend covers no tick label, axis or chart title, nor the plot area; every title and tick
label lies inside the chart's svg; no category label is cut short.

The pages are walked as the demo's city-wide committee member (900005), and the charts are the
``[data-chart]`` boxes each page has, so a new chart (or a new page in ``PAGES``) is measured
without a change here. See docs/results.md ("How the charts read").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.extensions import db
from app.models import Round, Ward, round_ward
from app.services.operations.demo import DEMO_PASSWORD, DEMO_WARD, build_demo
from tests.browser_support import LiveServer

WIDTHS = (1280, 360)

# The boxes of one chart, read in the page: every chart box ([data-chart]) with its svg, legend,
# tick labels, titles and plot areas, and the problems found between them. A box is a
# DOMRect's {left, top, right, bottom}; an element with no size (an empty tick) is skipped.
MEASURE = r"""() => {
  const SLACK = 0.5;  // px: boxes that only touch do not overlap
  const rect = el => {
    const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
            width: r.width, height: r.height};
  };
  const sized = r => r.width > 0 && r.height > 0;
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > SLACK
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > SLACK;
  const inside = (a, outer) => a.left >= outer.left - SLACK && a.right <= outer.right + SLACK
    && a.top >= outer.top - SLACK && a.bottom <= outer.bottom + SLACK;
  const text = el => (el.textContent || '').trim();
  // The categories a chart plots on each axis (strings only: a date or number axis has none).
  const categories = figure => {
    const found = {x: new Set(), y: new Set()};
    for (const trace of figure.data) {
      for (const axis of ['x', 'y']) {
        if ((figure.layout[axis + 'axis'] || {}).type === 'date') { continue; }
        for (const v of trace[axis] || []) {
          if (typeof v === 'string') { found[axis].add(v.replace(/<br>/g, '')); }
        }
      }
    }
    return found;
  };
  const charts = [];
  for (const box of document.querySelectorAll('[data-chart]')) {
    const problems = [];
    const source = document.getElementById(box.getAttribute('data-chart'));
    const figure = JSON.parse(source.textContent);
    const svg = box.querySelector('svg.main-svg');
    if (!svg) {
      charts.push({chart: box.id, problems: ['not drawn (no svg.main-svg)']});
      continue;
    }
    const frame = rect(svg);
    const named = (selector, kind) => [...box.querySelectorAll(selector)]
      .map(el => ({kind: kind, text: text(el), box: rect(el),
                   transform: el.getAttribute('transform') || ''}))
      .filter(item => sized(item.box));
    const ticks = [...named('.xtick text', 'x tick label'),
                   ...named('.ytick text', 'y tick label')];
    const titles = [...named('.gtitle', 'chart title'), ...named('.xtitle', 'x axis title'),
                    ...named('.ytitle', 'y axis title')];
    const plots = named('.nsewdrag', 'plot area');
    const legends = named('g.legend', 'legend');
    for (const legend of legends) {
      for (const other of [...ticks, ...titles, ...plots]) {
        if (overlap(legend.box, other.box)) {
          problems.push(`legend overlaps the ${other.kind} 「${other.text}」`);
        }
      }
    }
    // Tick labels of one axis clear of one another: upright or turned a quarter only, where
    // a box is the text's own (a slanted label's box is wider than its letters).
    const slanted = tick => /rotate\((?!0[,)]|-?90[,)])/.test(tick.transform);
    for (const axis of ['x', 'y']) {
      const own = ticks.filter(tick => tick.kind[0] === axis && !slanted(tick));
      own.forEach((tick, i) => own.slice(i + 1).forEach(other => {
        if (overlap(tick.box, other.box)) {
          problems.push(`${tick.kind} 「${tick.text}」 overlaps 「${other.text}」`);
        }
      }));
    }
    for (const item of [...titles, ...ticks, ...legends]) {
      if (!inside(item.box, frame)) {
        const b = item.box;
        problems.push(`${item.kind} 「${item.text}」 is cut off: [${Math.round(b.left)}, `
          + `${Math.round(b.top)}, ${Math.round(b.right)}, ${Math.round(b.bottom)}] outside the `
          + `svg [${Math.round(frame.left)}, ${Math.round(frame.top)}, `
          + `${Math.round(frame.right)}, ${Math.round(frame.bottom)}]`);
      }
    }
    const plotted = categories(figure);
    for (const tick of ticks) {
      const axis = tick.kind[0];
      if (/(…|\.\.\.)$/.test(tick.text)) {
        problems.push(`${tick.kind} 「${tick.text}」 is truncated`);
      } else if (plotted[axis].size && !plotted[axis].has(tick.text)) {
        problems.push(`${tick.kind} 「${tick.text}」 is none of the chart's categories`);
      }
    }
    if (!ticks.length) { problems.push('no tick labels drawn'); }
    charts.push({chart: box.id, problems: problems});
  }
  return charts;
}"""

# True once every chart is drawn for the window's width: charts.js has applied the layout of
# that width (``data-layout``) and plotly's svg has the box's width.
DRAWN_FOR_WIDTH = """layout => [...document.querySelectorAll('[data-chart]')].every(box => {
  const svg = box.querySelector('svg.main-svg');
  return box.getAttribute('data-rendered') === 'true'
    && box.getAttribute('data-layout') === layout && svg
    && Math.abs(svg.getBoundingClientRect().width - box.clientWidth) < 2;
})"""


STATE = """() => [...document.querySelectorAll('[data-chart]')].map(box => [box.id,
  box.getAttribute('data-rendered'), box.getAttribute('data-layout'), box.clientWidth,
  (box.querySelector('svg.main-svg') || {getBoundingClientRect: () => ({})})
    .getBoundingClientRect().width])"""


def layout_for(width: int) -> str:
    """The layout charts.js gives a chart this wide (``narrow`` under 600 px)."""
    return "narrow" if width < 600 else "wide"


@dataclass(frozen=True)
class Demo:
    latest: int
    oldest: int
    open: int


def _demo(live_server: LiveServer) -> Demo:
    """The demo (高津区 with two closed rounds and one open, the other wards' rounds for the
    city page) on the live server's database."""
    app = live_server.app
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        db.session.commit()
        rounds = db.session.execute(
            sa.select(Round.id, Round.closes_at)
            .join(round_ward, round_ward.c.round_id == Round.id)
            .join(Ward, Ward.id == round_ward.c.ward_id)
            .where(Ward.name == DEMO_WARD)
            .order_by(Round.fiscal_year, Round.closes_at)
        ).all()
    now = datetime.now(UTC)
    closed = [r.id for r in rounds if r.closes_at.replace(tzinfo=UTC) <= now]
    still_open = [r.id for r in rounds if r.closes_at.replace(tzinfo=UTC) > now]
    return Demo(latest=closed[-1], oldest=closed[0], open=still_open[0])


@dataclass(frozen=True)
class ResultsPage:
    name: str
    url: Callable[[Demo], str]
    charts: int  # at least this many charts are drawn on it


PAGES = [
    ResultsPage("round with all charts", lambda d: f"/results/rounds/{d.latest}", 5),
    ResultsPage("round without last year", lambda d: f"/results/rounds/{d.oldest}", 4),
    ResultsPage("open round (progress only)", lambda d: f"/results/rounds/{d.open}", 1),
    ResultsPage(
        "breakdown by section", lambda d: f"/results/rounds/{d.latest}/breakdown?level=section", 0
    ),
    ResultsPage(
        "breakdown of chiefs by department",
        lambda d: f"/results/rounds/{d.latest}/breakdown?level=department&role=chief",
        0,
    ),
    ResultsPage("city, staff", lambda d: "/results/city", 1),
    ResultsPage("city, chiefs, FY2024", lambda d: "/results/city?year=2024&role=chief", 1),
]


def _sign_in(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", "900005")  # the city-wide committee member
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")


def _group_urls(page: Page, round_url: str) -> list[tuple[str, str]]:
    """The round page of one department and one section (the group form's choices)."""
    page.goto(round_url)
    values = page.locator("select[name=group] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    picked = [
        next(v for v in values if v.startswith(level + ":")) for level in ("department", "section")
    ]
    return [(f"round, one {v.split(':')[0]}", f"{round_url}?group={v}") for v in picked]


def chart_problems(page: Page, where: str, width: int) -> tuple[int, list[str]]:
    """The charts of the page as drawn now, and what is wrong with each, named."""
    try:
        page.wait_for_function(DRAWN_FOR_WIDTH, arg=layout_for(width))
    except PlaywrightTimeoutError:
        state = page.evaluate(STATE)
        raise AssertionError(
            f"{where} @{width}px: charts not drawn for the width: {state}"
        ) from None
    measured = page.evaluate(MEASURE)
    return len(measured), [
        f"{where} @{width}px, #{chart['chart']}: {problem}"
        for chart in measured
        for problem in chart["problems"]
    ]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_no_chart_covers_its_own_labels(page: Page, live_server: LiveServer, language: str):
    """On every results page, in Japanese and in English (longer titles), at 1280 px, after a
    resize to 360 px and loaded at 360 px, every chart's legend stays off its tick labels,
    titles and plot area, every title and tick label lies inside the chart's svg, and every
    category label is whole."""
    demo = _demo(live_server)
    _sign_in(page)
    if language != "ja":
        page.goto(f"/language/{language}")
        assert page.locator("html").get_attribute("lang") == language
    pages = [(p.name, p.url(demo), p.charts) for p in PAGES]
    pages[1:1] = [(name, url, 4) for name, url in _group_urls(page, PAGES[0].url(demo))]
    problems: list[str] = []
    for name, url, least in pages:
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        for width, fresh in ((1280, False), (360, False), (360, True)):
            page.set_viewport_size({"width": width, "height": 800 if width > 600 else 740})
            if fresh:
                page.goto(url)
            count, found = chart_problems(
                page, f"{name} ({url}){' loaded' if fresh else ''}", width
            )
            assert count >= least, f"{name} @{width}px: {count} charts, expected {least}+"
            problems += found
    assert not problems, f"{len(problems)} chart problems:\n" + "\n".join(problems)
