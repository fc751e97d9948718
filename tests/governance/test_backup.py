"""`flask backup create|restore`: a backup taken while responses are being written restores
every committed response and every row of every table, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Response, ResponseStatus, Role, utcnow
from tests import factories

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")
PEOPLE = 150


@pytest.fixture
def other_database_url(tmp_path) -> Iterator[str]:
    """A second, empty database to restore into: a SQLite file, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"kijun_backup_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _world(app) -> tuple[int, list[tuple[int, int]]]:
    """A round and PEOPLE people in one section: (round id, [(person id, section id)])."""
    with app.app_context():
        ward = factories.ward()
        section = factories.section()
        catalogue = factories.catalogue()
        round_ = factories.round_(catalogue, wards=[ward])
        people = [(factories.person(section=section).id, section.id) for _ in range(PEOPLE)]
        round_id = round_.id
        db.session.commit()
    return round_id, people


class ResponseWriter(threading.Thread):
    """Submits one response per person, each in its own commit, until told to stop."""

    def __init__(self, app, round_id: int, people: list[tuple[int, int]]) -> None:
        super().__init__(daemon=True)
        self.app, self.round_id, self.people = app, round_id, people
        self.committed: list[int] = []
        self.some_committed = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.app_context():
                for person_id, section_id in self.people:
                    if self.stop.is_set():
                        break
                    response = Response(
                        round_id=self.round_id,
                        person_id=person_id,
                        role=Role.STAFF,
                        section_id=section_id,
                        status=ResponseStatus.SUBMITTED,
                        submitted_at=utcnow(),
                    )
                    db.session.add(response)
                    db.session.commit()
                    self.committed.append(response.id)
                    if len(self.committed) == 10:
                        self.some_committed.set()
                db.session.remove()
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.some_committed.set()


def _rows(url: str) -> dict[str, set[tuple[object, ...]]]:
    """Every row of every table of the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {
                name: {tuple(row) for row in conn.execute(sa.select(table))}
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def test_a_backup_during_writes_restores_every_committed_response_and_every_row(
    app, runner, database_url, other_database_url, tmp_path
):
    """A backup taken while a thread commits responses restores, into another database, every
    response committed before it began, only committed ones, and every other table's rows."""
    round_id, people = _world(app)
    writer = ResponseWriter(app, round_id, people)
    writer.start()
    writer.some_committed.wait()
    committed_before = set(writer.committed)
    backup_file = tmp_path / "kijun.backup"
    result = runner.invoke(args=["backup", "create", "--output", str(backup_file)])
    writer.stop.set()
    writer.join()
    assert writer.error is None
    assert result.exit_code == 0, result.output
    committed_by_the_end = set(writer.committed)

    restore_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": other_database_url,
                              "AUDIT_ANCHOR_PATH": str(tmp_path / "restored-anchor.json")})
    restored = restore_app.test_cli_runner().invoke(args=["backup", "restore", str(backup_file)])
    assert restored.exit_code == 0, restored.output
    with restore_app.app_context():
        db.engine.dispose()

    source, copy = _rows(database_url), _rows(other_database_url)
    restored_ids = {row[0] for row in copy["response"]}
    assert committed_before <= restored_ids <= committed_by_the_end
    assert {row for row in source["response"] if row[0] in restored_ids} == copy["response"]
    # The restore is on record: one row more in the restored log.
    restores = {row for row in copy["audit_event"] if row[5] == "backup.restore"}
    assert len(restores) == 1
    copy["audit_event"] -= restores
    for name, rows in source.items():
        if name != "response":
            assert copy[name] == rows, name


def test_a_restore_is_on_record_and_restarts_the_audit_anchor(app, runner, tmp_path):
    """Rows written after the backup are gone after a restore, legitimately: the restored log
    gets a backup.restore row naming the anchor it replaces, and `audit verify` passes."""
    from app.models import AuditEvent
    from app.services.governance import audit

    def write(count: int) -> None:
        with app.app_context():
            for n in range(count):
                audit.record("round.update", actor=None, target_type="round", target_id=n)
                db.session.commit()

    write(2)
    backup_file = tmp_path / "kijun.backup"
    assert runner.invoke(args=["backup", "create", "--output", str(backup_file)]).exit_code == 0
    write(2)
    with app.app_context():
        fourth = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert fourth is not None and fourth.seq == 4
        fourth_hash = fourth.hash
        db.session.remove()
        db.engine.dispose()
    restored = runner.invoke(args=["backup", "restore", "--force", str(backup_file)])
    assert restored.exit_code == 0, restored.output
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
        assert [(r.action, r.seq) for r in rows] == [
            ("round.update", 1), ("round.update", 2), ("backup.restore", 3)]
        assert f'"hash":"{fourth_hash}"' in (rows[-1].after or "")
        db.session.remove()
        db.engine.dispose()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_database_with_data_unless_forced(app, runner, database_url, tmp_path):
    """Restoring over a database that holds data exits 1 and changes nothing; --force
    replaces its data with the backup's."""
    round_id, _people = _world(app)
    backup_file = tmp_path / "kijun.backup"
    assert runner.invoke(args=["backup", "create", "--output", str(backup_file)]).exit_code == 0
    with app.app_context():
        factories.ward("宮前区")
        db.session.commit()
        db.engine.dispose()
    before = _rows(database_url)

    refused = runner.invoke(args=["backup", "restore", str(backup_file)])
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert _rows(database_url) == before

    forced = runner.invoke(args=["backup", "restore", "--force", str(backup_file)])
    assert forced.exit_code == 0, forced.output
    after = _rows(database_url)
    assert {row[1] for row in after["ward"]} == {"高津区"}
    assert after["person"] == before["person"]


def test_restore_refuses_a_file_that_is_not_a_backup(runner, tmp_path):
    """A file that is not a backup is refused with exit status 1."""
    bogus = tmp_path / "not-a-backup"
    bogus.write_bytes(b"hello")
    result = runner.invoke(args=["backup", "restore", "--force", str(bogus)])
    assert result.exit_code == 1
    assert "Error" in result.output


def test_a_sqlite_backup_is_one_file_with_the_wal_contents(tmp_path, monkeypatch):
    """On SQLite the backup holds the rows that are still only in the -wal file."""
    if PG_URL:
        pytest.skip("SQLite's own file layout")
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        factories.ward("幸区")
        db.session.commit()
        assert Path(tmp_path / "live.sqlite3-wal").stat().st_size > 0
        result = app.test_cli_runner().invoke(
            args=["backup", "create", "--output", str(tmp_path / "copy.sqlite3")]
        )
        assert result.exit_code == 0, result.output
        db.engine.dispose()
    assert not (tmp_path / "copy.sqlite3-wal").exists()
    copy = _rows(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    assert {row[1] for row in copy["ward"]} == {"幸区"}


def test_backups_and_a_restored_sqlite_database_are_0600(
    app, runner, database_url, other_database_url, tmp_path
):
    """`flask backup create` writes its file 0600 (SQLite's copy or pg_dump's), also over an
    older 0644 file; a restore that creates a new SQLite database creates it 0600."""
    _world(app)
    backup_file = tmp_path / "kijun.backup"
    backup_file.write_bytes(b"an older backup")
    os.chmod(backup_file, 0o644)
    result = runner.invoke(args=["backup", "create", "--output", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600

    restore_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": other_database_url,
                              "AUDIT_ANCHOR_PATH": str(tmp_path / "restored-anchor.json")})
    restored = restore_app.test_cli_runner().invoke(args=["backup", "restore", str(backup_file)])
    assert restored.exit_code == 0, restored.output
    with restore_app.app_context():
        db.engine.dispose()
    if not PG_URL:
        target = Path(sa.engine.make_url(other_database_url).database or "")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_restore_drill_into_another_database_leaves_the_live_anchor_alone(
    app, runner, other_database_url, tmp_path
):
    """The quarterly drill restores into a scratch database from the live checkout (the same
    anchor file): the live anchor is not moved, and verify on the scratch database says the
    anchor is another database's."""
    from app.services.governance import audit

    with app.app_context():
        for n in range(2):
            audit.record("round.update", actor=None, target_type="round", target_id=n)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    anchor_path = Path(app.config["AUDIT_ANCHOR_PATH"])
    live = anchor_path.read_text(encoding="utf-8")
    backup_file = tmp_path / "kijun.backup"
    assert runner.invoke(args=["backup", "create", "--output", str(backup_file)]).exit_code == 0
    drill = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": other_database_url,
                        "SECRET_KEY": "test-secret", "AUDIT_ANCHOR_PATH": str(anchor_path)})
    drill_runner = drill.test_cli_runner()
    restored = drill_runner.invoke(args=["backup", "restore", str(backup_file)])
    assert restored.exit_code == 0, restored.output
    assert anchor_path.read_text(encoding="utf-8") == live
    checked = drill_runner.invoke(args=["audit", "verify"])
    assert checked.exit_code == 1 and "別のデータベース" in checked.output
    with drill.app_context():
        db.engine.dispose()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
