"""Downloads of the compliance table and the chief's sheet from the results pages."""

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.models import Grant, GrantRole, Role
from app.wareki import fiscal_year_label, fiscal_year_of, tokyo
from tests import factories

NOW = datetime.now(UTC)
# The chiefs must be chiefs this fiscal year: the round ran this year and closed yesterday.
YEAR = fiscal_year_of(tokyo(NOW))


def _people(section, values_list, round_, role=Role.STAFF):
    made = []
    for values in values_list:
        p = factories.person(section=section, role=role, fiscal_year=round_.fiscal_year)
        factories.response(round_, p, values, section=section, role=role)
        made.append(p)
    return made


@pytest.fixture
def data(app):
    """高津区: S1 (6 staff), S2 (7 staff, 1 of them できていない), S3 (3 staff) and their chiefs;
    a committee member; a round of this fiscal year closed yesterday."""
    with app.app_context():
        catalogue = factories.catalogue("dl", fiscal_year=YEAR, standards=1)
        round_ = factories.round_(
            catalogue, opens_at=NOW - timedelta(days=2), closes_at=NOW - timedelta(days=1)
        )
        sections = {name: factories.section(name, department="部") for name in ("S1", "S2", "S3")}
        _people(sections["S1"], [{"std-1": "yes"}] * 6, round_)
        _people(sections["S2"], [{"std-1": "yes"}] * 6 + [{"std-1": "no"}], round_)
        _people(sections["S3"], [{"std-1": "yes"}] * 2 + [{"std-1": "no"}], round_)
        chiefs = {
            name: _people(section, [{"std-1": "yes"}], round_, role=Role.CHIEF)[0]
            for name, section in sections.items()
        }
        committee = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE))
        db.session.commit()
        return {
            "round": round_.id,
            "sections": {name: s.id for name, s in sections.items()},
            "chiefs": {name: p.id for name, p in chiefs.items()},
            "committee": committee.id,
        }


def _person(app, person_id):
    from app.models import Person

    with app.app_context():
        return db.session.get(Person, person_id)


def test_committee_downloads_the_table_as_xlsx(app, client, sign_in, data):
    """The workbook comes as an attachment with a Japanese file name and the ward's rate."""
    sign_in(_person(app, data["committee"]))
    response = client.get(f"/results/rounds/{data['round']}/export/xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data))["遵守率"]
    assert sheet["A6"].value == "基準1"
    assert sheet["C6"].value == pytest.approx(87.5)  # 14 of 16 staff


def test_committee_downloads_streamed_csv_with_bom(app, client, sign_in, data):
    """The CSV starts with a byte order mark and reads back with the report's columns."""
    sign_in(_person(app, data["committee"]))
    response = client.get(f"/results/rounds/{data['round']}/export/csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["基準 No", "基準の内容"] and rows[1][2] == "87.5"


def test_an_unknown_format_is_not_found(app, client, sign_in, data):
    """Asking for a format that does not exist answers 404."""
    sign_in(_person(app, data["committee"]))
    assert client.get(f"/results/rounds/{data['round']}/export/docx").status_code == 404


def test_a_chief_sees_their_own_sections_sheet(app, client, sign_in, data):
    """S2's chief sees S2 (6 of 7 = 85.7) beside the ward (14 of 16 = 87.5)."""
    sign_in(_person(app, data["chiefs"]["S2"]))
    response = client.get(f"/results/rounds/{data['round']}/sections/{data['sections']['S2']}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "S2の遵守率" in page and "85.7" in page and "87.5" in page


def test_the_sections_sheet_links_back_to_where_its_reader_came_from(
    app, client, sign_in, data
):
    """The section's chief gets a link back to "my rounds"; a committee member gets one back
    to the round's results for that section."""
    url = f"/results/rounds/{data['round']}/sections/{data['sections']['S2']}"
    sign_in(_person(app, data["chiefs"]["S2"]))
    page = client.get(url).get_data(as_text=True)
    assert '<p class="back-link"><a href="/me">わたしの調査へ戻る</a></p>' in page
    sign_in(_person(app, data["committee"]))
    page = client.get(url).get_data(as_text=True)
    back = (
        f'<p class="back-link"><a href="/results/rounds/{data["round"]}'
        f'?group=section:{data["sections"]["S2"]}">結果に戻る</a></p>'
    )
    assert back in page


def test_a_chief_on_another_wards_committee_still_sees_their_own_sheet(
    app, client, sign_in, data
):
    """S2's chief who also sits on 宮前区's committee reads S2's sheet as its chief (the
    committee grant for another ward does not take the chief's own sheet away)."""
    with app.app_context():
        from app.models import Person

        chief = db.session.get_one(Person, data["chiefs"]["S2"])
        ward = factories.ward("宮前区")
        chief.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=ward.id))
        db.session.commit()
    sign_in(data["chiefs"]["S2"])
    response = client.get(f"/results/rounds/{data['round']}/sections/{data['sections']['S2']}")
    assert response.status_code == 200
    assert "85.7" in response.get_data(as_text=True)


def test_a_chief_cannot_see_another_sections_sheet(app, client, sign_in, data):
    """S2's chief asking for S1's sheet, or its download, gets 404 and no numbers."""
    sign_in(_person(app, data["chiefs"]["S2"]))
    url = f"/results/rounds/{data['round']}/sections/{data['sections']['S1']}"
    response = client.get(url)
    assert response.status_code == 404
    assert "権限" in response.get_data(as_text=True)
    assert client.get(url + "/export/xlsx").status_code == 404


def test_a_small_sections_sheet_hides_its_own_rate_in_every_download(app, client, sign_in, data):
    """S3 (3 staff, 2 of 3 = 66.7) shows ＊ on the page and in xlsx, CSV and the print view."""
    sign_in(_person(app, data["chiefs"]["S3"]))
    base = f"/results/rounds/{data['round']}/sections/{data['sections']['S3']}"
    page = client.get(base).get_data(as_text=True)
    assert "66.7" not in page and "＊" in page
    for fmt in ("csv", "html"):
        text = client.get(f"{base}/export/{fmt}").get_data(as_text=True)
        assert "66.7" not in text and "＊" in text, fmt
    book = load_workbook(io.BytesIO(client.get(f"{base}/export/xlsx").data))
    assert book["遵守率"]["C6"].value == "＊"
    assert book["件数"]["C6"].value == "＊"


def test_staff_cannot_download(app, client, sign_in, data):
    """A staff member gets 403 for the table and for a section's sheet."""
    with app.app_context():
        from app.models import Section

        section = db.session.get(Section, data["sections"]["S1"])
        staff = factories.person(section=section, fiscal_year=YEAR)
        db.session.commit()
        staff_id = staff.id
    sign_in(_person(app, staff_id))
    assert client.get(f"/results/rounds/{data['round']}/export/xlsx").status_code == 403
    url = f"/results/rounds/{data['round']}/sections/{data['sections']['S1']}"
    assert client.get(url).status_code == 403


def test_a_chiefs_page_links_to_the_sections_sheet_after_the_close(app, client, sign_in, data):
    """/me shows S1's chief a link to S1's sheet once the round has closed."""
    sign_in(_person(app, data["chiefs"]["S1"]))
    page = client.get("/me").get_data(as_text=True)
    assert f"/results/rounds/{data['round']}/sections/{data['sections']['S1']}" in page
    assert "課の遵守率を見る" in page


def test_the_round_page_links_every_download(app, client, sign_in, data):
    """The committee's round page offers the table in each format for the group shown."""
    sign_in(_person(app, data["committee"]))
    page = client.get(f"/results/rounds/{data['round']}").get_data(as_text=True)
    for fmt in ("xlsx", "csv", "csv-long", "pdf", "html"):
        assert f"/results/rounds/{data['round']}/export/{fmt}?group=all" in page, fmt


def test_a_one_ward_round_lists_its_ward_once_in_the_group_choice(app, client, sign_in, data):
    """The whole round and its only ward are the same group: the select names it once."""
    sign_in(_person(app, data["committee"]))
    page = client.get(f"/results/rounds/{data['round']}").get_data(as_text=True)
    assert page.count(">高津区</option>") == 1
    assert 'value="ward:' not in page


def test_each_download_writes_one_audit_row(app, client, sign_in, data):
    """A results file is personal data: each download (table or chief's sheet) is logged once,
    with the format and the group; a refused download logs nothing."""
    import sqlalchemy as sa

    from app.models import AuditEvent

    sign_in(_person(app, data["committee"]))
    assert client.get(f"/results/rounds/{data['round']}/export/csv").status_code == 200
    section = data["sections"]["S1"]
    sign_in(_person(app, data["chiefs"]["S1"]))
    url = f"/results/rounds/{data['round']}/sections/{section}/export/xlsx"
    assert client.get(url).status_code == 200
    other = data["sections"]["S2"]
    assert client.get(f"/results/rounds/{data['round']}/sections/{other}/export/xlsx"
                      ).status_code != 200
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
    assert [(r.action, r.actor_id, r.target_id) for r in rows] == [
        ("results.download", data["committee"], str(data["round"])),
        ("results.download", data["chiefs"]["S1"], str(data["round"])),
    ]
    assert '"format":"csv"' in (rows[0].after or "")
    assert f'"group":"section:{section}"' in (rows[1].after or "")


def _disposition(text_name: str, ascii_name: str) -> str:
    """The header RFC 6266 asks for: the ASCII twin, then the percent-encoded UTF-8 name."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(text_name)}"


def test_each_download_is_named_by_year_ward_and_what_it_is(app, client, sign_in, data):
    """The committee's table (the round, a section, the long CSV, the PDF) and the comments
    are named 令和N年度_高津区_…, each with an ASCII twin in ``filename``."""
    year, fy = fiscal_year_label(YEAR), f"FY{YEAR}"
    with app.app_context():
        ward_id = factories.ward().id
    s2 = data["sections"]["S2"]
    base = f"/results/rounds/{data['round']}"
    expected = {
        f"{base}/export/xlsx": (
            f"{year}_高津区_遵守率.xlsx", f"{fy}_ward-{ward_id}_compliance.xlsx"
        ),
        f"{base}/export/csv": (
            f"{year}_高津区_遵守率.csv", f"{fy}_ward-{ward_id}_compliance.csv"
        ),
        f"{base}/export/csv-long": (
            f"{year}_高津区_遵守率_件数つき.csv", f"{fy}_ward-{ward_id}_compliance-long.csv"
        ),
        f"{base}/export/pdf?group=section:{s2}": (
            f"{year}_高津区_S2_遵守率.pdf", f"{fy}_ward-{ward_id}_section-{s2}_compliance.pdf"
        ),
        f"{base}/sections/{s2}/export/xlsx": (
            f"{year}_高津区_S2_遵守率.xlsx", f"{fy}_ward-{ward_id}_section-{s2}_compliance.xlsx"
        ),
        f"{base}/comments.xlsx": (
            f"{year}_高津区_コメント.xlsx", f"{fy}_ward-{ward_id}_comments.xlsx"
        ),
    }
    sign_in(_person(app, data["committee"]))
    for url, (text_name, ascii_name) in expected.items():
        response = client.get(url)
        assert response.status_code == 200 and response.get_data(), url  # a CSV is streamed
        assert response.headers["Content-Disposition"] == _disposition(text_name, ascii_name)
        assert response.headers["Cache-Control"] == "no-store"


def test_a_chief_downloads_their_sheet_named_by_their_section(app, client, sign_in, data):
    """The chief's own sheet: 令和N年度_高津区_S2_遵守率.xlsx."""
    s2 = data["sections"]["S2"]
    sign_in(_person(app, data["chiefs"]["S2"]))
    response = client.get(f"/results/rounds/{data['round']}/sections/{s2}/export/xlsx")
    assert response.status_code == 200
    with app.app_context():
        ward_id = factories.ward().id
    assert response.headers["Content-Disposition"] == _disposition(
        f"{fiscal_year_label(YEAR)}_高津区_S2_遵守率.xlsx",
        f"FY{YEAR}_ward-{ward_id}_section-{s2}_compliance.xlsx",
    )


def test_a_round_of_several_wards_is_named_after_them_or_the_city(app_ctx):
    """A round of two of three wards names both; a round of every ward is 市全体; a section's
    name loses the characters no file name may hold."""
    from app.services.results.compliance import final_results
    from app.services.results.exports import export_name

    catalogue = factories.catalogue("multi", fiscal_year=2025, standards=1)
    wards = [factories.ward(name) for name in ("川崎区", "高津区", "宮前区")]
    ids = [w.id for w in wards]
    some = factories.closed_round(catalogue, wards=wards[1:], fiscal_year=2025)
    every = factories.closed_round(catalogue, wards=wards, fiscal_year=2025)
    odd = factories.section('総務/課:"1"', ward_name="宮前区")
    for round_ in (some, every):
        for _i in range(5):
            person = factories.person(section=odd, fiscal_year=2025)
            factories.response(round_, person, {"std-1": "yes"}, section=odd)
    db.session.commit()
    name = export_name(final_results(some.id), "all", "xlsx")
    assert (name.text, name.ascii) == (
        "令和7年度_高津区・宮前区_遵守率.xlsx", f"FY2025_wards-{ids[1]}-{ids[2]}_compliance.xlsx"
    )
    name = export_name(final_results(every.id), "all", "csv")
    assert (name.text, name.ascii) == ("令和7年度_市全体_遵守率.csv", "FY2025_city_compliance.csv")
    name = export_name(final_results(every.id), f"section:{odd.id}", "xlsx")
    assert name.text == "令和7年度_宮前区_総務課1_遵守率.xlsx"
    assert name.ascii == f"FY2025_ward-{ids[2]}_section-{odd.id}_compliance.xlsx"
    assert name.content_disposition.startswith(f'attachment; filename="{name.ascii}"; ')
