"""Compliance results of a round (app/services/results/compliance/) against hand-computed tables."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app import create_app
from app.extensions import db
from app.models import Audience, Response, Role, Standard
from app.services.results.compliance import (
    ALL,
    ResultsError,
    response_progress,
    round_results,
    rounds_for_committee,
    scene_column,
    std_column,
)
from tests import factories

STAFF, CHIEF = Role.STAFF, Role.CHIEF
PAST = datetime(2025, 11, 1, tzinfo=UTC)


def _closed_round(catalogue, **kwargs):
    return factories.round_(
        catalogue, opens_at=PAST, closes_at=PAST + timedelta(days=20), **kwargs
    )


def _people(section, values_list, round_, role=STAFF, submitted=True):
    """One person per answer dict, assigned to the section, with their response."""
    people = []
    for values in values_list:
        p = factories.person(section=section, role=role, fiscal_year=round_.fiscal_year)
        factories.response(round_, p, values, section=section, role=role, submitted=submitted)
        people.append(p)
    return people


@pytest.fixture
def small_round(app_ctx):
    """Four sections with a chief each; every count below is worked out by hand.

    staff std-1: S1 y y y n | S2 y y n | S3 y na y | S4 y y y  -> 10 yes, 2 no, 1 na -> 83.3
    staff std-2: all na -> '-'
    chief std-1: y y n (S4's chief only saved a draft) -> 2/3 -> 66.7
    chief std-2: y y y -> 100.0
    std-3: a city catalogue's ward-specific standard: not asked -> '-'
    sec-24 (section level): S1 y, S2 n, S3 y; S4 draft (not counted) -> 2/3 -> 66.7
    a staff draft of all 'no' in S1 is not counted
    """
    app_ctx.config["MIN_GROUP_SIZE"] = 3
    catalogue = factories.catalogue("city-2025", standards=3)
    std3 = next(s for s in catalogue.standards if s.key == "std-3")
    std3.ward_specific = True
    factories.section_standards(catalogue, (24, ()))
    round_ = _closed_round(catalogue)
    sections = [factories.section(f"S{i}") for i in range(1, 5)]
    staff = {
        0: ["yes", "yes", "yes", "no"],
        1: ["yes", "yes", "no"],
        2: ["yes", "na", "yes"],
        3: ["yes", "yes", "yes"],
    }
    for index, values in staff.items():
        _people(sections[index], [{"std-1": v, "std-2": "na"} for v in values], round_)
    _people(sections[0], [{"std-1": "no", "std-2": "no"}], round_, submitted=False)
    chiefs = [("yes", "yes"), ("yes", "no"), ("no", "yes")]
    for section, (own, sec) in zip(sections, chiefs, strict=False):
        _people(section, [{"std-1": own, "std-2": "yes", "sec-24": sec}], round_, role=CHIEF)
    _people(sections[3], [{"std-1": "no", "sec-24": "no"}], round_, role=CHIEF, submitted=False)
    db.session.commit()
    return round_.id


def _texts(results, group=ALL):
    return {
        row.standard.key: (row.current[STAFF].text, row.current[CHIEF].text)
        for row in results.table(group)
    }


def test_the_round_table_matches_the_hand_computed_one(small_round):
    """N/A left out, '-' cells, section-level answers, drafts ignored, as worked out by hand."""
    results = round_results(small_round)
    assert _texts(results) == {
        "std-1": ("83.3", "66.7"),
        "std-2": ("-", "100.0"),
        "std-3": ("-", "-"),
        "sec-24": ("-", "66.7"),
    }
    std1 = results.table()[0].current[STAFF]
    assert (std1.complies, std1.not_complies, std1.not_applicable) == (10, 2, 1)
    section_cell = results.table()[3].current[CHIEF]
    assert (section_cell.complies, section_cell.not_complies) == (2, 1)


def test_response_rates_count_submitted_of_the_year_roster(small_round):
    """Expected people come from the roster of the round's year; drafts are not responses."""
    results = round_results(small_round)
    staff = results.response_rate(ALL, STAFF)
    chief = results.response_rate(ALL, CHIEF)
    # 14 staff on the roster (13 + the one with a draft), 13 submitted; 4 chiefs, 3 submitted
    assert (staff.expected, staff.submitted, staff.text) == (14, 13, "92.9")
    assert (chief.expected, chief.submitted, chief.text) == (4, 3, "75.0")
    everyone = results.response_rate(ALL)
    assert (everyone.expected, everyone.submitted) == (18, 16)


def test_section_level_answers_are_shown_for_a_single_section(small_round):
    """A section's own answer is shown in the section's table though it is one answer."""
    results = round_results(small_round)
    s2 = next(g for g in results.groups if g.name == "S2")
    texts = _texts(results, s2.key)
    assert texts["sec-24"] == ("-", "0.0")
    # the chief's own answers in a section of one chief are hidden
    assert texts["std-1"][1] == "＊"


def test_rounding_down_changes_a_boundary_value(app_ctx):
    """15 of 16 is 93.75: half up shows 93.8, the 切り捨て setting 93.7."""
    catalogue = factories.catalogue("round-2025", standards=1)
    round_ = _closed_round(catalogue)
    section = factories.section("区民課")
    _people(section, [{"std-1": "yes"}] * 15 + [{"std-1": "no"}], round_)
    db.session.commit()
    assert round_results(round_.id).table()[0].current[STAFF].text == "93.8"
    app_ctx.config["RATE_ROUNDING"] = "down"
    assert round_results(round_.id).table()[0].current[STAFF].text == "93.7"


def test_last_year_is_matched_by_key_through_a_renumbered_standard(app_ctx):
    """Last year's No. 5 with the same key and other words sits beside this year's No. 2."""
    ward = factories.ward()
    old = factories.catalogue("old-2024", fiscal_year=2024, standards=0)
    old.standards.append(
        Standard(key="std-2", number=5, position=5, text="昔の文", scene="応対",
                 audience=Audience.EVERYONE)
    )
    db.session.flush()
    new = factories.catalogue("new-2025", fiscal_year=2025, standards=2)
    section = factories.section("区民課")
    before = factories.round_(
        old, opens_at=PAST - timedelta(days=365), closes_at=PAST - timedelta(days=340),
        wards=[ward],
    )
    now = _closed_round(new, wards=[ward])
    _people(section, [{"std-2": "yes"}] * 4 + [{"std-2": "no"}], before)
    # this year's people are the same section's FY2025 roster
    _people(section, [{"std-1": "yes", "std-2": "yes"}] * 5, now)
    db.session.commit()
    results = round_results(now.id)
    assert results.previous is not None and results.previous.id == before.id
    rows = {row.standard.key: row for row in results.table()}
    assert rows["std-2"].previous is not None
    assert rows["std-2"].previous[STAFF].text == "80.0"
    assert rows["std-2"].previous_number == 5 and rows["std-2"].renumbered
    assert rows["std-2"].change(STAFF) == Decimal("20.0")
    # a standard new this year has no history
    assert rows["std-1"].previous is not None and rows["std-1"].previous[STAFF].text == "-"
    assert rows["std-1"].previous_number is None


def test_a_round_without_a_previous_year_has_no_comparison(small_round):
    """With no round the year before, the previous column is absent, not zero."""
    results = round_results(small_round)
    assert results.previous is None
    assert all(row.previous is None for row in results.table())


@pytest.fixture
def department_round(app_ctx):
    """Department 区民サービス部: S1 6 staff, S2 7 staff, S3 3 staff; department 企画部: S4 8.

    Everyone answers std-1 and std-2 できている.
    """
    catalogue = factories.catalogue("dept-2025", standards=2)
    round_ = _closed_round(catalogue)
    sizes = {"S1": 6, "S2": 7, "S3": 3}
    for name, size in sizes.items():
        section = factories.section(name, department="区民サービス部")
        _people(section, [{"std-1": "yes", "std-2": "yes"}] * size, round_)
    s4 = factories.section("S4", department="企画部")
    _people(s4, [{"std-1": "yes", "std-2": "yes"}] * 8, round_)
    db.session.commit()
    return round_.id


def _group(results, name):
    return next(g for g in results.groups if g.name == name)


def test_a_small_section_and_its_smallest_sibling_are_hidden(department_round):
    """S3 (3 people) is hidden, and S1 (the smallest other part of the department) with it."""
    results = round_results(department_round)
    column = std_column("std-1")
    cells = {
        name: results.cell(_group(results, name).key, column, STAFF)
        for name in ("S1", "S2", "S3", "区民サービス部")
    }
    assert cells["S3"].state == "hidden" and cells["S1"].state == "hidden"
    assert cells["S2"].text == "100.0" and cells["区民サービス部"].text == "100.0"
    # hidden cells carry no counts for any page, API or export to leak
    assert cells["S3"].complies is None and cells["S3"].not_complies is None
    assert cells["S1"].complies is None


def test_a_cell_whose_rate_rests_on_few_answers_is_hidden_with_its_scene(app_ctx):
    """8 people, of whom 4 say N/A to std-2: its rate rests on 4 answers and is hidden, and so
    is the scene's total, which would give it away; std-1 stays shown."""
    catalogue = factories.catalogue("few-2025", standards=2)
    round_ = _closed_round(catalogue)
    section = factories.section("S")
    _people(section, [{"std-1": "yes", "std-2": "yes"}] * 4, round_)
    _people(section, [{"std-1": "no", "std-2": "na"}] * 4, round_)
    db.session.commit()
    results = round_results(round_.id)
    assert results.cell(ALL, std_column("std-2"), STAFF).state == "hidden"
    assert results.cell(ALL, std_column("std-1"), STAFF).text == "50.0"
    assert results.cell(ALL, scene_column("応対"), STAFF).state == "hidden"
    assert results.cell(ALL, ALL, STAFF).state == "hidden"


def test_breakdown_rows_follow_the_organisation(department_round):
    """Department rows come in order with their response rate and overall rate."""
    results = round_results(department_round)
    rows = results.breakdown("department", STAFF)
    assert [r.group.name for r in rows] == ["区民サービス部", "企画部"]
    assert rows[0].overall.text == "100.0"
    assert rows[0].response.expected == 16 and rows[0].response.text == "100.0"
    sections = results.breakdown("section", STAFF)
    assert [r.group.name for r in sections] == ["S1", "S2", "S3", "S4"]
    assert sections[2].response.state == "hidden"


def test_minimum_group_size_is_configurable_but_never_below_three(department_round, app_ctx):
    """With a minimum of 3, S3 is shown; a minimum of 2 refuses to start the app."""
    app_ctx.config["MIN_GROUP_SIZE"] = 3
    results = round_results(department_round)
    assert results.cell(_group(results, "S3").key, std_column("std-1"), STAFF).text == "100.0"
    with pytest.raises(ValueError, match="MIN_GROUP_SIZE"):
        create_app({"TESTING": True, "MIN_GROUP_SIZE": 2, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with pytest.raises(ValueError, match="RATE_ROUNDING"):
        create_app({"TESTING": True, "RATE_ROUNDING": "up", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_a_committee_member_of_one_ward_sees_only_that_ward(app_ctx):
    """A two-ward round read by a ward's committee shows that ward's groups and no total."""
    catalogue = factories.catalogue("two-2025", standards=1)
    takatsu, miyamae = factories.ward("高津区"), factories.ward("宮前区")
    round_ = _closed_round(catalogue, wards=[takatsu, miyamae])
    for ward_name in ("高津区", "宮前区"):
        section = factories.section("区民課", ward_name=ward_name)
        _people(section, [{"std-1": "yes"}] * 5, round_)
    db.session.commit()
    results = round_results(round_.id, ward_ids={miyamae.id})
    assert results.top.key == f"ward:{miyamae.id}"
    assert {g.ward_id for g in results.groups} == {miyamae.id}
    with pytest.raises(ResultsError):
        results.group(ALL)
    everyone = round_results(round_.id)
    assert everyone.top.key == ALL and everyone.top.name == "全体"
    other = factories.ward("中原区")
    with pytest.raises(ResultsError):
        round_results(round_.id, ward_ids={other.id})
    listed = rounds_for_committee({other.id})
    assert listed == []
    listed = rounds_for_committee({miyamae.id})
    assert [(o.expected, o.submitted) for o in listed] == [(5, 5)]


def test_progress_counts_submissions_by_tokyo_day(app_ctx):
    """Submissions at 23:30 and 00:30 Tokyo time fall on two days; drafts never count."""
    catalogue = factories.catalogue("prog-2025", standards=1)
    round_ = _closed_round(catalogue)
    section = factories.section("区民課")
    day1 = datetime(2025, 11, 3, 14, 30, tzinfo=UTC)  # 23:30 on 3 Nov in Tokyo
    day2 = datetime(2025, 11, 3, 15, 30, tzinfo=UTC)  # 00:30 on 4 Nov in Tokyo
    for moment in (day1, day1, day1, day2, day2, day2):
        p = factories.person(section=section, fiscal_year=round_.fiscal_year)
        factories.response(round_, p, {"std-1": "yes"}, section=section, submitted_at=moment)
    p = factories.person(section=section, fiscal_year=round_.fiscal_year)
    factories.response(round_, p, {"std-1": "yes"}, section=section, submitted=False)
    db.session.commit()
    points = response_progress(round_results(round_.id))
    assert [(p.day.isoformat(), p.submitted[STAFF], p.submitted[None]) for p in points] == [
        ("2025-11-03", 3, 3),
        ("2025-11-04", 6, 6),
    ]


def _count_queries(callable_):
    count = 0

    def counter(*_args, **_kwargs):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        callable_()
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return count


def test_the_number_of_queries_does_not_grow_with_people_or_sections(app_ctx):
    """Results of 12 people in 2 sections and of 120 in 12 take the same number of queries."""
    catalogue = factories.catalogue("scale-2025", standards=5)
    values = {f"std-{i}": "yes" for i in range(1, 6)}

    def build(round_, sections):
        for _ in range(sections):
            section = factories.section()
            _people(section, [values] * 9, round_)
            _people(section, [values], round_, role=CHIEF)

    small = _closed_round(catalogue, wards=[factories.ward("高津区")])
    build(small, 2)
    large = _closed_round(catalogue, wards=[factories.ward("宮前区")])
    db.session.flush()
    for _ in range(12):
        section = factories.section(ward_name="宮前区")
        _people(section, [values] * 9, large)
        _people(section, [values], large, role=CHIEF)
    db.session.commit()
    db.session.expire_all()

    def read(round_id):
        def run():
            results = round_results(round_id)
            results.table()
            results.breakdown("section", STAFF)
            response_progress(results)

        return run

    small_count = _count_queries(read(small.id))
    large_count = _count_queries(read(large.id))
    assert small_count == large_count
    assert large_count <= 20
    people = db.session.scalar(sa.select(sa.func.count()).select_from(Response))
    assert people == 120 + 20


def test_rounds_list_hides_the_total_the_round_page_hides(app_ctx):
    """5 staff and 2 chiefs: the round page hides the chiefs and so the total (whole − staff
    would give them); the committee's list hides that total too, not just totals under 5."""
    catalogue = factories.catalogue("list-2025", standards=1)
    round_ = _closed_round(catalogue)
    sections = [factories.section("区民課"), factories.section("保険年金課")]
    _people(sections[0], [{"std-1": "yes"}] * 5, round_)
    for section in sections:
        _people(section, [{"std-1": "yes"}], round_, role=CHIEF)
    db.session.commit()
    page = round_results(round_.id)
    assert page.response_rate(ALL, None).state == "hidden"
    assert page.response_rate(ALL, STAFF).state == "shown"
    listed = rounds_for_committee(None)
    assert [(o.expected, o.submitted, o.rate) for o in listed] == [(None, None, None)]


def test_rounds_list_sums_several_shown_wards_of_the_reader(app_ctx):
    """A reader of two of a round's three wards sees the sum of those two wards' shown rates."""
    catalogue = factories.catalogue("list3-2025", standards=1)
    wards = [factories.ward(name) for name in ("高津区", "宮前区", "中原区")]
    round_ = _closed_round(catalogue, wards=wards)
    for ward, count in zip(wards, (5, 6, 7), strict=True):
        section = factories.section("区民課", ward_name=ward.name)
        _people(section, [{"std-1": "yes"}] * count, round_)
    db.session.commit()
    listed = rounds_for_committee({wards[0].id, wards[1].id})
    assert [(o.expected, o.submitted) for o in listed] == [(11, 11)]
