"""The compliance table as plain data: what every export of section 3 of the report is made of.

The app fills it from a round's results (small groups already hidden: a hidden cell has its
text ``＊`` and no rate and no counts), and the builders in this package turn it into xlsx,
CSV, HTML and PDF. Nothing here knows Flask or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ROLE_LABELS: tuple[str, str] = ("職員", "所属長")


@dataclass(frozen=True)
class RateCell:
    """One rate as published: its text (``97.8``, ``-``, ``＊``), the number and the counts."""

    text: str
    rate: Decimal | None = None
    complies: int | None = None
    not_complies: int | None = None
    not_applicable: int | None = None


@dataclass(frozen=True)
class TableRow:
    """One standard: this year's cells (staff, chief) and last year's where compared."""

    key: str
    number: int
    text: str
    current: tuple[RateCell, RateCell]
    previous: tuple[RateCell, RateCell] | None = None
    previous_number: int | None = None

    @property
    def label(self) -> str:
        """``基準14``, as the report's first column has it."""
        return f"基準{self.number}"


@dataclass(frozen=True)
class ComplianceTable:
    """Section 3 of the report for one group (a ward, a department, a section or a round)."""

    title: str  # e.g. 令和7年度 区役所サービス基準 自己点検
    scope: str  # the group: 高津区, 総務課, 全体 ...
    year_label: str  # 令和7年度
    previous_year_label: str | None  # 令和6年度, or None when there is nothing to compare
    rows: list[TableRow]
    min_group_size: int = 5
    notes: list[str] = field(default_factory=list)

    @property
    def years(self) -> list[tuple[str, bool]]:
        """The year groups of the header, oldest first: (label, is_current)."""
        years = [(self.year_label, True)]
        if self.previous_year_label is not None:
            years.insert(0, (self.previous_year_label, False))
        return years

    def cells(self, row: TableRow) -> list[RateCell]:
        """A row's cells in column order: last year (staff, chief), then this year."""
        cells: list[RateCell] = []
        if self.previous_year_label is not None:
            cells.extend(row.previous or (RateCell("-"), RateCell("-")))
        cells.extend(row.current)
        return cells

    @property
    def legend(self) -> list[str]:
        return [
            "「-」はその区分に問われていない基準、または回答できる人がいなかった基準です。",
            f"「＊」は回答者が{self.min_group_size}人未満のため（または、ほかの欄から"
            "その値が分かってしまうため）表示していません。",
            "遵守率 = できている ÷（できている + できていない）× 100。「該当しない」は除きます。",
            *self.notes,
        ]
