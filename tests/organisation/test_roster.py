"""Roster import: file formats, line-numbered errors, all or nothing, years, speed, the command."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
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
from app.services.organisation.roster import RosterSummary, import_roster
from app.services.organisation.roster_file import RosterError, RosterRow, read_roster
from tests import factories

HEADER = "employee_id,name,email,ward,department,section,role,section_kinds"

SOMU_KINDS = "庁舎管理担当課;研修担当課"
SOMU_CHIEF = f"A0001,山田 太郎,yamada@example.jp,高津区,まちづくり推進部,総務課,chief,{SOMU_KINDS}"
BASIC = [
    HEADER,
    SOMU_CHIEF,
    "A0002,佐藤 花子,,高津区,まちづくり推進部,総務課,staff,庁舎管理担当課;研修担当課",
    "A0003,鈴木 一郎,suzuki@example.jp,高津区,区民サービス部,区民課,chief,",
    "A0004,田中 美咲,tanaka@example.jp,高津区,区民サービス部,区民課,staff,",
    "A0005,伊藤 健一,ito@example.jp,高津区,,危機管理担当,chief,",
]


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    """Write the lines as a CSV file (CRLF, as Excel does) in the given encoding."""
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def table_counts() -> dict[str, int]:
    """Rows in every table the import writes to."""
    tables = {
        "ward": Ward,
        "department": Department,
        "section": Section,
        "section_kind": SectionKind,
        "person": Person,
        "assignment": Assignment,
    }
    counts = {
        name: db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        for name, model in tables.items()
    }
    counts["section_kind_link"] = (
        db.session.scalar(sa.select(sa.func.count()).select_from(section_kind_link)) or 0
    )
    return counts


def assignments(fiscal_year: int) -> dict[str, tuple[str, Role]]:
    """employee id -> (section name, role) for one fiscal year."""
    found = db.session.execute(
        sa.select(Person.employee_id, Section.name, Assignment.role)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Section, Section.id == Assignment.section_id)
        .where(Assignment.fiscal_year == fiscal_year)
    )
    return {eid: (section, role) for eid, section, role in found}


def import_file(path: Path, fiscal_year: int) -> RosterSummary:
    return import_roster(read_roster(path), fiscal_year)


def errors_of(path: Path, fiscal_year: int = 2025) -> list[str]:
    """The errors an import of the file reports (it must fail)."""
    with pytest.raises(RosterError) as caught:
        import_file(path, fiscal_year)
    db.session.rollback()
    return caught.value.errors


def row(line: int, eid: str, section: str, role: Role = Role.STAFF, **kw: object) -> RosterRow:
    """A RosterRow in 高津区 with sensible defaults."""
    values: dict[str, object] = {
        "line": line,
        "employee_id": eid,
        "name": f"職員{eid}",
        "email": f"{eid.lower()}@example.jp",
        "ward": "高津区",
        "department": "区民サービス部",
        "section": section,
        "role": role,
        "section_kinds": (),
    }
    values.update(kw)
    return RosterRow(**values)  # type: ignore[arg-type]  # a row built from a dict of fields


# --- Formats --------------------------------------------------------------------------------


def test_utf8_csv_creates_organisation_people_and_assignments(app_ctx, tmp_path):
    """A UTF-8 CSV creates the ward, departments, sections with kinds, people and assignments."""
    summary = import_file(write_csv(tmp_path / "r.csv", BASIC), 2025)
    db.session.commit()

    assert summary.people_added == 5 and summary.assignments_created == 5
    assert (summary.wards_created, summary.departments_created, summary.sections_created) == (
        1,
        2,
        3,
    )
    assert assignments(2025) == {
        "A0001": ("総務課", Role.CHIEF),
        "A0002": ("総務課", Role.STAFF),
        "A0003": ("区民課", Role.CHIEF),
        "A0004": ("区民課", Role.STAFF),
        "A0005": ("危機管理担当", Role.CHIEF),
    }
    sections = {s.name: s for s in db.session.scalars(sa.select(Section))}
    assert [k.name for k in sections["総務課"].kinds] == sorted(["庁舎管理担当課", "研修担当課"])
    assert sections["危機管理担当"].department is None
    assert sections["区民課"].department is not None
    assert sections["区民課"].department.name == "区民サービス部"
    assert [s.name for s in sorted(sections.values(), key=lambda s: s.sort_order)] == [
        "総務課",
        "区民課",
        "危機管理担当",
    ]
    depts = db.session.scalars(sa.select(Department).order_by(Department.sort_order)).all()
    assert [d.name for d in depts] == ["まちづくり推進部", "区民サービス部"]
    sato = db.session.scalars(sa.select(Person).where(Person.employee_id == "A0002")).one()
    assert (sato.name, sato.email) == ("佐藤 花子", None)


def test_utf8_csv_with_bom_is_read(app_ctx, tmp_path):
    """A UTF-8 CSV with a byte-order mark (Excel's "CSV UTF-8") reads its first header."""
    rows = read_roster(write_csv(tmp_path / "bom.csv", BASIC, "utf-8-sig"))
    assert [r.employee_id for r in rows] == ["A0001", "A0002", "A0003", "A0004", "A0005"]
    import_roster(rows, 2025)
    assert assignments(2025)["A0001"] == ("総務課", Role.CHIEF)


def test_cp932_csv_with_japanese_headers_and_values(app_ctx, tmp_path):
    """Shift_JIS with Japanese headers (spaces ignored), 職員/所属長, full-width ids normalised."""
    lines = [
        "職員 番号,氏　名,メールアドレス,区,部,課,役割,課の種類",
        "Ａ０００１,山田　太郎,ｙａｍａｄａ＠example.jp,高津区,まちづくり推進部,総務課,所属長,"
        "庁舎管理担当課；研修担当課",
        "A0002, 佐藤 花子 ,,高津区,まちづくり推進部,総務課,職員,研修担当課、庁舎管理担当課",
        "A0003,ﾀﾅｶ ﾐｻｷ,,高津区,,ｺｰﾙｾﾝﾀｰ担当,所属長,",
    ]
    path = write_csv(tmp_path / "sjis.csv", lines, "cp932")
    rows = read_roster(path)
    assert rows[0].employee_id == "A0001"
    assert rows[0].email == "yamada@example.jp"
    assert rows[0].role is Role.CHIEF and rows[1].role is Role.STAFF
    assert rows[0].section_kinds == ("庁舎管理担当課", "研修担当課") == rows[1].section_kinds
    assert rows[1].name == "佐藤 花子"
    assert rows[2].section == "コールセンター担当"  # half-width katakana made full-width
    assert [r.line for r in rows] == [2, 3, 4]
    import_roster(rows, 2025)
    assert assignments(2025) == {
        "A0001": ("総務課", Role.CHIEF),
        "A0002": ("総務課", Role.STAFF),
        "A0003": ("コールセンター担当", Role.CHIEF),
    }


def test_xlsx_first_sheet_blank_rows_skipped_numbers_as_text(app_ctx, tmp_path):
    """An .xlsx roster: first sheet, blank rows skipped, numeric ids as text, its row numbers."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["職員番号", "氏名", "メールアドレス", "区", "部", "課", "役割"])
    sheet.append(
        [10001, "山田 太郎", "yamada@example.jp", "高津区", "区民サービス部", "区民課", "所属長"]
    )
    sheet.append([None] * 7)
    sheet.append([10002.0, "佐藤 花子", None, "高津区", "区民サービス部", "区民課", "職員"])
    sheet.append(["10003", "", None, "高津区", "区民サービス部", "区民課", "職員"])
    workbook.create_sheet("メモ").append(["ignored"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    workbook.close()

    errors = errors_of(path)
    assert errors == ["5行目: 氏名がありません"]

    sheet.delete_rows(5)
    workbook.save(path)
    workbook.close()
    rows = read_roster(path)
    assert [(r.line, r.employee_id) for r in rows] == [(2, "10001"), (4, "10002")]
    assert all(not r.kinds_listed for r in rows)
    import_roster(rows, 2025)
    assert assignments(2025) == {"10001": ("区民課", Role.CHIEF), "10002": ("区民課", Role.STAFF)}


def test_undecodable_csv_and_other_formats_are_clear_errors(app_ctx, tmp_path):
    """Bytes that are neither UTF-8 nor Shift_JIS, a .txt file and a broken .xlsx are refused."""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER.encode() + b"\r\nA1,\x81\x20,,x,,y,staff\r\n")
    assert "文字コード" in errors_of(bad)[0]
    utf16 = write_csv(tmp_path / "utf16.csv", BASIC, "utf-16")
    assert "文字コード" in errors_of(utf16)[0]
    txt = write_csv(tmp_path / "roster.txt", BASIC)
    assert ".csv または .xlsx" in errors_of(txt)[0]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip file")
    assert "Excel" in errors_of(broken)[0]
    empty = write_csv(tmp_path / "empty.csv", [HEADER])
    assert "職員の行がありません" in errors_of(empty)[0]


# --- Errors: every one, with its line, and nothing written ----------------------------------


def test_bad_rows_all_reported_with_line_numbers_and_nothing_written(app_ctx, tmp_path):
    """Every bad line is reported by its file line number; with any error nothing is written."""
    import_file(write_csv(tmp_path / "ok.csv", BASIC), 2025)
    db.session.commit()
    before = table_counts()
    lines = [
        HEADER,
        "A0001,山田 太郎,yamada@example.jp,高津区,まちづくり推進部,総務課,chief,",  # fine
        ",名無し,,高津区,まちづくり推進部,総務課,staff,",  # 3: no id
        "",  # 4: blank, skipped
        "A0010,,,高津区,まちづくり推進部,総務課,staff,",  # 5: no name
        "A0011,新人 一,abc,高津区,まちづくり推進部,総務課,staff,",  # 6: bad email
        "A0012,新人 二,,高津区,まちづくり推進部,総務課,課長,",  # 7: unknown role
        "A0013,新人 三,,,まちづくり推進部,,staff,",  # 8: no ward, no section
        "A0014,新人 四,,高津区,まちづくり推進部,総務課,staff,窓口課",  # 9: unknown kind
        "A0001,山田 二郎,,高津区,まちづくり推進部,総務課,staff,",  # 10: duplicate of 2
    ]
    errors = errors_of(write_csv(tmp_path / "bad.csv", lines))
    assert errors == [
        "3行目: 職員番号がありません",
        "5行目: 氏名がありません",
        "6行目: メールアドレス「abc」の形式が正しくありません",
        "7行目: 役割「課長」は使えません（職員 / 所属長 または staff / chief）",
        "8行目: 区がありません",
        "8行目: 課がありません",
        "9行目: 課の種類「窓口課」は使えません（庁舎管理担当課 / 研修担当課 / 本庁業務所管課）",
        "10行目: 職員番号 A0001 は 2行目と重複しています",
    ]
    assert table_counts() == before
    assert assignments(2025)["A0002"] == ("総務課", Role.STAFF)


def test_duplicate_employee_id_names_both_lines_and_writes_nothing(app_ctx, tmp_path):
    """The same employee id twice (also once full-width) is refused, naming both lines."""
    lines = [*BASIC, "Ａ０００４,田中 美咲,,高津区,区民サービス部,区民課,staff,"]
    before = table_counts()
    assert errors_of(write_csv(tmp_path / "dup.csv", lines)) == [
        "7行目: 職員番号 A0004 は 5行目と重複しています"
    ]
    assert table_counts() == before


def test_two_chiefs_in_one_section_are_refused(app_ctx, tmp_path):
    """Two chiefs for one section are refused, naming both lines; nothing is written."""
    lines = [*BASIC, "A0006,高橋 誠,,高津区,区民サービス部,区民課,所属長,"]
    assert errors_of(write_csv(tmp_path / "chiefs.csv", lines)) == [
        "7行目: 区民課 の所属長が 4行目と2人になっています"
    ]
    assert table_counts()["assignment"] == 0


def test_bad_email_is_refused(app_ctx, tmp_path):
    """An email address without a valid domain is refused with its line and value."""
    lines = [HEADER, "A0001,山田 太郎,yamada@localhost,高津区,,総務課,chief,"]
    assert errors_of(write_csv(tmp_path / "email.csv", lines)) == [
        "2行目: メールアドレス「yamada@localhost」の形式が正しくありません"
    ]


def test_unknown_role_is_refused(app_ctx, tmp_path):
    """A role other than 職員/所属長/staff/chief is refused, and so is an empty one."""
    lines = [
        HEADER,
        "A0001,山田 太郎,,高津区,,総務課,課長,",
        "A0002,佐藤 花子,,高津区,,総務課,,",
    ]
    assert errors_of(write_csv(tmp_path / "role.csv", lines)) == [
        "2行目: 役割「課長」は使えません（職員 / 所属長 または staff / chief）",
        "3行目: 役割がありません（職員 / 所属長 または staff / chief）",
    ]


def test_unknown_section_kind_is_refused(app_ctx, tmp_path):
    """A section kind outside SECTION_KINDS is refused with its line number."""
    lines = [HEADER, "A0001,山田 太郎,,高津区,,総務課,chief,庁舎管理担当課;広報課"]
    assert errors_of(write_csv(tmp_path / "kind.csv", lines)) == [
        "2行目: 課の種類「広報課」は使えません（庁舎管理担当課 / 研修担当課 / 本庁業務所管課）"
    ]


def test_missing_columns_are_named_in_one_error(app_ctx, tmp_path):
    """A header without required columns gives one error naming all of them."""
    lines = ["職員番号,氏名,区,課", "A0001,山田 太郎,高津区,総務課"]
    assert errors_of(write_csv(tmp_path / "cols.csv", lines)) == [
        "1行目: 必要な列がありません: メールアドレス（email）、部（department）、役割（role）"
    ]


def test_section_given_two_departments_or_kinds_is_refused(app_ctx, tmp_path):
    """One section must have the same department and kinds on every line."""
    lines = [
        HEADER,
        "A0001,山田 太郎,,高津区,まちづくり推進部,総務課,chief,研修担当課",
        "A0002,佐藤 花子,,高津区,区民サービス部,総務課,staff,研修担当課",
        "A0003,鈴木 一郎,,高津区,まちづくり推進部,総務課,staff,",
    ]
    assert errors_of(write_csv(tmp_path / "dept.csv", lines)) == [
        "3行目: 総務課 の部が 2行目（まちづくり推進部）と違います（区民サービス部）",
        "4行目: 総務課 の課の種類が 2行目（研修担当課）と違います（なし）",
    ]


# --- Years -----------------------------------------------------------------------------------


def test_transfer_and_leaver_across_fiscal_years(app_ctx, tmp_path):
    """FY2025 moves one person and drops another; FY2024 keeps what it had."""
    import_file(write_csv(tmp_path / "2024.csv", BASIC), 2024)
    db.session.commit()
    fy2024 = assignments(2024)
    lines_2025 = [
        HEADER,
        SOMU_CHIEF,
        # A0002 moved from 総務課 to 区民課
        "A0002,佐藤 花子,,高津区,区民サービス部,区民課,staff,",
        "A0003,鈴木 一郎,suzuki@example.jp,高津区,区民サービス部,区民課,chief,",
        # A0004 left; A0005 stays; A0006 arrives
        "A0005,伊藤 健一,ito@example.jp,高津区,,危機管理担当,chief,",
        "A0006,高橋 誠,takahashi@example.jp,高津区,,危機管理担当,staff,",
    ]
    summary = import_file(write_csv(tmp_path / "2025.csv", lines_2025), 2025)
    db.session.commit()

    assert assignments(2024) == fy2024
    fy2025 = assignments(2025)
    assert fy2025["A0002"] == ("区民課", Role.STAFF)
    assert fy2024["A0002"] == ("総務課", Role.STAFF)
    assert "A0004" not in fy2025
    assert fy2025["A0006"] == ("危機管理担当", Role.STAFF)
    assert (summary.transfers, summary.arrivals, summary.leavers) == (1, 1, 1)
    assert summary.assignments_created == 5 and summary.assignments_removed == 0
    assert summary.people_added == 1 and summary.people_unchanged == 4


def test_reimport_of_a_year_moves_removes_and_keeps_people_who_answered(app_ctx, tmp_path):
    """Re-importing a year updates it; leavers lose it unless they already answered this year."""
    import_file(write_csv(tmp_path / "first.csv", BASIC), 2025)
    catalogue = factories.catalogue()
    opens = datetime(2025, 11, 4, tzinfo=UTC)
    round_ = Round(
        title="令和7年度",
        catalogue=catalogue,
        fiscal_year=2025,
        opens_at=opens,
        closes_at=opens + timedelta(days=20),
    )
    db.session.add(round_)
    db.session.flush()
    # A0003 (区民課 chief) and A0005 (危機管理担当 chief) have answered; A0004 has not.
    for eid in ("A0003", "A0005"):
        person = db.session.scalars(sa.select(Person).where(Person.employee_id == eid)).one()
        section_id = db.session.scalar(
            sa.select(Assignment.section_id).where(Assignment.person_id == person.id)
        )
        assert section_id is not None
        db.session.add(
            Response(round=round_, person_id=person.id, role=Role.CHIEF, section_id=section_id)
        )
    db.session.commit()

    lines = [
        HEADER,
        SOMU_CHIEF,
        "A0002,佐藤 花子,,高津区,区民サービス部,区民課,chief,",  # moved and now 区民課 chief
    ]
    summary = import_file(write_csv(tmp_path / "second.csv", lines), 2025)
    db.session.commit()

    assert assignments(2025) == {
        "A0001": ("総務課", Role.CHIEF),
        "A0002": ("区民課", Role.CHIEF),
        "A0003": ("区民課", Role.STAFF),  # kept (answered), no longer the chief
        "A0005": ("危機管理担当", Role.CHIEF),  # kept (answered), nobody replaces them
    }
    assert summary.assignments_removed == 1  # A0004
    assert summary.assignments_moved == 1
    assert [(k.employee_id, k.downgraded) for k in summary.kept] == [
        ("A0003", True),
        ("A0005", False),
    ]


def test_chief_swap_within_one_section(app_ctx, tmp_path):
    """The chief and a staff member swap roles in one import without tripping the unique index."""
    import_file(write_csv(tmp_path / "before.csv", BASIC), 2025)
    db.session.commit()
    swapped = [
        line.replace(",chief,", ",TMP,").replace(",staff,", ",chief,").replace(",TMP,", ",staff,")
        if "区民課" in line
        else line
        for line in BASIC
    ]
    summary = import_file(write_csv(tmp_path / "after.csv", swapped), 2025)
    db.session.commit()
    fy = assignments(2025)
    assert fy["A0003"] == ("区民課", Role.STAFF)
    assert fy["A0004"] == ("区民課", Role.CHIEF)
    assert summary.assignments_role_changed == 2 and summary.assignments_moved == 0


def test_chiefs_swap_sections(app_ctx):
    """Two chiefs trading sections in one import are applied in an order the index accepts."""
    rows = [
        row(2, "C1", "区民課", Role.CHIEF),
        row(3, "C2", "保険年金課", Role.CHIEF),
        row(4, "S1", "区民課"),
    ]
    import_roster(rows, 2025)
    traded = [
        row(2, "C1", "保険年金課", Role.CHIEF),
        row(3, "C2", "区民課", Role.CHIEF),
        row(4, "S1", "区民課"),
    ]
    summary = import_roster(traded, 2025)
    db.session.commit()
    assert assignments(2025) == {
        "C1": ("保険年金課", Role.CHIEF),
        "C2": ("区民課", Role.CHIEF),
        "S1": ("区民課", Role.STAFF),
    }
    assert summary.assignments_moved == 2


def test_reimport_of_the_same_file_changes_nothing(app_ctx, tmp_path):
    """Importing the same file twice: the second import writes nothing and says so."""
    path = write_csv(tmp_path / "r.csv", BASIC)
    import_file(path, 2025)
    db.session.commit()
    before = table_counts()
    people = db.session.execute(sa.select(Person.id, Person.name, Person.email)).all()

    statements: list[str] = []
    with count_statements(statements):
        summary = import_file(path, 2025)
    db.session.commit()

    assert not summary.changed_anything
    assert summary.people_unchanged == 5 and summary.assignments_unchanged == 5
    assert table_counts() == before
    assert db.session.execute(sa.select(Person.id, Person.name, Person.email)).all() == people
    writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert "変更はありませんでした" in summary.lines()[-1]


def test_existing_section_takes_the_files_department_and_kinds(app_ctx, tmp_path):
    """A section found by name gets the file's department and kinds; other years stay linked."""
    old = factories.section("総務課", department="区民サービス部", kinds=("本庁業務所管課",))
    factories.person(section=old, fiscal_year=2024, employee_id="A0001")
    summary = import_file(write_csv(tmp_path / "r.csv", BASIC), 2025)
    db.session.commit()
    section = db.session.get(Section, old.id)
    assert section is not None
    assert section.department is not None and section.department.name == "まちづくり推進部"
    assert [k.name for k in section.kinds] == ["庁舎管理担当課", "研修担当課"]
    assert summary.sections_created == 2 and summary.sections_updated == 1
    assert assignments(2024) == {"A0001": ("総務課", Role.STAFF)}


# --- Speed -----------------------------------------------------------------------------------


@contextmanager
def count_statements(into: list[str]):
    """Record every statement sent to the database (an executemany counts once)."""

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        into.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield into
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


SPEED_SECTIONS = [
    ("まちづくり推進部", "総務課", ("庁舎管理担当課",)),
    ("まちづくり推進部", "企画課", ()),
    ("区民サービス部", "区民課", ()),
    ("区民サービス部", "保険年金課", ()),
    (None, "危機管理担当", ()),
]


def speed_rosters(n: int) -> tuple[list[RosterRow], list[RosterRow]]:
    """FY2024 with n people; FY2025 with moves, leavers, arrivals, renames and a chief swap."""

    def make(line: int, i: int, s: int, role: Role, name: str = "") -> RosterRow:
        department, section, kinds = SPEED_SECTIONS[s]
        return row(
            line,
            f"E{i:05d}",
            section,
            role,
            name=name or f"職員 {i}",
            email=None if i % 2 else f"e{i}@example.jp",  # NULLs mixed in must not split batches
            department=department,
            section_kinds=kinds,
        )

    chiefs = range(len(SPEED_SECTIONS))
    first = [make(i + 2, i, i % 5, Role.CHIEF if i in chiefs else Role.STAFF) for i in range(n)]
    second: list[RosterRow] = []
    for i in range(n):
        if i in (10, 11, 12):  # leavers
            continue
        s, role = i % 5, Role.CHIEF if i in chiefs else Role.STAFF
        if i in (0, 5):  # the 総務課 chief and a 総務課 staff member swap roles
            role = Role.STAFF if i == 0 else Role.CHIEF
        if i in (20, 21, 22, 23):  # transfers
            s = (s + 1) % 5
        second.append(make(len(second) + 2, i, s, role, "改姓 太郎" if i in (30, 31) else ""))
    for j in range(3):  # arrivals
        second.append(make(len(second) + 2, 90000 + j, j, Role.STAFF))
    return first, second


def test_statement_count_does_not_grow_with_the_number_of_people(app_ctx):
    """Importing 50 or 500 people takes the same statements: new year, next year, re-import."""
    counts: dict[int, list[int]] = {}
    for n in (50, 500):
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        first, second = speed_rosters(n)
        counts[n] = []
        # FY2024 from scratch; FY2025 next to it; FY2025 again with moves, leavers, a swap.
        for rows, fiscal_year in ((first, 2024), (second, 2025), (first, 2025)):
            with count_statements([]) as statements:
                summary = import_roster(rows, fiscal_year)
            db.session.commit()
            counts[n].append(len(statements))
        assert summary.assignments_moved == 4 and summary.assignments_role_changed == 2
        assert summary.assignments_removed == 3 and summary.assignments_created == 3
        assert summary.people_updated == 2
        assert assignments(2025) == assignments(2024)
    assert counts[50] == counts[500]
    assert max(counts[500]) <= 20


# --- The command -----------------------------------------------------------------------------


def test_cli_import_commits_and_prints_the_summary(app, runner, tmp_path):
    """`flask roster import PATH --fiscal-year` commits and prints a Japanese summary."""
    path = write_csv(tmp_path / "r.csv", BASIC, "cp932")
    result = runner.invoke(args=["roster", "import", str(path), "--fiscal-year", "2025"])
    assert result.exit_code == 0, result.output
    assert "令和7年度（2025年度）の名簿: 高津区、5人" in result.stdout
    assert "職員: 追加 5人" in result.stdout
    with app.app_context():
        assert len(assignments(2025)) == 5


def test_cli_dry_run_writes_nothing(app, runner, tmp_path):
    """--dry-run prints the summary but leaves the database as it was."""
    path = write_csv(tmp_path / "r.csv", BASIC)
    result = runner.invoke(
        args=["roster", "import", str(path), "--fiscal-year", "2025", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "職員: 追加 5人" in result.stdout
    assert "何も書き込んでいません" in result.stdout
    with app.app_context():
        assert table_counts()["person"] == 0


def test_cli_errors_go_to_stderr_with_exit_status_1(app, runner, tmp_path):
    """With errors the command prints each to stderr, writes nothing and exits with 1."""
    lines = [*BASIC, "A0001,山田 二郎,,高津区,,危機管理担当,staff,", ",x,,高津区,,総務課,staff,"]
    path = write_csv(tmp_path / "bad.csv", lines)
    result = runner.invoke(args=["roster", "import", str(path), "--fiscal-year", "2025"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "7行目: 職員番号 A0001 は 2行目と重複しています",
        "8行目: 職員番号がありません",
    ]
    assert "何も書き込んでいません" in result.stderr
    assert result.stdout == ""
    with app.app_context():
        assert table_counts()["person"] == 0
