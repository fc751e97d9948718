"""axe-core (WCAG 2.1 A/AA) over every HTML page of every role, in Debian's chromium, with the
demo ward's data: each page at 1280 px and at 360 px, where it must not scroll sideways either.

The pages come from ``app.url_map``: every GET endpoint is either visited by some role below
(``VISITS``) or named in ``NOT_PAGES`` with the reason, so a new page without an accessibility
check fails ``test_every_page_is_checked``. axe-core is the copy shipped inside the
axe-playwright-python package (nothing is downloaded). docs/accessibility.md tells how to run it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import (
    Catalogue,
    ImprovementAction,
    Person,
    Round,
    Section,
    Ward,
    WorkingTeam,
)
from app.services.catalogue.drafts import create_next_year
from app.services.identity.auth import password_link_token
from app.services.operations import schedule, sending
from app.services.operations.demo import DEMO_PASSWORD, DEMO_WARD, build_demo
from app.services.operations.demo_goals import DEMO_GOALS_YEAR
from app.services.operations.mail import FileMailer, Outgoing, build_message
from app.wareki import fiscal_year_of, tokyo
from tests.browser_support import LiveServer

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}

# The demo accounts (app/services/operations/demo.py), and who signs in as none of them.
ACCOUNTS = {
    "anonymous": None,
    "staff": "900001",  # 区民課の職員
    "chief": "900002",  # 総務課長
    "committee": "900003",  # 区民課長, committee member for 高津区
    "admin": "900004",  # 総務課の職員, admin for 高津区
    "city": "900005",  # 川崎区 総務課の職員, committee member for the whole city
}

# GET endpoints that are not HTML pages for a person to read, and why.
NOT_PAGES = {
    "static": "CSS and JavaScript files",
    "vendor.plotly_js": "plotly.min.js",
    "main.healthz": "plain-text health check for monitoring",
    "main.readyz": "plain-text readiness check for the load balancer",
    "main.readyz_scheduler": "JSON: is the scheduler ticking, for monitoring",
    "auth.language": "only sets the language and redirects back",
    "api.openapi": "JSON (the API's OpenAPI document)",
    "api.rounds": "JSON API",
    "api.checklist": "JSON API",
    "api.compliance": "JSON API",
    "annual.pdf": "a PDF download",
    "annual.docx": "a Word download",
    "admin.audit_csv": "a CSV download (the audit log)",
    "admin.catalogue_export": "a YAML download (a catalogue)",
    "admin.roster_template": "a CSV or Excel download (the roster's template)",
    "admin.roster_download": "a CSV or Excel download (a year's roster)",
    "results.comments_xlsx": "an Excel download (the comments)",
    "results.city_xlsx": "an Excel download (the city page)",
    "results.action_list_xlsx": "an Excel download (the improvement actions)",
}


@dataclass(frozen=True)
class Demo:
    """Ids in the demo database that the pages' URLs need."""

    ward_id: int
    open_round: int  # this fiscal year's round, open now
    latest_closed: int  # 令和7年度 (with last year to compare)
    oldest_closed: int  # 令和6年度 (nothing to compare)
    kumin_id: int  # 区民課
    somu_id: int  # 総務課 (the demo chief's section)
    team_id: int
    catalogue_key: str
    password_token: str
    staff_id: int  # a staff member of the demo ward (the admin's people pages)
    action_id: int  # the demo's improvement action on the FY2024 round (done)
    other_ward_round: int  # 川崎区's 令和7年度 round (the city-wide member reads it)
    draft_key: str = "takatsu-2026"  # next year's standards, a draft copied from takatsu-2025
    mail_name: str = ""  # a message in the demo's mailbox (DEMO_MAILBOX on)


@dataclass(frozen=True)
class Visit:
    """One page as one role sees it: ``url`` from the demo's ids; ``then`` acts on the page
    (e.g. a failed submit) before the checks; ``status`` is the expected HTTP status."""

    role: str
    name: str
    endpoint: str
    url: Callable[[Demo], str]
    status: int = 200
    then: Callable[[Page], None] | None = None
    standalone: bool = False  # a print view: its own document, without the site's layout


def _submit_nothing(page: Page) -> None:
    """Press 提出する on an empty checklist: the page comes back with the error summary."""
    page.locator("[name=submit_answers]").click()
    expect(page.locator("#error-summary")).to_be_focused()


def _submit_everything(page: Page) -> None:
    """Answer every item できている and submit: the receipt page follows."""
    radios = page.locator("input[type=radio][value=yes]")
    for index in range(radios.count()):
        radios.nth(index).check()
    page.locator("[name=submit_answers]").click()
    expect(page.locator("#submitted-at")).to_be_visible()


def _sign_in_wrongly(page: Page) -> None:
    page.fill("input[name=employee_id]", "900001")
    page.fill("input[name=password]", "not-the-password")
    page.locator("form.auth-form [type=submit]").click()
    expect(page.locator("#login-error")).to_be_focused()


def _create_round_wrongly(page: Page) -> None:
    """Send the new-round form empty: every field shows its error."""
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#error-summary, .field-error").first).to_be_visible()


SEED_TABLE = Path(__file__).resolve().parents[1] / "data" / "takatsu-published-r6-r7.csv"


def _add_standard_wrongly(page: Page) -> None:
    """Send the new-standard form with a taken number and no text: the error summary."""
    page.fill("input[name=number]", "1")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#error-summary")).to_be_visible()


def _drop_without_reason(page: Page) -> None:
    """Set an action 見送り with no reason: the page comes back with the error summary."""
    page.locator("input[name=status][value=dropped]").check()
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#error-summary")).to_be_visible()


def _draft(d: Demo) -> str:
    return d.draft_key


def _preview_published(page: Page) -> None:
    """Upload seed 000's table for 令和6年度: the preview page with the line left out."""
    page.fill("input[name=fiscal_year]", "2024")
    page.set_input_files("input[name=table]", str(SEED_TABLE))
    page.locator("#upload-form button[type=submit]").click()
    expect(page.locator("#skipped")).to_be_visible()


def _preview_roster_with_warnings(page: Page) -> None:
    """Upload a roster whose section has no chief and one person no address: the preview
    with its warnings and the 「確認しました」 box."""
    path = Path(tempfile.mkdtemp(prefix="kijun-roster-")) / "roster.csv"
    path.write_bytes("\r\n".join([
        "職員番号,氏名,メールアドレス,区,部,課,役割",
        "700001,試験 一郎,t1@example.jp,高津区,区民サービス部,区民課,職員",
        "700002,試験 二郎,,高津区,区民サービス部,区民課,職員",
    ]).encode("utf-8-sig"))
    page.fill("input[name=fiscal_year]", "2030")
    page.set_input_files("input[name=roster]", str(path))
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("[data-warning=no_chief]")).to_be_visible()


def _u(endpoint: str, **values: Any) -> Callable[[Demo], str]:
    """A URL builder: ``values`` may be callables of the Demo (ids) or plain values."""

    def build(demo: Demo) -> str:
        args = {k: (v(demo) if callable(v) else v) for k, v in values.items()}
        return url_for(endpoint, **args)

    return build


def _ward(d: Demo) -> int:
    return d.ward_id


def _latest(d: Demo) -> int:
    return d.latest_closed


VISITS: list[Visit] = [
    # --- anonymous: public pages, sign-in, password link, errors --------------------------
    Visit("anonymous", "home", "main.index", _u("main.index")),
    Visit("anonymous", "catalogue", "main.catalogue",
          _u("main.catalogue", key=lambda d: d.catalogue_key)),
    Visit("anonymous", "sign-in", "auth.login", _u("auth.login")),
    Visit("anonymous", "a sign-in link refused", "auth.sign_in_link",
          _u("auth.sign_in_link", token="not-a-token"), status=400),
    Visit("anonymous", "sign-in refused", "auth.login", _u("auth.login"), then=_sign_in_wrongly),
    Visit("anonymous", "set password", "auth.set_password",
          _u("auth.set_password", token=lambda d: d.password_token)),
    Visit("anonymous", "password link refused", "auth.set_password",
          _u("auth.set_password", token="not-a-token"), status=400),
    Visit("anonymous", "404", "", lambda d: "/no-such-page", status=404),
    Visit("anonymous", "401 (to sign-in)", "auth.login", _u("checklist.my_rounds")),
    Visit("anonymous", "demo mailbox", "demo.mailbox", _u("demo.mailbox")),
    Visit("anonymous", "demo message", "demo.message",
          _u("demo.message", name=lambda d: d.mail_name)),
    # --- staff ------------------------------------------------------------------------------
    Visit("staff", "my rounds", "checklist.my_rounds", _u("checklist.my_rounds")),
    Visit("staff", "checklist open", "checklist.checklist",
          _u("checklist.checklist", round_id=lambda d: d.open_round)),
    Visit("staff", "checklist failed submit", "checklist.checklist",
          _u("checklist.checklist", round_id=lambda d: d.open_round), then=_submit_nothing),
    Visit("staff", "checklist closed", "checklist.checklist",
          _u("checklist.checklist", round_id=_latest)),
    Visit("staff", "403", "results.index", _u("results.index"), status=403),
    Visit("staff", "receipt after submitting", "checklist.receipt",
          _u("checklist.checklist", round_id=lambda d: d.open_round), then=_submit_everything),
    Visit("staff", "404 signed in", "checklist.checklist",
          _u("checklist.checklist", round_id=999999), status=404),
    # --- chief ------------------------------------------------------------------------------
    Visit("chief", "my rounds", "checklist.my_rounds", _u("checklist.my_rounds")),
    Visit("chief", "checklist with the section's part", "checklist.checklist",
          _u("checklist.checklist", round_id=lambda d: d.open_round)),
    Visit("chief", "section progress", "checklist.section",
          _u("checklist.section", round_id=lambda d: d.open_round)),
    Visit("chief", "section results sheet", "results.section_page",
          _u("results.section_page", round_id=_latest, section_id=lambda d: d.somu_id)),
    Visit("chief", "section results print view", "results.section_export",
          _u("results.section_export", round_id=_latest, section_id=lambda d: d.somu_id,
             fmt="html"), standalone=True),
    Visit("chief", "goals", "goals.index", _u("goals.index")),
    Visit("chief", "section goals", "goals.section_goals",
          _u("goals.section_goals", section_id=lambda d: d.somu_id,
             fiscal_year=DEMO_GOALS_YEAR)),
    # --- committee ----------------------------------------------------------------------------
    Visit("committee", "results", "results.index", _u("results.index")),
    Visit("committee", "round with all charts", "results.round_page",
          _u("results.round_page", round_id=_latest)),
    Visit("committee", "round, one section", "results.round_page",
          _u("results.round_page", round_id=_latest, group=lambda d: f"section:{d.kumin_id}")),
    Visit("committee", "round without last year", "results.round_page",
          _u("results.round_page", round_id=lambda d: d.oldest_closed)),
    Visit("committee", "open round", "results.round_page",
          _u("results.round_page", round_id=lambda d: d.open_round)),
    Visit("committee", "breakdown by section", "results.breakdown",
          _u("results.breakdown", round_id=_latest, level="section")),
    Visit("committee", "breakdown of chiefs by department", "results.breakdown",
          _u("results.breakdown", round_id=_latest, level="department", role="chief")),
    Visit("committee", "breakdown refused", "results.breakdown",
          _u("results.breakdown", round_id=_latest, level="floor"), status=400),
    Visit("committee", "print view", "results.export",
          _u("results.export", round_id=_latest, fmt="html"), standalone=True),
    Visit("committee", "comments", "results.comments",
          _u("results.comments", round_id=_latest)),
    Visit("committee", "weak standards and actions", "results.actions",
          _u("results.actions", round_id=lambda d: d.oldest_closed)),
    Visit("committee", "an action's status", "results.outcome",
          _u("results.outcome", action_id=lambda d: d.action_id)),
    Visit("committee", "an action's status refused", "results.outcome",
          _u("results.outcome", action_id=lambda d: d.action_id), then=_drop_without_reason),
    Visit("committee", "change an action", "results.edit_action",
          _u("results.edit_action", action_id=lambda d: d.action_id)),
    Visit("committee", "open improvement actions", "results.action_list",
          _u("results.action_list")),
    Visit("committee", "every improvement action, overdue", "results.action_list",
          _u("results.action_list", status="all", overdue="y")),
    Visit("committee", "section sheet", "results.section_page",
          _u("results.section_page", round_id=_latest, section_id=lambda d: d.kumin_id)),
    Visit("committee", "goals", "goals.index", _u("goals.index")),
    Visit("committee", "ward's goals", "goals.year",
          _u("goals.year", ward_id=_ward, fiscal_year=DEMO_GOALS_YEAR)),
    Visit("committee", "section goals", "goals.section_goals",
          _u("goals.section_goals", section_id=lambda d: d.kumin_id,
             fiscal_year=DEMO_GOALS_YEAR)),
    Visit("committee", "plan", "goals.plan",
          _u("goals.plan", ward_id=_ward, fiscal_year=DEMO_GOALS_YEAR)),
    Visit("committee", "lock", "goals.lock",
          _u("goals.lock", ward_id=_ward, fiscal_year=DEMO_GOALS_YEAR)),
    Visit("committee", "new team", "goals.new_team",
          _u("goals.new_team", ward_id=_ward, fiscal_year=DEMO_GOALS_YEAR)),
    Visit("committee", "team", "goals.team", _u("goals.team", team_id=lambda d: d.team_id)),
    Visit("committee", "annual reports", "annual.index", _u("annual.index")),
    Visit("committee", "annual report", "annual.view",
          _u("annual.view", ward_id=_ward, fiscal_year=DEMO_GOALS_YEAR), standalone=True),
    # --- admin ------------------------------------------------------------------------------
    Visit("admin", "rounds", "admin.rounds", _u("admin.rounds")),
    Visit("admin", "new round", "admin.new_round", _u("admin.new_round")),
    Visit("admin", "new round refused", "admin.new_round", _u("admin.new_round"),
          then=_create_round_wrongly),
    Visit("admin", "edit round", "admin.edit_round",
          _u("admin.edit_round", round_id=lambda d: d.open_round)),
    Visit("admin", "sign-in links of a round", "admin.links",
          _u("admin.links", round_id=lambda d: d.open_round)),
    Visit("admin", "send ledger", "admin.ledger",
          _u("admin.ledger", round_id=lambda d: d.open_round)),
    Visit("admin", "remind now", "admin.remind",
          _u("admin.remind", round_id=lambda d: d.open_round)),
    Visit("admin", "results", "results.round_page", _u("results.round_page", round_id=_latest)),
    Visit("admin", "audit log", "admin.audit_log", _u("admin.audit_log")),
    Visit("admin", "roster upload", "admin.roster_upload", _u("admin.roster_upload")),
    Visit("admin", "people", "admin.people_list", _u("admin.people_list", q="9000")),
    Visit("admin", "person", "admin.person", _u("admin.person", person_id=lambda d: d.staff_id)),
    Visit("admin", "audit log refused", "admin.audit_log",
          _u("admin.audit_log", since="2026-04-02", until="2026-04-01"), status=400),
    Visit("admin", "published tables", "admin.published", _u("admin.published")),
    Visit("admin", "catalogues", "admin.catalogues", _u("admin.catalogues")),
    Visit("admin", "next year's draft", "admin.catalogue_next",
          _u("admin.catalogue_next", key=lambda d: d.catalogue_key)),
    Visit("admin", "catalogue draft", "admin.catalogue", _u("admin.catalogue", key=_draft)),
    Visit("admin", "add a standard", "admin.catalogue_add_standard",
          _u("admin.catalogue_add_standard", key=_draft)),
    Visit("admin", "add a standard refused", "admin.catalogue_add_standard",
          _u("admin.catalogue_add_standard", key=_draft), then=_add_standard_wrongly),
    Visit("admin", "edit a ward standard", "admin.catalogue_edit_standard",
          _u("admin.catalogue_edit_standard", key=_draft, standard_key="takatsu-hygiene")),
    Visit("admin", "renumber", "admin.catalogue_numbers",
          _u("admin.catalogue_numbers", key=_draft)),
    Visit("admin", "preview as staff", "admin.catalogue_preview",
          _u("admin.catalogue_preview", key=_draft)),
    Visit("admin", "preview as a chief", "admin.catalogue_preview",
          _u("admin.catalogue_preview", key=_draft, **{"as": "chief:庁舎管理担当課"})),
    Visit("admin", "publish", "admin.catalogue_publish",
          _u("admin.catalogue_publish", key=_draft)),
    # --- city-wide committee member ---------------------------------------------------------
    Visit("city", "results with the city link", "results.index", _u("results.index")),
    Visit("city", "city page", "results.city", _u("results.city")),
    Visit("city", "city page, chiefs, 令和6年度", "results.city",
          _u("results.city", year=2024, role="chief")),
    Visit("city", "city page refused", "results.city", _u("results.city", year="x"),
          status=400),
    Visit("city", "round of another ward", "results.round_page",
          _u("results.round_page", round_id=lambda d: d.other_ward_round)),
    Visit("city", "breakdown of the city's wards", "results.breakdown",
          _u("results.breakdown", round_id=_latest, level="ward")),
    # The preview is the answer to a POST: no GET endpoint to match.
    Visit("admin", "published table preview", "", _u("admin.published"),
          then=_preview_published),
    Visit("admin", "roster preview with warnings", "", _u("admin.roster_upload"),
          then=_preview_roster_with_warnings),
]

ROLES = list(ACCOUNTS)


def get_endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}


def test_every_page_is_checked(app: Flask):
    """Every GET endpoint of the app is either visited by some role below or named as not a
    page (download, API, static file) with a reason: a new page needs an accessibility check."""
    endpoints = get_endpoints(app)
    visited = {v.endpoint for v in VISITS if v.endpoint}
    assert not visited & set(NOT_PAGES), "an endpoint is both visited and excluded"
    unchecked = endpoints - visited - set(NOT_PAGES)
    assert not unchecked, f"pages without an accessibility check (add a Visit): {unchecked}"
    unknown = (visited | set(NOT_PAGES)) - endpoints
    assert not unknown, f"endpoints named here that the app no longer has: {unknown}"
    assert {v.role for v in VISITS} == set(ROLES)


# --- the demo world --------------------------------------------------------------------------


def _build(app: Flask) -> Demo:
    """The demo ward, plus a round open now for this fiscal year, some mail in its ledger."""
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        ward = db.session.scalars(sa.select(Ward).where(Ward.name == DEMO_WARD)).one()
        rounds = [  # 高津区's closed ones (the demo also has a round open now)
            r for r in db.session.scalars(sa.select(Round).order_by(Round.fiscal_year))
            if not r.is_open() and ward in r.wards
        ]
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
        ).one()
        now = datetime.now(UTC)
        open_round = Round(
            title="いまの自己点検（アクセシビリティ試験）",
            catalogue=catalogue,
            fiscal_year=fiscal_year_of(tokyo(now)),
            opens_at=now - timedelta(days=2),
            closes_at=now + timedelta(days=5),
            wards=[ward],
        )
        db.session.add(open_round)
        db.session.flush()
        schedule.plan(now)  # the opening mail and a reminder, pending in the ledger
        claimed = sending.claim(now, 6)
        for n, ledger_id in enumerate(claimed):
            if n % 2:
                sending.mark_sent(ledger_id, now)
            else:
                sending.mark_failed([ledger_id], now, "550 mailbox unavailable")
        mail_name = _demo_mailbox(app, sending.render(claimed[1:2], now)[0], now)

        def section_id(name: str) -> int:
            return db.session.scalars(
                sa.select(Section.id).where(Section.ward_id == ward.id, Section.name == name)
            ).one()

        team_id = db.session.scalars(
            sa.select(WorkingTeam.id).where(WorkingTeam.ward_id == ward.id).limit(1)
        ).one()
        staff = db.session.scalars(sa.select(Person).where(Person.employee_id == "100050")).one()
        create_next_year(catalogue, "takatsu-2026", "令和8年度 区役所サービス基準（高津区）")
        demo = Demo(
            ward_id=ward.id,
            open_round=open_round.id,
            latest_closed=rounds[-1].id,
            oldest_closed=rounds[0].id,
            kumin_id=section_id("区民課"),
            somu_id=section_id("総務課"),
            team_id=team_id,
            catalogue_key="takatsu-2025",
            password_token=password_link_token(staff),
            mail_name=mail_name,
            staff_id=staff.id,
            action_id=db.session.scalars(
                sa.select(ImprovementAction.id).order_by(ImprovementAction.id)
            ).first() or 0,
            other_ward_round=next(
                r.id
                for r in db.session.scalars(sa.select(Round).order_by(Round.fiscal_year.desc()))
                if [w.name for w in r.wards] == ["川崎区"]
            ),
        )
        db.session.commit()
        return demo


def _demo_mailbox(app: Flask, message: Outgoing, now: datetime) -> str:
    """The demo's mailbox turned on (in a folder of its own) with ``message`` in it, and the
    roster uploads kept in a folder of their own; the message's file name."""
    folder = Path(tempfile.mkdtemp(prefix="kijun-demo-mail-"))
    app.config.update(DEMO_MAILBOX=True, DEMO_MAIL_DIR=str(folder),
                      ROSTER_UPLOAD_DIR=tempfile.mkdtemp(prefix="kijun-roster-uploads-"))
    with FileMailer(folder).connect() as connection:
        connection.send(build_message(message, "kijun@city.test", now))
    (written,) = folder.iterdir()
    return written.name


# --- the checks -------------------------------------------------------------------------------


def _axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    script: str = AXE_SCRIPT
    return script


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_script())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return list(result["violations"])


def describe(violations: list[dict[str, Any]], where: str) -> list[str]:
    """One readable line per violation and element: page, rule, impact, selector, help."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"{where}: {v['id']} ({v['impact']}) at {target}: {v['help']}")
    return lines


def _sideways(page: Page) -> str | None:
    """None when the page does not scroll sideways, else the widths and the widest element."""
    found: str | None = page.evaluate(
        """() => {
          const root = document.documentElement;
          if (root.scrollWidth <= root.clientWidth) { return null; }
          let widest = null;
          for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.right > root.clientWidth + 1 && !el.closest('.table-scroll')) {
              widest = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (el.className && typeof el.className === 'string'
                   ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
              break;
            }
          }
          return `${root.scrollWidth} > ${root.clientWidth} (${widest})`;
        }"""
    )
    return found


FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className.trim()
       ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + (e.getAttribute('name') ? `[name=${e.getAttribute('name')}]` : '');
  // A radio button's or check box's ring is drawn around its whole label (the touch target).
  const box = el.matches('input[type=radio], input[type=checkbox]') && el.closest('.choice')
    ? el.closest('.choice') : el;
  const style = getComputedStyle(box);
  if (style.outlineStyle === 'none' || parseFloat(style.outlineWidth) < 2) {
    return [name(el), `no focus ring (outline ${style.outlineStyle} ${style.outlineWidth})`];
  }
  const rgba = s => {
    const m = s.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  let behind = [255, 255, 255, 1];
  for (let p = box.parentElement; p; p = p.parentElement) {
    const c = rgba(getComputedStyle(p).backgroundColor);
    if (c[3] > 0.5) { behind = c; break; }
  }
  const lum = c => c.slice(0, 3)
    .map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const a = lum(rgba(style.outlineColor)), b = lum(behind);
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  return [name(el), ratio < 3 ? `focus ring contrast ${ratio.toFixed(2)}:1 (< 3:1)` : null];
}"""

TAB_STOPS = 15  # focus stops checked from the top of each page


def layout_problems(page: Page, visit: Visit) -> list[str]:
    """The site's frame: lang, one main and one h1, the skip link as the first focus stop;
    a visible focus ring (at least 2 px, 3:1 against what is behind it) on the first
    TAB_STOPS stops; no positive tabindex (focus follows the reading order); each chart with a
    heading, a one-sentence finding and its table, nothing focusable inside, no modebar."""
    problems = []
    lang = page.locator("html").get_attribute("lang")
    if lang not in ("ja", "en"):
        problems.append(f"html lang is {lang!r}")
    if not visit.standalone:
        for selector in ("main#main", "h1"):
            count = page.locator(selector).count()
            if count != 1:
                problems.append(f"{count} × {selector} (want exactly one)")
    # After a failed form the error summary has the focus: the walk starts there.
    first = visit.then is None
    for _ in range(TAB_STOPS):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUS_RING)
        if found is None:
            break
        element, problem = found
        if first and not visit.standalone and not element.startswith("a.skip-link"):
            problems.append(f"first Tab stop is {element}, not the skip link")
        first = False
        if problem:
            problems.append(f"{element}: {problem}")
    ahead = page.locator("[tabindex]:not([tabindex='0']):not([tabindex^='-'])").count()
    if ahead:
        problems.append(f"{ahead} elements with a positive tabindex (focus order ≠ reading order)")
    if not visit.standalone and page.locator("a.skip-link[href='#main']").count() != 1:
        problems.append("no skip link to #main")
    charts = page.locator("[data-chart]")
    if charts.count():
        focusable = page.evaluate(
            """() => [...document.querySelectorAll('[data-chart]')].flatMap(box =>
                 [...box.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
                   .filter(e => e.tabIndex >= 0)).length"""
        )
        if focusable:
            problems.append(f"{focusable} focusable elements inside the charts")
        if page.locator(".modebar").count():
            problems.append("a Plotly modebar is shown")
        bare = page.evaluate(
            """() => [...document.querySelectorAll('[data-chart]')].filter(box => {
                 const figure = box.closest('figure');
                 return !figure || !figure.querySelector('h2, h3, h4')?.textContent.trim()
                   || !figure.querySelector('figcaption')?.textContent.trim()
                   || !figure.querySelector('table thead th');
               }).map(box => box.id)"""
        )
        if bare:
            problems.append(f"charts without a heading, a summary and a table: {bare}")
    return problems


CLIPPED = """() => [...document.querySelectorAll('body *')].filter(el => {
    // Form fields scroll their own text; hidden text, charts and table regions are meant to.
    if (el.closest('.visually-hidden, [data-chart], .table-scroll')
        || el.matches('input, textarea, select')) { return false; }
    const style = getComputedStyle(el);
    const hides = v => v === 'hidden' || v === 'clip';
    return (hides(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
        || (hides(style.overflowY) && el.scrollHeight > el.clientHeight + 1);
  }).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')).slice(0, 5)"""


# Table cells whose text stands one character per line (a column squeezed to one glyph's
# width): per cell, the characters of its text are grouped into lines by their boxes
# (Range.getClientRects of each character); a cell of more than 2 characters with 2 or more
# lines of a single character is reported. Closed <details> are opened first, so that the
# tables of the charts are measured too.
STACKED = r"""() => {
  document.querySelectorAll('details:not([open])').forEach(d => { d.open = true; });
  const found = [];
  for (const cell of document.querySelectorAll('th, td')) {
    if (cell.closest('.visually-hidden') || !cell.getClientRects().length) { continue; }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const lines = [];
    let previous = null, total = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('.visually-hidden')) { continue; }
      const text = node.textContent;
      for (let i = 0; i < text.length; i++) {
        if (/\s/.test(text[i])) { continue; }
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getClientRects()[0];
        if (!box || box.width === 0) { continue; }
        if (previous === null || box.top >= previous.bottom - 2) { lines.push(0); }
        lines[lines.length - 1] += 1;
        previous = box;
        total += 1;
      }
    }
    if (total > 2 && lines.filter(n => n < 2).length >= 2) {
      found.push(`${cell.tagName.toLowerCase()} 「${cell.innerText.trim().slice(0, 16)}」`
        + ` in ${lines.length} lines`);
    }
  }
  return found.slice(0, 8);
}"""


def stacked_cells(page: Page) -> list[str]:
    """Table cells that wrap one character per line (see STACKED)."""
    found: list[str] = page.evaluate(STACKED)
    return [f"one character per line: {cell}" for cell in found]


# Rates that need a sideways scroll to be seen: every rate of every results table (a round's,
# a section's, the weak standards, a breakdown's, the city's) must lie inside the screen,
# left and right edges both (a box's rectangle ignores the clipping of its scrolling region,
# so a rate that is only reached by scrolling that region sideways is reported too).
OFFSCREEN_RATES = """width => {
  const found = [];
  const tables = 'table.compliance, table.breakdown, table.city-table';
  const outside = td => {
    const box = td.getBoundingClientRect();
    return box.left < -1 || box.right > width + 1;
  };
  for (const table of document.querySelectorAll(tables)) {
    for (const row of table.querySelectorAll('tbody tr')) {
      const out = [...row.querySelectorAll('td.num')].find(outside);
      if (out) {
        found.push(`${table.id || table.className}: ${row.querySelector('th')?.innerText.trim()
          .split(String.fromCharCode(10))[0]}`
          + ` at ${Math.round(out.getBoundingClientRect().right)} px`);
        break;
      }
    }
  }
  return found;
}"""


def offscreen_rates(page: Page, width: int) -> list[str]:
    """Rates outside a ``width`` px screen without scrolling sideways (see OFFSCREEN_RATES)."""
    found: list[str] = page.evaluate(OFFSCREEN_RATES, width)
    return [f"rate off the screen: {where}" for where in found]


def zoom_problems(page: Page) -> list[str]:
    """At 200 % text: no sideways scroll and no box that cuts its content off."""
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    problems = []
    wide = _sideways(page)
    if wide:
        problems.append(f"with 200% text: scrolls sideways: {wide}")
    clipped = page.evaluate(CLIPPED)
    if clipped:
        problems.append(f"with 200% text: content cut off in {clipped}")
    page.evaluate("() => { document.documentElement.style.fontSize = ''; }")
    return problems


def _sign_in(page: Page, employee_id: str) -> None:
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", employee_id)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")


def _wait_for_charts(page: Page, width: int | None = None) -> None:
    """Every chart drawn; with ``width``, also redrawn to fit it (plotly follows a resize)."""
    for box in page.locator("[data-chart]").all():
        expect(box).to_have_attribute("data-rendered", "true")
    if width is not None and page.locator("[data-chart]").count():
        page.wait_for_function(
            """width => [...document.querySelectorAll('[data-chart] svg.main-svg')]
                 .every(svg => svg.getBoundingClientRect().right <= width)""",
            arg=width,
        )


# Every role in Japanese; the staff member's and the public pages in English too.
LANGUAGE_RUNS = [(role, "ja") for role in ROLES] + [("anonymous", "en"), ("staff", "en")]


@pytest.mark.parametrize(("role", "language"), LANGUAGE_RUNS)
def test_every_page_passes_axe_and_fits_360px(
    page: Page, live_server: LiveServer, role: str, language: str
):
    """Each page this role can reach answers with the expected status, has no WCAG 2.1 A/AA
    violation found by axe-core at 1280 px nor at 360 px, has the skip link, visible focus and
    sane charts, and neither scrolls sideways nor cuts text off at 360 px, with 100 % or 200 %
    text."""
    app = live_server.app
    demo = _build(app)
    account = ACCOUNTS[role]
    if account is not None:
        _sign_in(page, account)
    if language != "ja":
        page.goto(f"/language/{language}")
        assert page.locator("html").get_attribute("lang") == language
    visits = [v for v in VISITS if v.role == role]
    problems: list[str] = []
    checked = 0
    for visit in visits:
        with app.test_request_context():
            url = visit.url(demo)
        where = f"{role} [{language}] / {visit.name} ({url})"
        page.set_viewport_size({"width": 1280, "height": 800})
        response = page.goto(url)
        assert response is not None
        if visit.then is not None:
            visit.then(page)
        else:
            assert response.status == visit.status, f"{where}: HTTP {response.status}"
        if visit.endpoint:
            path = urlsplit(page.url).path
            matched, _args = app.url_map.bind("localhost").match(path)
            assert matched == visit.endpoint, f"{where}: landed on {matched}"
        _wait_for_charts(page)
        problems += describe(run_axe(page), f"{where} @1280")
        problems += [f"{where} @1280: {p}" for p in layout_problems(page, visit)]
        problems += [f"{where} @1280: {p}" for p in zoom_problems(page)]
        page.set_viewport_size({"width": 360, "height": 740})
        _wait_for_charts(page, 360)
        wide = _sideways(page)
        if wide:
            problems.append(f"{where} @360: scrolls sideways: {wide}")
        problems += describe(run_axe(page), f"{where} @360")
        if not visit.standalone:  # print views are laid out for A4 paper
            problems += [f"{where} @360: {p}" for p in zoom_problems(page)]
            problems += [f"{where} @360: {p}" for p in offscreen_rates(page, 360)]
            problems += [f"{where} @360: {p}" for p in stacked_cells(page)]
        checked += 1
    assert checked == len(visits) > 0
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)


def test_axe_reports_a_planted_violation(page: Page, live_server: LiveServer):
    """The harness really runs axe-core: an image without alt text and pale grey text planted
    in the home page come back as image-alt and color-contrast violations, readably."""
    page.goto("/")
    assert run_axe(page) == []
    page.evaluate(
        """() => {
          const main = document.querySelector('main');
          main.insertAdjacentHTML('beforeend',
            '<img id="planted-img" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            + '<p id="planted-text">うすい文字</p>');
          document.getElementById('planted-text').style.color = '#ccc';  // CSSOM: CSP allows
        }"""
    )
    lines = describe(run_axe(page), "home")
    assert any(line.startswith("home: image-alt (critical) at #planted-img") for line in lines)
    assert any("color-contrast (serious) at #planted-text" in line for line in lines)


def test_error_pages_are_the_sites_own(client):
    """404, 403 and 405 outside /api/ are Japanese pages in the site's layout (lang, skip link,
    heading); under /api/ the errors stay JSON."""
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert '<html lang="ja">' in text
    assert 'class="skip-link" href="#main"' in text
    assert "<h1>ページが見つかりません</h1>" in text
    wrong_method = client.get("/auth/logout")
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["Allow"]
    assert "<h1>この操作はできません</h1>" in wrong_method.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.is_json and api.get_json()["error"] == "not_found"


def test_layout_checks_catch_planted_problems(page: Page, live_server: LiveServer):
    """The layout checks are not vacuous: a box that cuts its text off at 200 %, a too-wide
    block, a positive tabindex and a button without a focus ring are all reported."""
    home = Visit("anonymous", "home", "main.index", _u("main.index"))
    page.goto("/")
    assert zoom_problems(page) == []
    assert layout_problems(page, home) == []
    page.goto("/")
    page.evaluate(
        """() => {
          const main = document.querySelector('main');
          main.insertAdjacentHTML('afterbegin',
            '<p id="planted-clip">切れてしまう長い文章です。切れてしまう長い文章です。</p>'
            + '<button id="planted-button" tabindex="2">押す</button>');
          const clip = document.getElementById('planted-clip');
          Object.assign(clip.style, {height: '1.5rem', width: '10rem', overflow: 'hidden'});
          document.getElementById('planted-button').style.outline = 'none';
        }"""
    )
    zoomed = zoom_problems(page)
    assert any("cut off in ['p#planted-clip']" in p for p in zoomed), zoomed
    page.evaluate("() => { document.getElementById('planted-clip').style.width = '3000px'; }")
    assert any("scrolls sideways" in p for p in zoom_problems(page))
    found = layout_problems(page, home)
    assert any("positive tabindex" in p for p in found), found
    assert any(p.startswith("button#planted-button: no focus ring") for p in found), found


def test_table_checks_catch_planted_problems(page: Page, live_server: LiveServer):
    """The 360 px table checks are not vacuous: a heading squeezed to one character a line,
    a compliance rate pushed off the screen and a city table's later rate that needs a
    sideways scroll of its region are all reported; a 2-character cell is not."""
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/")
    assert stacked_cells(page) == [] and offscreen_rates(page, 360) == []
    page.evaluate(
        """() => {
          document.querySelector('main').insertAdjacentHTML('afterbegin',
            '<table class="compliance"><thead><tr><th id="planted-th">地域みまもり支援センター</th>'
            + '<th>区</th></tr></thead><tbody><tr><th>基準1</th><td class="num">'
            + '97.8</td></tr></tbody></table>');
          document.getElementById('planted-th').style.width = '1em';
          document.getElementById('planted-th').style.maxWidth = '1em';
          document.querySelector('table.compliance').style.marginLeft = '400px';
        }"""
    )
    stacked = stacked_cells(page)
    assert any("「地域みまもり支援センター」 in 12 lines" in line for line in stacked), stacked
    assert not any("「区」" in line for line in stacked)
    off = offscreen_rates(page, 360)
    assert len(off) == 1 and off[0].startswith("rate off the screen: compliance: 基準1 at "), off
    # A city table's later rate, reached only by scrolling its region sideways, counts too.
    page.evaluate(
        """() => {
          document.querySelector('table.compliance').remove();
          document.querySelector('main').insertAdjacentHTML('afterbegin',
            '<div class="table-scroll" id="planted-region"><table class="table city-table">'
            + '<tbody><tr><th scope="row">基準2</th><td class="num">98.8</td>'
            + '<td class="num" id="planted-far">97.1</td></tr></tbody></table></div>');
          document.getElementById('planted-far').style.paddingLeft = '400px';
        }"""
    )
    assert _sideways(page) is None
    off = offscreen_rates(page, 360)
    assert len(off) == 1 and off[0].startswith("rate off the screen: table city-table: 基準2"), off
