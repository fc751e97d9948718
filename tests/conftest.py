"""Fixtures: an app on a fresh database per test, on SQLite or on the PostgreSQL server
named by ``KIJUN_TEST_DATABASE_URL`` (the README test command runs the suite on both)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app
from app.auth.sessions import session_values
from app.extensions import db
from app.models import Person

pytest_plugins = ["tests.browser_support"]


def _worker_database(url: str, worker: str) -> str:
    """Under pytest-xdist (.ci/test), each worker's own PostgreSQL database beside the given
    one (``kijun_test_gw0``, …), made empty here, so that the workers never share a table."""
    given = sa.engine.make_url(url)
    own = given.set(database=f"{given.database}_{worker}")
    admin = sa.create_engine(given.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{own.database}"')
    admin.dispose()
    return own.render_as_string(hide_password=False)


# Set before any test module reads it, so that every test and every process a test starts
# (the scheduler, gunicorn) uses the worker's database.
if os.environ.get("KIJUN_TEST_DATABASE_URL") and os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["KIJUN_TEST_DATABASE_URL"] = _worker_database(
        os.environ["KIJUN_TEST_DATABASE_URL"], os.environ["PYTEST_XDIST_WORKER"]
    )
PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")

_pg_schema_ready = False


class SignIn(Protocol):
    """The ``sign_in`` fixture: ``sign_in(person)`` or ``sign_in(person_id, version)``."""

    def __call__(self, person: Person | int, version: int = 0) -> None: ...


def pytest_report_header(config: pytest.Config) -> str:
    return f"kijun database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (a file per test)'}"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The URL of this test's database."""
    return PG_URL or f"sqlite:///{tmp_path / 'kijun-test.sqlite3'}"


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with the schema, made once: each test's database starts as a
    copy of it (a file copy costs a millisecond, ``create_all`` some fifty)."""
    path = tmp_path_factory.mktemp("schema") / "schema.sqlite3"
    schema_app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                             "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with schema_app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()  # the last connection's close folds the WAL into the file
    return path


@pytest.fixture
def app(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app on an empty schema; PostgreSQL tables are emptied after each test."""
    global _pg_schema_ready
    if not PG_URL:
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), tmp_path / "kijun-test.sqlite3")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            # Files the app keeps in its instance folder go under the test's own folder: the
            # SQLite and PostgreSQL suites run side by side (.ci/test) in one checkout.
            "ROSTER_UPLOAD_DIR": str(tmp_path / "roster-uploads"),
            "AUDIT_ANCHOR_PATH": str(tmp_path / "audit-anchor.json"),  # docs/audit.md
        }
    )
    with app.app_context():
        if PG_URL:
            if not _pg_schema_ready:
                db.drop_all()
                db.create_all()
                _pg_schema_ready = True
    yield app
    with app.app_context():
        db.session.remove()
        if PG_URL:
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                # Analyzed empty, the tables give autovacuum no reason to analyze them during
                # the next test's first load, where it would count pages and no rows (see
                # app/extensions.py refresh_statistics) and every plan would take them for empty.
                conn.execute(sa.text(f"ANALYZE {tables}"))
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An application context for tests that call services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def sign_in(client: FlaskClient) -> SignIn:
    """Sign a person (or a person id) in on the test client without the sign-in form: the
    session the form would write, signed in now, at ``session_version`` (0 for a new person)."""

    def _sign_in(person: Person | int, version: int = 0) -> None:
        person_id = person if isinstance(person, int) else person.id
        with client.session_transaction() as session:
            session.update(session_values(person_id, version))

    return _sign_in
