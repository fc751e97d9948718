"""Improvement actions (改善の取組) on weak standards (docs/results.md, "Improvement actions").

After a round closes, the committee sees its weak standards for a ward: those under the
``WEAK_RATE_THRESHOLD`` setting, those that fell against last year, and those with a gap of at
least ``WEAK_GAP_POINTS`` between staff and chiefs. For any standard it records an action (the
changes: ``action_records.py``; the committee's list: ``action_list.py``; the mail:
``app/services/operations/action_mail.py``). The next year's round shows each action beside the
standard's rate before and after, and its status: the ward's cells of the two rounds as the
results give them (small groups hidden as everywhere), never a rate of the owner's section.

This module holds what the others read: the weak standards, the statuses, the roster an owner
is chosen from, and the actions beside their rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import (
    ActionStatus,
    Assignment,
    ImprovementAction,
    Role,
    Round,
    Section,
    Standard,
    utcnow,
)
from app.services.errors import DomainError
from app.services.results.compliance import ROLES, RoundResults, StandardRow
from app.wareki import fiscal_year_of, tokyo

ACTION_MAX_LENGTH = 1000

STATUS_LABELS: dict[ActionStatus, Any] = {
    ActionStatus.TODO: _l("未着手"),
    ActionStatus.DOING: _l("対応中"),
    ActionStatus.DONE: _l("完了"),
    ActionStatus.DROPPED: _l("見送り"),
}


# The same in Japanese, for the files (the xlsx, the annual report), which are in Japanese.
STATUS_NAMES: dict[ActionStatus, str] = {
    ActionStatus.TODO: "未着手",
    ActionStatus.DOING: "対応中",
    ActionStatus.DONE: "完了",
    ActionStatus.DROPPED: "見送り",
}


def status_label(status: ActionStatus | str) -> str:
    """未着手 / 対応中 / 完了 / 見送り, in the reader's language."""
    return str(STATUS_LABELS[ActionStatus(status)])


class ActionError(DomainError):
    """The action cannot be saved; ``messages`` say why (nothing is written)."""

    @property
    def messages(self) -> list[str]:
        return self.errors


@dataclass(frozen=True)
class WeakStandard:
    row: StandardRow
    below: bool  # a role's rate under the threshold
    fell: bool  # a role's rate lower than last year's
    gap: Decimal | None  # staff − chief, where it is at least the setting (either sign)


def thresholds() -> tuple[Decimal, Decimal]:
    """(rate threshold, gap in points) from the settings."""
    config = current_app.config
    return (
        Decimal(str(config.get("WEAK_RATE_THRESHOLD", 95.0))),
        Decimal(str(config.get("WEAK_GAP_POINTS", 5.0))),
    )


def weak_standards(results: RoundResults, group_key: str) -> list[WeakStandard]:
    """The weak standards of a final round for a group, in catalogue order (ResultsNotFinal
    before the close). Hidden cells count as unknown, never as weak."""
    threshold, gap_points = thresholds()
    weak = []
    for row in results.table(group_key):
        rates = {role: row.current[role].rate for role in ROLES}
        below = any(rate is not None and rate < threshold for rate in rates.values())
        fell = any((row.change(role) or 0) < 0 for role in ROLES)
        staff, chief = rates[Role.STAFF], rates[Role.CHIEF]
        gap = staff - chief if staff is not None and chief is not None else None
        wide = gap if gap is not None and abs(gap) >= gap_points else None
        if below or fell or wide is not None:
            weak.append(WeakStandard(row, below, fell, wide))
    return weak


def action_ward_ids(results: RoundResults) -> list[int]:
    """The wards of the round the reader may record actions for (the visible ones)."""
    return [g.ward_id for g in results.groups if g.level == "ward" and g.ward_id is not None]


# --- The roster an owner comes from ----------------------------------------------------------


def roster_years(ward_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """For each ward, the fiscal year of its latest roster up to this fiscal year: the roster
    an action's owner is chosen from and its section's chief is read from (a ward without a
    roster is left out). One query."""
    wanted = list(ward_ids)
    if not wanted:
        return {}
    current = fiscal_year_of(tokyo(now or utcnow()))
    rows = db.session.execute(
        sa.select(Section.ward_id, sa.func.max(Assignment.fiscal_year))
        .join(Section, Section.id == Assignment.section_id)
        .where(Section.ward_id.in_(wanted), Assignment.fiscal_year <= current)
        .group_by(Section.ward_id)
    )
    return {ward_id: year for ward_id, year in rows if year is not None}


def section_chiefs(
    sections: Iterable[tuple[int, int]], now: datetime | None = None
) -> dict[int, int]:
    """For (section id, ward id) pairs: the person id of each section's chief in its ward's
    roster year (a section without a chief is left out). Two queries."""
    pairs = set(sections)
    years = roster_years({ward_id for _section, ward_id in pairs}, now)
    wanted = [(section_id, years[ward_id]) for section_id, ward_id in pairs if ward_id in years]
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Assignment.section_id, Assignment.person_id).where(
            Assignment.role == Role.CHIEF,
            sa.or_(
                *(
                    sa.and_(Assignment.section_id == section_id, Assignment.fiscal_year == year)
                    for section_id, year in wanted
                )
            ),
        )
    )
    return {section_id: person_id for section_id, person_id in rows}


# --- Actions beside their rates ----------------------------------------------------------------


def round_actions(round_id: int, ward_ids: Iterable[int]) -> list[ImprovementAction]:
    """The actions recorded on a round for some wards, by standard and date, with their
    section and owner."""
    return list(
        db.session.scalars(
            sa.select(ImprovementAction)
            .options(
                so.joinedload(ImprovementAction.section), so.joinedload(ImprovementAction.owner)
            )
            .where(
                ImprovementAction.round_id == round_id,
                ImprovementAction.ward_id.in_(list(ward_ids)),
            )
            .order_by(ImprovementAction.standard_key, ImprovementAction.id)
        )
    )


@dataclass(frozen=True)
class ActionEffect:
    """Last year's action on a standard beside its rate before (last year's round) and after
    (this round), per role, for the ward."""

    action: ImprovementAction
    ward_name: str
    row: StandardRow | None  # None: the standard is no longer in this year's catalogue


def effects_of_last_years_actions(results: RoundResults) -> list[ActionEffect]:
    """The actions recorded on the previous round, for the reader's wards, with before and
    after: the ward's rows of this round's table, small groups already hidden (never a rate
    of the owner's section). Empty when there is no previous round or the round is not
    final."""
    if results.previous is None or not results.final:
        return []
    effects = []
    wards = {
        g.ward_id: g for g in results.groups if g.level == "ward" and g.ward_id is not None
    }
    actions = round_actions(results.previous.id, wards)
    tables: dict[int, dict[str, StandardRow]] = {}
    for action in actions:
        group = wards[action.ward_id]
        if action.ward_id not in tables:
            tables[action.ward_id] = {r.standard.key: r for r in results.table(group.key)}
        effects.append(
            ActionEffect(action, group.name, tables[action.ward_id].get(action.standard_key))
        )
    return effects


def action_standard_clause() -> sa.ColumnElement[bool]:
    """The join of an action's standard: the standard of its key in its round's catalogue
    (the query joins ``Round`` on the action's round first)."""
    return sa.and_(
        Standard.catalogue_id == Round.catalogue_id,
        Standard.key == ImprovementAction.standard_key,
    )


def actions_for_report(ward_id: int, fiscal_year: int) -> list[tuple[ImprovementAction, str]]:
    """The actions recorded on the ward's rounds of a fiscal year with the standard's text
    ("基準N …" of that round's catalogue): the annual report lists them beside the goals."""
    rows = db.session.execute(
        sa.select(ImprovementAction, Standard.number, Standard.text)
        .options(so.joinedload(ImprovementAction.section))
        .join(Round, Round.id == ImprovementAction.round_id)
        .join(
            Standard,
            action_standard_clause(),
        )
        .where(ImprovementAction.ward_id == ward_id, Round.fiscal_year == fiscal_year)
        .order_by(Standard.position, ImprovementAction.id)
    ).all()
    return [(action, f"基準{number} {text}") for action, number, text in rows]
