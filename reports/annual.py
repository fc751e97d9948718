"""The ward's annual report (実施状況報告書, as 高津区's FY2025 annual report) as HTML, PDF and
Word (.docx).

The app gathers the year's data into an ``AnnualReport`` (plain dataclasses, below); these
builders lay it out with the structure of 高津区's FY2025 annual report: cover, table of
contents with page numbers, the year's service policy (方針), 1 総括, 2 each section's and
working team's goals and results (grouped by department), 3 the compliance table (the same
``ComplianceTable`` and the same markup as the compliance print view) and the committee's
membership.

The HTML is one self-contained document (its styles inline): the browser shows it and
WeasyPrint prints it. In the PDF the cover, the table of contents and the policy have no page
number and page 1 is the first page after them (as in the seed); the table of contents takes
its page numbers from where the headings land (``target-counter``). The .docx is on A4 with
the PDF's margins and has the same headings (Word's 見出し styles), tables and page numbers
in the footer; its table of contents is a Word field that Word fills in when the file is
opened, so the committee can edit the text and update the numbers. Nothing here knows Flask
or the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from io import BytesIO
from typing import IO, Any

from jinja2 import Environment, FunctionLoader, select_autoescape

from reports.table import ROLE_LABELS, ComplianceTable

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
GOAL_HEADERS = ("場面", "目標及び具体的な取組内容", "実施結果及び目標の達成度")


@dataclass(frozen=True)
class GoalEntry:
    """One goal: its number (1-3), scene (場面), the goal and the result (None: not yet)."""

    number: int
    scene: str
    goal: str
    result: str | None = None


@dataclass(frozen=True)
class GoalBlock:
    """The goals of one section or one working team (``purpose`` only for a team)."""

    name: str
    goals: list[GoalEntry]
    purpose: str = ""


@dataclass(frozen=True)
class DepartmentBlock:
    """The sections of one department in the organisation's order (name None: the sections
    directly under the ward, printed without a department heading, as in the seed)."""

    name: str | None
    sections: list[GoalBlock]


@dataclass(frozen=True)
class ActionEntry:
    """An improvement action on a standard after a round (docs/annual-report.md): the ward's
    rates before and after it (職員, 所属長) are the compliance table's cells as published
    (``-``, ``＊``), never a section's."""

    standard: str  # 基準14 来庁された市民に、…
    action: str
    section: str
    due: str  # 令和8年3月31日
    outcome: str | None
    status: str = ""  # 未着手 / 対応中 / 完了 / 見送り（理由：…）
    before: tuple[str, str] | None = None  # the year the action followed: (職員, 所属長)
    after: tuple[str, str] | None = None  # the next year's

    def change(self, role: int) -> str:
        """``80.0 → 73.3`` for a role (0: 職員, 1: 所属長)."""
        before = self.before[role] if self.before else "-"
        after = self.after[role] if self.after else "-"
        return f"{before} → {after}"


@dataclass(frozen=True)
class CommitteeMember:
    """One line of the committee's table: 役職 (empty: as the line above) and 所属."""

    title: str
    affiliation: str


@dataclass(frozen=True)
class TeamMembership:
    """A working team in the membership page: its name and number of members."""

    name: str
    members: int


@dataclass(frozen=True)
class TocEntry:
    """One line of the table of contents: the anchor of its heading and the heading's text."""

    anchor: str
    title: str


@dataclass(frozen=True)
class AnnualReport:
    """Everything the report prints, for one ward and fiscal year."""

    ward: str  # 高津区
    fiscal_year: int  # 2025
    year_label: str  # 令和7年度
    issued: str  # 2026(令和8)年3月
    committee_name: str  # サービス推進部会
    policy: list[str]  # the numbered points of the policy, without their numbers
    summary: list[str]  # the summary's paragraphs
    departments: list[DepartmentBlock]
    teams: list[GoalBlock]
    compliance: ComplianceTable | None  # None: no round of the ward in the year
    committee: list[CommitteeMember]
    team_memberships: list[TeamMembership] = field(default_factory=list)
    compliance_note: str = ""  # why there is no table, or which round it comes from
    locked: bool = False
    actions: list[ActionEntry] = field(default_factory=list)  # after this year's round
    # Decided after last year's round, with the rates before (last year) and after (this year).
    previous_actions: list[ActionEntry] = field(default_factory=list)

    @property
    def office(self) -> str:
        """The ward office: 高津区 -> 高津区役所."""
        return f"{self.ward}役所"

    @property
    def title(self) -> str:
        """The report's title as the cover has it (after the year)."""
        return f"{self.office}サービス向上の取組"

    @property
    def policy_title(self) -> str:
        return f"{self.year_label}{self.office}サービス向上方針"

    @property
    def committee_full_name(self) -> str:
        return f"{self.office}{self.committee_name}"

    @property
    def numbered_policy(self) -> list[str]:
        """The policy's points numbered ①, ②, ... as in the seed."""
        return [f"{_circled(n)} {point}" for n, point in enumerate(self.policy, 1)]

    @property
    def intro(self) -> str:
        return (
            f"「区役所サービス向上指針」及び「{self.office}サービス向上指針」に基づき策定した"
            f"「{self.year_label}{self.office}サービス向上計画」に基づき取り組んだ、"
            "区役所サービス向上の実施状況について報告します。"
        )

    @property
    def goals_lead(self) -> str:
        return (
            "サービス向上目標は、区役所サービス向上指針に基づき各課において職員が守るべきものとして"
            "設定し、区役所サービスの質の向上に取り組みました。取組の実施結果、達成度を踏まえ、"
            "次年度以降も引き続き、質の向上につなげてまいります。"
        )

    @property
    def compliance_lead(self) -> list[str]:
        return [
            f"職員のサービス基準の遵守状況について、{self.committee_name}による調査を行いました。",
            "区役所職員として実践すべき行動・業務の重要性を全職員が認識できるよう職員各自が"
            "サービス基準について自己評価を行いました。",
            "※「所属長」と「所属長を除く職員」とで区別化しています。",
        ]

    @property
    def toc(self) -> list[TocEntry]:
        """The headings the table of contents lists, in order (as the 目次 of 高津区's FY2025
        annual report)."""
        return [
            TocEntry("report-intro", f"{self.year_label}{self.office}サービス向上の実施状況"),
            TocEntry(
                "report-summary",
                f"1 {self.year_label}{self.office}サービス向上の取組の総括について",
            ),
            TocEntry("report-goals", "2 各課、ワーキングのサービス向上目標と取組結果"),
            TocEntry("report-compliance", "3 サービス基準の遵守状況"),
            TocEntry("report-committee", f"{self.year_label}{self.committee_full_name}の組織"),
        ]

    def team_line(self, team: TeamMembership) -> str:
        return f"{team.name}：区役所各課から推薦された職員{team.members}名"


def _circled(n: int) -> str:
    return CIRCLED[n - 1] if 1 <= n <= len(CIRCLED) else f"({n})"


# --- HTML and PDF ------------------------------------------------------------------------------


def _resource(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


_env = Environment(
    loader=FunctionLoader(_resource),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)


def report_css() -> str:
    """The report's style sheet, exactly as the HTML's ``<style>`` holds it (for a CSP hash)."""
    return _resource("annual_report.css")


def annual_html(report: AnnualReport, site_header: str = "", site_styles: str = "") -> str:
    """The whole report as one HTML document (styles inline, no outside resources).

    On the site the caller passes its own header (``site_header``: HTML with the site's name,
    navigation and a way back) and the address of the site's style sheet for it
    (``site_styles``); the report's own styles come after, so they win inside the report. The
    header is not printed. The PDF has neither."""
    template = _env.get_template("annual_report.html")
    return template.render(
        report=report,
        css=report_css(),
        roles=ROLE_LABELS,
        site_header=site_header,
        site_styles=site_styles,
    )


def annual_pdf(report: AnnualReport, out: IO[bytes] | None = None) -> bytes | None:
    """The report as PDF (A4), page numbers in the footer and in the table of contents."""
    from reports.printing import html_to_pdf

    return html_to_pdf(annual_html(report), out)


# --- Word ------------------------------------------------------------------------------------

DOCX_FONT = "游明朝"
A4_MM = (210, 297)
DOCX_HEADING_FONT = "游ゴシック"


def annual_docx(report: AnnualReport, out: IO[bytes] | None = None) -> bytes | None:
    """The report as a Word document the committee can still edit."""
    from docx import Document
    from docx.enum.section import WD_SECTION

    document = Document()
    _docx_fonts(document)
    _docx_update_fields_on_open(document)
    _docx_front_matter(document, report)
    # The body: its own Word section, page numbers from 1 in the footer.
    body = document.add_section(WD_SECTION.NEW_PAGE)
    _docx_page_numbers(document, body)
    toc = {entry.anchor: entry.title for entry in report.toc}
    document.add_heading(toc["report-intro"], level=1)
    document.add_paragraph(report.intro)
    document.add_heading(toc["report-summary"], level=1)
    for paragraph in report.summary or ["（総括はまだ入力されていません）"]:
        document.add_paragraph(paragraph)
    document.add_heading(toc["report-goals"], level=1)
    _docx_goal_chapter(document, report)
    document.add_heading(toc["report-compliance"], level=1)
    for line in report.compliance_lead:
        document.add_paragraph(line)
    if report.compliance is not None:
        _docx_compliance(document, report.compliance)
    if report.compliance_note:
        document.add_paragraph(report.compliance_note)
    document.add_heading(toc["report-committee"], level=1)
    _docx_committee(document, report)
    _docx_page_setup(document)
    if out is not None:
        document.save(out)
        return None
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_front_matter(document: Any, report: AnnualReport) -> None:
    """The cover, the table of contents (a field Word fills in with the page numbers when the
    file is opened) and the policy, each on its own page."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Pt

    for _ in range(6):
        document.add_paragraph()
    for text, size in ((report.year_label, 22), (report.title, 22), ("実施状況報告書", 26)):
        _centered(document, text, size, bold=True)
    for _ in range(8):
        document.add_paragraph()
    _centered(document, report.issued, 14)
    _centered(document, report.office, 14)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    _centered(document, "目 次", 16, bold=True)
    _docx_toc(document, report.toc)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(report.policy_title)
    run.bold = True
    run.font.size = Pt(14)
    for point in report.numbered_policy or ["（方針はまだ入力されていません）"]:
        document.add_paragraph(point)


def _docx_goal_chapter(document: Any, report: AnnualReport) -> None:
    """The goals chapter after its heading: each department's sections, the working teams,
    then the improvement actions (last year's with their rates, then this year's)."""
    document.add_paragraph(report.goals_lead)
    for department in report.departments:
        if department.name:
            document.add_heading(department.name, level=2)
        for block in department.sections:
            document.add_heading(block.name, level=3)
            _docx_goals(document, block)
    for team in report.teams:
        document.add_heading(team.name, level=2)
        if team.purpose:
            document.add_paragraph(team.purpose)
        _docx_goals(document, team)
    if report.previous_actions:
        document.add_heading("前年度の改善の取組と遵守率の変化", level=2)
        for entry in report.previous_actions:
            document.add_paragraph(
                _docx_action(entry)
                + f" 遵守率（前年度 → 今年度）職員 {entry.change(0)}、所属長 {entry.change(1)}"
            )
    if report.actions:
        document.add_heading("サービス基準の改善の取組", level=2)
        for entry in report.actions:
            document.add_paragraph(_docx_action(entry))


def _docx_action(entry: ActionEntry) -> str:
    return (
        f"{entry.standard}：{entry.action}（担当 {entry.section}・期限 {entry.due}・"
        f"{entry.status}）" + (f" 実施したこと：{entry.outcome}" if entry.outcome else "")
    )


def _docx_committee(document: Any, report: AnnualReport) -> None:
    """The committee chapter after its heading: the members' table, then the teams."""
    document.add_paragraph(f"1 {report.committee_full_name}")
    members = document.add_table(rows=1, cols=2)
    members.style = "Table Grid"
    _header_cells(members.rows[0].cells, ("役職", "所属"))
    for member in report.committee:
        cells = members.add_row().cells
        cells[0].text = member.title
        cells[1].text = member.affiliation
    for number, membership in enumerate(report.team_memberships, 2):
        document.add_paragraph(f"{number} {report.team_line(membership)}")


def _centered(document: Any, text: str, size: int, *, bold: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


def page_margins_mm() -> tuple[float, float, float, float]:
    """The page's margins (top, right, bottom, left, in mm) from the report's ``@page`` rule:
    the PDF's, which the Word file copies."""
    page = re.search(r"@page\s*\{([^}]*)\}", report_css())
    margin = re.search(r"margin:\s*([^;]+);", page.group(1)) if page else None
    if margin is None:
        raise ValueError("annual_report.css has no @page margin")
    values = [float(v.removesuffix("mm")) for v in margin.group(1).split()]
    # CSS's shorthand: one value for all sides, (vertical, horizontal), (top, horizontal,
    # bottom) or (top, right, bottom, left).
    top = values[0]
    right = values[1] if len(values) > 1 else top
    bottom = values[2] if len(values) > 2 else top
    left = values[3] if len(values) > 3 else right
    return top, right, bottom, left


def _docx_page_setup(document: Any) -> None:
    """Every Word section on A4 portrait with the PDF's margins (python-docx's public API)."""
    from docx.shared import Mm

    top, right, bottom, left = page_margins_mm()
    for section in document.sections:
        section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
        section.top_margin, section.bottom_margin = Mm(top), Mm(bottom)
        section.left_margin, section.right_margin = Mm(left), Mm(right)


def _set_east_asian_font(style: Any, name: str) -> None:
    """The style's font, for Latin and for Japanese (``w:eastAsia``) text alike."""
    from docx.oxml.ns import qn

    style.font.name = name  # writes the style's w:rPr/w:rFonts
    fonts = style.element.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    fonts.set(qn("w:eastAsia"), name)


def _docx_fonts(document: Any) -> None:
    from docx.shared import Pt, RGBColor

    normal = document.styles["Normal"]
    _set_east_asian_font(normal, DOCX_FONT)
    normal.font.size = Pt(10.5)
    for level, size in ((1, 14), (2, 12), (3, 11)):
        heading = document.styles[f"Heading {level}"]
        _set_east_asian_font(heading, DOCX_HEADING_FONT)
        heading.font.size = Pt(size)
        heading.font.color.rgb = RGBColor(0, 0, 0)


def _docx_update_fields_on_open(document: Any) -> None:
    """Ask Word to update the fields (the table of contents) when the file is opened."""
    from docx.oxml.ns import qn

    settings = document.settings.element
    update = settings.makeelement(qn("w:updateFields"), {qn("w:val"): "true"})
    settings.append(update)


def _field(paragraph: Any, instruction: str, shown: str) -> None:
    """A Word field (``PAGE``, ``TOC ...``) with the text shown until Word updates it."""
    from docx.oxml.ns import qn

    def char(kind: str) -> None:
        run = paragraph.add_run()
        element = run.element.makeelement(qn("w:fldChar"), {qn("w:fldCharType"): kind})
        run.element.append(element)

    char("begin")
    run = paragraph.add_run()
    text = run.element.makeelement(qn("w:instrText"), {qn("xml:space"): "preserve"})
    text.text = f" {instruction} "
    run.element.append(text)
    char("separate")
    paragraph.add_run(shown)
    char("end")


def _docx_toc(document: Any, entries: list[TocEntry]) -> None:
    """The TOC field over the 見出し 1 headings; until Word updates it, it lists the titles."""
    paragraph = document.add_paragraph()
    _field(paragraph, 'TOC \\o "1-1" \\h \\z \\u', entries[0].title)
    for entry in entries[1:]:
        document.add_paragraph(entry.title)
    note = document.add_paragraph(
        "（ページ番号は Word で開いたときに更新されます。更新されないときは目次を右クリックして"
        "「フィールド更新」を選んでください。）"
    )
    note.runs[0].italic = True


# The children of w:sectPr that come after w:pgNumType (ECMA-376 Part 1, 17.6.17).
_AFTER_PG_NUM_TYPE = (
    "cols", "formProt", "vAlign", "noEndnote", "titlePg", "textDirection", "bidi",
    "rtlGutter", "docGrid", "printerSettings", "sectPrChange",
)


def _docx_page_numbers(document: Any, section: Any) -> None:
    """Page numbers from 1, centred in the footer of the document's last Word section (the
    one just added) only."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn

    footer = section.footer
    footer.is_linked_to_previous = False
    paragraph = footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(paragraph, "PAGE", "1")
    # python-docx has no API for the numbering's start: the last section's properties are
    # the body's own w:sectPr, reached through the document's public ``element``.
    sect_pr = document.element.find(f"{qn('w:body')}/{qn('w:sectPr')}")
    numbering = sect_pr.makeelement(qn("w:pgNumType"), {qn("w:start"): "1"})
    later = [child for child in sect_pr if child.tag in {qn(f"w:{t}") for t in _AFTER_PG_NUM_TYPE}]
    if later:
        later[0].addprevious(numbering)
    else:
        sect_pr.append(numbering)


def _header_cells(cells: Any, texts: tuple[str, ...]) -> None:
    for cell, text in zip(cells, texts, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True


def _docx_goals(document: Any, block: GoalBlock) -> None:
    if not block.goals:
        document.add_paragraph("（目標はまだ入力されていません）")
        return
    table = document.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    _header_cells(table.rows[0].cells, GOAL_HEADERS)
    for goal in block.goals:
        cells = table.add_row().cells
        cells[0].text = goal.scene
        cells[1].text = goal.goal
        cells[2].text = goal.result or "（未入力）"


def _docx_compliance(document: Any, table: ComplianceTable) -> None:
    """The compliance table with the print view's merged header (3 rows)."""
    columns = 2 + 2 * len(table.column_groups)
    grid = document.add_table(rows=3, cols=columns)
    grid.style = "Table Grid"
    top, middle, bottom = (row.cells for row in grid.rows)
    top[0].merge(bottom[0]).text = "基準 No"
    top[1].merge(bottom[1]).text = "基準の内容"
    top[2].merge(top[columns - 1]).text = "遵守率(%)"
    for index, label in enumerate(table.column_groups):
        first = 2 + 2 * index
        middle[first].merge(middle[first + 1]).text = label
        bottom[first].text, bottom[first + 1].text = ROLE_LABELS
    for row in table.rows:
        cells = grid.add_row().cells
        cells[0].text = row.label
        cells[1].text = row.text
        for cell, rate in zip(cells[2:], row.cells, strict=True):
            cell.text = rate.text
    for line in table.legend:
        document.add_paragraph(line)
