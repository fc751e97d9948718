"""The rounds' mail, sent: claiming due ledger rows, rendering their messages, marking the outcome.

``app/services/operations/schedule.py`` plans the mail (one ledger row per round, person and
kind); each tick (``app.scheduler.tick``) then claims rows in batches (``claim``), renders
them (``render``) and marks each ``sent`` or ``failed`` with a back-off
(``mark_sent``, ``mark_failed``). The caller commits between the steps; nothing here
commits.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, render_template
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    Assignment,
    MailLedger,
    MailState,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
)
from app.services.identity.links import issue_links, link_url, links_enabled
from app.services.operations.action_mail import (
    ActionMail,
    action_id_of,
    action_message,
    is_action_kind,
    load_actions,
)
from app.services.operations.mail import Outgoing
from app.services.operations.schedule import (
    ALREADY_SUBMITTED,
    CLOSED,
    DIGEST,
    LINKS_OFF,
    NO_EMAIL,
    NOBODY_LEFT,
    OPENED,
    RECEIPT,
    REMINDED_NOW,
    REMINDER,
    SIGN_IN,
    SIGN_IN_BLOCKED,
    claimable,
    has_submitted,
)
from app.services.results.compliance import ALL, ResponseRate, round_results
from app.services.rounds.audience import join_audience, section_members_in_year
from app.wareki import reiwa_datetime


def claim(now: datetime, limit: int) -> list[int]:
    """Take up to ``limit`` rows due to be sent: ``sending`` until the claim expires.

    SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) lets two ticks claim at once without
    taking the same row or waiting for each other. Counts the try. Flushes, never commits.
    """
    ids = list(
        db.session.scalars(
            sa.select(MailLedger.id)
            .where(claimable(now))
            .order_by(MailLedger.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        lease = timedelta(seconds=int(current_app.config["MAIL_CLAIM_SECONDS"]))
        db.session.execute(
            sa.update(MailLedger)
            .where(MailLedger.id.in_(ids))
            .values(
                state=MailState.SENDING,
                claimed_until=now + lease,
                attempts=MailLedger.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


def mark_sent(ledger_id: int, now: datetime) -> None:
    """The SMTP server took the message. Flushes, never commits."""
    # A Core UPDATE of the table: once per message sent, the ORM's bulk-update path cost as
    # much as the statement itself (bench/reminders.py).
    ledger = cast(sa.Table, MailLedger.__table__)
    db.session.execute(
        sa.update(ledger)
        .where(ledger.c.id == ledger_id)
        .values(state=MailState.SENT, sent_at=now, claimed_until=None, next_attempt_at=None)
    )


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the ``attempts``-th failed try: 1, 2, 4 … minutes, at most an hour."""
    base = int(current_app.config["MAIL_RETRY_BASE_SECONDS"])
    most = int(current_app.config["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(base * 2 ** min(max(attempts - 1, 0), 30), most))


def mark_failed(ledger_ids: Sequence[int], now: datetime, error: str) -> None:
    """A try failed: ``failed``, tried again after the back-off. One UPDATE per distinct
    number of tries in ``ledger_ids`` (usually one). Flushes, never commits."""
    if not ledger_ids:
        return
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for ledger_id, attempts in db.session.execute(
        sa.select(MailLedger.id, MailLedger.attempts).where(MailLedger.id.in_(ledger_ids))
    ):
        by_attempts[attempts].append(ledger_id)
    for attempts, ids in by_attempts.items():
        db.session.execute(
            sa.update(MailLedger)
            .where(MailLedger.id.in_(ids))
            .values(
                state=MailState.FAILED,
                claimed_until=None,
                next_attempt_at=now + retry_delay(attempts),
                last_error=error[:1000],
            )
            .execution_options(synchronize_session=False)
        )


def _mark_skipped(ledger_ids: Sequence[int], reason: str) -> None:
    if ledger_ids:
        db.session.execute(
            sa.update(MailLedger)
            .where(MailLedger.id.in_(ledger_ids))
            .values(state=MailState.SKIPPED, reason=reason, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class _Member:
    employee_id: str
    name: str
    drafting: bool


# A claimed ledger row: id, kind, person id, reason, the person's name and email, whether the
# person may not sign in, the round, and whether the person has submitted.
_LedgerRow = sa.Row[int, str, int, str | None, str, str | None, bool, Round, bool]


# (subject, template) of a message, its context filled in; or why the row is skipped (a reason
# marked on the row); or None: left out as it is.
_Message = tuple[str, str] | str | None


@dataclass(frozen=True)
class _RenderBatch:
    """What the messages of one batch read beyond their own row, fetched once per batch."""

    now: datetime
    base_url: str
    waiting_on: dict[tuple[int, int], tuple[str, list[_Member]]]
    rates: dict[int, tuple[list[tuple[str, ResponseRate]], ResponseRate]]
    actions: dict[int, ActionMail]
    links: bool  # SIGN_IN_LINKS


def carries_link(kind: str) -> bool:
    """Whether a message of this kind carries the person's sign-in link (when links are on):
    the opening mail, the reminders and the sign-in links sent in bulk."""
    return kind == OPENED or kind.startswith(REMINDER) or kind.startswith(SIGN_IN)


def render(
    ledger_ids: Sequence[int], now: datetime, issued: Counter[int] | None = None
) -> list[Outgoing]:
    """The messages of claimed rows, in ledger order; rows that became pointless since they
    were written (a reminder to someone who has submitted, a digest of a section where all
    have) are marked skipped and left out. The messages that carry a sign-in link get a new
    one each, made in one INSERT for the batch; ``issued`` counts them by round. A constant
    number of queries per batch. Flushes, never commits."""
    if not ledger_ids:
        return []
    rows = _claimed_rows(ledger_ids)
    digests = [(r.Round.id, r.person_id) for r in rows if r.kind.startswith(DIGEST)]
    batch = _RenderBatch(
        now=now,
        base_url=str(current_app.config["BASE_URL"]).rstrip("/"),
        waiting_on=_section_non_respondents(digests),
        rates=_response_rates(sorted({r.Round.id for r in rows if r.kind == CLOSED})),
        actions=load_actions(
            {a for a in (action_id_of(r.kind) for r in rows) if a is not None}, now
        ),
        links=links_enabled(current_app.config),
    )
    ready: list[tuple[_LedgerRow, dict[str, Any], str, str]] = []
    skipped: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        round_: Round = r.Round
        if not r.email or not r.email.strip():
            skipped[NO_EMAIL].append(r.id)
            continue
        context: dict[str, Any] = {
            "name": r.name,
            "base_url": batch.base_url,
            "round": round_,
            "deadline": reiwa_datetime(round_.closes_at),
            "checklist_url": f"{batch.base_url}/rounds/{round_.id}/checklist",
        }
        message = _message(r, context, batch)
        if isinstance(message, str):
            skipped[message].append(r.id)
        elif message is not None:
            ready.append((r, context, *message))
    _add_links(ready, batch, issued)
    out = [
        Outgoing(
            ledger_id=r.id,
            to=(r.email or "").strip(),
            subject=subject,
            body=render_template(f"mail/{template}.txt", **context),
        )
        for r, context, subject, template in ready
    ]
    for reason, ids in skipped.items():
        _mark_skipped(ids, reason)
    db.session.flush()
    return out


def _add_links(
    ready: list[tuple[_LedgerRow, dict[str, Any], str, str]],
    batch: _RenderBatch,
    issued: Counter[int] | None,
) -> None:
    """Give each message that carries a sign-in link a new one (one INSERT for them all): its
    address replaces the checklist's in the message. Not for a person who may not sign in."""
    if not batch.links:
        return
    wanted = [
        (r, context) for r, context, _subject, _template in ready
        if carries_link(r.kind) and not r.sign_in_blocked
    ]
    tokens = issue_links([(r.person_id, r.Round.id) for r, _context in wanted], batch.now)
    for (r, context), token in zip(wanted, tokens, strict=True):
        context["checklist_url"] = link_url(batch.base_url, token)
        context["personal_link"] = True
        if issued is not None:
            issued[r.Round.id] += 1


def _claimed_rows(ledger_ids: Sequence[int]) -> Sequence[_LedgerRow]:
    """The ledger rows with their person, round and whether the person has submitted."""
    return db.session.execute(
        sa.select(
            MailLedger.id,
            MailLedger.kind,
            MailLedger.person_id,
            MailLedger.reason,
            Person.name,
            Person.email,
            Person.sign_in_blocked,
            Round,
            has_submitted(MailLedger.round_id, MailLedger.person_id).label("submitted"),
        )
        .join(Person, Person.id == MailLedger.person_id)
        .join(Round, Round.id == MailLedger.round_id)
        .where(MailLedger.id.in_(ledger_ids))
        .order_by(MailLedger.id)
    ).all()


def _message(r: _LedgerRow, context: dict[str, Any], batch: _RenderBatch) -> _Message:
    """The subject and template of a row's message by its kind, adding to ``context``."""
    round_: Round = r.Round
    if r.kind == OPENED:
        return _("【回答のお願い】%(title)s", title=round_.title), "opened"
    if r.kind.startswith(REMINDER):
        return _reminder_message(r, context, batch.now)
    if r.kind.startswith(RECEIPT):
        return _receipt_message(r, context)
    if r.kind.startswith(DIGEST):
        return _digest_message(r, context, batch)
    if is_action_kind(r.kind):
        action_id = action_id_of(r.kind)
        info = batch.actions.get(action_id) if action_id is not None else None
        return action_message(r.kind, r.person_id, context, info, batch.now)
    if r.kind.startswith(SIGN_IN):
        return _sign_in_message(r, batch)
    wards, overall = batch.rates[round_.id]
    rate = overall.text
    context.update(
        wards=wards,
        overall=overall,
        rate=rate,
        results_url=f"{batch.base_url}/results/rounds/{round_.id}",
    )
    subject = _("【締め切りました】%(title)s（回答率 %(rate)s%%）", title=round_.title, rate=rate)
    return subject, "closed"


def _reminder_message(r: _LedgerRow, context: dict[str, Any], now: datetime) -> _Message:
    """A reminder: skipped once the person has submitted; the days left as its kind says,
    or, when sent early (今すぐ催促), as the clock says."""
    round_: Round = r.Round
    if r.submitted:
        return ALREADY_SUBMITTED
    context["days"] = int(r.kind[len(REMINDER) :])
    if r.reason == REMINDED_NOW:  # sent early: say how long is really left
        left = (round_.closes_at - now).total_seconds() / 86400
        context["days"] = max(1, math.ceil(left))
    subject = _("【締め切りまであと%(d)s日】%(title)s", d=context["days"], title=round_.title)
    return subject, "reminder"


def _sign_in_message(r: _LedgerRow, batch: _RenderBatch) -> _Message:
    """A sign-in link sent in bulk: skipped once the person has submitted, when links are
    off, or for a person who may not sign in (the link would not work)."""
    if r.submitted:
        return ALREADY_SUBMITTED
    if not batch.links:
        return LINKS_OFF
    if r.sign_in_blocked:
        return SIGN_IN_BLOCKED
    return _("【サインイン用リンク】%(title)s", title=r.Round.title), "sign_in_link"


def _receipt_message(r: _LedgerRow, context: dict[str, Any]) -> _Message:
    """A copy of the person's answers as stored when it is sent (one person, a rare request)."""
    round_: Round = r.Round
    person = db.session.get(Person, r.person_id)
    if person is None:
        return None
    from app.services.rounds.checklist_page import checklist_for

    context["sheet"] = checklist_for(round_.id, person)
    context["labels"] = {"yes": _("できている"), "no": _("できていない"), "na": _("該当しない")}
    return _("【回答の控え】%(title)s", title=round_.title), "receipt"


def _digest_message(r: _LedgerRow, context: dict[str, Any], batch: _RenderBatch) -> _Message:
    """A chief's list of who in the section has not submitted; skipped when nobody is left."""
    round_: Round = r.Round
    section_name, members = batch.waiting_on.get((round_.id, r.person_id), ("", []))
    if not members:
        return NOBODY_LEFT
    context.update(
        days=int(r.kind[len(DIGEST) :]),
        section_name=section_name,
        members=members,
        section_url=f"{batch.base_url}/rounds/{round_.id}/section",
    )
    subject = _(
        "【まだ提出していない人 %(n)s 人】%(section)s・%(title)s",
        n=len(members),
        section=section_name,
        title=round_.title,
    )
    return subject, "digest"


def _section_non_respondents(
    pairs: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], tuple[str, list[_Member]]]:
    """For (round id, chief id) pairs: the chief's section and who in it has not submitted."""
    if not pairs:
        return {}
    chief = so.aliased(Assignment)
    member = so.aliased(Assignment)
    member_person = so.aliased(Person)
    query = join_audience(
        sa.select(
            Round.id,
            chief.person_id,
            Section.name,
            member_person.employee_id,
            member_person.name,
            Response.status,
        )
        .select_from(Round),
        assignment=chief,
    )
    rows = db.session.execute(
        query.where(chief.role == Role.CHIEF)
        .join(
            member,
            section_members_in_year(chief.section_id, Round.fiscal_year, member),
        )
        .join(member_person, member_person.id == member.person_id)
        .outerjoin(
            Response,
            sa.and_(Response.round_id == Round.id, Response.person_id == member_person.id),
        )
        .where(
            Round.id.in_({round_id for round_id, _ in pairs}),
            chief.person_id.in_({chief_id for _, chief_id in pairs}),
        )
        .order_by(member_person.employee_id)
    ).all()
    wanted = set(pairs)
    found: dict[tuple[int, int], tuple[str, list[_Member]]] = {}
    for round_id, chief_id, section_name, employee_id, name, status in rows:
        if (round_id, chief_id) not in wanted:
            continue
        entry = found.setdefault((round_id, chief_id), (section_name, []))
        if status != ResponseStatus.SUBMITTED:
            entry[1].append(_Member(employee_id, name, status == ResponseStatus.DRAFT))
    return found


def _response_rates(
    round_ids: Sequence[int],
) -> dict[int, tuple[list[tuple[str, ResponseRate]], ResponseRate]]:
    """For each closed round: each ward's response rate and the round's, exactly as the
    results page gives them (from the round's counts, small groups hidden). A constant number
    of queries per round."""
    rates: dict[int, tuple[list[tuple[str, ResponseRate]], ResponseRate]] = {}
    for round_id in round_ids:
        results = round_results(round_id, with_previous=False)
        wards = [
            (group.name, results.response_rate(group.key))
            for group in results.groups
            if group.level == "ward"
        ]
        rates[round_id] = (wards, results.response_rate(ALL))
    return rates
