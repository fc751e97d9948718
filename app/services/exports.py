"""Exports of a round's compliance table: the results turned into the plain table that the
builders in ``reports/`` write as xlsx, CSV, HTML or PDF.

The results come from ``compliance.round_results``, so every export obeys the small-group
rule: a hidden cell reaches the builders as ``＊`` with no rate and no counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from app.models import Role
from app.services.compliance import ALL, Cell, RoundResults, round_results
from app.wareki import fiscal_year_label
from reports.table import ComplianceTable, RateCell, TableRow

ExportFormat = Literal["xlsx", "csv", "csv-long", "html", "pdf"]
FORMATS: tuple[ExportFormat, ...] = ("xlsx", "csv", "csv-long", "html", "pdf")
MEDIA_TYPES: dict[ExportFormat, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "csv-long": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
SUFFIXES: dict[ExportFormat, str] = {
    "xlsx": ".xlsx",
    "csv": ".csv",
    "csv-long": "_long.csv",
    "html": ".html",
    "pdf": ".pdf",
}


def _rate_cell(cell: Cell) -> RateCell:
    return RateCell(
        cell.text, cell.rate, cell.complies, cell.not_complies, cell.not_applicable
    )


def compliance_table(results: RoundResults, group_key: str = ALL) -> ComplianceTable:
    """The report's table of one visible group of a round (ResultsError if not visible)."""
    group = results.group(group_key)
    rows = []
    for row in results.table(group_key):
        previous = None
        if row.previous is not None:
            previous = (_rate_cell(row.previous[Role.STAFF]), _rate_cell(row.previous[Role.CHIEF]))
        rows.append(
            TableRow(
                key=row.standard.key,
                number=row.standard.number,
                text=row.standard.text,
                current=(_rate_cell(row.current[Role.STAFF]), _rate_cell(row.current[Role.CHIEF])),
                previous=previous,
                previous_number=row.previous_number,
            )
        )
    compared = results.previous is not None and results.previous_group_key(group_key) is not None
    notes = [
        f"基準{row.number}は前年度の基準{row.previous_number}です。"
        for row in rows
        if row.previous is not None
        and row.previous_number is not None
        and row.previous_number != row.number
    ]
    return ComplianceTable(
        title=results.round.title,
        scope=group.name,
        year_label=fiscal_year_label(results.round.fiscal_year),
        previous_year_label=(
            fiscal_year_label(results.previous.fiscal_year)
            if compared and results.previous is not None
            else None
        ),
        rows=rows,
        min_group_size=results.min_group_size,
        notes=notes,
    )


def round_table(
    round_id: int, ward_ids: Iterable[int] | None = None, group_key: str = ALL
) -> ComplianceTable:
    """The table of a round for a reader who may see ``ward_ids`` (None: every ward)."""
    return compliance_table(round_results(round_id, ward_ids), group_key)


def export_filename(table: ComplianceTable, round_id: int, fmt: ExportFormat) -> str:
    """``遵守率_令和7年度_高津区_調査12.xlsx``."""
    scope = "".join(ch for ch in table.scope if ch not in '\\/:*?"<>|')
    return f"遵守率_{table.year_label}_{scope}_調査{round_id}{SUFFIXES[fmt]}"
