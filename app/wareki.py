"""Japanese era (令和) dates as the city writes them."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

REIWA_START = date(2019, 5, 1)


def fiscal_year_label(fiscal_year: int) -> str:
    """``2025`` -> ``令和7年度`` (the fiscal year starting in April 2025)."""
    if fiscal_year < 2019:
        return f"平成{fiscal_year - 1988}年度"
    n = fiscal_year - 2018
    return "令和元年度" if n == 1 else f"令和{n}年度"


def fiscal_year_of(day: date | datetime) -> int:
    """The fiscal year (April-March) a day falls in."""
    return day.year if day.month >= 4 else day.year - 1


def reiwa_date(day: date | datetime) -> str:
    """``2026-03-31`` -> ``令和8年3月31日``. An aware instant is dated on the city's clock."""
    if isinstance(day, datetime):
        d = (day.astimezone(TOKYO) if day.tzinfo is not None else day).date()
    else:
        d = day
    if d < REIWA_START:
        return f"平成{d.year - 1988}年{d.month}月{d.day}日"
    n = d.year - 2018
    year = "元" if n == 1 else str(n)
    return f"令和{year}年{d.month}月{d.day}日"


TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(moment: datetime) -> datetime:
    """The same instant on the city's clock (Asia/Tokyo)."""
    return moment.astimezone(TOKYO)


def tokyo_date(moment: datetime) -> date:
    """The day an instant falls on, on the city's clock (Asia/Tokyo)."""
    return tokyo(moment).date()


def reiwa_datetime(moment: datetime) -> str:
    """An instant as the city writes a deadline: ``令和7年11月28日 17時15分``."""
    local = tokyo(moment)
    return f"{reiwa_date(local)} {local.hour}時{local.minute:02d}分"
