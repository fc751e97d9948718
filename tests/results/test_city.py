"""The city page: the shared standards across the wards' closed rounds of a fiscal year, the
city's rate from counts, the small-group rule against differencing, and who may see it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    AuditEvent,
    Grant,
    GrantRole,
    Response,
    ResponseStatus,
    Role,
    Round,
    SectionAnswer,
    Standard,
    Ward,
    round_ward,
)
from app.services.operations.demo import CITY_WARDS, build_demo
from app.services.results.city import ALL_STANDARDS, CITY, city_results
from app.services.results.compliance import final_results, std_column
from tests import factories

NOW = datetime.now(UTC)
YEAR = 2025


def _rate(yes: int, no: int) -> Decimal | None:
    """The rate rule written out again, independently of reports/rates.py."""
    if yes + no == 0:
        return None
    return (Decimal(yes * 100) / Decimal(yes + no)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _hand_counts(fiscal_year: int) -> dict[tuple[str, Role, str], list[int]]:
    """Per (ward name, role, standard key): [yes, no] straight from the answers table, over
    the submitted responses of each ward's closed round of the year ("*city*": every ward)."""
    rounds = db.session.execute(
        sa.select(Round.id, Ward.name)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .join(Ward, Ward.id == round_ward.c.ward_id)
        .where(Round.fiscal_year == fiscal_year, Round.closes_at < NOW)
    ).all()
    counts: dict[tuple[str, Role, str], list[int]] = {}
    for round_id, ward_name in rounds:
        personal = db.session.execute(
            sa.select(Response.role, Standard.key, Answer.value, sa.func.count())
            .join(Response, Response.id == Answer.response_id)
            .join(Standard, Standard.id == Answer.standard_id)
            .where(Response.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)
            .group_by(Response.role, Standard.key, Answer.value)
        ).all()
        sectional = db.session.execute(
            sa.select(sa.literal("chief"), Standard.key, SectionAnswer.value, sa.func.count())
            .join(Response, Response.id == SectionAnswer.response_id)
            .join(Standard, Standard.id == SectionAnswer.standard_id)
            .where(SectionAnswer.round_id == round_id, Response.status == ResponseStatus.SUBMITTED)
            .group_by(Standard.key, SectionAnswer.value)
        ).all()
        for role, key, value, n in [*personal, *sectional]:
            if AnswerValue(value) is AnswerValue.NA:
                continue
            index = 0 if AnswerValue(value) is AnswerValue.YES else 1
            for name in (ward_name, "*city*"):
                counts.setdefault((name, Role(role), key), [0, 0])[index] += n
    return counts


@pytest.mark.parametrize("fiscal_year", [2024, 2025])
def test_city_rates_equal_hand_counts_over_the_seven_demo_wards(app, fiscal_year):
    """Every ward's rate and the city's on the city page equal the rates worked out by hand
    from the answers table; the city's is the sum of counts, not an average of the wards'. A
    ward's cell is hidden exactly where its own round's page hides it, and the city's wherever
    a ward's is."""
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        db.session.commit()
        results = city_results(fiscal_year)
        db.session.commit()
        hand = _hand_counts(fiscal_year)
        names = {w.id: w.name for w in results.wards}
        assert [names[w.id] for w in results.wards_with_rounds] == list(CITY_WARDS)
        assert [s.number for s in results.standards] == list(range(1, 29))
        pages = {w.id: final_results(w.round_id) for w in results.wards_with_rounds if w.round_id}
        shown = hidden = city_shown = 0
        for standard in results.standards:
            for role in (Role.STAFF, Role.CHIEF):
                city = results.cell(CITY, role, standard.key)
                expected = hand.get(("*city*", role, standard.key))
                if expected is None:
                    assert city.state == "empty", (standard.number, role)
                    continue
                wards_hidden = False
                for ward in results.wards_with_rounds:
                    cell = results.cell(ward.id, role, standard.key)
                    page = pages[ward.id]
                    group = next(g.key for g in page.groups if g.ward_id == ward.id)
                    on_page = page.cell(group, std_column(standard.key), role)
                    assert (cell.state == "hidden") == (on_page.state == "hidden")
                    if cell.state == "hidden":
                        hidden += 1
                        wards_hidden = True
                        continue
                    shown += cell.state == "shown"
                    ward_counts = hand.get((ward.name, role, standard.key), [0, 0])
                    assert cell.rate == _rate(*ward_counts), (ward.name, standard.number)
                if wards_hidden:
                    assert city.state == "hidden", (standard.number, role)
                    continue
                city_shown += 1
                assert city.state == "shown" and city.rate == _rate(*expected)
                assert (city.complies, city.not_complies) == tuple(expected)
        assert shown > 250  # most of the 357 cells are shown: the demo wards are large enough
        assert hidden > 0  # 麻生区's chiefs are fewer than MIN_GROUP_SIZE
        assert city_shown >= len(results.standards)  # the staff's city rates are all shown
        # Not an average of averages: for some standard the two differ.
        differs = False
        for standard in results.standards:
            rates = [
                results.cell(w.id, Role.STAFF, standard.key).rate
                for w in results.wards_with_rounds
            ]
            city_rate = results.cell(CITY, Role.STAFF, standard.key).rate
            if None not in rates and city_rate is not None:
                total = sum((Decimal(r) for r in rates if r is not None), Decimal(0))
                mean = (total / len(rates)).quantize(Decimal("0.1"), ROUND_HALF_UP)
                differs = differs or mean != city_rate
        assert differs


def _ward_with_people(name, round_, answers, role=Role.STAFF):
    """A ward of one section whose people answered ``answers`` (one dict each)."""
    section = factories.section(f"{name}の課", ward_name=name)
    for values in answers:
        person = factories.person(section=section, role=role, fiscal_year=round_.fiscal_year)
        factories.response(round_, person, values, section=section, role=role)
    return section


@pytest.fixture
def three_wards(app):
    """A city catalogue (std-1..3) and three wards' rounds closed yesterday: 川崎区 with 6
    staff, 幸区 with 7 staff (2 do not comply with std-1), 麻生区 with only 2 staff."""
    with app.app_context():
        catalogue = factories.catalogue("city-test", fiscal_year=YEAR, standards=3)
        rounds = {}
        for name, answers in (
            ("川崎区", [{"std-1": "yes", "std-2": "yes", "std-3": "yes"}] * 6),
            ("幸区", [{"std-1": "no", "std-2": "yes", "std-3": "yes"}] * 2
                    + [{"std-1": "yes", "std-2": "yes", "std-3": "yes"}] * 5),
            ("麻生区", [{"std-1": "no", "std-2": "no", "std-3": "yes"}] * 2),
        ):  # fmt: skip
            round_ = factories.closed_round(
                catalogue, wards=[factories.ward(name)], fiscal_year=YEAR
            )
            _ward_with_people(name, round_, answers)
            rounds[name] = round_.id
        db.session.commit()
    return rounds


def test_the_city_total_minus_the_shown_wards_does_not_give_a_small_ward_away(app, three_wards):
    """Differencing attack: 麻生区 (2 people) is hidden; 川崎区 and 幸区 are shown, here as on
    their own round pages, so no ward is hidden to cover it: the city's total is hidden, on
    every standard and on all standards together."""
    with app.app_context():
        results = city_results(YEAR)
        by_name = {w.name: w.id for w in results.wards}
        for key in ("std-1", "std-2", "std-3", ALL_STANDARDS):
            assert results.cell(by_name["麻生区"], Role.STAFF, key).state == "hidden"
            assert results.cell(CITY, Role.STAFF, key).state == "hidden", key
            for name in ("川崎区", "幸区"):
                assert results.cell(by_name[name], Role.STAFF, key).state == "shown"
        assert results.cell(by_name["幸区"], Role.STAFF, "std-1").rate == Decimal("71.4")


def test_the_city_total_is_shown_where_no_ward_is_hidden(app):
    """With every ward shown, nothing is hidden: the city's rate is the sum of the wards' counts
    (std-1: 6 + 5 + 4 of 6 + 7 + 5 comply), and so is its line of all standards."""
    with app.app_context():
        catalogue = factories.catalogue("city-large", fiscal_year=YEAR, standards=2)
        yes, no = {"std-1": "yes", "std-2": "yes"}, {"std-1": "no", "std-2": "yes"}
        for name, answers in (
            ("川崎区", [yes] * 6), ("幸区", [no] * 2 + [yes] * 5), ("麻生区", [no] + [yes] * 4),
        ):  # fmt: skip
            round_ = factories.closed_round(catalogue, wards=[factories.ward(name)])
            _ward_with_people(name, round_, answers)
        db.session.commit()
        results = city_results(YEAR)
        city = results.cell(CITY, Role.STAFF, "std-1")
        assert city.state == "shown" and (city.complies, city.not_complies) == (15, 3)
        assert results.cell(CITY, Role.STAFF, ALL_STANDARDS).state == "shown"
        assert {c.state for c in results.cells.values()} <= {"shown", "empty"}


def test_only_closed_rounds_count(app, three_wards):
    """A round still open in the year adds nothing to the city page, not even its ward."""
    with app.app_context():
        catalogue = db.session.scalars(
            sa.select(Round).where(Round.id == three_wards["川崎区"])
        ).one().catalogue
        open_round = factories.round_(
            catalogue,
            wards=[factories.ward("中原区")],
            fiscal_year=YEAR,
            opens_at=NOW - timedelta(days=1),
            closes_at=NOW + timedelta(days=5),
        )
        _ward_with_people("中原区", open_round, [{"std-1": "no"}] * 9)
        db.session.commit()
        results = city_results(YEAR)
        nakahara = next(w for w in results.wards if w.name == "中原区")
        assert nakahara.round_id is None
        assert not [key for key in results.cells if key[0] == nakahara.id]
        assert [w.name for w in results.wards_with_rounds] == ["川崎区", "幸区", "麻生区"]


def _committee(ward_name: str | None, role: GrantRole = GrantRole.COMMITTEE):
    person = factories.person()
    ward_id = factories.ward(ward_name).id if ward_name else None
    person.grants.append(Grant(role=role, ward_id=ward_id))
    db.session.commit()
    return person.id


@pytest.mark.parametrize(
    "grant", [(GrantRole.COMMITTEE, "川崎区"), (GrantRole.ADMIN, "川崎区")]
)
def test_a_ward_committee_member_or_admin_cannot_see_the_city_page(
    app, client, sign_in, three_wards, grant
):
    """Someone granted for one ward gets a 403 on the city page and its xlsx, and no link."""
    role, ward_name = grant
    with app.app_context():
        sign_in(_committee(ward_name, role))
    assert client.get("/results/city").status_code == 403
    assert client.get("/results/city.xlsx").status_code == 403
    assert "/results/city" not in client.get("/results/").get_data(as_text=True)


def test_a_city_committee_member_sees_the_page_and_downloads_an_audited_xlsx(
    app, client, sign_in, three_wards
):
    """A grant with no ward opens the city page (table, chart, link from the results list);
    the xlsx (令和7年度_市全体_遵守率.xlsx) holds the same numbers; the page is a read and the
    file a download of each round it includes, in the audit log."""
    with app.app_context():
        sign_in(_committee(None))
    assert 'href="/results/city"' in client.get("/results/").get_data(as_text=True)
    page = client.get("/results/city")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "chart-city" in html and "縦軸は" in html
    assert "各区の遵守率の平均ではありません" in html
    response = client.get(f"/results/city.xlsx?year={YEAR}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="FY2025_city_compliance.xlsx"; '
        f"filename*=UTF-8''{quote('令和7年度_市全体_遵守率.xlsx')}"
    )
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if r[0] == "基準 No")
    assert header[2:4] == ("市全体 職員", "市全体 所属長")
    std1 = next(r for r in rows if r[0] == "基準1")
    # 麻生区 hidden, and with it the city's total (川崎区 and 幸区 are on their own pages).
    assert header[4::2] == ("川崎区 職員", "幸区 職員", "麻生区 職員")
    assert std1[2] == "＊" and std1[8] == "＊"
    assert std1[4] == pytest.approx(100.0) and std1[6] == pytest.approx(71.4)
    with app.app_context():
        rounds = sorted(str(round_id) for round_id in three_wards.values())
        for action in ("results.read", "results.download"):
            events = db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action)
            ).all()
            assert sorted(e.target_id or "" for e in events) == rounds
            assert {e.target_type for e in events} == {"round"}
        assert all(f'"fiscal_year":{YEAR}' in (e.after or "") for e in events)


@pytest.mark.parametrize(
    ("query", "status"), [("?year=abc", 400), ("?role=boss", 400), ("?year=1999", 404)]
)
def test_bad_city_queries_are_refused_plainly(app, client, sign_in, three_wards, query, status):
    """A year or role that is not a choice gets a 4xx page in Japanese, not a 500."""
    with app.app_context():
        sign_in(_committee(None))
    response = client.get(f"/results/city{query}")
    assert response.status_code == status
    assert "結果を表示できません" in response.get_data(as_text=True)

