"""The committee's list of improvement actions, across rounds and wards within the reader's
scope (docs/results.md, "Improvement actions"): filtered by status (the open ones by default),
section and overdue, for the page and its xlsx.

It names each action's owner and section, never a respondent, and shows no rate at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from app.access import in_scope_clause
from app.extensions import db
from app.models import (
    OPEN_ACTION_STATUSES,
    ActionStatus,
    ImprovementAction,
    Person,
    Round,
    Section,
    Standard,
    Ward,
)
from app.services.results.actions import STATUS_NAMES, action_standard_clause

OPEN = "open"
ALL = "all"
STATUS_FILTERS: tuple[str, ...] = (OPEN, ALL, *(s.value for s in ActionStatus))


@dataclass(frozen=True)
class ActionFilter:
    """Which actions the list shows: a status filter (``open``: 未着手 and 対応中, ``all``, or
    one status), one section or all, and only the overdue ones or all."""

    status: str = OPEN
    section_id: int | None = None
    overdue: bool = False


@dataclass(frozen=True)
class ListedAction:
    """One line of the list."""

    id: int
    ward_name: str
    round_id: int
    round_title: str
    fiscal_year: int
    standard_number: int | None  # None: the standard is gone from the round's catalogue
    standard_text: str
    action: str
    section_name: str
    owner_name: str | None  # None: recorded before owners existed
    owner_employee_id: str | None
    due: date
    status: ActionStatus
    status_reason: str | None
    outcome: str | None
    evidence_url: str | None
    evidence_note: str | None
    overdue: bool


def filter_text(status: str, overdue: bool) -> str:
    """The filter in the xlsx's words: 状況：未完了（未着手・対応中）・期限を過ぎたものだけ."""
    names = {OPEN: "未完了（未着手・対応中）", ALL: "すべて"}
    name = names.get(status) or STATUS_NAMES[ActionStatus(status)]
    return f"状況：{name}" + ("・期限を過ぎたものだけ" if overdue else "")


def _overdue(today: date) -> sa.ColumnElement[bool]:
    """Past the due date and not done or dropped."""
    return sa.and_(
        ImprovementAction.due < today, ImprovementAction.status.in_(OPEN_ACTION_STATUSES)
    )


def _in_scope(scope: set[int] | None) -> sa.ColumnElement[bool]:
    return in_scope_clause(ImprovementAction.ward_id, scope)


def list_actions(scope: set[int] | None, chosen: ActionFilter, today: date) -> list[ListedAction]:
    """The actions of the wards in ``scope`` (None: every ward) that pass the filter, by due
    date. One query."""
    query = (
        sa.select(
            ImprovementAction, Ward.name, Round.title, Round.fiscal_year, Standard.number,
            Standard.text, Section.name, Person.name, Person.employee_id,
            _overdue(today).label("overdue"),
        )
        .join(Ward, Ward.id == ImprovementAction.ward_id)
        .join(Round, Round.id == ImprovementAction.round_id)
        .join(Section, Section.id == ImprovementAction.section_id)
        .outerjoin(Person, Person.id == ImprovementAction.owner_id)
        .outerjoin(
            Standard,
            action_standard_clause(),
        )
        .where(_in_scope(scope))
        .order_by(ImprovementAction.due, Ward.sort_order, ImprovementAction.id)
    )
    if chosen.status == OPEN:
        query = query.where(ImprovementAction.status.in_(OPEN_ACTION_STATUSES))
    elif chosen.status != ALL:
        query = query.where(ImprovementAction.status == ActionStatus(chosen.status))
    if chosen.section_id is not None:
        query = query.where(ImprovementAction.section_id == chosen.section_id)
    if chosen.overdue:
        query = query.where(_overdue(today))
    return [
        ListedAction(
            id=a.id, ward_name=ward, round_id=a.round_id, round_title=title,
            fiscal_year=fiscal_year, standard_number=number,
            standard_text=text or a.standard_key, action=a.action, section_name=section,
            owner_name=owner, owner_employee_id=employee_id, due=a.due,
            status=ActionStatus(a.status), status_reason=a.status_reason, outcome=a.outcome,
            evidence_url=a.evidence_url, evidence_note=a.evidence_note, overdue=bool(overdue),
        )
        for a, ward, title, fiscal_year, number, text, section, owner, employee_id, overdue
        in db.session.execute(query)
    ]


def listed_sections(scope: set[int] | None) -> list[tuple[int, str]]:
    """(id, name) of the sections that have an action in the scope's wards, in the city's and
    the organisation's order; the ward before the name when there are several wards."""
    rows = db.session.execute(
        sa.select(Section.id, Section.name, Ward.name)
        .join(Ward, Ward.id == Section.ward_id)
        .where(
            Section.id.in_(sa.select(ImprovementAction.section_id).where(_in_scope(scope)))
        )
        .order_by(Ward.sort_order, Ward.id, Section.sort_order, Section.id)
    ).all()
    several = len({ward for _id, _name, ward in rows}) > 1
    return [(id_, f"{ward} {name}" if several else name) for id_, name, ward in rows]
