"""The annual report (実施状況報告書) of the demo ward: HTML, PDF and Word, pages and queries."""

import ast
import io
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import docx
import pytest
import sqlalchemy as sa

import reports.annual as annual_module
from app.extensions import db
from app.models import Grant, GrantRole, Person, Ward
from app.services.goals.annual_report import annual_report, issued_label
from app.services.operations.demo import DEMO_SECTIONS
from app.services.operations.demo_goals import TEAMS
from reports.annual import (
    AnnualReport,
    annual_docx,
    annual_html,
    annual_pdf,
    page_margins_mm,
)
from tests import factories

PDFTOTEXT = shutil.which("pdftotext")

# Every part of 高津区's FY2025 annual report's structure, as the report of the demo ward prints it.
EXPECTED = [
    "令和7年度",
    "高津区役所サービス向上の取組",
    "実施状況報告書",
    "2026(令和8)年3月",
    "目次",
    "令和7年度高津区役所サービス向上方針",
    "① 日頃から市民ニーズの的確な把握",
    "④ 地域の課題を自ら見つけ",
    "令和7年度高津区役所サービス向上の実施状況",
    "1 令和7年度高津区役所サービス向上の取組の総括について",
    "5つのワーキングチーム",
    "2 各課、ワーキングのサービス向上目標と取組結果",
    "まちづくり推進部",
    "地域みまもり支援センター",
    "道路公園センター",
    "実施結果及び目標の達成度",
    "3 サービス基準の遵守状況",
    "遵守率(%)",
    "令和6年度",
    "基準1",
    "令和7年度高津区役所サービス推進部会の組織",
    "1 高津区役所サービス推進部会",
    "部会長",
    "区民サービス部長",
    "道路公園センター担当課長〔管理〕",
    "3 研修ワーキングチーム：区役所各課から推薦された職員4名",
    *[name for _dept, name, _n, _k in DEMO_SECTIONS],
    *[name for name, _purpose, _size, _goals in TEAMS],
]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _missing(text: str) -> list[str]:
    flat = _squeeze(text)
    return [part for part in EXPECTED if _squeeze(part) not in flat]


@pytest.fixture
def demo(app, runner):
    """The demo (高津区, FY2025 goals, teams, plan and two rounds) and a committee member id."""
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        ward_id = db.session.scalars(sa.select(Ward.id).where(Ward.name == "高津区")).one()
        committee = db.session.scalars(
            sa.select(Person).where(Person.employee_id == "900003")
        ).one()
        return {"ward": ward_id, "committee": committee.id}


def test_the_html_has_every_part_of_the_report(app, demo):
    """Cover, contents, policy, 1 総括, 2 every section and team, 3 the table, the committee."""
    with app.app_context():
        report = annual_report(demo["ward"], 2025)
    html = annual_html(report)
    assert _missing(html) == []
    assert html.count('class="goals"') == len(DEMO_SECTIONS) + len(TEAMS)
    assert 'href="#report-compliance"' in html and 'id="report-compliance"' in html
    assert "<script" not in html


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_has_every_part_and_the_contents_has_page_numbers(app, demo, tmp_path):
    """pdftotext finds every part; the contents' numbers follow the pages after the front."""
    with app.app_context():
        report = annual_report(demo["ward"], 2025)
    path = tmp_path / "report.pdf"
    path.write_bytes(annual_pdf(report))
    assert PDFTOTEXT is not None  # else skipped
    text = subprocess.run(
        [PDFTOTEXT, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert _missing(text) == []
    numbers = {
        title: int(page)
        for title, page in re.findall(r"^\s*(\S.*?\S)\s*\.{3,}\s*(\d+)\s*$", text, re.M)
    }
    toc = [entry.title for entry in report.toc]
    assert [numbers.get(title) for title in toc[:2]] == [1, 1]
    pages = [numbers[title] for title in toc]
    assert pages == sorted(pages) and pages[-1] > pages[2] > 1
    # The page where section 3 starts carries that number in its footer (pages after the
    # cover, the contents and the policy are numbered from 1).
    sheets = text.split("\f")
    heading = re.compile(r"^3 サービス基準の遵守状況\s*$", re.M)
    start = next(i for i, page in enumerate(sheets) if heading.search(page))
    assert re.search(rf"^\s*{numbers[toc[3]]}\s*$", sheets[start], re.M)
    assert start == numbers[toc[3]] + 2


def test_the_docx_has_every_part_in_its_paragraphs_and_tables(app, demo):
    """python-docx reads every part back; headings use Word's heading styles; a TOC field."""
    with app.app_context():
        report = annual_report(demo["ward"], 2025)
    data = annual_docx(report)
    assert data is not None
    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert _missing("\n".join(paragraphs + cells)) == []
    headings = [
        p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 1"
    ]
    assert headings == [entry.title for entry in report.toc]
    assert any("TOC" in (node.text or "") for node in document.element.iter() if
               node.tag.endswith("instrText"))
    header = [cell.text for cell in document.tables[-2].rows[2].cells]
    assert header[2:] == ["職員", "所属長", "職員", "所属長"]


def test_the_committee_reads_and_downloads_the_report(app, client, sign_in, demo):
    """HTML with a CSP that allows only its own style and the site's sheet; PDF and docx with
    Japanese names and a plain ASCII name for clients that read only ``filename``."""
    with app.app_context():
        sign_in(db.session.get(Person, demo["committee"]))
    base = f"/annual-report/{demo['ward']}/2025"
    page = client.get(base)
    assert page.status_code == 200 and "3 サービス基準の遵守状況" in page.get_data(as_text=True)
    assert "style-src 'self' 'sha256-" in page.headers["Content-Security-Policy"]
    for suffix, mimetype in (("pdf", "application/pdf"), ("docx", "wordprocessingml")):
        response = client.get(f"{base}/report.{suffix}")
        assert response.status_code == 200 and mimetype in response.mimetype
        name = quote(f"令和7年度_高津区_実施状況報告書.{suffix}")
        assert f"filename*=UTF-8''{name}" in response.headers["Content-Disposition"]
        plain = f'filename="FY2025_ward-{demo["ward"]}_annual-report.{suffix}"'
        assert plain in response.headers["Content-Disposition"]
    index = client.get("/annual-report/").get_data(as_text=True)
    assert f'href="{base}/report.pdf"' in index
    assert client.get("/annual-report/999999/2025").status_code == 404


def test_the_report_page_has_the_site_header_and_a_way_back(app, client, sign_in, demo):
    """On the site the report has the site's header (name, navigation, account) and a link
    back to the list of reports; the PDF has neither."""
    with app.app_context():
        sign_in(db.session.get(Person, demo["committee"]))
        report = annual_report(demo["ward"], 2025)
    html = client.get(f"/annual-report/{demo['ward']}/2025").get_data(as_text=True)
    assert '<header class="site-header">' in html
    assert 'class="back-link"><a href="/annual-report/"' in html
    assert 'href="/static/header.css"' in html
    assert "site-header" not in annual_html(report)


def test_another_wards_committee_cannot_read_the_report(app, client, sign_in, demo):
    """A committee member of 宮前区 gets 403 on 高津区's report in every format."""
    with app.app_context():
        member = factories.person()
        member.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=factories.ward("宮前区").id))
        db.session.commit()
        sign_in(member)
    for path in ("", "/report.pdf", "/report.docx"):
        assert client.get(f"/annual-report/{demo['ward']}/2025{path}").status_code == 403


def test_a_year_without_data_says_what_is_missing(app_ctx):
    """No plan, no goals, no round: the report is built and says so in each part."""
    section = factories.section("総務課")
    db.session.commit()
    report = annual_report(section.ward_id, 2030)
    html = annual_html(report)
    assert "（方針はまだ入力されていません）" in html
    assert "（目標はまだ入力されていません）" in html
    assert "令和12年度の自己点検（調査）はまだありません。" in html
    assert report.compliance is None and issued_label(2030) == "2031(令和13)年3月"


def _statements(app, ward_id):
    count = 0

    def counter(*_args):
        nonlocal count
        count += 1

    sa.event.listen(db.engine, "before_cursor_execute", counter)
    try:
        annual_report(ward_id, 2025)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", counter)
    return count


def test_the_number_of_queries_does_not_grow_with_the_ward(app_ctx):
    """Three sections and a team, or twelve and four teams with members: the same queries."""
    ward = factories.ward("高津区")
    catalogue = factories.catalogue("q-2025")
    factories.round_(catalogue, wards=[ward])

    def grow(count, teams):
        for _ in range(count):
            section = factories.section(department=f"部{count}")
            factories.person(section=section)
            for position in (1, 2):
                factories.service_goal(section=section, position=position, result="済")
        for _ in range(teams):
            team = factories.working_team(members=[factories.person(), factories.person()])
            factories.service_goal(team=team)
        db.session.commit()

    grow(3, 1)
    db.session.expire_all()
    small = _statements(app_ctx, ward.id)
    grow(9, 3)
    db.session.expire_all()
    assert _statements(app_ctx, ward.id) == small


def _small_report() -> AnnualReport:
    return AnnualReport(
        ward="高津区", fiscal_year=2025, year_label="令和7年度", issued="2026(令和8)年3月",
        committee_name="サービス推進部会", policy=["方針"], summary=["総括"], departments=[],
        teams=[], compliance=None, committee=[],
    )


def test_the_docx_is_a4_with_the_pdfs_margins():
    """Every Word section of the report is A4 portrait (210 × 297 mm) with the margins of the
    PDF's @page rule (20, 16, 18, 16 mm), and the body's page numbers start at 1."""
    from docx.oxml.ns import qn

    assert page_margins_mm() == (20.0, 16.0, 18.0, 16.0)
    data = annual_docx(_small_report())
    assert data is not None
    document = docx.Document(io.BytesIO(data))
    assert len(document.sections) == 2  # the front matter and the body
    for section in document.sections:
        width, height = section.page_width, section.page_height
        assert width is not None and height is not None
        assert (round(width.mm), round(height.mm)) == (210, 297)
        margins = (section.top_margin, section.right_margin, section.bottom_margin,
                   section.left_margin)
        assert tuple(round(m.mm, 1) for m in margins if m is not None) == (20.0, 16.0, 18.0, 16.0)
    body = document.element.find(f"{qn('w:body')}/{qn('w:sectPr')}")
    tags = [child.tag.split("}")[1] for child in body]
    assert tags.index("pgNumType") < tags.index("cols")  # the schema's order: Word reads it
    assert body.find(qn("w:pgNumType")).get(qn("w:start")) == "1"


def test_the_report_builders_use_no_private_attribute():
    """reports/annual.py reaches python-docx through its public API only: no ``obj._name``."""
    tree = ast.parse(Path(annual_module.__file__).read_text(encoding="utf-8"))
    private = sorted(
        node.attr for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
    )
    assert private == []
