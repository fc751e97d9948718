"""A roster as the import reads it (docs/roster.md): the header line, then one person a line;
as CSV (UTF-8 with a byte order mark, for Excel on Japanese Windows) or as an Excel workbook of
one sheet. Plain data in, the file's bytes out.

Every cell is text (the 職員番号 ``00123`` keeps its zeros: the workbook's cells are text cells
formatted ``@``) and goes through ``safe_text``, so that a name written like a formula is never
run by Excel; the roster's reader takes that leading ``'`` off again (``plain_text``), so a file
downloaded and imported again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import cast

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import safe_text
from reports.csv_files import rows_csv

FONT_NAME = "游ゴシック"
SHEET_TITLE = "名簿"
WIDTHS = (12, 16, 30, 10, 22, 22, 8, 30)  # the columns of docs/roster.md, in order


def roster_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """The CSV's bytes: UTF-8 with BOM, CRLF line ends."""
    return "".join(rows_csv(header, rows)).encode("utf-8")


def roster_workbook(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """The workbook's bytes: sheet 「名簿」, the header in bold, every cell text."""
    book = Workbook()
    sheet = cast(Worksheet, book.active)
    sheet.title = SHEET_TITLE
    bold, plain = Font(name=FONT_NAME, size=11, bold=True), Font(name=FONT_NAME, size=11)
    for line, values in enumerate([header, *rows], start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=line, column=column, value=safe_text(value) or None)
            cell.number_format = "@"
            cell.font = bold if line == 1 else plain
    for column, width in enumerate(WIDTHS[: len(header)], start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
