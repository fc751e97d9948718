"""The checklist in Debian's chromium: sign in, answer, fix a missed item, submit and sign out
with the keyboard alone; and the page on a 360 px phone and at 200 % text.

Screenshots go to the test's tmp_path; set KIJUN_SCREENSHOT_DIR (e.g. ``docs``) to keep them as
``checklist-360.png`` and ``checklist-1280.png``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Page, expect
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import Assignment, Audience, Catalogue, Person, Role, Round, Section
from app.services.catalogue.catalogues import load_catalogues
from app.wareki import fiscal_year_of, tokyo
from tests import factories
from tests.browser_support import LiveServer

PASSWORD = "kijun-browser-pass-2025"  # noqa: S105 - a test account's password


@dataclass
class Setup:
    employee_id: str
    round_id: int
    keys: list[str]


def _setup(live_server: LiveServer, role: Role = Role.STAFF) -> Setup:
    """The city catalogue, a person with a password and an open round covering their ward."""
    app = live_server.app
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]) / "city-2024.yaml")
        catalogue = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == "city-2024"))
        assert catalogue is not None
        now = datetime.now(UTC)
        fy = fiscal_year_of(tokyo(now))
        section = factories.section("総務課", kinds=("庁舎管理担当課",))
        person = factories.person(
            section=section, role=role, fiscal_year=fy, employee_id="K000123", name="鍵盤 太郎"
        )
        person.password_hash = generate_password_hash(PASSWORD)
        round_ = Round(
            title="令和の自己点検（ブラウザ）",
            catalogue=catalogue,
            fiscal_year=fy,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=14),
            wards=[section.ward],
        )
        db.session.add(round_)
        db.session.commit()
        keys = [
            s.key
            for s in catalogue.standards
            if s.audience == Audience.EVERYONE and not s.ward_specific
        ]
        return Setup(person.employee_id, round_.id, keys)


def _active(page: Page, prop: str) -> str:
    return page.evaluate(f"() => document.activeElement?.{prop} ?? ''") or ""


def _tab_until(page: Page, check, what: str, limit: int = 40) -> None:
    """Press Tab until ``check(page)`` holds; fail after ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if check(page):
            return
    raise AssertionError(f"Tab never reached {what}")


def _tab_to_name(page: Page, name: str, limit: int = 40) -> None:
    _tab_until(page, lambda p: _active(p, "name") == name, f"[name={name}]", limit)


def _tab_to_text(page: Page, text: str) -> None:
    _tab_until(page, lambda p: _active(p, "textContent").strip().startswith(text), text)


def _sign_in(page: Page, employee_id: str) -> None:
    page.goto("/auth/login")
    _tab_to_name(page, "employee_id")
    page.keyboard.type(employee_id)
    _tab_to_name(page, "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/me")


def test_checklist_by_keyboard_alone(page: Page, live_server):
    """Sign in, open the checklist, choose every answer with Tab/arrows/Space, save a draft,
    submit with one item missing (the error summary takes focus, its link leads to the item,
    whose fieldset is described by its message), finish, submit, see 提出済み on /me and sign
    out: never touching the mouse."""
    setup = _setup(live_server)
    _sign_in(page, setup.employee_id)
    expect(page.get_by_role("heading", level=1, name="わたしの調査")).to_be_visible()
    expect(page.locator(".round-card")).to_contain_text("未回答")

    _tab_to_text(page, "回答する")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/rounds/{setup.round_id}/checklist")
    progress = page.locator("#progress")
    expect(progress).to_have_text("回答済み 0 / 全 23 項目")
    expect(progress).to_have_attribute("aria-live", "polite")  # announced, without interrupting

    order = page.locator("fieldset").evaluate_all("els => els.map(e => e.id.slice(5))")
    assert sorted(order) == sorted(setup.keys)
    chosen: dict[str, str] = {}
    for index, key in enumerate(order[:-1]):
        _tab_to_name(page, key)
        move = index % 3  # 0: Space on できている, 1: ↓ to できていない, 2: ↓↓ to 該当しない
        if move == 0:
            page.keyboard.press("Space")
        for _ in range(move):
            page.keyboard.press("ArrowDown")
        chosen[key] = ("yes", "no", "na")[move]
        expect(page.locator(f"input[name='{key}']:checked")).to_have_value(chosen[key])
    expect(progress).to_have_text(f"回答済み {len(order) - 1} / 全 23 項目")

    # Save a draft: the page comes back with every answer and the count kept.
    _tab_to_name(page, "save_draft")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("一時保存しました。")
    expect(page.locator("dl.facts")).to_contain_text("一時保存中")
    expect(progress).to_have_text(f"回答済み {len(order) - 1} / 全 23 項目")
    for key, value in chosen.items():
        expect(page.locator(f"input[name='{key}']:checked")).to_have_value(value)

    # Submit too early: the summary is focused and leads to the missing item, whose fieldset
    # points at its message with aria-describedby.
    _tab_to_name(page, "submit_answers", limit=80)
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary.locator("a")).to_have_count(1)
    last = order[-1]
    fieldset = page.locator(f"fieldset#item-{last}")
    expect(fieldset).to_have_attribute("aria-describedby", f"item-{last}-error")
    expect(fieldset.locator("legend")).to_contain_text("No.")
    expect(page.locator(f"#item-{last}-error")).to_contain_text("まだ選ばれていません")
    expect(fieldset.get_by_role("radio")).to_have_count(3)
    page.keyboard.press("Tab")
    expect(summary.locator("a")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f"#{last}-0")).to_be_focused()
    for key, value in chosen.items():
        expect(page.locator(f"input[name='{key}']:checked")).to_have_value(value)
    page.keyboard.press("Space")
    chosen[last] = "yes"
    expect(progress).to_have_text("回答済み 23 / 全 23 項目")

    _tab_to_name(page, "submit_answers")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("提出しました。締め切りまでは回答を直せます。")
    # The receipt: the answers as stored, with the time.
    expect(page.locator("h1")).to_have_text("提出した回答の控え")
    expect(page.locator("#submitted-at")).not_to_be_empty()
    for key, value in chosen.items():
        expect(page.locator(f"#receipt-{key} .answer")).to_have_attribute("data-value", value)

    # To my page through the header, still by keyboard.
    _tab_to_text(page, "わたしの調査")
    page.keyboard.press("Enter")
    page.wait_for_url("**/me")
    card = page.locator(".round-card")
    expect(card).to_contain_text("提出済み")
    expect(card.get_by_role("link", name="回答を見直す")).to_be_visible()

    _tab_to_text(page, "サインアウト")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("サインアウトしました。")
    expect(page.get_by_role("link", name="サインイン")).to_be_visible()


def _no_sideways_scroll(page: Page, where: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where} scrolls sideways: {widths}"


def test_checklist_fits_a_phone_and_200_percent_text(page: Page, live_server, tmp_path):
    """A chief's checklist at 360 px and at 1280 px (screenshots), and at 200 % text, never
    scrolls sideways; each choice is a touch target at least 44 px high."""
    setup = _setup(live_server, role=Role.CHIEF)
    _sign_in(page, setup.employee_id)
    page.goto(f"/rounds/{setup.round_id}/checklist")
    for key, value in zip(setup.keys[:4], ("yes", "no", "na", "yes"), strict=True):
        page.locator(f"input[name='{key}'][value='{value}']").check()
    page.get_by_role("button", name="一時保存").click()
    expect(page.locator(".flash")).to_have_text("一時保存しました。")
    out = Path(os.environ.get("KIJUN_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)

    for width, height in ((1280, 900), (360, 740)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/rounds/{setup.round_id}/checklist")
        expect(page.locator("h1")).to_be_visible()
        _no_sideways_scroll(page, f"checklist at {width}px")
        # The top of the page: header, facts, progress and the first items.
        page.screenshot(
            path=str(out / f"checklist-{width}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": 1400 if width < 600 else height},
        )
        heights = page.locator("label.choice").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert min(heights) >= 44, f"choices lower than 44px at {width}px: {min(heights)}"

    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"/rounds/{setup.round_id}/checklist")
        page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
        _no_sideways_scroll(page, f"checklist at {width}px with 200% text")
    page.goto("/me")
    _no_sideways_scroll(page, "/me at 200% text")


def _submit_everything(live_server: LiveServer, setup: Setup) -> None:
    """The person's answers to every item, submitted, with a comment or two (one long)."""
    with live_server.app.app_context():
        person = db.session.scalars(
            sa.select(Person).where(Person.employee_id == setup.employee_id)
        ).one()
        section = db.session.get(Section, db.session.scalars(
            sa.select(Assignment.section_id).where(Assignment.person_id == person.id)
        ).one())
        round_ = db.session.get(Round, setup.round_id)
        assert round_ is not None and section is not None
        values = {key: ("yes", "no", "na")[i % 3] for i, key in enumerate(setup.keys)}
        comments = {
            setup.keys[0]: "窓口の案内板が見えにくいので、文字を大きくしてほしいという声があった。",
            setup.keys[5]: "電話が集中する時間帯は、折り返しの連絡を約束して対応している。",
        }
        factories.response(round_, person, values, section=section, comments=comments)
        db.session.commit()


def test_the_receipt_reads_on_a_phone(page: Page, live_server):
    """At 360 px the receipt gives each standard's text room for at least 8 characters a line
    (its content box at least 8 × its font size wide), puts the answer under the text, and is
    no taller than the checklist of the same round; it never scrolls sideways."""
    setup = _setup(live_server)
    _submit_everything(live_server, setup)
    _sign_in(page, setup.employee_id)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"/rounds/{setup.round_id}/checklist")
    expect(page.locator("fieldset").first).to_be_visible()
    checklist_height = page.evaluate("() => document.documentElement.scrollHeight")

    page.goto(f"/rounds/{setup.round_id}/receipt")
    expect(page.locator("h1")).to_have_text("提出した回答の控え")
    _no_sideways_scroll(page, "the receipt at 360px")
    cells = page.locator(".receipt td.std-text").evaluate_all(
        """els => els.map(e => {
            const s = getComputedStyle(e), r = e.getBoundingClientRect();
            return {width: r.width - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight),
                    font: parseFloat(s.fontSize)};
        })"""
    )
    assert len(cells) == len(setup.keys)
    narrow = [c for c in cells if c["width"] < 8 * c["font"]]
    assert not narrow, f"standards' text narrower than 8 characters at 360px: {narrow[:3]}"
    # The answer stands under its standard's text, not in a column beside it.
    first = f"#receipt-{setup.keys[0]}"
    text_box = page.locator(f"{first} .std-text").bounding_box()
    answer_box = page.locator(f"{first} .answer").bounding_box()
    assert text_box is not None and answer_box is not None
    assert answer_box["y"] >= text_box["y"] + text_box["height"] - 1
    receipt_height = page.evaluate("() => document.documentElement.scrollHeight")
    assert receipt_height <= checklist_height, (receipt_height, checklist_height)
