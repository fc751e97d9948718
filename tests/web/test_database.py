"""How a request's transaction ends: read-only work keeps PostgreSQL's prepared statements,
anything a request wrote but did not commit is still thrown away."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Ward


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


def test_a_read_only_request_keeps_the_prepared_statements(routes, client):
    """On PostgreSQL, after a few page views the view's query is a prepared statement that is
    still there afterwards: the read-only transaction ended with COMMIT, not ROLLBACK."""
    if not routes.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    with routes.app_context():
        db.session.add(Ward(name="高津区"))
        db.session.commit()
    for _ in range(7):  # psycopg prepares a statement on its fifth use
        assert client.get("/test/read").get_data(as_text=True) == "高津区"
    with routes.app_context():
        prepared = db.session.scalars(
            sa.text("SELECT statement FROM pg_prepared_statements")
        ).all()
    assert any("FROM ward" in statement for statement in prepared), prepared
