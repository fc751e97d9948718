"""The roster page's downloads and format: a template, and a year's roster in exactly the format
the import reads, so that downloading and importing it again changes nothing
(app/services/organisation/roster_export.py, reports/roster_sheet.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Assignment, Department, Grant, GrantRole, Person, Section, section_kind_link
from app.services.organisation.roster import import_roster
from app.services.organisation.roster_file import read_roster
from tests import factories
from tests.organisation.test_roster_upload import confirm_fields

YEAR = 2027
KINDS = "庁舎管理担当課;研修担当課"
ROSTER = [
    "職員番号,氏名,メールアドレス,区,部,課,役割,課の種類",
    f"00123,山田 太郎,yamada@example.jp,高津区,まちづくり推進部,総務課,所属長,{KINDS}",
    f"100002,=SUM(A1:A9),sato@example.jp,高津区,まちづくり推進部,総務課,職員,{KINDS}",
    "100003,@鈴木 一郎,,高津区,区民サービス部,区民課,所属長,",
    "100004,-田中 美咲,tanaka@example.jp,高津区,区民サービス部,区民課,職員,",
    "100005,伊藤 健一,ito@example.jp,高津区,,危機管理担当,所属長,本庁業務所管課",
    "200001,幸 一子,s1@example.jp,幸区,区民サービス部,幸区民課,所属長,",
]


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path


@pytest.fixture
def imported(app, tmp_path, sign_in):
    """The roster above imported for FY2027 (two wards), and a signed-in admin of 高津区."""
    app.config["ROSTER_UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.app_context():
        import_roster(read_roster(_csv(tmp_path / "roster.csv", ROSTER)), YEAR)
        admin = factories.person(employee_id="A1")
        takatsu = db.session.scalars(sa.select(Section.ward_id).where(
            Section.name == "総務課")).one()
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=takatsu))
        db.session.commit()
        sign_in(admin)
        return admin.id


def _snapshot() -> tuple[object, ...]:
    """Everything a roster import writes: people, the year's assignments, the organisation."""
    return (
        sorted(db.session.execute(sa.select(Person.employee_id, Person.name, Person.email)).all()),
        sorted(db.session.execute(sa.select(
            Assignment.person_id, Assignment.fiscal_year, Assignment.section_id,
            Assignment.role)).all()),
        sorted(db.session.execute(sa.select(
            Section.id, Section.ward_id, Section.name, Section.department_id,
            Section.sort_order)).all()),
        sorted(db.session.execute(sa.select(
            Department.id, Department.ward_id, Department.name, Department.sort_order)).all()),
        sorted(db.session.execute(sa.select(section_kind_link)).all()),
    )


def _upload(client, data: bytes, name: str):
    return client.post("/admin/roster", data={
        "fiscal_year": str(YEAR), "roster": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_downloading_this_years_roster_and_importing_it_changes_nothing(
    app, client, imported, fmt
):
    """This year's roster downloaded (CSV and xlsx) and imported through the page: the preview
    says nothing changes, and after the confirmation every person, assignment, section,
    department and section kind is as it was."""
    with app.app_context():
        before = _snapshot()
    download = client.get(f"/admin/roster/{YEAR}.{fmt}")
    assert download.status_code == 200
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    preview = _upload(client, download.data, f"roster.{fmt}")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    page = preview.get_data(as_text=True)
    assert "変更はありませんでした" in page
    done = client.post("/admin/roster/confirm", data=confirm_fields(page))
    assert done.status_code == 302
    with app.app_context():
        assert _snapshot() == before


def test_the_download_is_the_admins_wards_in_the_imports_columns(app, client, imported):
    """A ward admin's download holds only that ward's people, in the import's columns and
    order (the chief first), with the kinds; text that starts like a formula gets a leading
    ' in the CSV (Excel never runs it), the 職員番号 keeps its zeros."""
    text = client.get(f"/admin/roster/{YEAR}.csv").data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == ROSTER[0]
    assert "幸区" not in text
    assert lines[1] == ROSTER[1]
    assert "'=SUM(A1:A9)" in text and "'@鈴木 一郎" in text and "'-田中 美咲" in text
    assert len(lines) == 6
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/admin/roster/{YEAR}.xlsx").data))
    sheet = book.active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][0] == "00123"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_a_city_admin_downloads_every_ward(app, client, imported, sign_in):
    """A city-wide admin's download holds both wards."""
    with app.app_context():
        city = factories.person(employee_id="A2")
        city.grants.append(Grant(role=GrantRole.ADMIN))
        db.session.commit()
        sign_in(city)
    text = client.get(f"/admin/roster/{YEAR}.csv").data.decode("utf-8-sig")
    assert "幸区" in text and "高津区" in text
    assert "令和9年度_市全体_名簿.csv" in re.sub(
        r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)),
        client.get(f"/admin/roster/{YEAR}.csv").headers["Content-Disposition"],
    ).encode("latin-1").decode("utf-8")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_has_the_headers_and_an_example_that_imports(
    app, client, imported, tmp_path, fmt
):
    """The template (CSV and xlsx) has the import's headers and an example (a section's chief
    and staff, a section under the ward) in the admin's ward, which the import reads as it is;
    the roster page shows the same example."""
    response = client.get(f"/admin/roster/template.{fmt}")
    assert response.status_code == 200
    path = tmp_path / f"template.{fmt}"
    path.write_bytes(response.data)
    with app.app_context():
        rows = read_roster(path)
    assert [(r.ward, r.department, r.section, r.role.value) for r in rows] == [
        ("高津区", "まちづくり推進部", "総務課", "chief"),
        ("高津区", "まちづくり推進部", "総務課", "staff"),
        ("高津区", None, "危機管理担当", "chief")]
    if fmt == "csv":
        assert response.data.decode("utf-8-sig").splitlines()[0] == ROSTER[0]
    page = client.get("/admin/roster").get_data(as_text=True)
    assert "<td>伊藤 健一</td><td>ito-k@city.example.jp</td><td>高津区</td><td></td>" in page


def test_downloads_refuse_other_formats_and_other_people(app, client, imported, sign_in):
    """An unknown format is a 404; a staff member without the admin grant gets a 403."""
    assert client.get(f"/admin/roster/{YEAR}.pdf").status_code == 404
    assert client.get("/admin/roster/template.txt").status_code == 404
    with app.app_context():
        staff = db.session.scalars(sa.select(Person).where(Person.employee_id == "100002")).one()
        sign_in(staff)
    assert client.get(f"/admin/roster/{YEAR}.csv").status_code == 403
    assert client.get("/admin/roster/template.csv").status_code == 403


def test_the_page_explains_the_format_and_offers_the_downloads(app, client, imported):
    """The roster page says every column, what it takes and an example in plain Japanese,
    links the template and this year's roster, and points to no file a clerk cannot open."""
    page = client.get("/admin/roster").get_data(as_text=True)
    for column in ("職員番号", "氏名", "メールアドレス", "区", "部", "課", "役割", "課の種類"):
        assert f"<dt>{column}（" in page, column
    assert "例: 庁舎管理担当課;研修担当課" in page and "区の直下の課" in page
    assert f"/admin/roster/{YEAR}.xlsx" in page and "/admin/roster/template.csv" in page
    assert "令和9年度の名簿" in page
    assert "docs/" not in page and ".md" not in page
