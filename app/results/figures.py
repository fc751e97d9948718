"""A round's results turned into what the committee's pages show: the plain data of
``reports/charts.py``, its Plotly figures as JSON, a summary sentence and the same numbers as a
table for each chart. No queries here: everything comes from ``RoundResults`` and the progress
points the service has already computed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from app.i18n import localized_date as reiwa_date
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.i18n import scene_label
from app.models import Role
from app.services.results.city import CITY, CityResults, CityStandard
from app.services.results.compliance import (
    Cell,
    Group,
    ProgressPoint,
    RoundResults,
    StandardRow,
)
from reports import charts
from reports.charts import (
    HeatmapData,
    KeyStop,
    ProgressDay,
    RateChange,
    RoleRate,
    StandardRates,
    Value,
)
from reports.rates import format_rate

ROLE_LABELS = {Role.STAFF: charts.STAFF, Role.CHIEF: charts.CHIEF}
LOWEST_COUNT = 10


@dataclass(frozen=True)
class DataTable:
    """The numbers of a chart as an HTML table: column headings, and rows of a heading cell
    followed by value cells; ``notes``, when given, one per row: the words under the row's
    heading (a standard's text, which the chart's axis names by its number only)."""

    caption: str
    columns: tuple[str, ...]
    rows: list[tuple[str, list[str]]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    """One chart of the page: its heading, finding, Plotly figure (JSON-ready) and table."""

    id: str
    heading: str
    summary: str
    figure: dict[str, Any]
    table: DataTable
    notes: list[str] = field(default_factory=list)
    # The range of a rate axis that does not start at 0, in words (rate_range_note).
    axis: str = ""
    # The colour key of a heatmap, darkest first (drawn by the page, see _macros.html).
    key: list[KeyStop] = field(default_factory=list)


def published_note(fiscal_year: int) -> str:
    """The mark every imported figure carries, in words."""
    return _(
        "%(year)sの値は、公表された遵守率の表から取り込んだもの（取込値）です。件数はありません。",
        year=fiscal_year_label(fiscal_year),
    )


def label(row: StandardRow) -> str:
    return _("基準%(number)s", number=row.standard.number)


def _value(cell: Cell) -> Value:
    return Value(cell.rate if cell.state == "shown" else None, cell.text)


def figure_json(figure: charts.Figure) -> dict[str, Any]:
    """The figure with the app's Plotly config and its layout's changes on a phone
    (``charts.narrow_layout``), as the page's script (app/static/charts.js) reads it."""
    return {
        "data": figure["data"],
        "layout": figure["layout"],
        "config": charts.CONFIG,
        "narrow": charts.narrow_layout(figure),
    }


def _points(value: Any) -> str:
    return "-" if value is None else f"{value:+.1f}"


def compared(results: RoundResults, group_key: str) -> bool:
    """True when the group's table has last year's columns (a round's or a published
    table's)."""
    return results.compared(group_key)


def sections_under(results: RoundResults, group_key: str) -> list[Group]:
    """The visible sections inside a group (the group itself if it is a section)."""
    by_key = {g.key: g for g in results.groups}

    def inside(group: Group) -> bool:
        key: str | None = group.key
        while key is not None:
            if key == group_key:
                return True
            parent = by_key.get(key)
            key = parent.parent_key if parent is not None else None
        return False

    return [g for g in results.groups if g.level == "section" and inside(g)]


def standards_chart(rows: Sequence[StandardRow], title: str) -> Chart:
    data = [
        StandardRates(label(r), r.standard.text, _value(r.current[Role.STAFF]),
                      _value(r.current[Role.CHIEF]), r.standard.number)
        for r in rows
    ]
    return Chart(
        "chart-standards",
        _("基準ごとの遵守率（職員と所属長）"),
        charts.standard_bars_summary(data, _=_),
        figure_json(charts.standard_bars(data, title, _=_)),
        DataTable(
            _("基準ごとの遵守率（%）"),
            (_("基準"), charts.role_name(charts.STAFF, _), charts.role_name(charts.CHIEF, _)),
            [(d.label, [d.staff.text, d.chief.text]) for d in data],
            [d.text for d in data],
        ),
        axis=charts.rate_range_note(
            charts.rate_axis([v.number for d in data for v in (d.staff, d.chief)]), _=_
        ),
    )


def lowest_chart(results: RoundResults, group_key: str, title: str) -> Chart:
    items = [
        RoleRate(label(r), r.standard.text, ROLE_LABELS[role], rate)
        for role in ROLE_LABELS
        for r in results.lowest(role, group_key, LOWEST_COUNT)
        if (rate := r.current[role].rate) is not None
    ]
    items.sort(key=lambda i: (i.rate, i.role != charts.STAFF, i.label))
    items = items[:LOWEST_COUNT]
    return Chart(
        "chart-lowest",
        _("遵守率の低い基準（低い順に%(n)s件まで）", n=LOWEST_COUNT),
        charts.lowest_summary(items, _=_),
        figure_json(charts.lowest_bars(items, title, _=_)),
        DataTable(
            _("遵守率の低い基準"),
            (_("基準"), _("区分"), _("遵守率（%）")),
            [(i.label, [charts.role_name(i.role, _), format_rate(i.rate)]) for i in items],
            [i.text for i in items],
        ),
        axis=charts.rate_range_note(charts.rate_axis([i.rate for i in items]), True, _),
    )


def change_chart(
    rows: Sequence[StandardRow], results: RoundResults, previous_year: int, title: str
) -> Chart:
    previous_label = fiscal_year_label(previous_year)
    notes = [_("「-」は、どちらかの年度の遵守率が表示されない基準です。")]
    if any(r.previous_imported for r in rows):
        notes.append(published_note(previous_year))
    data = [
        RateChange(
            label(r), r.standard.text, r.change(Role.STAFF), r.change(Role.CHIEF),
            r.standard.number,
        )
        for r in rows
    ]
    return Chart(
        "chart-change",
        _("前年度（%(year)s）との差", year=previous_label),
        charts.change_summary(data, previous_label, _=_),
        figure_json(charts.change_bars(data, title, previous_label, _=_)),
        DataTable(
            _("前年度との差（ポイント）"),
            (_("基準"), charts.role_name(charts.STAFF, _), charts.role_name(charts.CHIEF, _)),
            [(d.label, [_points(d.staff), _points(d.chief)]) for d in data],
            [d.text for d in data],
        ),
        notes=notes,
    )


def heatmap_chart(results: RoundResults, group_key: str, title: str) -> Chart:
    sections = sections_under(results, group_key)
    by_key = {row.group.key: row for row in results.breakdown("section", Role.STAFF)}
    several_wards = len({s.ward_id for s in sections}) > 1
    names = tuple(
        f"{s.ward_name} {s.name}" if several_wards else s.name for s in sections
    )
    cells = tuple(
        tuple(_value(by_key[s.key].scenes[scene]) for scene in results.scenes) for s in sections
    )
    scenes = tuple(scene_label(scene) for scene in results.scenes)
    data = HeatmapData(names, scenes, cells, charts.STAFF)
    return Chart(
        "chart-heatmap",
        _("課ごと・場面ごとの遵守率（職員）"),
        charts.heatmap_summary(data, _=_),
        figure_json(charts.scene_heatmap(data, title, _=_)),
        DataTable(
            _("課ごと・場面ごとの遵守率（職員、%）"),
            (_("課"), *scenes),
            [(name, [c.text for c in row]) for name, row in zip(names, cells, strict=True)],
        ),
        key=charts.heatmap_key(data),
    )


def progress_chart(results: RoundResults, points: Sequence[ProgressPoint], title: str) -> Chart:
    days = [
        ProgressDay(
            p.day,
            reiwa_date(p.day),
            p.submitted.get(Role.STAFF),
            p.submitted.get(Role.CHIEF),
            p.submitted.get(None),
        )
        for p in points
    ]
    expected = results.response_rate(results.top.key).expected

    def count(n: int | None) -> str:
        return "＊" if n is None else str(n)

    return Chart(
        "chart-progress",
        _("回答の進み具合（%(group)s）", group=results.top.name),
        charts.progress_summary(days, expected, _=_),
        figure_json(charts.progress_lines(days, expected, title, _=_)),
        DataTable(
            _("その日までに提出した人の数"),
            (
                _("日付"),
                charts.role_name(charts.EVERYONE, _),
                charts.role_name(charts.STAFF, _),
                charts.role_name(charts.CHIEF, _),
            ),
            [(d.label, [count(d.total), count(d.staff), count(d.chief)]) for d in days],
        ),
        notes=[_("対象者数: %(n)s 人", n=expected if expected is not None else "＊")],
    )


def round_charts(
    results: RoundResults, group_key: str, points: Sequence[ProgressPoint]
) -> list[Chart]:
    """The five charts of a round's page, for one visible group; only the progress chart
    while the round is not final."""
    group = results.group(group_key)
    progress = progress_chart(
        results, points, _("提出数の推移（%(scope)s）", scope=results.top.name)
    )
    if not results.final:
        return [progress]
    rows = results.table(group_key)
    scope = group.name
    made = [
        standards_chart(rows, _("基準ごとの遵守率（%(scope)s）", scope=scope)),
        lowest_chart(results, group_key, _("遵守率の低い基準（%(scope)s）", scope=scope)),
    ]
    if compared(results, group_key):
        title = _("前年度との差（%(scope)s）", scope=scope)
        made.append(change_chart(rows, results, results.previous_year, title))
    made.append(heatmap_chart(results, group_key, _("課ごと・場面ごとの遵守率（職員）")))
    made.append(progress)
    return made


# --- The city page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CityTable:
    """The city page's table: one row per shared standard, a column per group (the city, then
    each ward with a closed round) and role."""

    columns: list[tuple[str, Role]]  # (group name, role)
    rows: list[tuple[CityStandard, list[Cell]]]

    def for_workbook(self) -> tuple[list[str], list[tuple[int, str, list[Decimal | str]]]]:
        """Headings 「市全体 職員」… and rows (number, text, the rate or its mark)."""
        headings = [f"{name} {charts.role_name(ROLE_LABELS[role])}" for name, role in self.columns]
        rows = [
            (s.number, s.text, [c.rate if c.state == "shown" and c.rate is not None else c.text
                                for c in cells])
            for s, cells in self.rows
        ]  # fmt: skip
        return headings, rows


def _city_groups(results: CityResults) -> list[tuple[int, str]]:
    return [(CITY, _("市全体"))] + [(w.id, w.name) for w in results.wards_with_rounds]


def city_table(results: CityResults, role: Role | None) -> CityTable:
    """The table of one role (the page), or of both (None: the xlsx)."""
    roles = [role] if role is not None else [Role.STAFF, Role.CHIEF]
    columns = [(name, r) for group, name in _city_groups(results) for r in roles]
    groups = [group for group, _name in _city_groups(results) for _r in roles]
    rows = [
        (s, [results.cell(g, r, s.key) for g, (_n, r) in zip(groups, columns, strict=True)])
        for s in results.standards
    ]
    return CityTable(columns, rows)


def city_chart(results: CityResults, role: Role) -> Chart:
    """The city's rate per standard (bars) and each ward's (markers), for one role."""
    standards = [
        charts.StandardName(s.number, _("基準%(number)s", number=s.number), s.text)
        for s in results.standards
    ]
    series = [
        charts.CitySeries(
            name,
            tuple(_value(results.cell(group, role, s.key)) for s in results.standards),
            city=group == CITY,
        )
        for group, name in _city_groups(results)
    ]
    role_label = charts.role_name(ROLE_LABELS[role], _)
    title = _("基準ごとの遵守率（市全体と各区、%(role)s）", role=role_label)
    table = city_table(results, role)
    numbers = [v.number for line in series for v in line.values]
    return Chart(
        "chart-city",
        title,
        charts.city_summary(standards, series[0], _),
        figure_json(charts.city_chart(standards, series, title, _)),
        DataTable(
            _("基準ごとの遵守率（%(role)s、%%）", role=role_label),
            (_("基準"), *(name for name, _r in table.columns)),
            [
                (s.label, [c.text for c in cells])
                for s, (_s, cells) in zip(standards, table.rows, strict=True)
            ],
            [s.text for s in standards],
        ),
        axis=charts.rate_range_note(charts.rate_axis(numbers), _=_),
    )


def city_notes(results: CityResults) -> list[str]:
    """How the city's numbers are made, in words (the page and the xlsx)."""
    return [
        _("市全体の遵守率は、各区の「できている」と「できていない」の人数を足し上げて計算して"
          "います（各区の遵守率の平均ではありません）。"),
        _("答えた人が%(n)s人未満の区分、ほかの区分や市全体から分かってしまう区分は「＊」で"
          "隠しています。「-」は答えた人がいない基準です。", n=results.min_group_size),
        _("締め切られ集計された調査だけを使います。1つの区に同じ年度の調査が2回あるときは、"
          "後に締め切られた調査を使います。"),
    ]  # fmt: skip
