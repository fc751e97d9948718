"""The committee's pages: the rounds list, a round's table and charts, the breakdown, and
plotly.js served by the app (app/results). Figures are those of tests/results_world.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.extensions import db
from app.models import Role
from app.results.routes import plotly_js_path
from app.services.results.compliance import round_results
from tests import factories
from tests.results_world import World, build_world

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def _html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _table_rows(html: str) -> dict[str, list[str]]:
    """The compliance table's cells by row heading (基準N): [text cells...] after the text."""
    table = html.split('id="compliance-table"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr id=\"row-[^\"]+\">(.*?)</tr>", table, re.S):
        found = re.search(r"<th scope=\"row\"[^>]*>(.*?)</th>", row, re.S)
        assert found is not None
        head = found.group(1)
        # The standard's text under its number is for phones (std-inline); the number is the key.
        head = re.sub(r"<span class=\"std-inline\">.*?</span>", "", head, flags=re.S)
        cells = re.findall(r"<td class=\"num[^\"]*\">(.*?)</td>", row, re.S)
        rows[head] = [re.sub(r"<span class=\"visually-hidden\">.*?</span>|<[^>]+>", "", c)
                      for c in cells]
    return rows


def _charts(html: str) -> dict[str, dict[str, Any]]:
    return {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(
            r'<script type="application/json" id="(chart-[a-z]+)-data">(.*?)</script>', html, re.S
        )
    }


def test_ward_committee_sees_the_hand_computed_table_beside_last_year(client, sign_in, world):
    """高津区's committee member gets 高津区's table: last year (令和6年度) then this year, 職員 and
    所属長, with the figures worked out by hand and the renumbered standard's note."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    assert "令和6年度" in html and "令和7年度" in html
    assert _table_rows(html) == {
        "基準1": ["80.0", "-", "73.3", "＊"],
        "基準2": ["100.0", "-", "76.9", "＊"],
        "基準24": ["-", "-", "-", "66.7"],
    }
    assert "前年度は基準5" in html
    assert "前年度の文言：基準2の前年度の文" in html
    assert '<th scope="colgroup" colspan="2">令和6年度</th>' in html
    assert "15 / 16" in html and "93.8" in html  # staff response rate
    assert "「＊」は、回答者が5人未満" in html


def test_the_page_shows_what_round_results_gives(app, client, sign_in, world):
    """Every cell of the table is the service's text for that group, standard and role."""
    sign_in(world.city_committee)
    group = f"section:{world.miyamae_section_id}"
    html = _html(client, f"/results/rounds/{world.round_id}?group={group}")
    with app.app_context():
        expected = {
            f"基準{row.standard.number}": [row.current[r].text for r in (Role.STAFF, Role.CHIEF)]
            for row in round_results(world.round_id).table(group)
        }
    assert _table_rows(html) == expected
    assert expected["基準1"] == ["100.0", "-"]


def test_hidden_cells_show_the_mark_and_their_numbers_appear_nowhere(client, sign_in, world):
    """総務課 (4 people) is hidden on every view: ＊ in its cells, and its rates 75.0 and 25.0 are
    nowhere in any page, table or chart JSON."""
    sign_in(world.takatsu_committee)
    pages = [
        _html(client, f"/results/rounds/{world.round_id}"),
        _html(client, f"/results/rounds/{world.round_id}?group=section:{world.soumu_section_id}"),
        _html(client, f"/results/rounds/{world.round_id}/breakdown?level=section&role=staff"),
        _html(client, f"/results/rounds/{world.round_id}/breakdown?level=department"),
    ]
    soumu = _table_rows(pages[1])
    assert soumu["基準1"][2:] == ["＊", "＊"] and soumu["基準2"][2:] == ["＊", "＊"]
    for html in pages:
        assert "75.0" not in html and "25.0" not in html
    breakdown = pages[2]
    soumu_row = breakdown.split("総務課", 1)[1].split("</tr>", 1)[0]
    assert "＊" in soumu_row


def test_hidden_and_empty_cells_are_never_plotted(client, sign_in, world):
    """In the chart JSON a hidden or '-' cell is null (no bar), the heatmap labels it ＊."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    charts = _charts(html)
    assert set(charts) == {
        "chart-standards", "chart-lowest", "chart-change", "chart-heatmap", "chart-progress"
    }
    staff, chief = charts["chart-standards"]["data"]
    assert staff["x"] == ["1", "2", "24"]  # the axis names a standard by its number
    assert [heading.split(" ", 1)[0] for _rate, heading in staff["customdata"]] == [
        "基準1", "基準2", "基準24"
    ]  # the hover by its label and text
    assert staff["y"] == [73.3, 76.9, None]
    assert chief["y"] == [None, None, 66.7]
    heatmap = charts["chart-heatmap"]
    assert heatmap["data"][0]["y"] == ["区民課", "保険年金課", "総務課"]
    assert heatmap["data"][0]["z"][2] == [None]
    assert {a["text"] for a in heatmap["layout"]["annotations"]} == {"＊"}
    assert charts["chart-standards"]["config"]["displaylogo"] is False
    assert "職員の遵守率が最も低いのは基準1（73.3%）、所属長は基準24（66.7%）です。" in html


def test_a_chart_names_standards_by_number_and_its_table_gives_their_words(
    client, sign_in, world
):
    """The charts of standards put only the number on the axis; each standard's whole text is
    in the hover and under its label in the table beside the chart (the page's only place
    for the words once the axis is numbers)."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    charts = _charts(html)
    for chart in ("chart-standards", "chart-change"):
        table = html.split(f'id="{chart}-table-caption"', 1)[1].split("</table>", 1)[0]
        trace = charts[chart]["data"][0]
        headings = [c[1] if isinstance(c, list) else c for c in trace["customdata"]]
        for number, heading in zip(trace["x"], headings, strict=True):
            label, text = heading.replace("<br>", "").split(" ", 1)
            assert label == f"基準{number}"
            assert text and f'{label}<small class="std-note">{text}</small>' in table


def test_rate_axes_start_at_the_data_and_the_heatmap_has_its_key(client, sign_in, world):
    """The standards chart's axis runs from just under the lowest rate (66.7: 65) to 100 and
    the page says so; the heatmap's key is drawn with the chart's own colours, darkest first."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    charts = _charts(html)
    assert charts["chart-standards"]["layout"]["yaxis"]["range"] == [65, 100]
    assert "縦軸は 65%〜100% です。" in html
    key = html.split('id="chart-heatmap-key"', 1)[1].split("</div>", 1)[0]
    assert "色が濃いほど遵守率が低い" in key
    colours = re.findall(r'stop-color="([^"]+)"', key)
    scale = [c for _offset, c in charts["chart-heatmap"]["data"][0]["colorscale"]]
    assert colours == scale and colours[0] == "rgb(8,48,107)"  # the darkest first


def test_ward_committee_cannot_read_another_wards_round_or_groups(client, sign_in, world):
    """A committee member for 高津区 gets 404 for 宮前区's round and for 宮前区's groups of a
    shared round, and the group select lists 高津区's groups only."""
    sign_in(world.takatsu_committee)
    refused = _html(client, f"/results/rounds/{world.miyamae_round_id}", 404)
    assert "この調査の結果を見る権限がありません。" in refused
    _html(client, f"/results/rounds/{world.round_id}?group=section:{world.miyamae_section_id}",
          404)
    _html(client, f"/results/rounds/{world.round_id}?group=all", 404)
    html = _html(client, f"/results/rounds/{world.round_id}")
    select = html.split('<select', 1)[1].split("</select>", 1)[0]
    assert "高津区" in select and "総務課" in select
    assert "宮前" not in select
    wards = _html(client, f"/results/rounds/{world.round_id}/breakdown?level=ward")
    assert "宮前" not in wards.split("<tbody>", 1)[1]
    listing = _html(client, "/results/")
    assert "令和7年度 点検" in listing and "宮前区だけの点検" not in listing


def test_city_committee_reads_both_wards_without_a_comparison_for_the_whole(client, sign_in, world):
    """A city-wide reader sees the two-ward round as a whole; last year covered 高津区 only,
    so the whole has no previous-year columns while 高津区 has them."""
    sign_in(world.city_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    assert _table_rows(html)["基準1"] == ["80.0", "＊"]
    assert "chart-change" not in _charts(html)
    ward = _html(client, f"/results/rounds/{world.round_id}?group=ward:{world.takatsu_ward_id}")
    assert _table_rows(ward)["基準1"] == ["80.0", "-", "73.3", "＊"]
    assert "宮前区だけの点検" in _html(client, "/results/")


@pytest.mark.parametrize("who", ["staff", "chief"])
def test_staff_and_chiefs_are_refused(client, sign_in, world, who):
    """Staff and chiefs get 403 on every results page; they also have no 結果 link."""
    sign_in(getattr(world, who))
    for url in ("/results/", f"/results/rounds/{world.round_id}",
                f"/results/rounds/{world.round_id}/breakdown"):
        assert client.get(url).status_code == 403, url
    assert "結果</a>" not in _html(client, "/me")


def test_anonymous_is_sent_to_sign_in(client, world):
    """Without signing in, the results pages lead to the sign-in page."""
    response = client.get(f"/results/rounds/{world.round_id}")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_admin_reads_the_list_with_states_and_response_rates(client, sign_in, world):
    """The list shows each round newest first with wards, 令和 period, state and response rate."""
    sign_in(world.admin)
    html = _html(client, "/results/")
    assert html.index("令和7年度 点検") < html.index("令和6年度 点検")
    assert "令和7年11月4日 9時00分 〜 令和7年11月24日 9時00分" in html
    assert "終了" in html
    assert "高津区・宮前区" in html
    assert '<a href="/results/">結果</a>' in html or 'href="/results/"' in html


def test_open_round_shows_only_response_progress_until_the_close(app, client, sign_in, world):
    """While a round is open its page says the rates come after the close and shows the
    response rates and progress only: no compliance table, no downloads, no other chart."""
    with app.app_context():
        catalogue = factories.catalogue("open-2026", fiscal_year=2026, standards=1)
        open_round = factories.round_(catalogue, title="受付中の点検")
        db.session.commit()
        round_id = open_round.id
    sign_in(world.city_committee)
    html = _html(client, f"/results/rounds/{round_id}")
    assert "遵守率は締め切り" in html and 'id="not-final"' in html
    assert 'id="response-heading"' in html and 'id="chart-progress"' in html
    assert 'id="compliance-table"' not in html and "/export/" not in html
    assert 'id="chart-standards"' not in html
    breakdown = _html(client, f"/results/rounds/{round_id}/breakdown")
    assert 'id="not-final"' in breakdown and "全基準" not in breakdown
    assert "受付中" in _html(client, "/results/")


def test_breakdown_defaults_to_departments_for_staff_and_obeys_its_form(client, sign_in, world):
    """Default: one row per department for 職員 with 回答率, 全基準 and each scene; level and
    role come from the GET form; a wrong value is refused."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}/breakdown")
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r'<th scope="row">([^<]+)', body) == ["区民サービス部", "まちづくり推進部"]
    assert '<option selected value="department">' in html
    assert "全基準" in html and ">応対<" in html
    sections = _html(client, f"/results/rounds/{world.round_id}/breakdown?level=section&role=chief")
    body = sections.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r'<th scope="row">([^<]+)', body) == ["区民課", "保険年金課", "総務課"]
    _html(client, f"/results/rounds/{world.round_id}/breakdown?level=person", 400)


def test_round_page_queries_do_not_grow_with_people(app, client, sign_in, world):
    """The round page runs the same number of queries with five times as many people."""
    sign_in(world.takatsu_committee)

    def count() -> int:
        queries = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: queries.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            _html(client, f"/results/rounds/{world.round_id}")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(queries)

    def add_people_and_count_again(people: int) -> None:
        with app.app_context():
            from app.models import Round, Section
            from app.services.results.tally import discard_counts

            round_ = db.session.get_one(Round, world.round_id)
            section = db.session.scalars(sa.select(Section).where(Section.name == "区民課")).one()
            for _ in range(people):
                person = factories.person(section=section, fiscal_year=2025)
                factories.response(round_, person, {"std-1": "yes", "std-2": "no"}, section=section)
            discard_counts(round_)  # counted afresh at the next reading, as at a first close
            db.session.commit()

    count()  # the first reading counts the closed round and last year's
    warm = count()
    add_people_and_count_again(0)
    before = count()
    add_people_and_count_again(40)
    assert count() == before
    assert count() == warm


def test_plotly_is_served_by_the_app_with_a_long_cache(client, world):
    """plotly.min.js comes from the plotly package, public, cached a year; pages load it from
    /vendor with charts.js, and never from another host."""
    with client.get("/vendor/plotly.min.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.get_data() == plotly_js_path().read_bytes()
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]


def test_chart_page_loads_scripts_from_the_app_only(client, sign_in, world):
    """Every script and stylesheet of the round page is on this origin; nothing inline runs."""
    sign_in(world.takatsu_committee)
    html = _html(client, f"/results/rounds/{world.round_id}")
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any(s.startswith("/vendor/plotly.min.js") for s in sources)
    assert "/static/charts.js" in sources
    assert all(s.startswith("/") and not s.startswith("//") for s in sources)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all('src="' in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert " style=" not in html


def test_plotly_css_covers_the_rules_plotly_would_inject(world):
    """app/static/plotly.css holds every selector of the installed plotly.js's own style rules
    (which it would otherwise inject inline, refused by the CSP); regenerate it on upgrade."""
    bundle = plotly_js_path().read_text(encoding="utf-8")
    start = bundle.index('{"X,X div"')
    table = bundle[start : bundle.index("};for(", start)]
    selectors = re.findall(r'[{,]"([^"]*X[^"]*)":', table)
    assert len(selectors) > 30
    css = (STATIC / "plotly.css").read_text(encoding="utf-8")
    for selector in selectors:
        expanded = re.sub("^,", " ,", selector).replace("X", ".js-plotly-plot .plotly")
        assert expanded + " {" in css, selector


def test_nav_shows_results_to_committee_only(client, sign_in, world):
    """The header's 結果 link is there for the committee and not for staff."""
    sign_in(world.takatsu_committee)
    assert 'href="/results/"' in _html(client, "/me")
    sign_in(world.staff)
    assert 'href="/results/"' not in _html(client, "/me")
