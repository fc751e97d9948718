"""Safe cells: text written to a spreadsheet (xlsx or CSV) is never read back as a formula.

Section names come from the roster, round titles from admins and standard texts from the
catalogue files; a name such as ``=HYPERLINK("http://x","y")`` would otherwise become a live
formula when the committee opens the download in Excel (CSV injection, OWASP). Every writer of
xlsx or CSV cells passes its values through ``safe_text`` (``reports/xlsx.py``,
``reports/csv_files.py``); docs/exports.md describes the rule.
"""

from __future__ import annotations

from typing import TypeVar

# What Excel, LibreOffice and Google Sheets start a formula (or DDE call) with (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The table's "nobody could answer" mark is a lone hyphen: no formula, and the report shows it.
NO_ANSWER_MARK = "-"

V = TypeVar("V")


def safe_text(value: V) -> V | str:
    """``value`` as a cell may hold it: text that starts like a formula gets a leading ``'``.

    Numbers (negative ones too), None and other non-text values are returned unchanged, so
    that rates and counts stay numbers; ``"-"`` alone (the no-answer mark) stays as it is.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and value != NO_ANSWER_MARK:
        return "'" + value
    return value


def plain_text(value: str) -> str:
    """The text ``safe_text`` protected, as it was: a leading ``'`` before what starts a
    formula is taken off (``'=A1`` → ``=A1``). Readers of files Kijun writes (the roster)
    use it, so that a file downloaded and read again is unchanged."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
