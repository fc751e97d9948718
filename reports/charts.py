"""The committee's charts as Plotly figures: plain data in, a ``Figure`` out (the figure as
plotly.js reads it, ``{"data": [...], "layout": {...}}``).

Nothing here knows Flask or the database. The app turns a round's results (small groups
already hidden) into the dataclasses below; a value the chart must not plot (a cell shown as
``-`` or hidden as ``＊``) arrives as ``None`` with its text, and is never drawn as a number:
bars are left out, heatmap cells are gaps labelled with their text.

Each chart also has a one-sentence summary of its main finding (``*_summary``), computed from
the same data, for the page to print above the chart.

The words are Japanese; every function that writes some takes the caller's translate function
as ``_`` (the app passes Flask-Babel's ``gettext``, so pages whose reader chose English get
English, docs/language.md; without one the Japanese is kept). The parameter is named ``_`` so that
``pybabel extract`` still finds the strings. ``STAFF``, ``CHIEF`` and ``EVERYONE`` stay the
Japanese identities of the roles; ``role_name`` says them in the page's language.

The figures are plain dicts rather than ``plotly.graph_objects.Figure``: building those
checks every property on every request, which cost a result page more than its counting did
(a 20,000-person round's heatmap labels ~800 gaps). The tests check every builder's output
with Plotly's own validation (``go.Figure(figure)``), so a misspelt property still fails. The
layout carries Plotly's default template, as ``go.Figure`` would, so the charts look the same.

Rate axes start where the data does (``rate_axis``), and the page states the range
(``rate_range_note``): a scale from 0 would squeeze rates of 95-100% into a sliver.
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any

import plotly.graph_objects as go

# gettext's shape: a message and its %(name)s values, the message in the reader's language.
Translate = Callable[..., str]


def untranslated(message: str, **values: Any) -> str:
    """The Japanese message itself, with its values filled in as gettext would."""
    return message % values if values else message


FONT_FAMILY = "Noto Sans CJK JP, sans-serif"
STAFF, CHIEF, EVERYONE = "職員", "所属長", "全体"
STAFF_COLOR, CHIEF_COLOR, EVERYONE_COLOR = "#0b5394", "#e69f00", "#444444"


def role_name(role: str, _: Translate = untranslated) -> str:
    """A role (``STAFF``, ``CHIEF``, ``EVERYONE``) in the page's language."""
    names = {STAFF: _("職員"), CHIEF: _("所属長"), EVERYONE: _("全体")}
    return names.get(role, role)


# A Plotly figure as plotly.js reads it: {"data": [trace, ...], "layout": {...}}.
Figure = dict[str, Any]


@cache
def _template() -> dict[str, Any]:
    """Plotly's default template as ``go.Figure`` writes it into every figure's layout. One
    copy, shared by every figure: it is only ever serialised, never changed."""
    template: dict[str, Any] = json.loads(go.Figure().to_json())["layout"]["template"]
    return template


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    return {"data": data, "layout": {**layout, "template": _template()}}


def _trace(kind: str, **properties: Any) -> dict[str, Any]:
    """One trace (``bar``, ``scatter``, ``heatmap``) with its properties."""
    return {"type": kind, **properties}


# Plotly's config for every chart: no logo, no modebar (its buttons would sit in the tab
# order), redrawn when the window changes size.
CONFIG: dict[str, Any] = {"displaylogo": False, "displayModeBar": False, "responsive": True}


@dataclass(frozen=True)
class Value:
    """A published number: ``number`` None when it must not be plotted (``-`` or ``＊``)."""

    number: Decimal | None
    text: str


@dataclass(frozen=True)
class StandardRates:
    """One standard's rates for 職員 and 所属長 (bars chart)."""

    label: str  # 基準14
    text: str
    staff: Value
    chief: Value
    number: int  # 14: the category on the chart's axis


@dataclass(frozen=True)
class RoleRate:
    """One standard's rate for one role (lowest standards chart)."""

    label: str  # 基準14
    text: str
    role: str  # 職員 / 所属長
    rate: Decimal


@dataclass(frozen=True)
class RateChange:
    """One standard's change against last year in points, per role (None: not comparable)."""

    label: str
    text: str
    staff: Decimal | None
    chief: Decimal | None
    number: int


@dataclass(frozen=True)
class HeatmapData:
    """Rates of rows (sections) × columns (scenes); ``cells[row][column]``."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[Value, ...], ...]
    role: str = STAFF


@dataclass(frozen=True)
class ProgressDay:
    """Responses submitted by the end of a day, cumulative (None: hidden for a small group)."""

    day: date
    label: str  # the day as the page writes it, e.g. 令和7年11月5日
    staff: int | None
    chief: int | None
    total: int | None


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    """A chart's layout: its title at the top of the figure, the legend (if any) in a row of
    its own between the title and the plot, and margins that grow to what the axes' labels
    and titles need, so that nothing covers or cuts off anything else (docs/results.md)."""
    layout: dict[str, Any] = {
        # Placed in the figure (container), not on the plot: the margin it needs is reserved
        # above everything the plot itself pushes up (the legend), never shared with it.
        "title": {
            "text": title, "x": 0, "xanchor": "left", "xref": "container",
            "y": 1, "yanchor": "top", "yref": "container", "automargin": True,
            "pad": {"t": 8, "b": 8, "l": 4},
        },
        "font": {"family": FONT_FAMILY, "size": 14, "color": "#1a1a1a"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        # The least margins: automargin (axes, title) and the legend push them further.
        "margin": {"l": 8, "r": 16, "t": 8, "b": 8, "autoexpand": True},
        # Above the plot, its bottom on the plot's top edge: it pushes the top margin by its
        # own height, whatever the number of rows it wraps into on a phone.
        "legend": {
            "orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom",
            "xref": "paper", "yref": "paper",
        },
        "hoverlabel": {"font": {"family": FONT_FAMILY}, "align": "left"},
        "separators": ".,",
    }  # fmt: skip
    layout.update(extra)
    return layout


def _axis(title: str | None = None, **extra: Any) -> dict[str, Any]:
    """An axis whose tick labels and title push the margins instead of being cut off."""
    axis: dict[str, Any] = {"automargin": True, **extra}
    if title is not None:
        axis["title"] = {"text": title, "standoff": 8}
    return axis


def _standard_axis(_: Translate) -> dict[str, Any]:
    """The axis of standards: one category per standard, named by its number (a long label
    would be cut or rotated off the chart); the hover and the table say the whole text."""
    return _axis(_("基準"), type="category")


HOVER_LINE = 24  # characters a line of a hover label


def hover_heading(label: str, text: str) -> str:
    """``基準14 来庁者に…`` for a hover label, in lines of at most ``HOVER_LINE`` characters.
    Plotly reads hover text as HTML-like markup, so the text is escaped: a standard's words
    are shown as written, never as a link or a tag."""
    lines = textwrap.wrap(f"{label} {text}".strip(), HOVER_LINE) or [label]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


NARROW_FONT_SIZE = 12
NARROW_EXTRA_HEIGHT = 80  # px: the title in two lines and the legend in more rows


def title_lines(title: str) -> tuple[str, str]:
    """The title in two lines for a phone, broken before its parenthesis: ``("基準ごとの遵守率",
    "（高津区）")``; ``(title, "")`` when it has none."""
    for mark in ("（", " ("):
        head, found, tail = title.partition(mark)
        if found and head:
            return head, (found + tail).strip()
    return title, ""


def narrow_layout(figure: Figure) -> dict[str, Any]:
    """The changes to a figure's layout on a phone (a chart under 600 px wide, drawn by the
    page's charts.js), as plotly's dotted paths: smaller words, the title in two lines (the
    second as plotly's subtitle, which the title's automargin makes room for), more height
    for them, and a heatmap's scenes written upright (slanted, they run into each other)."""
    layout = figure["layout"]
    head, tail = title_lines(layout["title"]["text"])
    changes: dict[str, Any] = {
        "font.size": NARROW_FONT_SIZE,
        "title.text": head,
        "title.font.size": NARROW_FONT_SIZE + 3,
        "title.subtitle.text": tail,
        "title.subtitle.font.size": NARROW_FONT_SIZE + 1,
    }
    if "height" in layout:
        changes["height"] = layout["height"] + NARROW_EXTRA_HEIGHT
    if any(trace["type"] == "heatmap" for trace in figure["data"]):
        changes["xaxis.tickangle"] = -90  # the scenes' names upright, side by side
    return changes


# --- Rate axes --------------------------------------------------------------------------------

# The heatmap's colours, from the lowest rate shown (darkest) to 100% (lightest): the
# ColorBrewer "Blues" scale, dark end first, so that darker means lower as the key says.
HEATMAP_COLORS: tuple[str, ...] = (
    "rgb(8,48,107)", "rgb(8,81,156)", "rgb(33,113,181)", "rgb(66,146,198)", "rgb(107,174,214)",
    "rgb(158,202,225)", "rgb(198,219,239)", "rgb(222,235,247)", "rgb(247,251,255)",
)  # fmt: skip
HEATMAP_SCALE: list[list[Any]] = [
    [i / (len(HEATMAP_COLORS) - 1), color] for i, color in enumerate(HEATMAP_COLORS)
]


def rate_axis(values: Sequence[Decimal | float | None]) -> tuple[int, int]:
    """The range of a rate axis: from a multiple of 5 at least one point under the lowest rate
    shown (0 at the least) to 100; (0, 100) when nothing is shown."""
    shown = [float(v) for v in values if v is not None]
    if not shown:
        return 0, 100
    return max(0, 5 * math.floor((min(shown) - 1) / 5)), 100


def rate_range_note(
    axis: tuple[int, int], horizontal: bool = False, _: Translate = untranslated
) -> str:
    """``縦軸は 90%〜100% です。`` (``横軸`` for horizontal bars)."""
    low, high = axis
    if horizontal:
        return _("横軸は %(low)s%%〜%(high)s%% です。", low=low, high=high)
    return _("縦軸は %(low)s%%〜%(high)s%% です。", low=low, high=high)


# --- (a) Per-standard bars: 職員 beside 所属長 ------------------------------------------------


def standard_bars(rows: Sequence[StandardRates], title: str, _: Translate = untranslated) -> Figure:
    """Grouped bars per standard, 職員 beside 所属長; ``-`` and ``＊`` cells have no bar. The
    standards are named by their number on the axis, by their label and text in the hover."""
    numbers = [str(row.number) for row in rows]
    headings = [hover_heading(row.label, row.text) for row in rows]
    traces = []
    for name, color, pick in (
        (STAFF, STAFF_COLOR, attrgetter("staff")),
        (CHIEF, CHIEF_COLOR, attrgetter("chief")),
    ):
        values = [pick(row) for row in rows]
        name = role_name(name, _)
        traces.append(
            _trace(
                "bar",
                name=name,
                x=numbers,
                y=[_number(v.number) for v in values],
                customdata=[[v.text, heading] for v, heading in zip(values, headings, strict=True)],
                marker={"color": color},
                hovertemplate="%{customdata[1]}<br>" + name + ": %{customdata[0]}%<extra></extra>",
            )
        )
    return _figure(
        traces,
        _layout(
            title,
            barmode="group",
            yaxis=_axis(
                _("遵守率（%）"),
                range=list(rate_axis([v.number for r in rows for v in (r.staff, r.chief)])),
            ),
            xaxis=_standard_axis(_),
            height=420,
        ),
    )


def standard_bars_summary(rows: Sequence[StandardRates], _: Translate = untranslated) -> str:
    """``職員の遵守率が最も低いのは基準14（98.3%）、所属長は基準23（93.7%）です。``"""
    parts = []
    for name, pick in ((STAFF, attrgetter("staff")), (CHIEF, attrgetter("chief"))):
        shown = [(pick(r).number, i, r) for i, r in enumerate(rows) if pick(r).number is not None]
        if shown:
            _rate, _index, row = min(shown, key=lambda t: (t[0], t[1]))
            parts.append((role_name(name, _), row.label, pick(row).text))
    if not parts:
        return _("表示できる遵守率はまだありません。")
    (role, label, rate) = parts[0]
    if len(parts) == 1:
        return _(
            "%(role)sの遵守率が最も低いのは%(label)s（%(rate)s%%）です。",
            role=role, label=label, rate=rate,
        )  # fmt: skip
    (role2, label2, rate2) = parts[1]
    return _(
        "%(role)sの遵守率が最も低いのは%(label)s（%(rate)s%%）、%(role2)sは%(label2)s（%(rate2)s%%）です。",
        role=role, label=label, rate=rate, role2=role2, label2=label2, rate2=rate2,
    )  # fmt: skip


# --- (b) The lowest standards ------------------------------------------------------------------


def lowest_bars(items: Sequence[RoleRate], title: str, _: Translate = untranslated) -> Figure:
    """Horizontal bars of the lowest rates, the lowest at the top."""
    labels = [
        _("%(label)s（%(role)s）", label=item.label, role=role_name(item.role, _)) for item in items
    ]
    colors = [STAFF_COLOR if item.role == STAFF else CHIEF_COLOR for item in items]
    figure = _figure(
        [
            _trace(
                "bar",
                name=_("遵守率"),
                orientation="h",
                x=[float(item.rate) for item in items],
                y=labels,
                text=[f"{item.rate:.1f}" for item in items],
                textposition="outside",
                cliponaxis=False,  # the rate printed beyond a bar that reaches 100
                marker={"color": colors},
                customdata=[hover_heading(item.label, item.text) for item in items],
                hovertemplate="%{customdata}<br>%{y}: %{x:.1f}%<extra></extra>",
            )
        ],
        _layout(
            title,
            showlegend=False,
            xaxis=_axis(_("遵守率（%）"), range=list(rate_axis([item.rate for item in items]))),
            yaxis=_axis(autorange="reversed", type="category"),
            # Room on the right for the rate printed beyond a bar that reaches 100.
            margin={"l": 8, "r": 48, "t": 8, "b": 8},
            height=max(320, 100 + 34 * len(items)),
        ),
    )
    return figure


def lowest_summary(items: Sequence[RoleRate], _: Translate = untranslated) -> str:
    """``最も低いのは基準14の職員（98.3%）です。``"""
    if not items:
        return _("表示できる遵守率はまだありません。")
    low = items[0]
    return _(
        "最も低いのは%(label)sの%(role)s（%(rate)s%%）です。",
        label=low.label, role=role_name(low.role, _), rate=f"{low.rate:.1f}",
    )  # fmt: skip


# --- (c) Change against last year --------------------------------------------------------------


def change_bars(
    rows: Sequence[RateChange], title: str, previous_label: str, _: Translate = untranslated
) -> Figure:
    """Grouped bars of this year's rate minus last year's, in points, per standard and role
    (the standards named by their number on the axis, as in ``standard_bars``)."""
    numbers = [str(row.number) for row in rows]
    headings = [hover_heading(row.label, row.text) for row in rows]
    points = _("ポイント")
    traces = [
        _trace(
            "bar",
            name=role_name(name, _),
            x=numbers,
            y=[_number(pick(row)) for row in rows],
            customdata=headings,
            marker={"color": color},
            hovertemplate=(
                f"%{{customdata}}<br>{role_name(name, _)}: %{{y:+.1f}} {points}<extra></extra>"
            ),
        )
        for name, color, pick in (
            (STAFF, STAFF_COLOR, attrgetter("staff")),
            (CHIEF, CHIEF_COLOR, attrgetter("chief")),
        )
    ]
    return _figure(
        traces,
        _layout(
            title,
            barmode="group",
            yaxis=_axis(
                _("%(year)sとの差（ポイント）", year=previous_label),
                zeroline=True,
                zerolinecolor="#1a1a1a",
                zerolinewidth=2,
            ),
            xaxis=_standard_axis(_),
            height=420,
        ),
    )


def change_summary(
    rows: Sequence[RateChange], previous_label: str, _: Translate = untranslated
) -> str:
    """``前年度から最も下がったのは基準1の職員（-1.5ポイント）です。`` or that none fell."""
    changes = [
        (value, index, row.label, name)
        for index, row in enumerate(rows)
        for name, value in ((STAFF, row.staff), (CHIEF, row.chief))
        if value is not None
    ]
    if not changes:
        return _("%(year)sと比べられる基準がありません。", year=previous_label)
    value, _index, label, name = min(changes, key=lambda c: (c[0], c[1]))
    if value < 0:
        return _(
            "%(year)sから最も下がったのは%(label)sの%(role)s（%(points)sポイント）です。",
            year=previous_label, label=label, role=role_name(name, _), points=f"{value:+.1f}",
        )  # fmt: skip
    up = max(changes, key=lambda c: (c[0], -c[1]))
    if up[0] > 0:
        return _(
            "%(year)sから下がった基準はなく、最も上がったのは%(label)sの%(role)s"
            "（%(points)sポイント）です。",
            year=previous_label, label=up[2], role=role_name(up[3], _), points=f"{up[0]:+.1f}",
        )  # fmt: skip
    return _("%(year)sから変わった基準はありません。", year=previous_label)


# --- (d) Heatmap: section × scene --------------------------------------------------------------


def scene_heatmap(data: HeatmapData, title: str, _: Translate = untranslated) -> Figure:
    """Rates of each section in each scene; hidden and ``-`` cells are gaps labelled with
    their text (``＊`` or ``-``), never coloured as a number."""
    z = [[_number(cell.number) for cell in row] for row in data.cells]
    text = [[cell.text if cell.number is not None else "" for cell in row] for row in data.cells]
    annotations = [
        {
            "x": data.columns[c],
            "y": data.rows[r],
            "text": cell.text,
            "showarrow": False,
            "font": {"color": "#1a1a1a"},  # the layout's family and size (smaller on a phone)
        }
        for r, row in enumerate(data.cells)
        for c, cell in enumerate(row)
        if cell.number is None
    ]
    return _figure(
        [
            _trace(
                "heatmap",
                x=list(data.columns),
                y=list(data.rows),
                z=z,
                text=text,
                texttemplate="%{text}",
                zmin=heatmap_zmin(data),
                zmax=100,
                colorscale=HEATMAP_SCALE,
                hoverongaps=False,
                xgap=2,
                ygap=2,
                # No Plotly colour bar: plotly.js draws it with style attributes that the
                # pages' CSP refuses. The page draws the key itself (``heatmap_key``) and every
                # cell prints its own rate.
                showscale=False,
                hovertemplate="%{y}・%{x}: %{text}%<extra></extra>",
            )
        ],
        _layout(
            title,
            annotations=annotations,
            # Every section and scene named on the axes, even where no cell is coloured (a
            # section whose every cell is hidden still has its row, with its ＊ labels).
            xaxis=_axis(
                _("場面"),
                side="top",
                type="category",
                categoryorder="array",
                categoryarray=list(data.columns),
                range=[-0.5, len(data.columns) - 0.5],
            ),
            yaxis=_axis(
                type="category",
                categoryorder="array",
                categoryarray=list(data.rows),
                range=[len(data.rows) - 0.5, -0.5],
            ),
            height=max(320, 160 + 30 * len(data.rows)),
        ),
    )


def heatmap_zmin(data: HeatmapData) -> float:
    """The rate coloured darkest: the lowest shown, at most 99 (so a table of only 100s is
    light)."""
    shown = [float(cell.number) for row in data.cells for cell in row if cell.number is not None]
    return min([*shown, 99.0])


@dataclass(frozen=True)
class KeyStop:
    """One stop of the heatmap's colour key: where it sits (0-1), its colour and rate."""

    offset: float
    color: str
    rate: float


def heatmap_key(data: HeatmapData) -> list[KeyStop]:
    """The colour key of ``scene_heatmap``, darkest (lowest rate) first, for the page to draw."""
    low = heatmap_zmin(data)
    return [
        KeyStop(offset, color, round(low + (100 - low) * offset, 1))
        for offset, color in HEATMAP_SCALE
    ]


def heatmap_summary(data: HeatmapData, _: Translate = untranslated) -> str:
    """``職員の遵守率が最も低いのは総務課の「応対」（97.0%）です。``"""
    shown = [
        (cell.number, r, c)
        for r, row in enumerate(data.cells)
        for c, cell in enumerate(row)
        if cell.number is not None
    ]
    if not shown:
        return _("表示できる課の遵守率はありません。")
    _rate, r, c = min(shown, key=lambda t: (t[0], t[1], t[2]))
    cell = data.cells[r][c]
    return _(
        "%(role)sの遵守率が最も低いのは%(section)sの「%(scene)s」（%(rate)s%%）です。",
        role=role_name(data.role, _), section=data.rows[r], scene=data.columns[c], rate=cell.text,
    )  # fmt: skip


# --- (e) Response progress ---------------------------------------------------------------------


def progress_lines(
    days: Sequence[ProgressDay],
    expected: int | None,
    title: str,
    _: Translate = untranslated,
) -> Figure:
    """Cumulative responses by day for 職員, 所属長 and in all, and the number expected."""
    x = [d.day.isoformat() for d in days]
    labels = [d.label for d in days]
    traces: list[dict[str, Any]] = []
    for name, color, values, dash in (
        (EVERYONE, EVERYONE_COLOR, [d.total for d in days], "solid"),
        (STAFF, STAFF_COLOR, [d.staff for d in days], "solid"),
        (CHIEF, CHIEF_COLOR, [d.chief for d in days], "dot"),
    ):
        if all(v is None for v in values):
            continue
        name = role_name(name, _)
        traces.append(
            _trace(
                "scatter",
                name=name,
                x=x,
                y=values,
                customdata=labels,
                mode="lines+markers",
                line={"color": color, "dash": dash, "shape": "hv"},
                hovertemplate="%{customdata} " + name + ": %{y} " + _("人") + "<extra></extra>",
            )
        )
    if expected is not None and days:
        traces.append(
            _trace(
                "scatter",
                name=_("対象者数（%(n)s人）", n=expected),
                x=[x[0], x[-1]],
                y=[expected, expected],
                mode="lines",
                line={"color": "#9b1c1c", "dash": "dash"},
                hovertemplate=_("対象者数: %(n)s 人", n=expected) + "<extra></extra>",
            )
        )
    return _figure(
        traces,
        _layout(
            title,
            xaxis=_axis(_("提出日"), type="date", tickformat="%m/%d"),
            yaxis=_axis(_("その日までに提出した人の数"), rangemode="tozero"),
            height=400,
        ),
    )


def progress_summary(
    days: Sequence[ProgressDay], expected: int | None, _: Translate = untranslated
) -> str:
    """``令和7年11月28日までに 312 人が提出しました（対象 350 人）。``"""
    if not days:
        return _("まだ提出した人はいません。")
    last = days[-1]
    if last.total is None:
        return _("人数の少ない区分が分からないように、提出した人の合計は表示していません。")
    if expected:
        return _(
            "%(day)sまでに %(n)s 人が提出しました（対象 %(expected)s 人）。",
            day=last.label, n=last.total, expected=expected,
        )  # fmt: skip
    return _("%(day)sまでに %(n)s 人が提出しました。", day=last.label, n=last.total)


# --- (f) The city: each ward beside the city, per shared standard ------------------------------


@dataclass(frozen=True)
class CitySeries:
    """One line of the city chart: a ward's (or the city's) rates per standard, in order."""

    name: str
    values: tuple[Value, ...]
    city: bool = False


# Colour-blind-safe colours for the wards (Okabe-Ito, without the city's dark grey).
WARD_COLORS: tuple[str, ...] = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8a7a00",
)  # fmt: skip
WARD_SYMBOLS: tuple[str, ...] = (
    "circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x",
)  # fmt: skip


@dataclass(frozen=True)
class StandardName:
    """A standard as the city chart names it: its number on the axis, its label in sentences
    (``基準14``) and its text in the hover."""

    number: int
    label: str
    text: str


def city_chart(
    standards: Sequence[StandardName],
    series: Sequence[CitySeries],
    title: str,
    _: Translate = untranslated,
) -> Figure:
    """The city's rate per standard as bars, each ward's as a marker of its own colour and
    shape; hidden and ``-`` cells are left out. The standards are named by their number on the
    axis; the rate axis starts where the data does."""
    numbers = [str(s.number) for s in standards]
    headings = [hover_heading(s.label, s.text) for s in standards]
    axis = rate_axis([v.number for s in series for v in s.values])

    def trace(kind: str, line: CitySeries, **properties: Any) -> dict[str, Any]:
        return _trace(
            kind,
            name=line.name,
            x=numbers,
            y=[_number(v.number) for v in line.values],
            customdata=[[v.text, h] for v, h in zip(line.values, headings, strict=True)],
            hovertemplate="%{customdata[1]}<br>" + line.name + ": %{customdata[0]}%<extra></extra>",
            **properties,
        )

    traces = [
        trace(
            "bar", line,
            marker={"color": "#c8c8c8", "line": {"color": EVERYONE_COLOR, "width": 1}},
        )
        for line in series if line.city
    ] + [
        trace(
            "scatter", line,
            mode="markers",
            marker={
                "color": WARD_COLORS[index % len(WARD_COLORS)],
                "symbol": WARD_SYMBOLS[index % len(WARD_SYMBOLS)],
                "size": 9,
            },
        )
        for index, line in enumerate(s for s in series if not s.city)
    ]  # fmt: skip
    return _figure(
        traces,
        _layout(
            title,
            yaxis=_axis(_("遵守率（%）"), range=list(axis)),
            xaxis=_standard_axis(_),
            height=460,
        ),
    )


def city_summary(
    standards: Sequence[StandardName], city: CitySeries, _: Translate = untranslated
) -> str:
    """``市全体で遵守率が最も低いのは基準11（98.9%）です。``"""
    shown = [(v.number, i) for i, v in enumerate(city.values) if v.number is not None]
    if not shown:
        return _("表示できる遵守率はまだありません。")
    _rate, index = min(shown)
    return _(
        "%(city)sで遵守率が最も低いのは%(label)s（%(rate)s%%）です。",
        city=city.name, label=standards[index].label, rate=city.values[index].text,
    )  # fmt: skip
