"""Command groups: ``flask --app wsgi catalogue|roster|demo ...``.

Commands commit; the services they call never do.
"""

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

catalogue_cli = AppGroup("catalogue", help="サービス基準（カタログ）の読み込みと一覧。")
roster_cli = AppGroup("roster", help="職員名簿の取り込み。")

LOAD_STATUS = {"added": "追加    ", "updated": "更新    ", "unchanged": "変更なし"}


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
        status = LOAD_STATUS.get(r.status, r.status)
        click.echo(f"{status}  {r.key:<{width}}  基準 {r.count} 件{detail}")


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


@roster_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fiscal-year",
    type=click.IntRange(2000, 2100),
    required=True,
    help="名簿の年度（4月始まりの年度の西暦。令和7年度なら 2025）。",
)
@click.option("--dry-run", is_flag=True, help="確認だけして何も書き込まない。")
def roster_import_command(path: Path, fiscal_year: int, dry_run: bool) -> None:
    """Import the roster of one fiscal year from a CSV (UTF-8 or Shift_JIS) or .xlsx file.

    All or nothing: on any error prints every error (with its line number) to stderr, writes
    nothing and exits with status 1. Otherwise commits and prints what changed: people added
    or updated, the year's assignments created, changed or removed, and the transfers,
    arrivals and leavers compared with the previous year. ``--dry-run`` checks the file and
    prints the summary without writing. See docs/roster.md for the file format.
    """
    from app.extensions import db
    from app.services.roster import RosterError, import_roster, read_roster

    try:
        summary = import_roster(read_roster(path), fiscal_year)
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
        db.session.commit()
    for line in summary.lines():
        click.echo(line)
    if dry_run:
        click.echo("（確認のみ: 何も書き込んでいません）")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Build the demo ward (modelled on 高津区), its people, the catalogues and two past rounds.

    Loads every catalogue in surveys/, three fiscal years of rosters (about 350 people in 19
    sections, with transfers and leavers), four sign-in accounts (staff, chief, committee,
    admin), the closed FY2024 and FY2025 rounds with answers and one round open now without
    answers (to try the checklist). Run it again and it keeps the demo data that is there.
    """
    from flask import current_app

    from app.extensions import db
    from app.services.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo

    summary = build_demo(Path(current_app.config["SURVEYS_DIR"]))
    if summary.already_present:
        click.echo("デモデータは作成済みです。今のデータをそのまま使います。")
    else:
        db.session.commit()
        click.echo(
            f"デモデータを作りました: {summary.ward}・{summary.sections} 課・"
            f"今年度 {summary.people} 人・調査 {len(summary.rounds)} 回"
        )
        for title in summary.rounds[:-1]:
            click.echo(f"  終了した調査: {title}")
        click.echo(
            f"  受付中の調査: {summary.rounds[-1]}（職員 900001 でサインインしてすぐ答えられます）"
        )
    click.echo("デモ用アカウント（職員番号 / パスワード）:")
    for employee_id, role, note in DEMO_ACCOUNTS:
        click.echo(f"  {role}: {employee_id} / {DEMO_PASSWORD}  …{note}")
    click.echo("起動: flask --app wsgi run  →  http://127.0.0.1:5000（サインインは /auth/login）")


round_cli = AppGroup("round", help="調査（回）の作成と一覧。")


@round_cli.command("create")
@click.option(
    "--catalogue", "catalogue_key", required=True, help="カタログのキー（例 takatsu-2025）。"
)
@click.option("--ward", "wards", multiple=True, required=True, help="対象の区。複数なら繰り返す。")
@click.option("--opens", required=True, help="開始日時（例 2026-11-01 09:00、東京時間）。")
@click.option("--closes", required=True, help="締切日時（例 2026-11-28 17:15、東京時間）。")
@click.option(
    "--title", default=None, help="題名（省略時: 令和N年度 区役所サービス基準 自己点検）。"
)
@click.option(
    "--reminder-days",
    default=None,
    help="まだ提出していない人へお知らせを送る日。締め切りの何日前かをカンマで区切る"
    "（省略時 7,3,1。\"\" なら送らない）。",
)
def round_create_command(
    catalogue_key: str,
    wards: tuple[str, ...],
    opens: str,
    closes: str,
    title: str | None,
    reminder_days: str | None,
) -> None:
    """Open a catalogue for a period in one or more wards and print the new round's id.

    Times are "2026-11-01 09:00" (or with a T) on the city's clock (Asia/Tokyo) unless an
    offset such as +09:00 or Z is given. The round is open from --opens (inclusive) until
    --closes (exclusive); its fiscal year is the one in which it opens, and that year's roster
    decides who answers (docs/rounds.md). Prints a line describing the round and, on the last
    line, the id alone. Unreadable times are reported first; otherwise every problem found is
    printed. Errors go to stderr, nothing is written and the exit status is 1.
    """
    from app.extensions import db
    from app.services.rounds import (
        RoundError,
        create_round,
        parse_datetime,
        parse_reminder_days,
    )
    from app.wareki import fiscal_year_label, reiwa_datetime

    errors: list[str] = []
    times = []
    for value in (opens, closes):
        try:
            times.append(parse_datetime(value))
        except ValueError as exc:
            errors.append(str(exc))
    days: tuple[int, ...] | None = None
    if reminder_days is not None:
        try:
            days = parse_reminder_days(reminder_days)
        except ValueError as exc:
            errors.append(str(exc))
    if not errors:
        try:
            round_ = create_round(
                catalogue_key, wards, times[0], times[1], title=title, reminder_days=days
            )
        except RoundError as exc:
            errors.extend(exc.errors)
    if errors:
        db.session.rollback()
        for message in errors:
            click.echo(message, err=True)
        click.echo("調査は作成していません。", err=True)
        raise click.exceptions.Exit(1)
    db.session.commit()
    if round_.catalogue.fiscal_year != round_.fiscal_year:
        click.echo(
            f"注意: カタログは{fiscal_year_label(round_.catalogue.fiscal_year)}のもの、"
            f"回答者は{fiscal_year_label(round_.fiscal_year)}の名簿で決まります。",
            err=True,
        )
    wards_text = "・".join(w.name for w in round_.wards)
    click.echo(
        f"調査 {round_.id} を作成しました: {round_.title}（{wards_text}、"
        f"{reiwa_datetime(round_.opens_at)} から {reiwa_datetime(round_.closes_at)} まで、"
        f"お知らせ: {_reminder_days_text(round_.reminder_days)}）"
    )
    click.echo(str(round_.id))


def _reminder_days_text(stored: str) -> str:
    from app.services.rounds import parse_reminder_days

    days = parse_reminder_days(stored)
    return "、".join(f"{d}日前" for d in days) + "に送る" if days else "送らない"


@round_cli.command("list")
def round_list_command() -> None:
    """List every round, newest first: id, state (受付中/受付前/終了), title, catalogue, wards
    and the period on the city's clock."""
    from app.models import utcnow
    from app.services.rounds import list_rounds
    from app.wareki import reiwa_datetime

    now = utcnow()
    rounds = list_rounds(now)
    if not rounds:
        click.echo("調査はまだありません（flask --app wsgi round create で作成します）。")
        return
    for r in rounds:
        state = "受付中" if r.is_open else ("受付前" if now < r.opens_at else "終了  ")
        click.echo(
            f"{r.id:>4}  {state}  {r.title}  [{r.catalogue_key}]  {'・'.join(r.wards)}  "
            f"{reiwa_datetime(r.opens_at)} 〜 {reiwa_datetime(r.closes_at)}"
        )


report_cli = AppGroup("report", help="遵守率の表の書き出し（Excel・CSV・PDF・HTML）。")


@report_cli.command("compliance")
@click.option(
    "--round", "round_id", type=int, required=True, help="調査の番号（round list で確認）。"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv", "csv-long", "pdf", "html"]),
    default="xlsx",
    show_default=True,
    help="csv は報告書と同じ列、csv-long は基準×年度×区分ごとに1行（件数つき）。",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="書き出すファイル。省略すると「遵守率_令和7年度_高津区_調査12.xlsx」のような名前。",
)
@click.option(
    "--group",
    "group_key",
    default="all",
    show_default=True,
    help="集計単位: all（調査全体）、ward:ID、department:ID、section:ID。",
)
def report_compliance_command(
    round_id: int, fmt: str, output: Path | None, group_key: str
) -> None:
    """Write a round's compliance table (the report's section 3) as xlsx, CSV, PDF or HTML.

    The table has the round's year beside the previous year, 職員 and 所属長 for each; cells
    of groups smaller than MIN_GROUP_SIZE are hidden (＊) in every format (docs/exports.md).
    """
    from typing import cast

    from app.extensions import db
    from app.services.compliance import ResultsError
    from app.services.exports import ExportFormat, export_filename, round_table
    from reports.csv_files import CsvShape, compliance_csv
    from reports.printing import compliance_html, compliance_pdf
    from reports.xlsx import compliance_workbook

    try:
        table = round_table(round_id, None, group_key)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    path = output or Path(export_filename(table, round_id, cast(ExportFormat, fmt)))
    if fmt == "xlsx":
        with path.open("wb") as out:
            compliance_workbook(table, out)
    elif fmt == "pdf":
        with path.open("wb") as out:
            compliance_pdf(table, out)
    elif fmt == "html":
        path.write_text(compliance_html(table), encoding="utf-8")
    else:
        with path.open("w", encoding="utf-8", newline="") as text_out:
            shape: CsvShape = "long" if fmt == "csv-long" else "wide"
            text_out.writelines(compliance_csv(table, shape))
    click.echo(f"{path} に書き出しました（{table.scope}、{len(table.rows)} 基準）。")


@report_cli.command("sections")
@click.option(
    "--round", "round_id", type=int, required=True, help="調査の番号（round list で確認）。"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv", "pdf", "html"]),
    default="xlsx",
    show_default=True,
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="書き出すフォルダ（なければ作る）。",
)
def report_sections_command(round_id: int, fmt: str, output_dir: Path) -> None:
    """Write one chief's sheet per section of a round: the section's rates beside its ward's.

    Cells of groups smaller than MIN_GROUP_SIZE are hidden (＊); a section's own
    section-level answers are always shown. File names are 課の遵守率_<課>_調査<ID>.<format>.
    """
    from typing import cast

    from app.extensions import db
    from app.services.compliance import ResultsError, final_results
    from app.services.exports import ExportFormat, export_filename, section_sheet
    from reports.csv_files import compliance_csv
    from reports.printing import compliance_html, compliance_pdf
    from reports.xlsx import compliance_workbook

    try:
        results = final_results(round_id, with_previous=False)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    output_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for group in results.groups:
        if group.level != "section":
            continue
        sheet = section_sheet(results, group.key)
        path = output_dir / export_filename(sheet, round_id, cast(ExportFormat, fmt))
        if fmt == "xlsx":
            with path.open("wb") as out:
                compliance_workbook(sheet, out)
        elif fmt == "pdf":
            with path.open("wb") as out:
                compliance_pdf(sheet, out)
        elif fmt == "html":
            path.write_text(compliance_html(sheet), encoding="utf-8")
        else:
            with path.open("w", encoding="utf-8", newline="") as text_out:
                text_out.writelines(compliance_csv(sheet))
        written += 1
    click.echo(f"{output_dir} に {written} 課の表を書き出しました。")


published_cli = AppGroup("published", help="公表された遵守率の表（過去の年度）の取り込み。")


@published_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ward", "ward_name", required=True, help="区の名前（例: 高津区）")
@click.option(
    "--year", "fiscal_year", required=True, type=int, help="年度（西暦: 2024 は令和6年度）"
)
@click.option("--dry-run", is_flag=True, help="確かめるだけで書き込まない")
def published_import_command(
    path: Path, ward_name: str, fiscal_year: int, dry_run: bool
) -> None:
    """Import a ward's published compliance table of a past fiscal year (CSV or xlsx in the
    layout Kijun exports): the column group of that year, matched by number through that
    year's catalogue. Names every line it leaves out; on an error writes nothing, exit 1."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Ward
    from app.services.published import PublishedImportError, preview_import, save_import
    from app.wareki import fiscal_year_label

    ward_id = db.session.scalar(sa.select(Ward.id).where(Ward.name == ward_name))
    if ward_id is None:
        click.echo(f"区「{ward_name}」がありません。", err=True)
        raise click.exceptions.Exit(1)
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
