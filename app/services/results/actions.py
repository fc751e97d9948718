"""Improvement actions (改善の取組) on weak standards (docs/results.md, "Improvement actions").

After a round closes, the committee sees its weak standards for a ward: those under the
``WEAK_RATE_THRESHOLD`` setting, those that fell against last year, and those with a gap of at
least ``WEAK_GAP_POINTS`` between staff and chiefs. For any standard it records an action:
what will be done, by which section, and by when; the section's chief records what was done.
The next year's round shows each action beside the standard's rate before and after (the
ward's cells of the two rounds, small groups hidden as everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.access import chief_section_ids
from app.extensions import db
from app.models import ImprovementAction, Person, Role, Round, Section, utcnow
from app.services.errors import DomainError
from app.services.governance import audit
from app.services.results.compliance import ROLES, RoundResults, StandardRow

ACTION_MAX_LENGTH = 1000


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


def ward_sections(ward_id: int) -> list[tuple[int, str]]:
    """(id, name) of a ward's sections, in the organisation's order."""
    return [
        (section_id, name)
        for section_id, name in db.session.execute(
            sa.select(Section.id, Section.name)
            .where(Section.ward_id == ward_id)
            .order_by(Section.sort_order, Section.id)
        )
    ]


def create_action(
    results: RoundResults,
    ward_id: int,
    standard_key: str,
    action: str,
    section_id: int,
    due: date,
    by: Person,
) -> ImprovementAction:
    """Record an action for a standard of a final round in one of the reader's wards, with
    its audit row (``action.create``). ActionError when something does not fit. Flushes,
    never commits."""
    results.require_final()
    errors = []
    if ward_id not in action_ward_ids(results):
        errors.append(_("この区の取組は登録できません。"))
    if standard_key not in {s.key for s in results.standards}:
        errors.append(_("基準を選んでください。"))
    text = action.strip()
    if not text:
        errors.append(_("取組の内容を書いてください。"))
    elif len(text) > ACTION_MAX_LENGTH:
        errors.append(_("取組の内容は%(n)s字までにしてください。", n=ACTION_MAX_LENGTH))
    if section_id not in {s for s, _name in ward_sections(ward_id)}:
        errors.append(_("担当の課を選んでください。"))
    if errors:
        raise ActionError(errors)
    item = ImprovementAction(
        round_id=results.round.id,
        ward_id=ward_id,
        standard_key=standard_key,
        action=text,
        section_id=section_id,
        due=due,
        created_by_id=by.id,
    )
    db.session.add(item)
    db.session.flush()
    audit.record(
        "action.create",
        actor=by,
        target_type="improvement_action",
        target_id=item.id,
        after={"round_id": item.round_id, "standard_key": standard_key, "action": text,
               "section_id": section_id, "due": due.isoformat()},
        ward_id=ward_id,
    )
    return item


def round_actions(round_id: int, ward_ids: Iterable[int]) -> list[ImprovementAction]:
    """The actions recorded on a round for some wards, by standard and date."""
    return list(
        db.session.scalars(
            sa.select(ImprovementAction)
            .where(
                ImprovementAction.round_id == round_id,
                ImprovementAction.ward_id.in_(list(ward_ids)),
            )
            .order_by(ImprovementAction.standard_key, ImprovementAction.id)
        )
    )


def may_record_outcome(action: ImprovementAction, person: Person, committee: bool) -> bool:
    """The committee of the ward, or the chief of the section that carries it out (in the
    round's fiscal year or the next, when the work is done)."""
    if committee:
        return True
    fiscal_year = db.session.scalar(sa.select(Round.fiscal_year).where(Round.id == action.round_id))
    if fiscal_year is None:
        return False
    return any(
        action.section_id in chief_section_ids(person, year)
        for year in (fiscal_year, fiscal_year + 1)
    )


def record_outcome(action: ImprovementAction, outcome: str, by: Person) -> None:
    """What the section did, with its audit row (``action.outcome``: the text before and
    after). ActionError for an empty or too long text. Flushes."""
    text = outcome.strip()
    if not text:
        raise ActionError([_("実施したことを書いてください。")])
    if len(text) > ACTION_MAX_LENGTH:
        raise ActionError([_("取組の内容は%(n)s字までにしてください。", n=ACTION_MAX_LENGTH)])
    audit.record(
        "action.outcome",
        actor=by,
        target_type="improvement_action",
        target_id=action.id,
        before={"outcome": action.outcome},
        after={"outcome": text},
        ward_id=action.ward_id,
    )
    action.outcome = text
    action.outcome_at = utcnow()
    db.session.flush()


@dataclass(frozen=True)
class ActionEffect:
    """Last year's action on a standard beside its rate before (last year's round) and after
    (this round), per role, for the ward."""

    action: ImprovementAction
    ward_name: str
    row: StandardRow | None  # None: the standard is no longer in this year's catalogue


def effects_of_last_years_actions(results: RoundResults) -> list[ActionEffect]:
    """The actions recorded on the previous round, for the reader's wards, with before and
    after. Empty when there is no previous round or the round is not final."""
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


def actions_for_report(ward_id: int, fiscal_year: int) -> list[tuple[ImprovementAction, str]]:
    """The actions recorded on the ward's rounds of a fiscal year with the standard's text
    ("基準N …" of that round's catalogue): the annual report lists them beside the goals."""
    from app.models import Standard

    rows = db.session.execute(
        sa.select(ImprovementAction, Standard.number, Standard.text)
        .join(Round, Round.id == ImprovementAction.round_id)
        .join(
            Standard,
            sa.and_(
                Standard.catalogue_id == Round.catalogue_id,
                Standard.key == ImprovementAction.standard_key,
            ),
        )
        .where(ImprovementAction.ward_id == ward_id, Round.fiscal_year == fiscal_year)
        .order_by(Standard.position, ImprovementAction.id)
    ).all()
    return [(action, f"基準{number} {text}") for action, number, text in rows]


def section_ward(section_id: int) -> int:
    """The ward of a section (0 when there is no such section: refused by create_action)."""
    return db.session.scalar(sa.select(Section.ward_id).where(Section.id == section_id)) or 0
