"""The names of the files people download, as the office files them (docs/exports.md):
``令和7年度_高津区_遵守率.xlsx``, ``令和7年度_高津区_総務課_遵守率.xlsx``,
``令和7年度_市全体_遵守率.xlsx``, ``令和7年度_高津区_実施状況報告書.pdf``.

``download_name`` is the one place a name is made: the fiscal year in 令和 (``app/wareki.py``),
the scope (the city, or a ward and within it a department or a section) and what the file is.
Each name has an ASCII twin (``FY2025_ward-2_section-14_compliance.xlsx``) for the clients that
read only the plain ``filename`` of the header (RFC 6266); ``DownloadName.content_disposition``
writes both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from app.wareki import fiscal_year_label

DownloadKind = Literal[
    "compliance", "compliance-long", "comments", "annual-report", "actions", "roster",
    "roster-template",
]

# What the file is: (its Japanese word in the name, its ASCII word).
KINDS: dict[DownloadKind, tuple[str, str]] = {
    "compliance": ("遵守率", "compliance"),
    "compliance-long": ("遵守率_件数つき", "compliance-long"),
    "comments": ("コメント", "comments"),
    "annual-report": ("実施状況報告書", "annual-report"),
    "actions": ("改善の取組", "improvement-actions"),
    "roster": ("名簿", "roster"),
    "roster-template": ("名簿の見本", "roster-template"),
}

# Characters no file name may hold on Windows (and control characters), taken out of names
# that come from the roster.
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_NOT_ASCII_WORD = re.compile(r"[^A-Za-z0-9-]+")
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# RFC 5987 attr-char: what may stand unescaped in ``filename*`` (as Werkzeug's send_file).
_ATTR_CHARS = "!#$&+-.^_`|~"


@dataclass(frozen=True)
class NamePart:
    """One level of a download's scope: its name and an ASCII stand-in (``ward-2``)."""

    name: str
    ascii: str


CITY = NamePart("市全体", "city")


def ward_part(ward_id: int, name: str) -> NamePart:
    """A ward: ``高津区`` / ``ward-2``."""
    return NamePart(name, f"ward-{ward_id}")


def wards_part(wards: Sequence[tuple[int, str]]) -> NamePart:
    """Several wards together: ``高津区・宮前区`` / ``wards-2-5``."""
    return NamePart("・".join(n for _i, n in wards), "wards-" + "-".join(str(i) for i, _n in wards))


@dataclass(frozen=True)
class DownloadName:
    """A file's name (``text``) and its plain ASCII twin (``ascii``)."""

    text: str
    ascii: str

    @property
    def content_disposition(self) -> str:
        """``attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded text>``."""
        plain = _NOT_ASCII_NAME.sub("-", self.ascii)  # nothing to escape in the quotes
        quoted = quote(self.text, safe=_ATTR_CHARS)
        return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quoted}"


def _clean(name: str) -> str:
    return " ".join(_UNSAFE.sub("", name).split())


def download_name(
    fiscal_year: int, scope: Sequence[NamePart], kind: DownloadKind, suffix: str
) -> DownloadName:
    """The name of a file of ``fiscal_year`` for ``scope`` (outermost first), e.g.
    ``令和7年度_高津区_総務課_遵守率.xlsx`` and ``FY2025_ward-2_section-14_compliance.xlsx``;
    ``suffix`` is the extension with its dot."""
    word, ascii_word = KINDS[kind]
    names = [fiscal_year_label(fiscal_year), *(_clean(p.name) for p in scope), word]
    plain = [f"FY{fiscal_year}", *(_NOT_ASCII_WORD.sub("-", p.ascii) for p in scope), ascii_word]
    return DownloadName(
        "_".join(n for n in names if n) + suffix, "_".join(p for p in plain if p) + suffix
    )
