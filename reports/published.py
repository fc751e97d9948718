"""Reading a published compliance table back: the layout Kijun's own exports write
(``reports/xlsx.py`` sheet 「遵守率」, ``reports/csv_files.py`` wide CSV), as a ward keeps last
year's table of its annual report (seed 000, section 3).

The file holds one or more column groups (fiscal years, e.g. 令和6年度 and 令和7年度), each split
into 職員 and 所属長. Every data row is read with its line number (the CSV line, or the sheet's
row), so that whoever imports it can be told which line did not fit. Nothing here knows the
database or Flask: the app matches the rows to a catalogue (``app/services/results/published.py``).

Problems are given as codes with their line, for the app to put into words:

- ``no_header``: no header row (「基準 No」, 「基準の内容」, then the years' 職員 / 所属長);
- ``bad_rate``: a cell that is not a rate (0-100, at most one decimal), ``-`` or ``＊``;
- ``no_number``: a row whose 基準 No is empty or not a number (seed 000 prints an unnumbered
  older wording under No.23 with "-" everywhere).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reports.table import ROLE_LABELS

NUMBER_HEADER = "基準 No"
TEXT_HEADER = "基準の内容"
_LABEL = re.compile(r"^(?:基準)?\s*(\d+)$")
_NOT_ASKED = {"-", "ー", "―", "‐", ""}
_HIDDEN = {"*", "＊"}


@dataclass(frozen=True)
class PublishedCell:
    """One cell as printed: a rate, "-" (not asked / nobody could answer) or ＊ (hidden)."""

    rate: Decimal | None = None
    hidden: bool = False

    @property
    def text(self) -> str:
        if self.hidden:
            return "＊"
        return "-" if self.rate is None else f"{self.rate:.1f}"


@dataclass(frozen=True)
class PublishedRow:
    """A data row: its line, the 基準 No as printed and read, the text and, per column group,
    the (職員, 所属長) cells."""

    line: int
    label: str
    number: int
    text: str
    groups: tuple[tuple[PublishedCell, PublishedCell], ...]


@dataclass(frozen=True)
class Problem:
    line: int
    code: str  # no_header, bad_rate, no_number
    detail: str = ""


@dataclass(frozen=True)
class PublishedFile:
    """What a file holds: its column groups' labels, its rows, and the rows that could not be
    read (a ``bad_rate`` problem makes the whole file unusable; the app refuses it)."""

    groups: tuple[str, ...]
    rows: tuple[PublishedRow, ...]
    problems: tuple[Problem, ...]

    @property
    def unreadable(self) -> bool:
        return any(p.code in ("no_header", "bad_rate") for p in self.problems)


def _clean(value: Any) -> str:
    return "" if value is None else unicodedata.normalize("NFKC", str(value)).strip()


def parse_rate(value: Any) -> PublishedCell | None:
    """A cell's value as a published cell; None when it is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = f"{value:.10g}"
    else:
        text = _clean(value)
    if text in _NOT_ASKED:
        return PublishedCell()
    if text in _HIDDEN:
        return PublishedCell(hidden=True)
    text = text.removesuffix("%").strip()
    try:
        rate = Decimal(text)
    except InvalidOperation:
        return None
    if not rate.is_finite() or rate < 0 or rate > 100 or rate != rate.quantize(Decimal("0.1")):
        return None
    return PublishedCell(rate.quantize(Decimal("0.1")))


def _number(label: str) -> int | None:
    match = _LABEL.match(label)
    return int(match.group(1)) if match else None


def _read_rows(
    lines: list[tuple[int, list[Any]]], groups: tuple[str, ...]
) -> tuple[list[PublishedRow], list[Problem]]:
    rows, problems = [], []
    for line, values in lines:
        values = list(values) + [None] * (2 + 2 * len(groups) - len(values))
        label, text = _clean(values[0]), _clean(values[1])
        cells: list[PublishedCell] = []
        bad = []
        for index, value in enumerate(values[2 : 2 + 2 * len(groups)]):
            cell = parse_rate(value)
            if cell is None:
                group, role = groups[index // 2], ROLE_LABELS[index % 2]
                bad.append(f"{group} {role}: {_clean(value)}")
                cell = PublishedCell()
            cells.append(cell)
        if bad:
            problems.append(Problem(line, "bad_rate", "、".join(bad)))
            continue
        number = _number(label)
        if number is None:
            problems.append(Problem(line, "no_number", label))
            continue
        pairs = tuple((cells[i], cells[i + 1]) for i in range(0, len(cells), 2))
        rows.append(PublishedRow(line, label, number, text, pairs))
    return rows, problems


def _csv_groups(header: list[str]) -> tuple[str, ...] | None:
    """The column groups of a wide CSV header: 基準 No, 基準の内容, then 「<group> 職員」,
    「<group> 所属長」 for each group."""
    names = [_clean(h) for h in header]
    if len(names) < 4 or names[0] != NUMBER_HEADER or names[1] != TEXT_HEADER:
        return None
    rest = names[2:]
    if len(rest) % 2:
        return None
    groups = []
    for staff, chief in zip(rest[::2], rest[1::2], strict=True):
        group_staff, _sep, role_staff = staff.rpartition(" ")
        group_chief, _sep, role_chief = chief.rpartition(" ")
        if (role_staff, role_chief) != ROLE_LABELS or group_staff != group_chief:
            return None
        groups.append(group_staff)
    return tuple(groups)


def parse_csv(records: Sequence[tuple[int, list[str]]]) -> PublishedFile:
    """A wide CSV as Kijun exports it, given as its records with their line numbers (the app
    reads the file: ``app.services.tabular.read_csv``)."""
    records = [(number, values) for number, values in records if any(_clean(v) for v in values)]
    if not records:
        return PublishedFile((), (), (Problem(1, "no_header"),))
    first_line, header = records[0]
    groups = _csv_groups(header)
    if groups is None:
        return PublishedFile((), (), (Problem(first_line, "no_header"),))
    rows, problems = _read_rows(list(records[1:]), groups)
    return PublishedFile(groups, tuple(rows), tuple(problems))


def parse_sheet(rows: Sequence[tuple[int, Sequence[Any]]]) -> PublishedFile:
    """The 「遵守率」 sheet of a workbook as Kijun exports it, given as its rows of values with
    their row numbers (the app reads the file: ``app.services.tabular.read_xlsx_values``): a
    header of three rows (基準 No | 基準の内容 | 遵守率(%), then the groups, then 職員 / 所属長),
    the rows, and after an empty row the legend, which is not read."""
    width = max((len(values) for _number, values in rows), default=0)
    table = [list(values) + [None] * (width - len(values)) for _number, values in rows]
    top = next(
        (i for i, r in enumerate(table) if r and _clean(r[0]) == NUMBER_HEADER), None
    )
    if top is None or top + 2 >= len(table):
        return PublishedFile((), (), (Problem(1, "no_header"),))
    groups = _sheet_groups(table[top + 1], table[top + 2])
    if groups is None:
        return PublishedFile((), (), (Problem(top + 3, "no_header"),))
    if not groups or _clean(table[top][1]) != TEXT_HEADER:
        return PublishedFile((), (), (Problem(top + 1, "no_header"),))
    lines = []
    for index in range(top + 3, len(table)):
        values = table[index]
        if not any(_clean(v) for v in values):
            break  # the legend follows an empty row
        lines.append((index + 1, values))
    read, problems = _read_rows(lines, groups)
    return PublishedFile(groups, tuple(read), tuple(problems))


def _sheet_groups(group_row: list[Any], role_row: list[Any]) -> tuple[str, ...] | None:
    """The column groups named in a sheet's second header row, each over 職員 and 所属長 in
    the third; None when a group's roles are not those two."""
    groups: list[str] = []
    column = 2
    while column + 1 < len(group_row) and _clean(group_row[column]):
        roles = (_clean(role_row[column]), _clean(role_row[column + 1]))
        if roles != ROLE_LABELS:
            return None
        groups.append(_clean(group_row[column]))
        column += 2
    return tuple(groups)
