"""The values a round's results are made of: cells, response rates, groups, standards, the
round's facts, the rows of its tables, and the settings (smallest group, rounding) they obey.

Nothing here queries the database; ``settings`` reads the app's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from flask import current_app
from flask_babel import gettext as _

from app.config import check_results_settings
from app.i18n import localized_datetime
from app.models import Audience, Role, RoundState, round_state
from app.services.errors import DomainError
from app.services.results.published import PublishedFigures
from reports.rates import HIDDEN, Rounding, format_rate

Level = Literal["all", "ward", "department", "section"]
LEVELS: tuple[Level, ...] = ("all", "ward", "department", "section")
CellState = Literal["shown", "empty", "hidden"]

ALL = "all"  # the group of everyone in the round, and the column of all standards


def std_column(key: str) -> str:
    return f"std:{key}"


def scene_column(scene: str) -> str:
    return f"scene:{scene}"


class ResultsError(DomainError):
    """The results cannot be shown; ``message`` is plain Japanese."""

    status = 404
    code = "not_found"


class ResultsNotFinal(ResultsError):
    """The round has not closed (or is being counted): no compliance cell or count of it is
    shown yet, only its response progress (app/services/results/tally.py says why)."""

    status = 409
    code = "not_final"


def not_final_message(info: RoundInfo, now: datetime | None = None) -> str:
    """Why a round's compliance results are not shown yet, in plain Japanese."""
    message: str
    if info.state(now) == "upcoming":
        message = _("この調査はまだ受付が始まっていません。遵守率は締め切りのあとに表示します。")
    elif info.state(now) == "open":
        message = _(
            "この調査は受付中です。遵守率は締め切り（%(when)s）のあとに表示します。"
            "回答中の人の回答が、前後の表を見比べて分からないようにするためです。",
            when=localized_datetime(info.closes_at),
        )
    else:
        message = _("この調査は締め切られ、いま集計しています。少し待ってから開き直してください。")
    return message


# --- What the results are made of -------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One published rate. Hidden cells carry no counts."""

    state: CellState
    complies: int | None = None
    not_complies: int | None = None
    not_applicable: int | None = None
    rate: Decimal | None = None
    # From a published table (app/services/results/published.py): a rate without counts.
    imported: bool = False

    @property
    def text(self) -> str:
        """What a table shows: ``97.8``, ``-`` or the hidden mark."""
        if self.state == "hidden":
            return HIDDEN
        return format_rate(self.rate)

    @property
    def answered(self) -> int | None:
        """People whose answer counts in the rate (complies + does not comply)."""
        if self.complies is None or self.not_complies is None:
            return None
        return self.complies + self.not_complies


NOT_ASKED = Cell("empty")
HIDDEN_CELL = Cell("hidden")


@dataclass(frozen=True)
class ResponseRate:
    """Responses submitted of the people expected to answer. Hidden ones carry no counts."""

    state: CellState
    expected: int | None = None
    submitted: int | None = None
    rate: Decimal | None = None

    @property
    def text(self) -> str:
        if self.state == "hidden":
            return HIDDEN
        return format_rate(self.rate)


@dataclass(frozen=True)
class Group:
    """A group results are given for: the whole round, a ward, a department or a section.

    Sections standing directly under a ward form one department-level group of their own
    (``department_id`` None) so that the departments of a ward add up to the ward.
    """

    key: str
    level: Level
    name: str
    parent_key: str | None
    ward_id: int | None = None
    department_id: int | None = None
    section_id: int | None = None
    ward_name: str | None = None
    department_name: str | None = None


@dataclass(frozen=True)
class StandardInfo:
    key: str
    number: int
    text: str
    scene: str
    audience: Audience
    ward_specific: bool
    asked: frozenset[Role]

    @property
    def section_level(self) -> bool:
        return self.audience is Audience.SECTION


@dataclass(frozen=True)
class RoundInfo:
    id: int
    title: str
    fiscal_year: int
    opens_at: datetime
    closes_at: datetime
    catalogue_key: str
    catalogue_title: str
    ward_ids: tuple[int, ...]
    ward_names: tuple[str, ...]
    # When its counts were written (app/services/results/tally.py), None before: results are final
    # once it is set. With the round row's revision it names one set of counts (a reopening
    # discards them through the ORM, which bumps the revision): the key of the per-process
    # cube (cube.py ``build_cube``).
    counted_at: datetime | None = None
    revision: int = 0

    @property
    def counted(self) -> bool:
        """Its counts are written: its results are final."""
        return self.counted_at is not None

    def state(self, now: datetime | None = None) -> RoundState:
        return round_state(self.opens_at, self.closes_at, now)

    def is_open(self, now: datetime | None = None) -> bool:
        return self.state(now) == "open"


@dataclass(frozen=True)
class StandardRow:
    """One line of the report's table: this year's cells beside last year's."""

    standard: StandardInfo
    current: Mapping[Role, Cell]
    previous: Mapping[Role, Cell] | None
    previous_number: int | None = None
    previous_text: str | None = None
    # Last year's cells come from the ward's published table, not from a round.
    previous_imported: bool = False

    def change(self, role: Role) -> Decimal | None:
        """This year's rate minus last year's, where both are shown."""
        if self.previous is None:
            return None
        now, before = self.current[role], self.previous[role]
        if now.rate is None or before.rate is None:
            return None
        return now.rate - before.rate

    @property
    def renumbered(self) -> bool:
        return self.previous_number is not None and self.previous_number != self.standard.number


@dataclass(frozen=True)
class GroupRow:
    """One group's line of a breakdown, for one role."""

    group: Group
    response: ResponseRate
    overall: Cell
    scenes: Mapping[str, Cell]
    standards: Mapping[str, Cell]


@dataclass(frozen=True)
class ProgressPoint:
    """Responses submitted by the end of a day (Tokyo), per role and in all."""

    day: date
    submitted: Mapping[Role | None, int | None]


@dataclass
class Counts:
    complies: int = 0
    not_complies: int = 0
    not_applicable: int = 0
    people: int = 0  # respondents to the item (any answer); scenes: distinct respondents
    answering: int = 0  # of them, answered complies or does not comply

    def add(self, other: Counts) -> None:
        self.complies += other.complies
        self.not_complies += other.not_complies
        self.not_applicable += other.not_applicable
        self.people += other.people
        self.answering += other.answering


CellKey = tuple[str, str, Role]  # (group key, column, role)


def published_cell(figures: PublishedFigures, key: str, role: Role) -> Cell:
    """A published rate as a cell: shown, "-" or ＊, never with counts."""
    if (key, role) in figures.hidden:
        return Cell("hidden", imported=True)
    if (key, role) not in figures.rates:
        return NOT_ASKED
    rate = figures.rates[(key, role)]
    return Cell("shown" if rate is not None else "empty", rate=rate, imported=True)


# --- Building ---------------------------------------------------------------------------------


def settings() -> tuple[int, Rounding]:
    """The configured smallest group and rounding, checked."""
    check_results_settings(current_app.config)
    return int(current_app.config["MIN_GROUP_SIZE"]), current_app.config["RATE_ROUNDING"]
