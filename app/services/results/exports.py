"""Exports of a round's compliance table: the results turned into the plain table that the
builders in ``reports/`` write as xlsx, CSV, HTML or PDF.

The results come from ``compliance.final_results``, so every export obeys the small-group
rule: a hidden cell reaches the builders as ``＊`` with no rate and no counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import Assignment, Person, Role, Round
from app.services.results.compliance import (
    ALL,
    Cell,
    ResultsError,
    RoundResults,
    final_results,
    std_column,
)
from app.wareki import fiscal_year_label
from reports.table import NO_CELL, ComplianceTable, RateCell, TableRow

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


def _pair(cells: Mapping[Role, Cell]) -> tuple[RateCell, RateCell]:
    return (_rate_cell(cells[Role.STAFF]), _rate_cell(cells[Role.CHIEF]))


def compliance_table(results: RoundResults, group_key: str = ALL) -> ComplianceTable:
    """The report's table of one visible group of a round: last year beside this year
    (ResultsError if the group is not visible)."""
    group = results.group(group_key)
    compared = results.compared(group_key)
    imported = compared and results.previous is None
    rows = []
    notes = []
    for row in results.table(group_key):
        groups: tuple[tuple[RateCell, RateCell], ...] = (_pair(row.current),)
        if compared:
            groups = ((_pair(row.previous) if row.previous else (NO_CELL, NO_CELL)), *groups)
        rows.append(TableRow(row.standard.key, row.standard.number, row.standard.text, groups))
        if compared and row.renumbered:
            notes.append(f"基準{row.standard.number}は前年度の基準{row.previous_number}です。")
    labels: tuple[str, ...] = (fiscal_year_label(results.round.fiscal_year),)
    if compared:
        before = fiscal_year_label(results.previous_year)
        labels = (f"{before}（公表値）" if imported else before, *labels)
    if imported:
        notes.append(
            f"{fiscal_year_label(results.previous_year)}の値は、公表された遵守率の表から"
            "取り込んだもの（取込値）です。件数はありません。"
        )
    return ComplianceTable(
        title=results.round.title,
        heading="サービス基準の遵守状況",
        scope=group.name,
        column_groups=labels,
        rows=rows,
        min_group_size=results.min_group_size,
        notes=notes,
    )


def section_sheet(results: RoundResults, section_key: str) -> ComplianceTable:
    """A chief's sheet: a section's rates beside its ward's, standard by standard.

    The section's cells obey the small-group rule like every other; a section of fewer than
    the minimum shows only its section-level answers.
    """
    results.require_final()
    section = results.group(section_key)
    if section.level != "section":
        raise ResultsError(_("課を選んでください。"))
    ward_key = f"ward:{section.ward_id}"
    ward_name = section.ward_name or ""
    rows = [
        TableRow(
            standard.key,
            standard.number,
            standard.text,
            (
                _pair({role: results.cell(section_key, std_column(standard.key), role)
                       for role in (Role.STAFF, Role.CHIEF)}),
                _pair({role: results.cell(ward_key, std_column(standard.key), role)
                       for role in (Role.STAFF, Role.CHIEF)}),
            ),
        )
        for standard in results.standards
    ]
    return ComplianceTable(
        title=results.round.title,
        heading="課の遵守率と区全体の比較",
        scope=section.name,
        column_groups=(section.name, f"{ward_name}全体"),
        rows=rows,
        group_kind="集計単位",
        min_group_size=results.min_group_size,
    )


def chief_section_key(round_id: int, person: Person) -> str | None:
    """The group key of the section this person is chief of in the round's fiscal year."""
    section_id = db.session.scalar(
        sa.select(Assignment.section_id)
        .join(Round, Round.fiscal_year == Assignment.fiscal_year)
        .where(
            Round.id == round_id,
            Assignment.person_id == person.id,
            Assignment.role == Role.CHIEF,
        )
    )
    return f"section:{section_id}" if section_id is not None else None


def round_table(
    round_id: int, ward_ids: Iterable[int] | None = None, group_key: str = ALL
) -> ComplianceTable:
    """The table of a round for a reader who may see ``ward_ids`` (None: every ward)."""
    return compliance_table(final_results(round_id, ward_ids), group_key)


def export_filename(table: ComplianceTable, round_id: int, fmt: ExportFormat) -> str:
    """``遵守率_高津区_調査12.xlsx`` (a chief's sheet: ``課の遵守率_総務課_調査12.xlsx``)."""
    scope = "".join(ch for ch in table.scope if ch not in '\\/:*?"<>|')
    prefix = "遵守率" if table.group_kind == "年度" else "課の遵守率"
    return f"{prefix}_{scope}_調査{round_id}{SUFFIXES[fmt]}"
