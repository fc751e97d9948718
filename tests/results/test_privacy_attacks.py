"""The differencing attacks, played as a chief and as a committee member would: over time
(before and after one colleague submits), across levels (a ward minus its sections), across
roles (全体 minus 職員), and across formats (the API beside the CSV with counts). Each test
recovers nothing: no individual answer and no hidden count (docs/results.md).

The world is tests/results_world.py: two wards, sections of 4 to 7 people, three chiefs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
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
from tests.results_world import World, build_world

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


def _rank(rows: list[dict[object, Fraction]]) -> int:
    """The rank of a set of linear forms (Gaussian elimination over the rationals)."""
    pivots: list[tuple[object, dict[object, Fraction]]] = []
    for row in rows:
        row = {k: v for k, v in row.items() if v}
        for var, pivot in pivots:
            if row.get(var):
                factor = row[var] / pivot[var]
                for k, v in pivot.items():
                    row[k] = row.get(k, Fraction(0)) - factor * v
                row = {k: v for k, v in row.items() if v}
        if row:
            pivots.append((next(iter(row)), row))
    return len(pivots)


def _recoverable(equations: list[tuple[list[object], int]], unknowns: set[object]) -> set[object]:
    """The unknowns that a system of published sums (each: cells that add up to a total, the
    known ones already subtracted) determines exactly: a unit vector in the equations' span."""
    forms = [{cell: Fraction(1) for cell in cells if cell in unknowns} for cells, _ in equations]
    forms = [f for f in forms if f]
    base = _rank(forms)
    return {u for u in unknowns if _rank([*forms, {u: Fraction(1)}]) == base}


def _attack(relations: list[tuple[object, list[object]]], values: dict[object, int | None]):
    """Every hidden value (None) that the published totals and parts give away."""
    unknowns = {cell for cell, value in values.items() if value is None}
    equations = [([total, *parts], 0) for total, parts in relations]
    return _recoverable(equations, unknowns)


def test_no_hidden_count_follows_from_the_published_ones(client, sign_in, world, app):
    """Across levels and roles: from every count the API publishes for every group (each
    standard's answers by role, the responses by role and in all), the sums that tie them
    (a parent group = its children, 全体 = 職員 + 所属長) determine no hidden count, by any
    linear combination (a ward minus its sections, 全体 minus 職員, and all their mixtures)."""
    sign_in(world.city_committee)
    groups = _groups(app, world.round_id)
    published = _published(client, world.round_id, groups)
    children: dict[str, list[str]] = {}
    for key, parent in groups.items():
        if parent is not None:
            children.setdefault(parent, []).append(key)
    values: dict[object, int | None] = {}
    relations: list[tuple[object, list[object]]] = []
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
