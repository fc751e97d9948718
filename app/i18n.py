"""The language of the pages: Japanese unless the person chose English with the switch.

The choice is a ``lang`` cookie set by ``/language/<code>`` (``auth.language``). The browser's
Accept-Language is deliberately ignored: the service is Japanese first, and a browser set to
English must not turn the staff's pages English by surprise. The translations are in
``app/translations`` (docs/language.md).
"""

from datetime import date, datetime

from flask import current_app, has_request_context, request
from flask_babel import lazy_gettext as _l

from app.wareki import REIWA_START, TOKYO, fiscal_year_label, reiwa_date, reiwa_datetime, tokyo

LANGUAGES: tuple[str, ...] = ("ja", "en")
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """Flask-Babel's locale selector: the ``lang`` cookie when valid, else the default (ja)."""
    if has_request_context():
        chosen = request.cookies.get(LANG_COOKIE)
        if chosen in LANGUAGES:
            return chosen
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "ja")


# Dates: Japanese pages write the city's era (令和7年11月28日 17時15分); English pages write the
# Western date only (28 November 2025, 17:15), which an English reader needs no table to read.
# The exports and the annual report keep the era: they reproduce the city's report layout and use
# ``app.wareki`` directly.
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def is_english() -> bool:
    """True when the page being rendered is English."""
    from flask_babel import get_locale

    return has_request_context() and str(get_locale() or "") == "en"


def _day(day: date | datetime) -> date:
    if isinstance(day, datetime):
        return (day.astimezone(TOKYO) if day.tzinfo is not None else day).date()
    return day


def english_date(day: date | datetime) -> str:
    """``2026-03-31`` -> ``31 March 2026`` (an aware instant on the city's clock)."""
    d = _day(day)
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def english_datetime(moment: datetime) -> str:
    """An instant on the city's clock: ``28 November 2025, 17:15``."""
    local = tokyo(moment)
    return f"{english_date(local)}, {local.hour}:{local.minute:02d}"


def western_date_ja(day: date | datetime) -> str:
    """The ``western_date`` filter: ``2025年11月28日``, the Western date that Japanese pages put
    beside the era (an aware instant on the city's clock)."""
    d = _day(day)
    return f"{d.year}年{d.month}月{d.day}日"


def localized_fiscal_year_label(fiscal_year: int) -> str:
    """The ``fiscal_year_label`` filter: ``令和7年度``, or ``FY2025`` on English pages."""
    return f"FY{fiscal_year}" if is_english() else fiscal_year_label(fiscal_year)


def localized_date(day: date | datetime) -> str:
    """The ``reiwa_date`` filter: ``令和8年3月31日``, or ``31 March 2026`` on English pages."""
    return english_date(day) if is_english() else reiwa_date(day)


def localized_datetime(moment: datetime) -> str:
    """The ``reiwa_datetime`` filter: the era, or the Western date and time on English pages."""
    return english_datetime(moment) if is_english() else reiwa_datetime(moment)


# The scenes (場面) of the standards (``app.models.SCENES``, in its order) are the catalogue's data,
# stored in Japanese, and headings on the pages: an English page shows them in English.
SCENE_WORDS = (
    _l("お知らせ"), _l("応対"), _l("対面"), _l("地域訪問"),
    _l("共通"), _l("庁内体制"), _l("庁舎案内"),
)  # fmt: skip


def scene_label(scene: str) -> str:
    """The ``scene_label`` filter: a scene as the page's language says it (``お知らせ``,
    ``Notices``); a scene the city has not listed is shown as it is stored."""
    from app.models import SCENES

    words = dict(zip(SCENES, SCENE_WORDS, strict=True))
    return str(words[scene]) if scene in words else scene


def localized_period(start: datetime, end: datetime) -> str:
    """A period from day to day on the city's clock: ``令和9年11月1日〜11月26日`` (the year
    once when both days share it), or ``1 November 2027 – 26 November 2027`` in English."""
    if is_english():
        return f"{english_date(start)} – {english_date(end)}"
    first, last = _day(start), _day(end)
    if first.year != last.year or (first < REIWA_START <= last):
        return f"{reiwa_date(first)}〜{reiwa_date(last)}"
    return f"{reiwa_date(first)}〜{last.month}月{last.day}日"


def localized_list(items: list[str]) -> str:
    """Names one after the other: ``高津区、宮前区``, or ``Takatsu, Miyamae`` in English."""
    return (", " if is_english() else "、").join(items)
