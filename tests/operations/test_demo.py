"""`flask demo` builds a believable ward: catalogues, three years of people, two past rounds."""

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import (
    Answer,
    Assignment,
    Audience,
    Grant,
    GrantRole,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
    SectionAnswer,
    Standard,
    Ward,
    round_ward,
)
from app.services.operations.demo import CITY_CATALOGUE, CITY_WARDS, DEMO_PASSWORD, DEMO_WARD


def _count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_demo_builds_ward_people_and_rounds(app, runner):
    """高津区 has about 20 sections, about 350 people a year, two closed rounds and one open
    now without answers."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "900001" in result.output and DEMO_PASSWORD in result.output
    with app.app_context():
        takatsu = db.session.scalars(sa.select(Ward).where(Ward.name == DEMO_WARD)).one()
        in_takatsu = Section.ward_id == takatsu.id
        sections = _count(Section, in_takatsu)
        assert 18 <= sections <= 22
        for year in (2024, 2025, 2026):
            of_year = sa.and_(
                Assignment.fiscal_year == year,
                Assignment.section_id.in_(sa.select(Section.id).where(in_takatsu)),
            )
            assert 330 <= _count(Assignment, of_year) <= 400
            assert _count(Assignment, of_year, Assignment.role == Role.CHIEF) == sections
        every = [r for r in _rounds_of(DEMO_WARD)]
        rounds = [r for r in every if not r.is_open()]
        assert [r.fiscal_year for r in rounds] == [2024, 2025]
        # One round open now and still unanswered, to try the checklist at once.
        (open_round,) = [r for r in every if r.is_open()]
        assert _count(Response, Response.round_id == open_round.id) == 0
        assert "お試し" in result.output
        for round_ in rounds:
            submitted = _count(
                Response,
                Response.round_id == round_.id,
                Response.status == ResponseStatus.SUBMITTED,
            )
            assert submitted > 300


def _rounds_of(ward_name: str) -> list[Round]:
    return list(
        db.session.scalars(
            sa.select(Round)
            .join(round_ward, round_ward.c.round_id == Round.id)
            .join(Ward, Ward.id == round_ward.c.ward_id)
            .where(Ward.name == ward_name)
            .order_by(Round.fiscal_year, Round.id)
        )
    )


def test_demo_builds_the_whole_city(app, runner):
    """The seven wards of 川崎市 in the city's order; each other ward has its people and two
    closed rounds on the city's catalogue, with enough respondents for results to show."""
    runner.invoke(args=["demo"])
    with app.app_context():
        wards = db.session.scalars(sa.select(Ward).order_by(Ward.sort_order)).all()
        assert [w.name for w in wards] == list(CITY_WARDS)
        for ward in wards:
            if ward.name == DEMO_WARD:
                continue
            rounds = _rounds_of(ward.name)
            assert [(r.fiscal_year, r.catalogue.key) for r in rounds] == [
                (2024, CITY_CATALOGUE),
                (2025, CITY_CATALOGUE),
            ]
            assert not any(r.is_open() for r in rounds)
            for round_ in rounds:
                submitted = _count(
                    Response,
                    Response.round_id == round_.id,
                    Response.status == ResponseStatus.SUBMITTED,
                )
                assert submitted >= 25, ward.name


def test_demo_answers_follow_who_answers_what(app, runner):
    """Personal answers are to `everyone` standards; section answers come from chiefs only."""
    runner.invoke(args=["demo"])
    with app.app_context():
        wrong_personal = _count(
            Answer,
            Answer.standard_id.in_(
                sa.select(Standard.id).where(Standard.audience == Audience.SECTION)
            ),
        )
        assert wrong_personal == 0
        section_answers = db.session.execute(
            sa.select(Response.role, sa.func.count())
            .join(SectionAnswer, SectionAnswer.response_id == Response.id)
            .group_by(Response.role)
        ).all()
        assert dict(section_answers).keys() == {Role.CHIEF}
        # Only sections of the matching kind answer 26-27 (庁舎管理担当課).
        kinds_26 = db.session.scalars(
            sa.select(Section.name)
            .join(SectionAnswer, SectionAnswer.section_id == Section.id)
            .join(Standard, Standard.id == SectionAnswer.standard_id)
            .where(Standard.number == 26)
            .distinct()
        ).all()
        assert set(kinds_26) == {"総務課", "橘出張所", "管理担当"}
        # Submitted responses answered every personal standard of their catalogue.
        incomplete = db.session.execute(
            sa.select(Response.id)
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .where(Response.status == ResponseStatus.SUBMITTED)
            .group_by(Response.id)
            .having(sa.func.count(Answer.id) < 20)
        ).all()
        assert incomplete == []


def test_demo_keeps_past_assignments_across_transfers(app, runner):
    """Some people change section between years, and each year keeps its own section."""
    runner.invoke(args=["demo"])
    with app.app_context():
        a24 = sa.orm.aliased(Assignment)
        a25 = sa.orm.aliased(Assignment)
        moved = db.session.scalars(
            sa.select(sa.func.count())
            .select_from(a24)
            .join(a25, a25.person_id == a24.person_id)
            .where(a24.fiscal_year == 2024, a25.fiscal_year == 2025)
            .where(a24.section_id != a25.section_id)
        ).one()
        assert moved > 0
        left = db.session.scalars(
            sa.select(sa.func.count())
            .select_from(a24)
            .where(a24.fiscal_year == 2024)
            .where(
                ~sa.exists().where(
                    Assignment.person_id == a24.person_id, Assignment.fiscal_year == 2025
                )
            )
        ).one()
        assert left > 0


def test_demo_accounts_can_sign_in_with_the_printed_password(app, runner):
    """The five demo accounts have the printed password; committee (one ward and the city) and
    admin are granted."""
    runner.invoke(args=["demo"])
    with app.app_context():
        accounts = {
            p.employee_id: p
            for p in db.session.scalars(
                sa.select(Person).where(
                    Person.employee_id.in_(["900001", "900002", "900003", "900004", "900005"])
                )
            )
        }
        assert len(accounts) == 5
        assert all(
            check_password_hash(p.password_hash or "", DEMO_PASSWORD) for p in accounts.values()
        )
        roles = {
            (g.person.employee_id, g.role, g.ward_id is None)
            for g in db.session.scalars(sa.select(Grant))
        }
        assert roles == {
            ("900003", GrantRole.COMMITTEE, False),
            ("900004", GrantRole.ADMIN, False),
            ("900005", GrantRole.COMMITTEE, True),  # the whole city
        }
        chief = db.session.scalars(
            sa.select(Assignment).where(
                Assignment.person_id == accounts["900002"].id, Assignment.fiscal_year == 2026
            )
        ).one()
        assert chief.role == Role.CHIEF and chief.section.name == "総務課"


def test_demo_twice_keeps_the_existing_data(app, runner):
    """Running the demo again adds nothing and says the demo is already there."""
    runner.invoke(args=["demo"])
    with app.app_context():
        before = (_count(Person), _count(Answer), _count(Round))
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0
    assert "作成済み" in again.output
    with app.app_context():
        assert (_count(Person), _count(Answer), _count(Round)) == before
