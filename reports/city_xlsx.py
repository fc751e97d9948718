"""The city page as an Excel workbook: per shared standard, the city's rate and each ward's,
for 職員 and 所属長 (small groups already hidden by the app: ``＊``; ``-`` where nobody
answered).

Sheet 「市全体」: 基準 No | 基準の内容 | then, per group (the city, then each ward), one column
per role; notes on the rules under the title.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from io import BytesIO
from typing import cast

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import safe_text

FONT_NAME = "游ゴシック"
# A rate cell: the number when shown, else its text (``＊`` or ``-``).
RateCell = Decimal | str


def city_workbook(
    title: str,
    columns: Sequence[str],
    rows: Sequence[tuple[int, str, Sequence[RateCell]]],
    notes: Sequence[str],
) -> bytes:
    """The workbook's bytes. ``columns`` are the rate columns' headings (e.g. 「市全体 職員」);
    ``rows`` are (standard number, text, one rate cell per column)."""
    book = Workbook()
    sheet = cast(Worksheet, book.active)
    sheet.title = "市全体"
    bold, plain = Font(name=FONT_NAME, size=10, bold=True), Font(name=FONT_NAME, size=10)
    sheet.cell(row=1, column=1, value=safe_text(title)).font = Font(
        name=FONT_NAME, size=13, bold=True
    )
    row = 2
    for note in notes:
        sheet.cell(row=row, column=1, value=safe_text(note)).font = plain
        row += 1
    row += 1
    header = row
    for column, heading in enumerate(("基準 No", "基準の内容", *columns), start=1):
        heading_cell = sheet.cell(row=row, column=column, value=safe_text(heading))
        heading_cell.font = bold
        heading_cell.alignment = Alignment(wrap_text=True, vertical="top")
    for number, text, values in rows:
        row += 1
        sheet.cell(row=row, column=1, value=f"基準{number}").font = plain
        text_cell = sheet.cell(row=row, column=2, value=safe_text(text))
        text_cell.font, text_cell.alignment = plain, Alignment(wrap_text=True, vertical="top")
        for column, value in enumerate(values, start=3):
            rate = sheet.cell(row=row, column=column, value=value)
            rate.font = plain
            if isinstance(value, Decimal):
                rate.number_format = "0.0"
            else:
                rate.alignment = Alignment(horizontal="right")
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 50
    for column in range(3, 3 + len(columns)):
        sheet.column_dimensions[get_column_letter(column)].width = 11
    sheet.freeze_panes = f"C{header + 1}"
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
