"""``flask --app wsgi backup create|restore``: the database to one file and back."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from app.cli.help import N_, Group

backup_cli = Group("backup", help=N_("データベースのバックアップと復元。"))


def _url() -> str:
    return str(current_app.config["SQLALCHEMY_DATABASE_URI"])


@backup_cli.command(
    "create",
    help=N_(
        "データベースを1つのファイルにバックアップする（アプリを止めずに実行できる）。\n\n"
        "SQLite はオンラインバックアップ API で、-wal の中身も含めた一時点の写しを作る。"
        "PostgreSQL は pg_dump -Fc で書き出す。ファイルは書き終えてから現れる（docs/deploy.md）"
        "。"
    ),
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=N_("書き出すファイル。省略すると kijun-年月日-時分.sqlite3（PostgreSQL は .dump）。"),
)
def backup_create_command(output: Path | None) -> None:
    """Back the database up to one file while the app runs (``create_backup``)."""
    from app.models import utcnow
    from app.services.governance.backup import BackupError, create_backup, default_backup_name
    from app.wareki import tokyo

    url = _url()
    target = output or Path(default_backup_name(url, tokyo(utcnow()).strftime("%Y%m%d-%H%M")))
    try:
        result = create_backup(url, target)
    except BackupError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{result.path} にバックアップしました（{result.engine}、{result.size:,} バイト）。")


@backup_cli.command(
    "restore",
    help=N_(
        "バックアップのファイルからデータベースを復元する。\n\n"
        "データのあるデータベースは --force がなければ上書きしない。先にアプリとスケジューラー"
        "を止めること。SQLite はバックアップ API で、PostgreSQL は pg_restore --clean "
        "--if-exists で戻す。"
    ),
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help=N_("データのあるデータベースでも上書きする。"))
def backup_restore_command(path: Path, force: bool) -> None:
    """Restore a backup; a database with data only with --force (``restore_backup``). The
    restored log gets a ``backup.restore`` row and the audit anchor starts again from it."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.services.governance.audit import record_restore
    from app.services.governance.backup import BackupError, restore_backup

    db.session.remove()
    try:
        restore_backup(_url(), db.engine, path, force=force)
    except BackupError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{path} から復元しました。")
    try:
        record_restore(path.name)
        db.session.commit()
    except sa.exc.DBAPIError as error:
        db.session.rollback()
        raise click.ClickException(
            "復元を操作の記録に書けませんでした（古い版のバックアップなら flask db upgrade の後、"
            f"docs/audit.md の「After a restore」に従ってください）: {error.orig}"
        ) from error
