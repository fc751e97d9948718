"""``flask --app wsgi roster import``: a fiscal year's roster from a CSV or xlsx file.

Commands commit; the services they call never do.
"""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.help import N_, Group

roster_cli = Group("roster", help=N_("職員名簿の取り込み。"))


@roster_cli.command(
    "import",
    help=N_(
        "1年度分の職員名簿を CSV（UTF-8 または Shift_JIS）か .xlsx から取り込む。\n\n"
        "すべてか無か: エラーがあれば行番号つきですべて標準エラーに表示し、何も書き込まず終了コ"
        "ード 1 で終わる。成功すると、追加・更新した人、その年度の配属の追加・変更・削除、前年"
        "度と比べた異動・着任・退職を表示する。--dry-run は確認して結果を表示するだけで書き込ま"
        "ない。ファイルの形式は docs/roster.md。"
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fiscal-year",
    type=click.IntRange(2000, 2100),
    required=True,
    help=N_("名簿の年度（4月始まりの年度の西暦。令和7年度なら 2025）。"),
)
@click.option("--dry-run", is_flag=True, help=N_("確認だけして何も書き込まない。"))
def roster_import_command(path: Path, fiscal_year: int, dry_run: bool) -> None:
    """Import the roster of one fiscal year from a CSV (UTF-8 or Shift_JIS) or .xlsx file.

    All or nothing: on any error prints every error (with its line number) to stderr, writes
    nothing and exits with status 1. Otherwise commits and prints what changed: people added
    or updated, the year's assignments created, changed or removed, and the transfers,
    arrivals and leavers compared with the previous year, then the preview's warnings (a
    section without a chief, people without an address, a ward a third smaller) to stderr.
    ``--dry-run`` checks the file and prints the summary without writing. See docs/roster.md
    for the file format.
    """
    from app.extensions import db
    from app.services.organisation.roster import import_roster
    from app.services.organisation.roster_file import RosterError, read_roster
    from app.services.organisation.roster_warnings import roster_warnings

    try:
        rows = read_roster(path)
        warnings = roster_warnings(rows, fiscal_year)
        summary = import_roster(rows, fiscal_year)
    except RosterError as exc:
        db.session.rollback()
        for message in exc.errors:
            click.echo(message, err=True)
        click.echo(
            f"名簿にエラーが {len(exc.errors)} 件あります。何も書き込んでいません。", err=True
        )
        raise click.exceptions.Exit(1) from exc
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        from app.services.organisation.roster_upload import log_roster_import

        log_roster_import(None, summary, source=str(path))
        db.session.commit()
    for line in summary.lines():
        click.echo(line)
    for warning in warnings:  # imported anyway: the command line has no 「確認しました」
        lines = f"（{warning.lines_text}）" if warning.lines else ""
        click.echo(f"注意: {warning.message}{lines}", err=True)
    if dry_run:
        click.echo("（確認のみ: 何も書き込んでいません）")
