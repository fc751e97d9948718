"""Reading tabular files (app.services.tabular): CSV encodings, line numbers, limits, xlsx."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import Workbook

from app.services.tabular import (
    SheetLimits,
    TabularError,
    read_csv,
    read_xlsx,
    read_xlsx_values,
)

TEXT = '職員番号,氏名\r\nA001,山田 太郎\r\nA002,"鈴木\n花子"\r\nA003,佐藤\r\n'
RECORDS = [
    (1, ["職員番号", "氏名"]),
    (2, ["A001", "山田 太郎"]),
    (3, ["A002", "鈴木\n花子"]),
    (5, ["A003", "佐藤"]),  # the record above spans lines 3 and 4
]


def _file(tmp_path: Path, data: bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _book(rows: list[list[object]], title: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        workbook.create_sheet("前の表").append(["ほかの表"])
        sheet.title = title
        workbook.move_sheet(sheet, offset=1)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_in_each_encoding_reads_the_same_records_with_their_first_lines(
    app_ctx: Flask, tmp_path: Path, encoding: str
) -> None:
    """UTF-8, UTF-8 with a BOM and Shift_JIS read alike; a quoted record over two lines is
    numbered by its first line and the next record by its own."""
    assert read_csv(_file(tmp_path, TEXT.encode(encoding))) == RECORDS


def test_csv_from_an_uploads_bytes_reads_as_from_a_file(app_ctx: Flask) -> None:
    """An upload's bytes give the records a file would."""
    assert read_csv(TEXT.encode("utf-8-sig")) == RECORDS


def test_the_bom_is_not_part_of_the_first_cell(app_ctx: Flask) -> None:
    """A UTF-8 byte order mark is dropped, so the first header matches."""
    assert read_csv(b"\xef\xbb\xbfa,b\r\n")[0] == (1, ["a", "b"])


def test_utf16_is_refused_naming_the_line_with_the_nul(app_ctx: Flask, tmp_path: Path) -> None:
    """A UTF-16 file (NUL bytes between the characters) is refused with line 1 named."""
    with pytest.raises(TabularError) as error:
        read_csv(_file(tmp_path, "a,b\r\n".encode("utf-16")))
    assert error.value.errors[0].startswith("1行目: 使えない文字（NUL）")


def test_nul_on_a_later_line_names_that_line(app_ctx: Flask) -> None:
    """A NUL character on the third line is reported on line 3."""
    with pytest.raises(TabularError) as error:
        read_csv(b"a,b\r\nc,d\r\ne\x00,f\r\n")
    assert error.value.errors[0].startswith("3行目:")


def test_bytes_in_neither_encoding_are_refused_with_the_encodings_named(app_ctx: Flask) -> None:
    """Bytes that are neither UTF-8 nor Shift_JIS (0xFD) give the encoding message."""
    with pytest.raises(TabularError) as error:
        read_csv(b"a,b\r\n\xfd\xfe,c\r\n")
    assert "UTF-8 または Shift_JIS" in error.value.errors[0]


def test_a_file_over_max_bytes_is_refused_before_it_is_read(app_ctx: Flask, tmp_path: Path) -> None:
    """A file larger than ``max_bytes`` is refused with its size and the limit."""
    limits = SheetLimits(max_bytes=10, max_rows=100, max_unpacked_bytes=10**6)
    with pytest.raises(TabularError) as error:
        read_csv(_file(tmp_path, b"a,b\r\n" * 5), limits)
    assert "ファイルが大きすぎます" in error.value.errors[0]


def test_reading_stops_at_the_first_line_past_max_rows(app_ctx: Flask) -> None:
    """With ``max_rows`` 2, the third record is refused and named."""
    limits = SheetLimits(max_bytes=10**6, max_rows=2, max_unpacked_bytes=10**6)
    assert len(read_csv(b"a\r\nb\r\n", limits)) == 2
    with pytest.raises(TabularError) as error:
        read_csv(b"a\r\nb\r\nc\r\n", limits)
    assert error.value.errors[0].startswith("3行目: 行が多すぎます")


def test_a_missing_file_is_named(app_ctx: Flask, tmp_path: Path) -> None:
    """A path that does not exist is refused naming it, not an OSError."""
    with pytest.raises(TabularError) as error:
        read_csv(tmp_path / "none.csv")
    assert "ファイルを開けません" in error.value.errors[0]


def test_xlsx_cells_read_as_a_person_reads_them(app_ctx: Flask, tmp_path: Path) -> None:
    """The first sheet's rows, numbered from 1: a whole float as an integer, a date as ISO,
    an empty cell as ""; from a path or from bytes alike."""
    data = _book([["職員番号", "空", "日付"], [12345.0, None, date(2025, 4, 1)]])
    expected = [
        (1, ["職員番号", "空", "日付"]),
        (2, ["12345", "", "2025-04-01T00:00:00"]),
    ]
    assert read_xlsx(_file(tmp_path, data, "t.xlsx")) == expected
    assert read_xlsx(data, name="t.xlsx") == expected


def test_xlsx_values_come_from_the_named_sheet_as_stored(app_ctx: Flask) -> None:
    """``read_xlsx_values`` reads the sheet of that name (not the first) and keeps numbers."""
    data = _book([["基準 No", 99.3]], title="遵守率")
    assert read_xlsx_values(data, name="t.xlsx", sheet="遵守率") == [(1, ["基準 No", 99.3])]
    assert read_xlsx_values(data, name="t.xlsx")[0] == (1, ["ほかの表"])


def test_a_file_that_is_not_a_workbook_is_named(app_ctx: Flask, tmp_path: Path) -> None:
    """A .xlsx that is not a zip is refused with its name."""
    with pytest.raises(TabularError) as error:
        read_xlsx(_file(tmp_path, b"a,b\r\n", "bad.xlsx"))
    assert error.value.errors == ["Excel（.xlsx）のファイルとして読めません: bad.xlsx"]


def test_a_workbook_unpacking_past_the_limit_is_refused_before_it_is_opened(app_ctx: Flask) -> None:
    """A workbook whose parts unpack to more than ``max_unpacked_bytes`` is refused."""
    limits = SheetLimits(max_bytes=10**6, max_rows=100, max_unpacked_bytes=100)
    with pytest.raises(TabularError) as error:
        read_xlsx(_book([["a"]]), limits, name="t.xlsx")
    assert "展開すると" in error.value.errors[0]


def test_xlsx_reading_stops_past_max_rows(app_ctx: Flask) -> None:
    """With ``max_rows`` 2, a sheet's third row is refused and named."""
    limits = SheetLimits(max_bytes=10**6, max_rows=2, max_unpacked_bytes=10**6)
    with pytest.raises(TabularError) as error:
        read_xlsx(_book([["a"], ["b"], ["c"]]), limits, name="t.xlsx")
    assert error.value.errors[0].startswith("3行目: 行が多すぎます")


def test_a_reader_of_english_gets_the_encoding_message_in_english(app_ctx: Flask) -> None:
    """In English (a page in English), an unreadable encoding is explained in English."""
    from flask_babel import force_locale

    with force_locale("en"), pytest.raises(TabularError) as error:
        read_csv(b"a,b\r\n\xfd\xfe,c\r\n")
    assert error.value.errors[0].startswith("The character encoding cannot be read.")
