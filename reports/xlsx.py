"""The compliance table as an Excel workbook, in the layout of the report's section 3.

Sheet 「遵守率」: 基準 No | 基準の内容 | 遵守率(%) over the column groups (last year and this
year; or a section and its ward), each split into 職員 and 所属長, with merged header cells;
rates are numbers with a one-decimal format, ``-`` and ``＊`` are text; A4 portrait, the header
rows repeated on every page and the width fitted to the page.
Sheet 「件数」: the counts behind every rate.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, cast, overload

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.header_footer import HeaderFooterItem
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from reports.cells import safe_text
from reports.table import ROLE_LABELS, ComplianceTable, RateCell

# A Japanese font every Office on Japanese Windows has.
FONT_NAME = "游ゴシック"
RATE_FORMAT = "0.0"
HEADER_FIRST_ROW = 3

_thin = Side(style="thin", color="808080")
_border = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
_header_fill = PatternFill("solid", fgColor="E8EEF4")
_center = Alignment(horizontal="center", vertical="center", wrap_text=True)
_wrap = Alignment(vertical="center", wrap_text=True)
_right = Alignment(horizontal="right", vertical="center")
_font = Font(name=FONT_NAME, size=10)
_bold = Font(name=FONT_NAME, size=10, bold=True)
_title_font = Font(name=FONT_NAME, size=13, bold=True)


@overload
def compliance_workbook(table: ComplianceTable, out: None = None) -> bytes: ...
@overload
def compliance_workbook(table: ComplianceTable, out: IO[bytes]) -> None: ...
def compliance_workbook(table: ComplianceTable, out: IO[bytes] | None = None) -> bytes | None:
    """Write the workbook to ``out``, or return its bytes when no file is given."""
    book = Workbook()
    rates = cast(Worksheet, book.active)  # a new workbook always has one sheet
    rates.title = "遵守率"
    _rates_sheet(rates, table)
    _counts_sheet(book.create_sheet("件数"), table)
    if out is not None:
        book.save(out)
        return None
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet: Worksheet, row: int, column: int) -> Cell:
    """The cell at ``row``, ``column``: values go only to a merged range's top-left cell, which
    openpyxl keeps as a Cell (the others become MergedCells)."""
    return cast(Cell, sheet.cell(row=row, column=column))


def _put(sheet: Worksheet, row: int, column: int, value: str) -> Cell:
    """Write one cell; text goes through ``safe_text`` so that it is never a formula."""
    cell = _cell(sheet, row, column)
    cell.value = safe_text(value)
    return cell


def _style_header(sheet: Worksheet, first_row: int, last_row: int, last_col: int) -> None:
    for row in sheet.iter_rows(
        min_row=first_row, max_row=last_row, min_col=1, max_col=last_col
    ):
        for cell in row:
            cell.font = _bold
            cell.alignment = _center
            cell.fill = _header_fill
            cell.border = _border


def _title(sheet: Worksheet, table: ComplianceTable, heading: str, last_col: int) -> None:
    _put(sheet, 1, 1, f"{table.title}　{heading}（{table.scope}）").font = (
        _title_font
    )
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last_col)


def _print_setup(sheet: Worksheet, header_last_row: int, landscape: bool = False) -> None:
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{HEADER_FIRST_ROW}:{header_last_row}"
    sheet.print_options.horizontalCentered = True
    footer = HeaderFooterItem()
    footer.center.text = "&P / &N"
    sheet.oddFooter = footer
    sheet.freeze_panes = sheet.cell(row=header_last_row + 1, column=3).coordinate


def _rates_sheet(sheet: Worksheet, table: ComplianceTable) -> None:
    years = table.column_groups
    last_col = 2 + 2 * len(years)
    top = HEADER_FIRST_ROW
    _title(sheet, table, table.heading, last_col)
    _put(sheet, top, 1, "基準 No")
    _put(sheet, top, 2, "基準の内容")
    _put(sheet, top, 3, "遵守率(%)")
    sheet.merge_cells(start_row=top, start_column=1, end_row=top + 2, end_column=1)
    sheet.merge_cells(start_row=top, start_column=2, end_row=top + 2, end_column=2)
    sheet.merge_cells(start_row=top, start_column=3, end_row=top, end_column=last_col)
    for index, label in enumerate(years):
        col = 3 + 2 * index
        _put(sheet, top + 1, col, label)
        sheet.merge_cells(start_row=top + 1, start_column=col, end_row=top + 1, end_column=col + 1)
        for offset, role in enumerate(ROLE_LABELS):
            _put(sheet, top + 2, col + offset, role)
    _style_header(sheet, top, top + 2, last_col)

    row_number = top + 3
    for row in table.rows:
        _put(sheet, row_number, 1, row.label).alignment = _center
        _put(sheet, row_number, 2, row.text).alignment = _wrap
        for offset, rate_cell in enumerate(row.cells):
            _rate(_cell(sheet, row_number, 3 + offset), rate_cell)
        for col in range(1, last_col + 1):
            cell = sheet.cell(row=row_number, column=col)
            cell.border = _border
            if col <= 2:
                cell.font = _font
        row_number += 1
    for line in table.legend:
        row_number += 1
        _put(sheet, row_number, 1, line).font = _font
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 60
    for col in range(3, last_col + 1):
        sheet.column_dimensions[get_column_letter(col)].width = 9
    _print_setup(sheet, top + 2)


def _rate(cell: Cell, rate_cell: RateCell) -> None:
    cell.font = _font
    cell.alignment = _right
    if rate_cell.rate is not None:
        cell.value = float(rate_cell.rate)
        cell.number_format = RATE_FORMAT
    else:
        cell.value = safe_text(rate_cell.text)
        cell.number_format = "@"


COUNT_LABELS = ("できている", "できていない", "該当しない")


def _counts_sheet(sheet: Worksheet, table: ComplianceTable) -> None:
    years = table.column_groups
    per_year = len(ROLE_LABELS) * len(COUNT_LABELS)
    last_col = 2 + per_year * len(years)
    top = HEADER_FIRST_ROW
    _title(sheet, table, "遵守率の元になった回答数", last_col)
    _put(sheet, top, 1, "基準 No")
    _put(sheet, top, 2, "基準の内容")
    sheet.merge_cells(start_row=top, start_column=1, end_row=top + 2, end_column=1)
    sheet.merge_cells(start_row=top, start_column=2, end_row=top + 2, end_column=2)
    for y, label in enumerate(years):
        year_col = 3 + per_year * y
        _put(sheet, top, year_col, label)
        sheet.merge_cells(
            start_row=top, start_column=year_col, end_row=top, end_column=year_col + per_year - 1
        )
        for r, role in enumerate(ROLE_LABELS):
            role_col = year_col + len(COUNT_LABELS) * r
            _put(sheet, top + 1, role_col, role)
            sheet.merge_cells(
                start_row=top + 1,
                start_column=role_col,
                end_row=top + 1,
                end_column=role_col + len(COUNT_LABELS) - 1,
            )
            for c, name in enumerate(COUNT_LABELS):
                _put(sheet, top + 2, role_col + c, name)
    _style_header(sheet, top, top + 2, last_col)
    row_number = top + 3
    for row in table.rows:
        _put(sheet, row_number, 1, row.label).alignment = _center
        _put(sheet, row_number, 2, row.text).alignment = _wrap
        col = 3
        for rate_cell in row.cells:
            for value in (rate_cell.complies, rate_cell.not_complies, rate_cell.not_applicable):
                cell = sheet.cell(row=row_number, column=col)
                cell.value = safe_text(value if value is not None else rate_cell.text)
                cell.alignment = _right
                col += 1
        for c in range(1, last_col + 1):
            sheet.cell(row=row_number, column=c).border = _border
            sheet.cell(row=row_number, column=c).font = _font
        row_number += 1
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 50
    for c in range(3, last_col + 1):
        sheet.column_dimensions[get_column_letter(c)].width = 7
    _print_setup(sheet, top + 2, landscape=True)
