"""Exports of the compliance table: xlsx, CSV (wide and long), HTML and PDF, and the CLI."""

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import Role, Section
from app.services.results.exports import round_table
from reports.csv_files import compliance_csv
from reports.printing import compliance_html, compliance_pdf
from reports.xlsx import compliance_workbook
from tests import factories

PAST = datetime(2025, 11, 1, tzinfo=UTC)
YES = {"std-1": "yes", "std-2": "yes"}


def _people(section, values_list, round_, role=Role.STAFF):
    for values in values_list:
        p = factories.person(section=section, role=role, fiscal_year=round_.fiscal_year)
        factories.response(round_, p, values, section=section, role=role)


@pytest.fixture
def exported_round(app_ctx):
    """高津区 FY2025 (S1 6 people, S2 7, S3 3 of whom 1 says できていない) beside FY2024.

    Ward: std-1 15 of 16 = 93.8 (half up), std-2 16 of 16 = 100.0; FY2024: std-1 4 of 5 = 80.0.
    S3's own std-1 rate (66.7) is hidden: 3 people.
    """
    ward = factories.ward("高津区")
    old = factories.catalogue("exp-2024", fiscal_year=2024, standards=1)
    new = factories.catalogue("exp-2025", fiscal_year=2025, standards=2)
    before = factories.round_(
        old, wards=[ward], opens_at=PAST - timedelta(days=365),
        closes_at=PAST - timedelta(days=340), title="令和6年度 自己点検",
    )
    now = factories.round_(
        new, wards=[ward], opens_at=PAST, closes_at=PAST + timedelta(days=20),
        title="令和7年度 自己点検",
    )
    s1 = factories.section("S1", department="区民サービス部")
    s2 = factories.section("S2", department="区民サービス部")
    s3 = factories.section("S3", department="区民サービス部")
    _people(s1, [{"std-1": "yes"}] * 4 + [{"std-1": "no"}], before)
    _people(s1, [YES] * 6, now)
    _people(s2, [YES] * 7, now)
    _people(s3, [YES] * 2 + [{"std-1": "no", "std-2": "yes"}], now)
    db.session.commit()
    return {"round": now.id, "s3": f"section:{s3.id}"}


def test_xlsx_has_the_report_layout_with_numbers_and_merged_headers(exported_round):
    """Header texts, merged ranges, one-decimal numbers, '-' as text, A4 print setup."""
    table = round_table(exported_round["round"])
    book = load_workbook(io.BytesIO(compliance_workbook(table)))
    assert book.sheetnames == ["遵守率", "件数"]
    sheet = book["遵守率"]
    assert [sheet.cell(row=3, column=c).value for c in (1, 2, 3)] == [
        "基準 No", "基準の内容", "遵守率(%)",
    ]
    assert sheet["C4"].value == "令和6年度" and sheet["E4"].value == "令和7年度"
    assert [sheet.cell(row=5, column=c).value for c in range(3, 7)] == [
        "職員", "所属長", "職員", "所属長",
    ]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:F1", "A3:A5", "B3:B5", "C3:F3", "C4:D4", "E4:F4"} <= merged
    assert sheet["A6"].value == "基準1"
    assert sheet["C6"].value == 80.0 and sheet["C6"].number_format == "0.0"
    assert sheet["E6"].value == pytest.approx(93.8) and sheet["E6"].number_format == "0.0"
    assert sheet["D6"].value == "-" and sheet["F6"].value == "-"  # no chief answered
    assert sheet["C7"].value == "-"  # std-2 is new this year
    assert sheet["B6"].font.name == "游ゴシック"
    assert sheet.print_title_rows == "$3:$5"
    assert sheet.page_setup.paperSize == 9  # A4
    fit = sheet.sheet_properties.pageSetUpPr
    assert sheet.page_setup.fitToWidth == 1 and fit is not None and fit.fitToPage
    counts = book["件数"]
    assert counts["C3"].value == "令和6年度" and counts["I3"].value == "令和7年度"
    assert counts["C5"].value == "できている"
    # FY2024 staff: 4 / 1 / 0 ; FY2025 staff: 15 / 1 / 0
    assert [counts.cell(row=6, column=c).value for c in (3, 4, 5)] == [4, 1, 0]
    assert [counts.cell(row=6, column=c).value for c in (9, 10, 11)] == [15, 1, 0]


def test_csv_opens_as_utf8_with_bom_in_both_shapes(exported_round):
    """The wide CSV has the report's columns, the long one a row per standard, year and role."""
    table = round_table(exported_round["round"])
    wide = "".join(compliance_csv(table, "wide")).encode("utf-8")
    assert wide.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(wide.decode("utf-8-sig"))))
    assert rows[0] == [
        "基準 No", "基準の内容", "令和6年度 職員", "令和6年度 所属長", "令和7年度 職員",
        "令和7年度 所属長",
    ]
    assert rows[1][0] == "基準1" and rows[1][2:] == ["80.0", "-", "93.8", "-"]
    long_text = "".join(compliance_csv(table, "long")).encode("utf-8").decode("utf-8-sig")
    long_rows = list(csv.DictReader(io.StringIO(long_text)))
    assert len(long_rows) == 2 * 2 * 2  # standards x years x roles
    this_year_staff = next(
        r for r in long_rows
        if r["基準 No"] == "基準1" and r["年度"] == "令和7年度" and r["区分"] == "職員"
    )
    assert this_year_staff["遵守率(%)"] == "93.8"
    assert (this_year_staff["できている"], this_year_staff["できていない"]) == ("15", "1")


PDFTOTEXT = shutil.which("pdftotext")


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_text_has_the_japanese_headings_numbers_and_page_numbers(exported_round, tmp_path):
    """The PDF's extracted text has the headings in Japanese, the rates and '1 / 1'."""
    table = round_table(exported_round["round"])
    path = tmp_path / "table.pdf"
    path.write_bytes(compliance_pdf(table))
    assert PDFTOTEXT is not None  # else skipped
    text = subprocess.run(
        [PDFTOTEXT, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    for expected in ("サービス基準の遵守状況", "基準の内容", "遵守率(%)", "令和6年度", "令和7年度",
                     "職員", "所属長", "93.8", "80.0", "高津区", "1/1"):
        assert expected in text, expected


def test_a_hidden_cell_is_absent_from_every_format(exported_round):
    """S3's own rate (2 of 3 = 66.7) and its counts appear in no export of S3's table."""
    table = round_table(exported_round["round"], None, exported_round["s3"])
    assert table.rows[0].groups[-1][0].text == "＊"
    outputs = {
        "html": compliance_html(table),
        "csv": "".join(compliance_csv(table, "wide")),
        "csv-long": "".join(compliance_csv(table, "long")),
    }
    book = load_workbook(io.BytesIO(compliance_workbook(table)))
    outputs["xlsx"] = "\n".join(
        str(cell.value) for sheet in book for row in sheet.iter_rows() for cell in row
    )
    if PDFTOTEXT is not None:
        outputs["pdf"] = subprocess.run(
            [PDFTOTEXT, "-", "-"], input=compliance_pdf(table), check=True, capture_output=True
        ).stdout.decode("utf-8")
    for name, text in outputs.items():
        assert "66.7" not in text, name
        assert "＊" in text, name
    long_rows = list(csv.DictReader(io.StringIO(outputs["csv-long"].lstrip("\ufeff"))))
    hidden = next(r for r in long_rows if r["基準 No"] == "基準1" and r["区分"] == "職員")
    assert (hidden["できている"], hidden["できていない"]) == ("", "")
    counts = book["件数"]
    assert [counts.cell(row=6, column=c).value for c in (9, 10, 11)] == ["＊", "＊", "＊"]


def test_the_cli_writes_each_format(runner, exported_round, tmp_path):
    """`flask report compliance` writes xlsx, CSV, HTML and PDF files that open."""
    for fmt in ("xlsx", "csv", "csv-long", "html", "pdf"):
        out = tmp_path / f"table.{fmt}"
        result = runner.invoke(
            args=["report", "compliance", "--round", str(exported_round["round"]),
                  "--format", fmt, "--output", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert "書き出しました" in result.output
        assert out.stat().st_size > 0
    assert load_workbook(tmp_path / "table.xlsx")["遵守率"]["E6"].value == pytest.approx(93.8)
    assert (tmp_path / "table.pdf").read_bytes().startswith(b"%PDF")
    assert "93.8" in (tmp_path / "table.html").read_text(encoding="utf-8")


def test_the_cli_names_an_unknown_round(runner, app_ctx):
    """An unknown round number fails with a Japanese message and writes no file."""
    result = runner.invoke(args=["report", "compliance", "--round", "999"])
    assert result.exit_code == 1
    assert "調査が見つかりません" in result.output


def test_a_chiefs_sheet_puts_the_section_beside_its_ward(exported_round, app_ctx):
    """S2's sheet: its own rate (7 of 7) beside the ward's (15 of 16); S3's own is hidden, and
    S1's too, as the sibling that would give S3's away."""
    from app.services.results.compliance import round_results
    from app.services.results.exports import section_sheet

    results = round_results(exported_round["round"])
    by_name = {g.name: g.key for g in results.groups}
    sheet = section_sheet(results, by_name["S2"])
    assert sheet.column_groups == ("S2", "高津区全体")
    assert [c.text for c in sheet.rows[0].cells] == ["100.0", "-", "93.8", "-"]
    s3 = section_sheet(results, exported_round["s3"])
    assert s3.rows[0].cells[0].text == "＊" and s3.rows[0].cells[2].text == "93.8"
    assert section_sheet(results, by_name["S1"]).rows[0].cells[0].text == "＊"


def test_the_chief_of_a_section_is_found_for_the_rounds_year(exported_round, app_ctx):
    """The chief of S2 in FY2025 gets S2's key; a staff member gets none."""
    from app.services.results.exports import chief_section_key

    s2 = db.session.scalars(sa.select(Section).where(Section.name == "S2")).one()
    chief = factories.person(section=s2, role=Role.CHIEF, fiscal_year=2025)
    staff = factories.person(section=s2, role=Role.STAFF, fiscal_year=2025)
    assert chief_section_key(exported_round["round"], chief) == f"section:{s2.id}"
    assert chief_section_key(exported_round["round"], staff) is None


def test_the_cli_writes_one_sheet_per_section(runner, exported_round, tmp_path):
    """`flask report sections` writes a workbook per section of the round."""
    result = runner.invoke(
        args=["report", "sections", "--round", str(exported_round["round"]),
              "--output-dir", str(tmp_path / "sheets")]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "sheets").iterdir())
    assert names == [f"令和7年度_高津区_S{i}_遵守率.xlsx" for i in (1, 2, 3)]
    book = load_workbook(tmp_path / "sheets" / names[2])
    assert book["遵守率"]["C6"].value == "＊"
