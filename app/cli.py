"""Command groups: ``flask --app wsgi catalogue|roster|demo ...``. Commands commit; services don't."""

from pathlib import Path

import click
from flask.cli import AppGroup

catalogue_cli = AppGroup("catalogue", help="サービス基準（カタログ）の読み込みと一覧。")
roster_cli = AppGroup("roster", help="職員名簿の取り込み。")


@catalogue_cli.command("load")
@click.argument("path", type=click.Path(path_type=Path))
def catalogue_load_command(path: Path) -> None:
    """Load a catalogue file or every *.yaml of a directory (validates all first).

    Prints one line per catalogue: added, updated or unchanged, with its number of standards.
    On any error prints every error to stderr, writes nothing and exits with status 1.
    """
    from app.extensions import db
    from app.services.catalogues import CatalogueError, load_catalogues

    try:
        results = load_catalogues(path)
    except CatalogueError as exc:
        db.session.rollback()
        for message in exc.errors:
            click.echo(message, err=True)
        click.echo(f"エラーが {len(exc.errors)} 件あります。何も書き込んでいません。", err=True)
        raise click.exceptions.Exit(1) from exc
    db.session.commit()
    width = max(len(r.key) for r in results)
    for r in results:
        detail = ""
        if r.status == "updated":
            detail = f"（追加 {r.added}・変更 {r.changed}・削除 {r.removed}）"
        click.echo(f"{r.status:<9} {r.key:<{width}}  基準 {r.count} 件{detail}")


@catalogue_cli.command("list")
def catalogue_list_command() -> None:
    """List the loaded catalogues: key, fiscal year (令和N年度), ward or 全区共通, standards."""
    from app.services.catalogues import list_catalogues
    from app.wareki import fiscal_year_label

    summaries = list_catalogues()
    if not summaries:
        click.echo("読み込まれたカタログはありません（flask --app wsgi catalogue load surveys）。")
        return
    width = max(len(s.key) for s in summaries)
    for s in summaries:
        year = fiscal_year_label(s.fiscal_year)
        click.echo(f"{s.key:<{width}}  {year}  {s.ward or '全区共通'}  基準 {s.count} 件")


@click.command("demo")
def demo_command() -> None:
    """Build the demo ward (高津区風), its people, catalogues and two past rounds."""
    raise click.ClickException("not built yet")
