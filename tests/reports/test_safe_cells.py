"""Exported cells are never formulas: names and titles that start like one are written as text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.models import Role
from app.services.results.compliance import round_results
from app.services.results.exports import compliance_table, section_sheet
from reports.cells import safe_text
from reports.csv_files import compliance_csv
from reports.xlsx import compliance_workbook
from tests import factories

# Section names as a roster might carry them, each the start of a formula or DDE call.
HOSTILE_NAMES = ('=HYPERLINK("http://x","y")', "+1", "-1+1", "@SUM(A1)", "\tX", "\rX")
HOSTILE_TITLE = "=1+1"
CLOSED = datetime(2025, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", [*HOSTILE_NAMES, HOSTILE_TITLE])
def test_text_that_starts_like_a_formula_gets_a_quote(text):
    """=, +, -, @, tab and CR at the start are neutralised with a leading single quote."""
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("value", [-1, -2.5, 0, 93.8, Decimal("-3.0"), None, "総務課", "-", "＊"])
def test_numbers_plain_text_and_the_no_answer_mark_are_unchanged(value):
    """Numbers (negative too) stay numbers; ordinary text and a lone '-' are left alone."""
    assert safe_text(value) == value and type(safe_text(value)) is type(value)


@pytest.fixture
def hostile_round(app_ctx):
    """A closed 高津区 round titled '=1+1' whose sections carry formula-like names."""
    ward = factories.ward("高津区")
    catalogue = factories.catalogue("cells-2025", fiscal_year=2025, standards=2)
    round_ = factories.round_(
        catalogue, wards=[ward], opens_at=CLOSED, closes_at=CLOSED + timedelta(days=20),
        title=HOSTILE_TITLE,
    )
    sections = []
    for name in HOSTILE_NAMES:
        section = factories.section(name)
        for _ in range(5):
            person = factories.person(section=section, role=Role.STAFF, fiscal_year=2025)
            factories.response(round_, person, {"std-1": "yes", "std-2": "no"}, section=section)
        sections.append(section)
    db.session.commit()
    return round_.id, [f"section:{s.id}" for s in sections]


def _xlsx_text_cells(table):
    book = load_workbook(io.BytesIO(compliance_workbook(table)))
    return [
        cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
        if isinstance(cell.value, str)
    ]


def test_xlsx_writes_hostile_names_and_titles_as_quoted_text(hostile_round):
    """In every sheet, each cell showing a section name or the title is a string cell
    starting with ' (data type 's'), never a formula; rates stay numbers."""
    round_id, section_keys = hostile_round
    results = round_results(round_id, with_previous=False)
    tables = [section_sheet(results, key) for key in section_keys]
    tables.append(compliance_table(results, section_keys[0]))
    for table, name in zip(tables, [*HOSTILE_NAMES, HOSTILE_NAMES[0]], strict=True):
        cells = _xlsx_text_cells(table)
        assert all(cell.data_type == "s" for cell in cells)
        title = next(c for c in cells if c.coordinate == "A1" and c.parent.title == "遵守率")
        assert title.value.startswith("'" + HOSTILE_TITLE)
        if table.group_kind != "年度":  # a chief's sheet: the section heads its column group
            assert "'" + name in {c.value for c in cells}
        book = load_workbook(io.BytesIO(compliance_workbook(table)))
        assert not [
            c.coordinate for s in book.worksheets for r in s.iter_rows() for c in r
            if c.data_type == "f"
        ]
        rate = book["遵守率"]["C6"]  # std-1, 職員: everyone complies
        assert (rate.value, rate.data_type) == (100, "n")


def test_csv_writes_hostile_names_as_quoted_text_in_both_shapes(hostile_round):
    """In the wide CSV's header and the long CSV's column, each formula-like section name
    is a field starting with '."""
    round_id, section_keys = hostile_round
    results = round_results(round_id, with_previous=False)
    for key, name in zip(section_keys, HOSTILE_NAMES, strict=True):
        table = section_sheet(results, key)
        wide = list(csv.reader(io.StringIO("".join(compliance_csv(table, "wide"))[1:])))
        assert wide[0][2:4] == [f"'{name} 職員", f"'{name} 所属長"]
        long = list(csv.reader(io.StringIO("".join(compliance_csv(table, "long"))[1:])))
        assert {row[3] for row in long[1:]} == {"'" + name, "高津区全体"}
        every_field = [field for row in wide + long for field in row]
        assert not [f for f in every_field if f.startswith(("=", "+", "@", "\t", "\r"))]
        assert not [f for f in every_field if f.startswith("-") and f != "-"]


def test_the_download_route_serves_quoted_cells(app, client, sign_in, hostile_round):
    """The committee's xlsx download of the round carries the title as quoted text."""
    from app.models import Grant, GrantRole

    round_id, _keys = hostile_round
    reader = factories.person()
    reader.grants.append(Grant(role=GrantRole.COMMITTEE))
    db.session.commit()
    sign_in(reader)
    response = client.get(f"/results/rounds/{round_id}/export/xlsx")
    assert response.status_code == 200
    title = load_workbook(io.BytesIO(response.data))["遵守率"]["A1"]
    assert title.data_type == "s" and title.value.startswith("'=1+1")
