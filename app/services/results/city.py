"""The whole city: the city's shared standards (1-28 of its catalogue, by key) across the
wards' closed rounds of one fiscal year, for a committee member whose grant covers every ward.

Every number comes from the closed rounds' counts (``app.services.results.tally``), never from live
answers and never from published tables (they have no counts). A ward answered in two rounds
of one fiscal year counts in the one that closed last. The city's rate is worked out from the
counts: the sum of できている over the sum of できている + できていない across the wards, not
an average of the wards' rates.

One publication rule for a ward's figure: the city page shows a ward's cell exactly when the
ward's own round page shows it (``app.services.results.compliance`` hides a cell of fewer
than ``MIN_GROUP_SIZE`` people or answers, and in a round of several wards a ward that covers
another), and the same reader reads both. So no ward is hidden here to cover another: a
figure its own page shows stays known. The city's cell, the sum of the wards', is hidden as
soon as one ward's is (``reports.privacy.suppress``, ``open_totals``): beside the wards' own
pages the city minus the wards shown would give the hidden ones, and over time (a small
ward's round closing after the page was read) the city after minus the city before would
give the ward that joined. The "all standards" line of a ward or of the city, the sum of its
person-level standards, is hidden the same way. Section-level answers are statements about
sections and are never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import Audience, Catalogue, Role, Round, Standard, Ward, round_ward, utcnow
from app.services.results.compliance import (
    HIDDEN_CELL,
    NOT_ASKED,
    Cell,
    ResultsError,
    round_results,
    settings,
    std_column,
)
from app.services.results.tally import counts_by_ward, ensure_counted, ward_names_at_close
from app.services.rounds.audience import ROLES, asked_roles
from reports.privacy import suppress, too_small
from reports.rates import Rounding, compliance_rate

# The shared standards: numbers 1-28 of the city's catalogue (29 and later are each ward's).
SHARED_NUMBERS = range(1, 29)
# The group of the whole city in the cells (ward ids are positive).
CITY = 0
# The column of all person-level standards together (no standard key can be "*").
ALL_STANDARDS = "*"

# (group: CITY or a ward id, role, standard key or ALL_STANDARDS)
CityKey = tuple[int, Role, str]


@dataclass(frozen=True)
class CityStandard:
    """One shared standard, by key, with the number and text of the city's catalogue."""

    key: str
    number: int
    text: str
    scene: str
    section_level: bool


@dataclass(frozen=True)
class CityWard:
    """A ward of the city and the round its figures come from (None: no closed round)."""

    id: int
    name: str
    round_id: int | None
    round_title: str | None


@dataclass(frozen=True)
class CityResults:
    """The city page: per shared standard, each ward's rate and the city's, per role."""

    fiscal_year: int
    fiscal_years: tuple[int, ...]
    standards: tuple[CityStandard, ...]
    wards: tuple[CityWard, ...]
    min_group_size: int
    rounding: Rounding
    cells: dict[CityKey, Cell] = field(default_factory=dict)
    # The rounds the figures come from, each with all its wards (for the audit log's rows).
    rounds: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def cell(self, group: int, role: Role, key: str) -> Cell:
        """A ward's (or the city's) cell; "-" where nobody of the role answered it."""
        return self.cells.get((group, role, key), NOT_ASKED)

    @property
    def wards_with_rounds(self) -> tuple[CityWard, ...]:
        """The wards that have a closed round in the year."""
        return tuple(w for w in self.wards if w.round_id is not None)

    def lowest_city_rate(self) -> Decimal | None:
        """The lowest rate shown in the table (for the chart's axis)."""
        rates = [c.rate for c in self.cells.values() if c.state == "shown" and c.rate is not None]
        return min(rates, default=None)


class CityYearError(ResultsError):
    """The fiscal year asked for has no closed round."""

    status = 404


def city_years(now: datetime | None = None) -> list[int]:
    """The fiscal years with at least one closed round, newest first."""
    now = now or utcnow()
    years = db.session.scalars(
        sa.select(Round.fiscal_year).where(Round.closed_by(now)).distinct()
    ).all()
    return sorted(years, reverse=True)


def city_results(fiscal_year: int | None = None, now: datetime | None = None) -> CityResults:
    """The city page for ``fiscal_year`` (None: the latest year with a closed round).

    Counts the year's closed rounds that are not counted yet (the caller commits). Raises
    ``CityYearError`` when the year has no closed round.
    """
    now = now or utcnow()
    years = city_years(now)
    year = years[0] if fiscal_year is None and years else fiscal_year
    if year is None or year not in years:
        raise CityYearError(_no_year_message())
    min_size, rounding = settings()
    chosen, round_wards, titles = _chosen_rounds(year, now)
    standards = _shared_standards(year)
    counts = _ward_counts(chosen, standards, now)
    joint = {r for r, wards in round_wards.items() if len(wards) > 1}
    hidden_on_pages = _hidden_on_ward_pages(chosen, joint, standards)
    cells = _city_cells(counts, standards, hidden_on_pages, min_size, rounding)
    # A ward with a round is named and placed as at that round's close; the others as now.
    at_close = ward_names_at_close(chosen)
    today = db.session.execute(sa.select(Ward.id, Ward.name, Ward.sort_order)).all()
    named = {w: at_close.get(w, (name, order)) for w, name, order in today}
    wards = tuple(
        CityWard(w, named[w][0], chosen.get(w), titles.get(chosen.get(w, -1)))
        for w in sorted(named, key=lambda w: (named[w][1], w))
    )
    rounds = {r: tuple(sorted(round_wards[r])) for r in sorted(set(chosen.values()))}
    return CityResults(
        year, tuple(years), tuple(standards), wards, min_size, rounding, cells, rounds
    )


def _no_year_message() -> str:
    return str(_("この年度に締め切られた調査はありません。"))


def _chosen_rounds(
    fiscal_year: int, now: datetime
) -> tuple[dict[int, int], dict[int, set[int]], dict[int, str]]:
    """Per ward, the year's counted round that closed last; each round's wards; the titles.
    Closed rounds not counted yet are counted first."""
    closed = db.session.scalars(
        sa.select(Round.id).where(Round.fiscal_year == fiscal_year, Round.closed_by(now))
    ).all()
    ensure_counted(closed, now)
    rows = db.session.execute(
        sa.select(Round.id, Round.title, round_ward.c.ward_id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .where(Round.id.in_(closed), Round.counted_at.is_not(None))
        .order_by(Round.closes_at, Round.id)
    ).all()
    chosen: dict[int, int] = {}
    round_wards: dict[int, set[int]] = defaultdict(set)
    titles: dict[int, str] = {}
    for round_id, title, ward_id in rows:
        chosen[ward_id] = round_id  # ordered by close: the last one wins
        round_wards[round_id].add(ward_id)
        titles[round_id] = title
    return chosen, round_wards, titles


def _shared_standards(fiscal_year: int) -> list[CityStandard]:
    """Standards 1-28 of the city's catalogue of the year (or of the latest earlier year, or
    else the earliest one there is), in its order."""
    city = sa.select(Catalogue.id, Catalogue.fiscal_year).where(Catalogue.ward_id.is_(None))
    catalogues = db.session.execute(city.order_by(Catalogue.fiscal_year, Catalogue.id)).all()
    if not catalogues:
        return []
    earlier = [c for c in catalogues if c.fiscal_year <= fiscal_year]
    catalogue_id = (earlier[-1] if earlier else catalogues[0]).id
    standards = db.session.scalars(
        sa.select(Standard)
        .where(Standard.catalogue_id == catalogue_id, Standard.number.in_(SHARED_NUMBERS))
        .order_by(Standard.position)
    ).all()
    return [
        CityStandard(s.key, s.number, s.text, s.scene, s.audience is Audience.SECTION)
        for s in standards
    ]


# [complies, does not comply, not applicable]
_Tally = list[int]


def _ward_counts(
    chosen: dict[int, int], standards: Sequence[CityStandard], now: datetime
) -> dict[CityKey, _Tally]:
    """Each ward's counts per role and shared standard, from its chosen round only, for the
    roles the standard is asked of; and the city's, their sum."""
    asked = {
        s.key: asked_roles(Audience.SECTION if s.section_level else Audience.EVERYONE, False, None)
        for s in standards
    }
    counts: dict[CityKey, _Tally] = defaultdict(lambda: [0, 0, 0])
    for round_id, ward_id, role, key, yes, no, na in counts_by_ward(now):
        if role not in asked.get(key, frozenset()) or chosen.get(ward_id) != round_id:
            continue
        for group in (ward_id, CITY):
            tally = counts[(group, role, key)]
            tally[0] += yes
            tally[1] += no
            tally[2] += na
    return dict(counts)


def _hidden_on_ward_pages(
    chosen: dict[int, int], joint: set[int], standards: Sequence[CityStandard]
) -> set[CityKey]:
    """The wards' cells that their own round's page hides (``round_results``, the round's one
    publication rule), per role and shared person-level standard, where that page can hide
    more than the small-group rule does here: a round of several wards hides a ward to cover
    another (``joint``: the rounds of several wards). A round of one ward is that ward's
    whole, and its page hides the ward's cell for being small only (the same ``suppress`` on
    the same counts; tests/results/test_city.py compares every ward's cell with its page), so
    its results are not built for the city."""
    keys = [s.key for s in standards if not s.section_level]
    hidden: set[CityKey] = set()
    for round_id in sorted(set(chosen.values()) & joint):
        results = round_results(round_id, with_previous=False)
        for group in results.groups:
            if group.level != "ward" or group.ward_id is None:
                continue
            if chosen.get(group.ward_id) != round_id:
                continue
            hidden.update(
                (group.ward_id, role, key)
                for role in ROLES
                for key in keys
                if results.cell(group.key, std_column(key), role).state == "hidden"
            )
    return hidden


def _city_cells(
    counts: dict[CityKey, _Tally],
    standards: Sequence[CityStandard],
    hidden_on_pages: set[CityKey],
    min_size: int,
    rounding: Rounding,
) -> dict[CityKey, Cell]:
    """The rates: a ward's cell hidden where its own page hides it; the city's, and every "all
    standards" line, hidden where one of its parts is."""
    person_keys = [s.key for s in standards if not s.section_level]
    sizes = {k: sum(t) for k, t in counts.items()}
    answering = {k: t[0] + t[1] for k, t in counts.items()}
    # All standards: built from as many people as its most answered standard (a lower bound).
    groups = sorted({k[0] for k in counts})  # CITY and the wards
    wards = [g for g in groups if g != CITY]
    for group in groups:
        for role in ROLES:
            parts = [(group, role, key) for key in person_keys if (group, role, key) in counts]
            if parts:
                total = (group, role, ALL_STANDARDS)
                counts[total] = [sum(counts[p][i] for p in parts) for i in range(3)]
                sizes[total] = max(sizes[p] for p in parts)
                answering[total] = max(answering[p] for p in parts)
    exempt = {k for k in counts if k[2] not in {*person_keys, ALL_STANDARDS}}
    columns = sorted({(role, key) for (_g, role, key) in counts}, key=lambda c: (c[0].value, c[1]))
    hidden = suppress(
        sizes,
        [],
        min_size,
        exempt=exempt,
        also_hide=hidden_on_pages
        | {k for k, n in answering.items() if too_small(n, min_size) and k not in exempt},
        open_totals=[
            ((CITY, role, key), [(w, role, key) for w in wards]) for role, key in columns
        ]
        + [
            ((group, role, ALL_STANDARDS), [(group, role, key) for key in person_keys])
            for group in groups
            for role in ROLES
        ],
    )
    cells: dict[CityKey, Cell] = {}
    for key, (yes, no, na) in counts.items():
        if key in hidden:
            cells[key] = HIDDEN_CELL
            continue
        rate = compliance_rate(yes, no, rounding)
        cells[key] = Cell("shown" if rate is not None else "empty", yes, no, na, rate)
    return cells
