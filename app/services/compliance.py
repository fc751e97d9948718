"""Compliance results (遵守率) of a round: the annual report's table, breakdowns and progress.

The rule (../shared/DOMAIN.md, reports/rates.py): per standard and role, rate = complies ÷
(complies + does not comply) × 100, not-applicable excluded, to one decimal, rounded as the
``RATE_ROUNDING`` setting says (``half_up`` 四捨五入 by default, or ``down`` 切り捨て). Only
submitted responses count; drafts never do. A cell shows "-" where the standard is not asked
of that role or nobody could answer it. Section-level standards count one answer per section
(the chief's, in a submitted response) and are given in the 所属長 column.

Counting is done by the database: a handful of GROUP BY queries per round (answers by section,
role and standard; respondents by section, role and scene; section answers by section and
standard; people expected and responses submitted by section and role). Their rows number
sections × standards, never people; rolling sections up into departments, wards and the whole
round, and standards up into scenes, is done over those rows. The number of queries is the
same whatever the number of people or sections.

Small groups (reports/privacy.py): every published cell (a group × a standard, scene or all
standards × a role, and every response rate) built from at least one but fewer than
``MIN_GROUP_SIZE`` people (default 5, never below 3) is hidden, and so is whatever other cell
would let a hidden one be worked out from a published total (a department from its ward, a
section from its department); a standard that could be worked out from its scene's total
hides the scene's cell (and the all-standards cell) instead. Hidden cells carry no counts at all,
so no page, chart, API answer or export built on these results can leak them. Section-level
answers are statements about a section and are shown whatever their count.

Year over year: the previous round is the same wards' round of the previous fiscal year; its
standards are matched by key, so a renumbered or reworded standard keeps its history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.config import check_results_settings
from app.extensions import db
from app.i18n import localized_datetime
from app.models import (
    Audience,
    Catalogue,
    Department,
    Role,
    Round,
    RoundState,
    Section,
    Standard,
    Ward,
    round_state,
    round_ward,
    utcnow,
)
from app.services.audience import ROLES, asked_roles
from app.services.errors import DomainError
from app.services.published import PublishedFigures, published_figures, published_years
from app.services.tally import (
    answer_counts,
    counts_by_ward,
    ensure_counted,
    headcounts,
    submitted_by_day,
)
from reports.privacy import suppress
from reports.rates import (
    HIDDEN,
    NO_RATE,
    Rounding,
    compliance_rate,
    format_rate,
    percentage,
)

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
    shown yet, only its response progress (app/services/tally.py says why)."""

    status = 409
    code = "not_final"


def not_final_message(info: RoundInfo, now: datetime | None = None) -> str:
    """Why a round's compliance results are not shown yet, in plain Japanese."""
    if info.state(now) == "upcoming":
        return _("この調査はまだ受付が始まっていません。遵守率は締め切りのあとに表示します。")
    if info.state(now) == "open":
        return _(
            "この調査は受付中です。遵守率は締め切り（%(when)s）のあとに表示します。"
            "回答中の人の回答が、前後の表を見比べて分からないようにするためです。",
            when=localized_datetime(info.closes_at),
        )
    return _("この調査は締め切られ、いま集計しています。少し待ってから開き直してください。")


# --- What the results are made of -------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One published rate. Hidden cells carry no counts."""

    state: CellState
    complies: int | None = None
    not_complies: int | None = None
    not_applicable: int | None = None
    rate: Decimal | None = None
    # From a published table (app/services/published.py): a rate without counts.
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
    counted: bool = False  # its counts are written (app/services/tally.py): results are final

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
class _Counts:
    complies: int = 0
    not_complies: int = 0
    not_applicable: int = 0
    people: int = 0  # respondents to the item (any answer); scenes: distinct respondents
    answering: int = 0  # of them, answered complies or does not comply

    def add(self, other: _Counts) -> None:
        self.complies += other.complies
        self.not_complies += other.not_complies
        self.not_applicable += other.not_applicable
        self.people += other.people
        self.answering += other.answering


CellKey = tuple[str, str, Role]  # (group key, column, role)


@dataclass
class _Cube:
    """Suppressed cells and response rates of one round."""

    round: RoundInfo
    groups: dict[str, Group]
    order: list[str]
    standards: list[StandardInfo]
    cells: dict[CellKey, Cell]
    responses: dict[tuple[str, Role | None], ResponseRate]


@dataclass
class RoundResults:
    """The results of a round as the committee reads them, small groups already hidden."""

    round: RoundInfo
    previous: RoundInfo | None
    groups: tuple[Group, ...]
    standards: tuple[StandardInfo, ...]
    scenes: tuple[str, ...]
    min_group_size: int
    rounding: Rounding
    _cube: _Cube = field(repr=False)
    _previous_cube: _Cube | None = field(repr=False, default=None)
    # Last fiscal year's published tables by ward, read only when there is no previous
    # round at all (app/services/published.py).
    published: Mapping[int, PublishedFigures] = field(default_factory=dict)

    # --- Reading ---

    @property
    def final(self) -> bool:
        """The round has closed and been counted: its compliance cells are shown (and never
        change). Before that only the response rates are."""
        return self.round.counted

    def group(self, key: str) -> Group:
        """A visible group; ResultsError for one that does not exist or is not visible."""
        for group in self.groups:
            if group.key == key:
                return group
        raise ResultsError(_("この集計単位は表示できません。"))

    @property
    def top(self) -> Group:
        """The widest group the reader may see: the whole round, or their ward."""
        return self.groups[0]

    def cell(self, group_key: str, column: str, role: Role) -> Cell:
        return self._cube.cells.get((group_key, column, role), NOT_ASKED)

    def response_rate(self, group_key: str, role: Role | None = None) -> ResponseRate:
        return self._cube.responses.get((group_key, role), ResponseRate("empty"))

    def previous_group_key(self, group_key: str) -> str | None:
        """The same group in last year's round, or None when it cannot be compared."""
        prev = self._previous_cube
        if prev is None:
            return None
        if group_key == ALL:
            if set(prev.round.ward_ids) == set(self.round.ward_ids):
                return ALL
            if len(self.round.ward_ids) == 1:
                key = f"ward:{self.round.ward_ids[0]}"
                return key if key in prev.groups else None
            return None
        return group_key if group_key in prev.groups else None

    @property
    def previous_year(self) -> int:
        return self.round.fiscal_year - 1

    def previous_published(self, group_key: str) -> PublishedFigures | None:
        """The published table that gives a group its 前年度 columns when there is no
        previous round: a ward's own (or the whole round's, when it has one ward). Never a
        department, a section or several wards: a table without counts cannot be split or
        added up."""
        if self.previous is not None or not self.published:
            return None
        group = next((g for g in self.groups if g.key == group_key), None)
        if group is None:
            return None
        if group.level == "ward" and group.ward_id is not None:
            return self.published.get(group.ward_id)
        if group.level == "all" and len(self.round.ward_ids) == 1:
            return self.published.get(self.round.ward_ids[0])
        return None

    def compared(self, group_key: str) -> bool:
        """True when the group's table has last year's columns (a round's or a published
        table's)."""
        if self.previous is not None:
            return self.previous_group_key(group_key) is not None
        return self.previous_published(group_key) is not None

    def require_final(self) -> None:
        """ResultsNotFinal unless the round is final: every table, sheet and file asks."""
        if not self.final:
            raise ResultsNotFinal(not_final_message(self.round))

    def table(self, group_key: str = ALL) -> list[StandardRow]:
        """The report's table (seed 000, section 3) for a group, in catalogue order."""
        self.require_final()
        self.group(group_key)
        prev_key = self.previous_group_key(group_key)
        prev_by_key = (
            {s.key: s for s in self._previous_cube.standards}
            if self._previous_cube is not None
            else {}
        )
        published = self.previous_published(group_key)
        rows = []
        for standard in self.standards:
            current = {
                role: self.cell(group_key, std_column(standard.key), role) for role in ROLES
            }
            previous: dict[Role, Cell] | None = None
            before = prev_by_key.get(standard.key)
            previous_number = before.number if before else None
            previous_text = before.text if before else None
            if prev_key is not None and self._previous_cube is not None:
                cells = self._previous_cube.cells
                previous = {
                    role: cells.get((prev_key, std_column(standard.key), role), NOT_ASKED)
                    for role in ROLES
                }
            elif published is not None:
                previous = {role: _published_cell(published, standard.key, role) for role in ROLES}
                previous_number = published.numbers.get(standard.key)
                previous_text = published.texts.get(standard.key)
            rows.append(
                StandardRow(
                    standard=standard,
                    current=current,
                    previous=previous,
                    previous_number=previous_number,
                    previous_text=previous_text,
                    previous_imported=published is not None,
                )
            )
        return rows

    def breakdown(self, level: Level, role: Role) -> list[GroupRow]:
        """One row per visible group of a level, in the organisation's order."""
        rows = []
        for group in self.groups:
            if group.level != level:
                continue
            rows.append(
                GroupRow(
                    group=group,
                    response=self.response_rate(group.key, role),
                    overall=self.cell(group.key, ALL, role),
                    scenes={
                        scene: self.cell(group.key, scene_column(scene), role)
                        for scene in self.scenes
                    },
                    standards={
                        s.key: self.cell(group.key, std_column(s.key), role)
                        for s in self.standards
                    },
                )
            )
        return rows

    def lowest(self, role: Role, group_key: str = ALL, count: int = 10) -> list[StandardRow]:
        """The standards with the lowest shown rate for a role, lowest first."""
        rows = [r for r in self.table(group_key) if r.current[role].rate is not None]
        rows.sort(key=lambda r: (r.current[role].rate, r.standard.number))
        return rows[:count]


def _published_cell(figures: PublishedFigures, key: str, role: Role) -> Cell:
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


def round_results(
    round_id: int,
    ward_ids: Iterable[int] | None = None,
    *,
    with_previous: bool = True,
    now: datetime | None = None,
) -> RoundResults:
    """The results of a round, for a reader who may see ``ward_ids`` (None: every ward).

    A closed round is counted first if it has not been yet (``tally.ensure_counted``; the
    caller commits). A round that has not closed has no compliance cells, only its response
    rates (``RoundResults.final`` is False). Last year's round is compared only once it is
    final too. Raises ResultsError when the round does not exist or covers none of the
    reader's wards.
    """
    min_size, rounding = settings()
    info = _round_info(round_id)
    if info is None:
        raise ResultsError(_("調査が見つかりません。"))
    allowed = None if ward_ids is None else set(ward_ids)
    if allowed is not None and not allowed & set(info.ward_ids):
        raise ResultsError(_("この調査の結果を見る権限がありません。"))
    previous = _previous_round(info) if with_previous else None
    # With no round last year at all, the ward's published table of that year stands in.
    published = (
        published_figures(info.ward_ids, [info.fiscal_year - 1])
        if with_previous and previous is None
        else {}
    )
    wanted = [info.id] + ([previous.id] if previous is not None else [])
    if not info.counted or (previous is not None and not previous.counted):
        ensure_counted(wanted, now)
        info = _round_info(round_id) or info
        previous = _round_info(previous.id) if previous is not None else None
    if previous is not None and not (info.counted and previous.counted):
        previous = None
    cube = _build_cube(info, min_size, rounding)
    previous_cube = _build_cube(previous, min_size, rounding) if previous is not None else None
    visible = [
        cube.groups[key]
        for key in cube.order
        if allowed is None
        or (key == ALL and allowed >= set(info.ward_ids))
        or (key != ALL and cube.groups[key].ward_id in allowed)
    ]
    scenes = tuple(dict.fromkeys(s.scene for s in cube.standards if not s.section_level))
    return RoundResults(
        round=info,
        previous=previous,
        groups=tuple(visible),
        standards=tuple(cube.standards),
        scenes=scenes,
        min_group_size=min_size,
        rounding=rounding,
        _cube=cube,
        _previous_cube=previous_cube,
        published={ward: figures for (ward, _year), figures in published.items()},
    )


def final_results(
    round_id: int,
    ward_ids: Iterable[int] | None = None,
    *,
    with_previous: bool = True,
    now: datetime | None = None,
) -> RoundResults:
    """``round_results`` of a round that is final; ResultsNotFinal (409) for one that has not
    closed or is still being counted. Every export, API answer and sheet goes through it."""
    results = round_results(round_id, ward_ids, with_previous=with_previous, now=now)
    if not results.final:
        raise ResultsNotFinal(not_final_message(results.round, now))
    return results


def _round_info(round_id: int) -> RoundInfo | None:
    """One query: the round, its catalogue and its wards."""
    rows = db.session.execute(
        sa.select(
            Round.id,
            Round.title,
            Round.fiscal_year,
            Round.opens_at,
            Round.closes_at,
            Round.counted_at,
            Catalogue.key,
            Catalogue.title,
            Ward.id,
            Ward.name,
        )
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .join(Ward, Ward.id == round_ward.c.ward_id)
        .where(Round.id == round_id)
        .order_by(Ward.sort_order, Ward.id)
    ).all()
    if not rows:
        return None
    first = rows[0]
    return RoundInfo(
        id=first[0],
        title=first[1],
        fiscal_year=first[2],
        opens_at=first[3],
        closes_at=first[4],
        catalogue_key=first[6],
        catalogue_title=first[7],
        ward_ids=tuple(r[8] for r in rows),
        ward_names=tuple(r[9] for r in rows),
        counted=first[5] is not None,
    )


def _previous_round(info: RoundInfo) -> RoundInfo | None:
    """Last fiscal year's round sharing the most wards with this one (latest close wins)."""
    shared = sa.func.count(round_ward.c.ward_id)
    row = db.session.execute(
        sa.select(Round.id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .where(
            Round.fiscal_year == info.fiscal_year - 1,
            round_ward.c.ward_id.in_(info.ward_ids),
        )
        .group_by(Round.id, Round.closes_at)
        .order_by(shared.desc(), Round.closes_at.desc(), Round.id.desc())
        .limit(1)
    ).first()
    return _round_info(row[0]) if row else None


def _standards(info: RoundInfo) -> list[StandardInfo]:
    """One query: the catalogue's standards in order, with whom each is asked of."""
    rows = db.session.execute(
        sa.select(
            Standard.key,
            Standard.number,
            Standard.text,
            Standard.scene,
            Standard.audience,
            Standard.ward_specific,
            Catalogue.ward_id,
        )
        .join(Catalogue, Catalogue.id == Standard.catalogue_id)
        .where(Catalogue.key == info.catalogue_key)
        .order_by(Standard.position, Standard.number)
    ).all()
    standards = []
    for key, number, text, scene, audience, ward_specific, catalogue_ward in rows:
        asked = asked_roles(audience, ward_specific, catalogue_ward)
        standards.append(
            StandardInfo(key, number, text, scene, audience, ward_specific, asked)
        )
    return standards


def _organisation(info: RoundInfo) -> tuple[dict[str, Group], list[str], dict[int, list[str]]]:
    """One query: the groups of the round's wards in the organisation's order, and for each
    section the keys of the groups it belongs to (itself, its department, its ward, all)."""
    rows = db.session.execute(
        sa.select(
            Section.id,
            Section.name,
            Department.id,
            Department.name,
            Ward.id,
            Ward.name,
        )
        .join(Ward, Ward.id == Section.ward_id)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(Section.ward_id.in_(info.ward_ids))
        .order_by(
            Ward.sort_order,
            Ward.id,
            Department.id.is_not(None),  # sections directly under the ward come first
            Department.sort_order,
            Department.id,
            Section.sort_order,
            Section.id,
        )
    ).all()
    everyone = _("全体") if len(info.ward_ids) > 1 else info.ward_names[0]
    groups: dict[str, Group] = {ALL: Group(ALL, "all", everyone, None)}
    order = [ALL]
    belongs: dict[int, list[str]] = {}
    for section_id, section_name, dept_id, dept_name, ward_id, ward_name in rows:
        ward_key = f"ward:{ward_id}"
        if ward_key not in groups:
            groups[ward_key] = Group(
                ward_key, "ward", ward_name, ALL, ward_id, None, None, ward_name
            )
            order.append(ward_key)
        dept_key = f"department:{dept_id}" if dept_id else f"department:{ward_id}:direct"
        if dept_key not in groups:
            name = dept_name or _("部に属さない課")
            groups[dept_key] = Group(
                dept_key, "department", name, ward_key, ward_id, dept_id, None, ward_name, name
            )
            order.append(dept_key)
        section_key = f"section:{section_id}"
        groups[section_key] = Group(
            section_key,
            "section",
            section_name,
            dept_key,
            ward_id,
            dept_id,
            section_id,
            ward_name,
            groups[dept_key].name,
        )
        order.append(section_key)
        belongs[section_id] = [section_key, dept_key, ward_key, ALL]
    return groups, order, belongs


def _merge(totals: dict[Any, list[int]], key: Any, counts: Sequence[int]) -> None:
    """Add ``counts`` ([yes, no, na, people, answering]) to ``totals[key]``."""
    total = totals.get(key)
    if total is None:
        totals[key] = list(counts)
    else:
        total[0] += counts[0]
        total[1] += counts[1]
        total[2] += counts[2]
        total[3] += counts[3]
        total[4] += counts[4]


def _build_cube(info: RoundInfo, min_size: int, rounding: Rounding) -> _Cube:
    """Count a round in the database, roll it up and hide the small groups."""
    standards = _standards(info)
    groups, order, belongs = _organisation(info)
    # Counts per section first ([yes, no, na, people, answering]), then rolled up level by
    # level below, rather than adding every answer row to each of its four groups. Only a
    # final (closed and counted) round has any; its rows number sections × standards.
    by_section: dict[tuple[int, str, Role], list[int]] = {}
    # Each standard's column and scene, worked out once rather than per row.
    columns_of = {
        s.key: (std_column(s.key), scene_column(s.scene), s.asked, s.section_level)
        for s in standards
    }
    for section_id, role, key, yes, no, na in answer_counts(info.id) if info.counted else ():
        column, scene, asked, section_level = columns_of.get(key, ("", "", frozenset(), False))
        if role not in asked:
            continue
        item = (yes, no, na, yes + no + na, yes + no)
        _merge(by_section, (section_id, column, role), item)
        if not section_level:
            answers_only = (yes, no, na, 0, 0)
            _merge(by_section, (section_id, scene, role), answers_only)
            _merge(by_section, (section_id, ALL, role), answers_only)

    # Sections add up to departments, departments to wards, wards to the whole round.
    level: dict[CellKey, list[int]] = {
        (f"section:{section_id}", column, role): section_counts
        for (section_id, column, role), section_counts in by_section.items()
        if section_id in belongs
    }
    rolled = dict(level)
    while level:
        parents: dict[CellKey, list[int]] = {}
        for (group_key, column, role), group_counts in level.items():
            parent = groups[group_key].parent_key
            if parent is not None:
                _merge(parents, (parent, column, role), group_counts)
        rolled.update(parents)
        level = parents

    # A scene (and all standards) is built from as many people as its most answered standard.
    # A submitted response answers every standard, so this is the number of respondents; for
    # the people whose answers enter the rate it is a lower bound, which errs on the safe side.
    scene_of = {
        std_column(s.key): scene_column(s.scene)
        for s in standards
        if s.asked and not s.section_level
    }
    for (group_key, column, role), cell in list(rolled.items()):
        scene_key = scene_of.get(column)
        if scene_key is None:
            continue
        for total_column in (scene_key, ALL):
            total = rolled[(group_key, total_column, role)]
            total[3] = max(total[3], cell[3])
            total[4] = max(total[4], cell[4])
    counts = {key: _Counts(*c) for key, c in rolled.items()}

    cells = _suppressed_cells(counts, groups, standards, min_size, rounding)
    responses = _response_rates(info, groups, belongs, min_size, rounding)
    return _Cube(info, groups, order, standards, cells, responses)


def _suppressed_cells(
    counts: Mapping[CellKey, _Counts],
    groups: Mapping[str, Group],
    standards: list[StandardInfo],
    min_size: int,
    rounding: Rounding,
) -> dict[CellKey, Cell]:
    person_level = [s for s in standards if not s.section_level and s.asked]
    columns = [std_column(s.key) for s in person_level]
    scenes: dict[str, list[str]] = defaultdict(list)
    for s in person_level:
        scenes[scene_column(s.scene)].append(std_column(s.key))
    columns += [*scenes, ALL]
    children: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        if group.parent_key is not None:
            children[group.parent_key].append(group.key)

    # Groups add up to their parent group; a hidden part is covered by hiding a sibling.
    totals: list[tuple[CellKey, list[CellKey]]] = []
    # Standards add up to their scene, scenes to all standards; the report's table is by
    # standard, so a hidden standard is covered by hiding the scene total instead.
    sums: list[tuple[CellKey, list[CellKey]]] = []
    for role in ROLES:
        for parent, kids in children.items():
            for column in columns:
                totals.append(((parent, column, role), [(k, column, role) for k in kids]))
        for group_key in groups:
            for scene, parts in scenes.items():
                sums.append(((group_key, scene, role), [(group_key, p, role) for p in parts]))
            sums.append(((group_key, ALL, role), [(group_key, s, role) for s in scenes]))
    published = set(columns)
    exempt = {key for key in counts if key[1] not in published}  # section-level standards
    sizes = {key: c.people for key, c in counts.items()}
    few_answering = {
        key for key, c in counts.items() if 0 < c.answering < min_size and key not in exempt
    }
    hidden = suppress(
        sizes, totals, min_size, exempt=exempt, also_hide=few_answering, weak_totals=sums
    )

    cells: dict[CellKey, Cell] = {}
    for key, c in counts.items():
        if key in hidden:
            cells[key] = HIDDEN_CELL
            continue
        rate = compliance_rate(c.complies, c.not_complies, rounding)
        cells[key] = Cell(
            "shown" if rate is not None else "empty",
            c.complies,
            c.not_complies,
            c.not_applicable,
            rate,
        )
    return cells


def _response_rates(
    info: RoundInfo,
    groups: Mapping[str, Group],
    belongs: Mapping[int, list[str]],
    min_size: int,
    rounding: Rounding,
) -> dict[tuple[str, Role | None], ResponseRate]:
    """People expected (the year's roster) and responses submitted, by section
    (``tally.headcounts``: a final round's from its counts), rolled up and small groups hidden."""
    expected: dict[tuple[str, Role | None], int] = defaultdict(int)
    done: dict[tuple[str, Role | None], int] = defaultdict(int)
    for section_id, _ward, role, whole, part in headcounts([(info.id, info.counted)])[info.id]:
        for group_key in belongs.get(section_id, ()):
            for maybe_role in (role, None):
                expected[(group_key, maybe_role)] += whole
                done[(group_key, maybe_role)] += part

    totals: list[tuple[tuple[str, Role | None], list[tuple[str, Role | None]]]] = []
    children: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        if group.parent_key is not None:
            children[group.parent_key].append(group.key)
    for maybe_role in (*ROLES, None):
        for parent, kids in children.items():
            totals.append(((parent, maybe_role), [(k, maybe_role) for k in kids]))
    both_roles = [((group_key, None), [(group_key, r) for r in ROLES]) for group_key in groups]
    hidden = suppress(dict(expected), totals, min_size, weak_totals=both_roles)

    rates: dict[tuple[str, Role | None], ResponseRate] = {}
    for key in set(expected) | set(done):
        if key in hidden:
            rates[key] = ResponseRate("hidden")
            continue
        whole, part = expected.get(key, 0), done.get(key, 0)
        rate = percentage(part, whole, rounding)
        rates[key] = ResponseRate("shown" if rate is not None else "empty", whole, part, rate)
    return rates


# --- Progress over the round ------------------------------------------------------------------


def response_progress(results: RoundResults) -> list[ProgressPoint]:
    """Responses submitted by the end of each day of the round, per role and in all.

    One query (``tally.submitted_by_day``: a final round's from its counts; otherwise by the
    Tokyo day of each latest submission). A series is given only where the reader's top group
    shows the same response rate (role, or None for all): where the chiefs' rate is hidden,
    全体 − 職員 must not give their count, so the total is hidden with it (the response
    rates' own small-group rule decides which).
    """
    info = results.round
    top = results.top
    per_day: dict[date, dict[Role, int]] = defaultdict(lambda: defaultdict(int))
    for day_value, role, number in submitted_by_day(
        info.id, info.counted, None if top.key == ALL else top.ward_id
    ):
        per_day[day_value][role] += number
    series: tuple[Role | None, ...] = (*ROLES, None)
    shown = {
        role: results.response_rate(top.key, role).state != "hidden" for role in series
    }
    points = []
    running: dict[Role, int] = defaultdict(int)
    for day_value in sorted(per_day):
        for role in ROLES:
            running[role] += per_day[day_value][role]
        submitted: dict[Role | None, int | None] = {
            role: running[role] if shown[role] else None for role in ROLES
        }
        submitted[None] = sum(running.values()) if shown[None] else None
        points.append(ProgressPoint(day_value, submitted))
    return points


# --- Rounds the committee may read ------------------------------------------------------------


@dataclass(frozen=True)
class RoundOverview:
    """A round in the committee's list; the counts are None when the group is too small."""

    round: RoundInfo
    expected: int | None
    submitted: int | None
    rate: Decimal | None


def rounds_for_committee(
    ward_ids: Iterable[int] | None, now: datetime | None = None
) -> list[RoundOverview]:
    """The rounds covering the reader's wards (None: every ward), newest first, with their
    overall response rate over those wards (``tally.headcounts``: a closed round's from its
    counts, which are written first if need be; the caller commits). A handful of queries,
    whatever the number of rounds."""
    min_size, rounding = settings()
    allowed = None if ward_ids is None else set(ward_ids)
    rows = db.session.execute(
        sa.select(
            Round.id, Round.title, Round.fiscal_year, Round.opens_at, Round.closes_at,
            Round.counted_at, Catalogue.key, Catalogue.title, Ward.id, Ward.name,
        )
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .join(Ward, Ward.id == round_ward.c.ward_id)
        .order_by(Round.opens_at.desc(), Round.id.desc(), Ward.sort_order, Ward.id)
    ).all()
    wards: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        wards[row[0]].append((row[8], row[9]))
    visible = [
        round_id for round_id, ids in wards.items()
        if allowed is None or any(w in allowed for w, _name in ids)
    ]
    ensure_counted(visible, now)
    counted = set(
        db.session.scalars(
            sa.select(Round.id).where(Round.id.in_(visible), Round.counted_at.is_not(None))
        )
    ) if visible else set()
    infos: dict[int, RoundInfo] = {}
    for row in rows:
        round_id = row[0]
        if round_id in visible and round_id not in infos:
            infos[round_id] = RoundInfo(
                round_id, row[1], row[2], row[3], row[4], row[6], row[7],
                tuple(w for w, _n in wards[round_id]), tuple(n for _w, n in wards[round_id]),
                counted=round_id in counted,
            )
    heads = headcounts([(round_id, round_id in counted) for round_id in infos])
    overviews = []
    for round_id, info in infos.items():
        whole = part = 0
        for _section, ward_id, _role, expected, submitted in heads.get(round_id, ()):
            if allowed is None or ward_id in allowed:
                whole, part = whole + expected, part + submitted
        if 0 < whole < min_size:
            overviews.append(RoundOverview(info, None, None, None))
        else:
            overviews.append(RoundOverview(info, whole, part, percentage(part, whole, rounding)))
    return overviews


# --- The trend over the years -----------------------------------------------------------------


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
    rw = round_ward
    ensure_counted(
        db.session.scalars(sa.select(Round.id).where(Round.closed_by(now))).all(), now
    )
    rows = counts_by_ward(now)
    # The rounds, their wards and standards: one query (a handful of rows per round).
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
    round_year: dict[int, int] = {}
    round_wards: dict[int, set[int]] = defaultdict(set)
    asked: dict[int, dict[str, frozenset[Role]]] = defaultdict(dict)
    latest: dict[str, TrendStandard] = {}
    chosen: dict[tuple[int, int], int] = {}  # (fiscal year, ward) -> the round that closed last
    for (
        round_id, year, _closes, ward_id, key, number, text, audience, ward_specific, cat_ward
    ) in meta:
        round_year[round_id] = year
        round_wards[round_id].add(ward_id)
        chosen[(year, ward_id)] = round_id  # ordered by close: the last one wins
        section = Audience(audience) is Audience.SECTION
        roles = asked_roles(audience, ward_specific, cat_ward)
        asked[round_id][key] = roles
        latest[key] = TrendStandard(key, number, text, section)
    allowed = None if ward_ids is None else set(ward_ids)
    wanted = {
        (year, ward): round_id
        for (year, ward), round_id in chosen.items()
        if allowed is None or ward in allowed
    }
    # A trend of one ward also reads its published tables of the years it has no round of
    # (rates without counts: they cannot be added to other wards', so only then).
    published: dict[int, PublishedFigures] = {}
    if allowed is not None and len(allowed) == 1:
        (only_ward,) = allowed
        with_round = {year for year, _ward in wanted}
        extra = [y for y in published_years(only_ward) if y not in with_round]
        published = {
            year: figures
            for (_ward, year), figures in published_figures([only_ward], extra).items()
        }
    all_years = sorted({year for year, _ward in wanted} | set(published))
    fiscal_years = tuple(all_years[-years:] if years > 0 else ())

    # Per round: the ward cells and the round's total, suppressed as the round's table does
    # at its top level (the round = the sum of its wards).
    counts: dict[tuple[int, str, Role, str], _Counts] = defaultdict(_Counts)
    for round_id, ward_id, role, key, yes, no, na in rows:
        role = Role(role)
        if round_year.get(round_id) not in fiscal_years:
            continue
        if role not in asked[round_id].get(key, frozenset()):
            continue
        item = _Counts(int(yes), int(no), int(na), int(yes + no + na), int(yes + no))
        counts[(round_id, f"ward:{ward_id}", role, key)].add(item)
        counts[(round_id, ALL, role, key)].add(item)
    section_keys = {k for k, s in latest.items() if s.section_level}
    exempt = {k for k in counts if k[3] in section_keys}
    totals = [
        ((round_id, ALL, role, key), [(round_id, f"ward:{w}", role, key) for w in sorted(wards)])
        for round_id, wards in round_wards.items()
        if round_year[round_id] in fiscal_years
        for role in ROLES
        for key in asked[round_id]
    ]
    hidden = suppress(
        {k: c.people for k, c in counts.items()},
        totals,
        min_size,
        exempt=exempt,
        also_hide={k for k, c in counts.items() if 0 < c.answering < min_size and k not in exempt},
    )

    cells: dict[tuple[str, Role, int], Cell] = {}
    for year in fiscal_years:
        by_round: dict[int, list[int]] = defaultdict(list)
        for (y, ward), round_id in wanted.items():
            if y == year:
                by_round[round_id].append(ward)
        for key in latest:
            for role in ROLES:
                total = _Counts()
                concealed = found = False
                for round_id, wards in by_round.items():
                    parts = (
                        [(round_id, ALL, role, key)]
                        if set(wards) >= round_wards[round_id]
                        else [(round_id, f"ward:{w}", role, key) for w in wards]
                    )
                    for part in parts:
                        if part in counts:
                            found = True
                            concealed = concealed or part in hidden
                            total.add(counts[part])
                if not found:
                    continue
                if concealed or (
                    key not in section_keys
                    and (0 < total.people < min_size or 0 < total.answering < min_size)
                ):
                    cells[(key, role, year)] = HIDDEN_CELL
                    continue
                rate = compliance_rate(total.complies, total.not_complies, rounding)
                cells[(key, role, year)] = Cell(
                    "shown" if rate is not None else "empty",
                    total.complies,
                    total.not_complies,
                    total.not_applicable,
                    rate,
                )
    for year, figures in published.items():
        if year not in fiscal_years:
            continue
        for key, role in figures.rates:
            cells[(key, role, year)] = _published_cell(figures, key, role)
            if key not in latest and key in figures.numbers:
                latest[key] = TrendStandard(
                    key, figures.numbers[key], figures.texts[key], key in figures.section_level
                )
    keys_in_years = {key for (key, _role, _year) in cells}
    standards = tuple(sorted(
        (s for k, s in latest.items() if k in keys_in_years),
        key=lambda s: (s.section_level, s.number, s.key),
    ))
    return Trend(fiscal_years, standards, min_size, rounding, cells)


__all__ = [
    "ALL",
    "HIDDEN",
    "LEVELS",
    "NO_RATE",
    "ROLES",
    "Cell",
    "Trend",
    "TrendStandard",
    "Group",
    "GroupRow",
    "ProgressPoint",
    "ResponseRate",
    "ResultsError",
    "RoundInfo",
    "RoundOverview",
    "RoundResults",
    "StandardInfo",
    "StandardRow",
    "compliance_trend",
    "response_progress",
    "round_results",
    "rounds_for_committee",
    "scene_column",
    "settings",
    "std_column",
]
