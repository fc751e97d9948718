"""The yearly checklist: which rounds a person answers, what they see, saving and submitting.

The dataclasses and errors below are the contract between the pages, the JSON API and the
service: reading (``app/services/rounds/checklist_page.py``: ``rounds_for``, ``checklist_for``,
``receipt_for``, ``section_progress``) and saving (``app/services/rounds/checklist_save.py``:
``save_checklist``). The rules both follow:

Rules (issue 3):
- A person answers a round when the round covers the ward of the section they are assigned
  to in the round's fiscal year. Staff see the catalogue's ``everyone`` standards; a chief
  also sees, in a separate part, the ``section`` standards that apply to the section (those
  with no section kinds, plus those whose kinds the section has). The ward-specific standards
  (``ward_specific``) of a ward's own catalogue are asked like the others; a city-wide
  catalogue's ward-specific list belongs to no ward in particular and is never asked.
- A round is open exactly when opens_at <= now < closes_at.
- Saving is allowed only while the round is open; each save is all or nothing: one
  transaction (the caller commits), or one statement (a staff member's first save on
  PostgreSQL, ``checklist_save._first_save``: it reads the person's place and writes only if
  the round is still as the answers were checked against). A submit needs every item
  answered; otherwise nothing is submitted, the answers given are kept as a draft and the
  missing items are reported.
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
A staff member's first save (no response when it read the round) reads nothing again: it
writes its answers over the other save's, and may report items as missing that the other one
answered (never the reverse); a save that does not submit never withdraws the other's
submission. Answers are written with INSERT ... ON CONFLICT DO UPDATE, one statement per
table.

Every function uses a constant number of queries, whatever the number of standards, rounds or
people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from app.models import (
    AnswerValue,
    Role,
    RoundState,
    round_state,
)
from app.services.errors import DomainError

Part = Literal["self", "section"]
Progress = Literal["not_started", "draft", "submitted"]

COMMENT_MAX_LENGTH = 1000

ANSWER_VALUES: dict[str, AnswerValue] = {v.value: v for v in AnswerValue}
# NUL, which PostgreSQL's text cannot hold, and the halves of a UTF-16 pair (a JSON "\ud800"
# alone), which no database can encode.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


class ChecklistItem(NamedTuple):
    """One standard as a person answers it, with the stored answer and comment. Immutable (the
    blank items are kept per process and shared by every page and save), and a named tuple
    rather than a frozen dataclass: a page or a save makes one for every item answered, and a
    frozen dataclass's constructor cost about twice as much (timeit, 3.8 against 2 µs)."""

    standard_id: int
    key: str
    number: int
    text: str
    scene: str
    part: Part
    value: AnswerValue | None = None
    comment: str | None = None

    def answered(self, value: AnswerValue | None, comment: str | None) -> ChecklistItem:
        """The item with this answer and comment."""
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
class RoundAsRead:
    """A round's own columns as its checklist read them (through the session's connection, not
    as an ORM ``Round``: the checklist's requests are the busiest, and loading the ORM object
    was a measurable part of them). Open or not by ``app/models.py`` ``round_state``, like
    ``Round``."""

    id: int
    title: str
    catalogue_id: int
    fiscal_year: int
    opens_at: datetime
    closes_at: datetime
    created_at: datetime
    counted_at: datetime | None
    revision: int

    def state(self, now: datetime | None = None) -> RoundState:
        return round_state(self.opens_at, self.closes_at, now)

    def is_open(self, now: datetime | None = None) -> bool:
        return self.state(now) == "open"


@dataclass(frozen=True)
class Checklist:
    round: RoundAsRead
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
