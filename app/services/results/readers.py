"""Who has read a closed round's results, and what that forbids: reopening the round.

Why: a closed round's figures are a record. If a round could be reopened after someone read
them, one more colleague's submit before the second close would change them, and the reader
who kept the first figures (a CSV, a screenshot) would read that colleague's answers in the
difference. So every read of a closed round's results is in the audit log, and a round whose
results anyone has read can no longer be reopened (``reopen_refusal``, asked by
``app/services/rounds/rounds.py`` ``update_round``).

- ``results.read``: a results page, breakdown, comments page, chief's sheet, the annual
  report's page, the API's compliance, the city page. At most one row per reader, round and
  day (Tokyo), to keep the log small: the first read of the day is what the rule needs.
- ``results.download``: every file (xlsx, CSV, PDF, print view, a chief's sheet, the
  comments' xlsx, the city's xlsx, the annual report's PDF and Word, ``flask report``), each
  its own row.

Rows target the round (``round <id>``) and belong to its ward (none for a round of several
wards), like every row about a round. A page or file that also shows last year's round (its
前年度 columns) records a read of that round too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import localized_date
from app.models import AuditEvent, Person, utcnow
from app.services.governance import audit
from app.wareki import TOKYO, tokyo

if TYPE_CHECKING:
    from app.services.results.compliance import RoundResults

READ = "results.read"
DOWNLOAD = "results.download"
# A round as the log needs it: its id and its wards.
RoundRef = tuple[int, Sequence[int]]


def _day_start(now: datetime) -> datetime:
    """The start of ``now``'s day on the city's clock (the day a read is counted in)."""
    return datetime.combine(tokyo(now).date(), time(0), tzinfo=TOKYO)


def _shown(results: RoundResults) -> list[RoundRef]:
    """The final rounds whose figures a page of ``results`` shows: the round and, when its
    前年度 columns come from one, last year's round."""
    rounds: list[RoundRef] = [(results.round.id, results.round.ward_ids)]
    if results.previous is not None:
        rounds.append((results.previous.id, results.previous.ward_ids))
    return rounds


def note_round_reads(
    rounds: Iterable[RoundRef], reader: Person | None, now: datetime | None = None
) -> None:
    """A ``results.read`` row for each round, unless the reader already has one of the day.
    Flushes, never commits."""
    since = _day_start(now or utcnow())
    for round_id, ward_ids in rounds:
        audit.record(
            READ,
            actor=reader,
            target_type="round",
            target_id=round_id,
            ward_id=audit.single_ward(list(ward_ids)),
            once_since=since,
        )


def note_read(results: RoundResults, reader: Person | None) -> None:
    """A final round's results were shown to ``reader``: the round's read (and last year's,
    when shown beside it), once a day. Nothing for a round that is not final (it shows no
    figures). Flushes, never commits."""
    if results.final:
        note_round_reads(_shown(results), reader)


def note_download(
    results: RoundResults, reader: Person | None, after: dict[str, Any]
) -> None:
    """A file of a final round's results was handed out: one ``results.download`` row, with
    ``after`` (the format, the group...); last year's round, when the file shows it, as a
    read. Flushes, never commits."""
    shown = _shown(results)
    note_round_download(shown[:1], reader, after)
    note_round_reads(shown[1:], reader)


def note_round_download(
    rounds: Iterable[RoundRef], reader: Person | None, after: dict[str, Any]
) -> None:
    """A file that holds the figures of several rounds (the city's): one ``results.download``
    row for each. Flushes, never commits."""
    for round_id, ward_ids in rounds:
        audit.record(
            DOWNLOAD,
            actor=reader,
            target_type="round",
            target_id=round_id,
            after=after,
            ward_id=audit.single_ward(list(ward_ids)),
        )


def reads_of(round_id: int) -> tuple[datetime, int] | None:
    """When the round's results were first read or downloaded, and by how many people (the
    command line counts as one); None when nobody has. One query over the log."""
    first, people = db.session.execute(
        sa.select(
            sa.func.min(AuditEvent.at),
            sa.func.count(sa.distinct(sa.func.coalesce(AuditEvent.actor_employee_id, ""))),
        ).where(
            AuditEvent.action.in_((READ, DOWNLOAD)),
            AuditEvent.target_type == "round",
            AuditEvent.target_id == str(round_id),
        )
    ).one()
    if first is None:
        return None
    return first, int(people)


def reopen_refusal(round_id: int) -> str | None:
    """Why a closed round may not be reopened (its results have been read), in plain
    Japanese; None when nobody has read them."""
    reads = reads_of(round_id)
    if reads is None:
        return None
    first, people = reads
    return str(
        _(
            "この調査の結果は%(date)sから読まれています（これまでに%(n)s人）。再開して回答が"
            "増えると、読まれた結果との差から一人ひとりの回答がわかってしまうため、再開できま"
            "せん。",
            date=localized_date(first),
            n=people,
        )
    )
