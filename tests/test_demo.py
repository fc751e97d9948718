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
)
from app.services.demo import DEMO_PASSWORD


def _count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_demo_builds_ward_people_and_rounds(app, runner):
    """The demo has about 20 sections, about 350 people a year, two closed rounds and one open
    now without answers."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "900001" in result.output and DEMO_PASSWORD in result.output
    with app.app_context():
        assert 18 <= _count(Section) <= 22
        for year in (2024, 2025, 2026):
            assert 330 <= _count(Assignment, Assignment.fiscal_year == year) <= 400
            chiefs = _count(
                Assignment, Assignment.fiscal_year == year, Assignment.role == Role.CHIEF
            )
            assert chiefs == _count(Section)
        every = db.session.scalars(sa.select(Round).order_by(Round.fiscal_year)).all()
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
    """The four demo accounts have the printed password; committee and admin are granted."""
    runner.invoke(args=["demo"])
    with app.app_context():
        accounts = {
            p.employee_id: p
            for p in db.session.scalars(
                sa.select(Person).where(
                    Person.employee_id.in_(["900001", "900002", "900003", "900004"])
                )
            )
        }
        assert len(accounts) == 4
        assert all(
            check_password_hash(p.password_hash or "", DEMO_PASSWORD) for p in accounts.values()
        )
        roles = {(g.person.employee_id, g.role) for g in db.session.scalars(sa.select(Grant))}
        assert roles == {("900003", GrantRole.COMMITTEE), ("900004", GrantRole.ADMIN)}
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
