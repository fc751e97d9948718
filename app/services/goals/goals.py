"""Service goals (サービス向上目標), working teams and the ward's year plan (docs/goals.md).

Each section sets 1-3 goals a fiscal year (a scene/場面 and the goal) and reports the result
(実施結果及び目標の達成度) at the year end; the committee's working teams (ワーキングチーム) do the
same. The committee writes the year's policy (方針), the summary (総括) and the committee's
membership, and can lock the year: a locked year refuses every change (pages, import, CLI).

As every service here, nothing commits: the caller commits once per user action, or rolls back
on ``GoalsError``, whose ``errors`` are plain Japanese, one message per problem.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import (
    Assignment,
    Department,
    Grant,
    GrantRole,
    Person,
    Role,
    Section,
    ServiceGoal,
    Ward,
    WorkingTeam,
    YearPlan,
    utcnow,
)
from app.services import tabular
from app.services.errors import DomainError

MAX_GOALS = 3
SCENE_MAX_LENGTH = 20
TEXT_MAX_LENGTH = 2000
TEAM_NAME_MAX_LENGTH = 100
COMMITTEE_NAME_MAX_LENGTH = 100
# Scenes the seeds use for goals, offered as suggestions (any short text is accepted).
GOAL_SCENES: tuple[str, ...] = (
    "お知らせ",
    "応対",
    "対面応対",
    "地域訪問",
    "共通",
    "庁内体制",
    "庁舎案内",
)
_NUMBERING = re.compile(r"^\s*(?:[①-⑳]|\(?\d+[).．、]?|[０-９]+[)）．、]?)\s*")
_MEMBER_SEPARATORS = re.compile(r"\s*[\t:：|｜]\s*")


class GoalsError(DomainError):
    """The change cannot be made; ``errors`` says why, one Japanese message per problem."""


@dataclass(frozen=True)
class GoalInput:
    """One goal as entered: its number (1-3), scene, goal and result ("" or None: none yet)."""

    position: int
    scene: str
    goal: str
    result: str | None = None


# --- Small helpers --------------------------------------------------------------------------


def normalize_scene(text: str) -> str:
    """A scene as stored: NFKC, without the spaces the seeds put between its characters."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _text(value: str | None) -> str:
    """Trimmed text with Windows line ends made plain."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check_goals(inputs: Sequence[GoalInput], label: str = "") -> list[str]:
    """Every problem of one owner's goals (empty when they can be saved)."""
    errors: list[str] = []
    if len(inputs) > MAX_GOALS:
        errors.append(
            _("%(owner)sの目標は%(max)sつまでです。", owner=label, max=MAX_GOALS)
            if label
            else _("目標は%(max)sつまでです。", max=MAX_GOALS)
        )
    seen: set[int] = set()
    for item in inputs:
        name = (
            _("%(owner)sの目標%(n)s", owner=label, n=item.position)
            if label
            else _("目標%(n)d", n=item.position)
        )
        if not 1 <= item.position <= MAX_GOALS:
            errors.append(_("%(name)s: 番号は1から%(max)sまでです。", name=name, max=MAX_GOALS))
        elif item.position in seen:
            errors.append(_("%(name)s: 同じ番号の目標が2つあります。", name=name))
        seen.add(item.position)
        scene = normalize_scene(item.scene)
        if not scene:
            errors.append(_("%(name)s: 場面を入力してください。", name=name))
        elif len(scene) > SCENE_MAX_LENGTH:
            errors.append(
                _(
                    "%(name)s: 場面は%(max)s文字までにしてください。",
                    name=name,
                    max=SCENE_MAX_LENGTH,
                )
            )
        if not _text(item.goal):
            errors.append(_("%(name)s: 目標を入力してください。", name=name))
        elif len(_text(item.goal)) > TEXT_MAX_LENGTH:
            errors.append(
                _("%(name)s: 目標は%(max)s文字までにしてください。", name=name, max=TEXT_MAX_LENGTH)
            )
        if len(_text(item.result)) > TEXT_MAX_LENGTH:
            errors.append(
                _(
                    "%(name)s: 実施結果は%(max)s文字までにしてください。",
                    name=name,
                    max=TEXT_MAX_LENGTH,
                )
            )
    return errors


def section_chief_title(section_name: str) -> str:
    """How the report names a section's chief: 区民課 -> 区民課長, 橘出張所 -> 橘出張所長,
    危機管理担当 -> 危機管理担当課長."""
    if section_name.endswith(("課", "所")):
        return f"{section_name}長"
    return f"{section_name}課長"


def parse_policy(text: str) -> list[str]:
    """The policy's points, one a line, without the numbers people type (①, 1., (1))."""
    points = []
    for line in _text(text).split("\n"):
        point = _NUMBERING.sub("", line, count=1).strip() if line.strip() else ""
        if point:
            points.append(point)
    return points


def parse_paragraphs(text: str) -> list[str]:
    """Paragraphs: one a line, blank lines dropped."""
    return [line.strip() for line in _text(text).split("\n") if line.strip()]


def parse_members(text: str) -> list[tuple[str, str]]:
    """Committee lines ``役職：所属`` (a line without 役職, e.g. ``：区民課長`` or ``区民課長``,
    shares the title of the line above in the report)."""
    members = []
    for line in _text(text).split("\n"):
        if not line.strip():
            continue
        parts = _MEMBER_SEPARATORS.split(line.strip(), maxsplit=1)
        if len(parts) == 2:
            members.append((parts[0].strip(), parts[1].strip()))
        else:
            members.append(("", parts[0].strip()))
    return members


def format_members(members: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{title}：{affiliation}" for title, affiliation in members)


# --- The year plan and the lock ----------------------------------------------------------------


def plan_for(ward_id: int, fiscal_year: int) -> YearPlan | None:
    """The ward's plan for the year, if any was written."""
    return db.session.scalar(
        sa.select(YearPlan).where(YearPlan.ward_id == ward_id, YearPlan.fiscal_year == fiscal_year)
    )


def is_locked(ward_id: int, fiscal_year: int) -> bool:
    """True when the committee locked the ward's year (read-only)."""
    locked = db.session.scalar(
        sa.select(YearPlan.locked_at).where(
            YearPlan.ward_id == ward_id, YearPlan.fiscal_year == fiscal_year
        )
    )
    return locked is not None


def locked_message(fiscal_year: int) -> str:
    return str(_(
        "%(year)sは確定（ロック）されているため変更できません。"
        "変更するには委員会がロックを解除してください。",
        year=fiscal_year_label(fiscal_year),
    ))


def check_unlocked(ward_id: int, fiscal_year: int) -> None:
    """Raise ``GoalsError`` when the ward's year is locked."""
    if is_locked(ward_id, fiscal_year):
        raise GoalsError([locked_message(fiscal_year)])


def default_committee(ward_id: int, fiscal_year: int) -> list[tuple[str, str]]:
    """Membership lines from the ward's committee grants: each member as 委員 with their
    section in the year (a chief as the section's chief, 区民課長), in the organisation's order."""
    rows = db.session.execute(
        sa.select(Section.name, Assignment.role)
        .select_from(Grant)
        .join(
            Assignment,
            sa.and_(
                Assignment.person_id == Grant.person_id, Assignment.fiscal_year == fiscal_year
            ),
        )
        .join(Section, Section.id == Assignment.section_id)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(Grant.role == GrantRole.COMMITTEE, Grant.ward_id == ward_id)
        .order_by(*_org_order())
    ).all()
    lines: list[tuple[str, str]] = []
    for section_name, role in rows:
        line = ("委員", section_chief_title(section_name) if role is Role.CHIEF else section_name)
        if line not in lines:
            lines.append(line)
    return lines


def ensure_plan(ward_id: int, fiscal_year: int) -> YearPlan:
    """The ward's plan for the year, created (membership prefilled) when there is none."""
    plan = plan_for(ward_id, fiscal_year)
    if plan is None:
        plan = YearPlan(
            ward_id=ward_id,
            fiscal_year=fiscal_year,
            policy="",
            summary="",
            committee_members=format_members(default_committee(ward_id, fiscal_year)),
        )
        db.session.add(plan)
        db.session.flush()
    return plan


def save_plan(
    ward_id: int,
    fiscal_year: int,
    *,
    policy: str,
    summary: str,
    committee_name: str,
    committee_members: str,
) -> YearPlan:
    """Write the year's policy (one point a line), summary, committee name and membership."""
    check_unlocked(ward_id, fiscal_year)
    name = _text(committee_name)
    errors = []
    if not name:
        errors.append(_("委員会（部会）の名前を入力してください。"))
    elif len(name) > COMMITTEE_NAME_MAX_LENGTH:
        errors.append(
            _(
                "委員会（部会）の名前は%(max)s文字までにしてください。",
                max=COMMITTEE_NAME_MAX_LENGTH,
            )
        )
    for label, value in ((_("方針"), policy), (_("総括"), summary)):
        if len(_text(value)) > 4 * TEXT_MAX_LENGTH:
            errors.append(
                _(
                    "%(label)sは%(max)s文字までにしてください。",
                    label=label,
                    max=4 * TEXT_MAX_LENGTH,
                )
            )
    if errors:
        raise GoalsError(errors)
    plan = ensure_plan(ward_id, fiscal_year)
    plan.policy = "\n".join(parse_policy(policy))
    plan.summary = "\n".join(parse_paragraphs(summary))
    plan.committee_name = name
    plan.committee_members = format_members(parse_members(committee_members))
    return plan


def lock_year(ward_id: int, fiscal_year: int, by: Person | None) -> YearPlan:
    """Lock the ward's year: goals, teams and the plan become read-only (``by`` None: CLI)."""
    plan = ensure_plan(ward_id, fiscal_year)
    if plan.locked_at is not None:
        raise GoalsError(
            [_("%(year)sは既に確定（ロック）されています。", year=fiscal_year_label(fiscal_year))]
        )
    plan.locked_at = utcnow()
    plan.locked_by_id = by.id if by else None
    return plan


def unlock_year(ward_id: int, fiscal_year: int) -> YearPlan:
    """Unlock the ward's year so that it can be edited again."""
    plan = plan_for(ward_id, fiscal_year)
    if plan is None or plan.locked_at is None:
        raise GoalsError(
            [_("%(year)sはロックされていません。", year=fiscal_year_label(fiscal_year))]
        )
    plan.locked_at = None
    plan.locked_by_id = None
    return plan


# --- Sections' and teams' goals ------------------------------------------------------------------


def _org_order() -> list[Any]:
    """The organisation's order: sections directly under the ward first, then by department
    and section ``sort_order`` (join ``Department`` with an outer join)."""
    return [
        sa.case((Section.department_id.is_(None), 0), else_=1),
        Department.sort_order,
        Department.id,
        Section.sort_order,
        Section.id,
    ]


def ward_sections(ward_id: int) -> list[tuple[Section, str | None]]:
    """The ward's sections with their department's name, in the organisation's order."""
    rows = db.session.execute(
        sa.select(Section, Department.name)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(Section.ward_id == ward_id)
        .order_by(*_org_order())
    ).all()
    return [(section, department) for section, department in rows]


def section_goals(section_id: int, fiscal_year: int) -> list[ServiceGoal]:
    """A section's goals for the year, by number."""
    return list(
        db.session.scalars(
            sa.select(ServiceGoal)
            .where(ServiceGoal.section_id == section_id, ServiceGoal.fiscal_year == fiscal_year)
            .order_by(ServiceGoal.position)
        )
    )


def team_goals(team_id: int) -> list[ServiceGoal]:
    """A working team's goals, by number."""
    return list(
        db.session.scalars(
            sa.select(ServiceGoal)
            .where(ServiceGoal.working_team_id == team_id)
            .order_by(ServiceGoal.position)
        )
    )


def ward_goals(ward_id: int, fiscal_year: int) -> list[ServiceGoal]:
    """One query: every goal of the ward's sections and working teams for the year."""
    return list(
        db.session.scalars(
            sa.select(ServiceGoal)
            .outerjoin(Section, Section.id == ServiceGoal.section_id)
            .outerjoin(WorkingTeam, WorkingTeam.id == ServiceGoal.working_team_id)
            .where(
                ServiceGoal.fiscal_year == fiscal_year,
                sa.or_(Section.ward_id == ward_id, WorkingTeam.ward_id == ward_id),
            )
            .order_by(ServiceGoal.position)
        )
    )


def ward_teams(ward_id: int, fiscal_year: int) -> list[WorkingTeam]:
    """The ward's working teams for the year with their members (two queries)."""
    return list(
        db.session.scalars(
            sa.select(WorkingTeam)
            .where(WorkingTeam.ward_id == ward_id, WorkingTeam.fiscal_year == fiscal_year)
            .options(so.selectinload(WorkingTeam.members))
            .order_by(WorkingTeam.sort_order, WorkingTeam.id)
        )
    )


def _apply(
    existing: Sequence[ServiceGoal],
    inputs: Sequence[GoalInput],
    by: Person | None,
    *,
    fiscal_year: int,
    section_id: int | None = None,
    working_team_id: int | None = None,
) -> None:
    """Make the owner's goals the inputs: update by number, add new ones, delete the rest
    (the caller flushes, once for many owners, so that the writes go in batches)."""
    by_position = {goal.position: goal for goal in existing}
    wanted = {item.position for item in inputs}
    for goal in existing:
        if goal.position not in wanted:
            db.session.delete(goal)
    for item in inputs:
        values = (normalize_scene(item.scene), _text(item.goal), _text(item.result) or None)
        stored = by_position.get(item.position)
        if stored is None:
            db.session.add(
                ServiceGoal(
                    fiscal_year=fiscal_year,
                    section_id=section_id,
                    working_team_id=working_team_id,
                    position=item.position,
                    scene=values[0],
                    goal=values[1],
                    result=values[2],
                    updated_by_id=by.id if by else None,
                )
            )
        elif (stored.scene, stored.goal, stored.result) != values:
            stored.scene, stored.goal, stored.result = values
            stored.updated_by_id = by.id if by else None


def save_section_goals(
    section: Section, fiscal_year: int, inputs: Sequence[GoalInput], by: Person
) -> None:
    """Replace the section's goals for the year with ``inputs`` (1-3 goals)."""
    check_unlocked(section.ward_id, fiscal_year)
    errors = check_goals(inputs)
    if not inputs:
        errors.insert(0, _("目標を1つ以上入力してください。"))
    if errors:
        raise GoalsError(errors)
    _apply(
        section_goals(section.id, fiscal_year),
        inputs,
        by,
        fiscal_year=fiscal_year,
        section_id=section.id,
    )
    db.session.flush()


def save_team_goals(team: WorkingTeam, inputs: Sequence[GoalInput], by: Person) -> None:
    """Replace the working team's goals with ``inputs`` (0-3 goals)."""
    check_unlocked(team.ward_id, team.fiscal_year)
    errors = check_goals(inputs)
    if errors:
        raise GoalsError(errors)
    _apply(
        team_goals(team.id), inputs, by, fiscal_year=team.fiscal_year, working_team_id=team.id
    )
    db.session.flush()


def copy_section_goals(
    section: Section, fiscal_year: int, by: Person, *, replace: bool = False
) -> int:
    """Start the year's goals from last year's (scene and goal, no result); returns how many.

    Refuses when the section already has goals this year unless ``replace`` (confirmed).
    """
    check_unlocked(section.ward_id, fiscal_year)
    previous = section_goals(section.id, fiscal_year - 1)
    if not previous:
        raise GoalsError(
            [_("%(year)sの目標がありません。", year=fiscal_year_label(fiscal_year - 1))]
        )
    current = section_goals(section.id, fiscal_year)
    if current and not replace:
        raise GoalsError([_("今年度の目標が既にあります。置き換えるには確認してください。")])
    inputs = [GoalInput(g.position, g.scene, g.goal, None) for g in previous]
    _apply(current, inputs, by, fiscal_year=fiscal_year, section_id=section.id)
    db.session.flush()
    return len(inputs)


def _member_ids(employee_ids: Sequence[str]) -> list[Person]:
    """People by employee id (GoalsError naming every unknown id)."""
    wanted = list(dict.fromkeys(unicodedata.normalize("NFKC", e).strip() for e in employee_ids))
    wanted = [e for e in wanted if e]
    if not wanted:
        return []
    people = {
        p.employee_id: p
        for p in db.session.scalars(sa.select(Person).where(Person.employee_id.in_(wanted)))
    }
    unknown = [e for e in wanted if e not in people]
    if unknown:
        raise GoalsError([_("職員番号 %(id)s の職員はいません。", id=e) for e in unknown])
    return [people[e] for e in wanted]


def split_employee_ids(text: str) -> list[str]:
    """Employee ids typed one a line or separated by spaces or commas."""
    return [part for part in re.split(r"[\s,、，]+", text or "") if part]


def save_team(
    ward_id: int,
    fiscal_year: int,
    *,
    name: str,
    purpose: str,
    member_ids: Sequence[str],
    team: WorkingTeam | None = None,
) -> WorkingTeam:
    """Create a working team for the ward's year, or change ``team``: name, purpose, members."""
    check_unlocked(ward_id, fiscal_year)
    name = _text(name)
    errors: list[str] = []
    if not name:
        errors.append(_("チームの名前を入力してください。"))
    elif len(name) > TEAM_NAME_MAX_LENGTH:
        errors.append(
            _("チームの名前は%(max)s文字までにしてください。", max=TEAM_NAME_MAX_LENGTH)
        )
    clash = db.session.scalar(
        sa.select(WorkingTeam.id).where(
            WorkingTeam.ward_id == ward_id,
            WorkingTeam.fiscal_year == fiscal_year,
            WorkingTeam.name == name,
        )
    )
    if clash is not None and (team is None or clash != team.id):
        errors.append(_("「%(name)s」という名前のチームが既にあります。", name=name))
    try:
        members = _member_ids(member_ids)
    except GoalsError as error:
        errors.extend(error.errors)
        members = []
    if errors:
        raise GoalsError(errors)
    if team is None:
        count = db.session.scalar(
            sa.select(sa.func.count(WorkingTeam.id)).where(
                WorkingTeam.ward_id == ward_id, WorkingTeam.fiscal_year == fiscal_year
            )
        )
        team = WorkingTeam(ward_id=ward_id, fiscal_year=fiscal_year, sort_order=(count or 0) + 1)
        db.session.add(team)
    team.name = name
    team.purpose = _text(purpose)
    team.members = members
    db.session.flush()
    return team


def delete_team(team: WorkingTeam) -> None:
    """Delete a working team with its goals."""
    check_unlocked(team.ward_id, team.fiscal_year)
    db.session.execute(sa.delete(ServiceGoal).where(ServiceGoal.working_team_id == team.id))
    db.session.delete(team)
    db.session.flush()


def copy_teams(ward_id: int, fiscal_year: int, *, replace: bool = False) -> int:
    """Start the year's working teams from last year's: name, purpose, members and goals (no
    results). Refuses when the year has teams already unless ``replace`` (confirmed), which
    deletes them first. Returns the number of teams copied."""
    check_unlocked(ward_id, fiscal_year)
    previous = ward_teams(ward_id, fiscal_year - 1)
    if not previous:
        raise GoalsError(
            [
                _(
                    "%(year)sのワーキングチームがありません。",
                    year=fiscal_year_label(fiscal_year - 1),
                )
            ]
        )
    current = ward_teams(ward_id, fiscal_year)
    if current and not replace:
        raise GoalsError(
            [_("今年度のワーキングチームが既にあります。置き換えるには確認してください。")]
        )
    if current:
        ids = [team.id for team in current]
        db.session.execute(sa.delete(ServiceGoal).where(ServiceGoal.working_team_id.in_(ids)))
        for team in current:
            db.session.delete(team)
        db.session.flush()
    goals_by_team: dict[int, list[ServiceGoal]] = {}
    for goal in db.session.scalars(
        sa.select(ServiceGoal).where(ServiceGoal.working_team_id.in_([t.id for t in previous]))
    ):
        goals_by_team.setdefault(goal.working_team_id or 0, []).append(goal)
    for old in previous:
        team = WorkingTeam(
            ward_id=ward_id,
            fiscal_year=fiscal_year,
            name=old.name,
            purpose=old.purpose,
            sort_order=old.sort_order,
            members=list(old.members),
        )
        db.session.add(team)
        db.session.flush()
        for goal in sorted(goals_by_team.get(old.id, []), key=lambda g: g.position):
            db.session.add(
                ServiceGoal(
                    fiscal_year=fiscal_year,
                    working_team_id=team.id,
                    position=goal.position,
                    scene=goal.scene,
                    goal=goal.goal,
                )
            )
    db.session.flush()
    return len(previous)


# --- The committee's overview of a year -----------------------------------------------------------


@dataclass(frozen=True)
class OwnerProgress:
    """A section or team on the year page: goals entered and results entered."""

    id: int
    name: str
    department: str | None
    goals: int
    results: int


@dataclass(frozen=True)
class YearOverview:
    ward: Ward
    fiscal_year: int
    plan: YearPlan | None
    sections: list[OwnerProgress]
    teams: list[OwnerProgress]

    @property
    def locked(self) -> bool:
        return self.plan is not None and self.plan.locked_at is not None


def year_overview(ward: Ward, fiscal_year: int) -> YearOverview:
    """The ward's year at a glance, in a fixed number of queries."""
    goals = ward_goals(ward.id, fiscal_year)
    counts: dict[tuple[str, int], list[int]] = {}
    for goal in goals:
        key = ("s", goal.section_id) if goal.section_id else ("t", goal.working_team_id or 0)
        entry = counts.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += 1 if goal.result else 0
    sections = [
        OwnerProgress(s.id, s.name, dept, *counts.get(("s", s.id), [0, 0]))
        for s, dept in ward_sections(ward.id)
    ]
    teams = [
        OwnerProgress(t.id, t.name, None, *counts.get(("t", t.id), [0, 0]))
        for t in ward_teams(ward.id, fiscal_year)
    ]
    return YearOverview(ward, fiscal_year, plan_for(ward.id, fiscal_year), sections, teams)


# --- Import of goals and results from a sheet (中原区's FY2022 取組シート) ------------------

IMPORT_COLUMNS: dict[str, str] = {
    "owner": "部署名",
    "position": "No",
    "scene": "場面",
    "goal": "目標",
    "result": "実施結果",
}
_IMPORT_ALIASES: dict[str, str] = {
    "部署名": "owner",
    "部署": "owner",
    "課": "owner",
    "no": "position",
    "番号": "position",
    "場面": "scene",
    "目標": "goal",
    "目標及び具体的な取組内容": "goal",
    "実施結果": "result",
    "実施結果及び目標の達成度": "result",
    "結果": "result",
}
IMPORT_REQUIRED: tuple[str, ...] = ("owner", "position", "scene", "goal")


@dataclass(frozen=True)
class GoalRow:
    """One line of the sheet: ``department`` is the line above the name in a 部署名 cell such
    as 「まちづくり推進部\\n総務課」 (中原区's FY2022 取組シート), else None."""

    line: int
    owner: str
    department: str | None
    position: int
    scene: str
    goal: str
    result: str | None
    problems: tuple[str, ...] = ()  # what is wrong with the line itself


CHANGE_KINDS = ("replaced", "added", "deleted", "unchanged")


@dataclass(frozen=True)
class GoalChange:
    """What an import does to one goal of a section or team named in the sheet: ``replaced``
    (the same number with other text), ``added``, ``deleted`` (a number the sheet lacks) or
    ``unchanged``."""

    owner: str
    position: int
    kind: str


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    fiscal_year: int
    ward: str
    rows: int
    sections: int
    teams: int
    changes: tuple[GoalChange, ...] = ()

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def lines(self, dry_run: bool = False) -> list[str]:
        """A summary line and the counts; a dry run also lists every goal it would change."""
        names = dict(
            ward=self.ward,
            year=fiscal_year_label(self.fiscal_year),
            rows=self.rows,
            sections=self.sections,
            teams=self.teams,
        )
        counts = _(
            "置き換え %(replaced)s 件・追加 %(added)s 件・削除 %(deleted)s 件・"
            "変更なし %(unchanged)s 件",
            **{kind: self.count(kind) for kind in CHANGE_KINDS},
        )
        if not dry_run:
            return [
                _(
                    "%(ward)s %(year)s: 目標 %(rows)s 件"
                    "（課 %(sections)s・ワーキングチーム %(teams)s）を取り込みました。",
                    **names,
                ),
                counts,
            ]
        labels = {"replaced": _("置き換え"), "added": _("追加"), "deleted": _("削除")}
        lines = [
            _(
                "%(ward)s %(year)s: シートの目標 %(rows)s 件"
                "（課 %(sections)s・ワーキングチーム %(teams)s）を確認しました。"
                "取り込むと、シートに載った課・チームの目標はシートの内容に置き換わり、"
                "シートにない番号の目標は削除されます。",
                **names,
            ),
            counts,
        ]
        lines += [
            f"  {labels[c.kind]}: {c.owner} No {c.position}"
            for c in self.changes
            if c.kind in labels
        ]
        return lines


def _changes(
    owner: str, existing: Sequence[ServiceGoal], inputs: Sequence[GoalInput]
) -> list[GoalChange]:
    """What ``_apply`` does to one owner's goals, goal by goal, in number order."""
    by_position = {goal.position: goal for goal in existing}
    changes = []
    for item in inputs:
        stored = by_position.pop(item.position, None)
        values = (normalize_scene(item.scene), _text(item.goal), _text(item.result) or None)
        if stored is None:
            kind = "added"
        elif (stored.scene, stored.goal, stored.result) != values:
            kind = "replaced"
        else:
            kind = "unchanged"
        changes.append(GoalChange(owner, item.position, kind))
    changes += [GoalChange(owner, position, "deleted") for position in by_position]
    return sorted(changes, key=lambda change: change.position)


def read_goal_sheet(path: Path) -> list[GoalRow]:
    """Read a goal sheet (.xlsx, first sheet; or .csv) with the columns 部署名, No, 場面, 目標 and
    実施結果 (optional). ``GoalsError`` when the file or its header cannot be read; each line's
    own problems travel with the line, so that ``import_goals`` names every bad line at once."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise GoalsError(
            [
                _(
                    "ファイルの形式が違います: %(name)s（.xlsx または .csv にしてください）",
                    name=path.name,
                )
            ]
        )
    try:
        table = tabular.read_xlsx(path) if suffix == ".xlsx" else tabular.read_csv(path)
    except tabular.TabularError as error:
        raise GoalsError(error.errors) from error
    return _parse_sheet(table)


def read_upload(filename: str, data: bytes) -> list[GoalRow]:
    """``read_goal_sheet`` for an uploaded file's name and bytes."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise GoalsError([_("ファイルの形式が違います（.xlsx または .csv にしてください）")])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"sheet{suffix}"
        path.write_bytes(data)
        return read_goal_sheet(path)


# Longest piece of a cell quoted back in a message: an error page must not echo a huge cell.
SHOWN_MAX_LENGTH = 40


def _shown(value: str) -> str:
    """A cell's text as quoted in a message, cut at ``SHOWN_MAX_LENGTH`` characters."""
    return value if len(value) <= SHOWN_MAX_LENGTH else value[: SHOWN_MAX_LENGTH - 1] + "…"


def _header(cell: str) -> str | None:
    key = re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", cell)).casefold()
    return _IMPORT_ALIASES.get(key)


def _parse_sheet(table: Sequence[tuple[int, list[str]]]) -> list[GoalRow]:
    """The header, then one GoalRow per non-blank line; ``GoalsError`` when the sheet is empty,
    its header lacks a column or has one twice, or no line follows it."""
    records = [(line, cells) for line, cells in table if any(c.strip() for c in cells)]
    if not records:
        raise GoalsError(
            [_("ファイルが空です（1行目に見出し、2行目から目標の行が必要です）")]
        )
    header_line, header = records[0]
    columns = _sheet_columns(header_line, header)
    rows = [_goal_row(line, cells, columns) for line, cells in records[1:]]
    if not rows:
        raise GoalsError(
            [
                _(
                    "目標の行がありません（%(line)s行目の見出しの後に1目標1行で書きます）",
                    line=header_line,
                )
            ]
        )
    return rows


def _sheet_columns(header_line: int, header: list[str]) -> dict[str, int]:
    """Column key -> its index in the header; ``GoalsError`` naming every column twice and
    every required column missing."""
    columns: dict[str, int] = {}
    errors: list[str] = []
    for index, title in enumerate(header):
        key = _header(title)
        if key is None:
            continue
        if key in columns:
            errors.append(
                _(
                    "%(line)s行目: 列「%(title)s」が2つあります",
                    line=header_line,
                    title=_shown(title.strip()),
                )
            )
        else:
            columns[key] = index
    missing = [IMPORT_COLUMNS[key] for key in IMPORT_REQUIRED if key not in columns]
    if missing:
        errors.append(
            _(
                "%(line)s行目: 必要な列がありません: %(columns)s",
                line=header_line,
                columns="、".join(missing),
            )
        )
    if errors:
        raise GoalsError(errors)
    return columns


def _goal_row(line: int, cells: list[str], columns: dict[str, int]) -> GoalRow:
    """One line of the sheet, with its own problems (no owner, a bad No, a goal's checks)."""

    def cell(key: str) -> str:
        index = columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    problems: list[str] = []
    names = [n.strip() for n in _text(cell("owner")).split("\n") if n.strip()]
    owner = unicodedata.normalize("NFKC", names[-1]) if names else ""
    department = unicodedata.normalize("NFKC", names[0]) if len(names) > 1 else None
    if not owner:
        problems.append(_("部署名がありません"))
    number_text = unicodedata.normalize("NFKC", cell("position"))
    position = int(number_text) if number_text.isdigit() else 0
    if not 1 <= position <= MAX_GOALS:
        problems.append(
            _(
                "No「%(n)s」は1から%(max)sの数字にしてください",
                n=_shown(number_text),
                max=MAX_GOALS,
            )
        )
    item = GoalInput(min(max(position, 1), MAX_GOALS), cell("scene"), cell("goal"), cell("result"))
    problems += [m.split(": ", 1)[-1] for m in check_goals([item])]
    return GoalRow(
        line=line,
        owner=owner,
        department=department,
        position=position,
        scene=normalize_scene(item.scene),
        goal=_text(item.goal),
        result=_text(item.result) or None,
        problems=tuple(problems),
    )


# ("s", section id) or ("t", working team id): whose goals a line of the sheet sets
_OwnerKey = tuple[str, int]


@dataclass(frozen=True)
class _SheetOwners:
    """Who a goal sheet may name in a ward and year: its sections (with their department's
    name) and its working teams, by NFKC name."""

    ward: Ward
    fiscal_year: int
    sections: dict[str, tuple[Section, str | None]]
    teams: dict[str, WorkingTeam]


def import_goals(
    rows: Sequence[GoalRow], ward_id: int, fiscal_year: int, by: Person | None = None
) -> ImportSummary:
    """Write the sheet's goals, all or nothing: each section or working team named in the sheet
    gets exactly the sheet's goals for the year (others are not touched). ``GoalsError`` names
    every bad line: unknown section or team, wrong department, the same 部署名 and No twice,
    a locked year."""
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        raise GoalsError([_("区が見つかりません。")])
    errors: list[tuple[int, str]] = []
    if is_locked(ward_id, fiscal_year):
        errors.append((0, locked_message(fiscal_year)))
    owners = _SheetOwners(
        ward,
        fiscal_year,
        {unicodedata.normalize("NFKC", s.name): (s, dept) for s, dept in ward_sections(ward_id)},
        {unicodedata.normalize("NFKC", t.name): t for t in ward_teams(ward_id, fiscal_year)},
    )
    wanted, owner_names = _wanted_goals(rows, owners, errors)
    if errors:
        raise GoalsError([m for _line, m in sorted(errors, key=lambda e: e[0])])
    changes = _write_goals(wanted, owner_names, ward_id, fiscal_year, by)
    db.session.flush()
    return ImportSummary(
        fiscal_year=fiscal_year,
        ward=ward.name,
        rows=len(rows),
        sections=sum(1 for kind, _ in wanted if kind == "s"),
        teams=sum(1 for kind, _ in wanted if kind == "t"),
        changes=tuple(changes),
    )


def _wanted_goals(
    rows: Sequence[GoalRow], owners: _SheetOwners, errors: list[tuple[int, str]]
) -> tuple[dict[_OwnerKey, list[GoalInput]], dict[_OwnerKey, str]]:
    """The goals the sheet gives each section or team, and the name it gives them; every bad
    line's problems are added to ``errors`` with its line."""
    seen: dict[tuple[str, int], int] = {}
    wanted: dict[_OwnerKey, list[GoalInput]] = {}
    owner_names: dict[_OwnerKey, str] = {}
    for row in rows:
        at = _("%(line)s行目: ", line=row.line)
        errors.extend((row.line, at + problem) for problem in row.problems)
        if not row.owner:
            continue
        key = _owner_key(row, owners, at, errors)
        if key is None or row.problems:
            continue
        first = seen.setdefault((row.owner, row.position), row.line)
        if first != row.line:
            errors.append(
                (
                    row.line,
                    at
                    + _(
                        "%(owner)s の No %(n)s は %(first)s行目と重複しています",
                        owner=_shown(row.owner),
                        n=row.position,
                        first=first,
                    ),
                )
            )
            continue
        wanted.setdefault(key, []).append(
            GoalInput(row.position, row.scene, row.goal, row.result)
        )
        owner_names.setdefault(key, row.owner)
    return wanted, owner_names


def _owner_key(
    row: GoalRow, owners: _SheetOwners, at: str, errors: list[tuple[int, str]]
) -> _OwnerKey | None:
    """The section or team a line names (None, with an error, when the ward has neither); a
    section's department, when the line gives one, must be its own (else an error)."""
    if row.owner in owners.sections:
        section, dept = owners.sections[row.owner]
        if row.department and unicodedata.normalize("NFKC", dept or "") != row.department:
            errors.append(
                (
                    row.line,
                    at
                    + _(
                        "%(owner)s の部は「%(department)s」です（シートでは「%(sheet)s」）",
                        owner=_shown(row.owner),
                        department=dept or _("なし（区の直下）"),
                        sheet=_shown(row.department or ""),
                    ),
                )
            )
        return ("s", section.id)
    if row.owner in owners.teams:
        return ("t", owners.teams[row.owner].id)
    errors.append(
        (
            row.line,
            at
            + _(
                "部署名「%(owner)s」は%(ward)sの課にも%(year)sのワーキングチームにも"
                "ありません",
                owner=_shown(row.owner),
                ward=owners.ward.name,
                year=fiscal_year_label(owners.fiscal_year),
            ),
        )
    )
    return None


def _write_goals(
    wanted: dict[_OwnerKey, list[GoalInput]],
    owner_names: dict[_OwnerKey, str],
    ward_id: int,
    fiscal_year: int,
    by: Person | None,
) -> list[GoalChange]:
    """Give each section or team of the sheet exactly its goals; return what changed."""
    existing: dict[_OwnerKey, list[ServiceGoal]] = {}
    for goal in ward_goals(ward_id, fiscal_year):
        owner = ("s", goal.section_id) if goal.section_id else ("t", goal.working_team_id or 0)
        existing.setdefault(owner, []).append(goal)
    changes: list[GoalChange] = []
    for (kind, owner_id), inputs in wanted.items():
        current = existing.get((kind, owner_id), [])
        changes += _changes(owner_names[(kind, owner_id)], current, inputs)
        _apply(
            current,
            inputs,
            by,
            fiscal_year=fiscal_year,
            section_id=owner_id if kind == "s" else None,
            working_team_id=owner_id if kind == "t" else None,
        )
    return changes
