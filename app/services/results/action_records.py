"""Recording, changing and deleting improvement actions (docs/results.md, "Improvement actions").

The committee records an action on a standard of a final round in one of its wards: what will
be done, its owner (a person from the roster of the owner's section, ``owner_choices``; the
section is kept with the action), and the due date. The owner, the section's chief and the
committee record where it stands (``record_progress``): 未着手 / 対応中 / 完了 / 見送り (with
a reason), what was done, and a link (http or https only) or a note as evidence. The committee
may change everything (``update_action``) or delete it (``delete_action``).

Every change is one audit row with the changed fields before and after (``action.create``,
``action.update``, ``action.delete``). Assigning an owner queues the mail to the owner and the
section's chief (``app/services/operations/action_mail.py``). Functions flush, never commit;
``ActionError`` lists every problem and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _

from app.access import chief_section_ids, covers
from app.extensions import db
from app.models import (
    ActionStatus,
    Assignment,
    ImprovementAction,
    Person,
    PersonRef,
    Role,
    Round,
    Section,
    utcnow,
)
from app.services.governance import audit
from app.services.operations.action_mail import queue_assigned
from app.services.results.actions import (
    ACTION_MAX_LENGTH,
    ActionError,
    action_ward_ids,
    roster_years,
)
from app.services.results.compliance import RoundResults

URL_MAX_LENGTH = 2000
# How far after its round an action may be due: the round's fiscal year and the next five.
DUE_YEARS = 5


# --- The owner: a person of the section's roster ------------------------------------------------


@dataclass(frozen=True)
class OwnerChoice:
    """A person an action may be given to, with their section (in the ward's roster year)."""

    ward_id: int
    section_id: int
    section_name: str
    person_id: int
    name: str
    employee_id: str
    chief: bool

    @property
    def value(self) -> str:
        """The form's value: ``<section id>:<person id>``."""
        return f"{self.section_id}:{self.person_id}"


def owner_choices(ward_ids: Iterable[int], now: datetime | None = None) -> list[OwnerChoice]:
    """Everyone on the wards' latest rosters (``roster_years``), section by section in the
    wards' and organisation's order, the chief first. Two queries."""
    order = list(ward_ids)
    years = roster_years(order, now)
    if not years:
        return []
    rows = db.session.execute(
        sa.select(
            Section.ward_id,
            Section.id,
            Section.name,
            Person.id,
            Person.name,
            Person.employee_id,
            Assignment.role,
        )
        .join(Assignment, Assignment.section_id == Section.id)
        .join(Person, Person.id == Assignment.person_id)
        .where(
            sa.or_(
                *(
                    sa.and_(Section.ward_id == ward_id, Assignment.fiscal_year == year)
                    for ward_id, year in years.items()
                )
            )
        )
        .order_by(
            Section.sort_order,
            Section.id,
            sa.case((Assignment.role == Role.CHIEF, 0), else_=1),
            Person.employee_id,
        )
    ).all()
    choices = [
        OwnerChoice(ward, section, section_name, person, name, employee_id, role == Role.CHIEF)
        for ward, section, section_name, person, name, employee_id, role in rows
    ]
    return sorted(choices, key=lambda c: order.index(c.ward_id))


def owner_value(action: ImprovementAction) -> str:
    """The form's value of the action's owner ("" when it has none)."""
    return f"{action.section_id}:{action.owner_id}" if action.owner_id is not None else ""


# --- What the committee and the owner send --------------------------------------------------


@dataclass(frozen=True)
class ActionPlan:
    """What the committee decides: the standard, what will be done, who, by when."""

    standard_key: str
    action: str
    owner: str  # an OwnerChoice's value
    due: date | None


@dataclass(frozen=True)
class Progress:
    """Where the action stands, as its owner, the section's chief or the committee says."""

    status: str
    reason: str = ""
    outcome: str = ""
    evidence_url: str = ""
    evidence_note: str = ""


def _text(value: str, label: str, errors: list[str], required: bool = False) -> str | None:
    text = value.strip()
    if not text:
        if required:
            errors.append(_("%(field)sを書いてください。", field=label))
        return None
    if len(text) > ACTION_MAX_LENGTH:
        errors.append(_("%(field)sは%(n)s字までにしてください。", field=label, n=ACTION_MAX_LENGTH))
    return text


def evidence_url_ok(text: str) -> bool:
    """An http or https address with a host, without spaces or control characters: nothing
    else becomes a link (no ``javascript:``, ``data:`` or a scheme-relative ``//host``)."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def _check_progress(progress: Progress, errors: list[str]) -> dict[str, Any]:
    """The progress's values for the action's columns, the problems added to ``errors``."""
    try:
        status: ActionStatus | None = ActionStatus(progress.status)
    except ValueError:
        status = None
        errors.append(_("状況を選んでください。"))
    reason = _text(progress.reason, _("見送りの理由"), errors, status is ActionStatus.DROPPED)
    outcome = _text(progress.outcome, _("実施したこと"), errors)
    note = _text(progress.evidence_note, _("根拠のメモ"), errors)
    url = progress.evidence_url.strip() or None
    if url is not None and (len(url) > URL_MAX_LENGTH or not evidence_url_ok(url)):
        errors.append(
            _("根拠のリンクは http:// か https:// で始まるアドレス（%(n)s字まで）にしてください。",
              n=URL_MAX_LENGTH)
        )
    return {
        "status": status,
        "status_reason": reason if status is ActionStatus.DROPPED else None,
        "outcome": outcome,
        "evidence_url": url,
        "evidence_note": note,
    }


def _check_plan(
    results: RoundResults, plan: ActionPlan, kept_owner: str, errors: list[str]
) -> dict[str, Any]:
    """The plan's values for the action's columns, the problems added to ``errors``. The
    owner must be on a roster of the reader's wards of the round, unless it is the one the
    action has (``kept_owner``: an owner who has moved since keeps the action)."""
    if plan.standard_key not in {s.key for s in results.standards}:
        errors.append(_("基準を選んでください。"))
    text = _text(plan.action, _("取組の内容"), errors, required=True)
    wards = action_ward_ids(results)
    owner = next((c for c in owner_choices(wards) if c.value == plan.owner), None)
    values: dict[str, Any] = {"standard_key": plan.standard_key, "action": text, "due": plan.due}
    if plan.owner and plan.owner == kept_owner:
        section_id, owner_id = (int(part) for part in kept_owner.split(":"))
        values.update(section_id=section_id, owner_id=owner_id)
    elif owner is None:
        errors.append(_("担当者を、担当の課の名簿から選んでください。"))
    else:
        values.update(section_id=owner.section_id, owner_id=owner.person_id, ward_id=owner.ward_id)
    fiscal_year = results.round.fiscal_year
    first, last = date(fiscal_year, 4, 1), date(fiscal_year + DUE_YEARS + 1, 3, 31)
    if plan.due is None:
        errors.append(_("期限を日付で入れてください。"))
    elif not first <= plan.due <= last:
        errors.append(_("期限は%(first)sから%(last)sまでの日付にしてください。",
                        first=first.isoformat(), last=last.isoformat()))
    return values


# --- The audit log's values --------------------------------------------------------------------

AUDITED = (
    "standard_key", "action", "section_id", "owner_id", "due", "status", "status_reason",
    "outcome", "evidence_url", "evidence_note",
)


def action_values(action: ImprovementAction) -> dict[str, Any]:
    """The action's audited fields as JSON values (ids for the section and the owner: the
    log's page names them when it shows them)."""
    values: dict[str, Any] = {name: getattr(action, name) for name in AUDITED}
    values["due"] = action.due.isoformat() if action.due else None
    values["status"] = ActionStatus(action.status).value if action.status else None
    return values


def _apply(
    action: ImprovementAction, values: dict[str, Any], by: Person, now: datetime
) -> bool:
    """Set the values that differ, with one audit row of the changes; assigning an owner
    (or another section) queues the mail. False when nothing changed."""
    before = action_values(action)
    owner_before = (action.owner_id, action.section_id)
    for name, value in values.items():
        if getattr(action, name) != value:
            setattr(action, name, value)
    after = action_values(action)
    changed = [name for name in AUDITED if before[name] != after[name]]
    if not changed:
        return False
    reassigned = (action.owner_id, action.section_id) != owner_before
    if reassigned:
        action.assigned_at = now
    action.updated_at = now
    db.session.flush()
    audit.record(
        "action.update", actor=by, target_type="improvement_action", target_id=action.id,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed}, ward_id=action.ward_id,
    )
    if reassigned and action.owner_id is not None:
        queue_assigned(action, now)
    return True


# --- The changes -------------------------------------------------------------------------------


def create_action(
    results: RoundResults, plan: ActionPlan, by: Person, now: datetime | None = None
) -> ImprovementAction:
    """Record an action for a standard of a final round in one of the reader's wards, given
    to its owner (未着手), and queue the mail to the owner and the section's chief.
    ActionError when something does not fit. Flushes, never commits."""
    results.require_final()
    now = now or utcnow()
    errors: list[str] = []
    values = _check_plan(results, plan, "", errors)
    if errors:
        raise ActionError(errors)
    action = ImprovementAction(
        round_id=results.round.id, created_by_id=by.id, assigned_at=now,
        status=ActionStatus.TODO, **values,
    )
    db.session.add(action)
    db.session.flush()
    audit.record(
        "action.create", actor=by, target_type="improvement_action", target_id=action.id,
        after=action_values(action), ward_id=action.ward_id,
    )
    queue_assigned(action, now)
    return action


def update_action(
    action: ImprovementAction,
    results: RoundResults,
    plan: ActionPlan,
    progress: Progress,
    by: Person,
    now: datetime | None = None,
) -> bool:
    """The committee changes an action (any field). ActionError when something does not
    fit; False when nothing changed (no audit row). Flushes, never commits."""
    errors: list[str] = []
    values = _check_plan(results, plan, owner_value(action), errors)
    values.update(_check_progress(progress, errors))
    if errors:
        raise ActionError(errors)
    return _apply(action, values, by, now or utcnow())


def record_progress(
    action: ImprovementAction, progress: Progress, by: Person, now: datetime | None = None
) -> bool:
    """Where the action stands, what was done and its evidence (the owner, the section's
    chief or the committee). ActionError when something does not fit; False when nothing
    changed. Flushes, never commits."""
    now = now or utcnow()
    errors: list[str] = []
    values = _check_progress(progress, errors)
    if errors:
        raise ActionError(errors)
    if values["outcome"] != action.outcome:
        values["outcome_at"] = now if values["outcome"] else None
    return _apply(action, values, by, now)


def delete_action(action: ImprovementAction, by: Person) -> None:
    """Delete an action (its mail in the ledger goes with it), with its values in the audit
    log. Flushes, never commits."""
    before = action_values(action)
    action_id, ward_id = action.id, action.ward_id
    db.session.delete(action)
    db.session.flush()
    audit.record(
        "action.delete", actor=by, target_type="improvement_action", target_id=action_id,
        before=before, ward_id=ward_id,
    )


# --- Who may do what -----------------------------------------------------------------------


def committee_covers(action: ImprovementAction, scope: set[int] | None) -> bool:
    """Whether a committee scope (``ward_scope``) holds the action's ward."""
    return covers(scope, [action.ward_id])


def may_record_progress(action: ImprovementAction, person: PersonRef, committee: bool) -> bool:
    """The committee of the ward, the owner, or the chief of the section that carries it out
    (in the round's fiscal year or the next, when the work is done)."""
    if committee or action.owner_id == person.id:
        return True
    fiscal_year = db.session.scalar(sa.select(Round.fiscal_year).where(Round.id == action.round_id))
    if fiscal_year is None:
        return False
    return any(
        action.section_id in chief_section_ids(person, year)
        for year in (fiscal_year, fiscal_year + 1)
    )
