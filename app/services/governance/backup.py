"""Backups of the database and their restore: ``flask --app wsgi backup create|restore``.

SQLite (the embedded default) is copied with SQLite's online backup API, which reads one
consistent snapshot while the app goes on writing, and which includes what still sits in the
``-wal`` file (copying the ``.sqlite3`` file alone would lose it). The copy is one
self-contained file (journal mode DELETE). PostgreSQL is dumped with ``pg_dump -Fc`` and
restored with ``pg_restore --clean --if-exists``, both from the configured URL (the password,
if the URL has one, goes to them in ``PGPASSWORD``, not on the command line).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - runs pg_dump/pg_restore with an argument list, no shell
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from app.private_files import ensure_private_file, make_private
from app.services.errors import DomainError

SQLITE_SUFFIX = ".sqlite3"
POSTGRES_SUFFIX = ".dump"


class BackupError(DomainError):
    """A backup or restore that cannot be done; ``message`` says why, in the reader's language."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    engine: str
    size: int


def is_sqlite(url: str) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "sqlite"


def default_backup_name(url: str, stamp: str) -> str:
    """``kijun-20261129-0200.sqlite3`` or ``kijun-20261129-0200.dump``."""
    suffix = SQLITE_SUFFIX if is_sqlite(url) else POSTGRES_SUFFIX
    return f"kijun-{stamp}{suffix}"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL (an in-memory database cannot be backed up)."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(_("メモリ上の SQLite データベースはバックアップできません。"))
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump/pg_restore take it, and their environment (password in PGPASSWORD)."""
    parsed = sa.engine.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            _(
                "%(tool)s が見つかりません。PostgreSQL のクライアント（Debian: postgresql-client）"
                "を入れてください。",
                tool=name,
            )
        )
    return path


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(
            _("%(tool)s が失敗しました: %(error)s", tool=Path(command[0]).name,
              error=done.stderr.strip()[-2000:])
        )


def create_backup(url: str, target: Path) -> BackupResult:
    """Write a backup of the database at ``url`` to ``target`` while the app keeps running.

    The file appears only when complete (written next to it, then renamed), mode 0600; an
    existing ``target`` is replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=".partial-", dir=target.parent)
    os.close(handle)
    partial = Path(partial_name)
    try:
        if is_sqlite(url):
            _sqlite_backup(sqlite_path(url), partial)
            engine = "sqlite"
        else:
            libpq_url, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", f"--file={partial}", libpq_url], env)
            engine = "postgresql"
        make_private(partial)  # it holds everyone's data: 0600, whatever wrote it
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, engine, target.stat().st_size)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(_("データベースのファイル %(path)s がありません。", path=source))
    source_db = sqlite3.connect(source)
    target_db = sqlite3.connect(target)
    try:
        # pages=-1 (the default): one step under one read transaction, so one snapshot,
        # committed transactions in the WAL included.
        source_db.backup(target_db)
        # One self-contained file: the copy keeps no -wal of its own.
        target_db.execute("PRAGMA journal_mode=DELETE")
    finally:
        target_db.close()
        source_db.close()


def has_data(engine: sa.Engine) -> bool:
    """True when any table but Alembic's version table has a row (a fresh ``db upgrade``
    leaves none)."""
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        for name in tables:
            if name == "alembic_version":
                continue
            table = sa.table(name)
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                return True
    return False


def _check_sqlite_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(
            _("%(path)s は SQLite のバックアップではありません（%(error)s）。", path=path,
              error=error)
        ) from error
    if ok != ("ok",) or not {"person", "response"} <= tables:
        raise BackupError(_("%(path)s は Kijun のバックアップではありません。", path=path))


def restore_backup(url: str, engine: sa.Engine, source: Path, *, force: bool) -> None:
    """Replace the database at ``url`` with the backup ``source``.

    Refuses (BackupError) a database that holds data unless ``force``; stop the app and the
    scheduler first, since their open transactions would otherwise interleave."""
    if not source.is_file():
        raise BackupError(_("バックアップのファイル %(path)s がありません。", path=source))
    if not force and _target_has_data(url, engine):
        raise BackupError(
            _(
                "復元先のデータベースにはデータがあります。上書きしてよければ --force を"
                "付けてもう一度実行してください。"
            )
        )
    engine.dispose()
    if is_sqlite(url):
        _check_sqlite_backup(source)
        _sqlite_restore(source, sqlite_path(url))
    else:
        libpq_url, env = _libpq(url)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={libpq_url}",
                str(source),
            ],
            env,
        )
    engine.dispose()


def _target_has_data(url: str, engine: sa.Engine) -> bool:
    if is_sqlite(url) and not sqlite_path(url).exists():
        return False
    return has_data(engine)


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    ensure_private_file(target)  # a new database file is 0600, as the app would create it
    source_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target_db = sqlite3.connect(target, timeout=15)
    try:
        # The backup API in reverse: replaces every page of the target in one transaction.
        source_db.backup(target_db)
        target_db.execute("PRAGMA journal_mode=WAL")
    finally:
        target_db.close()
        source_db.close()
