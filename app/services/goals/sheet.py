"""Goals and results imported from a sheet (.xlsx or .csv, 中原区's FY2022 取組シート layout).

``read_goal_sheet`` / ``read_upload`` read and check the sheet's lines; ``import_goals`` gives each
section or working team it names exactly the sheet's goals for the year, all or nothing
(docs/goals.md). Nothing commits.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from app.extensions import db
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import Person, Section, ServiceGoal, Ward, WorkingTeam
from app.services import tabular
from app.services.goals.goals import (
    MAX_GOALS,
    GoalInput,
    GoalsError,
    apply_goals,
    check_goals,
    clean_text,
    is_locked,
    locked_message,
    normalize_scene,
    ward_goals,
    ward_sections,
    ward_teams,
)
from app.services.governance import audit

IMPORT_COLUMNS: dict[str, str] = {
    "owner": "部署名",
    "position": "No",
    "scene": "場面",
    "goal": "目標",
    "result": "実施結果",
}


_IMPORT_ALIASES: dict[str, str] = {
    "部署名": "owner",
    "部署": "owner",
    "課": "owner",
    "no": "position",
    "番号": "position",
    "場面": "scene",
    "目標": "goal",
    "目標及び具体的な取組内容": "goal",
    "実施結果": "result",
    "実施結果及び目標の達成度": "result",
    "結果": "result",
}


IMPORT_REQUIRED: tuple[str, ...] = ("owner", "position", "scene", "goal")


@dataclass(frozen=True)
class GoalRow:
    """One line of the sheet: ``department`` is the line above the name in a 部署名 cell such
    as 「まちづくり推進部\\n総務課」 (中原区's FY2022 取組シート), else None."""

    line: int
    owner: str
    department: str | None
    position: int
    scene: str
    goal: str
    result: str | None
    problems: tuple[str, ...] = ()  # what is wrong with the line itself


CHANGE_KINDS = ("replaced", "added", "deleted", "unchanged")


@dataclass(frozen=True)
class GoalChange:
    """What an import does to one goal of a section or team named in the sheet: ``replaced``
    (the same number with other text), ``added``, ``deleted`` (a number the sheet lacks) or
    ``unchanged``."""

    owner: str
    position: int
    kind: str


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    fiscal_year: int
    ward: str
    rows: int
    sections: int
    teams: int
    changes: tuple[GoalChange, ...] = ()

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def lines(self, dry_run: bool = False) -> list[str]:
        """A summary line and the counts; a dry run also lists every goal it would change."""
        names = dict(
            ward=self.ward,
            year=fiscal_year_label(self.fiscal_year),
            rows=self.rows,
            sections=self.sections,
            teams=self.teams,
        )
        counts = _(
            "置き換え %(replaced)s 件・追加 %(added)s 件・削除 %(deleted)s 件・"
            "変更なし %(unchanged)s 件",
            **{kind: self.count(kind) for kind in CHANGE_KINDS},
        )
        if not dry_run:
            return [
                _(
                    "%(ward)s %(year)s: 目標 %(rows)s 件"
                    "（課 %(sections)s・ワーキングチーム %(teams)s）を取り込みました。",
                    **names,
                ),
                counts,
            ]
        labels = {"replaced": _("置き換え"), "added": _("追加"), "deleted": _("削除")}
        lines = [
            _(
                "%(ward)s %(year)s: シートの目標 %(rows)s 件"
                "（課 %(sections)s・ワーキングチーム %(teams)s）を確認しました。"
                "取り込むと、シートに載った課・チームの目標はシートの内容に置き換わり、"
                "シートにない番号の目標は削除されます。",
                **names,
            ),
            counts,
        ]
        lines += [
            f"  {labels[c.kind]}: {c.owner} No {c.position}"
            for c in self.changes
            if c.kind in labels
        ]
        return lines


def _changes(
    owner: str, existing: Sequence[ServiceGoal], inputs: Sequence[GoalInput]
) -> list[GoalChange]:
    """What ``apply_goals`` does to one owner's goals, goal by goal, in number order."""
    by_position = {goal.position: goal for goal in existing}
    changes = []
    for item in inputs:
        stored = by_position.pop(item.position, None)
        values = (
            normalize_scene(item.scene), clean_text(item.goal), clean_text(item.result) or None
        )
        if stored is None:
            kind = "added"
        elif (stored.scene, stored.goal, stored.result) != values:
            kind = "replaced"
        else:
            kind = "unchanged"
        changes.append(GoalChange(owner, item.position, kind))
    changes += [GoalChange(owner, position, "deleted") for position in by_position]
    return sorted(changes, key=lambda change: change.position)


def read_goal_sheet(path: Path) -> list[GoalRow]:
    """Read a goal sheet (.xlsx, first sheet; or .csv) with the columns 部署名, No, 場面, 目標 and
    実施結果 (optional). ``GoalsError`` when the file or its header cannot be read; each line's
    own problems travel with the line, so that ``import_goals`` names every bad line at once."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise GoalsError(
            [
                _(
                    "ファイルの形式が違います: %(name)s（.xlsx または .csv にしてください）",
                    name=path.name,
                )
            ]
        )
    try:
        table = tabular.read_xlsx(path) if suffix == ".xlsx" else tabular.read_csv(path)
    except tabular.TabularError as error:
        raise GoalsError(error.errors) from error
    return _parse_sheet(table)


def read_upload(filename: str, data: bytes) -> list[GoalRow]:
    """``read_goal_sheet`` for an uploaded file's name and bytes."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise GoalsError([_("ファイルの形式が違います（.xlsx または .csv にしてください）")])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"sheet{suffix}"
        path.write_bytes(data)
        return read_goal_sheet(path)


# Longest piece of a cell quoted back in a message: an error page must not echo a huge cell.
SHOWN_MAX_LENGTH = 40


def _shown(value: str) -> str:
    """A cell's text as quoted in a message, cut at ``SHOWN_MAX_LENGTH`` characters."""
    return value if len(value) <= SHOWN_MAX_LENGTH else value[: SHOWN_MAX_LENGTH - 1] + "…"


def _header(cell: str) -> str | None:
    key = re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", cell)).casefold()
    return _IMPORT_ALIASES.get(key)


def _parse_sheet(table: Sequence[tuple[int, list[str]]]) -> list[GoalRow]:
    """The header, then one GoalRow per non-blank line; ``GoalsError`` when the sheet is empty,
    its header lacks a column or has one twice, or no line follows it."""
    records = [(line, cells) for line, cells in table if any(c.strip() for c in cells)]
    if not records:
        raise GoalsError(
            [_("ファイルが空です（1行目に見出し、2行目から目標の行が必要です）")]
        )
    header_line, header = records[0]
    columns = _sheet_columns(header_line, header)
    rows = [_goal_row(line, cells, columns) for line, cells in records[1:]]
    if not rows:
        raise GoalsError(
            [
                _(
                    "目標の行がありません（%(line)s行目の見出しの後に1目標1行で書きます）",
                    line=header_line,
                )
            ]
        )
    return rows


def _sheet_columns(header_line: int, header: list[str]) -> dict[str, int]:
    """Column key -> its index in the header; ``GoalsError`` naming every column twice and
    every required column missing."""
    columns: dict[str, int] = {}
    errors: list[str] = []
    for index, title in enumerate(header):
        key = _header(title)
        if key is None:
            continue
        if key in columns:
            errors.append(
                _(
                    "%(line)s行目: 列「%(title)s」が2つあります",
                    line=header_line,
                    title=_shown(title.strip()),
                )
            )
        else:
            columns[key] = index
    missing = [IMPORT_COLUMNS[key] for key in IMPORT_REQUIRED if key not in columns]
    if missing:
        errors.append(
            _(
                "%(line)s行目: 必要な列がありません: %(columns)s",
                line=header_line,
                columns="、".join(missing),
            )
        )
    if errors:
        raise GoalsError(errors)
    return columns


def _goal_row(line: int, cells: list[str], columns: dict[str, int]) -> GoalRow:
    """One line of the sheet, with its own problems (no owner, a bad No, a goal's checks)."""

    def cell(key: str) -> str:
        index = columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    problems: list[str] = []
    names = [n.strip() for n in clean_text(cell("owner")).split("\n") if n.strip()]
    owner = unicodedata.normalize("NFKC", names[-1]) if names else ""
    department = unicodedata.normalize("NFKC", names[0]) if len(names) > 1 else None
    if not owner:
        problems.append(_("部署名がありません"))
    number_text = unicodedata.normalize("NFKC", cell("position"))
    position = int(number_text) if number_text.isdigit() else 0
    if not 1 <= position <= MAX_GOALS:
        problems.append(
            _(
                "No「%(n)s」は1から%(max)sの数字にしてください",
                n=_shown(number_text),
                max=MAX_GOALS,
            )
        )
    item = GoalInput(min(max(position, 1), MAX_GOALS), cell("scene"), cell("goal"), cell("result"))
    problems += [m.split(": ", 1)[-1] for m in check_goals([item])]
    return GoalRow(
        line=line,
        owner=owner,
        department=department,
        position=position,
        scene=normalize_scene(item.scene),
        goal=clean_text(item.goal),
        result=clean_text(item.result) or None,
        problems=tuple(problems),
    )


# ("s", section id) or ("t", working team id): whose goals a line of the sheet sets
_OwnerKey = tuple[str, int]


@dataclass(frozen=True)
class _SheetOwners:
    """Who a goal sheet may name in a ward and year: its sections (with their department's
    name) and its working teams, by NFKC name."""

    ward: Ward
    fiscal_year: int
    sections: dict[str, tuple[Section, str | None]]
    teams: dict[str, WorkingTeam]


def import_goals(
    rows: Sequence[GoalRow], ward_id: int, fiscal_year: int, by: Person | None = None
) -> ImportSummary:
    """Write the sheet's goals, all or nothing: each section or working team named in the sheet
    gets exactly the sheet's goals for the year (others are not touched). ``GoalsError`` names
    every bad line: unknown section or team, wrong department, the same 部署名 and No twice,
    a locked year."""
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        raise GoalsError([_("区が見つかりません。")])
    errors: list[tuple[int, str]] = []
    if is_locked(ward_id, fiscal_year):
        errors.append((0, locked_message(fiscal_year)))
    owners = _SheetOwners(
        ward,
        fiscal_year,
        {unicodedata.normalize("NFKC", s.name): (s, dept) for s, dept in ward_sections(ward_id)},
        {unicodedata.normalize("NFKC", t.name): t for t in ward_teams(ward_id, fiscal_year)},
    )
    wanted, owner_names = _wanted_goals(rows, owners, errors)
    if errors:
        raise GoalsError([m for _line, m in sorted(errors, key=lambda e: e[0])])
    changes = _write_goals(wanted, owner_names, ward_id, fiscal_year, by)
    db.session.flush()
    return ImportSummary(
        fiscal_year=fiscal_year,
        ward=ward.name,
        rows=len(rows),
        sections=sum(1 for kind, _ in wanted if kind == "s"),
        teams=sum(1 for kind, _ in wanted if kind == "t"),
        changes=tuple(changes),
    )


def log_import(summary: ImportSummary, ward_id: int, source: str, by: Person | None) -> None:
    """The audit row of an import that is kept (``goals.import``; ``by`` None: the command
    line): the file's name and what it changed."""
    audit.record("goals.import", actor=by, target_type="year_plan",
                 target_id=f"{ward_id}:{summary.fiscal_year}", ward_id=ward_id,
                 after={"file": source, "summary": summary.lines()})


def _wanted_goals(
    rows: Sequence[GoalRow], owners: _SheetOwners, errors: list[tuple[int, str]]
) -> tuple[dict[_OwnerKey, list[GoalInput]], dict[_OwnerKey, str]]:
    """The goals the sheet gives each section or team, and the name it gives them; every bad
    line's problems are added to ``errors`` with its line."""
    seen: dict[tuple[str, int], int] = {}
    wanted: dict[_OwnerKey, list[GoalInput]] = {}
    owner_names: dict[_OwnerKey, str] = {}
    for row in rows:
        at = _("%(line)s行目: ", line=row.line)
        errors.extend((row.line, at + problem) for problem in row.problems)
        if not row.owner:
            continue
        key = _owner_key(row, owners, at, errors)
        if key is None or row.problems:
            continue
        first = seen.setdefault((row.owner, row.position), row.line)
        if first != row.line:
            errors.append(
                (
                    row.line,
                    at
                    + _(
                        "%(owner)s の No %(n)s は %(first)s行目と重複しています",
                        owner=_shown(row.owner),
                        n=row.position,
                        first=first,
                    ),
                )
            )
            continue
        wanted.setdefault(key, []).append(
            GoalInput(row.position, row.scene, row.goal, row.result)
        )
        owner_names.setdefault(key, row.owner)
    return wanted, owner_names


def _owner_key(
    row: GoalRow, owners: _SheetOwners, at: str, errors: list[tuple[int, str]]
) -> _OwnerKey | None:
    """The section or team a line names (None, with an error, when the ward has neither); a
    section's department, when the line gives one, must be its own (else an error)."""
    if row.owner in owners.sections:
        section, dept = owners.sections[row.owner]
        if row.department and unicodedata.normalize("NFKC", dept or "") != row.department:
            errors.append(
                (
                    row.line,
                    at
                    + _(
                        "%(owner)s の部は「%(department)s」です（シートでは「%(sheet)s」）",
                        owner=_shown(row.owner),
                        department=dept or _("なし（区の直下）"),
                        sheet=_shown(row.department or ""),
                    ),
                )
            )
        return ("s", section.id)
    if row.owner in owners.teams:
        return ("t", owners.teams[row.owner].id)
    errors.append(
        (
            row.line,
            at
            + _(
                "部署名「%(owner)s」は%(ward)sの課にも%(year)sのワーキングチームにも"
                "ありません",
                owner=_shown(row.owner),
                ward=owners.ward.name,
                year=fiscal_year_label(owners.fiscal_year),
            ),
        )
    )
    return None


def _write_goals(
    wanted: dict[_OwnerKey, list[GoalInput]],
    owner_names: dict[_OwnerKey, str],
    ward_id: int,
    fiscal_year: int,
    by: Person | None,
) -> list[GoalChange]:
    """Give each section or team of the sheet exactly its goals; return what changed."""
    existing: dict[_OwnerKey, list[ServiceGoal]] = {}
    for goal in ward_goals(ward_id, fiscal_year):
        owner = ("s", goal.section_id) if goal.section_id else ("t", goal.working_team_id or 0)
        existing.setdefault(owner, []).append(goal)
    changes: list[GoalChange] = []
    for (kind, owner_id), inputs in wanted.items():
        current = existing.get((kind, owner_id), [])
        changes += _changes(owner_names[(kind, owner_id)], current, inputs)
        apply_goals(
            current,
            inputs,
            by,
            fiscal_year=fiscal_year,
            section_id=owner_id if kind == "s" else None,
            working_team_id=owner_id if kind == "t" else None,
        )
    return changes
