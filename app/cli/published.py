"""``flask --app wsgi published import``: a ward's published table of a past year.

Commands commit; the services they call never do.
"""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.help import N_, Group

published_cli = Group(
    "published", help=N_("公表された遵守率の表（過去の年度）の取り込み。")
)


@published_cli.command(
    "import",
    help=N_(
        "区が公表した過去の年度の遵守率の表（Kijun が書き出す形の CSV か xlsx）を取り込む。\n\n"
        "その年度のカタログを通して番号で基準に合わせ、次の年度の「前年度」の欄に使う。"
        "取り込まない行は行番号で示す。誤りがあれば何も書き込まず、終了コード 1。"
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ward", "ward_name", required=True, help=N_("区の名前（例: 高津区）"))
@click.option(
    "--year", "fiscal_year", required=True, type=int, help=N_("年度（西暦: 2024 は令和6年度）")
)
@click.option("--dry-run", is_flag=True, help=N_("確かめるだけで書き込まない"))
def published_import_command(
    path: Path, ward_name: str, fiscal_year: int, dry_run: bool
) -> None:
    """Import a ward's published compliance table of a past fiscal year (CSV or xlsx in the
    layout Kijun exports): the column group of that year, matched by number through that
    year's catalogue. Names every line it leaves out; on an error writes nothing, exit 1."""
    from app.cli.wards import ward_named
    from app.extensions import db
    from app.services.results.published import PublishedImportError, preview_import, save_import
    from app.wareki import fiscal_year_label

    ward_id = ward_named(ward_name).id
    try:
        preview = preview_import(ward_id, fiscal_year, path.read_bytes(), path.name)
    except PublishedImportError as exc:
        for message in exc.messages:
            click.echo(message, err=True)
        click.echo("何も書き込んでいません。", err=True)
        raise click.exceptions.Exit(1) from exc
    for line in preview.skipped:
        click.echo(f"取り込まない行: {line.reason}", err=True)
    if preview.missing:
        numbers = "、".join(str(n) for n in preview.missing)
        click.echo(f"表にない基準（「-」として扱います）: {numbers}", err=True)
    label = f"{preview.ward_name} {fiscal_year_label(fiscal_year)}（列「{preview.column_group}」）"
    if dry_run:
        click.echo(f"確認のみ: {label} 基準 {len(preview.rows)} 件。書き込んでいません。")
        return
    save_import(preview, path.name, None)
    db.session.commit()
    replaced = "（前に取り込んだ表を置き換えました）" if preview.replaces else ""
    click.echo(f"取り込みました: {label} 基準 {len(preview.rows)} 件{replaced}")
