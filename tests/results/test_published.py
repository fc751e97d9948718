"""Last year's published table: 高津区's R6 columns of seed 000 imported as the FY2024 table fill
the 前年度 columns of its FY2025 round, marked as imported, and never enter a count."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from app.extensions import db
from app.models import (
    Catalogue,
    Grant,
    GrantRole,
    PublishedRate,
    PublishedTable,
    Role,
    RoundCount,
    Ward,
)
from app.services.catalogue.catalogues import load_catalogues
from app.services.results.compliance import compliance_trend, final_results
from app.services.results.exports import compliance_table
from app.services.results.published import (
    PublishedImportError,
    preview_import,
    read_table,
    save_import,
)
from reports.csv_files import compliance_csv
from reports.xlsx import compliance_workbook
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
SEED_CSV = ROOT / "tests" / "data" / "takatsu-published-r6-r7.csv"
OPENS = datetime(2025, 11, 4, tzinfo=UTC)

# Seed 000, section 3, the 令和6年度 columns: number -> (職員, 所属長); None is "-".
R6 = {
    1: ("99.3", "100"), 2: ("100", "100"), 3: ("100", "100"), 4: ("99.7", "100"),
    5: ("100", "100"), 6: ("100", "100"), 7: ("99.7", "100"), 8: ("100", "100"),
    9: ("100", "100"), 10: ("99.7", "100"), 11: ("97.8", "100"), 12: ("99.5", "100"),
    13: ("100", "100"), 14: ("98.2", "100"), 15: ("99.7", "100"), 16: ("99.1", "100"),
    17: ("100", "100"), 18: ("100", "100"), 19: ("99.5", "100"), 20: ("100", "100"),
    21: ("99.1", "100"), 22: ("100", "100"), 23: ("98.8", "100"), 24: (None, "100"),
    25: (None, "83.3"), 26: (None, "100"), 27: (None, "80.0"), 28: (None, "100"),
    31: ("100", "100"), 32: ("100", "100"), 33: ("99.7", "100"),
}


def _rate(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text).quantize(Decimal("0.1"))


def _takatsu_round() -> tuple[int, int]:
    """高津区's FY2025 round of takatsu-2025, closed, 5 staff and 5 chiefs all answering yes
    (a round with no round the year before)."""
    load_catalogues(ROOT / "surveys")
    catalogue = db.session.scalars(
        sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
    ).one()
    ward = db.session.scalars(sa.select(Ward).where(Ward.name == "高津区")).one()
    round_ = factories.round_(
        catalogue, wards=[ward], opens_at=OPENS, closes_at=OPENS + timedelta(days=20)
    )
    everyone = {s.key: "yes" for s in catalogue.standards if s.audience.value == "everyone"}
    section_level = {s.key: "yes" for s in catalogue.standards if s.audience.value == "section"}
    for index in range(5):
        section = factories.section(f"課{index}")
        staff = factories.person(section=section)
        factories.response(round_, staff, everyone, section=section)
        chief = factories.person(section=section, role=Role.CHIEF)
        factories.response(
            round_, chief, {**everyone, **section_level}, section=section, role=Role.CHIEF
        )
    db.session.commit()
    return round_.id, ward.id


def _import_r6(ward_id: int) -> None:
    preview = preview_import(ward_id, 2024, SEED_CSV.read_bytes(), SEED_CSV.name)
    save_import(preview, SEED_CSV.name, None)
    db.session.commit()


def test_the_seed_csv_is_read_with_its_two_years_and_the_unnumbered_line_named(app_ctx):
    """The seed's table in Kijun's CSV layout: two column groups, 31 rows, and line 25 (the
    unnumbered older wording under No.23) named as a problem rather than read."""
    parsed = read_table(SEED_CSV.read_bytes(), SEED_CSV.name)
    assert parsed.groups == ("令和6年度", "令和7年度")
    assert [r.number for r in parsed.rows] == sorted(R6)
    assert [(p.line, p.code) for p in parsed.problems] == [(25, "no_number")]
    row_27 = next(r for r in parsed.rows if r.number == 27)
    assert row_27.groups[0][0].rate is None and row_27.groups[0][1].rate == Decimal("80.0")


def test_r6_import_fills_the_r7_rounds_previous_columns_with_the_published_figures(app_ctx):
    """After importing seed 000's R6 columns, the FY2025 round's 前年度 columns equal the
    published R6 figures standard by standard, "-" kept, every cell marked imported and
    without counts; the preview named line 25 and the numbers the table lacks."""
    round_id, ward_id = _takatsu_round()
    preview = preview_import(ward_id, 2024, SEED_CSV.read_bytes(), SEED_CSV.name)
    assert [s.line for s in preview.skipped] == [25]
    assert preview.column_group == "令和6年度"
    _import_r6(ward_id)

    results = final_results(round_id, [ward_id])
    assert results.previous is None and results.compared(results.top.key)
    rows = results.table(results.top.key)
    assert {r.standard.number for r in rows} == set(R6)
    for row in rows:
        staff, chief = R6[row.standard.number]
        assert row.previous_imported
        assert row.previous is not None
        assert row.previous[Role.STAFF].rate == _rate(staff), row.standard.number
        assert row.previous[Role.CHIEF].rate == _rate(chief), row.standard.number
        for cell in row.previous.values():
            assert cell.imported and cell.complies is None and cell.not_complies is None
    row_24 = next(r for r in rows if r.standard.number == 24)
    assert row_24.previous is not None and row_24.previous[Role.STAFF].text == "-"
    assert row_24.change(Role.CHIEF) == Decimal("0.0")


def test_imported_figures_never_enter_counts(app_ctx):
    """The import writes no round count; the export's count columns of the imported year are
    empty; a trend over two wards leaves the imported year out, one ward's trend reads it."""
    round_id, ward_id = _takatsu_round()
    final_results(round_id)  # counts the round
    db.session.commit()
    before = db.session.execute(
        sa.select(RoundCount.section_id, RoundCount.role, RoundCount.standard_key,
                  RoundCount.complies, RoundCount.not_complies, RoundCount.not_applicable)
        .order_by(RoundCount.section_id, RoundCount.role, RoundCount.standard_key)
    ).all()
    _import_r6(ward_id)
    after = db.session.execute(
        sa.select(RoundCount.section_id, RoundCount.role, RoundCount.standard_key,
                  RoundCount.complies, RoundCount.not_complies, RoundCount.not_applicable)
        .order_by(RoundCount.section_id, RoundCount.role, RoundCount.standard_key)
    ).all()
    assert before == after

    table = compliance_table(final_results(round_id, [ward_id]), "all")
    assert table.column_groups == ("令和6年度（公表値）", "令和7年度")
    lines = list(compliance_csv(table, "long"))
    imported = [line for line in lines if "令和6年度（公表値）" in line]
    assert imported and all(line.rstrip("\r\n").endswith(",,,") for line in imported)
    assert any("取り込んだもの（取込値）" in note for note in table.notes)

    factories.ward("宮前区")
    db.session.commit()
    both = compliance_trend(
        [ward_id, db.session.scalars(sa.select(Ward.id).where(Ward.name == "宮前区")).one()],
        now=OPENS + timedelta(days=30),
    )
    assert 2024 not in both.fiscal_years
    alone = compliance_trend([ward_id], now=OPENS + timedelta(days=30))
    assert alone.fiscal_years == (2024, 2025)
    cell = alone.cell("notice-media", Role.STAFF, 2024)
    assert cell.imported and cell.rate == Decimal("99.3") and cell.complies is None


def test_a_previous_round_wins_over_an_imported_table(app_ctx):
    """Where last year has a round, its counted figures fill 前年度, not the import."""
    round_id, ward_id = _takatsu_round()
    _import_r6(ward_id)
    old = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == "takatsu-2024")).one()
    ward = db.session.get_one(Ward, ward_id)
    factories.round_(old, wards=[ward], opens_at=OPENS - timedelta(days=365),
                     closes_at=OPENS - timedelta(days=345))
    db.session.commit()
    results = final_results(round_id, [ward_id])
    assert results.previous is not None
    assert not any(r.previous_imported for r in results.table(results.top.key))


def test_a_cell_that_is_not_a_rate_refuses_the_file_naming_its_line(app_ctx):
    """A rate of 101 or a word makes the import refuse the whole file and name the line;
    nothing is written."""
    _round_id, ward_id = _takatsu_round()
    text = SEED_CSV.read_text(encoding="utf-8-sig").replace(",99.3,100,", ",101,100,", 1)
    with pytest.raises(PublishedImportError) as error:
        preview_import(ward_id, 2024, text.encode(), "bad.csv")
    assert "2行目" in error.value.messages[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedRate)) == 0
    with pytest.raises(PublishedImportError) as error:
        preview_import(ward_id, 2023, SEED_CSV.read_bytes(), SEED_CSV.name)
    assert "カタログがありません" in error.value.messages[0]


def test_an_exported_workbook_reads_back(app_ctx):
    """Kijun's own xlsx export (two years) is read back with the same figures."""
    round_id, ward_id = _takatsu_round()
    _import_r6(ward_id)
    table = compliance_table(final_results(round_id, [ward_id]), "all")
    book = compliance_workbook(table)
    assert book is not None
    parsed = read_table(book, "book.xlsx")
    assert parsed.groups == ("令和6年度(公表値)", "令和7年度") and not parsed.problems  # NFKC
    first = next(r for r in parsed.rows if r.number == 1)
    assert first.groups[0][0].rate == Decimal("99.3")
    assert first.groups[1][0].rate == Decimal("100.0")


def test_cli_imports_and_names_the_lines_it_leaves_out(app_ctx, runner):
    """`flask published import` names line 25, and --dry-run writes nothing."""
    _takatsu_round()
    args = ["published", "import", str(SEED_CSV), "--ward", "高津区", "--year", "2024"]
    dry = runner.invoke(args=[*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "25行目" in dry.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedTable)) == 0
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedTable)) == 1
    bad = runner.invoke(args=[*args[:-1], "2019"])
    assert bad.exit_code == 1


def _switch(sign_in, person_id: int) -> None:
    """Sign another person in: the test's app context (app_ctx) keeps ``g`` between
    requests, where Flask-Login caches the signed-in person."""
    for name in ("_login_user", "can_manage_rounds", "can_read_results"):
        g.pop(name, None)
    sign_in(person_id)


def _admin(ward_id: int | None) -> int:
    person = factories.person(name="管理者")
    person.grants.append(Grant(role=GrantRole.ADMIN, ward_id=ward_id))
    db.session.commit()
    return person.id


def test_admin_page_previews_then_imports_and_the_round_page_marks_the_figures(
    app_ctx, client, sign_in
):
    """The admin uploads, sees the preview with line 25 named, imports; the round's page
    shows the 前年度 columns marked 取込値."""
    round_id, ward_id = _takatsu_round()
    admin = _admin(None)
    sign_in(admin)
    page = client.post(
        "/admin/published/preview",
        data={"ward": ward_id, "fiscal_year": "2024",
              "table": (io.BytesIO(SEED_CSV.read_bytes()), "r6.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "25行目" in html and "98.8" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedTable)) == 0
    payload = html.split('name="payload" type="hidden" value="')[1].split('"')[0]
    done = client.post(
        "/admin/published/import",
        data={"ward": ward_id, "fiscal_year": "2024", "filename": "r6.csv", "payload": payload},
    )
    assert done.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedTable)) == 1
    listing = client.get("/admin/published").get_data(as_text=True)
    assert "r6.csv" in listing
    round_page = client.get(f"/results/rounds/{round_id}").get_data(as_text=True)
    assert "取込値" in round_page and 'id="imported-note"' in round_page


def test_admin_page_refuses_bad_files_and_other_wards(app_ctx, client, sign_in):
    """A file that is not a table is a 400 with the reason; another ward's admin gets 403;
    a committee member cannot open the page."""
    _round_id, ward_id = _takatsu_round()
    other = factories.ward("宮前区")
    db.session.commit()
    sign_in(_admin(other.id))
    refused = client.post(
        "/admin/published/preview",
        data={"ward": ward_id, "fiscal_year": "2024",
              "table": (io.BytesIO(SEED_CSV.read_bytes()), "r6.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400  # not among the choices: the form refuses it
    _switch(sign_in, _admin(None))
    bad = client.post(
        "/admin/published/preview",
        data={"ward": ward_id, "fiscal_year": "2024",
              "table": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "見出しの行" in bad.get_data(as_text=True)
    member = factories.person(name="委員")
    member.grants.append(Grant(role=GrantRole.COMMITTEE))
    db.session.commit()
    _switch(sign_in, member.id)
    assert client.get("/admin/published").status_code == 403
