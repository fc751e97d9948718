"""The rounds' mail, decided by comparing the database with the clock (docs/scheduler.md).

Every tick of the scheduler calls ``plan(now)``, then claims, renders and marks messages in
batches (``app/services/operations/sending.py``); the caller (``app.scheduler.tick``) commits
between the steps and does the sending.
Like every service, the functions here flush but never commit.

The send ledger (``MailLedger``) has one row per (round, person, kind), ever:

- ``opened``: to everyone who must answer, while the round is open (people added to the
  roster during the round get it too);
- ``reminder:<d>``: to those without a submitted response, ``d`` days before the close. Only
  the *latest due* point of the round's cadence is acted on: after a downtime that spanned
  the 7- and 3-day points only ``reminder:3`` is written, and an older reminder still waiting
  is skipped as superseded. A point is due from ``closes_at - d days`` on, if that is after
  the opening;
- ``digest:<d>``: to the chief of each section that still has someone without a submitted
  response, listing them, at the same points;
- ``signin:<n>``: the ``n``-th time an admin sent the round's non-respondents their sign-in
  link (サインイン用リンクをまとめて送る, ``send_links``), once per person and send;
- ``closed``: to the committee (a committee grant for one of the round's wards or the whole
  city), with the response rate as the results page gives it (from the round's counts, which
  every tick writes first for the rounds that have closed: app/services/results/tally.py), once the
  round has closed (up to
  ``SCHEDULER_CLOSED_SUMMARY_DAYS`` after the close, so that installing the scheduler does not
  mail about rounds closed long ago).

Rows are written with INSERT ... SELECT ... ON CONFLICT DO NOTHING (one statement per round
and kind, whatever the number of people), as ``pending``, or ``skipped`` with a reason when the
person has no address. A row is ``sent`` only after the SMTP server took it; a failed try makes
it ``failed`` with ``next_attempt_at`` (back-off) and it is tried again; a tick claims rows by
setting them ``sending`` until ``claimed_until`` (SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL; SQLite's BEGIN IMMEDIATE serialises whole transactions), so two ticks never take
the same row, and a row claimed by a tick that died is taken again after the claim expires.
A waiting reminder or digest is skipped once the round has closed, and a reminder (or a
sign-in link sent in bulk) once its person has submitted.

The opening mail, the reminders and ``signin:<n>`` carry the person's sign-in link for the
round, made when the message is rendered (``sending.render``,
``app/services/identity/links.py``), unless ``SIGN_IN_LINKS`` is off.

The improvement actions recorded on a closed round use the same ledger, with their own kinds
(``action:<id>``, ``action-due:<id>``): app/services/operations/action_mail.py, whose
``plan_actions`` runs at the end of ``plan``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from app.access import grant_reaches_clause
from app.extensions import db
from app.models import (
    Assignment,
    Grant,
    GrantRole,
    MailLedger,
    MailState,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    UTCDateTime,
    round_state,
    round_ward,
)
from app.services.identity.auth import has_left_clause
from app.services.operations.action_mail import (
    ACTION,
    ACTION_CLOSED,
    ACTION_DUE,
    ACTION_REASSIGNED,
    plan_actions,
)
from app.services.organisation.grants import in_force_now
from app.services.results.tally import count_closed_rounds
from app.services.rounds.audience import join_audience, section_members_in_year
from app.services.rounds.rounds import parse_reminder_days
from app.wareki import fiscal_year_of, tokyo

OPENED = "opened"
CLOSED = "closed"
REMINDER = "reminder:"
DIGEST = "digest:"
SIGN_IN = "signin:"

# Why a row is skipped (shown on the ledger page).
NO_EMAIL = "メールアドレスが登録されていません"
ALREADY_SUBMITTED = "送る前に提出されました"
SUPERSEDED = "新しい催促に置き換わったか、予定が変わりました"
AFTER_CLOSE = "送る前に締め切られました"
NOBODY_LEFT = "送る前に課の全員が提出しました"
LINKS_OFF = "サインイン用リンクを使わない設定です"
SIGN_IN_BLOCKED = "送る前にサインインが止められました"
# Not a skip: marks a reminder an admin sent with 今すぐ催促 (kept on the row, shown on the page).
REMINDED_NOW = "管理者が今すぐ送りました"
REMIND_NOW_GAP = timedelta(hours=12)

STATE_LABELS: dict[MailState, Any] = {
    MailState.PENDING: _l("送信待ち"),
    MailState.SENDING: _l("送信中"),
    MailState.SENT: _l("送信済み"),
    MailState.FAILED: _l("失敗・再送待ち"),
    MailState.SKIPPED: _l("送らない"),
}

_LEDGER_COLUMNS = ["round_id", "person_id", "kind", "state", "reason", "attempts", "created_at"]


RECEIPT = "receipt:"  # + the submission's time (Unix seconds): a copy of one's answers


def receipt_kind(submitted_at: datetime) -> str:
    return f"{RECEIPT}{int(submitted_at.timestamp())}"


def request_receipt_mail(round_id: int, person_id: int, submitted_at: datetime) -> bool:
    """Queue a copy of a person's submitted answers to their own address, sent by the
    scheduler's next tick; once per submission (False when it was asked for already).
    Flushes, never commits."""
    kind = receipt_kind(submitted_at)
    exists = db.session.scalar(
        sa.select(MailLedger.id).where(
            MailLedger.round_id == round_id,
            MailLedger.person_id == person_id,
            MailLedger.kind == kind,
        )
    )
    if exists is not None:
        return False
    db.session.add(MailLedger(round_id=round_id, person_id=person_id, kind=kind))
    db.session.flush()
    return True


def reminder_kind(days: int) -> str:
    return f"{REMINDER}{days}"


def digest_kind(days: int) -> str:
    return f"{DIGEST}{days}"


def sign_in_kind(send: int) -> str:
    return f"{SIGN_IN}{send}"


# The reasons above are stored in the ledger in Japanese; the page shows them in its language.
_REASON_LABELS: dict[str, Any] = {
    NO_EMAIL: _l("メールアドレスが登録されていません"),
    ALREADY_SUBMITTED: _l("送る前に提出されました"),
    SUPERSEDED: _l("新しい催促に置き換わったか、予定が変わりました"),
    AFTER_CLOSE: _l("送る前に締め切られました"),
    NOBODY_LEFT: _l("送る前に課の全員が提出しました"),
    LINKS_OFF: _l("サインイン用リンクを使わない設定です"),
    SIGN_IN_BLOCKED: _l("送る前にサインインが止められました"),
    REMINDED_NOW: _l("管理者が今すぐ送りました"),
    ACTION_CLOSED: _l("送る前に取組が完了または見送りになりました"),
    ACTION_REASSIGNED: _l("送る前に担当が変わりました"),
}


def reason_label(reason: str | None) -> str:
    """A skipped row's stored reason in the page's language (unknown text as it is)."""
    if not reason:
        return ""
    return str(_REASON_LABELS.get(reason, reason))


def kind_label(kind: str) -> str:
    """The ledger's kind in plain Japanese."""
    if kind == OPENED:
        return str(_("受付開始のお知らせ"))
    if kind == CLOSED:
        return str(_("締め切りのお知らせ（委員）"))
    if kind.startswith(REMINDER):
        return str(_("締め切り前のお知らせ（%(d)s 日前）", d=kind[len(REMINDER) :]))
    if kind.startswith(DIGEST):
        return str(_(
            "所属長へ、まだ提出していない人の一覧（締め切りの %(d)s 日前）", d=kind[len(DIGEST) :]
        ))
    if kind.startswith(RECEIPT):
        return str(_("回答の控え（本人の求めで）"))
    if kind.startswith(ACTION):
        return str(_("改善の取組の担当のお知らせ（担当者と所属長へ）"))
    if kind.startswith(ACTION_DUE):
        return str(_("改善の取組の期限前のお知らせ（担当者と所属長へ）"))
    if kind.startswith(SIGN_IN):
        return str(_("サインイン用リンク（%(n)s 回目のまとめ送り）", n=kind[len(SIGN_IN) :]))
    return kind


def due_reminder_days(
    opens_at: datetime, closes_at: datetime, reminder_days: str, now: datetime
) -> int | None:
    """The latest cadence point due at ``now``, as days before the close, or None.

    A point ``d`` is due from ``closes_at - d days`` until the close, when that moment is
    after the opening; of the due points the one nearest the close wins.
    """
    if round_state(opens_at, closes_at, now) != "open":
        return None
    due = [
        d
        for d in parse_reminder_days(reminder_days)
        if opens_at < closes_at - timedelta(days=d) <= now
    ]
    return min(due) if due else None


@dataclass
class PlanReport:
    """What ``plan`` wrote: new rows by (round id, kind), rows skipped by reason."""

    written: dict[tuple[int, str], int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    counted: list[int] = field(default_factory=list)  # rounds whose counts were written


def _dialect_insert() -> Any:
    name = db.session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def _waiting(now: datetime) -> sa.ColumnElement[bool]:
    """Rows not sent yet and not being sent: pending, failed, or claimed by a dead tick."""
    return sa.or_(
        MailLedger.state.in_([MailState.PENDING, MailState.FAILED]),
        sa.and_(MailLedger.state == MailState.SENDING, MailLedger.claimed_until <= now),
    )


def has_submitted(round_id: Any, person_id: Any) -> sa.Exists:
    return sa.exists().where(
        Response.round_id == round_id,
        Response.person_id == person_id,
        Response.status == ResponseStatus.SUBMITTED,
    )


def _respondents(round_: Round) -> sa.Select[Any]:
    """Person ids of everyone the round asks (``audience.join_audience``)."""
    query: sa.Select[Any] = join_audience(
        sa.select(Assignment.person_id).select_from(Round)
    ).where(Round.id == round_.id)
    return query


def _non_respondents(round_: Round) -> sa.Select[Any]:
    return _respondents(round_).where(~has_submitted(round_.id, Assignment.person_id))


def _chiefs_waiting_on_someone(round_: Round) -> sa.Select[Any]:
    """Chiefs of the round's sections in which someone has not submitted yet."""
    member = so.aliased(Assignment)
    return (
        _respondents(round_)
        .where(Assignment.role == Role.CHIEF)
        .where(
            sa.exists().where(
                section_members_in_year(Assignment.section_id, round_.fiscal_year, member),
                ~has_submitted(round_.id, member.person_id),
            )
        )
    )


def _committee(round_: Round, now: datetime) -> sa.Select[Any]:
    """Committee members for one of the round's wards or for the whole city, but not those
    whom the latest roster shows as having left (their grants stop working)."""
    return sa.select(Grant.person_id).join(Person, Person.id == Grant.person_id).where(
        ~has_left_clause(fiscal_year_of(tokyo(now))),
        in_force_now(now),
        Grant.role == GrantRole.COMMITTEE,
        grant_reaches_clause(
            sa.select(round_ward.c.ward_id).where(round_ward.c.round_id == round_.id)
        ),
    )


def _write(
    round_id: int,
    kind: str,
    people: sa.Select[Any],
    now: datetime,
    pending_reason: str | None = None,
) -> int:
    """One INSERT ... SELECT ... ON CONFLICT DO NOTHING: a row per person not yet written."""
    no_address = _no_address()
    source = sa.select(
        sa.literal(round_id, sa.Integer()),
        Person.id,
        sa.literal(kind, sa.String(20)),
        sa.case((no_address, MailState.SKIPPED.value), else_=MailState.PENDING.value),
        sa.case((no_address, NO_EMAIL), else_=sa.literal(pending_reason, sa.String(200))),
        sa.literal(0, sa.Integer()),
        sa.literal(now, UTCDateTime()),
    ).where(Person.id.in_(people.scalar_subquery()))
    stmt = (
        _dialect_insert()(MailLedger)
        .from_select(_LEDGER_COLUMNS, source)
        .on_conflict_do_nothing(index_elements=["round_id", "person_id", "kind"])
        .execution_options(preserve_rowcount=True)
    )
    return _rowcount(db.session.execute(stmt))


def _no_address() -> sa.ColumnElement[bool]:
    return sa.or_(Person.email.is_(None), sa.func.trim(Person.email) == "")


def _skip(where: sa.ColumnElement[bool], reason: str, now: datetime) -> int:
    result = db.session.execute(
        sa.update(MailLedger)
        .where(_waiting(now), where)
        .values(state=MailState.SKIPPED, reason=reason, claimed_until=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def plan(now: datetime) -> PlanReport:
    """Write the rows the clock calls for and skip the waiting ones that became pointless.

    A constant number of statements per round concerned (open, or closed within the summary
    window), whatever the number of people, then the improvement actions' reminders
    (``action_mail.plan_actions``). Flushes, never commits.
    """
    report = PlanReport()
    grace = timedelta(days=int(current_app.config["SCHEDULER_CLOSED_SUMMARY_DAYS"]))
    # Rounds that have closed get their counts now, before anyone reads their results.
    report.counted = count_closed_rounds(now)

    closed_rounds = sa.select(Round.id).where(Round.closed_by(now))
    report.skipped[AFTER_CLOSE] = _skip(
        sa.and_(
            MailLedger.kind != CLOSED,
            MailLedger.action_id.is_(None),  # an action's mail follows its round's close
            MailLedger.round_id.in_(closed_rounds),
        ),
        AFTER_CLOSE,
        now,
    )
    report.skipped[ALREADY_SUBMITTED] = _skip(
        sa.and_(
            sa.or_(MailLedger.kind.startswith(REMINDER), MailLedger.kind.startswith(SIGN_IN)),
            has_submitted(MailLedger.round_id, MailLedger.person_id),
        ),
        ALREADY_SUBMITTED,
        now,
    )
    report.skipped[SUPERSEDED] = 0

    rounds = db.session.scalars(
        sa.select(Round)
        .where(Round.opened_by(now), ~Round.closed_by(now - grace))
        .order_by(Round.id)
    ).all()
    for round_ in rounds:
        for kind, count in _plan_round(round_, now, report).items():
            if count:
                report.written[(round_.id, kind)] = count
    written, report.skipped[ACTION_CLOSED] = plan_actions(now)
    report.written.update(written)
    db.session.flush()
    return report


def _plan_round(round_: Round, now: datetime, report: PlanReport) -> dict[str, int]:
    """The rows one round calls for now (rows written by kind): the committee's mail once it
    has closed; while open, the opening mail and the reminders and digests due, the earlier
    ones superseded (counted in ``report``)."""
    written: dict[str, int] = {}
    if round_.state(now) == "closed":
        written[CLOSED] = _write(round_.id, CLOSED, _committee(round_, now), now)
        return written
    written[OPENED] = _write(round_.id, OPENED, _respondents(round_), now)
    days = due_reminder_days(round_.opens_at, round_.closes_at, round_.reminder_days, now)
    # Superseded are the points before the latest due one; the points still to come
    # (and reminder:0) hold reminders an admin sent early with 今すぐ催促 (remind_now).
    kept_points = [d for d in _points(round_) if days is None or d <= days] + [0]
    keep = [kind for d in kept_points for kind in (reminder_kind(d), digest_kind(d))]
    report.skipped[SUPERSEDED] += _skip(
        sa.and_(
            MailLedger.round_id == round_.id,
            sa.or_(MailLedger.kind.startswith(REMINDER), MailLedger.kind.startswith(DIGEST)),
            MailLedger.kind.not_in(keep),
        ),
        SUPERSEDED,
        now,
    )
    if days is not None:
        kind = reminder_kind(days)
        written[kind] = _write(round_.id, kind, _non_respondents(round_), now)
        kind = digest_kind(days)
        written[kind] = _write(round_.id, kind, _chiefs_waiting_on_someone(round_), now)
    return written


def _points(round_: Round) -> tuple[int, ...]:
    try:
        return parse_reminder_days(round_.reminder_days)
    except ValueError:
        return ()


def _remind_now_kinds(round_: Round, now: datetime) -> tuple[str | None, str]:
    """The two ledger kinds a reminder sent now may take: the cadence point due now (None if
    none is), and the next point still to come (``reminder:0`` after the last one)."""
    due = due_reminder_days(round_.opens_at, round_.closes_at, round_.reminder_days, now)
    future = [
        d for d in _points(round_)
        if round_.opens_at < round_.closes_at - timedelta(days=d)
        and now < round_.closes_at - timedelta(days=d)
    ]
    return (
        reminder_kind(due) if due is not None else None,
        reminder_kind(max(future) if future else 0),
    )


def _lacking(round_: Round, kind: str) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        MailLedger.round_id == round_.id,
        MailLedger.person_id == Assignment.person_id,
        MailLedger.kind == kind,
    )


def _remind_now_groups(round_: Round, now: datetime) -> list[tuple[str, sa.Select[Any]]]:
    """Who gets which kind when reminded now. A non-respondent not yet reminded at the point
    due now gets that point's row (so the tick, which would write it too, does not send it
    again); one already reminded at it gets the next point's row (brought forward: the tick
    will not remind them again at that point). The unique (round, person, kind) row makes the
    button and the tick one message per person and point; and whoever got a reminder in the
    last ``REMIND_NOW_GAP`` is left out."""
    due, upcoming = _remind_now_kinds(round_, now)
    # Nobody is reminded twice within REMIND_NOW_GAP (a second press, a double click).
    waiting = _non_respondents(round_).where(
        ~sa.exists().where(
            MailLedger.round_id == round_.id,
            MailLedger.person_id == Assignment.person_id,
            MailLedger.kind.startswith(REMINDER),
            MailLedger.created_at > now - REMIND_NOW_GAP,
        )
    )
    if due is None:
        return [(upcoming, waiting.where(_lacking(round_, upcoming)))]
    return [
        (upcoming, waiting.where(~_lacking(round_, due), _lacking(round_, upcoming))),
        (due, waiting.where(_lacking(round_, due))),
    ]


def remind_now_count(round_: Round, now: datetime) -> int:
    """How many people a reminder sent now would reach: those who must answer, have not
    submitted, have an address and have not been reminded at this point yet."""
    total = 0
    for _kind, people in _remind_now_groups(round_, now):
        total += int(
            db.session.scalar(
                sa.select(sa.func.count(Person.id)).where(
                    Person.id.in_(people.scalar_subquery()), ~_no_address()
                )
            )
            or 0
        )
    return total


def remind_now(round_: Round, now: datetime) -> int:
    """Write a pending reminder for each current non-respondent (see ``_remind_now_groups``);
    the scheduler's next tick sends them (within a minute). Only while the round is open
    (ValueError otherwise). Returns how many will be sent. Flushes, never commits."""
    if not round_.is_open(now):
        raise ValueError("the round is not open")
    reach = remind_now_count(round_, now)
    # In this order: the first group is read before the second one's rows exist.
    for kind, people in _remind_now_groups(round_, now):
        _write(round_.id, kind, people, now, pending_reason=REMINDED_NOW)
    db.session.flush()
    return reach


# --- サインイン用リンクをまとめて送る: the round's non-respondents, once per send ----------


def link_sends(round_: Round) -> int:
    """How many times the round's sign-in links were sent in bulk so far (``signin:<n>``)."""
    kinds = db.session.scalars(
        sa.select(MailLedger.kind)
        .where(MailLedger.round_id == round_.id, MailLedger.kind.startswith(SIGN_IN))
        .distinct()
    )
    return max((int(kind[len(SIGN_IN) :]) for kind in kinds), default=0)


def _link_recipients(round_: Round) -> sa.Select[Any]:
    """Who a bulk send of sign-in links is for: the round's non-respondents who may sign in."""
    return _non_respondents(round_).where(
        Assignment.person_id.not_in(sa.select(Person.id).where(Person.sign_in_blocked))
    )


def send_links_count(round_: Round) -> int:
    """How many people a bulk send of sign-in links would reach now: the round's
    non-respondents who may sign in and have an address."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count(Person.id)).where(
                Person.id.in_(_link_recipients(round_).scalar_subquery()), ~_no_address()
            )
        )
        or 0
    )


class LinkSendError(ValueError):
    """A bulk send of sign-in links that cannot be done: the round is not open, or the send
    is not the next one (``sent`` is how many were done, for the page to say so)."""

    def __init__(self, reason: str, sent: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


def send_links(round_: Round, send: int, now: datetime) -> int:
    """Write the ``send``-th bulk send of the round's sign-in links: a pending ``signin:<send>``
    row per non-respondent (``_link_recipients``), which the scheduler's next tick sends with
    a new link each. ``send`` must be the next one (``link_sends`` + 1): a second press of
    the same page, or two admins at once, write nothing more (LinkSendError "already"). Only
    while the round is open (LinkSendError "not_open"). Returns how many will be sent.
    Flushes, never commits."""
    if not round_.is_open(now):
        raise LinkSendError("not_open", link_sends(round_))
    done = link_sends(round_)
    if send != done + 1:
        raise LinkSendError("already" if send <= done else "invalid", done)
    reach = send_links_count(round_)
    _write(round_.id, sign_in_kind(send), _link_recipients(round_), now)
    db.session.flush()
    return reach


def claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(
            MailLedger.state.in_([MailState.PENDING, MailState.FAILED]),
            sa.or_(MailLedger.next_attempt_at.is_(None), MailLedger.next_attempt_at <= now),
        ),
        sa.and_(MailLedger.state == MailState.SENDING, MailLedger.claimed_until <= now),
    )


# --- Reading: the dry run and the ledger pages ---------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A message a tick would send now (the dry run prints these)."""

    ledger_id: int
    round_id: int
    kind: str
    employee_id: str
    name: str
    email: str
    attempts: int


def due_now(now: datetime) -> list[Due]:
    """Every row a tick would claim and send at ``now``, in ledger order. One query."""
    rows = db.session.execute(
        sa.select(
            MailLedger.id,
            MailLedger.round_id,
            MailLedger.kind,
            Person.employee_id,
            Person.name,
            Person.email,
            MailLedger.attempts,
        )
        .join(Person, Person.id == MailLedger.person_id)
        .where(claimable(now))
        .order_by(MailLedger.id)
    ).all()
    return [
        Due(ledger_id=a, round_id=b, kind=c, employee_id=d, name=e, email=f or "", attempts=g)
        for a, b, c, d, e, f, g in rows
    ]


def ledger_counts(round_ids: Sequence[int] | None = None) -> dict[int, dict[MailState, int]]:
    """Rows per state, by round (all rounds when ``round_ids`` is None). One GROUP BY."""
    query = sa.select(MailLedger.round_id, MailLedger.state, sa.func.count()).group_by(
        MailLedger.round_id, MailLedger.state
    )
    if round_ids is not None:
        query = query.where(MailLedger.round_id.in_(round_ids))
    counts: dict[int, dict[MailState, int]] = defaultdict(dict)
    for round_id, state, count in db.session.execute(query):
        counts[round_id][MailState(state)] = count
    return dict(counts)


def ledger_query(round_id: int, state: MailState | None = None) -> sa.Select[MailLedger]:
    """The round's ledger rows with their person (joined, one query), oldest first.
    Paginate it: a round may have 20,000 people."""
    query = (
        sa.select(MailLedger)
        .options(so.joinedload(MailLedger.person))
        .where(MailLedger.round_id == round_id)
        .order_by(MailLedger.id)
    )
    if state is not None:
        query = query.where(MailLedger.state == state)
    return query


def immediate_effects(
    opens_at: datetime,
    closes_at: datetime,
    now: datetime,
    *,
    was_open: bool = False,
    was_closed: bool = False,
) -> list[str]:
    """What saving these times sets off at once and cannot be undone (asked to confirm)."""
    effects: list[str] = []
    state = round_state(opens_at, closes_at, now)
    if not was_open and not was_closed and state == "open":
        effects.append(
            _(
                "保存するとすぐに受付が始まり、対象の全員に「回答のお願い」のメールが"
                "送られます。送ったメールは取り消せません。"
            )
        )
    if was_closed and state != "closed":
        effects.append(
            _(
                "締め切り後の調査を再開します。集計した結果は捨てられ、新しい締め切りまで"
                "誰も結果を見られなくなります。締め切りのあとで結果が一度でも読まれると、"
                "もう再開できません。よろしいですか。"
            )
        )
    if not was_closed and state == "closed":
        effects.append(
            _(
                "保存するとすぐに締め切られ、それ以後は誰も回答できません。委員に"
                "締め切りのお知らせが送られます。"
            )
        )
    return effects
