"""The audit log as a clerk reads it: one sentence per row with today's names, the changes as
「項目: 前 → 後」, the stored values behind a disclosure and in the CSV (docs/audit.md)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.admin import audit_sentences
from app.admin.audit_sentences import SENTENCES, audit_entries
from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models import AuditEvent, Grant, GrantRole, Round
from app.services.governance import audit
from app.services.governance.audit_names import audit_names
from app.services.rounds.rounds import round_values
from tests import factories
from tests.governance.audit_rows import Objects, record_every_action

# An object named by its type and number, not by its name (「調査 3」, 「職員 19」).
BY_NUMBER = r"(職員|調査|課|ワーキングチーム|区) \d+(?!\s*(人|件|項目|通))"
EXAMPLE = (
    "長谷川 隆（900004）が 令和9年度 区役所サービス基準 自己点検 を作成しました"
    "（受付 令和9年11月1日〜11月26日、高津区）"
)


@pytest.fixture
def world(app):
    """高津区's 総務課 with its admin 長谷川 隆 (900004) and 高津 太郎 (100002), a 令和9年度
    catalogue and round (1 to 26 November 2027), a working team, and one row of every action."""
    with app.app_context():
        section = factories.section("総務課")
        admin = factories.person(section=section, employee_id="900004", name="長谷川 隆")
        admin.grants.append(Grant(role=GrantRole.ADMIN))
        person = factories.person(section=section, employee_id="100002", name="高津 太郎")
        catalogue = factories.catalogue("takatsu-2027", fiscal_year=2027)
        round_ = factories.round_(
            catalogue, title="令和9年度 区役所サービス基準 自己点検",
            opens_at=datetime(2027, 11, 1, 0, 0, tzinfo=UTC),
            closes_at=datetime(2027, 11, 26, 8, 15, tzinfo=UTC),
        )
        team = factories.working_team(name="窓口改善チーム")
        objects = Objects(admin, person, round_, catalogue, section, team, 2027)
        actions = record_every_action(objects)
        db.session.commit()
        return {"admin": admin.id, "round": round_.id, "section": section.id,
                "ward": section.ward_id, "actions": actions}


def _page(client, sign_in, world, lang="ja", query=""):
    sign_in(world["admin"])
    client.set_cookie(LANG_COOKIE, lang)
    response = client.get(f"/admin/audit{query}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def _sentences(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", s).strip()
            for s in re.findall(r'<p class="audit-sentence">(.*?)</p>', page, re.S)]


def _changes(page: str) -> list[str]:
    """Each change as the eye reads it (the arrow's words for screen readers left out)."""
    items = re.findall(r'<ul class="audit-changes">(.*?)</ul>', page, re.S)
    lines = [li for block in items for li in re.findall(r"<li>(.*?)</li>", block, re.S)]
    return [re.sub(r"\s+", " ", re.sub(r'<span class="visually-hidden">.*?</span>|<[^>]+>', "",
                                       li)).strip() for li in lines]


def test_a_round_created_reads_as_one_sentence_with_names(client, sign_in, world):
    """round.create reads as the clerk's sentence: the admin's name and 職員番号, the round's
    title, its period in 令和 dates and its ward; no id of the row is shown in it."""
    sentences = _sentences(_page(client, sign_in, world))
    assert EXAMPLE in sentences
    assert len(sentences) == len(world["actions"])


def test_the_same_sentence_in_english(client, sign_in, world):
    """In English the sentence is English around the data (names and titles stay as they are),
    with Western dates."""
    sentences = _sentences(_page(client, sign_in, world, lang="en"))
    assert (
        "長谷川 隆 (900004) created 令和9年度 区役所サービス基準 自己点検 "
        "(open 1 November 2027 – 26 November 2027, 高津区)"
    ) in sentences


def test_every_action_reads_as_a_sentence_with_names_not_ids(client, sign_in, world, app):
    """Each action of the log has its own sentence; no sentence shows a ward, round, section or
    person by its id, and the people and objects are named."""
    assert set(SENTENCES) <= set(audit.ACTIONS)
    assert set(world["actions"]) == set(SENTENCES)  # the fixture covers every sentence
    sentences = _sentences(_page(client, sign_in, world))
    expected = [
        "長谷川 隆（900004）が 高津 太郎（100002） に 推進委員会（高津区）の権限を付与しました",
        "管理用のコマンドが 高津 太郎（100002） の 管理者（全市）の権限を取り消しました",
        "高津 太郎（100002） としてのサインインに失敗しました",
        "名簿にない職員番号 NOBODY1 でのサインインを、失敗が続いたため一時止めました",
        "長谷川 隆（900004）が 令和9年度 区役所サービス基準 自己点検 の結果（高津区 総務課）を "
        "Excel（xlsx） でダウンロードしました",
        "長谷川 隆（900004）が 高津区 の 令和9年度 を確定しました",
        "長谷川 隆（900004）が 高津区 総務課 の 令和9年度 の目標と実施結果を変更しました",
        "長谷川 隆（900004）が ワーキングチーム 窓口改善チーム を作りました",
        "自動処理が 令和9年度 区役所サービス基準 自己点検 のメール 17 通を"
        "送信の予定に入れました",
        "長谷川 隆（900004）が テスト基準 takatsu-2027 に No.1 を加えました",
    ]
    for one in expected:
        assert one in sentences, one
    for one in sentences:  # no object by its type and number (「調査 3」, 「職員 19」, ward_id)
        assert "ward_id" not in one, one
        assert not re.search(BY_NUMBER, one), one


def test_changes_are_listed_as_field_before_and_after(client, sign_in, world):
    """An edit lists only the fields that changed, by their label: 「項目: 前 → 後」."""
    changes = _changes(_page(client, sign_in, world))
    assert "催促の日（締め切りの何日前）: 7,3,1 → 3" in changes
    assert "確定: いいえ → はい" in changes
    assert "目標 1 / 実施結果: — → できた" in changes
    assert "移った人: 高津 太郎（100002）、職員番号 999999" in changes
    assert not any(c.startswith("題名") for c in changes)  # the title did not change


def test_english_changes_have_english_labels(client, sign_in, world):
    """The field labels and yes/no are English on English pages."""
    changes = _changes(_page(client, sign_in, world, lang="en"))
    assert "Reminder days (before the deadline): 7,3,1 → 3" in changes
    assert "Locked: No → Yes" in changes


def test_the_stored_values_stay_behind_a_disclosure_and_in_the_csv(app, client, sign_in, world):
    """The raw JSON of each row is on the page inside <details>, and the CSV still has it."""
    page = _page(client, sign_in, world)
    with app.app_context():
        update = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "round.update")).one()
        stored = update.after
    details = re.findall(r'<details class="audit-raw">(.*?)</details>', page, re.S)
    assert any(stored in block for block in details)
    assert page.count('<details class="audit-raw">') == len(world["actions"])
    rows = list(csv.reader(io.StringIO(
        client.get("/admin/audit.csv?action=round.update").get_data(as_text=True).lstrip(
            "\ufeff"))))
    assert rows[1][9] == stored


def test_names_are_those_of_today_and_the_row_is_unchanged(app, client, sign_in, world):
    """A round renamed after the row was written reads with its new title; the row itself is
    not touched (the chain still verifies)."""
    with app.app_context():
        db.session.get_one(Round, world["round"]).title = "改名した調査"
        db.session.commit()
    sentences = _sentences(_page(client, sign_in, world))
    assert any(s.startswith("長谷川 隆（900004）が 改名した調査 を作成しました") for s in sentences)
    with app.app_context():
        assert list(audit.verify_chain()) == []


def test_names_are_looked_up_once_per_kind_for_the_whole_page(app, world):
    """The names of a page cost the same number of queries for 28 rows as for 280: one per
    kind of id (people, 職員番号, rounds, catalogues, wards, sections, teams), never per row."""
    with app.app_context():
        objects = _objects(world)
        for _ in range(9):
            record_every_action(objects)
        db.session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # SQLAlchemy's event signature
        statements.append(statement)

    counts = []
    for limit in (28, 280):
        with app.test_request_context("/"):
            events = list(db.session.scalars(
                sa.select(AuditEvent).order_by(AuditEvent.id).limit(limit)))
            statements.clear()
            sa.event.listen(db.engine, "before_cursor_execute", count)
            try:
                entries = audit_entries(events)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", count)
            assert len(entries) == limit
            counts.append(len(statements))
    assert counts[0] == counts[1] <= 8


def _objects(world) -> Objects:
    from app.models import Catalogue, Person, Section, WorkingTeam

    return Objects(
        db.session.get_one(Person, world["admin"]),
        db.session.scalars(sa.select(Person).where(Person.employee_id == "100002")).one(),
        db.session.get_one(Round, world["round"]),
        db.session.scalars(sa.select(Catalogue)).one(),
        db.session.get_one(Section, world["section"]),
        db.session.scalars(sa.select(WorkingTeam)).one(),
        2027,
    )


def test_an_action_without_a_sentence_reads_as_its_label_and_object(app, world, monkeypatch):
    """An action that has no sentence yet (added to ACTIONS later) reads as its label and its
    object, named."""
    monkeypatch.setitem(audit.ACTIONS, "round.archive", "調査の保管")
    with app.test_request_context("/"):
        event = AuditEvent(
            id=0, at=datetime.now(UTC), actor_id=world["admin"], actor_employee_id="900004",
            action="round.archive", target_type="round", target_id=str(world["round"]),
            ward_id=world["ward"], before=None, after=None, prev_hash="", hash="",
        )
        (entry,) = audit_entries([event])
    assert entry.sentence == (
        "長谷川 隆（900004）: 調査の保管（令和9年度 区役所サービス基準 自己点検）")


def test_people_and_objects_no_longer_on_file_fall_back_to_the_row(app, world):
    """An actor removed from the roster reads by the 職員番号 the row kept; a deleted round by
    the title the row kept; an unknown 職員番号 as such."""
    with app.test_request_context("/"):
        event = AuditEvent(
            id=0, at=datetime.now(UTC), actor_id=999_999, actor_employee_id="800001",
            action="round.create", target_type="round", target_id="999999", ward_id=None,
            before=None,
            after=audit.canonical({"title": "消えた調査", "ward_ids": [world["ward"]],
                                   "opens_at": "2027-11-01T00:00:00+00:00",
                                   "closes_at": "2028-01-05T00:00:00+00:00"}),
            prev_hash="", hash="",
        )
        (entry,) = audit_entries([event])
    assert entry.sentence == (
        "職員番号 800001が 消えた調査 を作成しました"
        "（受付 令和9年11月1日〜令和10年1月5日、高津区）")


def test_names_from_the_rows_are_text_not_markup(app, client, sign_in, world):
    """A round titled like markup or like a placeholder is shown as written, escaped: the page
    runs no script and no title fills another's place."""
    with app.app_context():
        round_ = db.session.get_one(Round, world["round"])
        round_.title = "<script>alert(1)</script> %(actor)s"
        db.session.commit()
    sign_in(world["admin"])
    raw = client.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt; %(actor)s" in raw


def test_values_are_formatted_for_the_reader(app, world):
    """Dates in 令和, ward ids as names, yes/no, and long texts cut with the rest kept raw."""
    with app.test_request_context("/"):
        words = audit_sentences.Words(audit_names([]))
        assert words.value("published", True) == "はい"
        assert words.value("opens_at", "2027-11-01T00:00:00+00:00") == "令和9年11月1日 9時00分"
        assert words.value("text", "あ" * 500).endswith("…")
        assert len(words.value("text", "あ" * 500)) == audit_sentences.LONGEST_VALUE
        assert words.value("ward_ids", []) == "—"


def test_a_ward_admin_reads_only_names_of_rows_in_the_ward(app, client, sign_in, world):
    """An admin of 幸区 reads none of 高津区's rows, so none of the names they carry."""
    with app.app_context():
        other = factories.section("幸総務課", ward_name="幸区")
        saiwai_admin = factories.person(employee_id="A-saiwai")
        saiwai_admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=other.ward_id))
        db.session.commit()
        saiwai_id = saiwai_admin.id
    sign_in(saiwai_id)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "高津 太郎" not in page and "窓口改善チーム" not in page
    assert "令和9年度 区役所サービス基準 自己点検" not in page


def test_round_values_name_the_wards_of_a_several_ward_round(app, client, sign_in, world):
    """A round of two wards (a city row) names both wards, in the city-wide admin's log."""
    with app.app_context():
        round_ = db.session.get_one(Round, world["round"])
        round_.wards.append(factories.ward("宮前区"))
        db.session.flush()
        audit.record("round.create", actor=None, target_type="round", target_id=round_.id,
                     after={**round_values(round_), "source": "cli"}, ward_id=None)
        db.session.commit()
    sentences = _sentences(_page(client, sign_in, world))
    assert (
        "管理用のコマンドが 令和9年度 区役所サービス基準 自己点検 を作成しました"
        "（受付 令和9年11月1日〜11月26日、高津区、宮前区）"
    ) in sentences
