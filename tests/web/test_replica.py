"""The committee's reports from a read replica (``REPORTS_DATABASE_URL``, app/replica.py).

On PostgreSQL a second database stands in for the replica: it holds the same world with the
round renamed, so each page shows which database it read. Streaming replication itself is
PostgreSQL's; docs/deploy.md says how to set it up."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.auth.sessions import session_values
from app.config import reports_replica
from app.extensions import db
from app.models import Round
from app.replica import reads_from_replica, replica_engine
from app.services.governance.audit import verify_chain
from app.services.results.tally import count_closed_rounds, discard_counts
from tests.results_world import World, build_world

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="read replicas are PostgreSQL's")

PRIMARY_TITLE = "令和7年度 点検"
REPLICA_TITLE = "令和7年度 点検（レプリカ）"


@pytest.fixture
def replica_url() -> Iterator[str]:
    """A new PostgreSQL database with the schema, standing in for the replica."""
    assert PG_URL
    name = f"kijun_replica_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    schema = sa.create_engine(url)
    db.metadata.create_all(schema)
    schema.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def reports_app(app: Flask, replica_url: str) -> Iterator[tuple[Flask, World]]:
    """The app with the replica configured, and the world: the same on both databases (both
    start empty, so the ids agree), the round renamed on the replica. ``app`` empties the
    primary afterwards."""
    with app.app_context():
        world = build_world()
        count_closed_rounds()  # as the scheduler does within a minute of each close
        db.session.commit()
    writer = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": replica_url})
    with writer.app_context():
        build_world()
        count_closed_rounds()
        db.session.execute(
            sa.update(Round).where(Round.title == PRIMARY_TITLE).values(title=REPLICA_TITLE)
        )
        db.session.commit()
        db.engine.dispose()
    reports = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": PG_URL,
            "REPORTS_DATABASE_URL": replica_url,
            "WTF_CSRF_ENABLED": False,
            "AUDIT_ANCHOR_PATH": app.config["AUDIT_ANCHOR_PATH"],
        }
    )
    yield reports, world
    with reports.app_context():
        db.session.remove()
        db.engine.dispose()
        engine = replica_engine()
        assert engine is not None
        engine.dispose()


def _statements_by_database(app: Flask) -> Counter[str]:
    """Counts each statement the app sends, by "primary" or "replica", from now on."""
    counts: Counter[str] = Counter()
    with app.app_context():
        for name, engine in (("primary", db.engine), ("replica", replica_engine())):

            def count(_conn: object, _cursor: object, statement: str, *_args: object,
                      name: str = name) -> None:
                # The audit log's row of a download is the one write a report view makes, on
                # the primary in a transaction of its own (app/services/governance/audit.py).
                audit = "audit_event" in statement or "pg_advisory_xact_lock" in statement
                counts[f"{name} (audit log)" if audit else name] += 1

            sa.event.listen(engine, "before_cursor_execute", count)
    return counts


def _client_as(app: Flask, person_id: int):
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(session_values(person_id, 0))
    return client


@needs_pg
def test_report_pages_and_files_read_only_the_replica(reports_app):
    """The results page, its download, the annual report and the API's compliance read the
    replica, the signed-in person included: not one statement reaches the primary."""
    reports_app, world = reports_app
    counts = _statements_by_database(reports_app)
    client = _client_as(reports_app, world.city_committee)
    urls = [
        f"/results/rounds/{world.round_id}",
        f"/results/rounds/{world.round_id}/export/csv",
        f"/api/v1/rounds/{world.round_id}/compliance",
        f"/annual-report/{world.takatsu_ward_id}/2025",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith("/compliance"):
            assert response.get_json()["round"]["title"] == REPLICA_TITLE
        elif url.endswith(f"rounds/{world.round_id}"):
            assert REPLICA_TITLE in response.get_data(as_text=True)
        response.close()  # a streamed file keeps its request's context until closed
    assert counts["replica"] > 0
    assert counts["primary"] == 0
    assert counts["primary (audit log)"] > 0  # the download's audit row
    with reports_app.app_context():  # signed and anchored like any other row
        assert list(verify_chain()) == []
        assert Path(reports_app.config["AUDIT_ANCHOR_PATH"]).exists()


@needs_pg
def test_a_round_not_counted_on_the_replica_is_counted_on_the_primary(reports_app, replica_url):
    """A closed round whose counts the replica does not have yet is counted on the primary
    (the replica cannot write), and its page says so until the replica has them."""
    reports_app, world = reports_app
    replica = sa.create_engine(replica_url)
    with replica.begin() as conn:
        conn.execute(sa.text("UPDATE round SET counted_at = NULL WHERE id = :id"),
                     {"id": world.miyamae_round_id})
    replica.dispose()
    with reports_app.app_context():
        # On the primary too, as at a close that nobody has read yet.
        discard_counts(db.session.get_one(Round, world.miyamae_round_id))
        db.session.commit()
    client = _client_as(reports_app, world.city_committee)
    response = client.get(f"/api/v1/rounds/{world.miyamae_round_id}/compliance")
    assert response.status_code == 409
    with reports_app.app_context():
        counted = db.session.scalar(
            sa.select(Round.counted_at).where(Round.id == world.miyamae_round_id)
        )
    assert counted is not None  # written on the primary


@needs_pg
def test_other_pages_read_the_primary(reports_app):
    """A person's own rounds and checklist come from the primary, not the lagging replica."""
    reports_app, world = reports_app
    counts = _statements_by_database(reports_app)
    client = _client_as(reports_app, world.staff)
    for url in ("/me", f"/rounds/{world.round_id}/checklist"):
        body = client.get(url).get_data(as_text=True)
        assert PRIMARY_TITLE in body and REPLICA_TITLE not in body, url
    assert counts["primary"] > 0
    assert counts["replica"] == 0


@needs_pg
def test_a_report_view_cannot_write(reports_app):
    """The replica's transactions are read-only: a write from a report view fails with
    PostgreSQL's error and lands in neither database."""
    reports_app, world = reports_app

    @reads_from_replica
    def rename() -> None:
        db.session.execute(sa.update(Round).values(title="書き換え"))
        db.session.flush()

    with reports_app.test_request_context("/results/"):
        with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            rename()
        db.session.rollback()
    with reports_app.app_context():
        title = db.session.scalar(sa.select(Round.title).where(Round.id == world.round_id))
        assert title == PRIMARY_TITLE
        db.session.remove()
    with reports_app.test_request_context("/results/"):
        reads_from_replica(lambda: None)()
        title = db.session.scalar(sa.select(Round.title).where(Round.id == world.round_id))
        assert title == REPLICA_TITLE


def test_without_the_setting_report_views_use_the_primary(app):
    """No REPORTS_DATABASE_URL: no replica, and a report view's statements go to the one
    database as before."""
    with app.test_request_context("/results/"):
        assert replica_engine() is None
        engine = reads_from_replica(lambda: db.session.get_bind())()
        assert engine is db.engine


def test_the_replica_url_is_read_from_the_environment(monkeypatch, tmp_path):
    """``REPORTS_DATABASE_URL`` like ``DATABASE_URL``: a ``postgres://`` URL gets the psycopg
    driver, the primary's engine options, and read-only transactions; other apps of the same
    process are not affected."""
    monkeypatch.setenv("REPORTS_DATABASE_URL", "postgres://kijun@replica.example/kijun")
    app = create_app(
        {
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite3'}",
        }
    )
    url, options = reports_replica(app.config) or ("", {})
    assert url == "postgresql+psycopg://kijun@replica.example/kijun"
    assert options["pool_recycle"] == 1800
    assert options["connect_args"]["options"] == "-c default_transaction_read_only=on"
    with app.app_context():
        engine = replica_engine()
        assert engine is not None
        assert engine.url.render_as_string() == url
        assert db.engine.url.drivername == "sqlite"
    monkeypatch.delenv("REPORTS_DATABASE_URL")
    other = create_app(
        {
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'o.sqlite3'}",
        }
    )
    with other.app_context():
        assert replica_engine() is None
        db.create_all()  # the first app's replica left nothing behind in Flask-SQLAlchemy


def test_a_replica_that_is_not_postgresql_is_refused(tmp_path):
    """Only PostgreSQL has read replicas: another URL stops the start with a clear message."""
    with pytest.raises(ValueError, match="PostgreSQL の読み取り専用レプリカ"):
        create_app(
            {
                "SECRET_KEY": "test-secret",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite3'}",
                "REPORTS_DATABASE_URL": "sqlite:///copy.sqlite3",
            }
        )
