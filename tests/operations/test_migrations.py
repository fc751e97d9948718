"""The migrations build the models' schema on an empty database, on both engines."""

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new empty database: a SQLite file, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    name = f"kijun_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_builds_the_models_schema_with_no_difference(empty_database_url):
    """`flask db upgrade` on an empty database leaves nothing for autogenerate to add."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, db.metadata)
            tables = set(sa.inspect(conn).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert {"person", "assignment", "catalogue", "standard", "response", "answer"} <= tables


def test_downgrade_then_upgrade_round_trips(empty_database_url):
    """The initial migration can be undone and redone (a failed deploy can roll back)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        with db.engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        upgrade()
        with db.engine.connect() as conn:
            again = set(sa.inspect(conn).get_table_names())
        db.engine.dispose()
    assert left == set()
    assert "standard" in again


@pytest.mark.skipif(not PG_URL, reason="INCLUDE columns are PostgreSQL's")
def test_a_rounds_answers_are_counted_from_the_unique_index_alone(empty_database_url):
    """On PostgreSQL the migrated answer index carries the value, so counting one round's
    answers by standard needs no visit to the answer table (an index-only scan)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            definition = conn.execute(
                sa.text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE indexname = 'uq_answer_response_id_standard_id'"
                )
            ).scalar_one()
            # An empty table: rule out the plans that only win on tiny tables.
            conn.execute(sa.text("SET enable_seqscan = off"))
            conn.execute(sa.text("SET enable_bitmapscan = off"))
            plan = "\n".join(
                conn.execute(
                    sa.text(
                        "EXPLAIN SELECT a.standard_id, count(*) FILTER (WHERE a.value = 'yes') "
                        "FROM answer a WHERE a.response_id = ANY(ARRAY[1, 2, 3]) "
                        "GROUP BY a.standard_id"
                    )
                ).scalars()
            )
        db.engine.dispose()
    assert "UNIQUE" in definition and "INCLUDE (value)" in definition
    assert "Index Only Scan using uq_answer_response_id_standard_id" in plan


@pytest.mark.skipif(not PG_URL, reason="INCLUDE columns are PostgreSQL's")
def test_a_rounds_response_rates_are_counted_from_indexes_alone(empty_database_url):
    """On PostgreSQL the migrated roster and response indexes carry the role (and section), so
    the two counts behind a round's response rates are index-only scans."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    queries = {
        "ix_assignment_fiscal_year_section_id": (
            "EXPLAIN SELECT section_id, role, count(*) FROM assignment "
            "WHERE fiscal_year = 2025 GROUP BY section_id, role"
        ),
        "ix_response_round_id_status": (
            "EXPLAIN SELECT section_id, role, count(*) FROM response "
            "WHERE round_id = 1 AND status = 'submitted' GROUP BY section_id, role"
        ),
    }
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            conn.execute(sa.text("SET enable_seqscan = off"))
            conn.execute(sa.text("SET enable_bitmapscan = off"))
            found = {}
            for name, query in queries.items():
                definition = conn.execute(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                    {"name": name},
                ).scalar_one()
                plan = "\n".join(conn.execute(sa.text(query)).scalars())
                found[name] = (definition, plan)
        db.engine.dispose()
    assert "INCLUDE (role)" in found["ix_assignment_fiscal_year_section_id"][0]
    assert "INCLUDE (section_id, role)" in found["ix_response_round_id_status"][0]
    for name, (_definition, plan) in found.items():
        assert f"Index Only Scan using {name}" in plan, plan
