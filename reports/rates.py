"""The compliance rate rule (遵守率), in exact integer arithmetic.

rate = complies ÷ (complies + does not comply) × 100, not-applicable excluded, to one decimal.
Rounding is half up (四捨五入) by default, or down (切り捨て) for wards whose past reports
truncated. Integers only, so a value exactly on a .x5 boundary is never mis-rounded by
binary floating point.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

Rounding = Literal["half_up", "down"]
ROUNDINGS: tuple[Rounding, ...] = ("half_up", "down")

# What a cell shows when the standard is not asked of the group or nobody could answer it.
NO_RATE = "-"
# What a cell shows when it is hidden to protect a small group.
HIDDEN = "＊"


def compliance_rate(
    complies: int, not_complies: int, rounding: Rounding = "half_up"
) -> Decimal | None:
    """The rate to one decimal, or None when nobody answered できている or できていない."""
    if complies < 0 or not_complies < 0:
        raise ValueError("counts cannot be negative")
    answered = complies + not_complies
    if answered == 0:
        return None
    numerator = complies * 1000  # tenths of a percent
    if rounding == "half_up":
        tenths = (2 * numerator + answered) // (2 * answered)
    elif rounding == "down":
        tenths = numerator // answered
    else:
        raise ValueError(f"unknown rounding: {rounding!r} (use one of {ROUNDINGS})")
    return Decimal(tenths).scaleb(-1)


def percentage(part: int, whole: int, rounding: Rounding = "half_up") -> Decimal | None:
    """``part`` of ``whole`` in percent to one decimal (e.g. a response rate); None if whole=0."""
    if whole <= 0:
        return None
    part = min(part, whole)  # a person moved in during the round is not counted twice
    return compliance_rate(part, whole - part, rounding)


def format_rate(rate: Decimal | None) -> str:
    """``Decimal('97.8')`` -> ``97.8``, ``Decimal('100.0')`` -> ``100.0``, None -> ``-``."""
    if rate is None:
        return NO_RATE
    return f"{rate:.1f}"
