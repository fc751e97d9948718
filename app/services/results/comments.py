"""The comments (ひとこと) staff and chiefs write beside their answers, as the committee reads
them once a round has closed (docs/results.md, "Comments").

A comment is a person's own text, so it is read live from the answers (not from the counts)
but under the results' rules and more:

- only for a **final** round (closed and counted): before the close nothing is shown, so that
  nobody links a comment to a colleague who has just submitted;
- only from **submitted** responses; never with a name, a section, a role or a time;
- for a standard, only in a group (the whole round, a ward, a department or a section, the
  level the reader chooses) where that standard has at least ``MIN_GROUP_SIZE`` respondents
  (from the round's counts, both roles together; section-level standards: one chief per
  section), and not where a smaller sibling group could be worked out as the difference
  between a parent's comments and the others' (the same rule as the tables,
  ``reports/privacy.suppress``);
- in an order that does not follow the order of submitting: sorted by a keyed hash of the
  round and the answer (stable for a round, so two readings agree); the hash is also the only
  handle the page has on a comment, never the answer's id (ids grow with time);
- minus the comments the committee has hidden because they identify someone
  (``HiddenComment``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    Answer,
    HiddenComment,
    Person,
    Response,
    ResponseStatus,
    RoundCount,
    SectionAnswer,
    Standard,
)
from app.services.governance import audit
from app.services.results.compliance import Group, ResultsError, RoundResults, StandardInfo
from reports.privacy import suppress, too_small


@dataclass(frozen=True)
class Comment:
    """One comment as the committee sees it: its text and an opaque handle, nothing else."""

    token: str
    text: str


@dataclass(frozen=True)
class StandardComments:
    """A standard's comments in a group; ``shown`` False when the group is too small (the
    comments are then not given at all)."""

    standard: StandardInfo
    shown: bool
    comments: tuple[Comment, ...]
    hidden_by_committee: int


@dataclass(frozen=True)
class GroupComments:
    group: Group
    min_group_size: int
    standards: tuple[StandardComments, ...]

    @property
    def count(self) -> int:
        return sum(len(s.comments) for s in self.standards)

    @property
    def commented(self) -> tuple[StandardComments, ...]:
        """The standards with a comment to read here (or one the committee hid), in the
        catalogue's order: a standard not shown for its group's size is never among them."""
        return tuple(s for s in self.standards if s.comments or s.hidden_by_committee)


@dataclass(frozen=True)
class _Raw:
    kind: str  # "answer" or "section"
    id: int
    section_id: int
    key: str
    text: str


def _token(round_id: int, kind: str, row_id: int) -> str:
    """A keyed hash: the same for a comment on every reading, unrelated to when it was
    written, and not computable without the app's secret."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    message = f"comment:{round_id}:{kind}:{row_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:24]


def _raw_comments(round_id: int) -> list[_Raw]:
    """Every non-empty comment of the round's submitted responses. Two queries."""
    submitted = sa.and_(
        Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED
    )
    rows: list[_Raw] = []
    for answer_id, section_id, key, text in db.session.execute(
        sa.select(Answer.id, Response.section_id, Standard.key, Answer.comment)
        .join(Response, Response.id == Answer.response_id)
        .join(Standard, Standard.id == Answer.standard_id)
        .where(submitted, Answer.comment.is_not(None), Answer.comment != "")
    ):
        if text and text.strip():
            rows.append(_Raw("answer", answer_id, section_id, key, text.strip()))
    for answer_id, section_id, key, text in db.session.execute(
        sa.select(SectionAnswer.id, SectionAnswer.section_id, Standard.key, SectionAnswer.comment)
        .join(Response, Response.id == SectionAnswer.response_id)
        .join(Standard, Standard.id == SectionAnswer.standard_id)
        .where(
            submitted,
            SectionAnswer.round_id == round_id,
            SectionAnswer.comment.is_not(None),
            SectionAnswer.comment != "",
        )
    ):
        if text and text.strip():
            rows.append(_Raw("section", answer_id, section_id, key, text.strip()))
    return rows


def _hidden_ids(raw: list[_Raw]) -> set[tuple[str, int]]:
    answer_ids = [r.id for r in raw if r.kind == "answer"]
    section_ids = [r.id for r in raw if r.kind == "section"]
    found: set[tuple[str, int]] = set()
    if answer_ids:
        found.update(
            ("answer", i) for i in db.session.scalars(
                sa.select(HiddenComment.answer_id).where(HiddenComment.answer_id.in_(answer_ids))
            ) if i is not None
        )
    if section_ids:
        found.update(
            ("section", i) for i in db.session.scalars(
                sa.select(HiddenComment.section_answer_id).where(
                    HiddenComment.section_answer_id.in_(section_ids)
                )
            ) if i is not None
        )
    return found


def _sections_of(results: RoundResults) -> dict[str, set[int]]:
    """The sections inside each visible group."""
    by_key = {g.key: g for g in results.groups}
    inside: dict[str, set[int]] = defaultdict(set)
    for group in results.groups:
        if group.level != "section" or group.section_id is None:
            continue
        key: str | None = group.key
        while key is not None:
            inside[key].add(group.section_id)
            parent = by_key.get(key)
            key = parent.parent_key if parent is not None else None
    return inside


def _shown_groups(results: RoundResults) -> set[tuple[str, str]]:
    """(group key, standard key) pairs whose comments may be shown: at least the minimum of
    respondents (from the round's counts, both roles) and not exposed by a sibling's
    difference. One query."""
    respondents: dict[tuple[int, str], int] = defaultdict(int)
    for section_id, key, people in db.session.execute(
        sa.select(
            RoundCount.section_id,
            RoundCount.standard_key,
            sa.func.sum(
                RoundCount.complies + RoundCount.not_complies + RoundCount.not_applicable
            ),
        )
        .where(RoundCount.round_id == results.round.id)
        .group_by(RoundCount.section_id, RoundCount.standard_key)
    ):
        respondents[(section_id, key)] = int(people)
    inside = _sections_of(results)
    keys = [s.key for s in results.standards]
    sizes = {
        (group_key, key): sum(respondents.get((section, key), 0) for section in sections)
        for group_key, sections in inside.items()
        for key in keys
    }
    children: dict[str, list[str]] = defaultdict(list)
    for group in results.groups:
        if group.parent_key is not None and group.parent_key in inside:
            children[group.parent_key].append(group.key)
    totals = [
        ((parent, key), [(kid, key) for kid in kids])
        for parent, kids in children.items()
        for key in keys
    ]
    hidden = suppress(sizes, totals, results.min_group_size)
    return {
        cell for cell, size in sizes.items()
        if size > 0 and not too_small(size, results.min_group_size) and cell not in hidden
    }


def group_comments(results: RoundResults, group_key: str) -> GroupComments:
    """The comments of a final round in one visible group, standard by standard in the
    catalogue's order. ResultsNotFinal before the close; ResultsError for a group the reader
    may not see."""
    results.require_final()
    group = results.group(group_key)
    raw = _raw_comments(results.round.id)
    hidden = _hidden_ids(raw)
    sections = _sections_of(results).get(group_key, set())
    shown = _shown_groups(results)
    by_key: dict[str, list[Comment]] = defaultdict(list)
    hidden_count: dict[str, int] = defaultdict(int)
    for item in raw:
        if item.section_id not in sections:
            continue
        if (item.kind, item.id) in hidden:
            hidden_count[item.key] += 1
            continue
        by_key[item.key].append(Comment(_token(results.round.id, item.kind, item.id), item.text))
    standards = []
    for standard in results.standards:
        visible = (group_key, standard.key) in shown
        comments = sorted(by_key.get(standard.key, []), key=lambda c: c.token) if visible else []
        standards.append(
            StandardComments(
                standard, visible, tuple(comments),
                hidden_count.get(standard.key, 0) if visible else 0,
            )
        )
    return GroupComments(group, results.min_group_size, tuple(standards))


def hide_comment(
    results: RoundResults, token: str, hidden_by_id: int | None
) -> bool:
    """Hide a comment of a final round that the reader can see (in their wards), by its
    handle. False when there is no such comment. Flushes, never commits."""
    results.require_final()
    visible_sections = _sections_of(results).get(results.top.key, set())
    for item in _raw_comments(results.round.id):
        if item.section_id not in visible_sections:
            continue
        if hmac.compare_digest(_token(results.round.id, item.kind, item.id), token):
            if (item.kind, item.id) in _hidden_ids([item]):
                return True
            db.session.add(
                HiddenComment(
                    answer_id=item.id if item.kind == "answer" else None,
                    section_answer_id=item.id if item.kind == "section" else None,
                    hidden_by_id=hidden_by_id,
                )
            )
            db.session.flush()
            # Audited by its handle only: the log keeps neither the text nor the answer's id.
            audit.record(
                "comment.hide",
                actor=db.session.get(Person, hidden_by_id) if hidden_by_id else None,
                target_type="round",
                target_id=results.round.id,
                after={"comment": token},
                ward_id=results.top.ward_id,
            )
            return True
    return False


def comment_rows(view: GroupComments) -> list[tuple[int, str, str]]:
    """(number, standard text, comment) for the xlsx, only the comments that are shown."""
    return [
        (s.standard.number, s.standard.text, c.text)
        for s in view.standards
        for c in s.comments
    ]


def no_such_comment() -> ResultsError:
    return ResultsError(_("そのコメントは見つかりません。"))


__all__ = [
    "Comment",
    "GroupComments",
    "StandardComments",
    "comment_rows",
    "group_comments",
    "hide_comment",
    "no_such_comment",
]
