"""The committee's list of improvement actions as an Excel workbook: one row per action.

Sheet 「改善の取組」: 区 | 年度 | 調査 | 基準 | 取組 | 担当の課 | 担当者 | 期限 | 期限切れ | 状況 |
見送りの理由 | 実施したこと | 根拠; the title and the filter under it. No rate and no
respondent: an action names its owner only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import cast

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import safe_text

FONT_NAME = "游ゴシック"

HEADINGS: tuple[str, ...] = (
    "区", "年度", "調査", "基準", "取組", "担当の課", "担当者", "期限", "期限切れ", "状況",
    "見送りの理由", "実施したこと", "根拠",
)
WIDTHS: tuple[int, ...] = (8, 11, 28, 36, 40, 16, 18, 16, 9, 9, 24, 40, 36)


@dataclass(frozen=True)
class ActionSheetRow:
    """One action as the sheet prints it (texts already in the page's words)."""

    ward: str
    year: str  # 令和6年度
    round_title: str
    standard: str  # 基準11 電話は…
    action: str
    section: str
    owner: str
    due: str  # 令和7年3月31日
    overdue: bool
    status: str  # 未着手 / 対応中 / 完了 / 見送り
    reason: str
    outcome: str
    evidence: str  # the link and the note, one per line

    def values(self) -> tuple[str, ...]:
        return (
            self.ward, self.year, self.round_title, self.standard, self.action, self.section,
            self.owner, self.due, "期限切れ" if self.overdue else "", self.status, self.reason,
            self.outcome, self.evidence,
        )


def actions_workbook(title: str, lines: Sequence[str], rows: Sequence[ActionSheetRow]) -> bytes:
    """The workbook's bytes: the title, ``lines`` under it (the filter), then the table."""
    book = Workbook()
    sheet = cast(Worksheet, book.active)
    sheet.title = "改善の取組"
    bold, plain = Font(name=FONT_NAME, size=10, bold=True), Font(name=FONT_NAME, size=10)
    wrap = Alignment(vertical="top", wrap_text=True)
    sheet.cell(row=1, column=1, value=safe_text(title)).font = Font(
        name=FONT_NAME, size=13, bold=True
    )
    row = 2
    for line in lines:
        sheet.cell(row=row, column=1, value=safe_text(line)).font = plain
        row += 1
    row += 1
    for column, heading in enumerate(HEADINGS, start=1):
        sheet.cell(row=row, column=column, value=heading).font = bold
    header = row
    for entry in rows:
        row += 1
        for column, value in enumerate(entry.values(), start=1):
            cell = sheet.cell(row=row, column=column, value=safe_text(value))
            cell.font, cell.alignment = plain, wrap
    for column, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = sheet.cell(row=header + 1, column=1).coordinate
    sheet.auto_filter.ref = f"A{header}:{get_column_letter(len(HEADINGS))}{row}"
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
