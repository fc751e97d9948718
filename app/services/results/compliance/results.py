"""A round's results as the committee reads them (``RoundResults``): ``round_results`` builds
them for a reader's wards, ``final_results`` only for a closed and counted round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _

from app.models import Role
from app.services.results.compliance.cube import Cube, build_cube, previous_round, round_info
from app.services.results.compliance.model import (
    ALL,
    NOT_ASKED,
    Cell,
    Group,
    GroupRow,
    Level,
    ResponseRate,
    ResultsError,
    ResultsNotFinal,
    RoundInfo,
    StandardInfo,
    StandardRow,
    not_final_message,
    published_cell,
    scene_column,
    settings,
    std_column,
)
from app.services.results.published import (
    PublishedFigures,
    published_figures,
    published_ward_names,
)
from app.services.results.tally import ensure_counted
from app.services.rounds.audience import ROLES
from reports.rates import Rounding


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
    _cube: Cube = field(repr=False)
    _previous_cube: Cube | None = field(repr=False, default=None)
    # Last fiscal year's published tables by ward, read only when there is no previous
    # round at all (app/services/results/published.py).
    published: Mapping[int, PublishedFigures] = field(default_factory=dict)
    # The wards whose imported table of last year is not shown because last year has a
    # round (its counts win); the page says so.
    published_unused: tuple[str, ...] = ()

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
                previous = {role: published_cell(published, standard.key, role) for role in ROLES}
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
    info = round_info(round_id)
    if info is None:
        raise ResultsError(_("調査が見つかりません。"))
    allowed = None if ward_ids is None else set(ward_ids)
    if allowed is not None and not allowed & set(info.ward_ids):
        raise ResultsError(_("この調査の結果を見る権限がありません。"))
    previous = previous_round(info) if with_previous else None
    # With no round last year at all, the ward's published table of that year stands in.
    published = (
        published_figures(info.ward_ids, [info.fiscal_year - 1])
        if with_previous and previous is None
        else {}
    )
    unused = (
        published_ward_names(info.ward_ids, info.fiscal_year - 1) if previous is not None else ()
    )
    wanted = [info.id] + ([previous.id] if previous is not None else [])
    if not info.counted or (previous is not None and not previous.counted):
        ensure_counted(wanted, now)
        info = round_info(round_id) or info
        previous = round_info(previous.id) if previous is not None else None
    if previous is not None and not (info.counted and previous.counted):
        previous = None
    cube = build_cube(info, min_size, rounding)
    previous_cube = build_cube(previous, min_size, rounding) if previous is not None else None
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
        published_unused=unused if previous is not None else (),
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
