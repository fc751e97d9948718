"""The yearly checklist: which rounds a person answers, what they see, saving and submitting.

INTERFACE STUB: the signatures and dataclasses below are the contract between the pages,
the JSON API and this service. The bodies are being written.

Rules (issue 3):
- A person answers a round when the round covers the ward of the section they are assigned
  to in the round's fiscal year. Staff see the catalogue's ``everyone`` standards; a chief
  also sees, in a separate part, the ``section`` standards that apply to the section (those
  with no section kinds, plus those whose kinds the section has).
- A round is open exactly when opens_at <= now < closes_at.
- Saving is allowed only while the round is open; each save is one transaction (the caller
  commits). A submit needs every item answered; otherwise nothing is submitted, the answers
  given are kept as a draft and the missing items are reported.
- The role and section at answer time are stored on the Response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from app.models import AnswerValue, Person, Role, Round

Part = Literal["self", "section"]
Progress = Literal["not_started", "draft", "submitted"]


class ChecklistError(Exception):
    """The request cannot be carried out; ``message`` is plain Japanese for the person."""

    def __init__(self, message: str, field_errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, str] = dict(field_errors or {})


class NotInRound(ChecklistError):
    """The person does not answer this round (not on its wards' roster for that year)."""


class RoundClosed(ChecklistError):
    """The round is not open (not yet, or no longer): nothing was changed."""


class InvalidAnswers(ChecklistError):
    """Unknown standard keys or values; ``field_errors`` maps each bad key to its message."""


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


@dataclass(frozen=True)
class MyRound:
    """A round the person must answer, as the person's own page lists it."""

    round_id: int
    title: str
    fiscal_year: int
    opens_at: datetime
    closes_at: datetime
    is_open: bool
    status: Progress
    role: Role
    section_name: str


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
    status: Progress
    submitted: bool
    missing: list[ChecklistItem] = field(default_factory=list)


@dataclass(frozen=True)
class SectionMember:
    """A member of the chief's section and their status: never their answers."""

    employee_id: str
    name: str
    role: Role
    status: Progress


def rounds_for(person: Person, now: datetime | None = None) -> list[MyRound]:
    """The rounds this person answers (open, upcoming and closed), newest first."""
    raise NotImplementedError


def checklist_for(round_id: int, person: Person, now: datetime | None = None) -> Checklist:
    """The items of the round that apply to this person, with their current answers.

    Raises NotInRound when the person does not answer this round (or it does not exist).
    """
    raise NotImplementedError


def save_checklist(
    round_id: int,
    person: Person,
    answers: Mapping[str, str],
    comments: Mapping[str, str] | None = None,
    *,
    submit: bool = False,
    now: datetime | None = None,
) -> SaveResult:
    """Save answers (keys are standard keys; values "yes", "no", "na") and optionally submit.

    Raises NotInRound, RoundClosed (nothing changed), or InvalidAnswers (nothing changed).
    Flushes, never commits.
    """
    raise NotImplementedError


def section_progress(
    round_id: int, chief: Person, now: datetime | None = None
) -> tuple[str, list[SectionMember]]:
    """(section name, members with status) for the chief's own section in this round.

    Raises NotInRound unless the person is that round's chief of a section it covers.
    """
    raise NotImplementedError
