"""Retention: ``flask retention purge`` removes the personal data of people who left, and
every closed round's published figures (exports, API, trend) stay byte for byte the same.

The world, with Y the current fiscal year (so that the test does not depend on the date):
高津区, 区民課 and 保険年金課. A round of Y-2 (closed): 区民課 6 staff and 保険年金課 5 staff
answer, with comments, and both chiefs answer the section standard (with a comment). A round
of Y-1 (closed): 区民課's first 3 staff and its chief stay and answer again, with new people.
The Y roster: the ones who stayed and newcomers. ``--before-fiscal-year Y-1`` purges
everyone on the Y-2 roster only: 3 + 5 staff and 保険年金課's chief.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    Answer,
    Assignment,
    Grant,
    GrantRole,
    LoginAttempt,
    MailLedger,
    MailState,
    Person,
    Response,
    Role,
    Round,
    RoundCount,
    SectionAnswer,
    ServiceGoal,
    utcnow,
    working_team_member,
)
from app.services.governance.retention import PURGED_NAME, plan_purge, purge_personal_data
from app.services.results.compliance import compliance_trend, round_results, std_column
from app.wareki import fiscal_year_of, tokyo
from tests import factories

Y = fiscal_year_of(tokyo(utcnow()))
API = "/api/v1/rounds/{}/compliance"
COMMENT = "窓口が混んでいて案内が遅れた"


@dataclass(frozen=True)
class RetentionWorld:
    round_ids: tuple[int, ...]
    ward: int
    committee: int
    admin: int
    leavers: tuple[int, ...]
    stayers: tuple[int, ...]
    leaver_employee_ids: tuple[str, ...]
    goal: int


def _answer(round_, person, section, values, role=Role.STAFF, comment=None):
    response = factories.response(round_, person, values, section=section, role=role)
    if comment:
        for answer in db.session.scalars(
            sa.select(Answer).where(Answer.response_id == response.id)
        ):
            answer.comment = comment
        for section_answer in db.session.scalars(
            sa.select(SectionAnswer).where(SectionAnswer.response_id == response.id)
        ):
            section_answer.comment = comment
    db.session.add(
        MailLedger(round_id=round_.id, person_id=person.id, kind="opened", state=MailState.SENT)
    )
    return response


def _assign(person, section, year, role=Role.STAFF):
    db.session.add(Assignment(person=person, fiscal_year=year, section_id=section.id, role=role))


def build_retention_world() -> RetentionWorld:
    now = datetime.now(UTC)
    old_catalogue = factories.catalogue("r-old", fiscal_year=Y - 2, standards=2)
    factories.section_standards(old_catalogue, (24, ()))
    last_catalogue = factories.catalogue("r-last", fiscal_year=Y - 1, standards=2)
    factories.section_standards(last_catalogue, (24, ()))
    kumin = factories.section("区民課")
    hoken = factories.section("保険年金課")
    old = factories.round_(
        old_catalogue, title="前々年度の点検", wards=[kumin.ward],
        opens_at=now - timedelta(days=420), closes_at=now - timedelta(days=400),
    )
    last = factories.round_(
        last_catalogue, title="前年度の点検", wards=[kumin.ward],
        opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=40),
    )
    values = ["yes", "yes", "no", "yes", "na", "yes"]
    kumin_staff = [factories.person(section=kumin, fiscal_year=Y - 2) for _ in range(6)]
    hoken_staff = [factories.person(section=hoken, fiscal_year=Y - 2) for _ in range(5)]
    kumin_chief = factories.person(section=kumin, role=Role.CHIEF, fiscal_year=Y - 2)
    hoken_chief = factories.person(section=hoken, role=Role.CHIEF, fiscal_year=Y - 2)
    for i, person in enumerate(kumin_staff + hoken_staff):
        section = kumin if person in kumin_staff else hoken
        _answer(
            old, person, section, {"std-1": values[i % 6], "std-2": values[(i + 2) % 6]},
            comment=COMMENT if i % 3 == 0 else None,
        )
    for chief, section, value in ((kumin_chief, kumin, "yes"), (hoken_chief, hoken, "no")):
        _answer(
            old, chief, section, {"std-1": value, "std-2": "yes", "sec-24": value},
            role=Role.CHIEF, comment=COMMENT,
        )

    # Y-1 and Y: 区民課's first three staff and its chief stay; newcomers join.
    stayers = [*kumin_staff[:3], kumin_chief]
    for person in kumin_staff[:3]:
        _assign(person, kumin, Y - 1)
        _assign(person, kumin, Y)
    _assign(kumin_chief, kumin, Y - 1, Role.CHIEF)
    _assign(kumin_chief, kumin, Y, Role.CHIEF)
    newcomers = [factories.person(section=kumin, fiscal_year=Y - 1) for _ in range(3)]
    for person in newcomers:
        _assign(person, kumin, Y)
    db.session.flush()
    for i, person in enumerate([*kumin_staff[:3], *newcomers]):
        _answer(last, person, kumin, {"std-1": values[i], "std-2": values[5 - i]},
                comment=COMMENT if i == 0 else None)
    _answer(last, kumin_chief, kumin, {"std-1": "yes", "std-2": "no", "sec-24": "yes"},
            role=Role.CHIEF, comment=COMMENT)
    stayers += newcomers

    leavers = [*kumin_staff[3:], *hoken_staff, hoken_chief]
    # A leaver sat on the committee and a working team; a goal was last written by them.
    hoken_chief.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=kumin.ward_id))
    team = factories.working_team(fiscal_year=Y - 2, members=[hoken_chief, kumin_chief])
    goal = factories.service_goal(section=hoken, fiscal_year=Y - 2)
    goal.updated_by_id = hoken_chief.id
    for employee_id in (hoken_chief.employee_id, kumin_chief.employee_id):
        db.session.add(LoginAttempt(employee_id=employee_id, address="10.0.0.1"))
    for person in leavers + stayers:
        person.password_hash = "x"

    committee = factories.person(name="市の委員")
    committee.grants.append(Grant(role=GrantRole.COMMITTEE))
    admin = factories.person(name="管理者")
    admin.grants.append(Grant(role=GrantRole.ADMIN))
    db.session.commit()
    assert team.id
    return RetentionWorld(
        round_ids=(old.id, last.id),
        ward=kumin.ward_id,
        committee=committee.id,
        admin=admin.id,
        leavers=tuple(p.id for p in leavers),
        stayers=tuple(p.id for p in stayers),
        leaver_employee_ids=tuple(p.employee_id for p in leavers),
        goal=goal.id,
    )


@pytest.fixture
def world(app: Flask) -> RetentionWorld:
    with app.app_context():
        return build_retention_world()


def _xlsx_values(data: bytes) -> dict[str, list[tuple[object, ...]]]:
    """Every cell value of every sheet (an xlsx zip carries timestamps; its cells do not)."""
    book = load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def _published(app: Flask, client: FlaskClient, runner: FlaskCliRunner, tmp_path, world):
    """Everything published about every closed round: for each of its groups the API JSON and
    the CSV downloads, the xlsx cells, the command's exports, and the trend."""
    out: dict[object, Any] = {}
    for round_id in world.round_ids:
        with app.app_context():
            groups = [g.key for g in round_results(round_id).groups]
            db.session.commit()
        for group in groups:
            api = client.get(API.format(round_id), query_string={"group": group})
            assert api.status_code == 200
            out[(round_id, group, "api")] = api.get_data()
            for fmt in ("csv", "csv-long", "html"):
                download = client.get(
                    f"/results/rounds/{round_id}/export/{fmt}", query_string={"group": group}
                )
                assert download.status_code == 200
                out[(round_id, group, fmt)] = download.get_data()
            xlsx = client.get(
                f"/results/rounds/{round_id}/export/xlsx", query_string={"group": group}
            )
            out[(round_id, group, "xlsx")] = _xlsx_values(xlsx.get_data())
        for fmt in ("xlsx", "csv", "csv-long"):
            path = tmp_path / f"{round_id}.{fmt}"
            result = runner.invoke(
                args=["report", "compliance", "--round", str(round_id), "--format", fmt,
                      "--output", str(path)]
            )
            assert result.exit_code == 0, result.output
            data = path.read_bytes()
            out[(round_id, "command", fmt)] = _xlsx_values(data) if fmt == "xlsx" else data
        sheets = tmp_path / f"sheets-{round_id}"
        result = runner.invoke(
            args=["report", "sections", "--round", str(round_id), "--format", "csv",
                  "--output-dir", str(sheets)]
        )
        assert result.exit_code == 0, result.output
        out[(round_id, "chiefs' sheets")] = {f.name: f.read_bytes() for f in sheets.iterdir()}
        assert len(out[(round_id, "chiefs' sheets")]) >= 1
    for year in (Y - 2, Y - 1):
        annual = client.get(f"/annual-report/{world.ward}/{year}")
        assert annual.status_code == 200
        # The page's header carries the sign-out form's CSRF token, new at every request.
        out[("annual", year)] = re.sub(
            rb'name="csrf_token" value="[^"]*"', b'name="csrf_token"', annual.get_data()
        )
    with app.app_context():
        out["trend"] = compliance_trend()
        db.session.commit()
    return out


def _everything(app: Flask) -> dict[str, object]:
    """A snapshot of every row of every table, to prove that nothing was written."""
    with app.app_context():
        return {
            table.name: sorted(
                (tuple(str(v) for v in row) for row in db.session.execute(sa.select(table))),
            )
            for table in db.metadata.sorted_tables
        }


def test_a_purge_keeps_every_closed_rounds_exports_byte_for_byte(
    app, client, runner, sign_in, world, tmp_path
):
    """After the purge every closed round's API JSON, CSV, csv-long, HTML and xlsx cells (from
    the downloads and from ``report compliance``), the chiefs' sheets, each year's annual
    report page and the trend are exactly as before."""
    sign_in(world.committee)
    before = _published(app, client, runner, tmp_path / "before", world)
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 0, result.output
    after = _published(app, client, runner, tmp_path / "after", world)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key
    # The round of Y-2 lost 9 of the 13 responses it was counted from (the stayers' 4 are
    # left); its figures still exist.
    with app.app_context():
        old = world.round_ids[0]
        assert db.session.scalars(
            sa.select(Response.person_id).where(Response.round_id == old)
        ).all() == sorted(world.stayers[:4])
        assert db.session.scalar(
            sa.select(sa.func.count()).where(RoundCount.round_id == old)
        )


@pytest.fixture(autouse=True)
def _output_dirs(tmp_path):
    for name in ("before", "after"):
        (tmp_path / name).mkdir()


def test_the_purged_peoples_personal_data_is_gone_and_the_others_are_untouched(
    app, runner, world
):
    """The leavers' names, mail addresses, passwords, employee ids, responses, answers,
    comments, section answers, mail rows, login attempts and grants are gone; their
    assignments, team membership and the goal they wrote stay; everyone else is as before."""
    with app.app_context():
        kept = {
            p.id: (p.employee_id, p.name, p.email, p.password_hash)
            for p in db.session.scalars(
                sa.select(Person).where(Person.id.not_in(world.leavers))
            )
        }
        kept_responses = db.session.scalar(
            sa.select(sa.func.count()).where(Response.person_id.in_(world.stayers))
        )
        assignments = db.session.scalar(sa.select(sa.func.count()).select_from(Assignment))
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        leavers = db.session.scalars(sa.select(Person).where(Person.id.in_(world.leavers))).all()
        assert len(leavers) == len(world.leavers)
        for person in leavers:
            assert person.name == PURGED_NAME
            assert person.email is None and person.password_hash is None
            assert person.employee_id == f"purged-{person.id}"

        def count(*where):
            return db.session.scalar(sa.select(sa.func.count()).where(*where))

        assert count(Response.person_id.in_(world.leavers)) == 0
        assert count(MailLedger.person_id.in_(world.leavers)) == 0
        assert count(Grant.person_id.in_(world.leavers)) == 0
        # Kept: their team membership (a past annual report counts the team's members).
        assert count(working_team_member.c.person_id.in_(world.leavers)) == 1
        assert count(LoginAttempt.employee_id.in_(world.leaver_employee_ids)) == 0
        # Left: the stayers' comments only (区民課's first staff and chief, in both rounds:
        # 2 answers each time each), and the stayer chief's two section answers.
        assert count(Answer.comment == COMMENT) == 8
        assert count(SectionAnswer.comment == COMMENT) == 2
        assert count(SectionAnswer.id.is_not(None)) == 2
        # Kept: the roster (sections' sizes of the past), the goal, everyone else.
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(Assignment)
        ) == assignments
        assert db.session.get_one(ServiceGoal, world.goal).updated_by_id in world.leavers
        now_kept = {
            p.id: (p.employee_id, p.name, p.email, p.password_hash)
            for p in db.session.scalars(
                sa.select(Person).where(Person.id.not_in(world.leavers))
            )
        }
        assert now_kept == kept
        assert count(Response.person_id.in_(world.stayers)) == kept_responses
        assert count(MailLedger.person_id.in_(world.stayers)) == len(world.stayers) + 4
        assert count(LoginAttempt.id.is_not(None)) == 1
        assert count(working_team_member.c.person_id.in_(world.stayers)) == 1
        assert count(Grant.person_id.in_((world.committee, world.admin))) == 2


def test_the_dry_run_prints_the_numbers_and_writes_nothing(app, runner, world):
    """``--dry-run`` prints how many people, responses, answers, comments, section answers
    and mail rows would go and the fiscal years, and leaves every table as it was (the closed
    rounds not yet counted stay uncounted)."""
    before = _everything(app)
    result = runner.invoke(
        args=["retention", "purge", "--before-fiscal-year", str(Y - 1), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # 9 leavers, each one response; staff 2 answers, the chief 2 + 1 section answer;
    # comments on staff 3, 6, 9 (2 answers each) and the chief's 3.
    for line in (
        "人: 9 人", "回答: 9 件", "基準ごとの回答: 18 件", "コメント: 9 件",
        "課としての回答: 1 件", "メールの送信記録: 9 件", "サインインの試行記録: 1 件",
        "委員・管理者の権限: 1 件",
    ):
        assert line in out
    assert f"（{Y - 2}）" in out.splitlines()[-2]
    assert "何も書き込んでいません" in out
    assert _everything(app) == before


def test_a_purge_counts_a_closed_round_that_nobody_has_read_yet(app, world):
    """A closed round that is not counted yet is counted from its answers before they go, so
    its rates are published afterwards as they would have been."""
    with app.app_context():
        assert db.session.scalar(
            sa.select(sa.func.count()).where(Round.counted_at.is_not(None))
        ) == 0
        summary = purge_personal_data(Y - 1)
        db.session.commit()
        assert summary.counted_round_ids == world.round_ids
        results = round_results(world.round_ids[0])
        # 区民課 and 保険年金課 staff, std-1 over 11 people: yes, yes, no, yes, na, yes twice
        # (the 11th is i=10: values[4] = na) -> 7 yes, 2 no -> 77.8.
        cell = results.cell(results.top.key, std_column("std-1"), Role.STAFF)
        assert cell.text == "77.8"


def test_a_purge_is_in_the_audit_log_with_its_counts_and_no_names(app, runner, world):
    """The purge writes one audit row, retention.purge, with the counts it removed and no name
    of the people removed; a dry run writes none."""
    from app.models import AuditEvent

    runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1), "--dry-run"])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
        names = [p.name for p in db.session.scalars(sa.select(Person))]
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 0
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent)).all()
    assert [r.action for r in rows] == ["retention.purge"]
    after = rows[0].after
    assert after is not None and '"people":' in after and rows[0].target_id == str(Y - 1)
    assert not any(name in after for name in names if name != "削除済み")


def test_a_second_purge_finds_nothing(app, runner, world):
    """People already purged are not counted again."""
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 0
    with app.app_context():
        summary = plan_purge(Y - 1)
    assert (summary.people, summary.responses, summary.mail) == (0, 0, 0)


@pytest.mark.parametrize(
    ("year", "message"),
    [(Y, "今年度"), (Y + 1, "今年度"), (1999, "古すぎます"), (25, "古すぎます")],
)
def test_a_year_that_would_purge_the_current_roster_or_is_implausible_is_refused(
    app, runner, world, year, message
):
    """The current fiscal year or later, and years before 2000, are refused with a Japanese
    message, exit status 1, and nothing written."""
    before = _everything(app)
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(year)])
    assert result.exit_code == 1
    assert message in result.output
    assert _everything(app) == before


def test_a_round_the_leavers_answered_that_is_still_open_refuses_the_purge(app, runner, world):
    """While a round a leaver answered is not closed, nothing is purged (its figures would be
    counted from answers that are gone) and the message names the round."""
    with app.app_context():
        catalogue = factories.catalogue("r-open", fiscal_year=Y, standards=1)
        round_ = factories.round_(catalogue, title="まだ受付中の点検", fiscal_year=Y)
        leaver = db.session.get_one(Person, world.leavers[0])
        section = db.session.get_one(Response, 1).section
        factories.response(round_, leaver, {"std-1": "yes"}, section=section)
        db.session.commit()
    before = _everything(app)
    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 1
    assert "まだ受付中の点検" in result.output and "何も書き込んでいません" in result.output
    assert _everything(app) == before


def test_an_open_round_of_a_year_before_the_cut_off_refuses_the_purge(app, runner, world):
    """A round of a year before the cut-off that has not closed (its roster is the leavers')
    refuses the purge too, dry run included."""
    with app.app_context():
        round_ = db.session.get_one(Round, world.round_ids[0])
        round_.closes_at = datetime.now(UTC) + timedelta(days=1)
        db.session.commit()
    result = runner.invoke(
        args=["retention", "purge", "--before-fiscal-year", str(Y - 1), "--dry-run"]
    )
    assert result.exit_code == 1
    assert "前々年度の点検" in result.output


def test_the_purge_runs_the_same_statements_for_many_people_as_for_few(app, world):
    """The number of SQL statements does not grow with the number of people purged."""
    from app.services.results.tally import count_closed_rounds

    def statements() -> int:
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            purge_personal_data(Y - 1)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
        return len(seen)

    with app.app_context():
        count_closed_rounds()
        db.session.commit()
        few = statements()
        section = db.session.get_one(Response, 1).section
        for _ in range(30):
            factories.person(section=section, fiscal_year=Y - 3)
        db.session.commit()
        many = statements()
    assert few == many


def test_a_round_whose_answers_were_purged_cannot_be_reopened(app, runner, world):
    """Reopening discards a round's counts: once some of its answers are purged that would
    change its published rates, so it is refused; a round with all its answers reopens."""
    from app.services.rounds.rounds import RoundError, update_round

    result = runner.invoke(args=["retention", "purge", "--before-fiscal-year", str(Y - 1)])
    assert result.exit_code == 0, result.output
    later = datetime.now(UTC) + timedelta(days=7)
    with app.app_context():
        old, last = (db.session.get_one(Round, i) for i in world.round_ids)
        with pytest.raises(RoundError, match="保存期間"):
            update_round(old, old.catalogue.key, ["高津区"], old.opens_at, later)
        db.session.rollback()
        update_round(last, last.catalogue.key, ["高津区"], last.opens_at, later)
        assert last.counted_at is None
