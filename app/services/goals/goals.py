"""Service goals (サービス向上目標), working teams and the ward's year plan (docs/goals.md).

Each section sets 1-3 goals a fiscal year (a scene/場面 and the goal) and reports the result
(実施結果及び目標の達成度) at the year end; the committee's working teams (ワーキングチーム) do the
same. The committee writes the year's policy (方針), the summary (総括) and the committee's
membership, and can lock the year: a locked year refuses every change (pages, import, CLI).

The working teams' members and copies are ``app/services/goals/teams.py``; importing goals from
a sheet is ``app/services/goals/sheet.py``. As every service here, nothing commits: the caller
commits once per user action, or rolls back on ``GoalsError``, whose ``errors`` are plain
Japanese, one message per problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from app.services.errors import DomainError
from app.services.governance import audit

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


def clean_text(value: str | None) -> str:
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
        if not clean_text(item.goal):
            errors.append(_("%(name)s: 目標を入力してください。", name=name))
        elif len(clean_text(item.goal)) > TEXT_MAX_LENGTH:
            errors.append(
                _("%(name)s: 目標は%(max)s文字までにしてください。", name=name, max=TEXT_MAX_LENGTH)
            )
        if len(clean_text(item.result)) > TEXT_MAX_LENGTH:
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
    for line in clean_text(text).split("\n"):
        point = _NUMBERING.sub("", line, count=1).strip() if line.strip() else ""
        if point:
            points.append(point)
    return points


def parse_paragraphs(text: str) -> list[str]:
    """Paragraphs: one a line, blank lines dropped."""
    return [line.strip() for line in clean_text(text).split("\n") if line.strip()]


def parse_members(text: str) -> list[tuple[str, str]]:
    """Committee lines ``役職：所属`` (a line without 役職, e.g. ``：区民課長`` or ``区民課長``,
    shares the title of the line above in the report)."""
    members = []
    for line in clean_text(text).split("\n"):
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
    name = clean_text(committee_name)
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
        if len(clean_text(value)) > 4 * TEXT_MAX_LENGTH:
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


def _log_lock(action: str, ward_id: int, fiscal_year: int, by: Person | None) -> None:
    locked = action == "year.lock"
    audit.record(action, actor=by, target_type="year_plan", target_id=f"{ward_id}:{fiscal_year}",
                 before={"locked": not locked}, after={"locked": locked}, ward_id=ward_id)


def lock_year(ward_id: int, fiscal_year: int, by: Person | None) -> YearPlan:
    """Lock the ward's year: goals, teams and the plan become read-only; audited
    (``year.lock``; ``by`` None: the command line)."""
    plan = ensure_plan(ward_id, fiscal_year)
    if plan.locked_at is not None:
        raise GoalsError(
            [_("%(year)sは既に確定（ロック）されています。", year=fiscal_year_label(fiscal_year))]
        )
    plan.locked_at = utcnow()
    plan.locked_by_id = by.id if by else None
    _log_lock("year.lock", ward_id, fiscal_year, by)
    return plan


def unlock_year(ward_id: int, fiscal_year: int, by: Person | None) -> YearPlan:
    """Unlock the ward's year so that it can be edited again; audited (``year.unlock``;
    ``by`` None: the command line)."""
    plan = plan_for(ward_id, fiscal_year)
    if plan is None or plan.locked_at is None:
        raise GoalsError(
            [_("%(year)sはロックされていません。", year=fiscal_year_label(fiscal_year))]
        )
    plan.locked_at = None
    plan.locked_by_id = None
    _log_lock("year.unlock", ward_id, fiscal_year, by)
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


def apply_goals(
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
        values = (
            normalize_scene(item.scene), clean_text(item.goal), clean_text(item.result) or None
        )
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
    apply_goals(
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
    apply_goals(
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
    apply_goals(current, inputs, by, fiscal_year=fiscal_year, section_id=section.id)
    db.session.flush()
    return len(inputs)


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
