"""A ward's first year in Kijun, on an empty database, in Debian's chromium (issue 31's "Done
when"): the first admin made from the command line signs in through the printed password
link; downloads the roster template, imports a roster with a section without 所属長 (the warning
shown, then acknowledged), loads last year's catalogue and imports last year's published table,
and creates a round opening now. The scheduler runs as its own process (`flask scheduler run`
on the test's database) and sends the opening mail to a real SMTP server (aiosmtpd); the admin
pages show its heartbeat. A staff member follows the mail's link on a 360 px page and submits;
that session is refused on the results and admin pages; the link is refused after sign-out, for
a leaver (a roster without them) and after the close."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.extensions import db
from app.models import Round
from app.wareki import TOKYO, fiscal_year_of, tokyo
from tests.browser_support import LiveServer
from tests.operations.test_scheduler import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = ROOT / "surveys"
PUBLISHED_CSV = ROOT / "tests" / "data" / "takatsu-published-r6-r7.csv"
PASSWORD = "first-admin-password-2026"
WAIT_BOUND = 90  # seconds any wait may take before the test gives up (not a timing)
HEADER = "職員番号,氏名,メールアドレス,区,部,課,役割"
# 総務課: a chief and five staff; 区民課: six staff and no chief (the warning). The admin is one
# of 総務課's staff. Groups of 5 or more, so nothing the round shows is hidden.
ROSTER = [
    HEADER,
    "900001,総務 事務,soumu@example.jp,高津区,まちづくり推進部,総務課,職員",
    "200001,総務 課長,chief@example.jp,高津区,まちづくり推進部,総務課,所属長",
    *(f"20000{n},総務 職員{n},somu{n}@example.jp,高津区,まちづくり推進部,総務課,職員"
      for n in range(2, 6)),
    *(f"30000{n},区民 職員{n},kumin{n}@example.jp,高津区,区民サービス部,区民課,職員"
      for n in range(1, 7)),
]
STAFF, LEAVER, AFTER_CLOSE = "kumin1@example.jp", "kumin2@example.jp", "kumin3@example.jp"
LINK = re.compile(r"^(http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{43})$", re.MULTILINE)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scheduler(
    app: Flask, database_url: str, live_server: LiveServer, smtp: SmtpServer, tmp_path: Path
) -> Iterator[Path]:
    """`flask --app wsgi scheduler run` in its own process, on the test's database (the app
    fixture's SQLite file or PostgreSQL database), ticking every 2 s, sending to the SMTP sink;
    its log's path. Stopped (SIGTERM) before the app fixture empties the database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_SECRET_KEY": app.config["SECRET_KEY"],
        "FLASK_AUDIT_ANCHOR_PATH": app.config["AUDIT_ANCHOR_PATH"],
        "FLASK_ROSTER_UPLOAD_DIR": app.config["ROSTER_UPLOAD_DIR"],
        "FLASK_BASE_URL": live_server.url,
        "FLASK_MAIL_HOST": "127.0.0.1",
        "FLASK_MAIL_PORT": str(smtp.port),
        "FLASK_MAIL_FROM": "kijun@example.jp",
        "FLASK_SCHEDULER_INTERVAL_SECONDS": "2",
        "FLASK_SCHEDULER_LOCK_KEY": str(random.randint(1, 2**31)),
    }
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(what: str, condition: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + WAIT_BOUND
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}:\n{log.read_text(encoding='utf-8')}")
        time.sleep(0.2)


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


def _first_admin(app: Flask, live_server: LiveServer) -> str:
    """`users create-admin` on the empty database; the printed password link's path."""
    result = app.test_cli_runner().invoke(args=[
        "users", "create-admin", "900001", "--name", "総務 事務", "--email", "soumu@example.jp",
        "--ward", "高津区", "--base-url", live_server.url,
    ])
    assert result.exit_code == 0, result.output
    found = re.search(r"^http://[^/]+(/auth/set-password/\S+)$", result.output, re.MULTILINE)
    assert found is not None, result.output
    return found.group(1)


def _set_password_and_sign_in(page: Page, path: str) -> None:
    page.goto(path)
    page.get_by_label("新しいパスワード", exact=True).fill(PASSWORD)
    page.get_by_label("新しいパスワード（確認）").fill(PASSWORD)
    page.get_by_role("button", name="設定する").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.get_by_label("職員番号").fill("900001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    expect(page.locator(".account-name")).to_have_text("総務 事務")


def _template(page: Page) -> None:
    """The roster page's CSV template is a file with the import's headings."""
    page.goto("/admin/roster")
    downloads = page.locator("ul.downloads li").filter(has_text="ひな形")
    with page.expect_download() as info:
        downloads.get_by_role("link", name="CSV").click()
    path = info.value.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert {"職員番号", "氏名", "メールアドレス", "区", "課", "役割"} <= set(rows[0]), rows[0]
    assert len(rows) >= 2  # the example row


def _import_roster(page: Page, year: int, path: Path) -> None:
    """Upload the roster: the chief-less 区民課 is warned of, 「確認しました」 ticked, imported."""
    page.goto("/admin/roster")
    page.get_by_label("年度（西暦、4月始まり）").fill(str(year))
    page.get_by_label("名簿のファイル（.csv または .xlsx）").set_input_files(str(path))
    page.get_by_role("button", name="変わる内容を確認する").click()
    expect(page.locator("[data-warning=no_chief]")).to_contain_text("区民課 に所属長がいません")
    page.get_by_label("確認しました（注意があっても、この内容で取り込みます）").check()
    page.get_by_role("button", name="この内容で取り込む").click()
    expect(page.locator(".flash-success").first).to_contain_text("高津区")


def _last_years_table(page: Page, year: int) -> None:
    """Load last year's catalogue in the browser, then import last year's published table."""
    page.goto("/admin/published")
    page.get_by_label("カタログのファイル（.yaml）").set_input_files(
        str(SURVEYS / "takatsu-2025.yaml"))
    page.get_by_role("button", name="カタログを読み込む").click()
    expect(page.locator(".flash-success").first).to_contain_text("takatsu-2025")
    page.get_by_label("区", exact=True).select_option(label="高津区")
    page.get_by_label("年度（西暦）").fill(str(year - 1))
    page.get_by_label("遵守率の表（.csv または .xlsx）").set_input_files(str(PUBLISHED_CSV))
    page.get_by_role("button", name="確かめる").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("取り込む表の確認")
    page.get_by_role("button", name="取り込む").click()
    expect(page.locator("table").filter(has_text="高津区").first).to_be_visible()


def _create_round(page: Page) -> int:
    """A round on last year's standards (the year confirmed), opening this minute."""
    now = datetime.now(UTC).astimezone(TOKYO)
    page.goto("/admin/rounds/new")
    page.get_by_label("基準（カタログ）").select_option(value="takatsu-2025")
    page.get_by_label("高津区").check()
    page.get_by_label("受付開始（東京時間）").fill(now.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("締め切り（東京時間）").fill(
        (now + timedelta(days=14)).strftime("%Y-%m-%dT17:15"))
    confirmations = ["すぐにメールが送られることを確かめました",
                     "年度の違う基準で調査することを確かめました"]
    while confirmations:  # the form asks for each confirmation before it saves
        page.get_by_role("button", name="保存する").click()
        asked = page.locator(".notice[role=alert] input[type=checkbox]")
        expect(page.locator(".flash-success").or_(asked.first)).to_be_visible()
        if page.locator(".flash-success").count():
            break
        for index in range(asked.count()):
            box = asked.nth(index)
            if not box.is_checked():
                confirmations.remove(page.locator(f"label[for='{box.get_attribute('id')}']")
                                     .inner_text().strip())
                box.check()
    else:
        page.get_by_role("button", name="保存する").click()
    expect(page.locator(".flash-success").first).to_be_visible()
    found = re.search(r"/admin/rounds/(\d+)", page.locator(
        "a[href*='/admin/rounds/'][href$='/edit']").first.get_attribute("href") or "")
    assert found is not None
    return int(found.group(1))


def _link_for(smtp: SmtpServer, address: str) -> str:
    (message,) = smtp.inbox.to(address)
    found = LINK.search(message.get_content())
    assert found is not None, message.get_content()
    return found.group(1)


def _answer_on_a_phone(browser: Browser, live_server: LiveServer, link: str,
                       round_id: int) -> Page:
    """A staff member's phone (360 px): the link opens their checklist signed in; every item
    answered and submitted, without sideways scrolling."""
    context = browser.new_context(base_url=live_server.url, locale="ja-JP",
                                  timezone_id="Asia/Tokyo",
                                  viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    phone = context.new_page()
    phone.goto(link)
    expect(phone).to_have_url(re.compile(rf"/rounds/{round_id}/checklist$"))
    expect(phone.locator(".account-name")).to_have_text("区民 職員1")
    widths = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    answers = phone.locator("input[type=radio][value='yes']")
    assert answers.count() >= 20
    for index in range(answers.count()):
        answers.nth(index).check()
    phone.get_by_role("button", name="提出する").click()
    expect(phone).to_have_url(re.compile(rf"/rounds/{round_id}/receipt$"))
    return phone


def _refused(page: Page, link: str) -> None:
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("このリンクは使えません。")


def test_a_wards_first_year_from_an_empty_database(
    page: Page, browser: Browser, live_server: LiveServer, smtp: SmtpServer, scheduler: Path,
    tmp_path: Path,
) -> None:
    """From the first admin made on the command line to a staff member's submitted checklist
    from the opening mail, through the roster, last year's table and the round, with the
    scheduler in its own process; the link's session and the link itself are refused where
    they must be."""
    app = live_server.app
    year = fiscal_year_of(tokyo(datetime.now(UTC)))
    _set_password_and_sign_in(page, _first_admin(app, live_server))
    _template(page)
    _import_roster(page, year, _csv(tmp_path / "roster.csv", ROSTER))
    _last_years_table(page, year)
    round_id = _create_round(page)

    _wait_for("the opening mail", lambda: len(smtp.inbox.recipients()) == len(ROSTER) - 1,
              scheduler)
    page.goto("/admin/rounds")
    expect(page.locator(".scheduler-banner")).to_have_count(0)
    status = page.locator("#scheduler-status")
    expect(status).to_contain_text("メールの最終送信: 令和")
    expect(status).to_contain_text("スケジューラーは動いています")

    phone = _answer_on_a_phone(browser, live_server, _link_for(smtp, STAFF), round_id)
    for path in (f"/results/rounds/{round_id}", "/results", "/admin/rounds"):
        phone.goto(path)
        expect(phone).to_have_url(re.compile(r"/auth/login\?next="))
        expect(phone.get_by_text("この操作にはパスワードでのサインインが必要です。")).to_be_visible()
    phone.goto(f"/rounds/{round_id}/receipt")
    phone.get_by_role("button", name="サインアウト").click()
    _refused(phone, _link_for(smtp, STAFF))

    _import_roster(page, year, _csv(tmp_path / "leaver.csv",
                                    [line for line in ROSTER if LEAVER not in line]))
    _refused(phone, _link_for(smtp, LEAVER))

    with app.app_context():  # the clock passes the close
        db.session.execute(sa.update(Round).where(Round.id == round_id)
                           .values(closes_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    _refused(phone, _link_for(smtp, AFTER_CLOSE))
