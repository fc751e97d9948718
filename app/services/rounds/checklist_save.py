"""Saving a checklist: answers checked, then written (see the rules in
``app/services/rounds/checklist.py``).

Every save but one kind runs the same steps on both databases, in one transaction, through the
session: the round read under its share lock (``round_context``), the response created or
updated and locked (one upsert), the stored answers read again under that lock (not for a
staff member's first save: there are none), the answers written (one executemany), and the
submission marked. A staff member's first save on PostgreSQL is one statement instead
(``_first_save_statement``): the person's place in the round under the round's share lock,
the response, the answers and the status. The answers are checked before it against the
round as this process last read it (``checklist_page.latest_read``), and the statement
writes only if the round is still that round (its revision, its catalogue's revision and
ward), takes answers, and the person is staff without a response; otherwise it writes
nothing and hands back the place it read. That one statement is more than half of the first
submit's budget (docs/benchmarks.md).

A checklist request starts without a transaction (``app/extensions.py``
``start_without_transaction``): a save that is not that one statement is checked without a
transaction (refused there, when it must be), then ends the phase (``db.session.commit()``,
with nothing to commit) and reads the round again under its lock in a transaction of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import begin_transaction, db, runs_without_transaction
from app.models import (
    Answer,
    AnswerValue,
    PersonRef,
    Response,
    ResponseStatus,
    Role,
    Round,
    SectionAnswer,
    utcnow,
)
from app.services.rounds.checklist import (
    ANSWER_VALUES,
    COMMENT_MAX_LENGTH,
    UNSTORABLE,
    Checklist,
    ChecklistItem,
    InvalidAnswers,
    Progress,
    RoundClosed,
    SaveResult,
)
from app.services.rounds.checklist_page import (
    RoundContext,
    RoundFacts,
    closed_message,
    context_of,
    context_query,
    items_of,
    latest_read,
    not_in_round,
    progress_of,
    round_context,
    staff_items,
    stored_answers,
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
    What it writes is the caller's to commit or roll back, with one exception: a staff
    member's first save on PostgreSQL in a request that started without a transaction is one
    statement, stored when it returns. A save that starts without a transaction and is not
    that statement commits the session first (nothing was written yet) and writes in a new
    transaction. The rules (kept answers, comments, submission, concurrency) are in the
    module docstring of ``app/services/rounds/checklist.py``.
    """
    now = now or utcnow()
    if not runs_without_transaction():
        ctx = round_context(round_id, person)
        items, values, notes = _checked(ctx, person, answers, comments, now)
        return _save_in_transaction(ctx, person.id, items, values, notes, submit=submit, now=now)
    found: RoundContext | None = None
    if _dialect_name() == "postgresql":
        saved, found = _first_save(round_id, person, answers, comments, submit=submit, now=now)
        if saved is not None:
            return saved
    # Refused without a transaction when the sheet is wrong or the round closed; else written
    # in one, the round read again under its share lock.
    _checked(found or round_context(round_id, person, locked=False), person, answers, comments,
             now)
    begin_transaction()  # ends the phase without a transaction: nothing was written
    ctx = round_context(round_id, person)
    items, values, notes = _checked(ctx, person, answers, comments, now)
    return _save_in_transaction(ctx, person.id, items, values, notes, submit=submit, now=now)


def _checked(
    ctx: RoundContext,
    person: PersonRef,
    answers: Mapping[str, str | None],
    comments: Mapping[str, str | None] | None,
    now: datetime,
) -> tuple[list[ChecklistItem], dict[int, AnswerValue], dict[int, str | None]]:
    """The items of the person's place ``ctx`` and the answers and comments sent, checked;
    refused unless the round takes answers now."""
    if not ctx.round.is_open(now) or ctx.round.counted_at is not None:
        raise RoundClosed(closed_message(ctx.round, now))
    items = items_of(ctx)
    values, notes = _validated(items, answers, comments or {}, ctx, person.id)
    return items, values, notes


def _save_in_transaction(
    ctx: RoundContext,
    person_id: int,
    items: list[ChecklistItem],
    values: Mapping[int, AnswerValue],
    notes: Mapping[int, str | None],
    *,
    submit: bool,
    now: datetime,
) -> SaveResult:
    """The save's writes in the session's transaction, the round share-locked by ``ctx``'s
    read: the response, the answers that changed, the submission."""
    # A staff member's first save (SQLite): no answers of theirs are stored, so whether it
    # submits is known now, and the response is written with its status at once.
    first = ctx.nothing_stored
    submitting = first and submit and all(item.standard_id in values for item in items)
    response_id, status = _locked_response(ctx, person_id, now, submitting=submitting)
    stored: Mapping[int, tuple[AnswerValue | None, str | None]] = {}
    if not first:
        stored = stored_answers(ctx, person_id)  # again, now that the response is ours alone

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
        row = {"standard_id": sid, "response_id": response_id, "value": value, "comment": comment}
        if item.part == "self":
            own_rows.append(row)
        else:
            section_rows.append({**row, "round_id": ctx.round.id, "section_id": ctx.section_id})

    _write_rows(_answer_upsert, own_rows)
    _write_rows(_section_answer_upsert, section_rows)

    submitted = submit and not missing
    if submitted and not submitting:  # a later save: the stored answers made it complete
        db.session.execute(_submit_update(), {"response_id": response_id, "submitted_at": now})
    if submitted:
        status = ResponseStatus.SUBMITTED
    return _saved(ctx, progress_of(status), now_stored, submitted, missing)


def _saved(
    ctx: RoundContext,
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
    ctx: RoundContext | None,
    person_id: int,
) -> tuple[dict[int, AnswerValue], dict[int, str | None]]:
    """The given values and comments by standard id, or InvalidAnswers naming every problem
    (``ctx`` None: as a staff member's first save, with nothing stored)."""
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
        elif not isinstance(raw, str) or raw not in ANSWER_VALUES:
            problem("answers", key, answer_choice_message())
        else:
            values[item.standard_id] = ANSWER_VALUES[raw]

    notes: dict[int, str | None] = {}
    for key, raw in comments.items():
        item = by_key.get(key)
        if item is None:
            problem("comments", str(key), _unknown_standard_message())
        elif raw is None:
            continue
        elif not isinstance(raw, str):
            problem("comments", key, _("ひとことは文字で書いてください。"))
        elif UNSTORABLE.search(raw):
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
    ctx: RoundContext | None,
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
    if ctx is None or ctx.nothing_stored:
        return lonely
    stored = stored_answers(ctx, person_id)
    return [sid for sid in lonely if sid not in stored]


_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _dialect_name() -> str:
    """The database's name; PostgreSQL in production, SQLite embedded (both have ON CONFLICT)."""
    name = db.engine.dialect.name
    if name not in _INSERTS:
        raise NotImplementedError(f"unsupported database: {name}")
    return name


def _write_rows(upsert: Any, rows: list[dict[str, Any]]) -> None:
    """Upsert answer rows: one fixed statement (built once per database kind) for all of
    them. Its ``RETURNING`` lets SQLAlchemy send the rows as one ``INSERT … VALUES (…), (…)``
    ("insertmanyvalues"); a plain executemany would run the statement once per row on
    PostgreSQL."""
    if rows:
        db.session.execute(upsert(_dialect_name()), rows)


# The upserts are built once per database kind: building one (its ``excluded`` columns above
# all) cost more than running it.
@cache
def _response_upsert(dialect: str) -> Any:
    """``INSERT INTO response … ON CONFLICT (round_id, person_id) DO UPDATE … RETURNING id,
    status``: a save that submits marks the response submitted; one that does not keeps a
    submission made before (a save never withdraws one)."""
    insert = _INSERTS[dialect](Response.__table__)
    submits = insert.excluded.status == ResponseStatus.SUBMITTED
    return insert.on_conflict_do_update(
        index_elements=[Response.round_id, Response.person_id],
        set_={
            "role": insert.excluded.role,
            "section_id": insert.excluded.section_id,
            "updated_at": insert.excluded.updated_at,
            "status": sa.case((submits, insert.excluded.status), else_=Response.status),
            "submitted_at": sa.case(
                (submits, insert.excluded.submitted_at), else_=Response.submitted_at
            ),
        },
    ).returning(Response.id, Response.status)


@cache
def _submit_update() -> Any:
    return (
        sa.update(Response)
        .where(Response.id == sa.bindparam("response_id"))
        .values(status=ResponseStatus.SUBMITTED, submitted_at=sa.bindparam("submitted_at"))
    )


@cache
def _answer_upsert(dialect: str) -> Any:
    insert = _INSERTS[dialect](Answer.__table__)
    return insert.on_conflict_do_update(
        index_elements=[Answer.response_id, Answer.standard_id],
        set_={"value": insert.excluded.value, "comment": insert.excluded.comment},
    )


@cache
def _section_answer_upsert(dialect: str) -> Any:
    insert = _INSERTS[dialect](SectionAnswer.__table__)
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


def _locked_response(
    ctx: RoundContext, person_id: int, now: datetime, *, submitting: bool
) -> tuple[int, ResponseStatus]:
    """The person's response in this round (its id and status), created if needed, locked
    until the commit, with this save's role, section and time written on it, and submitted
    when ``submitting``: one INSERT ... ON CONFLICT DO UPDATE ... RETURNING.

    The update takes the row's lock, so a concurrent save waits for this transaction (a
    concurrent first save waits on the unique index, then updates the row this one inserted).
    SQLite holds its write lock since BEGIN IMMEDIATE anyway.
    """
    row = {
        "round_id": ctx.round.id,
        "person_id": person_id,
        "role": ctx.role,
        "section_id": ctx.section_id,
        "status": ResponseStatus.SUBMITTED if submitting else ResponseStatus.DRAFT,
        "submitted_at": now if submitting else None,
        "created_at": now,
        "updated_at": now,
    }
    response_id, status = db.session.execute(_response_upsert(_dialect_name()), row).one()
    return response_id, status


# --- A staff member's first save on PostgreSQL: one statement ------------------------------------


def _first_save(
    round_id: int,
    person: PersonRef,
    answers: Mapping[str, str | None],
    comments: Mapping[str, str | None] | None,
    *,
    submit: bool,
    now: datetime,
) -> tuple[SaveResult | None, RoundContext | None]:
    """A staff member's first save on PostgreSQL, outside a transaction: the person's place
    in the round, the response, its answers and its status in one statement
    (``_first_save_statement``). Returns what it saved (None when it saved nothing) and the
    person's place as it read it (None when it read nothing).

    The answers are checked beforehand against the round as this process last read it
    (``latest_read``; the round is read first when this process has not read it yet). The
    statement writes only if that is still the round as it stands (its revision, its
    catalogue's revision and ward), if the person is staff with no response yet, and if the
    round takes answers: under the round's share lock, which it takes itself. Otherwise it
    writes nothing and the general path saves (``save_checklist``), from the place it read.
    Answers that fail the check go to the general path too, which says what is wrong.

    A concurrent first save of the same person (a double click) meets the other's rows in the
    statement's ON CONFLICT clauses and waits for its commit, then writes its own answers over
    them; a save that does not submit never withdraws the other's submission."""
    facts = latest_read(round_id)
    read: RoundContext | None = None
    if facts is None:  # the first save of this round this process makes: read it
        read = round_context(round_id, person, locked=False)
        if not read.nothing_stored:
            return None, read
        facts = read.facts
    items = staff_items(facts)
    try:
        values, notes = _validated(items, answers, comments or {}, None, person.id)
    except InvalidAnswers:
        return None, read
    rows: list[tuple[int, AnswerValue, str | None]] = []
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
    row = _first_save_row(facts, person.id, rows, submitted, now)
    if row is None:
        raise not_in_round()
    ctx = context_of(row[:-2])
    response_id, status = row[-2], row[-1]
    if response_id is None:  # not a first save, or the round closed or changed since
        return None, ctx
    return _saved(ctx, progress_of(status), now_stored, submitted, missing), ctx


def _first_save_row(
    facts: RoundFacts,
    person_id: int,
    rows: Iterable[tuple[int, AnswerValue, str | None]],
    submitted: bool,
    now: datetime,
) -> Sequence[Any] | None:
    """``_first_save_statement`` run: the person's place in the round, then the response's id
    and status when it saved (NULL when not); None when the person has no place in it. Its
    parameters: the response's columns, the answers sent (``_sent_json``) and the round as the
    answers were checked against it (``facts``)."""
    parameters = {
        "round_id": facts.round.id,
        "person_id": person_id,
        "status": ResponseStatus.SUBMITTED if submitted else ResponseStatus.DRAFT,
        "submitted_at": now if submitted else None,
        "created_at": now,
        "updated_at": now,
        "sent": _sent_json(rows),
        "round_revision": facts.round.revision,
        "round_created_at": facts.round.created_at,
        "catalogue_id": facts.round.catalogue_id,
        "catalogue_revision": facts.catalogue_revision,
        "catalogue_loaded_at": facts.catalogue_loaded_at,
        "catalogue_ward_id": facts.catalogue_ward_id,
    }
    return db.session.connection().execute(_first_save_statement(), parameters).first()


_SENT_COLUMNS = ("standard_id", "value", "comment")


def _sent_json(rows: Iterable[tuple[int, AnswerValue, str | None]]) -> str:
    """The ``sent`` parameter: the rows (standard id, value, comment) as one JSON array, which
    the statement reads as a table (``json_to_recordset``)."""
    return json.dumps(
        [
            {"standard_id": sid, "value": str(value), "comment": comment}
            for sid, value, comment in rows
        ],
        ensure_ascii=False,
    )


@cache
def _first_save_statement() -> Any:
    """``WITH place AS (context_query FOR SHARE OF round, and whether the round takes
    answers), saved_response AS (INSERT INTO response SELECT … FROM place WHERE the round is
    as checked, takes answers, and the person is staff without a response ON CONFLICT
    (round_id, person_id) DO UPDATE … RETURNING id, status), saved_answers AS (INSERT INTO
    answer SELECT saved_response.id, sent.* FROM saved_response JOIN json_to_recordset(:sent)
    AS sent(…) ON true ON CONFLICT … DO UPDATE …) SELECT place.*, saved_response.id,
    saved_response.status FROM place LEFT JOIN saved_response ON true`` (built once)."""
    response: sa.Table = Response.__table__  # type: ignore[assignment]
    now: Any = sa.bindparam("updated_at", type_=response.c.updated_at.type)
    # The person's place, read under the round's share lock (a count that committed first,
    # app/services/results/tally.py, is then seen), and whether the round takes answers.
    place = (
        context_query(locked=True)
        .add_columns(sa.and_(Round.open_at(now), Round.counted_at.is_(None)).label("taking"))
        .cte("place")
    )
    columns = list(place.c)
    (round_id, _title, catalogue_id, _year, _opens, _closes, created_at, _counted, revision,
     catalogue_ward_id, role, section_id, _section_name, response_id, _status,
     catalogue_revision, catalogue_loaded_at, taking) = columns
    as_checked = sa.and_(
        taking,
        role == Role.STAFF,
        response_id.is_(None),
        revision == sa.bindparam("round_revision"),
        created_at == sa.bindparam("round_created_at"),
        catalogue_id == sa.bindparam("catalogue_id"),
        catalogue_revision == sa.bindparam("catalogue_revision"),
        catalogue_loaded_at.is_not_distinct_from(sa.bindparam("catalogue_loaded_at")),
        catalogue_ward_id.is_not_distinct_from(sa.bindparam("catalogue_ward_id")),
    )
    given = ("person_id", "status", "submitted_at", "created_at", "updated_at")
    insert = postgresql.insert(response).from_select(
        ["round_id", "role", "section_id", *given],
        sa.select(
            round_id, role, section_id,
            *(sa.bindparam(n, type_=response.c[n].type) for n in given),
        ).where(as_checked),
    )
    submits = insert.excluded.status == ResponseStatus.SUBMITTED
    saved = insert.on_conflict_do_update(
        index_elements=[response.c.round_id, response.c.person_id],
        set_={
            "role": insert.excluded.role,
            "section_id": insert.excluded.section_id,
            "updated_at": insert.excluded.updated_at,
            "status": sa.case((submits, insert.excluded.status), else_=response.c.status),
            "submitted_at": sa.case(
                (submits, insert.excluded.submitted_at), else_=response.c.submitted_at
            ),
        },
    ).returning(response.c.id, response.c.status).cte("saved_response")
    sent = (
        sa.func.json_to_recordset(sa.cast(sa.bindparam("sent", type_=sa.Text), postgresql.JSON))
        .table_valued(
            sa.column("standard_id", sa.Integer),
            sa.column("value", sa.String),
            sa.column("comment", sa.Text),
        )
        .render_derived(name="sent", with_types=True)
    )
    answer: sa.Table = Answer.__table__  # type: ignore[assignment]
    answers = postgresql.insert(answer).from_select(
        ["response_id", *_SENT_COLUMNS],
        sa.select(saved.c.id, *(sent.c[name] for name in _SENT_COLUMNS)).select_from(
            saved.join(sent, sa.true())
        ),
    )
    answers = answers.on_conflict_do_update(
        index_elements=[answer.c.response_id, answer.c.standard_id],
        set_={"value": answers.excluded.value, "comment": answers.excluded.comment},
    )
    return (
        sa.select(*columns[:-1], saved.c.id, saved.c.status)
        .select_from(place.outerjoin(saved, sa.true()))
        .add_cte(answers.cte("saved_answers"))
    )
