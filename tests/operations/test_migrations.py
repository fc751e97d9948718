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


def test_titles_and_names_are_repaired_onto_one_line(empty_database_url):
    """Rows written before the one-line rule (app/services/one_line.py) are repaired by its
    migration: each control character a space, spaces collapsed; a section's repaired name its
    ward already has gets the row's id; a repaired round's revision moves on."""
    from datetime import UTC, datetime, timedelta

    from app.models import UTCDateTime

    now = datetime.now(UTC)

    def table(name: str, *columns: str, **typed: sa.types.TypeEngine[datetime]) -> sa.TableClause:
        return sa.table(name, *(sa.column(c) for c in columns),
                        *(sa.column(c, t) for c, t in typed.items()))

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="citycrlf0001-1")  # the schema just before the repair
        with db.engine.begin() as conn:
            ward = table("ward", "id", "name", "sort_order")
            conn.execute(sa.insert(ward), [
                {"id": 1, "name": "高津\r\n区", "sort_order": 1},
                {"id": 2, "name": "宮前区", "sort_order": 2},
            ])
            conn.execute(sa.insert(table("department", "id", "ward_id", "name", "sort_order")),
                         [{"id": 1, "ward_id": 1, "name": "区民\u2028サービス部", "sort_order": 0}])
            conn.execute(
                sa.insert(table("section", "id", "ward_id", "department_id", "name", "sort_order")),
                [{"id": 1, "ward_id": 1, "department_id": 1, "name": "総務 課", "sort_order": 0},
                 {"id": 2, "ward_id": 1, "department_id": 1, "name": "総務\t課", "sort_order": 1},
                 {"id": 3, "ward_id": 2, "department_id": None, "name": "総務\n課",
                  "sort_order": 0}],
            )
            conn.execute(
                sa.insert(table("person", "id", "employee_id", "name", created_at=UTCDateTime())),
                [{"id": 1, "employee_id": "100001", "name": "山田\r\nBcc: x@example.jp",
                  "created_at": now},
                 {"id": 2, "employee_id": "100002", "name": "佐藤  花子", "created_at": now}],
            )
            conn.execute(
                sa.insert(table("catalogue", "id", "key", "title", "fiscal_year",
                                loaded_at=UTCDateTime())),
                [{"id": 1, "key": "c-2025", "title": "令和7年度\x85基準", "fiscal_year": 2025,
                  "loaded_at": now}],
            )
            conn.execute(
                sa.insert(table("round", "id", "title", "catalogue_id", "fiscal_year",
                                opens_at=UTCDateTime(), closes_at=UTCDateTime(),
                                created_at=UTCDateTime())),
                [{"id": 1, "title": "点検\r\nBcc: evil@example.jp", "catalogue_id": 1,
                  "fiscal_year": 2025, "opens_at": now, "closes_at": now + timedelta(days=1),
                  "created_at": now}],
            )
        upgrade()
        with db.engine.connect() as conn:
            def names(name: str, column: str = "name") -> list[object]:
                return list(conn.scalars(sa.text(f"SELECT {column} FROM {name} ORDER BY id")))

            assert names("ward") == ["高津 区", "宮前区"]
            assert names("department") == ["区民 サービス部"]
            assert names("section") == ["総務 課", "総務 課 (2)", "総務 課"]
            assert names("person") == ["山田 Bcc: x@example.jp", "佐藤  花子"]  # no control: as is
            assert names("catalogue", "title") == ["令和7年度 基準"]
            assert names("round", "title") == ["点検 Bcc: evil@example.jp"]
            assert names("round", "revision") == [1]
            assert names("catalogue", "revision") == [1]
        db.engine.dispose()


def test_rounds_counted_before_get_the_organisation_as_it_stands(empty_database_url):
    """Upgrading a database whose rounds were counted before ``round_section`` existed writes
    each counted round's sections with their department and ward as they stand then (the best
    record there is of them); a round not counted yet gets none (it is written at its close)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    when = "2025-11-01 00:00:00+00:00"
    with app.app_context():
        upgrade(revision="snapshot0001-1")  # the schema just before round_section
        with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO ward (id, name, sort_order) VALUES (1, '高津区', 3), (2, '幸区', 2)",
                "INSERT INTO department (id, ward_id, name, sort_order)"
                " VALUES (1, 1, '区民サービス部', 5)",
                "INSERT INTO section (id, ward_id, department_id, name, sort_order)"
                " VALUES (1, 1, 1, '区民課', 7), (2, 1, NULL, '危機管理担当', 8),"
                " (3, 2, NULL, '幸区の課', 1)",
                "INSERT INTO catalogue (id, key, title, fiscal_year, loaded_at, revision)"
                f" VALUES (1, 'c', 'c', 2025, '{when}', 0)",
                "INSERT INTO round (id, title, catalogue_id, fiscal_year, opens_at, closes_at,"
                " created_at, reminder_days, counted_at, revision) VALUES"
                f" (1, 'counted', 1, 2025, '2025-10-01 00:00:00+00:00', '{when}', '{when}', '',"
                f" '{when}', 0), (2, 'not counted', 1, 2025, '2025-10-01 00:00:00+00:00',"
                f" '{when}', '{when}', '', NULL, 0)",
                "INSERT INTO round_ward (round_id, ward_id) VALUES (1, 1), (2, 1), (2, 2)",
            ):
                conn.execute(sa.text(statement))
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT round_id, section_id, section_name, section_order, department_id,"
                    " department_name, department_order, ward_id, ward_name, ward_order"
                    " FROM round_section ORDER BY round_id, section_id"
                )
            ).all()
        db.engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, 1, "区民課", 7, 1, "区民サービス部", 5, 1, "高津区", 3),
        (1, 2, "危機管理担当", 8, None, None, None, 1, "高津区", 3),
    ]
