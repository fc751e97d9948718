"""The ten-year trend (app/services/results/compliance/trend.py ``compliance_trend``) against
hand-computed rates."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import Role
from app.services.results.compliance import ALL, compliance_trend, round_results, std_column
from tests import factories

STAFF, CHIEF = Role.STAFF, Role.CHIEF


def _round(catalogue, year, wards, closed=True):
    opens = datetime(year, 11, 1, tzinfo=UTC)
    if not closed:
        return factories.round_(catalogue, wards=wards, fiscal_year=year)
    return factories.round_(
        catalogue, wards=wards, fiscal_year=year, opens_at=opens, closes_at=opens + timedelta(20)
    )


def _answer(round_, section, values_list, role=STAFF, submitted=True):
    for values in values_list:
        p = factories.person(section=section, role=role, fiscal_year=round_.fiscal_year)
        factories.response(round_, p, values, section=section, role=role, submitted=submitted)


@pytest.fixture
def city(app_ctx):
    """Two wards, two closed city rounds (2024, 2025) and an open one (2026).

    2024 (std-1 numbered 1): 高津 staff y y y n, 宮前 staff y y n  -> 5/7 = 71.4
    2025 (std-1 renumbered 2): 高津 staff y y y y, 宮前 staff y n na y -> 6/7 = 85.7
           chiefs: 高津 y, 宮前 n (own answers, 1 each: hidden); section answers y, n -> 50.0
    drafts are ignored; the open 2026 round is not in the trend.
    """
    app_ctx.config["MIN_GROUP_SIZE"] = 3
    takatsu, miyamae = factories.ward("高津区"), factories.ward("宮前区")
    s_t = factories.section("総務課", ward_name="高津区")
    s_m = factories.section("区民課", ward_name="宮前区")
    c24 = factories.catalogue("city-2024", fiscal_year=2024, standards=1)
    c25 = factories.catalogue("city-2025", fiscal_year=2025, standards=2)
    c25.standards[0].key = "tmp"  # std-1 is No. 2 in 2025
    db.session.flush()
    c25.standards[1].key = "std-1"
    db.session.flush()
    c25.standards[0].key = "std-2"
    db.session.flush()
    factories.section_standards(c25, (24, ()))
    c26 = factories.catalogue("city-2026", fiscal_year=2026, standards=1)
    r24 = _round(c24, 2024, [takatsu, miyamae])
    _answer(r24, s_t, [{"std-1": v} for v in ("yes", "yes", "yes", "no")])
    _answer(r24, s_m, [{"std-1": v} for v in ("yes", "yes", "no")])
    r25 = _round(c25, 2025, [takatsu, miyamae])
    _answer(r25, s_t, [{"std-1": "yes", "std-2": "yes"}] * 4)
    _answer(r25, s_m, [{"std-1": v, "std-2": "yes"} for v in ("yes", "no", "na", "yes")])
    _answer(r25, s_m, [{"std-1": "no", "std-2": "no"}] * 3, submitted=False)
    _answer(r25, s_t, [{"std-1": "yes", "std-2": "yes", "sec-24": "yes"}], role=CHIEF)
    _answer(r25, s_m, [{"std-1": "no", "std-2": "yes", "sec-24": "no"}], role=CHIEF)
    r26 = _round(c26, 2026, [takatsu, miyamae], closed=False)
    _answer(r26, s_t, [{"std-1": "no"}] * 5)
    db.session.commit()
    return {"takatsu": takatsu.id, "miyamae": miyamae.id, "r25": r25.id}


def _row(trend, key, role):
    return [trend.cell(key, role, year).text for year in trend.fiscal_years]


def test_trend_follows_a_key_across_years_with_hand_computed_rates(city):
    """Rates per year by key (renumbered std-1 keeps its history), drafts and open rounds out."""
    trend = compliance_trend()
    assert trend.fiscal_years == (2024, 2025)
    assert _row(trend, "std-1", STAFF) == ["71.4", "85.7"]
    assert _row(trend, "std-2", STAFF) == ["-", "100.0"]
    cell = trend.cell("std-1", STAFF, 2025)
    assert (cell.complies, cell.not_complies, cell.not_applicable) == (6, 1, 1)
    assert [s.key for s in trend.standards] == ["std-2", "std-1", "sec-24"]
    assert trend.standards[1].number == 2


def test_small_groups_are_hidden_but_section_answers_are_shown(city):
    """Two chiefs' own answers are hidden (＊, no counts); their section answers are shown."""
    trend = compliance_trend()
    hidden = trend.cell("std-1", CHIEF, 2025)
    assert hidden.text == "＊" and hidden.complies is None
    assert _row(trend, "sec-24", CHIEF) == ["-", "50.0"]


def test_a_ward_hidden_in_the_round_table_is_hidden_in_its_trend(city, app_ctx):
    """宮前's 3 answering staff are too few at size 4; 高津, its only sibling, is hidden with it
    exactly as in the round's table, while the city-wide trend stays shown."""
    app_ctx.config["MIN_GROUP_SIZE"] = 4
    results = round_results(city["r25"])
    column = std_column("std-1")
    assert results.cell(f"ward:{city['miyamae']}", column, STAFF).text == "＊"
    assert results.cell(f"ward:{city['takatsu']}", column, STAFF).text == "＊"
    assert compliance_trend([city["miyamae"]]).cell("std-1", STAFF, 2025).text == "＊"
    assert compliance_trend([city["takatsu"]]).cell("std-1", STAFF, 2025).text == "＊"
    city_wide = compliance_trend([city["takatsu"], city["miyamae"]])
    assert city_wide.cell("std-1", STAFF, 2025).text == results.cell(ALL, column, STAFF).text
    assert city_wide.cell("std-1", STAFF, 2025).text == "85.7"


def test_trend_equals_each_round_table(city):
    """Every trend cell is the round table's cell for the same year, standard and role."""
    trend = compliance_trend()
    results = round_results(city["r25"])
    for row in results.table():
        for role in (STAFF, CHIEF):
            assert trend.cell(row.standard.key, role, 2025).text == row.current[role].text


def test_years_keeps_the_latest_fiscal_years(city):
    """years=1 keeps only the latest closed fiscal year."""
    assert compliance_trend(years=1).fiscal_years == (2025,)


def test_trend_queries_do_not_grow_with_people(app_ctx):
    """The trend runs the same number of queries for 6 people as for 60."""
    app_ctx.config["MIN_GROUP_SIZE"] = 3

    def queries(people: int) -> int:
        section = factories.section(f"課{people}")
        catalogue = factories.catalogue(f"city-{people}", fiscal_year=2025, standards=3)
        round_ = _round(catalogue, 2025, [factories.ward()])
        _answer(round_, section, [{"std-1": "yes", "std-2": "no", "std-3": "na"}] * people)
        db.session.commit()
        seen = []

        def counter(*_args, **_kwargs):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            compliance_trend()
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return len(seen)

    assert queries(6) == queries(60)
