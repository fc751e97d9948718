"""Reading a roster file (CSV or Excel) and checking its lines, alone and against each other.

``read_roster`` checks each line and returns the rows; ``check_rows`` checks the lines against
each other (one person per employee id, one chief per section, ...). Nothing here touches the
database: the import is ``app/services/organisation/roster.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.models import SECTION_KINDS, Department, Person, Role, Section, Ward
from app.services import tabular
from app.services.errors import DomainError
from app.services.one_line import one_line_problem
from reports.cells import plain_text

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
        return plain_text(cells[index].strip())

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

    email, email_problem = _checked_email(email)
    if email_problem:
        error(email_problem)

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
    """Missing or too long values, and names on more than one line (without the line
    number)."""
    return value_problems({
        "employee_id": employee_id,
        "name": name,
        "email": email,
        "ward": ward,
        "department": department,
        "section": section,
    })


def value_problems(values: dict[str, str | None]) -> list[str]:
    """The problems of some of a roster line's values (keys of ``COLUMNS``), as the import
    reports them: missing (but a mail address and a department), too long for the database,
    or a name on more than one line. Without the line number."""
    problems: list[str] = []
    for key, value in values.items():
        if not value:
            if key not in ("email", "department"):
                problems.append(f"{COLUMNS[key]}がありません")
        elif len(value) > MAX_LENGTHS[key]:
            problems.append(f"{COLUMNS[key]}が長すぎます（{MAX_LENGTHS[key]}文字まで）")
        elif key != "email" and (problem := one_line_problem(value, COLUMNS[key])):
            problems.append(problem)  # names reach mail subjects and lines
    return problems


def _checked_email(email: str | None) -> tuple[str | None, str | None]:
    """A mail address as the roster stores it (normalised), and the problem of its form."""
    if email is None or len(email) > MAX_LENGTHS["email"]:
        return email, None  # none, or already reported as too long
    try:
        return validate_email(email, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return email, f"メールアドレス「{email}」の形式が正しくありません"


def person_values(employee_id: str, name: str, email: str | None) -> tuple[str, str, str | None]:
    """A person's employee id, name and mail address as a roster line stores them (normalised
    alike), for a person made outside a roster (``flask users create-admin``); RosterError with
    every problem, in the roster's words."""
    values = (_nfkc(employee_id), plain_text(name.strip()), _nfkc(email or "") or None)
    problems = value_problems(dict(zip(("employee_id", "name", "email"), values, strict=True)))
    normalised, email_problem = _checked_email(values[2])
    if email_problem:
        problems.append(email_problem)
    if problems:
        raise RosterError(problems)
    return values[0], values[1], normalised


def _in_line_order(errors: Iterable[tuple[int, str]]) -> list[str]:
    return [message for _line, message in sorted(errors, key=lambda e: e[0])]


def name_key(name: str) -> str:
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
    several_wards = len({name_key(r.ward) for r in rows}) > 1
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
        key = (name_key(row.ward), name_key(row.section))
        label = f"{row.ward} {row.section}" if several_wards else row.section
        if row.role is Role.CHIEF:
            if key in chief_line:
                message = f"{label} の所属長が {chief_line[key]}行目と2人になっています"
                errors.append((row.line, at + message))
            else:
                chief_line[key] = row.line
        first = first_of_section.setdefault(key, row)
        if name_key(first.department or "") != name_key(row.department or ""):
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
