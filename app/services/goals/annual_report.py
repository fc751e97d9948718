"""The ward's annual report (実施状況報告書): the year's data gathered for ``reports/annual.py``.

``annual_report(ward_id, fiscal_year)`` reads, in a fixed number of queries whatever the size of
the ward: the ward, the year plan, the sections in the organisation's order (one query), every
goal of the ward's sections and teams for the year (one query), the teams with their members
(two queries), the ward's round of the year (one query) and its compliance table
(``app.services.results.exports.round_table``: the results' own fixed set of queries).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from app.extensions import db
from app.models import Round, ServiceGoal, Ward, WorkingTeam, YearPlan, round_ward, utcnow
from app.services.goals.goals import (
    GoalsError,
    parse_members,
    parse_paragraphs,
    parse_policy,
    plan_for,
    ward_goals,
    ward_sections,
    ward_teams,
)
from app.services.results.actions import STATUS_NAMES, actions_for_report
from app.services.results.compliance import (
    ResultsError,
    ResultsNotFinal,
    RoundResults,
    final_results,
)
from app.services.results.exports import compliance_table
from app.wareki import fiscal_year_label, reiwa_date
from reports.annual import (
    ActionEntry,
    AnnualReport,
    CommitteeMember,
    DepartmentBlock,
    GoalBlock,
    GoalEntry,
    TeamMembership,
)
from reports.table import ComplianceTable


def issued_label(fiscal_year: int) -> str:
    """The month of issue, March at the end of the fiscal year: ``2026(令和8)年3月``."""
    year = fiscal_year + 1
    return f"{year}(令和{year - 2018})年3月"


def report_round_id(ward_id: int, fiscal_year: int) -> int | None:
    """The ward's round of the fiscal year: a closed one first, then the latest close."""
    now = utcnow()
    return db.session.scalar(
        sa.select(Round.id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .where(round_ward.c.ward_id == ward_id, Round.fiscal_year == fiscal_year)
        .order_by(
            sa.case((Round.closed_by(now), 0), else_=1),
            Round.closes_at.desc(),
            Round.id.desc(),
        )
        .limit(1)
    )


def _compliance(
    ward_id: int, fiscal_year: int
) -> tuple[ComplianceTable | None, str, RoundResults | None]:
    """Section 3: the compliance table of the ward's round of the year (last year beside),
    and the results it is taken from (None: the report has no table)."""
    round_id = report_round_id(ward_id, fiscal_year)
    if round_id is None:
        return None, f"{fiscal_year_label(fiscal_year)}の自己点検（調査）はまだありません。", None
    try:
        results = final_results(round_id, [ward_id])
        table = compliance_table(results, results.top.key)
    except ResultsNotFinal:
        note = "調査はまだ締め切られていません。遵守率の表は締め切りのあとに載ります。"
        return None, note, None
    except ResultsError as error:
        return None, error.message, None
    return table, "", results


def _entries(goals: list[ServiceGoal]) -> list[GoalEntry]:
    return [GoalEntry(g.position, g.scene, g.goal, g.result) for g in goals]


def report_years(ward_ids: Sequence[int], current: int) -> dict[int, list[int]]:
    """For each ward, the fiscal years that have a plan, working teams or a round, and the
    current one, newest first. One query."""
    pairs = sa.union(
        sa.select(YearPlan.ward_id, YearPlan.fiscal_year).where(YearPlan.ward_id.in_(ward_ids)),
        sa.select(WorkingTeam.ward_id, WorkingTeam.fiscal_year).where(
            WorkingTeam.ward_id.in_(ward_ids)
        ),
        sa.select(round_ward.c.ward_id, Round.fiscal_year)
        .join(Round, Round.id == round_ward.c.round_id)
        .where(round_ward.c.ward_id.in_(ward_ids)),
    )
    years: dict[int, set[int]] = {ward_id: {current} for ward_id in ward_ids}
    for ward_id, fiscal_year in db.session.execute(pairs):
        years[ward_id].add(fiscal_year)
    return {ward_id: sorted(found, reverse=True) for ward_id, found in years.items()}


def annual_report(ward_id: int, fiscal_year: int) -> AnnualReport:
    """Everything the report prints for the ward and year (``GoalsError`` for no such ward)."""
    return annual_report_with_results(ward_id, fiscal_year)[0]


def annual_report_with_results(
    ward_id: int, fiscal_year: int
) -> tuple[AnnualReport, RoundResults | None]:
    """The report, and the round results its compliance table prints (None: no table), so
    that the reader's view or download is recorded as a read of that round
    (app/services/results/readers.py)."""
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        raise GoalsError(["区が見つかりません。"])
    plan = plan_for(ward_id, fiscal_year)
    by_section: dict[int, list[ServiceGoal]] = {}
    by_team: dict[int, list[ServiceGoal]] = {}
    for goal in ward_goals(ward_id, fiscal_year):
        if goal.section_id is not None:
            by_section.setdefault(goal.section_id, []).append(goal)
        elif goal.working_team_id is not None:
            by_team.setdefault(goal.working_team_id, []).append(goal)

    departments: list[DepartmentBlock] = []
    for section, department in ward_sections(ward_id):
        if not departments or departments[-1].name != department:
            departments.append(DepartmentBlock(department, []))
        departments[-1].sections.append(
            GoalBlock(section.name, _entries(by_section.get(section.id, [])))
        )
    teams = ward_teams(ward_id, fiscal_year)
    compliance, note, results = _compliance(ward_id, fiscal_year)
    report = AnnualReport(
        ward=ward.name,
        fiscal_year=fiscal_year,
        year_label=fiscal_year_label(fiscal_year),
        issued=issued_label(fiscal_year),
        committee_name=plan.committee_name if plan else "サービス推進部会",
        policy=parse_policy(plan.policy) if plan else [],
        summary=parse_paragraphs(plan.summary) if plan else [],
        departments=departments,
        teams=[
            GoalBlock(team.name, _entries(by_team.get(team.id, [])), team.purpose)
            for team in teams
        ],
        compliance=compliance,
        compliance_note=note,
        committee=[
            CommitteeMember(title, affiliation)
            for title, affiliation in parse_members(plan.committee_members if plan else "")
        ],
        team_memberships=[TeamMembership(team.name, len(team.members)) for team in teams],
        locked=plan is not None and plan.locked_at is not None,
        actions=_action_entries(ward_id, fiscal_year, compliance, last_year=False),
        previous_actions=_action_entries(ward_id, fiscal_year - 1, compliance, last_year=True),
    )
    return report, results


def _action_entries(
    ward_id: int, fiscal_year: int, table: ComplianceTable | None, last_year: bool
) -> list[ActionEntry]:
    """The actions recorded on the ward's rounds of a fiscal year, with their status. Last
    year's (``last_year``) carry their standard's rates before and after from the report's
    own compliance table (the ward's cells, small groups hidden): this year's column is
    "after", last year's "before"; never a rate of the owner's section."""
    rows = {row.key: row for row in table.rows} if table is not None else {}
    compared = table is not None and len(table.column_groups) == 2
    entries = []
    for action, standard in actions_for_report(ward_id, fiscal_year):
        row = rows.get(action.standard_key)
        before = after = None
        if last_year and row is not None:
            after = (row.groups[-1][0].text, row.groups[-1][1].text)
            if compared:
                before = (row.groups[0][0].text, row.groups[0][1].text)
        status = STATUS_NAMES[action.status] + (
            f"（理由：{action.status_reason}）" if action.status_reason else ""
        )
        entries.append(ActionEntry(
            standard, action.action, action.section.name, reiwa_date(action.due),
            action.outcome, status, before, after,
        ))
    return entries
