"""The compliance table as plain data: what every export of section 3 of the report is made of.

The app fills it from a round's results (small groups already hidden: a hidden cell has its
text ``＊`` and no rate and no counts), and the builders in this package turn it into xlsx,
CSV, HTML and PDF. Nothing here knows Flask or the database.

A table has column groups, each split into 職員 and 所属長: in the report, last year and this
year; in a chief's sheet, the section and its ward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from reports.privacy import DEFAULT_MIN_GROUP_SIZE

ROLE_LABELS: tuple[str, str] = ("職員", "所属長")


@dataclass(frozen=True)
class RateCell:
    """One rate as published: its text (``97.8``, ``-``, ``＊``), the number and the counts."""

    text: str
    rate: Decimal | None = None
    complies: int | None = None
    not_complies: int | None = None
    not_applicable: int | None = None


NO_CELL = RateCell("-")


@dataclass(frozen=True)
class TableRow:
    """One standard: a (職員, 所属長) pair of cells per column group."""

    key: str
    number: int
    text: str
    groups: tuple[tuple[RateCell, RateCell], ...]

    @property
    def label(self) -> str:
        """``基準14``, as the report's first column has it."""
        return f"基準{self.number}"

    @property
    def cells(self) -> list[RateCell]:
        """The row's cells in column order."""
        return [cell for pair in self.groups for cell in pair]


@dataclass(frozen=True)
class ComplianceTable:
    """Section 3 of the report, or a chief's sheet, for one group of people."""

    title: str  # e.g. 令和7年度 区役所サービス基準 自己点検
    heading: str  # e.g. サービス基準の遵守状況
    scope: str  # the group: 高津区, 総務課, 全体 ...
    column_groups: tuple[str, ...]  # e.g. (令和6年度, 令和7年度) or (総務課, 高津区)
    rows: list[TableRow]
    group_kind: str = "年度"  # what the column groups are, for the long CSV's header
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    notes: list[str] = field(default_factory=list)

    @property
    def legend(self) -> list[str]:
        return [
            "「-」はその区分に問われていない基準、または回答できる人がいなかった基準です。",
            f"「＊」は回答者が{self.min_group_size}人未満のため（または、ほかの欄から"
            "その値が分かってしまうため）表示していません。",
            "遵守率 = できている ÷（できている + できていない）× 100。「該当しない」は除きます。",
            *self.notes,
        ]
