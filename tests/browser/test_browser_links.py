"""A sign-in link in Debian's chromium: the opening mail arrives through a real SMTP server
(aiosmtpd), a staff member follows its link on a 360 px phone, answers and submits; the
session is refused on the admin pages; no request carries the token in its Referer; after
sign-out the link is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from playwright.sync_api import Page, Request, expect

from app.extensions import db
from app.models import Grant, GrantRole
from app.scheduler import tick
from app.wareki import fiscal_year_of, tokyo
from tests import factories
from tests.browser_support import LiveServer
from tests.operations.test_scheduler import SmtpServer


@pytest.fixture
def browser_context_options() -> dict[str, object]:
    """A phone: 360 px wide."""
    return {"locale": "ja-JP", "timezone_id": "Asia/Tokyo",
            "viewport": {"width": 360, "height": 740}}


@pytest.fixture
def smtp(app: Flask) -> Iterator[SmtpServer]:
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    server.start()
    yield server
    server.stop()


def test_a_staff_member_answers_on_a_phone_from_the_mails_link(
    page: Page, live_server: LiveServer, smtp: SmtpServer
) -> None:
    """The link in the opening mail opens the checklist signed in, at 360 px without sideways
    scrolling; the answers are submitted; the admin pages ask for the password; the token is
    in no Referer; after sign-out the same link is refused."""
    app = live_server.app
    app.config["BASE_URL"] = live_server.url
    year = fiscal_year_of(tokyo(datetime.now(UTC)))
    with app.app_context():
        person = factories.person(section=factories.section("区民課"), fiscal_year=year,
                                  name="電話 花子")
        person.grants.append(Grant(role=GrantRole.ADMIN))  # an admin too: still refused
        round_ = factories.round_(factories.catalogue("phone", fiscal_year=year))
        round_.reminder_days = ""  # the opening mail only
        db.session.commit()
        address, round_id = person.email or "", round_.id
        tick(datetime.now(UTC))
    (message,) = smtp.inbox.to(address)
    found = re.search(r"^(http://127\.0\.0\.1:\d+/r/([A-Za-z0-9_-]{43}))$",
                      message.get_content(), re.MULTILINE)
    assert found is not None
    link, token = found.group(1), found.group(2)
    referers: list[str] = []

    def note(request: Request) -> None:
        referers.append(request.headers.get("referer", ""))

    page.on("request", note)
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/rounds/{round_id}/checklist$"))
    expect(page.locator(".account-name")).to_have_text("電話 花子")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    for n in (1, 2, 3):
        page.locator(f"input[name='std-{n}'][value='yes']").check()
    page.get_by_role("button", name="提出する").click()
    expect(page).to_have_url(re.compile(rf"/rounds/{round_id}/receipt$"))

    page.goto("/admin/rounds")
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.get_by_text("この操作にはパスワードでのサインインが必要です。")).to_be_visible()

    page.get_by_role("button", name="サインアウト").click()
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("このリンクは使えません。")
    page.goto(f"/rounds/{round_id}/checklist")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    # Neither the checklist's requests nor the refusal page's (its style sheet) named the token.
    assert len(referers) > 5 and not any(token in referer for referer in referers), referers
