"""A round's state and its counts (集計): what every result of a round is read from.

Why the counts are fixed at the close: results read live while people are still answering
let a reader work out one person's answers by comparing two views, one taken before and one
after that person submits (a chief downloading the section's sheet twice, the committee calling
the API twice). Hiding small groups does not help against that. So:

- while a round is not closed nobody sees any compliance cell or count of it: only the response
  progress, itself under the small-group rule (``app.services.results.compliance``);
- at the first request or scheduler tick after the close, the round's counts are written once
  (``count_round``), per section × role × standard, with the respondents and the people
  expected, and ``Round.counted_at`` is set. No row names a person. The organisation of that
  moment is written with them (``round_section``: each section's name, department and ward),
  and every result groups the counts by it, so a later roster changes nothing either;
- every result of a closed round (pages, API, exports, charts, the annual report, the mail to
  the committee, the trend) reads only those rows, so nothing about it changes afterwards, not
  even when the answers themselves are purged years later;
- reopening a round (moving its close later) discards its counts (``discard_counts``); its
  results are hidden again until it closes. A round whose results anyone has read is not
  reopened (``app/services/results/readers.py``).

Concurrency: a save takes a share lock on the round's row (``checklist_page.round_context``
in its transaction, or the first save's one statement, ``checklist_save._first_save``) and
``count_round`` takes the row's update lock first (its UPDATE of ``counted_at``). The count
therefore waits for the saves in flight, and a save that comes after it sees ``counted_at``
and is refused. SQLite runs one writing transaction at a time (BEGIN IMMEDIATE).
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
    Department,
    Response,
    ResponseStatus,
    Role,
    Round,
    RoundCount,
    RoundDayCount,
    RoundHeadcount,
    RoundSection,
    Section,
    SectionAnswer,
    Standard,
    Ward,
    round_ward,
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
    _write_organisation(round_id, session)
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


def organisation_at_close(round_id: int | sa.ColumnElement[int]) -> sa.Select[Any]:
    """SELECT the organisation of a round's wards as it stands now, as ``round_section``
    keeps it (the columns in the table's order): every section of the round's wards, with
    its department (none for a section directly under its ward) and ward, names and orders.
    ``_write_organisation`` writes it at the close; the migration that made the table wrote
    it for the rounds counted before."""
    return (
        sa.select(
            round_ward.c.round_id,
            Section.id,
            Section.name,
            Section.sort_order,
            Department.id,
            Department.name,
            Department.sort_order,
            Ward.id,
            Ward.name,
            Ward.sort_order,
        )
        .select_from(round_ward)
        .join(Section, Section.ward_id == round_ward.c.ward_id)
        .join(Ward, Ward.id == Section.ward_id)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(round_ward.c.round_id == round_id)
    )


ORGANISATION_COLUMNS = [
    "round_id", "section_id", "section_name", "section_order",
    "department_id", "department_name", "department_order",
    "ward_id", "ward_name", "ward_order",
]


def _write_organisation(round_id: int, session: so.Session) -> None:
    """The round's organisation as it is at the close (``round_section``): what its groups,
    names and order are read from ever after, whatever later rosters do. One INSERT ...
    SELECT."""
    session.execute(
        sa.insert(RoundSection).from_select(ORGANISATION_COLUMNS, organisation_at_close(round_id))
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
        refresh_statistics(RoundCount, RoundHeadcount, RoundDayCount, RoundSection)
    return counted


def discard_counts(round_: Round) -> None:
    """Forget a reopened round's counts: its results are hidden again until it closes.
    Flushes, never commits."""
    for model in (RoundCount, RoundHeadcount, RoundDayCount, RoundSection):
        db.session.execute(sa.delete(model).where(model.round_id == round_.id))
    round_.counted_at = None
    db.session.flush()


# --- Reading ----------------------------------------------------------------------------------


def _at_close(counts: type[RoundCount | RoundHeadcount | RoundDayCount]) -> sa.ColumnElement[bool]:
    """Join a round's counts to its organisation at the close (``round_section``)."""
    return sa.and_(
        RoundSection.round_id == counts.round_id, RoundSection.section_id == counts.section_id
    )


# (section id, its name, department id, its name, ward id, its name)
OrganisationRow = tuple[int, str, int | None, str | None, int, str]


def round_organisation(round_id: int) -> tuple[OrganisationRow, ...]:
    """A counted round's sections as they were at its close, with their department and ward,
    in that organisation's order (sections directly under a ward before its departments).
    One query."""
    rows = db.session.execute(
        sa.select(
            RoundSection.section_id,
            RoundSection.section_name,
            RoundSection.department_id,
            RoundSection.department_name,
            RoundSection.ward_id,
            RoundSection.ward_name,
        )
        .where(RoundSection.round_id == round_id)
        .order_by(
            RoundSection.ward_order,
            RoundSection.ward_id,
            RoundSection.department_id.is_not(None),
            RoundSection.department_order,
            RoundSection.department_id,
            RoundSection.section_order,
            RoundSection.section_id,
        )
    ).all()
    return tuple((r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows)


def wards_at_close(round_id: int | None = None) -> sa.Subquery:
    """A subquery of the counted rounds' wards as at their close (``round_section``), one row
    per round and ward: ``round_id``, ``ward_id``, ``ward_name``, ``ward_order`` (only
    ``round_id``'s when given). Outer-joined by the queries that name and order a round's
    wards, which fall back on today's ``Ward`` for a round not counted."""
    query = sa.select(
        RoundSection.round_id, RoundSection.ward_id, RoundSection.ward_name, RoundSection.ward_order
    ).distinct()
    if round_id is not None:
        query = query.where(RoundSection.round_id == round_id)
    return query.subquery()


def ward_names_at_close(chosen: dict[int, int]) -> dict[int, tuple[str, int]]:
    """Each ward's name and order at the close of the counted round ``chosen`` for it (ward id
    -> round id). One query."""
    rows = db.session.execute(
        sa.select(
            RoundSection.round_id,
            RoundSection.ward_id,
            RoundSection.ward_name,
            RoundSection.ward_order,
        )
        .where(RoundSection.round_id.in_(sorted(set(chosen.values()))))
        .distinct()
    ).all()
    return {
        ward_id: (name, order)
        for round_id, ward_id, name, order in rows
        if chosen.get(ward_id) == round_id
    }


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
            RoundSection.ward_id,
            RoundCount.role,
            RoundCount.standard_key,
            sa.func.sum(RoundCount.complies),
            sa.func.sum(RoundCount.not_complies),
            sa.func.sum(RoundCount.not_applicable),
        )
        .join(RoundSection, _at_close(RoundCount))
        .join(Round, Round.id == RoundCount.round_id)
        .where(Round.counted_at.is_not(None), Round.closed_by(now))
        .group_by(
            RoundCount.round_id, RoundSection.ward_id, RoundCount.role, RoundCount.standard_key
        )
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
                RoundSection.ward_id,
                RoundHeadcount.role,
                RoundHeadcount.expected,
                RoundHeadcount.submitted,
            )
            .join(RoundSection, _at_close(RoundHeadcount))
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
    if ward_id is not None and counted:
        query = query.join(RoundSection, _at_close(RoundDayCount)).where(
            RoundSection.ward_id == ward_id
        )
    elif ward_id is not None:
        query = query.join(Section, Section.id == section_column).where(
            Section.ward_id == ward_id
        )
    return [(as_date(d), Role(r), int(n)) for d, r, n in db.session.execute(query.order_by(day))]
