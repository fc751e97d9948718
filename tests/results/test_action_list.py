"""The committee's list of improvement actions across rounds and wards (``/results/actions``):
the filters (status, section, overdue), the reader's wards only, and its xlsx."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from io import BytesIO
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    ActionStatus,
    AuditEvent,
    Grant,
    GrantRole,
    ImprovementAction,
    Person,
    Section,
    utcnow,
)
from app.services.results import action_records
from app.services.results.compliance import final_results
from app.wareki import fiscal_year_label, fiscal_year_of, tokyo
from tests import factories
from tests.results.action_support import owner, record, section_id
from tests.results_world import World, build_world


@pytest.fixture
def listed(app_ctx) -> tuple[World, dict[str, int]]:
    """Four actions: 高津区 区民課 overdue and 未着手, 区民課 対応中 due later, 総務課 完了 and
    overdue (done: not overdue), and one of 宮前区 recorded by the city's member."""
    world = build_world()
    today = tokyo(utcnow()).date()
    soumu = factories.person(
        section=db.session.get_one(Section, world.soumu_section_id), fiscal_year=2025
    )
    db.session.commit()
    late = record(world, world.staff, text="遅れている取組", due=today - timedelta(days=3),
                  round_id=world.round_id)
    doing = record(world, world.chief, text="進めている取組", due=today + timedelta(days=40))
    doing.status = ActionStatus.DOING
    done = record(world, soumu.id, section="総務課", text="終わった取組",
                  due=today - timedelta(days=30), round_id=world.round_id)
    done.status = ActionStatus.DONE
    results = final_results(world.miyamae_round_id)
    choice = action_records.owner_choices([world.miyamae_ward_id])[0]
    plan = action_records.ActionPlan("std-1", "宮前区の取組", choice.value, date(2027, 1, 31))
    other = action_records.create_action(
        results, plan, db.session.get_one(Person, world.city_committee)
    )
    db.session.commit()
    return world, {"late": late.id, "doing": doing.id, "done": done.id, "other": other.id}


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="listed-(\d+)"', html)]


def test_the_list_shows_my_wards_open_actions_by_due_date(client, sign_in, listed):
    """高津区's member sees 高津区's open actions (未着手, 対応中), soonest first, the overdue one
    marked; not the done one, not 宮前区's."""
    world, ids = listed
    sign_in(world.takatsu_committee)
    assert 'href="/results/actions"' in client.get("/results/").get_data(as_text=True)
    html = client.get("/results/actions").get_data(as_text=True)
    assert _ids(html) == [ids["late"], ids["doing"]]
    late = html.split(f'id="listed-{ids["late"]}"')[1].split("</li>")[0]
    assert "期限切れ" in late and "未着手" in late and "令和7年度 点検" in late
    doing = html.split(f'id="listed-{ids["doing"]}"')[1].split("</li>")[0]
    assert "期限切れ" not in doing and "対応中" in doing
    assert "宮前区の取組" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=all", ["done", "late", "doing"]),
        ("status=done", ["done"]),
        ("status=doing", ["doing"]),
        ("status=dropped", []),
        ("status=all&overdue=y", ["late"]),
        ("status=all&section=SOUMU", ["done"]),
        ("status=open&section=KUMIN&overdue=y", ["late"]),
    ],
)
def test_the_filters(client, sign_in, listed, query, expected):
    """Status (open, all or one), section and overdue (open and past the due date) narrow the
    list; the done action past its date is never overdue."""
    world, ids = listed
    sign_in(world.takatsu_committee)
    query = query.replace("SOUMU", str(world.soumu_section_id))
    query = query.replace("KUMIN", str(section_id("区民課")))
    html = client.get(f"/results/actions?{query}").get_data(as_text=True)
    assert _ids(html) == [ids[k] for k in expected]


@pytest.mark.parametrize("query", ["status=finished", "section=abc", "section=999999"])
def test_a_filter_that_is_not_a_choice_is_a_400(client, sign_in, listed, query):
    """A status or section that is not among the choices (another ward's section included)
    is refused with a 400, never a 500."""
    world, _ids_ = listed
    sign_in(world.takatsu_committee)
    assert client.get(f"/results/actions?{query}").status_code == 400


def test_the_city_member_sees_every_ward(client, sign_in, listed):
    """The city-wide member's list holds both wards' open actions, and 宮前区's sections in the
    filter with the ward's name."""
    world, ids = listed
    sign_in(world.city_committee)
    html = client.get("/results/actions").get_data(as_text=True)
    assert set(_ids(html)) == {ids["late"], ids["doing"], ids["other"]}
    assert "宮前区 宮前区民課" in html


def test_the_xlsx_holds_the_filtered_list_safely_and_is_logged(client, sign_in, listed):
    """The xlsx has the same rows as the page for the same filter, its texts never become
    formulas, it names no rate, and the download is in the audit log."""
    world, ids = listed
    action = db.session.get_one(ImprovementAction, ids["doing"])
    action.action = '=HYPERLINK("http://evil.example","開く")'
    db.session.commit()
    sign_in(world.takatsu_committee)
    response = client.get("/results/actions.xlsx?status=all")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    year = fiscal_year_label(fiscal_year_of(tokyo(utcnow())))
    assert quote(f"{year}_高津区_改善の取組.xlsx") in response.headers["Content-Disposition"]
    sheet = load_workbook(BytesIO(response.data)).active
    assert sheet is not None
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    header = rows.index(next(r for r in rows if r[0] == "区"))
    body = rows[header + 1:]
    assert [r[4] for r in body] == [
        "終わった取組", "遅れている取組", "'=HYPERLINK(\"http://evil.example\",\"開く\")"]
    assert [r[9] for r in body] == ["完了", "未着手", "対応中"]
    assert [r[8] for r in body] == [None, "期限切れ", None]
    assert rows[1][0] == "状況：すべて"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "results.download")).one()
    assert json.loads(event.after or "{}")["format"] == "actions.xlsx"
    assert event.ward_id == world.takatsu_ward_id


def test_a_member_with_no_ward_sees_nothing(client, sign_in, listed):
    """A committee grant for a ward with no actions lists none (and no section to filter)."""
    world, _ids_ = listed
    kawasaki = factories.ward("川崎区")
    member = factories.person()
    member.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=kawasaki.id))
    db.session.commit()
    sign_in(member)
    html = client.get("/results/actions?status=all").get_data(as_text=True)
    assert _ids(html) == [] and "この条件の取組はありません。" in html
    assert owner("区民課", world.staff) not in html
