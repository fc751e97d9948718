"""``flask --app wsgi catalogue load|list``: the service standards' catalogues.

Commands commit; the services they call never do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.help import N_, Group

if TYPE_CHECKING:
    from app.services.catalogue.catalogues import LoadResult


catalogue_cli = Group("catalogue", help=N_("サービス基準（カタログ）の読み込みと一覧。"))


LOAD_STATUS = {"added": "追加    ", "updated": "更新    ", "unchanged": "変更なし"}


@catalogue_cli.command(
    "load",
    help=N_(
        "カタログのファイル、またはフォルダ内の *.yaml をすべて読み込む（先にすべて検査する）。\n\n"
        "カタログごとに 追加・更新・変更なし と基準の件数を1行で表示する。エラーがあればすべて"
        "標準エラーに表示し、何も書き込まず終了コード 1 で終わる。"
    ),
)
@click.argument("path", type=click.Path(path_type=Path))
def catalogue_load_command(path: Path) -> None:
    """Load a catalogue file or every *.yaml of a directory (validates all first).

    Prints one line per catalogue: added, updated or unchanged, with its number of standards.
    On any error prints every error to stderr, writes nothing and exits with status 1.
    """
    from app.extensions import db
    from app.services.catalogue.catalogues import load_catalogues
    from app.services.catalogue.parsing import CatalogueError

    try:
        results = load_catalogues(path)
    except CatalogueError as exc:
        db.session.rollback()
        for message in exc.errors:
            click.echo(message, err=True)
        click.echo(f"エラーが {len(exc.errors)} 件あります。何も書き込んでいません。", err=True)
        raise click.exceptions.Exit(1) from exc
    _log_catalogue_load(results, path)
    db.session.commit()
    width = max(len(r.key) for r in results)
    for r in results:
        detail = ""
        if r.status == "updated":
            detail = f"（追加 {r.added}・変更 {r.changed}・削除 {r.removed}）"
        status = LOAD_STATUS.get(r.status, r.status)
        click.echo(f"{status}  {r.key:<{width}}  基準 {r.count} 件{detail}")


def _log_catalogue_load(results: list[LoadResult], path: Path) -> None:
    """One audit row per catalogue the command added or changed (actor: the command line)."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Catalogue
    from app.services.governance import audit

    changed = {r.key: r for r in results if r.status != "unchanged"}
    if not changed:
        return
    rows = db.session.scalars(sa.select(Catalogue).where(Catalogue.key.in_(list(changed))))
    for catalogue in rows:
        r = changed[catalogue.key]
        audit.record(
            "catalogue.create" if r.status == "added" else "catalogue.update",
            actor=None,
            target_type="catalogue",
            target_id=catalogue.key,
            after={
                "source": str(path),
                "fiscal_year": catalogue.fiscal_year,
                "standards": r.count,
                "added": r.added,
                "changed": r.changed,
                "removed": r.removed,
            },
            ward_id=catalogue.ward_id,
        )


@catalogue_cli.command(
    "list",
    help=N_(
        "読み込んだカタログを一覧する: キー、年度（令和N年度）、区（または全区共通）、基準の件"
        "数。"
    ),
)
def catalogue_list_command() -> None:
    """List the loaded catalogues: key, fiscal year (令和N年度), ward or 全区共通, standards."""
    from app.services.catalogue.catalogues import list_catalogues
    from app.wareki import fiscal_year_label

    summaries = list_catalogues()
    if not summaries:
        click.echo("読み込まれたカタログはありません（flask --app wsgi catalogue load surveys）。")
        return
    width = max(len(s.key) for s in summaries)
    for s in summaries:
        year = fiscal_year_label(s.fiscal_year)
        click.echo(f"{s.key:<{width}}  {year}  {s.ward or '全区共通'}  基準 {s.count} 件")
