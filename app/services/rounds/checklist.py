"""The yearly checklist: which rounds a person answers, what they see, saving and submitting.

The signatures and dataclasses below are the contract between the pages, the JSON API and
this service.

Rules (issue 3):
- A person answers a round when the round covers the ward of the section they are assigned
  to in the round's fiscal year. Staff see the catalogue's ``everyone`` standards; a chief
  also sees, in a separate part, the ``section`` standards that apply to the section (those
  with no section kinds, plus those whose kinds the section has). The ward-specific standards
  (``ward_specific``) of a ward's own catalogue are asked like the others; a city-wide
  catalogue's ward-specific list belongs to no ward in particular and is never asked.
- A round is open exactly when opens_at <= now < closes_at.
- Saving is allowed only while the round is open; each save is one transaction (the caller
  commits). A submit needs every item answered; otherwise nothing is submitted, the answers
  given are kept as a draft and the missing items are reported.
- The role and section at answer time are stored on the Response: taken from the person's
  assignment of the round's fiscal year at the first save, and brought up to date at every
  later save (a roster corrected during the round is followed; later years' rosters never
  touch it, since a round belongs to one fiscal year).

Saving (``save_checklist``):
- keys and values are checked first; any problem raises InvalidAnswers and writes nothing;
- an item left out of ``answers`` (or given as "" / None) keeps its stored answer, so a draft
  with some answers never erases the others; answers are never deleted;
- a comment given for an item replaces the stored one ("" clears it); a comment left out keeps
  the stored one; a non-empty comment needs an answer (given now or stored);
- ``submit=True`` with every item answered marks the response submitted and sets
  ``submitted_at`` to this save's time (the latest submission); with items missing it saves
  the rest as a draft and returns ``submitted=False`` and the missing items;
- a save never withdraws a submission: editing a submitted response while the round is open
  keeps it submitted.

Concurrency (double clicks, two tabs, two requests at once): the Response row is created or
updated with one INSERT ... ON CONFLICT (round_id, person_id) DO UPDATE, which locks it until
the commit (SQLite's BEGIN IMMEDIATE already serialises whole transactions). The second of
two concurrent saves therefore waits for the first to commit, then reads the stored answers
again and writes its own over them, so the stored set is always one save's, never a mix.
Answers are written with INSERT ... ON CONFLICT DO UPDATE, one statement per table.

Every function uses a constant number of queries, whatever the number of standards, rounds or
people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import begin_transaction, db, runs_without_transaction
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
    RoundState,
    Section,
    SectionAnswer,
    Standard,
    section_kind_link,
    standard_kind_link,
    utcnow,
)
from app.services.errors import DomainError
from app.services.rounds.audience import join_audience
from app.statements import first_row

Part = Literal["self", "section"]
Progress = Literal["not_started", "draft", "submitted"]

COMMENT_MAX_LENGTH = 1000

_VALUES: dict[str, AnswerValue] = {v.value: v for v in AnswerValue}
# NUL, which PostgreSQL's text cannot hold, and the halves of a UTF-16 pair (a JSON "\ud800"
# alone), which no database can encode.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ChecklistError(DomainError):
    """The request cannot be carried out; ``message`` is plain Japanese for the person, and
    ``field_errors`` names the items at fault."""

    def __init__(self, message: str, field_errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors: dict[str, str] = dict(field_errors or {})


class NotInRound(ChecklistError):
    """The person does not answer this round (not on its wards' roster for that year)."""


class RoundClosed(ChecklistError):
    """The round is not open (not yet, or no longer): nothing was changed."""


class InvalidAnswers(ChecklistError):
    """Unknown standard keys or values; ``field_errors`` maps each bad key to its message.

    ``fields`` names the same problems by request field, ``answers.<key>`` or
    ``comments.<key>`` (the JSON API reports these).
    """

    def __init__(
        self,
        message: str,
        field_errors: Mapping[str, str] | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, field_errors)
        self.fields: dict[str, str] = dict(fields or {})


@dataclass(frozen=True)
class ChecklistItem:
    standard_id: int
    key: str
    number: int
    text: str
    scene: str
    part: Part
    value: AnswerValue | None = None
    comment: str | None = None

    def answered(self, value: AnswerValue | None, comment: str | None) -> ChecklistItem:
        """The item with this answer and comment (``dataclasses.replace`` without its cost:
        a save makes one for every item)."""
        return ChecklistItem(self.standard_id, self.key, self.number, self.text, self.scene,
                             self.part, value, comment)


@dataclass(frozen=True)
class MyRound:
    """A round the person must answer, as the person's own page lists it."""

    round_id: int
    title: str
    fiscal_year: int
    opens_at: datetime
    closes_at: datetime
    state: RoundState
    status: Progress
    role: Role
    section_name: str
    section_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class Checklist:
    round: Round
    role: Role
    section_id: int
    section_name: str
    is_open: bool
    status: Progress
    items: list[ChecklistItem] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(1 for item in self.items if item.value is not None)

    @property
    def total(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class SaveResult:
    """What a save did. ``submitted``: this save submitted the response. ``missing``: the items
    still without an answer after the save (empty after a successful submit). ``checklist``:
    the checklist as it now stands, as ``checklist_for`` would read it."""

    status: Progress
    submitted: bool
    checklist: Checklist
    missing: list[ChecklistItem] = field(default_factory=list)


@dataclass(frozen=True)
class SectionMember:
    """A member of the chief's section and their status: never their answers."""

    employee_id: str
    name: str
    role: Role
    status: Progress


# --- Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """A person's place in a round: the round, their assignment of its year, their response."""

    round: Round
    catalogue_ward_id: int | None
    role: Role
    section_id: int
    section_name: str
    response_id: int | None
    response_status: ResponseStatus | None
    catalogue_revision: int = 0
    catalogue_loaded_at: datetime | None = None


def _progress(status: ResponseStatus | None) -> Progress:
    if status is None:
        return "not_started"
    return "submitted" if status is ResponseStatus.SUBMITTED else "draft"


def _not_in_round() -> NotInRound:
    return NotInRound(_("この調査の対象ではありません。"))


def _in_round(person_id: Any) -> sa.Select[Any]:
    """Rounds joined to the person's assignment of each round's year in one of its wards."""
    query: sa.Select[Any] = join_audience(sa.select(Round), person_id=person_id).outerjoin(
        Response,
        sa.and_(Response.round_id == Round.id, Response.person_id == person_id),
    )
    return query


def _context(round_id: int, person: PersonRef, *, locked: bool = True) -> _Context:
    """One query (``first_row``): the round as it now stands, the catalogue's ward, the
    assignment and the response status. When ``locked``, it takes a share lock on the round's
    row until the commit, so that the round's counts are not written while this save is under
    way (app/services/results/tally.py)."""
    row = first_row(_context_query(locked), {"round_id": round_id, "person_id": person.id})
    if row is None:
        raise _not_in_round()
    return _context_of(row)


@cache
def _context_query(locked: bool = False) -> sa.Select[Any]:
    # Built once with bound parameters: building it was a tenth of a checklist page's time.
    query = (
        _in_round(sa.bindparam("person_id"))
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
    # FOR SHARE OF round on PostgreSQL (SQLite has no row locks: BEGIN IMMEDIATE serialises).
    return query.with_for_update(read=True, of=Round) if locked else query


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


def _round_standards(ctx: _Context) -> _KeptStandards:
    """The standards of the round's catalogue in catalogue order, kept per process (per app)
    under the round's and the catalogue's revision: no query while nothing changed, one after
    any edit (app/models.py ``_bump_revisions`` bumps the revision on every ORM flush that
    changes a catalogue, a standard or a round, whatever page or command makes it)."""
    cache: dict[tuple[Any, ...], _KeptStandards] = current_app.extensions.setdefault(
        STANDARDS_CACHE, {}
    )
    round_ = ctx.round
    # The creation times guard against an id reused after a deletion (SQLite).
    key = (round_.id, round_.revision, round_.created_at, round_.catalogue_id,
           ctx.catalogue_revision, ctx.catalogue_loaded_at)
    found = cache.get(key)
    if found is None:
        rows = db.session.execute(_standards_query(), {"catalogue_id": round_.catalogue_id})
        found = _KeptStandards(tuple(_Standard(*row) for row in rows))
        if len(cache) >= STANDARDS_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found


@cache
def _standards_query() -> Any:
    return (
        sa.select(Standard.id, Standard.key, Standard.number, Standard.text, Standard.scene,
                  Standard.audience, Standard.ward_specific)
        .where(Standard.catalogue_id == sa.bindparam("catalogue_id"))
        .order_by(Standard.position, Standard.number)
    )


def _staff_items(
    ctx: _Context, stored: Mapping[int, tuple[Any, str | None]] | None = None
) -> list[ChecklistItem]:
    """A staff member's items (the catalogue's ``everyone`` standards; a city-wide catalogue's
    ward-specific ones are never asked), from the per-process copy, with ``stored`` answers."""
    blank = _blank_staff_items(ctx)
    if not stored:
        return list(blank)
    items = []
    for item in blank:
        answer = stored.get(item.standard_id)
        if answer is None:
            items.append(item)
        else:
            value, comment = answer
            items.append(item.answered(AnswerValue(value) if value is not None else None, comment))
    return items


def _blank_staff_items(ctx: _Context) -> tuple[ChecklistItem, ...]:
    """A staff member's items without answers, made once per process with the standards they
    come from (``_round_standards``): items are immutable, so every page and save shares them
    and makes new ones only for the items answered."""
    kept = _round_standards(ctx)
    city_wide = ctx.catalogue_ward_id is None
    blank = kept.staff_items.get(city_wide)
    if blank is None:
        blank = kept.staff_items[city_wide] = tuple(
            ChecklistItem(s.id, s.key, s.number, s.text, s.scene, "self")
            for s in kept.standards
            if s.audience is Audience.EVERYONE and not (city_wide and s.ward_specific)
        )
    return blank


def _items(ctx: _Context, *, with_answers: bool = False) -> list[ChecklistItem]:
    """The standards this person answers in this round, in catalogue order; with
    ``with_answers``, each with the stored answer and comment (the person's own, or for a
    chief's section standards the section's, whichever chief gave them). Staff without
    answers: no query (the per-process copy); otherwise one."""
    chief = ctx.role is Role.CHIEF
    if not chief and not with_answers:
        return _staff_items(ctx)
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


# A row of _context_query or _page_query read by ``first_row``: the round's columns (in the
# mapper's order) in the round's place, then the rest of the context's fields.
_ROUND_KEYS = tuple(attribute.key for attribute in sa.inspect(Round).column_attrs)
_ROUND_COLUMNS = len(_ROUND_KEYS)
_ROUND_MANAGER = manager_of_class(Round)
_AFTER_ROUND = len(fields(_Context)) - 1


def _context_of(row: tuple[Any, ...]) -> _Context:
    """The context from a row of ``_context_query`` or ``_page_query`` read by ``first_row``
    (the round's columns first)."""
    return _Context(_round_of(row), *row[_ROUND_COLUMNS : _ROUND_COLUMNS + _AFTER_ROUND])


def _round_of(row: tuple[Any, ...]) -> Round:
    """The round as read by the page's or a save's query: a Round the session does not hold
    (nothing changes it; each request reads it afresh)."""
    round_: Round = _ROUND_MANAGER.new_instance()
    # As the ORM's loading fills an instance: the values are the loaded state, not changes.
    round_.__dict__.update(zip(_ROUND_KEYS, row[:_ROUND_COLUMNS], strict=True))
    return round_


@cache
def _page_query() -> sa.Select[Any]:
    """``_context_query`` with the person's own stored answers in one more column: a JSON
    array of ``[standard id, value, comment]`` (NULL or ``[]`` when there are none). One row
    rather than one per answer: the page's query costs about a third less (docs/benchmarks.md)."""
    answers = (
        sa.select(AnswersJSON(Answer.standard_id, Answer.value, Answer.comment))
        .where(Answer.response_id == Response.id)
        .scalar_subquery()
    )
    query: sa.Select[Any] = _context_query().add_columns(answers)
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
    """The statement of ``_items``, built once for each kind of person (bound parameters:
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


def _stored(
    ctx: _Context, person_id: int
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


# --- The contract -------------------------------------------------------------------------------


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
            status=_progress(status),
            role=role,
            section_name=section_name,
            section_id=section_id,
        )
        for round_, role, section_id, section_name, status in rows
    ]


def page_read(round_id: int) -> tuple[sa.Select[Any], dict[str, Any]]:
    """What ``checklist_for`` reads first (but the person), for the view's ``reads_ahead``."""
    return _page_query(), {"round_id": round_id}


def save_read(round_id: int) -> tuple[sa.Select[Any], dict[str, Any]]:
    """What ``save_checklist`` reads first (but the person), for the view's ``reads_ahead``:
    the context, share-locked unless the save runs without a transaction."""
    return _context_query(not runs_without_transaction()), {"round_id": round_id}


def checklist_for(round_id: int, person: PersonRef, now: datetime | None = None) -> Checklist:
    """The items of the round that apply to this person, with their current answers.

    Raises NotInRound when the person does not answer this round (or it does not exist).
    Staff: one query (the round, their place in it and their stored answers; the standards
    come from the per-process copy). Chiefs: two (their section's standards are asked apart).
    """
    row = first_row(_page_query(), {"round_id": round_id, "person_id": person.id})
    if row is None:
        raise _not_in_round()
    ctx = _context_of(row)
    if ctx.role is Role.CHIEF:
        items = _items(ctx, with_answers=True)
    else:
        stored = {sid: (value, comment) for sid, value, comment in row[-1] or ()}
        items = _staff_items(ctx, stored)
    return Checklist(
        round=ctx.round,
        role=ctx.role,
        section_id=ctx.section_id,
        section_name=ctx.section_name,
        is_open=ctx.round.is_open(now or utcnow()),
        status=_progress(ctx.response_status),
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


def closed_message(round_: Round, now: datetime) -> str:
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


def save_checklist(
    round_id: int,
    person: PersonRef,
    answers: Mapping[str, str | None],
    comments: Mapping[str, str | None] | None = None,
    *,
    submit: bool = False,
    now: datetime | None = None,
) -> SaveResult:
    """Save answers (keys are standard keys; values "yes", "no", "na") and optionally submit.

    Raises NotInRound, RoundClosed (nothing changed), or InvalidAnswers (nothing changed).
    Flushes, never commits. The rules (kept answers, comments, submission, concurrency) are
    in the module docstring.
    """
    now = now or utcnow()
    # A view that began without a transaction (``saves_lazily``) reads without the round's
    # lock: a first save is one statement that takes the lock itself; any other save begins
    # a transaction and reads again under the lock.
    lazy = runs_without_transaction()
    ctx, items, values, notes = _checked(round_id, person, answers, comments, now, lazy=lazy)
    if ctx.response_id is None and ctx.role is not Role.CHIEF and _dialect_name() == "postgresql":
        return _first_save(ctx, person.id, items, values, notes, submit=submit, now=now)
    if lazy:
        begin_transaction()
        ctx, items, values, notes = _checked(round_id, person, answers, comments, now)

    response = _locked_response(ctx, person.id, now)
    stored = _stored(ctx, person.id)  # again, now that the response is ours alone

    own_rows: list[dict[str, Any]] = []
    section_rows: list[dict[str, Any]] = []
    missing: list[ChecklistItem] = []
    now_stored: list[ChecklistItem] = []
    for item in items:
        sid = item.standard_id
        old_value, old_comment = stored.get(sid, (None, None))
        value = values.get(sid, old_value)
        comment = notes[sid] if sid in notes else old_comment
        now_stored.append(item.answered(value, comment))
        if value is None:
            missing.append(item)
            continue
        if (value, comment) == (old_value, old_comment):
            continue
        row = {"standard_id": sid, "response_id": response.id, "value": value, "comment": comment}
        if item.part == "self":
            own_rows.append(row)
        else:
            section_rows.append({**row, "round_id": ctx.round.id, "section_id": ctx.section_id})

    _write_rows(_answer_upsert, own_rows)
    _write_rows(_section_answer_upsert, section_rows)

    submitted = submit and not missing
    if submitted:
        # A plain UPDATE, not the ORM's flush of the changed object (a third of a submit's
        # time in Python); the loaded object is told the new values.
        db.session.execute(
            _submit_update(),
            {"response_id": response.id, "submitted_at": now},
            execution_options={"synchronize_session": False},
        )
        set_committed_value(response, "status", ResponseStatus.SUBMITTED)
        set_committed_value(response, "submitted_at", now)
    return _saved(ctx, _progress(response.status), now_stored, submitted, missing)


def _checked(
    round_id: int,
    person: PersonRef,
    answers: Mapping[str, str | None],
    comments: Mapping[str, str | None] | None,
    now: datetime,
    *,
    lazy: bool = False,
) -> tuple[_Context, list[ChecklistItem], dict[int, AnswerValue], dict[int, str | None]]:
    """The person's place in the round (share-locked unless ``lazy``), refused unless the
    round takes answers now, with the items and the answers and comments sent, checked."""
    ctx = _context(round_id, person, locked=not lazy)
    if not ctx.round.is_open(now) or ctx.round.counted_at is not None:
        raise RoundClosed(closed_message(ctx.round, now))
    items = _items(ctx)
    values, notes = _validated(items, answers, comments or {}, ctx, person.id)
    return ctx, items, values, notes


def _saved(
    ctx: _Context,
    status: Progress,
    now_stored: list[ChecklistItem],
    submitted: bool,
    missing: list[ChecklistItem],
) -> SaveResult:
    """What a save returns: its status and the sheet as now stored (the round is open: the
    save was taken)."""
    checklist = Checklist(
        round=ctx.round,
        role=ctx.role,
        section_id=ctx.section_id,
        section_name=ctx.section_name,
        is_open=True,
        status=status,
        items=now_stored,
    )
    return SaveResult(status=status, submitted=submitted, missing=missing, checklist=checklist)


def answer_choice_message() -> str:
    """What an answer that is not yes, no or na is told (the JSON API's checks say it too)."""
    return _("できている（yes）・できていない（no）・該当しない（na）から選んでください。")


def unstorable_comment_message() -> str:
    """What a comment with a NUL or a lone surrogate is told."""
    return _("ひとことに使えない文字（NUL や壊れた文字）が入っています。消してください。")


def comment_too_long_message() -> str:
    """What a comment over COMMENT_MAX_LENGTH (after trimming) is told."""
    return _("ひとことは %(max)d 文字までにしてください。", max=COMMENT_MAX_LENGTH)


def _unknown_standard_message() -> str:
    # Looked up only when needed: a translated string costs a save about a tenth of a
    # millisecond, and a save without problems needs none.
    return _("この調査にない基準です。")


def _validated(
    items: list[ChecklistItem],
    answers: Mapping[str, Any],
    comments: Mapping[str, Any],
    ctx: _Context,
    person_id: int,
) -> tuple[dict[int, AnswerValue], dict[int, str | None]]:
    """The given values and comments by standard id, or InvalidAnswers naming every problem."""
    by_key = {item.key: item for item in items}
    by_standard: dict[str, str] = {}
    fields: dict[str, str] = {}

    def problem(kind: str, key: str, message: str) -> None:
        by_standard.setdefault(key, message)
        fields[f"{kind}.{key}"] = message

    values: dict[int, AnswerValue] = {}
    for key, raw in answers.items():
        item = by_key.get(key)
        if item is None:
            problem("answers", str(key), _unknown_standard_message())
        elif raw is None or raw == "":
            continue
        elif not isinstance(raw, str) or raw not in _VALUES:
            problem("answers", key, answer_choice_message())
        else:
            values[item.standard_id] = _VALUES[raw]

    notes: dict[int, str | None] = {}
    for key, raw in comments.items():
        item = by_key.get(key)
        if item is None:
            problem("comments", str(key), _unknown_standard_message())
        elif raw is None:
            continue
        elif not isinstance(raw, str):
            problem("comments", key, _("ひとことは文字で書いてください。"))
        elif _UNSTORABLE.search(raw):
            problem("comments", key, unstorable_comment_message())
        elif len(raw.strip()) > COMMENT_MAX_LENGTH:
            problem("comments", key, comment_too_long_message())
        else:
            notes[item.standard_id] = raw.strip() or None

    keys = {item.standard_id: item.key for item in items}
    for sid in _comments_without_answer(ctx, person_id, values, notes):
        problem("comments", keys[sid], _(
            "ひとことを残すには、できている・できていない・該当しない から選んでください。"
        ))

    if fields:
        raise InvalidAnswers(
            _("回答に %(count)d 件の誤りがあります。何も保存していません。", count=len(fields)),
            by_standard,
            fields,
        )
    return values, notes


def _comments_without_answer(
    ctx: _Context,
    person_id: int,
    values: Mapping[int, AnswerValue],
    notes: Mapping[int, str | None],
) -> list[int]:
    """The standards given a comment but no answer, now or stored (a query only when there
    are such comments and the person may have stored answers)."""
    lonely = [sid for sid, note in notes.items() if note and sid not in values]
    if not lonely:
        return []
    # Answers are never deleted, so one stored now is still there after the lock. A person
    # without a response has no answers of their own (a chief may find the section's).
    has_stored = ctx.response_id is not None or ctx.role is Role.CHIEF
    stored = _stored(ctx, person_id) if has_stored else {}
    return [sid for sid in lonely if sid not in stored]


_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _write_rows(upsert: Any, rows: list[dict[str, Any]]) -> None:
    """Upsert answer rows with one fixed statement, built once per database kind, so that its
    compiled form is reused by every save.

    On PostgreSQL the rows go as one JSON parameter that the statement reads as a table
    (``_sent``): one statement run once (an executemany runs it once per row, which cost a
    first submit about a millisecond more, in Python and in PostgreSQL). On SQLite they go
    as the rows of an executemany; render_nulls sends a missing comment as NULL, so that rows
    with and without a comment stay in one executemany."""
    if not rows:
        return
    dialect = _dialect_name()
    if dialect == "postgresql":
        sent = _sent_json((row["standard_id"], row["value"], row["comment"]) for row in rows)
        scalars = {name: rows[0][name] for name in rows[0] if name not in _SENT_COLUMNS}
        db.session.execute(upsert(dialect), {**scalars, "sent": sent})
    else:
        db.session.execute(upsert(dialect), rows, execution_options={"render_nulls": True})


# The columns that differ from row to row of one save; the others (the response, and for
# the section's answers the round and section) are the same for all its rows.
_SENT_COLUMNS = ("standard_id", "value", "comment")


def _sent() -> Any:
    """PostgreSQL: the rows of a save as a table, ``json_to_recordset(:sent) AS
    sent(standard_id INTEGER, value VARCHAR, comment TEXT)``. One JSON text costs the driver
    less than three arrays, whose every element it adapts in Python."""
    return (
        sa.func.json_to_recordset(sa.cast(sa.bindparam("sent", type_=sa.Text), postgresql.JSON))
        .table_valued(
            sa.column("standard_id", sa.Integer),
            sa.column("value", sa.String),
            sa.column("comment", sa.Text),
        )
        .render_derived(name="sent", with_types=True)
    )


def _sent_json(rows: Iterable[tuple[int, Any, str | None]]) -> str:
    """The ``sent`` parameter: the rows (standard id, value, comment) as a JSON array."""
    return json.dumps(
        [
            {"standard_id": sid, "value": str(value), "comment": comment}
            for sid, value, comment in rows
        ],
        ensure_ascii=False,
    )


def _insert_sent(model: Any, *same: str) -> Any:
    """PostgreSQL: ``INSERT INTO <model> (<same…>, standard_id, value, comment) SELECT
    :<same…>, sent.* FROM json_to_recordset(:sent) AS sent(…)``."""
    rows = _sent()
    columns = [sa.bindparam(name, type_=sa.Integer) for name in same]
    select = sa.select(*columns, *(rows.c[name] for name in _SENT_COLUMNS))
    return postgresql.insert(model.__table__).from_select([*same, *_SENT_COLUMNS], select)


def _insert(dialect: str, model: Any, *same: str) -> Any:
    if dialect == "postgresql":
        return _insert_sent(model, *same)
    return _INSERTS[dialect](model)


def _dialect_name() -> str:
    """The database's name; PostgreSQL in production, SQLite embedded (both have ON CONFLICT)."""
    name = db.engine.dialect.name  # not the session's bind: asking it would build a session
    if name not in _INSERTS:
        raise NotImplementedError(f"unsupported database: {name}")
    return name


# The three upserts of a save are built once per database kind: building one (its ``excluded``
# columns above all) cost more than running it.


@cache
def _response_upsert(dialect: str) -> Any:
    insert = _INSERTS[dialect](Response)
    return insert.on_conflict_do_update(
        index_elements=[Response.round_id, Response.person_id],
        set_={
            "role": insert.excluded.role,
            "section_id": insert.excluded.section_id,
            "updated_at": insert.excluded.updated_at,
        },
    ).returning(Response)


@cache
def _submit_update() -> Any:
    return (
        sa.update(Response)
        .where(Response.id == sa.bindparam("response_id"))
        .values(status=ResponseStatus.SUBMITTED, submitted_at=sa.bindparam("submitted_at"))
    )


@cache
def _answer_upsert(dialect: str) -> Any:
    insert = _insert(dialect, Answer, "response_id")
    return insert.on_conflict_do_update(
        index_elements=[Answer.response_id, Answer.standard_id],
        set_={"value": insert.excluded.value, "comment": insert.excluded.comment},
    )


@cache
def _section_answer_upsert(dialect: str) -> Any:
    insert = _insert(dialect, SectionAnswer, "round_id", "section_id", "response_id")
    return insert.on_conflict_do_update(
        index_elements=[
            SectionAnswer.round_id,
            SectionAnswer.section_id,
            SectionAnswer.standard_id,
        ],
        set_={
            "value": insert.excluded.value,
            "comment": insert.excluded.comment,
            "response_id": insert.excluded.response_id,
        },
    )


def _locked_response(ctx: _Context, person_id: int, now: datetime) -> Response:
    """The person's response in this round, created if needed, locked until the commit, with
    this save's role, section and time written on it: one INSERT ... ON CONFLICT DO UPDATE
    ... RETURNING.

    The update takes the row's lock, so a concurrent save waits for this transaction (a
    concurrent first save waits on the unique index, then updates the row this one inserted).
    SQLite holds its write lock since BEGIN IMMEDIATE anyway.
    """
    row = {
        "round_id": ctx.round.id,
        "person_id": person_id,
        "role": ctx.role,
        "section_id": ctx.section_id,
        "status": ResponseStatus.DRAFT,
        "created_at": now,
        "updated_at": now,
    }
    response: Response = db.session.scalars(
        _response_upsert(_dialect_name()), [row], execution_options={"populate_existing": True}
    ).one()
    return response


def _first_save(
    ctx: _Context,
    person_id: int,
    items: list[ChecklistItem],
    values: Mapping[int, AnswerValue],
    notes: Mapping[int, str | None],
    *,
    submit: bool,
    now: datetime,
) -> SaveResult:
    """A staff member's first save on PostgreSQL (no response yet, so no stored answers):
    the response, its answers and its status in one statement (``_first_save_statement``).

    A concurrent first save of the same person (a double click) meets the other's rows in
    the statement's ON CONFLICT clauses and waits for its commit, then writes its own answers
    over them; a save that does not submit never withdraws the other's submission. Such a
    save may report items as missing that the other one answered (never the reverse).

    The statement takes the round's share lock and checks, under it, that the round still
    takes answers: RoundClosed (nothing written) when it closed or was counted after ``ctx``
    was read, as happens when the request runs without a transaction (``saves_lazily``)."""
    rows: list[tuple[int, str, str | None]] = []
    missing: list[ChecklistItem] = []
    now_stored: list[ChecklistItem] = []
    for item in items:
        value = values.get(item.standard_id)
        comment = notes.get(item.standard_id)
        now_stored.append(item.answered(value, comment))
        if value is None:
            missing.append(item)
        else:
            rows.append((item.standard_id, value, comment))
    submitted = submit and not missing
    saved = first_row(
        _first_save_statement(),
        {
            "round_id": ctx.round.id,
            "person_id": person_id,
            "role": ctx.role,
            "section_id": ctx.section_id,
            "status": ResponseStatus.SUBMITTED if submitted else ResponseStatus.DRAFT,
            "submitted_at": now if submitted else None,
            "created_at": now,
            "updated_at": now,
            "sent": _sent_json(rows),
        },
    )
    if saved is None:  # the round closed or was counted since ``ctx`` was read
        round_ = db.session.get_one(Round, ctx.round.id, populate_existing=True)
        raise RoundClosed(closed_message(round_, now))
    _response_id, status = saved
    return _saved(ctx, _progress(status), now_stored, submitted, missing)


@cache
def _first_save_statement() -> Any:
    """PostgreSQL: ``WITH taking_round AS (SELECT round.id … FOR SHARE), saved_response AS
    (INSERT INTO response SELECT taking_round.id, … ON CONFLICT (round_id,
    person_id) DO UPDATE … RETURNING id, status), saved_answers AS (INSERT INTO answer
    SELECT saved_response.id, sent.* FROM saved_response, json_to_recordset(…) AS sent ON CONFLICT …
    DO UPDATE …) SELECT id, status FROM saved_response`` (built once)."""
    response: sa.Table = Response.__table__  # type: ignore[assignment]
    columns = ("person_id", "role", "section_id", "status", "submitted_at",
               "created_at", "updated_at")
    # The round's share lock, taken by the statement itself (its request may run without a
    # transaction: ``saves_lazily``), and the round still taking answers once it is held: a
    # count that committed first (tally) leaves no row here, so nothing is written.
    now: Any = sa.bindparam("updated_at", type_=response.c.updated_at.type)
    taking = (
        sa.select(Round.id)
        .where(Round.id == sa.bindparam("round_id"), Round.open_at(now),
               Round.counted_at.is_(None))
        .with_for_update(read=True)
        .cte("taking_round")
    )
    insert = postgresql.insert(response).from_select(
        ["round_id", *columns],
        sa.select(taking.c.id, *(sa.bindparam(n, type_=response.c[n].type) for n in columns)),
    )
    submits = insert.excluded.status == ResponseStatus.SUBMITTED
    saved = insert.on_conflict_do_update(
        index_elements=[response.c.round_id, response.c.person_id],
        set_={
            "role": insert.excluded.role,
            "section_id": insert.excluded.section_id,
            "updated_at": insert.excluded.updated_at,
            # A draft saved over a submission keeps it submitted (the module's rules).
            "status": sa.case((submits, insert.excluded.status), else_=response.c.status),
            "submitted_at": sa.case(
                (submits, insert.excluded.submitted_at), else_=response.c.submitted_at
            ),
        },
    ).returning(response.c.id, response.c.status).cte("saved_response")
    sent = _sent()
    answer: sa.Table = Answer.__table__  # type: ignore[assignment]
    answers = postgresql.insert(answer).from_select(
        ["response_id", *_SENT_COLUMNS],
        # One response row: joined to every row sent (an explicit join, not a bare product).
        sa.select(saved.c.id, *(sent.c[name] for name in _SENT_COLUMNS)).select_from(
            saved.join(sent, sa.true())
        ),
    )
    answers = answers.on_conflict_do_update(
        index_elements=[answer.c.response_id, answer.c.standard_id],
        set_={"value": answers.excluded.value, "comment": answers.excluded.comment},
    )
    return sa.select(saved.c.id, saved.c.status).add_cte(answers.cte("saved_answers"))


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
        raise _not_in_round()
    fiscal_year, section_id, section_name = row
    members = db.session.execute(
        sa.select(Person.employee_id, Person.name, Assignment.role, Response.status)
        .join(Assignment, Assignment.person_id == Person.id)
        .outerjoin(
            Response, sa.and_(Response.round_id == round_id, Response.person_id == Person.id)
        )
        .where(Assignment.section_id == section_id, Assignment.fiscal_year == fiscal_year)
        .order_by(sa.case((Assignment.role == Role.CHIEF, 0), else_=1), Person.employee_id)
    ).all()
    return section_name, [
        SectionMember(employee_id=e, name=n, role=r, status=_progress(s))
        for e, n, r, s in members
    ]
