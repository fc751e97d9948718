"""Reading a checklist: the rounds a person answers, their page, its receipt, a chief's progress.

The round, the person's place in it and their answers come in one statement (``_page_query``);
the round's standards and the blank items made from them are kept per process under the
catalogue's and round's ``revision`` (``_round_standards``, ``staff_items``,
``_blank_staff_items``), and the round's facts as last read with them (``latest_read``, for
the first save's check). The rules are in ``app/services/rounds/checklist.py``; saving is
``app/services/rounds/checklist_save.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.i18n import localized_datetime as reiwa_datetime
from app.models import (
    Answer,
    AnswerValue,
    Assignment,
    Audience,
    Catalogue,
    Person,
    PersonRef,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
    SectionAnswer,
    Standard,
    section_kind_link,
    standard_kind_link,
    utcnow,
)
from app.services.rounds.audience import join_audience, section_members_in_year
from app.services.rounds.checklist import (
    ANSWER_VALUES,
    Checklist,
    ChecklistItem,
    MyRound,
    NotInRound,
    Progress,
    RoundAsRead,
    SectionMember,
)


@dataclass(frozen=True)
class RoundFacts:
    """What every reader of a round reads alike: the round and its catalogue's ward and
    revision, the key of the per-process copies (``_round_standards``)."""

    round: RoundAsRead
    catalogue_ward_id: int | None
    catalogue_revision: int
    catalogue_loaded_at: datetime | None


@dataclass(frozen=True)
class RoundContext:
    """A person's place in a round: the round, their assignment of its year, their response."""

    round: RoundAsRead
    catalogue_ward_id: int | None
    role: Role
    section_id: int
    section_name: str
    response_id: int | None
    response_status: ResponseStatus | None
    catalogue_revision: int = 0
    catalogue_loaded_at: datetime | None = None

    @property
    def nothing_stored(self) -> bool:
        """A staff member without a response: nothing of theirs is stored in the round (a
        chief may find the section's answers)."""
        return self.response_id is None and self.role is not Role.CHIEF

    @property
    def facts(self) -> RoundFacts:
        return RoundFacts(
            self.round, self.catalogue_ward_id, self.catalogue_revision, self.catalogue_loaded_at
        )


def progress_of(status: ResponseStatus | None) -> Progress:
    if status is None:
        return "not_started"
    return "submitted" if status is ResponseStatus.SUBMITTED else "draft"


def not_in_round() -> NotInRound:
    return NotInRound(_("この調査の対象ではありません。"))


def _in_round(person_id: Any, rounds: sa.Select[Any] | None = None) -> sa.Select[Any]:
    """Rounds (``rounds``: a select from Round; the ORM rounds by default) joined to the
    person's assignment of each round's year in one of its wards, and to their response."""
    query: sa.Select[Any] = join_audience(
        sa.select(Round) if rounds is None else rounds, person_id=person_id
    ).outerjoin(
        Response,
        sa.and_(Response.round_id == Round.id, Response.person_id == person_id),
    )
    return query


def round_context(round_id: int, person: PersonRef, *, locked: bool = True) -> RoundContext:
    """One query: the round as it now stands, the catalogue's ward, the assignment and the
    response status. When ``locked``, it takes a share lock on the round's row until the
    commit, so that the round's counts are not written while this save is under way
    (app/services/results/tally.py)."""
    parameters = {"round_id": round_id, "person_id": person.id}
    row = db.session.connection().execute(context_query(locked), parameters).first()
    if row is None:
        raise not_in_round()
    return context_of(row)


_ROUND_FIELDS = len(fields(RoundAsRead))


def context_of(row: Sequence[Any]) -> RoundContext:
    """A ``context_query`` row (its first columns the round's, as ``RoundAsRead``)."""
    return RoundContext(RoundAsRead(*row[:_ROUND_FIELDS]), *row[_ROUND_FIELDS:])


@cache
def context_query(locked: bool = False) -> sa.Select[Any]:
    # Built once with bound parameters: building it was a tenth of a checklist page's time.
    # Run through the session's connection (Core): plain columns, no ORM object to load.
    round_columns = [getattr(Round, column.name) for column in fields(RoundAsRead)]
    query: sa.Select[Any] = (
        _in_round(sa.bindparam("person_id"), sa.select(*round_columns))
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .add_columns(
            Catalogue.ward_id,
            Assignment.role,
            Section.id,
            Section.name,
            Response.id,
            Response.status,
            Catalogue.revision,
            Catalogue.loaded_at,
        )
        .where(Round.id == sa.bindparam("round_id"))
    )
    if not locked:
        return query
    # FOR SHARE OF round on PostgreSQL (SQLite has no row locks: BEGIN IMMEDIATE serialises).
    locking: sa.Select[Any] = query.with_for_update(read=True, of=Round.__table__)
    return locking


@dataclass(frozen=True)
class _Standard:
    """A standard as the checklist shows it (kept per process, ``_round_standards``)."""

    id: int
    key: str
    number: int
    text: str
    scene: str
    audience: Audience
    ward_specific: bool


STANDARDS_CACHE = "kijun.checklist_round_standards"


STANDARDS_CACHE_SIZE = 256  # rounds (with their revisions) kept per process


@dataclass(frozen=True)
class _KeptStandards:
    """A round's standards as kept per process, with what is made from them alone."""

    standards: tuple[_Standard, ...]
    # A staff member's items without answers, by whether the catalogue is city-wide.
    staff_items: dict[bool, tuple[ChecklistItem, ...]] = field(default_factory=dict)


def _round_standards(facts: RoundFacts) -> _KeptStandards:
    """The standards of the round's catalogue in catalogue order, kept per process (per app)
    under the round's and the catalogue's revision: no query while nothing changed, one after
    any edit (app/models.py ``_bump_revisions`` bumps the revision on every ORM flush that
    changes a catalogue, a standard or a round, whatever page or command makes it). The
    round's facts are noted as the latest this process read (``latest_read``)."""
    cache: dict[tuple[Any, ...], _KeptStandards] = current_app.extensions.setdefault(
        STANDARDS_CACHE, {}
    )
    round_ = facts.round
    # The creation times guard against an id reused after a deletion (SQLite).
    key = (round_.id, round_.revision, round_.created_at, round_.catalogue_id,
           facts.catalogue_revision, facts.catalogue_loaded_at)
    found = cache.get(key)
    if found is None:
        rows = db.session.execute(_standards_query(), {"catalogue_id": round_.catalogue_id})
        found = _KeptStandards(tuple(_Standard(*row) for row in rows))
        if len(cache) >= STANDARDS_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    latest: dict[int, RoundFacts] = current_app.extensions.setdefault(LATEST_READ, {})
    if len(latest) >= STANDARDS_CACHE_SIZE and round_.id not in latest:
        latest.clear()
    latest[round_.id] = facts
    return found


LATEST_READ = "kijun.checklist_latest_round_read"


def latest_read(round_id: int) -> RoundFacts | None:
    """The round's facts as this process last read them (a staff member's page or save), or
    None. They may be out of date: a save that relies on them has the database check them
    (``checklist_save._first_save``)."""
    found: RoundFacts | None = current_app.extensions.get(LATEST_READ, {}).get(round_id)
    return found


@cache
def _standards_query() -> Any:
    return (
        sa.select(Standard.id, Standard.key, Standard.number, Standard.text, Standard.scene,
                  Standard.audience, Standard.ward_specific)
        .where(Standard.catalogue_id == sa.bindparam("catalogue_id"))
        .order_by(Standard.position, Standard.number)
    )


def staff_items(
    facts: RoundFacts, stored: Mapping[int, tuple[Any, str | None]] | None = None
) -> list[ChecklistItem]:
    """A staff member's items (the catalogue's ``everyone`` standards; a city-wide catalogue's
    ward-specific ones are never asked), from the per-process copy, with ``stored`` answers."""
    blank = _blank_staff_items(facts)
    if not stored:
        return list(blank)
    items = []
    for item in blank:
        answer = stored.get(item.standard_id)
        if answer is None:
            items.append(item)
        else:
            value, comment = answer
            # The stored value as the JSON text has it: the enum by a dict lookup, not a call.
            stored_value = ANSWER_VALUES[value] if value is not None else None
            items.append(item.answered(stored_value, comment))
    return items


def _blank_staff_items(facts: RoundFacts) -> tuple[ChecklistItem, ...]:
    """A staff member's items without answers, made once per process with the standards they
    come from (``_round_standards``): items are immutable, so every page and save shares them
    and makes new ones only for the items answered."""
    kept = _round_standards(facts)
    city_wide = facts.catalogue_ward_id is None
    blank = kept.staff_items.get(city_wide)
    if blank is None:
        blank = kept.staff_items[city_wide] = tuple(
            ChecklistItem(s.id, s.key, s.number, s.text, s.scene, "self")
            for s in kept.standards
            if s.audience is Audience.EVERYONE and not (city_wide and s.ward_specific)
        )
    return blank


def items_of(ctx: RoundContext, *, with_answers: bool = False) -> list[ChecklistItem]:
    """The standards this person answers in this round, in catalogue order; with
    ``with_answers``, each with the stored answer and comment (the person's own, or for a
    chief's section standards the section's, whichever chief gave them). Staff without
    answers: no query (the per-process copy); otherwise one."""
    chief = ctx.role is Role.CHIEF
    if not chief and not with_answers:
        return staff_items(ctx.facts)
    return asked_items(
        ctx.round.catalogue_id,
        ctx.section_id,
        chief=chief,
        city_wide=ctx.catalogue_ward_id is None,
        round_id=ctx.round.id,
        response_id=ctx.response_id if with_answers else None,
        section_answers=with_answers and chief,
    )


def asked_items(
    catalogue_id: int,
    section_id: int,
    *,
    chief: bool,
    city_wide: bool,
    round_id: int | None = None,
    response_id: int | None = None,
    section_answers: bool = False,
) -> list[ChecklistItem]:
    """The standards of a catalogue that a staff member (or, with ``chief``, the chief) of
    the section is asked, in catalogue order; with ``response_id`` each with the person's
    stored answer, with ``section_answers`` the section's (the round's). One query. The
    catalogue editor's preview asks this too, so a preview is the checklist."""
    query = _items_query(
        chief=chief,
        city_wide=city_wide,
        own_answers=response_id is not None,
        section_answers=section_answers,
    )
    rows = db.session.execute(
        query,
        {
            "catalogue_id": catalogue_id,
            "round_id": round_id,
            "section_id": section_id,
            "response_id": response_id,
        },
    ).all()
    return [
        ChecklistItem(
            standard_id=sid,
            key=key,
            number=number,
            text=text,
            scene=scene,
            part="self" if audience is Audience.EVERYONE else "section",
            value=AnswerValue(value) if value is not None else None,
            comment=comment,
        )
        for sid, key, number, text, scene, audience, value, comment in rows
    ]


@cache
def _page_query() -> sa.Select[Any]:
    """``context_query`` with the person's own stored answers in one more column: a JSON
    array of ``[standard id, value, comment]`` (NULL or ``[]`` when there are none). One row
    rather than one per answer: the page's query costs about a third less (docs/benchmarks.md)."""
    answers = (
        sa.select(AnswersJSON(Answer.standard_id, Answer.value, Answer.comment))
        .where(Answer.response_id == Response.id)
        .scalar_subquery()
    )
    query: sa.Select[Any] = context_query().add_columns(answers)
    return query


class AnswersJSON(FunctionElement[Any]):
    """An aggregate: the rows' columns as a JSON array of arrays, decoded to lists of lists
    (PostgreSQL ``json_agg(json_build_array(…))``, SQLite ``json_group_array(json_array(…))``)."""

    type = sa.JSON()
    name = "answers_json"
    inherit_cache = True


@compiles(AnswersJSON, "postgresql")
def _answers_json_postgresql(element: AnswersJSON, compiler: Any, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(AnswersJSON, "sqlite")
def _answers_json_sqlite(element: AnswersJSON, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@cache
def _items_query(
    *, chief: bool, city_wide: bool, own_answers: bool, section_answers: bool
) -> sa.Select[Any]:
    """The statement of ``items_of``, built once for each kind of person (bound parameters:
    catalogue_id, round_id, section_id, response_id)."""
    asked_of_everyone = Standard.audience == Audience.EVERYONE
    if city_wide:
        asked_of_everyone = sa.and_(asked_of_everyone, Standard.ward_specific.is_(False))
    condition: sa.ColumnElement[bool] = asked_of_everyone
    if chief:
        skl, sec = standard_kind_link, section_kind_link
        without_kinds = ~sa.exists().where(skl.c.standard_id == Standard.id)
        kind_matches = sa.exists().where(
            skl.c.standard_id == Standard.id,
            sec.c.kind_id == skl.c.kind_id,
            sec.c.section_id == sa.bindparam("section_id"),
        )
        condition = sa.or_(
            asked_of_everyone,
            sa.and_(Standard.audience == Audience.SECTION, sa.or_(without_kinds, kind_matches)),
        )
    query: Any = sa.select(
        Standard.id,
        Standard.key,
        Standard.number,
        Standard.text,
        Standard.scene,
        Standard.audience,
    ).where(Standard.catalogue_id == sa.bindparam("catalogue_id"), condition)
    values: list[Any] = []
    comments: list[Any] = []
    if own_answers:
        query = query.outerjoin(
            Answer,
            sa.and_(
                Answer.response_id == sa.bindparam("response_id"),
                Answer.standard_id == Standard.id,
            ),
        )
        values.append(Answer.value)
        comments.append(Answer.comment)
    if section_answers:
        query = query.outerjoin(
            SectionAnswer,
            sa.and_(
                SectionAnswer.round_id == sa.bindparam("round_id"),
                SectionAnswer.section_id == sa.bindparam("section_id"),
                SectionAnswer.standard_id == Standard.id,
            ),
        )
        values.append(SectionAnswer.value)
        comments.append(SectionAnswer.comment)
    ordered: sa.Select[Any] = query.add_columns(_first_of(values), _first_of(comments)).order_by(
        Standard.position, Standard.number
    )
    return ordered


def _first_of(columns: list[Any]) -> Any:
    if not columns:
        return sa.null()
    return columns[0] if len(columns) == 1 else sa.func.coalesce(*columns)


def stored_answers(
    ctx: RoundContext, person_id: int
) -> dict[int, tuple[AnswerValue, str | None]]:
    """One query: stored (value, comment) by standard id, the person's own answers and, for a
    chief, the section's answers in this round (whichever chief gave them)."""
    rows = db.session.execute(
        _stored_query(chief=ctx.role is Role.CHIEF),
        {"round_id": ctx.round.id, "person_id": person_id, "section_id": ctx.section_id},
    )
    return {sid: (AnswerValue(value), comment) for sid, value, comment in rows}


@cache
def _stored_query(*, chief: bool) -> Any:
    own = (
        sa.select(Answer.standard_id, Answer.value, Answer.comment)
        .join(Response, Response.id == Answer.response_id)
        .where(
            Response.round_id == sa.bindparam("round_id"),
            Response.person_id == sa.bindparam("person_id"),
        )
    )
    if not chief:
        return own
    columns = (SectionAnswer.standard_id, SectionAnswer.value, SectionAnswer.comment)
    section = sa.select(*columns).where(
        SectionAnswer.round_id == sa.bindparam("round_id"),
        SectionAnswer.section_id == sa.bindparam("section_id"),
    )
    return sa.union_all(own, section)


def rounds_for(person: PersonRef, now: datetime | None = None) -> list[MyRound]:
    """The rounds this person answers (open, upcoming and closed), newest first.

    One query, whatever the number of rounds.
    """
    now = now or utcnow()
    rows = db.session.execute(
        _in_round(person.id)
        .add_columns(Assignment.role, Section.id, Section.name, Response.status)
        .order_by(Round.opens_at.desc(), Round.id.desc())
    ).all()
    return [
        MyRound(
            round_id=round_.id,
            title=round_.title,
            fiscal_year=round_.fiscal_year,
            opens_at=round_.opens_at,
            closes_at=round_.closes_at,
            state=round_.state(now),
            status=progress_of(status),
            role=role,
            section_name=section_name,
            section_id=section_id,
        )
        for round_, role, section_id, section_name, status in rows
    ]


def checklist_for(round_id: int, person: PersonRef, now: datetime | None = None) -> Checklist:
    """The items of the round that apply to this person, with their current answers.

    Raises NotInRound when the person does not answer this round (or it does not exist).
    Staff: one query (the round, their place in it and their stored answers; the standards
    come from the per-process copy). Chiefs: two (their section's standards are asked apart).
    """
    parameters = {"round_id": round_id, "person_id": person.id}
    row = db.session.connection().execute(_page_query(), parameters).first()
    if row is None:
        raise not_in_round()
    ctx = context_of(row[:-1])
    if ctx.role is Role.CHIEF:
        items = items_of(ctx, with_answers=True)
    else:
        stored = {sid: (value, comment) for sid, value, comment in row[-1] or ()}
        items = staff_items(ctx.facts, stored)
    return Checklist(
        round=ctx.round,
        role=ctx.role,
        section_id=ctx.section_id,
        section_name=ctx.section_name,
        is_open=ctx.round.is_open(now or utcnow()),
        status=progress_of(ctx.response_status),
        items=items,
    )


@dataclass(frozen=True)
class Receipt:
    """A submitted checklist as stored, with the time of its (latest) submission."""

    checklist: Checklist
    submitted_at: datetime


def receipt_for(round_id: int, person: PersonRef) -> Receipt | None:
    """The person's submitted answers of a round as they are stored, with the submission's
    time; None when they have not submitted. NotInRound as ``checklist_for``. Three queries."""
    sheet = checklist_for(round_id, person)
    submitted_at = db.session.scalar(
        sa.select(Response.submitted_at).where(
            Response.round_id == round_id,
            Response.person_id == person.id,
            Response.status == ResponseStatus.SUBMITTED,
        )
    )
    if submitted_at is None:
        return None
    return Receipt(sheet, submitted_at)


def closed_message(round_: Round | RoundAsRead, now: datetime) -> str:
    """Why a round takes no answers now, with its opening or closing time on the city's clock."""
    if round_.state(now) == "upcoming":
        return _(
            "この調査の受付は%(when)sに始まります。それまでは回答できません。",
            when=reiwa_datetime(round_.opens_at),
        )
    return _(
        "この調査は%(when)sに締め切られました。回答は変更できません。",
        when=reiwa_datetime(round_.closes_at),
    )


def section_progress(
    round_id: int, chief: PersonRef, now: datetime | None = None
) -> tuple[str, list[SectionMember]]:
    """(section name, members with status) for the chief's own section in this round.

    Raises NotInRound unless the person is that round's chief of a section it covers.
    Members are everyone assigned to the section in the round's fiscal year, the chief first,
    then by employee id; their status only, never their answers. Two queries.
    """
    row = db.session.execute(
        join_audience(sa.select(Round.fiscal_year, Section.id, Section.name), person_id=chief.id)
        .where(Round.id == round_id, Assignment.role == Role.CHIEF)
    ).first()
    if row is None:
        raise not_in_round()
    fiscal_year, section_id, section_name = row
    members = db.session.execute(
        sa.select(Person.employee_id, Person.name, Assignment.role, Response.status)
        .join(Assignment, Assignment.person_id == Person.id)
        .outerjoin(
            Response, sa.and_(Response.round_id == round_id, Response.person_id == Person.id)
        )
        .where(section_members_in_year(section_id, fiscal_year))
        .order_by(sa.case((Assignment.role == Role.CHIEF, 0), else_=1), Person.employee_id)
    ).all()
    return section_name, [
        SectionMember(employee_id=e, name=n, role=r, status=progress_of(s))
        for e, n, r, s in members
    ]
