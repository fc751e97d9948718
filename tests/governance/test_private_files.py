"""Files that hold personal data are the app's user's alone (app/private_files.py): the SQLite
database that ``flask db upgrade`` or the app's first connection creates, with its -wal and
-shm files, is 0600, and so is an older one found 0644. (The roster uploads' own tests are in
tests/organisation/test_roster_upload.py, the backups' in tests/governance/test_backup.py.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.private_files import write_private
from tests import factories


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _sqlite_app(path: Path):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


def test_flask_db_upgrade_creates_the_sqlite_database_0600(tmp_path):
    """`flask db upgrade` on a new SQLite file creates it 0600, its -wal and -shm too, though
    the umask would give 0644."""
    path = tmp_path / "kijun.sqlite3"
    app = _sqlite_app(path)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        factories.ward("幸区")
        db.session.commit()
        assert {p.name for p in tmp_path.iterdir()} >= {
            "kijun.sqlite3", "kijun.sqlite3-wal", "kijun.sqlite3-shm"}
        for name in ("kijun.sqlite3", "kijun.sqlite3-wal", "kijun.sqlite3-shm"):
            assert _mode(tmp_path / name) == 0o600, name
        db.engine.dispose()


def test_the_first_connection_makes_an_existing_database_file_0600(tmp_path):
    """A database file left 0644 by an older version is made 0600 when the app first
    connects; its rows are untouched."""
    path = tmp_path / "old.sqlite3"
    app = _sqlite_app(path)
    with app.app_context():
        db.create_all()
        factories.ward("宮前区")
        db.session.commit()
        db.engine.dispose()
    os.chmod(path, 0o644)
    app = _sqlite_app(path)
    with app.app_context():
        names = db.session.scalars(sa.text("SELECT name FROM ward")).all()
        assert names == ["宮前区"]
        assert _mode(path) == 0o600
        db.engine.dispose()


def test_write_private_replaces_a_file_as_0600_and_refuses_a_symlink(tmp_path):
    """A private file written over a 0644 one is 0600; a symbolic link planted where it goes
    is refused, and its target is not written."""
    path = tmp_path / "a.csv"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    write_private(path, b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o600
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep")
    link = tmp_path / "b.csv"
    link.symlink_to(target)
    try:
        write_private(link, b"stolen")
    except OSError:
        pass
    else:
        raise AssertionError("a symlink was followed")
    assert target.read_bytes() == b"keep"
