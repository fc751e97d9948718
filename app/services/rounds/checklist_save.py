"""Saving a checklist: answers checked, then written in one transaction (see the rules in
``app/services/rounds/checklist.py``).

One path on both databases, through the session: the round read under its share lock
(``round_context``), the response created or updated and locked (one upsert), the stored
answers read again under that lock (not for a staff member's first save: there are none),
the answers written (one upsert of all the rows), and the submission marked. Nothing commits:
the view does, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    PersonRef,
    Response,
    ResponseStatus,
    Role,
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
    closed_message,
    items_of,
    progress_of,
    round_context,
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
    Flushes, never commits: everything it writes is in the session's transaction, which the
    caller commits or rolls back. The rules (kept answers, comments, submission,
    concurrency) are in the module docstring of ``app/services/rounds/checklist.py``.
    """
    now = now or utcnow()
    ctx = round_context(round_id, person)  # the round's share lock, until the commit
    if not ctx.round.is_open(now) or ctx.round.counted_at is not None:
        raise RoundClosed(closed_message(ctx.round, now))
    items = items_of(ctx)
    values, notes = _validated(items, answers, comments or {}, ctx, person.id)

    # A staff member's first save: no answers of theirs are stored, so whether it submits is
    # known now, and the response is written with its status at once.
    first = ctx.response_id is None and ctx.role is not Role.CHIEF
    submitting = first and submit and all(item.standard_id in values for item in items)
    response_id, status = _locked_response(ctx, person.id, now, submitting=submitting)
    stored: Mapping[int, tuple[AnswerValue | None, str | None]] = {}
    if not first:
        stored = stored_answers(ctx, person.id)  # again, now that the response is ours alone

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
    ctx: RoundContext,
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
    ctx: RoundContext,
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
    stored = stored_answers(ctx, person_id) if has_stored else {}
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
