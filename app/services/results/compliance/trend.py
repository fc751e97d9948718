"""The trend: each standard's compliance rate (by key) and role over the fiscal years of
closed rounds, for a set of wards, under the same rate and small-group rules as a round's table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Audience, Catalogue, Role, Round, Standard, round_ward, utcnow
from app.services.results.compliance.model import (
    ALL,
    HIDDEN_CELL,
    NOT_ASKED,
    Cell,
    Counts,
    published_cell,
    settings,
)
from app.services.results.published import PublishedFigures, published_figures, published_years
from app.services.results.tally import counts_by_ward, ensure_counted
from app.services.rounds.audience import ROLES, asked_roles
from reports.privacy import suppress, too_small
from reports.rates import Rounding, compliance_rate


@dataclass(frozen=True)
class TrendStandard:
    """A standard followed across years by its key (number and text of its latest year)."""

    key: str
    number: int
    text: str
    section_level: bool


@dataclass
class Trend:
    """Per standard key and role, the rate of each fiscal year's round, small groups hidden."""

    fiscal_years: tuple[int, ...]
    standards: tuple[TrendStandard, ...]
    min_group_size: int
    rounding: Rounding
    cells: dict[tuple[str, Role, int], Cell]

    def cell(self, key: str, role: Role, fiscal_year: int) -> Cell:
        """The cell of a standard and role in a year; "-" where it was not asked."""
        return self.cells.get((key, role, fiscal_year), NOT_ASKED)


TrendKey = tuple[int, str, Role, str]  # (round, group key: a ward's or ALL, role, standard key)


@dataclass
class _ClosedRounds:
    """The closed, counted rounds: each one's fiscal year, wards and the roles each standard
    is asked of; the latest number and text of each standard key; and, per fiscal year and
    ward, the round that closed last (the one the trend reads)."""

    year: dict[int, int] = field(default_factory=dict)
    wards: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    asked: dict[int, dict[str, frozenset[Role]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    latest: dict[str, TrendStandard] = field(default_factory=dict)
    chosen: dict[tuple[int, int], int] = field(default_factory=dict)


def _closed_rounds(now: datetime) -> _ClosedRounds:
    """One query: the rounds, their wards and standards (a handful of rows per round)."""
    rw = round_ward
    meta = db.session.execute(
        sa.select(
            Round.id, Round.fiscal_year, Round.closes_at, rw.c.ward_id,
            Standard.key, Standard.number, Standard.text, Standard.audience,
            Standard.ward_specific, Catalogue.ward_id,
        )
        .join(rw, rw.c.round_id == Round.id)
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .join(Standard, Standard.catalogue_id == Catalogue.id)
        .where(Round.counted_at.is_not(None), Round.closed_by(now))
        .order_by(Round.fiscal_year, Round.closes_at, Round.id, Standard.position)
    ).all()
    rounds = _ClosedRounds()
    for (
        round_id, year, _closes, ward_id, key, number, text, audience, ward_specific, cat_ward
    ) in meta:
        rounds.year[round_id] = year
        rounds.wards[round_id].add(ward_id)
        rounds.chosen[(year, ward_id)] = round_id  # ordered by close: the last one wins
        section = Audience(audience) is Audience.SECTION
        rounds.asked[round_id][key] = asked_roles(audience, ward_specific, cat_ward)
        rounds.latest[key] = TrendStandard(key, number, text, section)
    return rounds


def _published_tables(
    allowed: set[int] | None, wanted: dict[tuple[int, int], int]
) -> dict[int, PublishedFigures]:
    """A trend of one ward also reads its published tables of the years it has no round of
    (rates without counts: they cannot be added to other wards', so only then)."""
    if allowed is None or len(allowed) != 1:
        return {}
    (only_ward,) = allowed
    with_round = {year for year, _ward in wanted}
    extra = [y for y in published_years(only_ward) if y not in with_round]
    return {
        year: figures
        for (_ward, year), figures in published_figures([only_ward], extra).items()
    }


def _round_counts(
    rows: Iterable[tuple[int, int, Role, str, int, int, int]],
    rounds: _ClosedRounds,
    fiscal_years: tuple[int, ...],
) -> dict[TrendKey, Counts]:
    """Per round of the years shown: the ward cells and the round's total (the sum of its
    wards), of the roles each standard is asked of."""
    counts: dict[TrendKey, Counts] = defaultdict(Counts)
    for round_id, ward_id, role_value, key, yes, no, na in rows:
        role = Role(role_value)
        if rounds.year.get(round_id) not in fiscal_years:
            continue
        if role not in rounds.asked[round_id].get(key, frozenset()):
            continue
        item = Counts(int(yes), int(no), int(na), int(yes + no + na), int(yes + no))
        counts[(round_id, f"ward:{ward_id}", role, key)].add(item)
        counts[(round_id, ALL, role, key)].add(item)
    return counts


def _hidden(
    counts: dict[TrendKey, Counts],
    rounds: _ClosedRounds,
    fiscal_years: tuple[int, ...],
    section_keys: set[str],
    min_size: int,
) -> set[TrendKey]:
    """The cells each round's table hides at its top level (the round = the sum of its
    wards): small wards, and a ward hidden to protect a sibling."""
    exempt = {k for k in counts if k[3] in section_keys}
    totals = [
        ((round_id, ALL, role, key), [(round_id, f"ward:{w}", role, key) for w in sorted(wards)])
        for round_id, wards in rounds.wards.items()
        if rounds.year[round_id] in fiscal_years
        for role in ROLES
        for key in rounds.asked[round_id]
    ]
    return suppress(
        {k: c.people for k, c in counts.items()},
        totals,
        min_size,
        exempt=exempt,
        also_hide={
            k for k, c in counts.items() if too_small(c.answering, min_size) and k not in exempt
        },
    )


@dataclass(frozen=True)
class _YearCounts:
    """What a year's cells are added up from: the rounds' counts and hidden cells, each
    round's wards in the trend's wards, and the rules' parameters."""

    counts: dict[TrendKey, Counts]
    hidden: set[TrendKey]
    rounds: _ClosedRounds
    section_keys: set[str]
    min_size: int
    rounding: Rounding


def _year_cell(
    data: _YearCounts, by_round: dict[int, list[int]], key: str, role: Role
) -> Cell | None:
    """A standard's cell for a role in one year, added up over the year's rounds (a round's
    own total where all its wards are wanted); None where no round asked it."""
    total = Counts()
    concealed = found = False
    for round_id, wards in by_round.items():
        parts = (
            [(round_id, ALL, role, key)]
            if set(wards) >= data.rounds.wards[round_id]
            else [(round_id, f"ward:{w}", role, key) for w in wards]
        )
        for part in parts:
            if part in data.counts:
                found = True
                concealed = concealed or part in data.hidden
                total.add(data.counts[part])
    if not found:
        return None
    small = too_small(total.people, data.min_size) or too_small(total.answering, data.min_size)
    if concealed or (key not in data.section_keys and small):
        return HIDDEN_CELL
    rate = compliance_rate(total.complies, total.not_complies, data.rounding)
    return Cell(
        "shown" if rate is not None else "empty",
        total.complies,
        total.not_complies,
        total.not_applicable,
        rate,
    )


def _round_cells(
    data: _YearCounts, wanted: dict[tuple[int, int], int], fiscal_years: tuple[int, ...]
) -> dict[tuple[str, Role, int], Cell]:
    """Every year's cells from the rounds' counts, by standard key and role."""
    cells: dict[tuple[str, Role, int], Cell] = {}
    for year in fiscal_years:
        by_round: dict[int, list[int]] = defaultdict(list)
        for (y, ward), round_id in wanted.items():
            if y == year:
                by_round[round_id].append(ward)
        for key in data.rounds.latest:
            for role in ROLES:
                cell = _year_cell(data, by_round, key, role)
                if cell is not None:
                    cells[(key, role, year)] = cell
    return cells


def _add_published(
    cells: dict[tuple[str, Role, int], Cell],
    latest: dict[str, TrendStandard],
    published: dict[int, PublishedFigures],
    fiscal_years: tuple[int, ...],
) -> None:
    """The published tables' rates, in the years shown, and the standards only they have."""
    for year, figures in published.items():
        if year not in fiscal_years:
            continue
        for key, role in figures.rates:
            cells[(key, role, year)] = published_cell(figures, key, role)
            if key not in latest and key in figures.numbers:
                latest[key] = TrendStandard(
                    key, figures.numbers[key], figures.texts[key], key in figures.section_level
                )


def compliance_trend(
    ward_ids: Iterable[int] | None = None, years: int = 10, *, now: datetime | None = None
) -> Trend:
    """The compliance rate of each standard (by key) and role over the last ``years`` fiscal
    years of closed rounds, for the wards ``ward_ids`` (None: every ward).

    Counted by ONE query over the closed rounds' counts (``tally``; a closed round not yet
    counted is counted first, and the caller commits), grouped by round, ward, role and
    standard key, so the rows number rounds × wards × standards, never people. Same rate
    rule and small-group rule as a round's table: a cell built from fewer than
    ``MIN_GROUP_SIZE`` people is hidden, and so is a ward that the round's table hides to
    protect a sibling ward; a sum over several wards is hidden when one
    of them is, unless it is the whole round (then it is the round's own total). Section-level
    answers are shown whatever their count. A ward answered in two rounds of one fiscal year
    counts in the one that closed last.
    """
    min_size, rounding = settings()
    now = now or utcnow()
    ensure_counted(
        db.session.scalars(sa.select(Round.id).where(Round.closed_by(now))).all(), now
    )
    rows = counts_by_ward(now)
    rounds = _closed_rounds(now)
    allowed = None if ward_ids is None else set(ward_ids)
    wanted = {
        (year, ward): round_id
        for (year, ward), round_id in rounds.chosen.items()
        if allowed is None or ward in allowed
    }
    published = _published_tables(allowed, wanted)
    all_years = sorted({year for year, _ward in wanted} | set(published))
    fiscal_years = tuple(all_years[-years:] if years > 0 else ())

    counts = _round_counts(rows, rounds, fiscal_years)
    section_keys = {k for k, s in rounds.latest.items() if s.section_level}
    hidden = _hidden(counts, rounds, fiscal_years, section_keys, min_size)
    data = _YearCounts(counts, hidden, rounds, section_keys, min_size, rounding)
    cells = _round_cells(data, wanted, fiscal_years)
    _add_published(cells, rounds.latest, published, fiscal_years)
    keys_in_years = {key for (key, _role, _year) in cells}
    standards = tuple(sorted(
        (s for k, s in rounds.latest.items() if k in keys_in_years),
        key=lambda s: (s.section_level, s.number, s.key),
    ))
    return Trend(fiscal_years, standards, min_size, rounding, cells)
