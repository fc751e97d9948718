"""The audit log in Debian's chromium at 1280 px and 360 px: each date on one or two lines, every
cell at least 8 characters wide, nothing to scroll sideways (kijun.css, docs/audit.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Grant, GrantRole
from app.services.identity.auth import set_password
from tests import factories
from tests.browser.test_accessibility import describe, run_axe, stacked_cells, zoom_problems
from tests.browser_support import LiveServer
from tests.governance.audit_rows import Objects, record_every_action

PASSWORD = "audit-reader-2026"
# An address as long as they come (IPv6), the row's widest word.
ADDRESS = "2001:db8:85a3:1234:5678:8a2e:370:7334"

# Per cell of the log's table: its lines of text (the characters grouped by their boxes) and
# its width in characters of its own font size (the content box, padding excluded). The column
# headings that a phone's stacked layout hides visually (clipped) are not measured.
MEASURE = r"""() => {
  const clipped = el => {
    for (let e = el; e; e = e.parentElement) {
      const clip = getComputedStyle(e).clip;
      if (clip && clip !== 'auto') { return true; }
    }
    return false;
  };
  const cells = [];
  for (const cell of document.querySelectorAll('table.audit-log th, table.audit-log td')) {
    if (!cell.getClientRects().length || clipped(cell)) { continue; }
    const style = getComputedStyle(cell);
    const em = parseFloat(style.fontSize);
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    let lines = 0, previous = null;
    const time = cell.querySelector('time');
    if (time) {
      const walker = document.createTreeWalker(time, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.textContent.length; i++) {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const box = range.getClientRects()[0];
          if (!box || box.width === 0) { continue; }
          if (previous === null || box.top >= previous.bottom - 2) { lines += 1; }
          previous = box;
        }
      }
    }
    cells.push({text: cell.innerText.trim().slice(0, 20), chars: inner / em, lines,
                date: !!time});
  }
  return {cells, scroll: document.documentElement.scrollWidth};
}"""


def problems(page: Page, width: int) -> list[str]:
    """What is not legible in the log at ``width`` px: a date on more than two lines, a cell
    narrower than 8 characters, a page wider than the screen."""
    measured = page.evaluate(MEASURE)
    found = [
        f"date in {c['lines']} lines: {c['text']}" for c in measured["cells"]
        if c["date"] and c["lines"] > 2
    ]
    found += [
        f"{c['chars']:.1f} characters wide: {c['text']}" for c in measured["cells"]
        if c["chars"] < 8
    ]
    if measured["scroll"] > width + 1:
        found.append(f"the page is {measured['scroll']} px wide")
    assert measured["cells"], "no cell measured"
    return found


def _world(live_server: LiveServer) -> None:
    """An admin of 高津区 and a page of the log: two rows of every action, from a long address,
    with long names."""
    app = live_server.app
    with app.app_context():
        section = factories.section("地域みまもり支援センター 地域ケア推進課")
        admin = factories.person(section=section, employee_id="900004", name="長谷川 隆之介")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=section.ward_id))
        set_password(admin, PASSWORD)
        person = factories.person(section=section, employee_id="100002", name="高津 太郎")
        catalogue = factories.catalogue("takatsu-2027", fiscal_year=2027)
        round_ = factories.round_(
            catalogue, title="令和9年度 区役所サービス基準 自己点検（全職員・所属長）",
            opens_at=datetime(2027, 11, 1, 0, 0, tzinfo=UTC),
            closes_at=datetime(2027, 11, 26, 8, 15, tzinfo=UTC),
        )
        team = factories.working_team(name="窓口サービス改善ワーキングチーム")
        db.session.commit()
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": ADDRESS}):
            objects = Objects(admin, person, round_, catalogue, section, team, 2027)
            for _ in range(2):
                record_every_action(objects)
            db.session.commit()


def _sign_in(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", "900004")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_log_is_legible_at_both_widths(page: Page, live_server, width):
    """At 1280 px and 360 px each date stands on one or two lines, no cell of the log is
    narrower than 8 characters and the page does not scroll sideways, with the disclosures of
    the stored values closed and open; axe-core finds no violation, no cell stands one
    character a line and 200 % text cuts nothing off."""
    _world(live_server)
    _sign_in(page)
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/admin/audit")
    expect(page.locator(".audit-sentence").first).to_contain_text("長谷川 隆之介（900004）が")
    assert problems(page, width) == []
    assert describe(run_axe(page), f"audit log @{width}") == []
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert problems(page, width) == []
    assert describe(run_axe(page), f"audit log, values open @{width}") == []
    assert stacked_cells(page) == [] and zoom_problems(page) == []


def test_the_measure_catches_a_squeezed_date(page: Page, live_server):
    """The measure reports a date column squeezed to one character a line, and a narrow cell."""
    _world(live_server)
    _sign_in(page)
    page.goto("/admin/audit")
    page.evaluate("""() => document.querySelectorAll('.audit-when').forEach(cell => {
      Object.assign(cell.style, {whiteSpace: 'normal', width: '1em', minWidth: '0',
                                 maxWidth: '1em'});
    })""")
    found = problems(page, 1280)
    assert any(p.startswith("date in ") for p in found), found
    assert any("characters wide" in p for p in found), found
