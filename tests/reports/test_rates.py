"""The compliance rate rule in reports/rates.py, without an app."""

from decimal import Decimal

import pytest

from reports.rates import compliance_rate, format_rate, percentage


def test_not_applicable_is_left_out_of_the_rate():
    """7 complies and 2 does not comply is 77.8 whatever the not-applicable count."""
    assert compliance_rate(7, 2) == Decimal("77.8")


def test_half_up_rounds_a_five_in_the_second_decimal_up():
    """15 of 16 is 93.75: 四捨五入 gives 93.8."""
    assert compliance_rate(15, 1, "half_up") == Decimal("93.8")
    assert compliance_rate(1, 15, "half_up") == Decimal("6.3")


def test_down_truncates_a_five_in_the_second_decimal():
    """15 of 16 is 93.75: 切り捨て gives 93.7."""
    assert compliance_rate(15, 1, "down") == Decimal("93.7")
    assert compliance_rate(1, 15, "down") == Decimal("6.2")


def test_exact_arithmetic_on_a_boundary_that_floats_get_wrong():
    """Boundaries round as decimal arithmetic does, not as binary floats do."""
    # 2001 of 20000 is exactly 10.005 %: to one decimal 10.0 in both modes
    assert compliance_rate(2001, 20000 - 2001) == Decimal("10.0")
    # 199 of 200 is exactly 99.5
    assert compliance_rate(199, 1) == Decimal("99.5")
    # 1987 of 2000 is exactly 99.35: half up 99.4 (a float computation gives 99.35000000000001
    # or 99.34999999999999 depending on the order of operations)
    assert compliance_rate(1987, 13) == Decimal("99.4")
    assert compliance_rate(1987, 13, "down") == Decimal("99.3")


def test_nobody_answering_gives_no_rate():
    """With no complies and no does-not-comply there is no rate, shown as '-'."""
    assert compliance_rate(0, 0) is None
    assert format_rate(None) == "-"


def test_full_compliance_shows_one_decimal():
    """100 % is shown as 100.0 and a whole number keeps its one decimal."""
    assert format_rate(compliance_rate(5, 0)) == "100.0"
    assert format_rate(compliance_rate(4, 1)) == "80.0"


def test_unknown_rounding_and_negative_counts_are_refused():
    """A misspelt rounding mode or a negative count raises instead of giving a number."""
    with pytest.raises(ValueError):
        compliance_rate(1, 1, "bankers")  # type: ignore[arg-type]  # the wrong mode under test
    with pytest.raises(ValueError):
        compliance_rate(-1, 2)


def test_percentage_of_a_whole():
    """A response rate is part of whole in percent; nothing expected gives no rate."""
    assert percentage(350, 362) == Decimal("96.7")
    assert percentage(0, 0) is None
    assert percentage(5, 4) == Decimal("100.0")
