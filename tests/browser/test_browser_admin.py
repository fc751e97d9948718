"""The clerk's year in Debian's chromium, as an admin: the roster upload with a bad row then
the corrected file, next year's standards from a draft to a round, and a committee grant seen
in the audit log. With KIJUN_DOCS_SCREENSHOTS=1
the screenshots are written to docs/img/ for docs/admin.md."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Assignment, Grant, GrantRole, Role, Round, Section
from app.services.catalogue.catalogues import load_catalogues
from app.services.identity.auth import set_password
from app.wareki import TOKYO
from tests import factories
from tests.browser_support import LiveServer

PASSWORD = "admin-password-2026"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
HEADER = "職員番号,氏名,メールアドレス,区,部,課,役割"
ROSTER = [
    HEADER,
    "100001,川崎 花子,h@example.jp,高津区,区民サービス部,区民課,所属長",
    "100002,高津 太郎,t@example.jp,高津区,区民サービス部,区民課,職員",
    "100003,新人 一郎,n@example.jp,高津区,まちづくり推進部,総務課,職員",
]


@pytest.fixture
def shots(tmp_path):
    """Save a full-page screenshot: to docs/img when asked, else to the test's folder."""
    target = DOCS_IMG if os.environ.get("KIJUN_DOCS_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(target / f"admin-{name}.png"), full_page=True)

    return shot


def _world(live_server: LiveServer, tmp_path: Path) -> None:
    app = live_server.app
    app.config["ROSTER_UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.app_context():
        somu = factories.section("総務課", ward_name="高津区", department="まちづくり推進部")
        factories.section("区民課", ward_name="高津区", department="区民サービス部")
        factories.person(section=somu, fiscal_year=2026, employee_id="100002", name="高津 太郎")
        admin = factories.person(section=somu, role=Role.CHIEF, fiscal_year=2026,
                                 employee_id="900004", name="総務 事務")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=somu.ward_id))
        set_password(admin, PASSWORD)
        db.session.commit()


def _sign_in(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", "900004")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


def test_roster_upload_shows_the_bad_row_then_imports_the_corrected_file(
    page: Page, live_server, tmp_path, shots
):
    """A bad row is named by its line and nothing is written; the corrected file's preview
    lists the changes and warns of the section without a chief, by its line; the confirmation
    asks for 「確認しました」 first, then imports it."""
    _world(live_server, tmp_path)
    _sign_in(page)
    page.get_by_role("link", name="調査の管理").click()
    admin_menu = page.get_by_role("navigation", name="管理メニュー")
    admin_menu.get_by_role("link", name="名簿の取込み").click()
    expect(page.get_by_role("heading", level=1, name="名簿の取込み")).to_be_visible()
    page.get_by_label("年度（西暦、4月始まり）").fill("2027")
    bad = ROSTER[:2] + ["100002,,t@example.jp,高津区,区民サービス部,区民課,部長"] + ROSTER[3:]
    page.get_by_label("名簿のファイル（.csv または .xlsx）").set_input_files(
        str(_csv(tmp_path / "roster.csv", bad)))
    page.get_by_role("button", name="変わる内容を確認する").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("3行目")
    shots(page, "roster-errors")

    page.get_by_label("年度（西暦、4月始まり）").fill("2027")
    page.get_by_label("名簿のファイル（.csv または .xlsx）").set_input_files(
        str(_csv(tmp_path / "roster-fixed.csv", ROSTER)))
    page.get_by_role("button", name="変わる内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("名簿の確認")
    expect(page.get_by_role("row", name="新人 一郎")).to_be_visible()
    expect(page.get_by_role("row", name="高津 太郎")).to_contain_text("高津区・総務課（職員）")
    warning = page.locator("[data-warning=no_chief]")
    expect(warning).to_contain_text("総務課 に所属長がいません")
    expect(warning).to_contain_text("4 行目")
    shots(page, "roster-preview")
    page.get_by_role("button", name="この内容で取り込む").click()  # without the tick
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("確認しました")
    page.get_by_label("確認しました（注意があっても、この内容で取り込みます）").check()
    page.get_by_role("button", name="この内容で取り込む").click()
    expect(page.locator(".flash-success").first).to_contain_text("の名簿: 高津区、3人")
    shots(page, "roster-done")


def test_cancelling_a_roster_preview_removes_the_uploaded_file(
    page: Page, live_server, tmp_path
):
    """The preview's 取込みを取り消す button (a second submit of the confirmation's form)
    goes back to the upload page saying so, with the stored file gone and nothing imported."""
    _world(live_server, tmp_path)
    _sign_in(page)
    page.goto("/admin/roster")
    page.get_by_label("年度（西暦、4月始まり）").fill("2027")
    page.get_by_label("名簿のファイル（.csv または .xlsx）").set_input_files(
        str(_csv(tmp_path / "roster.csv", ROSTER)))
    page.get_by_role("button", name="変わる内容を確認する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("名簿の確認")
    uploads = tmp_path / "uploads"
    assert len(list(uploads.iterdir())) == 1
    page.get_by_role("button", name="取込みを取り消す").click()
    expect(page.get_by_role("heading", level=1, name="名簿の取込み")).to_be_visible()
    expect(page.locator(".flash-success").first).to_contain_text("取込みを取り消しました")
    assert list(uploads.iterdir()) == []
    with live_server.app.app_context():
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(Assignment)
            .where(Assignment.fiscal_year == 2027)
        ) == 0  # nothing of the 2027 roster was imported
        db.session.remove()


def test_a_committee_grant_shows_in_the_audit_log(page: Page, live_server, tmp_path, shots):
    """Search a person, grant committee for the ward, and read the row in 操作の記録 as a
    sentence with both people's names and the ward's."""
    _world(live_server, tmp_path)
    _sign_in(page)
    page.goto("/admin/people")
    page.get_by_label("職員番号・氏名・所属で探す").fill("高津")
    page.get_by_role("button", name="探す").click()
    page.get_by_role("link", name="高津 太郎").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("高津 太郎")
    page.get_by_label("権限", exact=True).select_option(label="推進委員会")
    page.get_by_label("区", exact=True).select_option(label="高津区")
    page.get_by_role("button", name="権限を付与する").click()
    expect(page.locator(".flash-success")).to_contain_text("権限を変更しました")
    expect(page.get_by_role("listitem").filter(has_text="推進委員会（高津区）")).to_be_visible()
    shots(page, "person")
    page.get_by_role("link", name="この人の操作の記録").click()
    row = page.get_by_role("row").filter(has_text="権限の付与")
    expect(row).to_contain_text(
        "総務 事務（900004）が 高津 太郎（100002） に 推進委員会（高津区）の権限を付与しました")
    shots(page, "audit")


def test_next_years_standards_from_draft_to_a_round(page: Page, live_server, tmp_path, shots):
    """Create next year's draft from this year's catalogue, add a section standard for
    庁舎管理担当課, see it in the preview as that section's chief, publish it after the
    confirmation, then open a round on it."""
    _world(live_server, tmp_path)
    app = live_server.app
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]))
        building = db.session.scalars(sa.select(Section).where(Section.name == "総務課")).one()
        building.kinds = [factories.section_kind("庁舎管理担当課")]
        db.session.commit()
    _sign_in(page)
    page.goto("/admin/rounds")
    page.get_by_role("navigation", name="管理メニュー").get_by_role(
        "link", name="基準（カタログ）").click()
    expect(page.get_by_role("heading", level=1, name="基準（カタログ）")).to_be_visible()
    this_year = page.get_by_role("row").filter(has_text="takatsu-2025")
    this_year.get_by_role("link", name=re.compile("^令和8年度の下書きを作る")).click()
    expect(page.get_by_label("カタログのキー")).to_have_value("takatsu-2026")
    page.get_by_role("button", name="下書きを作る").click()
    expect(page.locator(".flash-success")).to_contain_text("下書きを作りました")
    expect(page.get_by_role("heading", level=1)).to_contain_text("令和8年度")

    page.get_by_role("link", name="基準を加える").click()
    page.get_by_label("番号（No.）").fill("34")
    page.get_by_label("基準の文").fill("庁舎の入口で、車いすの貸出しを案内しています。")
    page.get_by_role("group", name="場面").get_by_label("庁舎案内").check()
    page.get_by_label("課として（所属長が課として1回答える）").check()
    page.get_by_label("庁舎管理担当課").check()
    shots(page, "catalogue-standard")
    page.get_by_role("button", name="保存する").click()
    expect(page.locator(".flash-success")).to_contain_text("No.34 を加えました")
    expect(page.get_by_role("row", name="車いすの貸出し")).to_contain_text("区独自")
    shots(page, "catalogue-draft")

    page.get_by_role("link", name="回答する人の画面で確かめる（プレビュー）").click()
    page.get_by_label("だれの画面を見るか").select_option(label="所属長（庁舎管理担当課：総務課）")
    page.get_by_role("button", name="表示する").click()
    expect(page.locator("#preview-title")).to_contain_text("所属長の画面（庁舎管理担当課）")
    expect(page.get_by_role("group", name="No.34 庁舎の入口で、車いすの貸出しを案内しています。")
           ).to_be_visible()
    shots(page, "catalogue-preview")

    page.get_by_role("link", name="基準の一覧へ戻る").click()
    page.get_by_role("link", name="公開する").click()
    expect(page.get_by_role("listitem").filter(has_text="加える：No.34")).to_be_visible()
    page.get_by_label("この基準で調査を作れるようにします（公開したあとは下書きに戻せません）").check()
    shots(page, "catalogue-publish")
    page.get_by_role("button", name="公開する").click()
    expect(page.locator(".flash-success")).to_contain_text("を公開しました")

    page.goto("/admin/rounds/new")
    page.get_by_label("基準（カタログ）").select_option("takatsu-2026")
    page.get_by_role("group", name="対象の区").get_by_label("高津区").check()
    opens = datetime.now(TOKYO).replace(second=0, microsecond=0) + timedelta(days=10)
    page.get_by_label("受付開始（東京時間）").fill(opens.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("締め切り（東京時間）").fill(
        (opens + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="保存する").click()
    if page.get_by_role("heading", name="基準の年度が違います").count():
        # The test runs after 令和8年度: a round of this year on the 令和8年度 standards.
        page.get_by_label("年度の違う基準で調査することを確かめました").check()
        page.get_by_role("button", name="保存する").click()
    expect(page.locator(".flash-success")).to_contain_text("を保存しました")
    with app.app_context():
        round_ = db.session.scalars(sa.select(Round)).one()
        assert round_.catalogue.key == "takatsu-2026"
