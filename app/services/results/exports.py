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
from app.models import Assignment, Person, Role, Round, Ward
from app.services.results.compliance import (
    ALL,
    Cell,
    ResultsError,
    RoundResults,
    final_results,
    std_column,
)
from app.services.results.download_names import (
    CITY,
    DownloadKind,
    DownloadName,
    NamePart,
    download_name,
    ward_part,
    wards_part,
)
from app.services.rounds.audience import chief_in_year
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
    "csv-long": ".csv",
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
        .where(
            Round.id == round_id,
            Assignment.person_id == person.id,
            chief_in_year(Round.fiscal_year),
        )
    )
    return f"section:{section_id}" if section_id is not None else None


def round_table(
    round_id: int, ward_ids: Iterable[int] | None = None, group_key: str = ALL
) -> ComplianceTable:
    """The table of a round for a reader who may see ``ward_ids`` (None: every ward)."""
    return compliance_table(final_results(round_id, ward_ids), group_key)


def group_scope(results: RoundResults, group_key: str) -> list[NamePart]:
    """The scope of a download of one group, outermost first: the ward (several wards, or the
    city when the round covers every ward), then the department or section within it."""
    group = results.group(group_key)
    info = results.round
    if group.level == "all":
        wards = list(zip(info.ward_ids, info.ward_names, strict=True))
        if len(wards) == 1:
            return [ward_part(*wards[0])]
        every = db.session.scalar(sa.select(sa.func.count()).select_from(Ward))
        return [CITY if len(wards) == every else wards_part(wards)]
    unit = NamePart(group.name, group.key.replace(":", "-"))
    if group.ward_id is None:  # not so: a ward, department or section has its ward
        return [unit]
    ward = ward_part(group.ward_id, group.ward_name or group.name)
    return [ward] if group.level == "ward" else [ward, unit]


def export_name(results: RoundResults, group_key: str, fmt: ExportFormat) -> DownloadName:
    """The file name of a group's table (or a section's chief's sheet):
    ``令和7年度_高津区_遵守率.xlsx``, ``令和7年度_高津区_総務課_遵守率.xlsx``."""
    kind: DownloadKind = "compliance-long" if fmt == "csv-long" else "compliance"
    return download_name(
        results.round.fiscal_year, group_scope(results, group_key), kind, SUFFIXES[fmt]
    )
