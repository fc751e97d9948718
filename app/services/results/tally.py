"""A round's state and its counts (集計): what every result of a round is read from.

Why the counts are fixed at the close: results read live while people are still answering
let a reader work out one person's answers by comparing two views, one taken before and one
after that person submits (a chief downloading the section's sheet twice, the committee calling
the API twice). Hiding small groups does not help against that. So:

- while a round is not closed nobody sees any compliance cell or count of it: only the response
  progress, itself under the small-group rule (``app.services.results.compliance``);
- at the first request or scheduler tick after the close, the round's counts are written once
  (``count_round``), per section × role × standard, with the respondents and the people
  expected, and ``Round.counted_at`` is set. No row names a person;
- every result of a closed round (pages, API, exports, charts, the annual report, the mail to
  the committee, the trend) reads only those rows, so nothing about it changes afterwards, not
  even when the answers themselves are purged years later;
- reopening a round (moving its close later) discards its counts (``discard_counts``); its
  results are hidden again until it closes.

Concurrency: a save takes a share lock on the round's row (``checklist_page.round_context``,
its first statement) and ``count_round`` takes the row's update lock first (its UPDATE of
``counted_at``). The count therefore waits for the saves in flight, and a save that comes
after it sees ``counted_at`` and is refused. SQLite runs one writing transaction at a time
(BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db, refresh_statistics
from app.models import (
    Answer,
    AnswerValue,
    Response,
    ResponseStatus,
    Role,
    Round,
    RoundCount,
    RoundDayCount,
    RoundHeadcount,
    Section,
    SectionAnswer,
    Standard,
    utcnow,
)
from app.replica import on_replica
from app.services.rounds.audience import audience

# (section id, its ward id, role, people expected, responses submitted)
Headcount = tuple[int, int, Role, int, int]
# (section id, role, standard key, complies, does not comply, not applicable)
AnswerCount = tuple[int, Role, str, int, int, int]


def _count(value: AnswerValue, column: Any) -> Any:
    """COUNT(*) FILTER (WHERE column = value): PostgreSQL and SQLite 3.30+ both have it."""
    return sa.func.count().filter(column == value)


def tokyo_day(column: Any) -> Any:
    """The calendar day on the city's clock (UTC+9 all year: Japan has no summer time)."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("Asia/Tokyo", column))
    return sa.func.date(column, "+9 hours")


def as_date(value: Any) -> date:
    """A day as the database returns it (a date, a datetime or ISO text on SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# --- Live: what a round that has not been counted shows (response progress only) ------------


def _live_headcounts(
    round_ids: Sequence[int], session: so.Session | None = None
) -> dict[int, list[Headcount]]:
    """People expected and responses submitted per round, section and role. Two GROUP BYs."""
    session = session or db.session()
    people = audience().where(Round.id.in_(round_ids)).subquery()
    expected = session.execute(
        sa.select(
            people.c.round_id, people.c.section_id, Section.ward_id, people.c.role,
            sa.func.count(),
        )
        .join(Section, Section.id == people.c.section_id)
        .group_by(people.c.round_id, people.c.section_id, Section.ward_id, people.c.role)
    ).all()
    submitted = session.execute(
        sa.select(
            Response.round_id, Response.section_id, Section.ward_id, Response.role,
            sa.func.count(),
        )
        .join(Section, Section.id == Response.section_id)
        .where(Response.round_id.in_(round_ids), Response.status == ResponseStatus.SUBMITTED)
        .group_by(Response.round_id, Response.section_id, Section.ward_id, Response.role)
    ).all()
    counts: dict[tuple[int, int, int, Role], list[int]] = defaultdict(lambda: [0, 0])
    for index, rows in ((0, expected), (1, submitted)):
        for round_id, section_id, ward_id, role, number in rows:
            counts[(round_id, section_id, ward_id, Role(role))][index] += int(number)
    by_round: dict[int, list[Headcount]] = defaultdict(list)
    for (round_id, section_id, ward_id, role), (whole, done) in counts.items():
        by_round[round_id].append((section_id, ward_id, role, whole, done))
    return by_round


# --- Counting at the close ------------------------------------------------------------------


def count_round(
    round_id: int, now: datetime | None = None, session: so.Session | None = None
) -> bool:
    """Write the counts of a closed round once; False when it is not closed or was counted
    already (by this or a concurrent request: the UPDATE waits for the other's commit).
    A handful of INSERT ... SELECT ... GROUP BY statements, whatever the number of people.
    On ``session`` (default: the app's). Flushes, never commits."""
    now = now or utcnow()
    session = session or db.session()
    claimed: Any = session.execute(
        sa.update(Round)
        .where(Round.id == round_id, Round.counted_at.is_(None), Round.closed_by(now))
        .values(counted_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        return False
    _write_answer_counts(round_id, session)
    _write_day_counts(round_id, session)
    _write_headcounts(round_id, session)
    return True


def _submitted(round_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)


def _write_answer_counts(round_id: int, session: so.Session) -> None:
    """The round's counts per section, role and standard (INSERT ... SELECT ... GROUP BY)."""
    submitted = _submitted(round_id)
    own = (
        sa.select(
            sa.literal(round_id),
            Response.section_id,
            Response.role,
            Standard.key,
            _count(AnswerValue.YES, Answer.value),
            _count(AnswerValue.NO, Answer.value),
            _count(AnswerValue.NA, Answer.value),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Standard, Standard.id == Answer.standard_id)
        .where(submitted)
        .group_by(Response.section_id, Response.role, Standard.key)
    )
    # Section-level answers: one per section, the chief's, counted in the 所属長 column.
    sections = (
        sa.select(
            sa.literal(round_id),
            SectionAnswer.section_id,
            sa.literal(Role.CHIEF.value),
            Standard.key,
            _count(AnswerValue.YES, SectionAnswer.value),
            _count(AnswerValue.NO, SectionAnswer.value),
            _count(AnswerValue.NA, SectionAnswer.value),
        )
        .select_from(SectionAnswer)
        .join(Response, Response.id == SectionAnswer.response_id)
        .join(Standard, Standard.id == SectionAnswer.standard_id)
        .where(SectionAnswer.round_id == round_id, submitted)
        .group_by(SectionAnswer.section_id, Standard.key)
    )
    columns = [
        "round_id", "section_id", "role", "standard_key",
        "complies", "not_complies", "not_applicable",
    ]
    session.execute(sa.insert(RoundCount).from_select(columns, sa.union_all(own, sections)))


def _write_day_counts(round_id: int, session: so.Session) -> None:
    """The submissions of each (Tokyo) day per section and role."""
    submitted = _submitted(round_id)
    day = tokyo_day(Response.submitted_at)
    session.execute(
        sa.insert(RoundDayCount).from_select(
            ["round_id", "section_id", "role", "day", "submitted"],
            sa.select(
                sa.literal(round_id), Response.section_id, Response.role, day, sa.func.count()
            )
            .where(submitted)
            .group_by(Response.section_id, Response.role, day),
        )
    )


def _write_headcounts(round_id: int, session: so.Session) -> None:
    """The people asked and those who submitted, per section and role, as at the close."""
    heads = _live_headcounts([round_id], session).get(round_id, [])
    if heads:
        session.execute(
            sa.insert(RoundHeadcount),
            [
                {"round_id": round_id, "section_id": s, "role": r, "expected": e, "submitted": d}
                for s, _ward, r, e, d in heads
            ],
        )


def ensure_counted(round_ids: Iterable[int], now: datetime | None = None) -> bool:
    """Count every round of ``round_ids`` that has closed and is not counted yet (usually
    none: the scheduler counts each round within a minute of its close). True when all the
    closed ones are counted in this transaction's view; the caller commits.

    In a report view on the read replica (which cannot write) the counting runs on the
    primary in its own transaction, and False says the replica may not show it yet."""
    now = now or utcnow()
    ids = list(round_ids)
    if not ids:
        return True
    pending = db.session.scalars(
        sa.select(Round.id).where(
            Round.id.in_(ids), Round.counted_at.is_(None), Round.closed_by(now)
        )
    ).all()
    if not pending:
        return True
    if on_replica():
        with so.Session(db.engine) as primary, primary.begin():
            for round_id in pending:
                count_round(round_id, now, primary)
        return False
    for round_id in pending:
        count_round(round_id, now)
    return True


def count_closed_rounds(now: datetime | None = None) -> list[int]:
    """Count every round that has closed and is not counted yet (the scheduler's tick).
    Returns their ids. Flushes, never commits."""
    now = now or utcnow()
    pending = db.session.scalars(
        sa.select(Round.id)
        .where(Round.counted_at.is_(None), Round.closed_by(now))
        .order_by(Round.id)
    ).all()
    counted = [round_id for round_id in pending if count_round(round_id, now)]
    if counted:
        # The first round a database counts fills empty tables: see refresh_statistics.
        refresh_statistics(RoundCount, RoundHeadcount, RoundDayCount)
    return counted


def discard_counts(round_: Round) -> None:
    """Forget a reopened round's counts: its results are hidden again until it closes.
    Flushes, never commits."""
    for model in (RoundCount, RoundHeadcount, RoundDayCount):
        db.session.execute(sa.delete(model).where(model.round_id == round_.id))
    round_.counted_at = None
    db.session.flush()


# --- Reading ----------------------------------------------------------------------------------


def is_counted(round_id: int) -> bool:
    """Whether the round's counts are written (it has closed and been counted)."""
    return (
        db.session.scalar(sa.select(Round.counted_at).where(Round.id == round_id)) is not None
    )


def answer_counts(round_id: int) -> list[AnswerCount]:
    """The counted answers of a round: (section, role, standard key, yes, no, n/a). One query."""
    rows = db.session.execute(
        sa.select(
            RoundCount.section_id,
            RoundCount.role,
            RoundCount.standard_key,
            RoundCount.complies,
            RoundCount.not_complies,
            RoundCount.not_applicable,
        ).where(RoundCount.round_id == round_id)
    ).all()
    return [(s, Role(r), k, int(y), int(n), int(na)) for s, r, k, y, n, na in rows]


def counts_by_ward(now: datetime) -> list[tuple[int, int, Role, str, int, int, int]]:
    """The counted answers of every round closed by ``now``, by round, ward, role and standard
    key: (round, ward, role, key, yes, no, n/a). One GROUP BY over the counts."""
    rows = db.session.execute(
        sa.select(
            RoundCount.round_id,
            Section.ward_id,
            RoundCount.role,
            RoundCount.standard_key,
            sa.func.sum(RoundCount.complies),
            sa.func.sum(RoundCount.not_complies),
            sa.func.sum(RoundCount.not_applicable),
        )
        .join(Section, Section.id == RoundCount.section_id)
        .join(Round, Round.id == RoundCount.round_id)
        .where(Round.counted_at.is_not(None), Round.closed_by(now))
        .group_by(RoundCount.round_id, Section.ward_id, RoundCount.role, RoundCount.standard_key)
    ).all()
    return [(r, w, Role(role), k, int(y), int(n), int(na)) for r, w, role, k, y, n, na in rows]


def headcounts(rounds: Sequence[tuple[int, bool]]) -> dict[int, list[Headcount]]:
    """People expected and responses submitted by section and role, for each (round id,
    counted) given: a counted round's from its counts, another's live. The one source of
    every response rate. At most three queries, whatever the number of rounds."""
    counted = [round_id for round_id, done in rounds if done]
    live = [round_id for round_id, done in rounds if not done]
    result: dict[int, list[Headcount]] = defaultdict(list)
    if counted:
        for round_id, section_id, ward_id, role, expected, submitted in db.session.execute(
            sa.select(
                RoundHeadcount.round_id,
                RoundHeadcount.section_id,
                Section.ward_id,
                RoundHeadcount.role,
                RoundHeadcount.expected,
                RoundHeadcount.submitted,
            )
            .join(Section, Section.id == RoundHeadcount.section_id)
            .where(RoundHeadcount.round_id.in_(counted))
        ):
            result[round_id].append(
                (section_id, ward_id, Role(role), int(expected), int(submitted))
            )
    if live:
        result.update(_live_headcounts(live))
    return result


def submitted_by_day(
    round_id: int, counted: bool, ward_id: int | None = None
) -> list[tuple[date, Role, int]]:
    """Responses submitted on each day (Tokyo) by role, in the round or one of its wards: a
    counted round's from its counts, another's live (by the day of each latest submission).
    One query."""
    if counted:
        day: Any = RoundDayCount.day
        query = (
            sa.select(day, RoundDayCount.role, sa.func.sum(RoundDayCount.submitted))
            .where(RoundDayCount.round_id == round_id)
            .group_by(day, RoundDayCount.role)
        )
        section_column: Any = RoundDayCount.section_id
    else:
        day = tokyo_day(Response.submitted_at)
        query = (
            sa.select(day, Response.role, sa.func.count())
            .where(Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)
            .group_by(day, Response.role)
        )
        section_column = Response.section_id
    if ward_id is not None:
        query = query.join(Section, Section.id == section_column).where(
            Section.ward_id == ward_id
        )
    return [(as_date(d), Role(r), int(n)) for d, r, n in db.session.execute(query.order_by(day))]
