"""The chart builders of reports/charts.py: plain data in, Plotly figures out, without an app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import plotly.graph_objects as go

from reports import charts
from reports.charts import (
    HeatmapData,
    ProgressDay,
    RateChange,
    RoleRate,
    StandardRates,
    Value,
)


def validated(figure: charts.Figure) -> go.Figure:
    """The figure read back by Plotly, which refuses any property plotly.js does not have."""
    return go.Figure(figure)


HIDDEN = Value(None, "＊")
EMPTY = Value(None, "-")


def _v(text: str) -> Value:
    return Value(D(text), text)


ROWS = [
    StandardRates("基準1", "広報", _v("97.8"), _v("100.0"), 1),
    StandardRates("基準14", "声掛け", _v("96.5"), HIDDEN, 14),
    StandardRates("基準24", "管理職会議", EMPTY, _v("83.3"), 24),
]
CITY_STANDARDS = [charts.StandardName(1, "基準1", "広報"), charts.StandardName(2, "基準2", "案内")]


def test_standard_bars_put_staff_beside_chiefs_and_leave_out_hidden_cells():
    """Two bar traces (職員, 所属長) per standard; ＊ and - cells are None, not numbers."""
    figure = validated(charts.standard_bars(ROWS, "基準ごとの遵守率（高津区）"))
    staff, chief = figure.data
    assert (staff.name, chief.name) == ("職員", "所属長")
    assert list(staff.x) == ["1", "14", "24"]  # the axis names a standard by its number
    assert list(staff.y) == [97.8, 96.5, None]
    assert list(chief.y) == [100.0, None, 83.3]
    assert [list(c) for c in chief.customdata] == [
        ["100.0", "基準1 広報"],
        ["＊", "基準14 声掛け"],
        ["83.3", "基準24 管理職会議"],
    ]  # the rate as published, and the standard's label and text for the hover
    assert figure.layout.barmode == "group"
    assert figure.layout.title.text == "基準ごとの遵守率（高津区）"
    assert figure.layout.font.family == "Noto Sans CJK JP, sans-serif"


def test_standard_bars_summary_names_the_lowest_per_role():
    """The summary names each role's lowest shown rate."""
    assert charts.standard_bars_summary(ROWS) == (
        "職員の遵守率が最も低いのは基準14（96.5%）、所属長は基準24（83.3%）です。"
    )
    nothing = [StandardRates("基準1", "", HIDDEN, EMPTY, 1)]
    assert charts.standard_bars_summary(nothing) == "表示できる遵守率はまだありません。"


def test_lowest_bars_are_horizontal_lowest_first():
    """The lowest standards as horizontal bars, labelled with the role, lowest at the top."""
    items = [
        RoleRate("基準25", "苦情", "所属長", D("83.3")),
        RoleRate("基準14", "声掛け", "職員", D("96.5")),
    ]
    figure = validated(charts.lowest_bars(items, "遵守率の低い基準"))
    (bars,) = figure.data
    assert bars.orientation == "h"
    assert list(bars.y) == ["基準25（所属長）", "基準14（職員）"]
    assert list(bars.x) == [83.3, 96.5]
    assert figure.layout.yaxis.autorange == "reversed"
    assert charts.lowest_summary(items) == "最も低いのは基準25の所属長（83.3%）です。"


def test_change_bars_show_points_and_skip_what_cannot_be_compared():
    """Change against last year per standard and role; None where either year is not shown."""
    rows = [
        RateChange("基準1", "広報", D("-1.5"), D("0.0"), 1),
        RateChange("基準23", "庁舎", D("0.2"), None, 23),
    ]
    figure = validated(charts.change_bars(rows, "前年度との差", "令和6年度"))
    staff, chief = figure.data
    assert list(staff.y) == [-1.5, 0.2]
    assert list(chief.y) == [0.0, None]
    assert "令和6年度" in figure.layout.yaxis.title.text
    assert charts.change_summary(rows, "令和6年度") == (
        "令和6年度から最も下がったのは基準1の職員（-1.5ポイント）です。"
    )
    assert charts.change_summary([], "令和6年度") == "令和6年度と比べられる基準がありません。"


def test_heatmap_leaves_hidden_cells_as_labelled_gaps():
    """Section × scene rates; a hidden cell is a gap (None) labelled ＊, never a colour."""
    data = HeatmapData(
        ("総務課", "区民課"),
        ("応対", "対面"),
        ((_v("98.5"), HIDDEN), (_v("97.0"), EMPTY)),
    )
    figure = validated(charts.scene_heatmap(data, "課×場面の遵守率（職員）"))
    (heat,) = figure.data
    assert [list(r) for r in heat.z] == [[98.5, None], [97.0, None]]
    assert list(heat.x) == ["応対", "対面"] and list(heat.y) == ["総務課", "区民課"]
    labels = {(a.y, a.x): a.text for a in figure.layout.annotations}
    assert labels == {("総務課", "対面"): "＊", ("区民課", "対面"): "-"}
    assert charts.heatmap_summary(data) == (
        "職員の遵守率が最も低いのは区民課の「応対」（97.0%）です。"
    )


def test_progress_lines_are_cumulative_with_the_expected_number():
    """Cumulative submissions per day for 全体, 職員, 所属長, and a reference line at the number
    of people expected; a hidden role has no line."""
    days = [
        ProgressDay(date(2025, 11, 4), "令和7年11月4日", 10, None, 12),
        ProgressDay(date(2025, 11, 5), "令和7年11月5日", 30, None, 33),
    ]
    figure = validated(charts.progress_lines(days, 40, "提出数の推移"))
    names = [trace.name for trace in figure.data]
    assert names == ["全体", "職員", "対象者数（40人）"]
    assert list(figure.data[0].y) == [12, 33]
    assert list(figure.data[0].x) == ["2025-11-04", "2025-11-05"]
    assert list(figure.data[2].y) == [40, 40]
    assert charts.progress_summary(days, 40) == (
        "令和7年11月5日までに 33 人が提出しました（対象 40 人）。"
    )
    assert charts.progress_summary([], 40) == "まだ提出した人はいません。"


def test_config_hides_the_logo_and_the_modebar():
    """Every chart's config: no Plotly logo, no modebar in the tab order, responsive."""
    assert charts.CONFIG == {"displaylogo": False, "displayModeBar": False, "responsive": True}


def test_charts_need_no_flask():
    """reports/charts.py is pure: importing it loads neither Flask nor Flask-Babel."""
    import subprocess
    import sys

    code = "import sys, reports.charts; print(sorted(m for m in sys.modules if 'flask' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_words_go_through_the_translate_function_given():
    """The caller's translate function (gettext on the site) says every word; without one the
    Japanese is kept."""
    english = {"職員": "Staff", "所属長": "Chiefs", "遵守率（%）": "Compliance (%)", "基準": "Std"}

    def translate(message, **values):
        return english.get(message, message) % values if values else english.get(message, message)

    figure = validated(charts.standard_bars(ROWS, "title", _=translate))
    assert [t.name for t in figure.data] == ["Staff", "Chiefs"]
    assert figure.layout.yaxis.title.text == "Compliance (%)"
    assert [t.name for t in validated(charts.standard_bars(ROWS, "title")).data] == [
        "職員",
        "所属長",
    ]


def test_rate_axes_start_where_the_data_does_and_say_so():
    """The bars' rate axis runs from a multiple of 5 under the lowest rate to 100, and the
    page's sentence states that range; nothing shown gives 0-100."""
    figure = validated(charts.standard_bars(ROWS, "t"))
    assert tuple(figure.layout.yaxis.range) == (80, 100)  # lowest shown: 83.3
    assert charts.rate_range_note((80, 100)) == "縦軸は 80%〜100% です。"
    assert charts.rate_range_note((90, 100), horizontal=True) == "横軸は 90%〜100% です。"
    assert charts.rate_axis([D("99.5"), None]) == (95, 100)
    assert charts.rate_axis([D("62.4")]) == (60, 100)
    assert charts.rate_axis([None]) == (0, 100)
    lowest = validated(charts.lowest_bars([RoleRate("基準14", "声掛け", "職員", D("96.5"))], "t"))
    assert tuple(lowest.layout.xaxis.range) == (95, 100)


def _luminance(rgb: str) -> float:
    red, green, blue = (int(v) for v in rgb.removeprefix("rgb(").removesuffix(")").split(","))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_the_heatmap_key_says_darker_is_lower_and_matches_the_colours():
    """The lowest rate gets the darkest colour; the key the page draws has the same colours
    from that rate (darkest) to 100 (lightest)."""
    data = HeatmapData(("総務課", "区民課"), ("応対",), ((_v("92.0"),), (_v("100.0"),)))
    (heat,) = validated(charts.scene_heatmap(data, "t")).data
    assert heat.zmin == 92.0 and heat.zmax == 100 and not heat.reversescale
    scale = [tuple(stop) for stop in heat.colorscale]
    assert _luminance(scale[0][1]) < _luminance(scale[-1][1])  # zmin (lowest) is darkest
    key = charts.heatmap_key(data)
    assert [(k.offset, k.color) for k in key] == scale
    assert (key[0].rate, key[-1].rate) == (92.0, 100.0)
    lightness = [_luminance(k.color) for k in key]
    assert lightness == sorted(lightness)


def test_plain_figures_are_what_plotly_would_write():
    """Each builder's plain figure is valid Plotly and is, as JSON, exactly what
    ``go.Figure(...).to_json()`` writes for it (Plotly's default template included), so the
    charts look as they did when the builders returned ``go.Figure``."""
    import json

    heat = HeatmapData(
        ("総務課", "区民課"), ("応対", "対面"), ((_v("98.5"), HIDDEN), (_v("97.0"), EMPTY))
    )
    days = [ProgressDay(date(2025, 11, 4), "令和7年11月4日", 10, None, 12)]
    city = [
        charts.CitySeries("市全体", (_v("97.0"), HIDDEN), city=True),
        charts.CitySeries("高津区", (_v("96.0"), EMPTY)),
    ]
    figures = [
        charts.standard_bars(ROWS, "a"),
        charts.lowest_bars([RoleRate("基準14", "声掛け", "職員", D("96.5"))], "b"),
        charts.change_bars([RateChange("基準1", "広報", D("-1.5"), None, 1)], "c", "令和6年度"),
        charts.scene_heatmap(heat, "d"),
        charts.progress_lines(days, 40, "e"),
        charts.city_chart(CITY_STANDARDS, city, "f"),
    ]
    for figure in figures:
        plain = json.loads(json.dumps(figure))
        assert plain == json.loads(validated(figure).to_json())
        assert plain["layout"]["template"]["layout"]["colorway"]  # Plotly's default template


def _all_figures() -> list[charts.Figure]:
    heat = HeatmapData(("総務課",), ("応対",), ((_v("98.5"),),))
    city = [charts.CitySeries("市全体", (_v("97.0"), HIDDEN), city=True)]
    return [
        charts.standard_bars(ROWS, "基準ごとの遵守率（高津区）"),
        charts.lowest_bars([RoleRate("基準14", "声掛け", "職員", D("96.5"))], "b"),
        charts.change_bars([RateChange("基準1", "広報", D("-1.5"), None, 1)], "c", "令和6年度"),
        charts.scene_heatmap(heat, "d"),
        charts.progress_lines([ProgressDay(date(2025, 11, 4), "令和7年11月4日", 1, 1, 2)], 4, "e"),
        charts.city_chart(CITY_STANDARDS, city, "f"),
    ]


def test_the_legend_sits_above_the_plot_under_the_title():
    """Every chart's legend is a row above the plot (its bottom on the plot's top edge, so it
    pushes the top margin), and the title is placed in the figure with automargin, so that
    its room is kept above the legend's: neither covers the other, the ticks or the plot."""
    for figure in _all_figures():
        layout = validated(figure).layout
        assert (layout.legend.orientation, layout.legend.y, layout.legend.yanchor) == (
            "h",
            1,
            "bottom",
        )
        assert (layout.legend.xref, layout.legend.yref) == ("paper", "paper")
        assert layout.title.yref == "container" and layout.title.automargin is True
        assert layout.xaxis.automargin is True and layout.yaxis.automargin is True
        assert layout.margin.autoexpand is not False


def test_standards_are_named_by_number_on_the_axis_and_in_full_in_the_hover():
    """The axis of standards is categorical with the bare numbers (no label to cut to 「基…」);
    the hover names the standard with its whole text."""
    bars = validated(charts.standard_bars(ROWS, "t"))
    assert bars.layout.xaxis.type == "category"
    assert "%{customdata[1]}" in bars.data[0].hovertemplate
    change = validated(
        charts.change_bars([RateChange("基準23", "庁舎", D("0.2"), None, 23)], "c", "令和6年度")
    )
    assert list(change.data[0].x) == ["23"] and list(change.data[0].customdata) == ["基準23 庁舎"]
    city = validated(
        charts.city_chart(CITY_STANDARDS, [charts.CitySeries("高津区", (_v("1"), EMPTY))], "f")
    )
    assert list(city.data[0].x) == ["1", "2"]
    assert [list(c) for c in city.data[0].customdata] == [["1", "基準1 広報"], ["-", "基準2 案内"]]
    assert charts.city_summary(CITY_STANDARDS, charts.CitySeries("市", (EMPTY, _v("97.0")))) == (
        "市で遵守率が最も低いのは基準2（97.0%）です。"
    )


def test_a_standards_words_in_the_hover_are_text_never_markup():
    """A standard's text is escaped for plotly's hover (which reads <a>, <b>, <br> as markup)
    and broken into short lines: a text planted with a link stays words."""
    planted = 'いつも<a href="javascript:alert(1)">ここ</a>を押す' + "あ" * 40
    heading = charts.hover_heading("基準3", planted)
    assert "<" not in heading.replace("<br>", "")  # the only markup: the line breaks
    assert heading.replace("<br>", "").startswith('基準3 いつも&lt;a href="javascri')
    assert charts.hover_heading("基準4", "A & B") == "基準4 A &amp; B"
    lines = heading.split("<br>")
    assert len(lines) > 1
    assert all(len(line) <= charts.HOVER_LINE + 10 for line in lines)  # the escapes add some
    rows = [StandardRates("基準3", planted, _v("99.0"), _v("98.0"), 3)]
    (staff, _chief) = validated(charts.standard_bars(rows, "t")).data
    assert staff.customdata[0][1] == heading


def test_a_phone_gets_smaller_words_the_title_in_two_lines_and_more_height():
    """The narrow layout (applied by charts.js under 600 px) breaks the title before its
    parenthesis into the title and plotly's subtitle, shrinks the font, adds height, writes a
    heatmap's scenes upright, and is valid Plotly once applied."""
    for figure in _all_figures():
        narrow = charts.narrow_layout(figure)
        assert narrow["font.size"] < figure["layout"]["font"]["size"]
        assert narrow["height"] > figure["layout"]["height"]
        applied = go.Figure(figure)
        applied.update_layout({path.replace(".", "_"): v for path, v in narrow.items()})
    standards = charts.narrow_layout(_all_figures()[0])
    assert (standards["title.text"], standards["title.subtitle.text"]) == (
        "基準ごとの遵守率",
        "（高津区）",
    )
    assert charts.title_lines("Compliance (Takatsu)") == ("Compliance", "(Takatsu)")
    assert charts.title_lines("b") == ("b", "")
    assert charts.narrow_layout(_all_figures()[3])["xaxis.tickangle"] == -90
    assert "xaxis.tickangle" not in standards


def test_a_heatmap_names_every_row_even_when_every_cell_is_hidden():
    """A section whose every cell is hidden keeps its row and the scenes on the axes
    (categories given, not only read from the data), with its ＊ labels."""
    data = HeatmapData(("総務課",), ("応対", "対面"), ((HIDDEN, HIDDEN),))
    layout = validated(charts.scene_heatmap(data, "t")).layout
    assert list(layout.xaxis.categoryarray) == ["応対", "対面"]
    assert list(layout.yaxis.categoryarray) == ["総務課"]
    assert tuple(layout.yaxis.range) == (0.5, -0.5)  # the first row on top
    assert [a.text for a in layout.annotations] == ["＊", "＊"]
