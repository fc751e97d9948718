"""The improvement actions' mail, through the rounds' send ledger (docs/scheduler.md).

An action's messages go to its owner and to the chief of its section (in the ward's latest
roster, ``app/services/results/actions.py`` ``section_chiefs``), each exactly once:

- ``action:<id>``: the action was given to its owner, written with the assignment itself
  (``queue_assigned``, in the committee's transaction), again for a new owner or section;
- ``action-due:<id>``: ``ACTION_REMINDER_DAYS`` (setting, 7) days before the due date, written
  by the scheduler's ``plan`` (``plan_actions``) from that day until the due date, when the
  owner was given the action before that day (otherwise the assignment's mail said the date).

The ledger's row carries the action's round and the action (``action_id``); the unique
(round, person, kind), the kind carrying the action's id, makes each message one row ever.
A message still waiting is skipped once the action is 完了 or 見送り, or when its person is no
longer the owner or the section's chief (``action_message`` at the sending, ``plan_actions``
already at the planning). The messages name the owner, the section and the standard; never a
rate, never a respondent. Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import (
    OPEN_ACTION_STATUSES,
    ImprovementAction,
    MailLedger,
    MailState,
    Person,
    Round,
    Section,
    Standard,
)
from app.services.results.actions import action_standard_clause, section_chiefs
from app.wareki import TOKYO, reiwa_date, tokyo

ACTION = "action:"  # + the action's id: given to its owner
ACTION_DUE = "action-due:"  # + the action's id: the due date is near

# Why a waiting row is skipped (stored in Japanese, shown through schedule.reason_label).
ACTION_CLOSED = "送る前に取組が完了または見送りになりました"
ACTION_REASSIGNED = "送る前に担当が変わりました"


def assigned_kind(action_id: int) -> str:
    return f"{ACTION}{action_id}"


def due_kind(action_id: int) -> str:
    return f"{ACTION_DUE}{action_id}"


def is_action_kind(kind: str) -> bool:
    return kind.startswith((ACTION, ACTION_DUE))


def action_id_of(kind: str) -> int | None:
    """The action's id in an action kind (None for a round's kinds)."""
    if not is_action_kind(kind):
        return None
    tail = kind.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None


def reminder_days() -> int:
    """How many days before the due date the reminder goes (``ACTION_REMINDER_DAYS``)."""
    return int(current_app.config.get("ACTION_REMINDER_DAYS", 7))


# --- Writing rows ----------------------------------------------------------------------------


def _recipients(actions: Sequence[ImprovementAction], now: datetime) -> dict[int, list[int]]:
    """For each action: its owner and its section's chief, once each."""
    chiefs = section_chiefs({(a.section_id, a.ward_id) for a in actions}, now)
    found: dict[int, list[int]] = {}
    for action in actions:
        people = [action.owner_id, chiefs.get(action.section_id)]
        found[action.id] = list(dict.fromkeys(p for p in people if p is not None))
    return found


def _write(rows: list[tuple[ImprovementAction, int, str]], now: datetime) -> int:
    """One INSERT ... ON CONFLICT DO NOTHING of (action, person, kind) rows: pending, or
    skipped when the person has no address. Returns the rows written."""
    # schedule imports this module for its planning: read its vocabulary when called.
    from app.services.operations.schedule import NO_EMAIL

    if not rows:
        return 0
    emails = {
        person_id: email
        for person_id, email in db.session.execute(
            sa.select(Person.id, Person.email).where(Person.id.in_({p for _a, p, _k in rows}))
        )
    }
    values = []
    for action, person_id, kind in rows:
        address = (emails.get(person_id) or "").strip()
        values.append({
            "round_id": action.round_id,
            "person_id": person_id,
            "kind": kind,
            "action_id": action.id,
            "state": MailState.PENDING if address else MailState.SKIPPED,
            "reason": None if address else NO_EMAIL,
            "attempts": 0,
            "created_at": now,
        })
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else (
        sqlite.insert
    )
    statement = (
        insert(MailLedger)
        .values(values)
        .on_conflict_do_nothing(index_elements=["round_id", "person_id", "kind"])
        .execution_options(preserve_rowcount=True)
    )
    return int(getattr(db.session.execute(statement), "rowcount", 0) or 0)


def queue_assigned(action: ImprovementAction, now: datetime) -> int:
    """The assignment's mail to the owner and the section's chief (those who have not had it
    for this action yet); the scheduler's next tick sends it. Flushes, never commits."""
    if action.owner_id is None or action.status not in OPEN_ACTION_STATUSES:
        return 0
    people = _recipients([action], now)[action.id]
    written = _write([(action, person, assigned_kind(action.id)) for person in people], now)
    db.session.flush()
    return written


# --- The scheduler's part ----------------------------------------------------------------------


def _waiting() -> sa.ColumnElement[bool]:
    return MailLedger.state.in_([MailState.PENDING, MailState.FAILED])


def plan_actions(now: datetime) -> tuple[dict[tuple[int, str], int], int]:
    """What the clock calls for: the reminders before the due date (rows written, by (round
    id, kind)), and how many waiting rows of actions done or dropped were skipped. A fixed
    number of statements, whatever the number of actions. Flushes, never commits."""
    closed = sa.select(ImprovementAction.id).where(
        ImprovementAction.status.not_in(OPEN_ACTION_STATUSES)
    )
    result = db.session.execute(
        sa.update(MailLedger)
        .where(_waiting(), MailLedger.action_id.in_(closed))
        .values(state=MailState.SKIPPED, reason=ACTION_CLOSED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    skipped = int(getattr(result, "rowcount", 0) or 0)
    days = reminder_days()
    today = tokyo(now).date()
    candidates = db.session.scalars(
        sa.select(ImprovementAction).where(
            ImprovementAction.status.in_(OPEN_ACTION_STATUSES),
            ImprovementAction.owner_id.is_not(None),
            ImprovementAction.assigned_at.is_not(None),
            ImprovementAction.due.between(today, today + timedelta(days=days)),
            ~sa.exists().where(
                MailLedger.action_id == ImprovementAction.id,
                MailLedger.person_id == ImprovementAction.owner_id,
                MailLedger.kind.startswith(ACTION_DUE),
            ),
        ).order_by(ImprovementAction.id)
    ).all()
    # Given before the reminder's day; otherwise the assignment's mail said the date.
    due = [
        a for a in candidates
        if a.assigned_at is not None and a.assigned_at < _start_of(a.due - timedelta(days=days))
    ]
    people = _recipients(due, now)
    rows = [(a, person, due_kind(a.id)) for a in due for person in people[a.id]]
    _write(rows, now)
    db.session.flush()
    written: dict[tuple[int, str], int] = {}
    for action, _person, kind in rows:
        written[(action.round_id, kind)] = written.get((action.round_id, kind), 0) + 1
    return written, skipped


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=TOKYO)


# --- Sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionMail:
    """What an action's message says, read once per batch."""

    action_id: int
    text: str
    standard: str  # 基準14 来庁された市民に、…
    section_name: str
    owner_id: int | None
    owner_name: str
    chief_id: int | None
    due: date
    open: bool


def load_actions(action_ids: Iterable[int], now: datetime) -> dict[int, ActionMail]:
    """The actions of a batch's messages, with their standard, section, owner and the
    section's chief now. Three queries."""
    wanted = set(action_ids)
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(ImprovementAction, Section.name, Person.name, Standard.number, Standard.text)
        .join(Section, Section.id == ImprovementAction.section_id)
        .join(Round, Round.id == ImprovementAction.round_id)
        .outerjoin(Person, Person.id == ImprovementAction.owner_id)
        .outerjoin(
            Standard,
            action_standard_clause(),
        )
        .where(ImprovementAction.id.in_(wanted))
    ).all()
    chiefs = section_chiefs({(a.section_id, a.ward_id) for a, *_rest in rows}, now)
    return {
        action.id: ActionMail(
            action_id=action.id,
            text=action.action,
            standard=f"基準{number} {text}" if number is not None else action.standard_key,
            section_name=section_name,
            owner_id=action.owner_id,
            owner_name=owner_name or "",
            chief_id=chiefs.get(action.section_id),
            due=action.due,
            open=action.status in OPEN_ACTION_STATUSES,
        )
        for action, section_name, owner_name, number, text in rows
    }


def action_message(
    kind: str, person_id: int, context: dict[str, Any], info: ActionMail | None, now: datetime
) -> tuple[str, str] | str:
    """The subject and template of an action's message, adding to ``context``; or why it is
    skipped: the action is done or dropped (or gone), or the person no longer owns it and is
    not the section's chief."""
    if info is None or not info.open:
        return ACTION_CLOSED
    if person_id not in (info.owner_id, info.chief_id):
        return ACTION_REASSIGNED
    context.update(
        action=info,
        is_owner=person_id == info.owner_id,
        due=reiwa_date(info.due),
        days=max(0, (info.due - tokyo(now).date()).days),
        reminder_days=reminder_days(),
        action_url=f"{context['base_url']}/results/actions/{info.action_id}/outcome",
    )
    if kind.startswith(ACTION_DUE):
        subject = _("【改善の取組】期限まであと%(d)s日：%(section)s", d=context["days"],
                    section=info.section_name)
        return subject, "action_due"
    subject = _("【改善の取組】担当が決まりました：%(section)s（期限 %(due)s）",
                section=info.section_name, due=context["due"])
    return subject, "action_assigned"
