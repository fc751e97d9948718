"""The committee's comments of a round as an Excel workbook: one row per comment, with the
standard's number and text only (no name, section, role or time: the app gives none).

Sheet 「コメント」: 基準 No | 基準の内容 | コメント; a note on the rules under the title.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import cast

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import safe_text

FONT_NAME = "游ゴシック"


def comments_workbook(
    title: str, scope: str, rows: Sequence[tuple[int, str, str]], notes: Sequence[str]
) -> bytes:
    """The workbook's bytes: ``rows`` are (number, standard text, comment)."""
    book = Workbook()
    sheet = cast(Worksheet, book.active)
    sheet.title = "コメント"
    bold, plain = Font(name=FONT_NAME, size=10, bold=True), Font(name=FONT_NAME, size=10)
    wrap = Alignment(vertical="top", wrap_text=True)
    sheet.cell(row=1, column=1, value=safe_text(f"{title}　コメント（{scope}）")).font = Font(
        name=FONT_NAME, size=13, bold=True
    )
    row = 2
    for note in notes:
        sheet.cell(row=row, column=1, value=safe_text(note)).font = plain
        row += 1
    row += 1
    for column, heading in enumerate(("基準 No", "基準の内容", "コメント"), start=1):
        sheet.cell(row=row, column=column, value=heading).font = bold
    header = row
    for number, text, comment in rows:
        row += 1
        sheet.cell(row=row, column=1, value=f"基準{number}").font = plain
        for column, value in ((2, text), (3, comment)):
            cell = sheet.cell(row=row, column=column, value=safe_text(value))
            cell.font, cell.alignment = plain, wrap
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 50
    sheet.column_dimensions["C"].width = 60
    sheet.freeze_panes = sheet.cell(row=header + 1, column=1).coordinate
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
