"""The committee's working teams (ワーキングチーム): their members, and copying them to a new year.

A team's goals are saved like a section's (``app/services/goals/goals.py`` ``save_team_goals``).
Nothing commits; a locked year refuses every change (``check_unlocked``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import Person, ServiceGoal, WorkingTeam
from app.services.goals.goals import (
    TEAM_NAME_MAX_LENGTH,
    GoalsError,
    check_unlocked,
    clean_text,
    ward_teams,
)


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
    name = clean_text(name)
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
    team.purpose = clean_text(purpose)
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
