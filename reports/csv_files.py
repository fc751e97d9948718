"""The compliance table as CSV for Excel on Japanese Windows: UTF-8 with a byte order mark.

Two shapes: ``wide``, the report's columns (基準 No, 基準の内容, then each year × role), and
``long``, one row per standard × column group (year) × role with the counts behind the rate.
Rows are yielded one at a time so that a web response can stream them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from reports.cells import safe_text
from reports.table import ROLE_LABELS, ComplianceTable

CsvShape = Literal["wide", "long"]
BOM = "\ufeff"


def _line(values: Sequence[object]) -> str:
    """One CSV line; text goes through ``safe_text`` so that Excel never runs it as a formula."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(
        ["" if v is None else safe_text(v) for v in values]
    )
    return buffer.getvalue()


def compliance_csv(table: ComplianceTable, shape: CsvShape = "wide") -> Iterator[str]:
    """The lines of the CSV, the first one starting with the byte order mark."""
    if shape == "wide":
        yield BOM + _line(
            ["基準 No", "基準の内容"]
            + [f"{label} {role}" for label in table.column_groups for role in ROLE_LABELS]
        )
        for row in table.rows:
            yield _line([row.label, row.text] + [cell.text for cell in row.cells])
    elif shape == "long":
        yield BOM + _line(
            ["基準 No", "基準キー", "基準の内容", table.group_kind, "区分", "遵守率(%)",
             "できている", "できていない", "該当しない"]
        )
        for row in table.rows:
            for label, pair in zip(table.column_groups, row.groups, strict=True):
                for role, cell in zip(ROLE_LABELS, pair, strict=True):
                    yield _line(
                        [row.label, row.key, row.text, label, role, cell.text,
                         cell.complies, cell.not_complies, cell.not_applicable]
                    )
    else:
        raise ValueError(f"unknown CSV shape: {shape!r}")


def rows_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Any table as CSV lines (the header first, with the byte order mark), each cell made
    formula-safe: for logs and lists that are not the compliance table."""
    yield BOM + _line(header)
    for row in rows:
        yield _line(row)
