"""How a request's transaction ends: anything a request wrote but did not commit is thrown
away; the checklist's pages, which run without a transaction, keep PostgreSQL's prepared
statements."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Ward
from tests import factories


@pytest.fixture
def routes(app):
    """Three views that break the house rule on purpose, to see what the teardown does."""

    def read() -> str:
        ward = db.session.scalar(sa.select(Ward).where(Ward.name == "高津区"))
        return ward.name if ward else "-"

    def write_orm() -> str:
        db.session.add(Ward(name="ORMで書いた区"))
        db.session.flush()
        return "written, not committed"

    def write_core() -> str:
        db.session.execute(sa.insert(Ward).values(name="SQLで書いた区", sort_order=0))
        return "written, not committed"

    def write_text() -> str:
        db.session.execute(
            sa.text(
                "WITH named AS (SELECT 'CTEで書いた区' AS name) "
                "INSERT INTO ward (name, sort_order) SELECT name, 0 FROM named"
            )
        )
        return "written, not committed"

    def fail() -> str:
        db.session.execute(sa.insert(Ward).values(name="失敗した区", sort_order=0))
        raise RuntimeError("planned failure")

    for view in (read, write_orm, write_core, write_text, fail):
        app.add_url_rule(f"/test/{view.__name__}", view.__name__, view)
    return app


def _ward_names(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Ward.name)))


@pytest.mark.parametrize("view", ["write_orm", "write_core", "write_text"])
def test_a_write_that_was_not_committed_is_thrown_away(routes, client, view):
    """A view that writes (through the ORM, a Core INSERT or SQL text starting with WITH) but
    never commits leaves nothing."""
    assert client.get(f"/test/{view}").status_code == 200
    assert _ward_names(routes) == set()


def test_a_failed_request_leaves_nothing(routes, client):
    """A view that wrote and then failed is rolled back: the 500 page, and no row."""
    routes.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/test/fail").status_code == 500
    assert _ward_names(routes) == set()


def test_a_checklist_page_keeps_the_prepared_statements(app, client, sign_in):
    """On PostgreSQL, after a few views of a checklist page its query is a prepared statement
    that is still there afterwards: the page runs without a transaction, so no ROLLBACK makes
    psycopg forget it."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    with app.app_context():
        person = factories.person(section=factories.section(), fiscal_year=2025)
        round_ = factories.round_(factories.catalogue())
        db.session.commit()
        person_id, round_id = person.id, round_.id
    sign_in(person_id)
    for _ in range(7):  # psycopg prepares a statement on its fifth use
        assert client.get(f"/rounds/{round_id}/checklist").status_code == 200
    with app.app_context():
        prepared = db.session.scalars(
            sa.text("SELECT statement FROM pg_prepared_statements")
        ).all()
    assert any("FROM round" in statement for statement in prepared), prepared
