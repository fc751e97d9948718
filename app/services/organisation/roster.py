"""Roster import: read one fiscal year's roster (CSV or Excel), check all of it, then write it.

The file lists every person of one or more wards with their section and role for the year.
Reading (``read_roster``) checks each line; importing (``import_roster``) checks the lines
against each other and then, only when there is no error at all, creates the wards, departments
and sections it names, adds or updates the people and sets their assignment for the fiscal year.
Assignments of other years are never touched, so past results keep the section and role each
person had then.

The import is written for large rosters (a whole city, ~20,000 people): it reads what exists in
a handful of queries and writes with ``executemany``, so the number of SQL statements does not
grow with the number of people (lookups by employee id go in chunks of ``LOOKUP_CHUNK``).
As every service here, it never commits: the caller commits, or rolls back on ``RosterError``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from email_validator import EmailNotValidError, validate_email

from app.extensions import db, refresh_statistics
from app.models import (
    SECTION_KINDS,
    Assignment,
    Department,
    Person,
    Response,
    Role,
    Round,
    Section,
    SectionKind,
    Ward,
    section_kind_link,
)
from app.services import tabular
from app.services.errors import DomainError
from app.wareki import fiscal_year_label

# Employee ids per ``IN (...)`` lookup: far below SQLite's 32,766 and PostgreSQL's 65,535
# parameters, so 20,000 people take 4 lookups.
LOOKUP_CHUNK = 5000

# Canonical column -> its Japanese header (also used to name columns in messages).
COLUMNS: dict[str, str] = {
    "employee_id": "職員番号",
    "name": "氏名",
    "email": "メールアドレス",
    "ward": "区",
    "department": "部",
    "section": "課",
    "role": "役割",
    "section_kinds": "課の種類",
}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "employee_id",
    "name",
    "email",
    "ward",
    "department",
    "section",
    "role",
)
# A few other spellings people write in headers.
_EXTRA_HEADERS: dict[str, str] = {"名前": "name", "メール": "email", "種類": "section_kinds"}

ROLE_VALUES: dict[str, Role] = {
    "職員": Role.STAFF,
    "staff": Role.STAFF,
    "所属長": Role.CHIEF,
    "chief": Role.CHIEF,
}
ROLE_LABELS: dict[Role, str] = {Role.STAFF: "職員", Role.CHIEF: "所属長"}
_ROLE_HINT = "（職員 / 所属長 または staff / chief）"
_KIND_HINT = "（" + " / ".join(SECTION_KINDS) + "）"
_KIND_SEPARATORS = re.compile(r"[;；、]")


def _column_length(column: Any) -> int:
    length = getattr(column.type, "length", None)
    assert isinstance(length, int)  # noqa: S101 - every String column here has a length
    return length


# Longest values the database takes, from the models.
MAX_LENGTHS: dict[str, int] = {
    "employee_id": _column_length(Person.__table__.c.employee_id),
    "name": _column_length(Person.__table__.c.name),
    "email": _column_length(Person.__table__.c.email),
    "ward": _column_length(Ward.__table__.c.name),
    "department": _column_length(Department.__table__.c.name),
    "section": _column_length(Section.__table__.c.name),
}


class RosterError(DomainError):
    """The roster cannot be imported; ``errors`` says why, one Japanese message per problem."""


@dataclass(frozen=True)
class RosterRow:
    """One person's line in the roster: who, in which section, in which role.

    ``line`` is the line number in the file (the header is line 1). ``department`` is None for
    a section directly under the ward. ``kinds_listed`` is False when the file had no
    ``section_kinds`` column: the import then leaves the sections' kinds as they are.
    """

    line: int
    employee_id: str
    name: str
    email: str | None
    ward: str
    department: str | None
    section: str
    role: Role
    section_kinds: tuple[str, ...]
    kinds_listed: bool = True


@dataclass(frozen=True)
class KeptAssignment:
    """Someone missing from the file whose assignment stays: they already answered this year."""

    employee_id: str
    name: str
    section: str
    role: Role
    downgraded: bool = False  # was the chief; the file names another chief, so now staff


@dataclass(frozen=True)
class RosterSummary:
    """What an import did (or, in a dry run, would do).

    People: added / updated (name or email changed) / unchanged. Assignments of the fiscal year:
    created, moved (section changed), role changed (same section), removed (not in the file),
    unchanged, and the ones kept although missing from the file. Compared with the previous
    fiscal year: transfers (another section than last year), role changes (same section, other
    role), arrivals (no assignment last year) and leavers (in these wards last year, not in the
    file).
    """

    fiscal_year: int
    wards: tuple[str, ...]
    rows: int
    people_added: int
    people_updated: int
    people_unchanged: int
    assignments_created: int
    assignments_moved: int
    assignments_role_changed: int
    assignments_removed: int
    assignments_unchanged: int
    transfers: int
    role_changes: int
    arrivals: int
    leavers: int
    wards_created: int = 0
    departments_created: int = 0
    sections_created: int = 0
    sections_updated: int = 0
    kept: tuple[KeptAssignment, ...] = ()

    @property
    def assignments_changed(self) -> int:
        """Assignments of the year that changed section or role."""
        return self.assignments_moved + self.assignments_role_changed

    @property
    def changed_anything(self) -> bool:
        """False when the import found the database already as the file says."""
        return bool(
            self.people_added
            or self.people_updated
            or self.assignments_created
            or self.assignments_changed
            or self.assignments_removed
            or self.wards_created
            or self.departments_created
            or self.sections_created
            or self.sections_updated
            or any(k.downgraded for k in self.kept)
        )

    def lines(self) -> list[str]:
        """The summary in Japanese, one line per fact, for the command line."""
        year = f"{fiscal_year_label(self.fiscal_year)}（{self.fiscal_year}年度）"
        previous = fiscal_year_label(self.fiscal_year - 1)
        out = [
            f"{year}の名簿: {'・'.join(self.wards)}、{self.rows}人",
            f"職員: 追加 {self.people_added}人 / 氏名・メールの更新 {self.people_updated}人"
            f" / 変更なし {self.people_unchanged}人",
            f"今年度の配属: 新規 {self.assignments_created}件 / 課の変更 {self.assignments_moved}件"
            f" / 役割の変更 {self.assignments_role_changed}件 / 削除 {self.assignments_removed}件"
            f" / 変更なし {self.assignments_unchanged}件",
            f"{previous}との比較: 異動 {self.transfers}人 / 役割の変更 {self.role_changes}人"
            f" / 新たに配属 {self.arrivals}人 / 転出・退職 {self.leavers}人",
        ]
        if self.wards_created or self.departments_created or self.sections_created:
            out.append(
                f"組織の追加: 区 {self.wards_created}件 / 部 {self.departments_created}件"
                f" / 課 {self.sections_created}件"
            )
        if self.sections_updated:
            out.append(f"部または課の種類を変更した課: {self.sections_updated}件")
        if self.kept:
            out.append(f"名簿にないが今年度すでに回答があるため配属を残した人: {len(self.kept)}人")
            for k in self.kept:
                note = "（名簿に別の所属長がいるため職員に変更）" if k.downgraded else ""
                role = ROLE_LABELS[k.role]
                out.append(f"  {k.employee_id} {k.name}（{k.section}・{role}）{note}")
        if not self.changed_anything:
            out.append("データベースはすでに名簿のとおりで、変更はありませんでした。")
        return out


# --- Reading ------------------------------------------------------------------------------


def read_roster(path: Path) -> list[RosterRow]:
    """Read and check a roster file (``.csv`` or ``.xlsx``); raise ``RosterError`` with every error.

    CSV may be UTF-8 (with or without BOM) or Shift_JIS (cp932). Excel: the first sheet.
    Blank lines are skipped; line numbers are the file's own (the header is line 1). Besides
    each line's own checks, the lines are checked against each other (see ``check_rows``) so
    that one run reports everything there is to fix.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise RosterError(
            [f"ファイルの形式が違います: {path.name}（.csv または .xlsx のファイルにしてください）"]
        )
    try:
        table = tabular.read_csv(path) if suffix == ".csv" else tabular.read_xlsx(path)
    except tabular.TabularError as error:
        raise RosterError(error.errors) from error
    return _parse(table)


def _header_key(cell: str) -> str:
    """A header cell for matching: NFKC, no spaces (full or half width), ``_`` or ``-``."""
    text = unicodedata.normalize("NFKC", cell)
    return re.sub(r"[\s_\-]", "", text).casefold()


_HEADER_ALIASES: dict[str, str] = {
    **{_header_key(key): key for key in COLUMNS},
    **{_header_key(label): key for key, label in COLUMNS.items()},
    **{_header_key(alias): key for alias, key in _EXTRA_HEADERS.items()},
}


def _nfkc(value: str) -> str:
    """NFKC and stripped: full-width digits and letters become half-width, ｶﾅ full-width."""
    return unicodedata.normalize("NFKC", value).strip()


def _column_label(key: str) -> str:
    return f"{COLUMNS[key]}（{key}）"


def _parse(table: Sequence[tuple[int, list[str]]]) -> list[RosterRow]:
    """Header, then one RosterRow per non-blank line; every error collected."""
    records = [(line, cells) for line, cells in table if any(c.strip() for c in cells)]
    if not records:
        raise RosterError(["ファイルが空です（1行目に見出し、2行目から職員の行が必要です）"])
    header_line, header = records[0]
    errors: list[tuple[int, str]] = []
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _HEADER_ALIASES.get(_header_key(cell))
        if key is None:
            continue  # other columns are allowed and ignored
        if key in columns:
            errors.append(
                (
                    header_line,
                    f"{header_line}行目: 列「{cell.strip()}」（{_column_label(key)}）が2つあります",
                )
            )
        else:
            columns[key] = index
    missing = [key for key in REQUIRED_COLUMNS if key not in columns]
    if missing:
        names = "、".join(_column_label(key) for key in missing)
        errors.append((header_line, f"{header_line}行目: 必要な列がありません: {names}"))
    if errors:
        raise RosterError([message for _line, message in errors])

    kinds_listed = "section_kinds" in columns
    rows: list[RosterRow] = []
    for line, cells in records[1:]:
        row = _parse_row(line, cells, columns, kinds_listed, errors)
        if row is not None:
            rows.append(row)
    if not rows and not errors:
        raise RosterError(
            [f"職員の行がありません（{header_line}行目の見出しの後に1人1行で書きます）"]
        )
    if errors:
        errors.extend(_cross_row_errors(rows))
        raise RosterError(_in_line_order(errors))
    return rows


def _parse_row(
    line: int,
    cells: list[str],
    columns: dict[str, int],
    kinds_listed: bool,
    errors: list[tuple[int, str]],
) -> RosterRow | None:
    """One line's values, checked; None (and errors added) when something is wrong."""

    def cell(key: str) -> str:
        index = columns.get(key)
        if index is None or index >= len(cells):
            return ""
        return cells[index].strip()

    found: list[tuple[int, str]] = []

    def error(message: str) -> None:
        found.append((line, f"{line}行目: {message}"))

    employee_id = _nfkc(cell("employee_id"))
    name = cell("name")
    ward = _nfkc(cell("ward"))
    department = _nfkc(cell("department")) or None
    section = _nfkc(cell("section"))
    email = _nfkc(cell("email")) or None
    for message in _field_problems(employee_id, name, email, ward, department, section):
        error(message)

    if email is not None and len(email) <= MAX_LENGTHS["email"]:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            error(f"メールアドレス「{email}」の形式が正しくありません")

    role_text = _nfkc(cell("role"))
    role = ROLE_VALUES.get(role_text.casefold())
    if not role_text:
        error(f"役割がありません{_ROLE_HINT}")
    elif role is None:
        error(f"役割「{role_text}」は使えません{_ROLE_HINT}")

    kinds: list[str] = []
    for part in _KIND_SEPARATORS.split(_nfkc(cell("section_kinds"))):
        kind = part.strip()
        if not kind:
            continue
        if kind not in SECTION_KINDS:
            error(f"課の種類「{kind}」は使えません{_KIND_HINT}")
        elif kind not in kinds:
            kinds.append(kind)

    if found or role is None:
        errors.extend(found)
        return None
    return RosterRow(
        line=line,
        employee_id=employee_id,
        name=name,
        email=email,
        ward=ward,
        department=department,
        section=section,
        role=role,
        section_kinds=tuple(k for k in SECTION_KINDS if k in kinds),
        kinds_listed=kinds_listed,
    )


def _field_problems(
    employee_id: str,
    name: str,
    email: str | None,
    ward: str,
    department: str | None,
    section: str,
) -> list[str]:
    """Missing or too long values (without the line number)."""
    problems: list[str] = []
    values = {
        "employee_id": employee_id,
        "name": name,
        "email": email,
        "ward": ward,
        "department": department,
        "section": section,
    }
    for key, value in values.items():
        if not value:
            if key not in ("email", "department"):
                problems.append(f"{COLUMNS[key]}がありません")
        elif len(value) > MAX_LENGTHS[key]:
            problems.append(f"{COLUMNS[key]}が長すぎます（{MAX_LENGTHS[key]}文字まで）")
    return problems


def _in_line_order(errors: Iterable[tuple[int, str]]) -> list[str]:
    return [message for _line, message in sorted(errors, key=lambda e: e[0])]


# --- Checks across lines ------------------------------------------------------------------


def _key(name: str) -> str:
    """How names of wards, departments and sections are compared (NFKC, stripped)."""
    return _nfkc(name)


def _department_text(department: str | None) -> str:
    return department or "なし（区の直下）"


def _kinds_text(kinds: Sequence[str]) -> str:
    return "；".join(kinds) or "なし"


def check_rows(rows: Sequence[RosterRow]) -> list[str]:
    """Every problem of the rows, alone and together, in line order (empty when importable)."""
    errors: list[tuple[int, str]] = []
    for row in rows:
        problems = _field_problems(
            row.employee_id, row.name, row.email, row.ward, row.department, row.section
        )
        problems += [
            f"課の種類「{kind}」は使えません{_KIND_HINT}"
            for kind in row.section_kinds
            if kind not in SECTION_KINDS
        ]
        errors.extend((row.line, f"{row.line}行目: {problem}") for problem in problems)
    errors.extend(_cross_row_errors(rows))
    return _in_line_order(errors)


def _cross_row_errors(rows: Sequence[RosterRow]) -> list[tuple[int, str]]:
    """Duplicate ids, two chiefs in a section, a section given two departments or kinds."""
    errors: list[tuple[int, str]] = []
    several_wards = len({_key(r.ward) for r in rows}) > 1
    id_line: dict[str, int] = {}
    chief_line: dict[tuple[str, str], int] = {}
    first_of_section: dict[tuple[str, str], RosterRow] = {}
    for row in rows:
        at = f"{row.line}行目: "
        if row.employee_id in id_line:
            message = (
                f"職員番号 {row.employee_id} は {id_line[row.employee_id]}行目と重複しています"
            )
            errors.append((row.line, at + message))
            continue
        id_line[row.employee_id] = row.line
        key = (_key(row.ward), _key(row.section))
        label = f"{row.ward} {row.section}" if several_wards else row.section
        if row.role is Role.CHIEF:
            if key in chief_line:
                message = f"{label} の所属長が {chief_line[key]}行目と2人になっています"
                errors.append((row.line, at + message))
            else:
                chief_line[key] = row.line
        first = first_of_section.setdefault(key, row)
        if _key(first.department or "") != _key(row.department or ""):
            message = (
                f"{label} の部が {first.line}行目（{_department_text(first.department)}）と"
                f"違います（{_department_text(row.department)}）"
            )
            errors.append((row.line, at + message))
        if set(first.section_kinds) != set(row.section_kinds):
            message = (
                f"{label} の課の種類が {first.line}行目（{_kinds_text(first.section_kinds)}）と"
                f"違います（{_kinds_text(row.section_kinds)}）"
            )
            errors.append((row.line, at + message))
    return errors


# --- Writing ------------------------------------------------------------------------------


def _insert(model: type[Any]) -> sa.Insert:
    """An ORM bulk INSERT that keeps rows with None values in the same batch.

    Without ``render_nulls`` the ORM starts a new statement whenever the set of non-None
    values changes (say, a person without email after one with), which would make the number
    of statements grow with the number of people.
    """
    return sa.insert(model).execution_options(render_nulls=True)


def _chunks(items: Sequence[Any], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Organisation:
    """Ids of the file's wards and sections, and what was created or changed."""

    ward_ids: dict[str, int]  # ward key -> id
    section_ids: dict[tuple[int, str], int]  # (ward id, section key) -> id
    section_names: dict[int, str]  # section id -> name, for the wards of the file
    wards_created: int = 0
    departments_created: int = 0
    sections_created: int = 0
    sections_updated: int = 0


def import_roster(
    rows: Sequence[RosterRow], fiscal_year: int, *, keep_identity: frozenset[str] = frozenset()
) -> RosterSummary:
    """Make the database hold this roster as the wards' assignments for ``fiscal_year``.

    All or nothing: every problem (see ``check_rows``) is collected first and reported in one
    ``RosterError``; then nothing is written. Otherwise wards, departments and sections are
    created by name as needed (a section takes this file's department and, when the file has
    the column, kinds), people are added or updated by employee id, and each person's
    assignment for ``fiscal_year`` is created or updated. People assigned in ``fiscal_year`` to
    a section of the file's wards but missing from the file lose that assignment, unless they
    already have a response in a round of that year (then it is kept, see
    ``RosterSummary.kept``). Assignments of other years are not touched. The people of
    ``keep_identity`` (employee ids) keep their stored name and mail address whatever the file
    says (``roster_upload.check_identity``). Never commits.
    """
    if not rows:
        raise RosterError(["名簿に職員の行がありません"])
    errors = check_rows(rows)
    if errors:
        raise RosterError(errors)

    db.session.flush()  # pending changes first: the bulk statements below bypass the session
    org = _sync_organisation(rows)
    known, people = _sync_people(rows, fiscal_year, keep_identity)
    summary = _sync_assignments(rows, fiscal_year, org, known, people)
    if summary.changed_anything:
        # The first roster of a database fills empty tables: see refresh_statistics.
        refresh_statistics(Ward, Department, Section, Person, Assignment)
    db.session.expire_all()  # objects loaded before the import see the new rows
    return summary


def _sync_organisation(rows: Sequence[RosterRow]) -> _Organisation:
    """Create the missing wards, departments, section kinds and sections; update the sections.

    A section is found by (ward, name); it takes this file's department, its kinds (when the
    file has the column) and a ``sort_order`` following its first appearance in the file, as
    do the departments. One step per level, in this order (each needs the ids of the one
    before): wards, departments, section kinds, sections.
    """
    org = _sync_wards(rows)
    wanted_departments, wanted_sections = _wanted_organisation(rows, org.ward_ids)
    departments = _sync_departments(wanted_departments, org)
    kind_ids = _sync_section_kinds(rows)
    _sync_sections(wanted_sections, departments, kind_ids, org)
    return org


def _sync_wards(rows: Sequence[RosterRow]) -> _Organisation:
    """Create the file's wards that do not exist (after the others in ``sort_order``); the
    organisation starts with the ids of the file's wards."""
    ward_names: dict[str, str] = {}
    for row in rows:
        ward_names.setdefault(_key(row.ward), row.ward)
    # The whole (small) table.
    wards: dict[str, tuple[int, int]] = {
        _key(name): (id_, order)
        for id_, name, order in db.session.execute(sa.select(Ward.id, Ward.name, Ward.sort_order))
    }
    new_wards = [key for key in ward_names if key not in wards]
    if new_wards:
        next_order = max((order for _id, order in wards.values()), default=0) + 1
        created_wards = db.session.execute(
            _insert(Ward).returning(Ward.id, Ward.name),
            [
                {"name": ward_names[key], "sort_order": next_order + i}
                for i, key in enumerate(new_wards)
            ],
        )
        for id_, name in created_wards:
            wards[_key(name)] = (id_, 0)
    return _Organisation(
        ward_ids={key: wards[key][0] for key in ward_names},
        section_ids={},
        section_names={},
        wards_created=len(new_wards),
    )


@dataclass
class _WantedSection:
    """A section as the file gives it."""

    name: str
    department: tuple[int, str] | None  # (ward id, department key)
    sort_order: int
    kinds: frozenset[str] | None = None  # None: the file does not say


# (ward id, department key) -> (name, sort order), as the file gives them
_WantedDepartments = dict[tuple[int, str], tuple[str, int]]
# (ward id, section key) -> the section as the file gives it
_WantedSections = dict[tuple[int, str], _WantedSection]
# (ward id, department key) -> (id, sort order), as stored
_Departments = dict[tuple[int, str], tuple[int, int]]


def _wanted_organisation(
    rows: Sequence[RosterRow], ward_ids: dict[str, int]
) -> tuple[_WantedDepartments, _WantedSections]:
    """What the file says: departments and sections in order of first appearance per ward."""
    wanted_departments: _WantedDepartments = {}
    wanted_sections: _WantedSections = {}
    department_count: dict[int, int] = {}
    section_count: dict[int, int] = {}
    for row in rows:
        ward_id = ward_ids[_key(row.ward)]
        department_key = (ward_id, _key(row.department)) if row.department else None
        if department_key is not None and department_key not in wanted_departments:
            department_count[ward_id] = department_count.get(ward_id, 0) + 1
            wanted_departments[department_key] = (row.department or "", department_count[ward_id])
        section_key = (ward_id, _key(row.section))
        if section_key not in wanted_sections:
            section_count[ward_id] = section_count.get(ward_id, 0) + 1
            wanted = wanted_sections[section_key] = _WantedSection(
                row.section, department_key, section_count[ward_id]
            )
            if row.kinds_listed:
                wanted.kinds = frozenset(row.section_kinds)
    return wanted_departments, wanted_sections


def _sync_departments(wanted_departments: _WantedDepartments, org: _Organisation) -> _Departments:
    """Create the missing departments of the file's wards and put them in the file's order;
    return every department of those wards."""
    departments: _Departments = {
        (ward_id, _key(name)): (id_, order)
        for id_, ward_id, name, order in db.session.execute(
            sa.select(
                Department.id, Department.ward_id, Department.name, Department.sort_order
            ).where(Department.ward_id.in_(list(org.ward_ids.values())))
        )
    }
    new_departments = [
        {"ward_id": key[0], "name": name, "sort_order": order}
        for key, (name, order) in wanted_departments.items()
        if key not in departments
    ]
    reordered = [
        {"id": departments[key][0], "sort_order": order}
        for key, (_name, order) in wanted_departments.items()
        if key in departments and departments[key][1] != order
    ]
    if new_departments:
        created_departments = db.session.execute(
            _insert(Department).returning(Department.id, Department.ward_id, Department.name),
            new_departments,
        )
        for id_, ward_id, name in created_departments:
            departments[(ward_id, _key(name))] = (id_, 0)
    if reordered:
        db.session.execute(sa.update(Department), reordered)
    org.departments_created = len(new_departments)
    return departments


def _sync_section_kinds(rows: Sequence[RosterRow]) -> dict[str, int]:
    """Create the section kinds named in the file when first used; return every kind's id."""
    kind_ids: dict[str, int] = {
        name: id_ for id_, name in db.session.execute(sa.select(SectionKind.id, SectionKind.name))
    }
    new_kinds = [
        kind
        for kind in SECTION_KINDS
        if kind not in kind_ids and any(kind in row.section_kinds for row in rows)
    ]
    if new_kinds:
        created_kinds = db.session.execute(
            _insert(SectionKind).returning(SectionKind.id, SectionKind.name),
            [{"name": name} for name in new_kinds],
        )
        kind_ids.update({name: id_ for id_, name in created_kinds})
    return kind_ids


# (ward id, section key) -> (id, department id, sort order), as stored
_Sections = dict[tuple[int, str], tuple[int, int | None, int]]


def _sync_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    kind_ids: dict[str, int],
    org: _Organisation,
) -> None:
    """Create the missing sections, then give each section of the file its department, order
    and (when the file says) kinds; fills ``org``'s section ids and names."""
    ward_ids = list(org.ward_ids.values())
    sections = _stored_sections(ward_ids, org)
    linked = _linked_kinds(ward_ids)
    created_keys = _create_sections(wanted_sections, departments, sections, org)
    _update_sections(wanted_sections, departments, kind_ids, sections, linked, created_keys, org)


def _department_id(wanted: _WantedSection, departments: _Departments) -> int | None:
    return departments[wanted.department][0] if wanted.department else None


def _stored_sections(ward_ids: list[int], org: _Organisation) -> _Sections:
    """The sections of these wards as stored; their names go into ``org.section_names``."""
    sections: _Sections = {}
    for id_, ward_id, name, department_id, order in db.session.execute(
        sa.select(
            Section.id, Section.ward_id, Section.name, Section.department_id, Section.sort_order
        ).where(Section.ward_id.in_(ward_ids))
    ):
        sections[(ward_id, _key(name))] = (id_, department_id, order)
        org.section_names[id_] = name
    return sections


def _linked_kinds(ward_ids: list[int]) -> dict[int, set[int]]:
    """Section id -> the ids of its kinds, for the sections of these wards."""
    linked: dict[int, set[int]] = {}
    for section_id, kind_id in db.session.execute(
        sa.select(section_kind_link.c.section_id, section_kind_link.c.kind_id)
        .join(Section, Section.id == section_kind_link.c.section_id)
        .where(Section.ward_id.in_(ward_ids))
    ):
        linked.setdefault(section_id, set()).add(kind_id)
    return linked


def _create_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    sections: _Sections,
    org: _Organisation,
) -> set[tuple[int, str]]:
    """Insert the file's sections that do not exist; add them to ``sections``; return their
    keys."""
    new_sections = [key for key in wanted_sections if key not in sections]
    if new_sections:
        created_sections = db.session.execute(
            _insert(Section).returning(Section.id, Section.ward_id, Section.name),
            [
                {
                    "ward_id": key[0],
                    "name": wanted_sections[key].name,
                    "department_id": _department_id(wanted_sections[key], departments),
                    "sort_order": wanted_sections[key].sort_order,
                }
                for key in new_sections
            ],
        )
        for id_, ward_id, name in created_sections:
            key = (ward_id, _key(name))
            wanted = wanted_sections[key]
            sections[key] = (id_, _department_id(wanted, departments), wanted.sort_order)
            org.section_names[id_] = name
    org.sections_created = len(new_sections)
    return set(new_sections)


def _update_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    kind_ids: dict[str, int],
    sections: _Sections,
    linked: dict[int, set[int]],
    created_keys: set[tuple[int, str]],
    org: _Organisation,
) -> None:
    """Give each section of the file its department, order and kinds; count the existing
    sections whose department or kinds changed."""
    section_updates: list[dict[str, Any]] = []
    unlink: list[int] = []
    links: list[dict[str, int]] = []
    for key, wanted in wanted_sections.items():
        id_, department_id, order = sections[key]
        org.section_ids[key] = id_
        changed = False
        new_department_id = _department_id(wanted, departments)
        if (department_id, order) != (new_department_id, wanted.sort_order):
            section_updates.append(
                {"id": id_, "department_id": new_department_id, "sort_order": wanted.sort_order}
            )
            changed = department_id != new_department_id
        if wanted.kinds is not None:
            kinds = {kind_ids[kind] for kind in wanted.kinds}
            if kinds != linked.get(id_, set()):
                if linked.get(id_):
                    unlink.append(id_)
                links.extend({"section_id": id_, "kind_id": kind} for kind in sorted(kinds))
                changed = True
        if changed and key not in created_keys:
            org.sections_updated += 1
    if section_updates:
        db.session.execute(sa.update(Section), section_updates)
    for chunk in _chunks(unlink):
        db.session.execute(
            sa.delete(section_kind_link).where(section_kind_link.c.section_id.in_(chunk))
        )
    if links:
        db.session.execute(sa.insert(section_kind_link), links)


@dataclass(frozen=True)
class _Known:
    """A person of the file as found in the database (or just added)."""

    person_id: int
    current: tuple[int, int, Role] | None  # (assignment id, section id, role) in the year
    previous: tuple[int, Role] | None  # (section id, role) in the year before


@dataclass
class _PeopleCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _sync_people(
    rows: Sequence[RosterRow], fiscal_year: int, keep_identity: frozenset[str]
) -> tuple[dict[str, _Known], _PeopleCounts]:
    """Add the new people, update names and emails (not those of ``keep_identity``); return
    everyone with their assignments."""
    current = so.aliased(Assignment)
    previous = so.aliased(Assignment)
    known: dict[str, _Known] = {}
    details: dict[str, tuple[str, str | None]] = {}
    employee_ids = [row.employee_id for row in rows]
    for chunk in _chunks(employee_ids):
        found = db.session.execute(
            sa.select(
                Person.id,
                Person.employee_id,
                Person.name,
                Person.email,
                current.id,
                current.section_id,
                current.role,
                previous.section_id,
                previous.role,
            )
            .outerjoin(
                current,
                sa.and_(current.person_id == Person.id, current.fiscal_year == fiscal_year),
            )
            .outerjoin(
                previous,
                sa.and_(previous.person_id == Person.id, previous.fiscal_year == fiscal_year - 1),
            )
            .where(Person.employee_id.in_(chunk))
        )
        for pid, eid, name, email, aid, section_id, role, prev_section, prev_role in found:
            known[eid] = _Known(
                person_id=pid,
                current=(aid, section_id, role) if aid is not None else None,
                previous=(prev_section, prev_role) if prev_section is not None else None,
            )
            details[eid] = (name, email)

    counts = _PeopleCounts()
    new_people = [
        {"employee_id": row.employee_id, "name": row.name, "email": row.email}
        for row in rows
        if row.employee_id not in known
    ]
    changed_people = [
        {"id": known[row.employee_id].person_id, "name": row.name, "email": row.email}
        for row in rows
        if row.employee_id in known
        and row.employee_id not in keep_identity
        and details[row.employee_id] != (row.name, row.email)
    ]
    if new_people:
        created = db.session.execute(
            _insert(Person).returning(Person.id, Person.employee_id), new_people
        )
        for pid, eid in created:
            known[eid] = _Known(person_id=pid, current=None, previous=None)
    if changed_people:
        db.session.execute(sa.update(Person), changed_people)
    counts.added = len(new_people)
    counts.updated = len(changed_people)
    counts.unchanged = len(rows) - counts.added - counts.updated
    return known, counts


@dataclass
class _AssignmentPlan:
    """The writes that make the year's assignments as the file says, and what they change.

    ``as_staff``: new section, role staff (step 2); ``to_chief``: role chief (step 3);
    ``inserts``: new assignments (step 4); ``removed``: assignment ids to delete (step 1).
    """

    inserts: list[dict[str, Any]] = field(default_factory=list)
    as_staff: list[dict[str, Any]] = field(default_factory=list)
    to_chief: list[dict[str, Any]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    kept: list[KeptAssignment] = field(default_factory=list)
    chief_sections: set[int] = field(default_factory=set)
    moved: int = 0
    role_changed: int = 0
    unchanged: int = 0
    transfers: int = 0
    role_changes: int = 0
    arrivals: int = 0


def _sync_assignments(
    rows: Sequence[RosterRow],
    fiscal_year: int,
    org: _Organisation,
    known: dict[str, _Known],
    people: _PeopleCounts,
) -> RosterSummary:
    """Set the year's assignments as the file says, in an order the one-chief index accepts.

    Order: delete the leavers' assignments; move every changed assignment to its new section
    as staff (and make a kept chief staff where the file names another chief); then make the
    new chiefs chiefs; then insert the new assignments. No step leaves two chiefs in a section.
    """
    ward_ids = list(org.ward_ids.values())
    in_file = {known[row.employee_id].person_id for row in rows}
    plan = _AssignmentPlan()
    for row in rows:
        section_id = org.section_ids[(org.ward_ids[_key(row.ward)], _key(row.section))]
        _plan_row(row, known[row.employee_id], section_id, fiscal_year, plan)
    others = _missing_from_file(fiscal_year, ward_ids, in_file)
    answered = _answered_in_year(fiscal_year, ward_ids) if others else set()
    _keep_or_remove(others, answered, org, plan)
    last_year = _assigned_in_year(fiscal_year - 1, ward_ids)
    _write_assignments(plan)
    return _summary(rows, fiscal_year, org, people, plan, leavers=len(last_year - in_file))


def _plan_row(
    row: RosterRow, person: _Known, section_id: int, fiscal_year: int, plan: _AssignmentPlan
) -> None:
    """Add to ``plan`` what one line of the file changes, and count it against this year's
    assignment and last year's."""
    if row.role is Role.CHIEF:
        plan.chief_sections.add(section_id)
    if person.current is None:
        plan.inserts.append(
            {
                "person_id": person.person_id,
                "fiscal_year": fiscal_year,
                "section_id": section_id,
                "role": row.role,
            }
        )
    else:
        assignment_id, old_section, old_role = person.current
        if (old_section, old_role) == (section_id, row.role):
            plan.unchanged += 1
        else:
            if old_section != section_id:
                plan.moved += 1
            else:
                plan.role_changed += 1
            plan.as_staff.append(
                {"id": assignment_id, "section_id": section_id, "role": Role.STAFF}
            )
            if row.role is Role.CHIEF:
                plan.to_chief.append({"id": assignment_id, "role": Role.CHIEF})
    if person.previous is None:
        plan.arrivals += 1
    elif person.previous[0] != section_id:
        plan.transfers += 1
    elif person.previous[1] is not row.role:
        plan.role_changes += 1


# (assignment id, person id, section id, role, employee id, name)
_Other = tuple[int, int, int, Role, str, str]


def _missing_from_file(fiscal_year: int, ward_ids: list[int], in_file: set[int]) -> list[_Other]:
    """The assignments of the year in these wards of people who are not in the file."""
    return [
        (other[0], other[1], other[2], other[3], other[4], other[5])
        for other in db.session.execute(
            sa.select(
                Assignment.id,
                Assignment.person_id,
                Assignment.section_id,
                Assignment.role,
                Person.employee_id,
                Person.name,
            )
            .join(Person, Person.id == Assignment.person_id)
            .join(Section, Section.id == Assignment.section_id)
            .where(Assignment.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
        if other[1] not in in_file
    ]


def _answered_in_year(fiscal_year: int, ward_ids: list[int]) -> set[int]:
    """The people assigned in these wards this year who answered a round of the year."""
    return set(
        db.session.scalars(
            sa.select(Response.person_id)
            .distinct()
            .join(Round, Round.id == Response.round_id)
            .join(
                Assignment,
                sa.and_(
                    Assignment.person_id == Response.person_id,
                    Assignment.fiscal_year == fiscal_year,
                ),
            )
            .join(Section, Section.id == Assignment.section_id)
            .where(Round.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
    )


def _keep_or_remove(
    others: list[_Other], answered: set[int], org: _Organisation, plan: _AssignmentPlan
) -> None:
    """Remove the assignment of each person missing from the file, unless they answered this
    year: then keep it, as staff where the file names another chief of the section."""
    for assignment_id, person_id, section_id, role, employee_id, name in others:
        if person_id not in answered:
            plan.removed.append(assignment_id)
            continue
        downgraded = role is Role.CHIEF and section_id in plan.chief_sections
        if downgraded:
            plan.as_staff.append(
                {"id": assignment_id, "section_id": section_id, "role": Role.STAFF}
            )
        plan.kept.append(
            KeptAssignment(
                employee_id=employee_id,
                name=name,
                section=org.section_names.get(section_id, ""),
                role=role,
                downgraded=downgraded,
            )
        )


def _assigned_in_year(fiscal_year: int, ward_ids: list[int]) -> set[int]:
    """The people assigned in ``fiscal_year`` to a section of these wards."""
    return set(
        db.session.scalars(
            sa.select(Assignment.person_id)
            .join(Section, Section.id == Assignment.section_id)
            .where(Assignment.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
    )


def _write_assignments(plan: _AssignmentPlan) -> None:
    """The plan's writes in the order the one-chief index accepts (see ``_sync_assignments``)."""
    for chunk in _chunks(plan.removed):
        db.session.execute(
            sa.delete(Assignment)
            .where(Assignment.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    if plan.as_staff:
        db.session.execute(sa.update(Assignment), plan.as_staff)
    if plan.to_chief:
        db.session.execute(sa.update(Assignment), plan.to_chief)
    if plan.inserts:
        db.session.execute(_insert(Assignment), plan.inserts)


def _summary(
    rows: Sequence[RosterRow],
    fiscal_year: int,
    org: _Organisation,
    people: _PeopleCounts,
    plan: _AssignmentPlan,
    leavers: int,
) -> RosterSummary:
    return RosterSummary(
        fiscal_year=fiscal_year,
        wards=tuple(_ward_names(rows)),
        rows=len(rows),
        people_added=people.added,
        people_updated=people.updated,
        people_unchanged=people.unchanged,
        assignments_created=len(plan.inserts),
        assignments_moved=plan.moved,
        assignments_role_changed=plan.role_changed,
        assignments_removed=len(plan.removed),
        assignments_unchanged=plan.unchanged,
        transfers=plan.transfers,
        role_changes=plan.role_changes,
        arrivals=plan.arrivals,
        leavers=leavers,
        wards_created=org.wards_created,
        departments_created=org.departments_created,
        sections_created=org.sections_created,
        sections_updated=org.sections_updated,
        kept=tuple(sorted(plan.kept, key=lambda k: k.employee_id)),
    )


def _ward_names(rows: Iterable[RosterRow]) -> list[str]:
    names: dict[str, str] = {}
    for row in rows:
        names.setdefault(_key(row.ward), row.ward)
    return list(names.values())
