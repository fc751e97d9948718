"""The differencing attacks, played as a chief and as a committee member would: over time
(before and after one colleague submits), across levels (a ward minus its sections), across
roles (全体 minus 職員), across formats (the API beside the CSV with counts), and across pages
(the city page beside every ward's own round, read before and after a ward's round closes).
Each test recovers nothing: no individual answer and no hidden count (docs/results.md).

And the same views at two times of a closed round: before and after next April's roster
reorganises its sections, and before and after an attempt to reopen it (a closed round is a
record: docs/results.md).

The world is tests/results_world.py: two wards, sections of 4 to 7 people, three chiefs; the
city's tests build the demo or a few wards of their own.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Answer, Response, Role, Round, Section
from app.services.results.compliance import round_results
from app.services.rounds.checklist_save import save_checklist
from tests import factories
from tests.results_world import World, build_world, everything_fetched, reorganise_next_year

API = "/api/v1/rounds/{}/compliance"
ROLES = ("staff", "chief")


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def _groups(app: Flask, round_id: int) -> dict[str, str | None]:
    """Every group the city committee may pick, with its parent (what the page's form lists)."""
    with app.app_context():
        results = round_results(round_id)
        db.session.commit()
        return {g.key: g.parent_key for g in results.groups}


def _published(client: FlaskClient, round_id: int, groups: dict[str, str | None]) -> dict[str, Any]:
    """Everything the API publishes about a round, group by group."""
    out = {}
    for key in groups:
        response = client.get(API.format(round_id), query_string={"group": key})
        assert response.status_code == 200, key
        out[key] = response.get_json()
    return out


def _cells(body: dict[str, Any]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    for standard in body["standards"]:
        for role in ROLES:
            yield (standard["key"], role), standard["roles"][role]


def _people(cell: dict[str, Any]) -> int | None:
    if cell["state"] == "hidden":
        return None
    return sum(cell[k] or 0 for k in ("complies", "not_complies", "not_applicable"))


def _reduced(rows: list[dict[object, Fraction]]) -> dict[object, dict[object, Fraction]]:
    """The rows' reduced echelon form (Gauss-Jordan over the rationals), by pivot: every pivot
    row has a 1 at its pivot and nothing at any other pivot."""
    pivots: dict[object, dict[object, Fraction]] = {}
    for row in rows:
        row = {k: v for k, v in row.items() if v}
        for var in [k for k in row if k in pivots]:
            factor = row.get(var)
            if factor:
                for k, v in pivots[var].items():
                    row[k] = row.get(k, Fraction(0)) - factor * v
        row = {k: v for k, v in row.items() if v}
        if not row:
            continue
        var = next(iter(row))
        row = {k: v / row[var] for k, v in row.items()}
        for other in pivots.values():
            factor = other.get(var)
            if factor:
                for k, v in row.items():
                    other[k] = other.get(k, Fraction(0)) - factor * v
                for k in [k for k, v in other.items() if not v]:
                    del other[k]
        pivots[var] = row
    return pivots


def _recoverable(equations: list[dict[object, Fraction]], unknowns: set[object]) -> set[object]:
    """The unknowns that a system of published sums (each: a linear form of cells that is
    zero, the known ones moved to the other side) determines exactly: a unit vector in the
    equations' span, that is a row of the reduced echelon form with one entry. Unknowns that
    share no equation are solved apart (each such part of the system is small)."""
    forms = [{c: v for c, v in form.items() if c in unknowns} for form in equations]
    forms = [f for f in forms if f]
    parent: dict[object, object] = {u: u for u in unknowns}

    def root(u: object) -> object:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for form in forms:
        first, *rest = form
        for other in rest:
            parent[root(other)] = root(first)
    parts: dict[object, list[dict[object, Fraction]]] = {}
    for form in forms:
        parts.setdefault(root(next(iter(form))), []).append(form)
    found: set[object] = set()
    for rows in parts.values():
        found |= {var for var, row in _reduced(rows).items() if len(row) == 1}
    return found


def _attack(relations: list[tuple[object, list[object]]], values: dict[object, int | None]):
    """Every hidden value (None) that the published totals and parts give away."""
    unknowns = {cell for cell, value in values.items() if value is None}
    equations = []
    for total, parts in relations:
        form = {total: Fraction(1)}
        for part in parts:
            form[part] = form.get(part, Fraction(0)) - 1
        equations.append(form)
    return _recoverable(equations, unknowns)


Relation = tuple[object, list[object]]  # a published total and its parts


def _system(
    groups: dict[str, str | None], published: dict[str, Any]
) -> tuple[dict[object, int | None], list[Relation]]:
    """Every count the API published for every group (None: hidden), and the sums that tie
    them: a parent group = its children (as the reply's groups were then), 全体 = 職員 + 所属長."""
    children: dict[str, list[str]] = {}
    for key, parent in groups.items():
        if parent is not None:
            children.setdefault(parent, []).append(key)
    values: dict[object, int | None] = {}
    relations: list[Relation] = []
    for key, body in published.items():
        for (std, role), cell in _cells(body):
            for field in ("complies", "not_complies", "not_applicable"):
                values[(key, std, role, field)] = (
                    None if cell["state"] == "hidden" else cell[field] or 0
                )
        for field in ("expected", "submitted"):
            for role in (*ROLES, "all"):
                rate = body["response_rates"][role]
                values[(key, role, field)] = None if rate["state"] == "hidden" else (
                    rate[field] or 0
                )
            relations.append(((key, "all", field), [(key, r, field) for r in ROLES]))
    for parent, kids in children.items():
        for slot in [c for c in values if isinstance(c, tuple) and c[0] == parent]:
            relations.append((slot, [(kid, *slot[1:]) for kid in kids]))
    return values, relations


def test_no_hidden_count_follows_from_the_published_ones(client, sign_in, world, app):
    """Across levels and roles: from every count the API publishes for every group (each
    standard's answers by role, the responses by role and in all), the sums that tie them
    (a parent group = its children, 全体 = 職員 + 所属長) determine no hidden count, by any
    linear combination (a ward minus its sections, 全体 minus 職員, and all their mixtures)."""
    sign_in(world.city_committee)
    groups = _groups(app, world.round_id)
    values, relations = _system(groups, _published(client, world.round_id, groups))
    hidden = {cell for cell, value in values.items() if value is None}
    assert len(hidden) > 20  # the world has hidden cells at every level: the attack has targets
    # Published values are constants: an equation's unknowns must add up to a known number.
    assert _attack(relations, values) == set()


def test_all_minus_staff_in_the_progress_chart_reveals_no_chief_count(client, sign_in, world):
    """Across pages: where the chiefs' response count is hidden, the progress chart's table
    hides 全体 too (it showed 全体 and 職員, so 全体 − 職員 gave the chiefs)."""
    sign_in(world.takatsu_committee)
    html = client.get(f"/results/rounds/{world.round_id}").get_data(as_text=True)
    table = html.split('id="chart-progress-figure"', 1)[1].split("</table>", 1)[0]
    last_row = re.findall(r"<tr>(.*?)</tr>", table, re.S)[-1]
    total, staff, chief = re.findall(r"<td[^>]*>([^<]*)</td>", last_row)[-3:]
    assert chief == "＊" and total == "＊" and staff.isdigit()


def test_the_api_and_the_csv_with_counts_hide_the_same_cells(client, sign_in, world, app):
    """Across formats: the long CSV (counts per standard and role) publishes exactly the API's
    counts and hides exactly the API's hidden cells, for every group."""
    sign_in(world.city_committee)
    groups = _groups(app, world.round_id)
    published = _published(client, world.round_id, groups)
    for key, body in published.items():
        response = client.get(
            f"/results/rounds/{world.round_id}/export/csv-long", query_string={"group": key}
        )
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        header, lines = rows[0], rows[1:]
        year = body["round"]["fiscal_year_label"]
        by_cell = {
            (r[header.index("基準キー")], r[header.index("区分")]): r
            for r in lines
            if r[3] == year
        }
        for (std_key, role), cell in _cells(body):
            line = by_cell[(std_key, "職員" if role == "staff" else "所属長")]
            counts = line[-3:]
            if cell["state"] == "hidden":
                assert line[header.index("遵守率(%)")] == "＊" and counts == ["", "", ""]
            else:
                expected = [cell[k] for k in ("complies", "not_complies", "not_applicable")]
                assert counts == ["" if v is None else str(v) for v in expected], (key, line)


def test_every_file_format_hides_the_apis_hidden_cells(client, sign_in, world, app):
    """Across formats: the report-layout CSV and the xlsx (both sheets) show ＊ exactly where
    the API hides a cell of this year, for every group, and carry no number for it."""
    from openpyxl import load_workbook

    sign_in(world.city_committee)
    groups = _groups(app, world.round_id)
    published = _published(client, world.round_id, groups)
    for key, body in published.items():
        hidden = sum(1 for _cell_key, cell in _cells(body) if cell["state"] == "hidden")
        export = f"/results/rounds/{world.round_id}/export/"
        wide = client.get(export + "csv", query_string={"group": key}).get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(wide.lstrip("\ufeff"))))
        year = body["round"]["fiscal_year_label"]
        this_year = [i for i, title in enumerate(rows[0]) if title.startswith(year)]
        stars = sum(1 for row in rows[1:] for i in this_year if row[i] == "＊")
        assert stars == hidden, key
        book = load_workbook(
            io.BytesIO(client.get(export + "xlsx", query_string={"group": key}).get_data())
        )
        for sheet in book.worksheets:
            marks = [c for row in sheet.iter_rows() for c in row if c.value == "＊"]
            # Last year's cells may be hidden too; this year's are at least the API's.
            assert len(marks) >= hidden, (key, sheet.title)
        counts = book.worksheets[-1]
        numbers = [
            c.value for row in counts.iter_rows() for c in row if isinstance(c.value, int)
        ]
        for _cell_key, cell in _cells(body):
            if cell["state"] == "shown" and cell["complies"]:
                assert cell["complies"] in numbers


def _without_tokens(body: bytes) -> bytes:
    """A page without its per-session CSRF tokens (the sign-out form has one)."""
    return re.sub(rb'name="csrf_token"[^>]*value="[^"]*"', b"", body)


def test_one_more_submit_changes_nothing_anyone_can_read(app, client, sign_in, world):
    """Over time: while a round is open, its compliance figures are refused to the committee
    (API, every file) and to the chief (the section's sheet), before and after a colleague
    submits; only the response counts move."""
    with app.app_context():
        catalogue = factories.catalogue("open-2026", fiscal_year=2026, standards=2)
        section = db.session.get_one(Section, world.soumu_section_id)
        round_ = factories.round_(catalogue, title="受付中の点検", wards=[section.ward])
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=2026)
        staff = [factories.person(section=section, fiscal_year=2026) for _ in range(6)]
        for person in staff[:5]:
            factories.response(round_, person, {"std-1": "yes", "std-2": "no"}, section=section)
        db.session.commit()
        round_id, chief_id, last_id = round_.id, chief.id, staff[5].id

    def everything() -> list[tuple[str, int, bytes]]:
        seen = []
        sign_in(world.city_committee)
        for url in (
            API.format(round_id),
            *(f"/results/rounds/{round_id}/export/{f}" for f in
              ("xlsx", "csv", "csv-long", "pdf", "html")),
        ):
            response = client.get(url)
            seen.append((url, response.status_code, _without_tokens(response.get_data())))
        sign_in(chief_id)
        for url in (
            f"/results/rounds/{round_id}/sections/{world.soumu_section_id}",
            f"/results/rounds/{round_id}/sections/{world.soumu_section_id}/export/csv",
        ):
            response = client.get(url)
            seen.append((url, response.status_code, _without_tokens(response.get_data())))
        return seen

    before = everything()
    assert {status for _url, status, _body in before} == {409}
    with app.app_context():
        from app.models import Person

        person = db.session.get_one(Person, last_id)
        save_checklist(round_id, person, {"std-1": "no", "std-2": "no"}, submit=True)
        db.session.commit()
    assert everything() == before
    assert b"std-1" not in b"".join(body for _url, _status, body in before)


def test_a_closed_rounds_figures_never_change(app, client, sign_in, world):
    """A closed round's figures are read from its counts: deleting every response and answer
    afterwards (as a purge of personal data would) changes no byte of the API or the CSV."""
    sign_in(world.city_committee)
    api = client.get(API.format(world.round_id)).get_data()
    long_csv = client.get(f"/results/rounds/{world.round_id}/export/csv-long").get_data()
    with app.app_context():
        db.session.execute(sa.delete(Answer))
        db.session.execute(sa.text("DELETE FROM section_answer"))
        db.session.execute(sa.delete(Response))
        db.session.commit()
    assert client.get(API.format(world.round_id)).get_data() == api
    assert client.get(f"/results/rounds/{world.round_id}/export/csv-long").get_data() == long_csv


def test_the_open_round_api_answers_409_with_the_reason(app, client, sign_in, world):
    """The compliance API of a round still open is a 409 whose message says the figures come
    after the close; the round's own results page says the same."""
    with app.app_context():
        catalogue = factories.catalogue("open-2026", fiscal_year=2026, standards=1)
        round_ = factories.round_(catalogue, title="受付中の点検")
        db.session.commit()
        round_id = round_.id
    sign_in(world.city_committee)
    response = client.get(API.format(round_id))
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "not_final" and "締め切り" in body["message"]


def test_a_submit_racing_the_close_is_either_counted_or_refused(app, world):
    """A save in flight holds the round's row: the count waits for it (and includes it), and a
    save that comes after the count is refused, so no answer lands outside the counts."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    from app.models import Person, RoundCount
    from app.services.results.tally import count_round
    from app.services.rounds.checklist import RoundClosed

    with app.app_context():
        catalogue = factories.catalogue("race-2026", fiscal_year=2026, standards=1)
        section = db.session.get_one(Section, world.soumu_section_id)
        closes = datetime.now(UTC) + timedelta(seconds=30)
        round_ = factories.round_(catalogue, wards=[section.ward], closes_at=closes)
        late, later = (factories.person(section=section, fiscal_year=2026) for _ in range(2))
        db.session.commit()
        round_id, late_id, later_id = round_.id, late.id, later.id

    with app.app_context():
        # The save in flight: answered before the close, not yet committed.
        save_checklist(
            round_id, db.session.get_one(Person, late_id), {"std-1": "yes"}, submit=True,
            now=closes - timedelta(seconds=1),
        )
        counter = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with counter.connect() as other:
            other.execute(sa.text("SET lock_timeout = '500ms'"))
            with pytest.raises(sa.exc.OperationalError, match="lock"):
                other.execute(
                    sa.text("UPDATE round SET counted_at = now() WHERE id = :id"),
                    {"id": round_id},
                )
        counter.dispose()
        db.session.commit()

    with app.app_context():
        assert count_round(round_id, closes + timedelta(seconds=1))
        db.session.commit()
        counted = db.session.scalar(
            sa.select(sa.func.sum(RoundCount.complies)).where(RoundCount.round_id == round_id)
        )
        assert counted == 1
        with pytest.raises(RoundClosed):
            save_checklist(
                round_id, db.session.get_one(Person, later_id), {"std-1": "yes"}, submit=True,
                now=closes - timedelta(seconds=1),
            )
        db.session.rollback()
        assert db.session.get_one(Round, round_id).counted_at is not None


# --- The city page beside the wards' own pages, and over time ----------------------------------

FIELDS = ("complies", "not_complies", "not_applicable")
Values = dict[object, int | None]
Relations = list[tuple[object, list[object]]]


def _learn(values: Values, var: object, value: int | None) -> None:
    """One more source's figure for a variable: a number from any source makes it known."""
    if value is None:
        values.setdefault(var, None)
        return
    known = values.get(var)
    assert known is None or known == value, var  # two pages never disagree on a figure
    values[var] = value


def _round_pages(results: Any, values: Values, relations: Relations) -> dict[int, str]:
    """What a round's own pages publish (final_results: the source of its page, breakdown,
    API and files): every group's standard, scene and all-standards cells by role and count,
    with the sums that tie them (a group = its sub-groups, a scene = its standards, all
    standards = its scenes). Returns each ward's group key."""
    from app.services.results.compliance import ALL, scene_column, std_column

    rid = results.round.id
    person = [s for s in results.standards if not s.section_level]
    columns = [std_column(s.key) for s in results.standards]
    scenes = {scene_column(s.scene) for s in person}
    columns += [*scenes, ALL]
    for group in results.groups:
        for role in Role:
            for column in columns:
                cell = results.cell(group.key, column, role)
                for f in FIELDS:
                    value = None if cell.state == "hidden" else getattr(cell, f) or 0
                    _learn(values, (rid, group.key, column, role, f), value)
                    if group.parent_key is not None:
                        kids = [g.key for g in results.groups if g.parent_key == group.parent_key]
                        relations.append((
                            (rid, group.parent_key, column, role, f),
                            [(rid, k, column, role, f) for k in kids],
                        ))
            for f in FIELDS:
                for scene in scenes:
                    parts = [std_column(s.key) for s in person if scene_column(s.scene) == scene]
                    relations.append((
                        (rid, group.key, scene, role, f),
                        [(rid, group.key, p, role, f) for p in parts],
                    ))
                relations.append((
                    (rid, group.key, ALL, role, f), [(rid, group.key, s, role, f) for s in scenes]
                ))
    return {g.ward_id: g.key for g in results.groups if g.level == "ward" and g.ward_id}


def _city_page(city: Any, label: str, wards: dict[int, tuple[int, str]], values: Values,
               relations: Relations) -> None:
    """What a city page publishes (``city``: city_results; its table and xlsx, as if every
    shown rate came with its counts, the strongest reader): the city's and each ward's cell per
    role and standard, tied by its sums (the city = its wards). A ward's cell is the same
    figure as its group's on its own round's pages (``wards``: ward id -> (round id, group
    key))."""
    from app.services.results.city import CITY
    from app.services.results.compliance import std_column

    def var(group: int, role: Role, key: str, f: str) -> object:
        if group == CITY:
            return (label, key, role, f)
        rid, ward_key = wards[group]
        return (rid, ward_key, std_column(key), role, f)

    groups = [CITY, *(w.id for w in city.wards_with_rounds)]
    for role in Role:
        for f in FIELDS:
            for standard in city.standards:
                for group in groups:
                    cell = city.cell(group, role, standard.key)
                    value = None if cell.state == "hidden" else getattr(cell, f) or 0
                    _learn(values, var(group, role, standard.key, f), value)
                relations.append(
                    (var(CITY, role, standard.key, f), [var(w, role, standard.key, f)
                                                        for w in groups[1:]])
                )


def _wards_cells(found: set[object]) -> set[object]:
    """The wards' own cells among the values found (keyed by round id): what people answered.
    A city cell hidden although the wards' own pages add up to it (the total of a round of
    several wards plus the other wards, say) gives nothing of theirs away."""
    return {var for var in found if isinstance(var, tuple) and isinstance(var[0], int)}


def test_the_city_page_beside_every_wards_own_pages_reveals_no_hidden_count(app, client, sign_in):
    """Across pages (the demo, both years, both roles): the city page's figures (its hidden
    marks read from the page itself) beside every group of every ward's own round (the
    committee member reads both) determine no hidden count, by any linear combination: the
    city minus the six wards shown never gives 麻生区's chiefs."""
    from pathlib import Path

    from app.models import Person
    from app.services.operations.demo import CITY_COMMITTEE_ACCOUNT, build_demo
    from app.services.results.city import CITY, city_results
    from app.services.results.compliance import final_results

    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        db.session.commit()
        reader = db.session.scalars(
            sa.select(Person.id).where(Person.employee_id == CITY_COMMITTEE_ACCOUNT)
        ).one()
    sign_in(reader)
    for year in (2024, 2025):
        values: Values = {}
        relations: Relations = []
        with app.app_context():
            city = city_results(year)
            wards = {}
            for ward in city.wards_with_rounds:
                assert ward.round_id is not None
                keys = _round_pages(final_results(ward.round_id), values, relations)
                wards[ward.id] = (ward.round_id, keys[ward.id])
            _city_page(city, "city", wards, values, relations)
            db.session.commit()
        for role in ("staff", "chief"):
            html = client.get(f"/results/city?year={year}&role={role}").get_data(as_text=True)
            table = html.split('class="table city-table', 1)[1].split("</table>", 1)[0]
            for row, standard in zip(re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", table,
                                                re.S), city.standards, strict=True):
                marks = ["rate-hidden" in td for td in re.findall(r"<td[^>]*>", row)]
                groups = [CITY, *(w.id for w in city.wards_with_rounds)]
                assert marks == [
                    city.cell(g, Role(role), standard.key).state == "hidden" for g in groups
                ], (year, role, standard.number)
        asao = next(w.id for w in city.wards_with_rounds if w.name == "麻生区")
        assert any(
            values[var] is None
            for var in values
            if isinstance(var, tuple) and var[1] == wards[asao][1] and var[3] is Role.CHIEF
        )  # the attack has a target: 麻生区's chiefs (4 sections) are hidden on its own page
        assert _wards_cells(_attack(relations, values)) == set(), year


def test_a_ward_closing_later_does_not_give_itself_away_on_the_city_page(app):
    """Over time: the city page read before and after a small ward's round closes (and every
    ward's own page) gives away no hidden count, staff or chief: the city's total over the
    wards hidden on their pages was the way (after minus before = the ward that joined)."""
    from app.services.results.city import city_results
    from app.services.results.compliance import final_results

    now = datetime.now(UTC)
    with app.app_context():
        catalogue = factories.catalogue("city-later", fiscal_year=2025, standards=2)
        rounds = []
        for name, staff, closes in (
            ("川崎区", 6, None), ("幸区", 7, None), ("宮前区", 2, None), ("多摩区", 3, None),
            ("麻生区", 2, now + timedelta(hours=1)),
        ):  # fmt: skip
            round_ = factories.round_(
                catalogue, wards=[factories.ward(name)], opens_at=now - timedelta(days=10),
                closes_at=closes or now - timedelta(days=1),
            )
            section = factories.section(f"{name}の課", ward_name=name)
            for n in range(staff + 1):
                role = Role.CHIEF if n == staff else Role.STAFF
                person = factories.person(section=section, role=role)
                answers = {"std-1": "no" if n % 2 else "yes", "std-2": "yes" if n else "no"}
                factories.response(round_, person, answers, section=section, role=role)
            rounds.append(round_.id)
        db.session.commit()

        values: Values = {}
        relations: Relations = []
        before = city_results(2025, now)
        after = city_results(2025, now + timedelta(hours=2))
        assert len(before.wards_with_rounds) == 4 and len(after.wards_with_rounds) == 5
        wards = {}
        for round_id in rounds:
            results = final_results(round_id)
            ward_id = results.round.ward_ids[0]
            wards[ward_id] = (round_id, _round_pages(results, values, relations)[ward_id])
        _city_page(before, "city before", wards, values, relations)
        _city_page(after, "city after", wards, values, relations)
        db.session.commit()
    asao = wards[max(wards)]
    assert values[(*asao, "std:std-1", Role.STAFF, "complies")] is None  # a target
    assert values[(*asao, "std:std-1", Role.CHIEF, "complies")] is None
    assert _wards_cells(_attack(relations, values)) == set()


def test_a_ward_its_round_hides_as_a_complement_stays_hidden_on_the_city_page(app):
    """Across pages: a round of three wards hides its small ward and, to protect it, its next
    smallest; the city page hides that one too (else the round's total minus the two wards
    shown gives the small one), and its own total with them."""
    from app.services.results.city import CITY, city_results
    from app.services.results.compliance import final_results

    with app.app_context():
        catalogue = factories.catalogue("city-joint", fiscal_year=2025, standards=2)
        joint = factories.closed_round(
            catalogue, wards=[factories.ward(n) for n in ("宮前区", "多摩区", "麻生区")]
        )
        alone = factories.closed_round(catalogue, wards=[factories.ward("川崎区")])
        for round_, name, staff in (
            (joint, "宮前区", 9), (joint, "多摩区", 6), (joint, "麻生区", 2), (alone, "川崎区", 7),
        ):  # fmt: skip
            section = factories.section(f"{name}の課", ward_name=name)
            for n in range(staff):
                person = factories.person(section=section)
                answers = {"std-1": "no" if n % 3 else "yes", "std-2": "yes"}
                factories.response(round_, person, answers, section=section)
        db.session.commit()

        values: Values = {}
        relations: Relations = []
        city = city_results(2025)
        wards = {}
        for round_id in (joint.id, alone.id):
            keys = _round_pages(final_results(round_id), values, relations)
            wards.update({ward_id: (round_id, key) for ward_id, key in keys.items()})
        _city_page(city, "city", wards, values, relations)
        by_name = {w.name: w.id for w in city.wards_with_rounds}
        tama, asao = by_name["多摩区"], by_name["麻生区"]
        db.session.commit()
    assert values[(*wards[tama], "std:std-1", Role.STAFF, "complies")] is None
    assert city.cell(tama, Role.STAFF, "std-1").state == "hidden"
    assert city.cell(asao, Role.STAFF, "std-1").state == "hidden"
    assert city.cell(CITY, Role.STAFF, "std-1").state == "hidden"
    assert _wards_cells(_attack(relations, values)) == set()


# --- The same views at two times: a reorganisation, a reopening ------------------------------


def _signed_attack(
    relations: list[Relation],
    values: dict[object, int | None],
    same: Sequence[tuple[object, object]],
) -> set[object]:
    """Every hidden value that the published sums (total − parts = 0) and the values that are
    the same people's answers at two times (before − after = 0) determine exactly, by the
    elimination above (``_recoverable``)."""
    unknowns = {cell for cell, value in values.items() if value is None}
    forms: list[dict[object, Fraction]] = []
    signed = [[(total, 1), *((part, -1) for part in parts)] for total, parts in relations]
    signed += [[(first, 1), (second, -1)] for first, second in same]
    for terms in signed:
        form: dict[object, Fraction] = {}
        for cell, sign in terms:
            form[cell] = form.get(cell, Fraction(0)) + sign
        forms.append(form)
    return _recoverable(forms, unknowns)


def _at(time: str, values: dict[object, int | None], relations: list[Relation]):
    """The values and sums of one reading, each cell tagged with the time it was read."""
    return (
        {(time, cell): value for cell, value in values.items()},
        [((time, total), [(time, part) for part in parts]) for total, parts in relations],
    )


def _over_time(
    before: tuple[dict[str, str | None], dict[str, Any]],
    after: tuple[dict[str, str | None], dict[str, Any]],
) -> tuple[set[object], int]:
    """What the two readings give away together, and how many hidden values they hold: each
    reading's values and sums (each with the groups as its reply gave them), and every
    section's values the same at both times (the same people's answers of a closed round)."""
    values_b, relations_b = _at("before", *_system(*before))
    values_a, relations_a = _at("after", *_system(*after))
    values = values_b | values_a
    sections = [key for key in before[0] if key.startswith("section:") and key in after[0]]
    same = [
        (("before", cell), ("after", cell))
        for cell in _system(*before)[0]
        if isinstance(cell, tuple) and cell[0] in sections and ("after", cell) in values
    ]
    hidden = sum(1 for value in values.values() if value is None)
    return _signed_attack(relations_b + relations_a, values, same), hidden


def test_a_reorganisation_gives_nothing_away_between_two_readings(app, client, sign_in, world):
    """Over time, the reorganisation: a committee member saves every fetch of the closed round
    (every page and file, and the API's counts of every group), next April's roster moves
    総務課 (4 people, hidden) into 区民サービス部 and renames and reorders the rest, and the
    member fetches everything again. Read against today's organisation, 区民サービス部 after
    minus before was 総務課; now every fetch is the same and the elimination over both readings,
    with each section the same people at both times, determines no hidden value."""
    with app.app_context():
        saved = everything_fetched(client, sign_in, world)
    groups = _groups(app, world.round_id)
    before = (groups, _published(client, world.round_id, groups))
    with app.app_context():
        reorganise_next_year()
        db.session.commit()
    groups = _groups(app, world.round_id)
    after = (groups, _published(client, world.round_id, groups))
    recovered, hidden = _over_time(before, after)
    assert hidden > 40
    assert recovered == set()
    with app.app_context():
        assert everything_fetched(client, sign_in, world) == saved


def test_a_reopening_after_a_reading_is_refused_and_gives_nothing_away(
    app, client, sign_in, world
):
    """Over time, the reopening: a committee member saves every fetch of the closed round; an
    admin then moves its close later so that one more colleague of 総務課 could submit: refused
    in the admin's form (its results were read), and the colleague's submit is refused as after
    the close. Every fetch after is the same, and the elimination over both readings
    determines no hidden value."""
    from app.models import Person
    from app.services.rounds.checklist import RoundClosed
    from tests.rounds.test_admin import local

    with app.app_context():
        section = db.session.get_one(Section, world.soumu_section_id)
        colleague = factories.person(section=section, fiscal_year=2025).id
        db.session.commit()
        saved = everything_fetched(client, sign_in, world)
    groups = _groups(app, world.round_id)
    before = (groups, _published(client, world.round_id, groups))
    with app.app_context():
        round_ = db.session.get_one(Round, world.round_id)
        later = datetime.now(UTC) + timedelta(days=7)
        form = {
            "catalogue": round_.catalogue.key, "wards": [w.name for w in round_.wards],
            "title": round_.title, "opens": local(round_.opens_at), "closes": local(later),
            "reminder_days": round_.reminder_days, "confirm": "y",
        }
    sign_in(world.admin)
    refused = client.post(f"/admin/rounds/{world.round_id}/edit", data=form)
    assert refused.status_code == 400 and "再開できません" in refused.get_data(as_text=True)
    with app.app_context():
        with pytest.raises(RoundClosed):
            save_checklist(
                world.round_id, db.session.get_one(Person, colleague),
                {"std-1": "no", "std-2": "no"}, submit=True,
            )
        db.session.rollback()
    groups = _groups(app, world.round_id)
    after = (groups, _published(client, world.round_id, groups))
    recovered, hidden = _over_time(before, after)
    assert hidden > 40
    assert recovered == set()
    with app.app_context():
        assert everything_fetched(client, sign_in, world) == saved
