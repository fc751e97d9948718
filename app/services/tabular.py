"""Reading tabular files: CSV and Excel (.xlsx), with line numbers and size limits.

Every import of a sheet reads it here: the roster (``app.services.organisation.roster``), the goal
sheets (``app.services.goals.goals``) and last year's published tables
(``app.services.results.published``). Each reader returns the file's records as ``(line, cells)``,
the line being the file's own (the header is line 1, a CSV record spanning lines is numbered by its
first line), so that the caller can name the line of each problem. The callers parse the cells;
nothing here knows a column.

- CSV is UTF-8 (a byte order mark is dropped) when the file is valid UTF-8, else Shift_JIS
  (cp932, as Excel saves it on Japanese Windows). A NUL character (a UTF-16 or binary file) is
  refused with its line number.
- Excel is the workbook's first sheet (or a named one), read as a stream.
- Limits (``SheetLimits``: settings ``IMPORT_MAX_BYTES``, ``IMPORT_MAX_ROWS``,
  ``IMPORT_MAX_UNPACKED_BYTES``, docs/deploy.md) are checked before the file is parsed, and the
  reading stops at the first line past ``max_rows``.

A file that cannot be read raises ``TabularError`` with one message, in the reader's language
(Japanese by default, as the command line prints it); nothing is written anywhere.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from flask import current_app, has_app_context
from flask_babel import gettext as _

from app.config import Defaults
from app.services.errors import DomainError

if TYPE_CHECKING:  # openpyxl is imported when a workbook is read: most requests never do
    from openpyxl.workbook.workbook import Workbook

# A file on disk, or an upload's bytes.
Source = Path | bytes
# (line number, cells) of one record.
Line = tuple[int, list[str]]
Cell = TypeVar("Cell")

# Python's cp932 decodes the single bytes 0x80, 0xA0 and 0xFD-0xFF, which no Shift_JIS text
# contains (a UTF-16 file starts with 0xFF 0xFE), to these characters.
_NOT_SHIFT_JIS = frozenset("\x80\uf8f0\uf8f1\uf8f2\uf8f3")
CSV_ENCODINGS = ("utf-8-sig", "cp932")


class TabularError(DomainError):
    """The file cannot be read as a table; ``errors`` holds the one reason."""


@dataclass(frozen=True)
class SheetLimits:
    """How much of a roster or goal sheet is read: the file's bytes, its lines (the header
    included) and, for .xlsx, its parts unpacked. Settings ``IMPORT_MAX_*`` (docs/deploy.md)."""

    max_bytes: int = Defaults.IMPORT_MAX_BYTES
    max_rows: int = Defaults.IMPORT_MAX_ROWS
    max_unpacked_bytes: int = Defaults.IMPORT_MAX_UNPACKED_BYTES

    @classmethod
    def current(cls) -> SheetLimits:
        """The app's settings, or the defaults outside an app."""
        if not has_app_context():
            return cls()
        config = current_app.config
        return cls(
            int(config.get("IMPORT_MAX_BYTES", cls.max_bytes)),
            int(config.get("IMPORT_MAX_ROWS", cls.max_rows)),
            int(config.get("IMPORT_MAX_UNPACKED_BYTES", cls.max_unpacked_bytes)),
        )


def read_csv(source: Source, limits: SheetLimits | None = None) -> list[Line]:
    """(line number where the record starts, cells) for each CSV record of ``source``.

    UTF-8 (a BOM is dropped) if the file is valid UTF-8, else Shift_JIS (cp932). Read a record
    at a time, stopping at the first line past ``max_rows``; a NUL character (a UTF-16 or
    binary file) is refused with its line number. ``TabularError`` when the file is too large,
    cannot be opened, is in neither encoding or is not CSV.
    """
    limits = limits or SheetLimits.current()
    _check_size(source, limits)
    for encoding in CSV_ENCODINGS:
        try:
            return _csv_records(source, encoding, limits)
        except _NotThisEncoding:
            continue
    raise TabularError(
        [
            _(
                "文字コードを読み取れません。"
                "CSV は UTF-8 または Shift_JIS（cp932）で保存してください。"
            )
        ]
    )


def read_xlsx(source: Source, limits: SheetLimits | None = None, name: str = "") -> list[Line]:
    """(row number, cells as text) for each row of the workbook's first sheet, read as a
    stream (openpyxl's read-only mode) after the size checks, stopping past ``max_rows``.
    A cell reads as a person would read it: ``12345.0`` is ``"12345"``, a date ISO, empty ``""``.
    ``name`` names an upload in messages (a path names itself)."""
    return _read_sheet(source, limits or SheetLimits.current(), name, None, cell_text)


def read_xlsx_values(
    source: Source, limits: SheetLimits | None = None, *, name: str = "", sheet: str = ""
) -> list[tuple[int, list[object]]]:
    """``read_xlsx`` with each cell's value as stored (numbers stay numbers, empty is None),
    from the sheet called ``sheet`` when the workbook has one, else the first."""
    return _read_sheet(source, limits or SheetLimits.current(), name, sheet, _as_stored)


def cell_text(value: object) -> str:
    """An Excel cell as the text a person would read in it (12345.0 -> "12345")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# --- The checks and the two formats -------------------------------------------------------


class _NotThisEncoding(Exception):
    """The file is not in the encoding being tried."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _label(source: Source, name: str = "") -> str:
    """How a message names the file: its path, or the upload's name."""
    return str(source) if isinstance(source, Path) else name


def _cannot_open(source: Source, exc: OSError) -> TabularError:
    reason = exc.strerror or str(exc)
    return TabularError(
        [_("ファイルを開けません: %(file)s（%(reason)s）", file=_label(source), reason=reason)]
    )


def _not_a_workbook(source: Source, name: str) -> TabularError:
    shown = source.name if isinstance(source, Path) else name
    return TabularError([_("Excel（.xlsx）のファイルとして読めません: %(name)s", name=shown)])


def _check_size(source: Source, limits: SheetLimits) -> None:
    """TabularError when the file cannot be opened or is larger than ``max_bytes``."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise _cannot_open(source, exc) from exc
    if size > limits.max_bytes:
        raise TabularError(
            [
                _(
                    "ファイルが大きすぎます（%(size)s）。%(max)s までにしてください。",
                    size=_megabytes(size),
                    max=_megabytes(limits.max_bytes),
                )
            ]
        )


def _too_many_rows(line: int, limits: SheetLimits) -> TabularError:
    return TabularError(
        [
            _(
                "%(line)s行目: 行が多すぎます。見出しを含めて %(max)s 行までにしてください"
                "（ここで読むのをやめました）。",
                line=line,
                max=limits.max_rows,
            )
        ]
    )


def _nul_in_line(line: int) -> TabularError:
    return TabularError(
        [
            _(
                "%(line)s行目: 使えない文字（NUL）が入っています。CSV は "
                "UTF-8 または Shift_JIS（cp932）のテキストで保存してください"
                "（UTF-16 の「Unicode テキスト」は読めません）。",
                line=line,
            )
        ]
    )


@contextmanager
def _text_stream(source: Source, encoding: str) -> Iterator[IO[str]]:
    """The file as text in ``encoding``, newlines left to the CSV reader."""
    if isinstance(source, bytes):
        with io.TextIOWrapper(io.BytesIO(source), encoding=encoding, newline="") as stream:
            yield stream
    else:
        with source.open(encoding=encoding, newline="") as stream:
            yield stream


def _csv_records(source: Source, encoding: str, limits: SheetLimits) -> list[Line]:
    out: list[Line] = []
    start = 1
    try:
        with _text_stream(source, encoding) as stream:
            reader = csv.reader(stream)
            for cells in reader:
                if len(out) >= limits.max_rows:
                    raise _too_many_rows(start, limits)
                if any("\x00" in cell for cell in cells):
                    raise _nul_in_line(start)
                if encoding == "cp932" and any(not _NOT_SHIFT_JIS.isdisjoint(c) for c in cells):
                    raise _NotThisEncoding
                out.append((start, cells))
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise _NotThisEncoding from exc
    except OSError as exc:
        raise _cannot_open(source, exc) from exc
    except csv.Error as exc:
        problem = _("%(line)s行目: CSV として読めません（%(reason)s）", line=start, reason=str(exc))
        raise TabularError([problem]) from exc
    return out


def _check_unpacked_size(source: Source, limits: SheetLimits, name: str) -> None:
    """TabularError when the parts of an .xlsx (a zip) add up to more than
    ``max_unpacked_bytes`` once unpacked: read from the zip's directory before anything is
    unpacked (a small file can unpack to gigabytes; Python's zip reader stops at the sizes the
    directory states, so they bound what opening it can cost)."""
    try:
        with zipfile.ZipFile(_file_like(source)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except OSError as exc:
        raise _cannot_open(source, exc) from exc
    except zipfile.BadZipFile as exc:
        raise _not_a_workbook(source, name) from exc
    if unpacked > limits.max_unpacked_bytes:
        raise TabularError(
            [
                _(
                    "Excel のファイルが大きすぎます（展開すると %(size)s）。%(max)s までに"
                    "してください（行を減らすか、ファイルを分けてください）。",
                    size=_megabytes(unpacked),
                    max=_megabytes(limits.max_unpacked_bytes),
                )
            ]
        )


def _as_stored(value: object) -> object:
    return value


def _read_sheet(
    source: Source,
    limits: SheetLimits,
    name: str,
    sheet: str | None,
    convert: Callable[[object], Cell],
) -> list[tuple[int, list[Cell]]]:
    """The rows of a sheet (``sheet`` if the workbook has it, else the first), each cell
    given to ``convert``, after the size checks, stopping past ``max_rows``."""
    _check_size(source, limits)
    _check_unpacked_size(source, limits, name)
    out: list[tuple[int, list[Cell]]] = []
    with _workbook(source, name) as workbook:
        named = sheet and sheet in workbook.sheetnames
        worksheet = workbook[sheet] if sheet and named else workbook.worksheets[0]
        worksheet.reset_dimensions()  # some writers record wrong sheet dimensions
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if number > limits.max_rows:
                raise _too_many_rows(number, limits)
            out.append((number, [convert(v) for v in values]))
    return out


def _file_like(source: Source) -> Path | IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else source


@contextmanager
def _workbook(source: Source, name: str) -> Iterator[Workbook]:
    """The workbook opened read-only (values, not formulas), closed after use."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    with warnings.catch_warnings():
        # openpyxl warns about workbook features it does not read (data validation, styles...).
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            workbook = load_workbook(_file_like(source), read_only=True, data_only=True)
        except OSError as exc:
            raise _cannot_open(source, exc) from exc
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
            raise _not_a_workbook(source, name) from exc
        try:
            yield workbook
        finally:
            workbook.close()
