"""``flask --app wsgi goals import|lock|unlock``: goals from a sheet, and the year's lock.

Commands commit; the services they call never do.
"""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.help import N_, Group
from app.cli.wards import ward_named

goals_cli = Group("goals", help=N_("サービス向上目標の取り込みと年度の確定（ロック）。"))

_ward_option = click.option(
    "--ward", "ward_name", required=True, help=N_("区の名前（例 高津区）。")
)
_year_option = click.option(
    "--fiscal-year",
    type=click.IntRange(2000, 2100),
    required=True,
    help=N_("年度（4月始まりの年度の西暦。令和7年度なら 2025）。"),
)


def _fail(errors: list[str], what: str) -> None:
    from app.extensions import db

    db.session.rollback()
    for message in errors:
        click.echo(message, err=True)
    click.echo(f"{what}にエラーが {len(errors)} 件あります。何も書き込んでいません。", err=True)
    raise click.exceptions.Exit(1)


@goals_cli.command(
    "import",
    help=N_(
        "目標と実施結果を .xlsx（または .csv）のシートから取り込む: 部署名、No、場面、目標、実"
        "施結果。\n\n"
        "シートに載った課・ワーキングチームの目標は、その年度についてシートの内容に置き換わり、"
        "シートにない番号の目標は削除される。すべてか無か: エラーがあれば行番号つきですべて標準"
        "エラーに表示し、何も書き込まず終了コード 1。ロックされた年度は取り込まない。--dry-run "
        "は置き換え・追加・削除される目標を表示するだけで書き込まない（docs/goals.md）。"
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ward_option
@_year_option
@click.option("--dry-run", is_flag=True, help=N_("確認だけして何も書き込まない。"))
def goals_import_command(path: Path, ward_name: str, fiscal_year: int, dry_run: bool) -> None:
    """Import goals and results from an .xlsx (or .csv) sheet: 部署名, No, 場面, 目標, 実施結果.

    All or nothing: on any error prints every error (with its line number) to stderr, writes
    nothing and exits with status 1. A locked year is refused. Each section or working team
    named in the sheet gets exactly the sheet's goals for the year (docs/goals.md).
    """
    from app.extensions import db
    from app.services.goals.goals import GoalsError
    from app.services.goals.sheet import import_goals, log_import, read_goal_sheet

    ward_id = ward_named(ward_name).id
    try:
        summary = import_goals(read_goal_sheet(path), ward_id, fiscal_year)
    except GoalsError as error:
        _fail(error.errors, "シート")
        return
    if dry_run:
        db.session.rollback()
    else:
        log_import(summary, ward_id, path.name, None)
        db.session.commit()
    for line in summary.lines(dry_run=dry_run):
        click.echo(line)
    if dry_run:
        click.echo("（確認のみ: 何も書き込んでいません）")


@goals_cli.command(
    "lock",
    help=N_(
        "区の年度を確定（ロック）し、目標・ワーキングチーム・方針を読み取り専用にする。\n\n"
        "すでにロックされていれば何も変えず、そう伝えて正常に終わる。"
    ),
)
@_ward_option
@_year_option
def goals_lock_command(ward_name: str, fiscal_year: int) -> None:
    """Lock a ward's year; a locked year is left as it is (exit 0), so scripts may repeat it."""
    from app.extensions import db
    from app.services.goals.goals import is_locked, lock_year
    from app.wareki import fiscal_year_label

    ward = ward_named(ward_name)
    ward_id = ward.id
    label = f"{ward.name} {fiscal_year_label(fiscal_year)}"
    if is_locked(ward_id, fiscal_year):
        click.echo(f"{label}はすでに確定（ロック）されています。何も変えていません。")
        return
    lock_year(ward_id, fiscal_year, None)
    db.session.commit()
    click.echo(f"{label}を確定（ロック）しました。")


@goals_cli.command(
    "unlock",
    help=N_(
        "区の年度のロックを解除し、目標・ワーキングチーム・方針を再び編集できるようにする。\n\n"
        "ロックされていなければ何も変えず、そう伝えて正常に終わる。"
    ),
)
@_ward_option
@_year_option
def goals_unlock_command(ward_name: str, fiscal_year: int) -> None:
    """Unlock a ward's year; an unlocked year is left as it is (exit 0)."""
    from app.extensions import db
    from app.services.goals.goals import is_locked, unlock_year
    from app.wareki import fiscal_year_label

    ward = ward_named(ward_name)
    ward_id = ward.id
    label = f"{ward.name} {fiscal_year_label(fiscal_year)}"
    if not is_locked(ward_id, fiscal_year):
        click.echo(f"{label}はロックされていません。何も変えていません。")
        return
    unlock_year(ward_id, fiscal_year, None)
    db.session.commit()
    click.echo(f"{label}のロックを解除しました。")
