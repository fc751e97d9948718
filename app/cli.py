"""Command groups: ``flask --app wsgi catalogue|roster|demo ...``.

Commands commit; the services they call never do.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import click
from flask.cli import with_appcontext

from app.cli_help import N_, Command, Group

if TYPE_CHECKING:
    from app.models import Round
    from app.services.catalogues import LoadResult
    from app.services.compliance import RoundResults
    from reports.table import ComplianceTable

catalogue_cli = Group("catalogue", help=N_("サービス基準（カタログ）の読み込みと一覧。"))
roster_cli = Group("roster", help=N_("職員名簿の取り込み。"))

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
    from app.services.catalogues import CatalogueError, load_catalogues

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
    from app.services import audit

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
        from app.services.roster_upload import log_roster_import

        log_roster_import(None, summary, source=str(path))
        db.session.commit()
    for line in summary.lines():
        click.echo(line)
    if dry_run:
        click.echo("（確認のみ: 何も書き込んでいません）")


@click.command(
    "demo", cls=Command,
    help=N_(
        "デモ用の区（高津区がモデル）、職員、カタログ、終了した2回の調査を作る。\n\n"
        "surveys/ のカタログすべて、3年度分の名簿（19課・約350人、異動と退職を含む）、4つのサイ"
        "ンイン用アカウント（職員・所属長・委員会・管理者）、回答つきの令和6年度と令和7年度の調"
        "査を作る。もう一度実行しても、あるデモデータはそのまま使う。"
    ),
)
@with_appcontext
def demo_command() -> None:
    """Build the demo ward (modelled on 高津区), its people, the catalogues and two past rounds,
    and the city's six other wards.

    Loads every catalogue in surveys/, three fiscal years of rosters (about 350 people in 19
    sections, with transfers and leavers), four sign-in accounts (staff, chief, committee,
    admin), the closed FY2024 and FY2025 rounds with answers and one round open now without
    answers (to try the checklist). The other six wards are smaller (about 50 people each)
    with closed FY2024 and FY2025 rounds on the city's catalogue; a fifth account (900005) is
    a committee member for the whole city. Run it again and it keeps the demo data that is
    there.
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
        click.echo(
            f"  ほかの {summary.wards - 1} 区: 終了した調査が2回ずつ"
            "（市全体のページは 900005 でサインインして「結果」から）"
        )
    click.echo("デモ用アカウント（職員番号 / パスワード）:")
    for employee_id, role, note in DEMO_ACCOUNTS:
        click.echo(f"  {role}: {employee_id} / {DEMO_PASSWORD}  …{note}")
    click.echo("起動: flask --app wsgi run  →  http://127.0.0.1:5000（サインインは /auth/login）")


round_cli = Group("round", help=N_("調査（回）の作成と一覧。"))


@round_cli.command(
    "create",
    help=N_(
        "カタログを1つ以上の区で期間を決めて調査として開き、新しい調査の番号を表示する。\n\n"
        "日時は「2026-11-01 09:00」（T でも可）で、+09:00 や Z がなければ東京時間。--opens から"
        "（その時刻を含む）--closes まで（含まない）受け付ける。調査の年度は開始日の年度で、そ"
        "の年度の名簿で回答者が決まる（docs/rounds.md）。調査の説明を1行、最後の行に番号だけを"
        "表示する。エラーは標準エラーに表示し、何も書き込まず終了コード 1 で終わる。"
    ),
)
@click.option(
    "--catalogue", "catalogue_key", required=True, help=N_("カタログのキー（例 takatsu-2025）。")
)
@click.option(
    "--ward", "wards", multiple=True, required=True, help=N_("対象の区。複数なら繰り返す。")
)
@click.option("--opens", required=True, help=N_("開始日時（例 2026-11-01 09:00、東京時間）。"))
@click.option("--closes", required=True, help=N_("締切日時（例 2026-11-28 17:15、東京時間）。"))
@click.option(
    "--title", default=None, help=N_("題名（省略時: 令和N年度 区役所サービス基準 自己点検）。")
)
@click.option(
    "--reminder-days",
    default=None,
    help=N_("まだ提出していない人へお知らせを送る日。締め切りの何日前かをカンマで区切る"
    "（省略時 7,3,1。\"\" なら送らない）。"),
)
@click.option(
    "--confirm-year",
    is_flag=True,
    help=N_("調査の年度とカタログの年度が違っても作る（違うときは、これがないと作らない）。"),
)
def round_create_command(
    catalogue_key: str,
    wards: tuple[str, ...],
    opens: str,
    closes: str,
    title: str | None,
    reminder_days: str | None,
    confirm_year: bool,
) -> None:
    """Open a catalogue for a period in one or more wards and print the new round's id.

    Times are "2026-11-01 09:00" (or with a T) on the city's clock (Asia/Tokyo) unless an
    offset such as +09:00 or Z is given. The round is open from --opens (inclusive) until
    --closes (exclusive); its fiscal year is the one in which it opens, and that year's roster
    decides who answers (docs/rounds.md). Prints a line describing the round and, on the last
    line, the id alone. Unreadable times are reported first; otherwise every problem found is
    printed. Errors go to stderr, nothing is written and the exit status is 1.
    """
    from app.admin.routes import round_values
    from app.extensions import db
    from app.services import audit
    from app.services.rounds import RoundError, catalogue_year_mismatch, create_round

    times, days, errors = _round_options(opens, closes, reminder_days)
    if not errors and not confirm_year:
        mismatch = catalogue_year_mismatch(catalogue_key, times[0])
        if mismatch:
            errors.append(
                f"{mismatch}このまま作るときは --confirm-year を付けてください"
                "（新しい年度の基準を使うなら、先にそのカタログを公開してください）。"
            )
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
    after = round_values(round_)
    audit.record(
        "round.create",
        actor=None,  # the command line
        target_type="round",
        target_id=round_.id,
        after={**after, "source": "cli"},
        ward_id=audit.single_ward(after["ward_ids"]),
    )
    db.session.commit()
    _echo_created_round(round_)


def _round_options(
    opens: str, closes: str, reminder_days: str | None
) -> tuple[list[datetime], tuple[int, ...] | None, list[str]]:
    """The opening and closing times and the reminder days as given on the command line
    (None: the default), with the message of each that cannot be read."""
    from app.services.rounds import parse_datetime, parse_reminder_days

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
    return times, days, errors


def _echo_created_round(round_: Round) -> None:
    """A line describing the new round (after a note on stderr when its catalogue is of
    another year than its roster), then its id alone."""
    from app.wareki import fiscal_year_label, reiwa_datetime

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


@round_cli.command(
    "list",
    help=N_(
        "調査を新しい順にすべて一覧する: 番号、状態（受付中・受付前・終了）、題名、カタログ、区"
        "、期間（東京時間）。"
    ),
)
def round_list_command() -> None:
    """List every round, newest first: id, state (受付中/受付前/終了), title, catalogue, wards
    and the period on the city's clock."""
    from app.models import utcnow
    from app.services.rounds import list_rounds
    from app.wareki import reiwa_datetime

    rounds = list_rounds(utcnow())
    if not rounds:
        click.echo("調査はまだありません（flask --app wsgi round create で作成します）。")
        return
    for r in rounds:
        state = {"open": "受付中", "upcoming": "受付前", "closed": "終了  "}[r.state]
        click.echo(
            f"{r.id:>4}  {state}  {r.title}  [{r.catalogue_key}]  {'・'.join(r.wards)}  "
            f"{reiwa_datetime(r.opens_at)} 〜 {reiwa_datetime(r.closes_at)}"
        )


report_cli = Group("report", help=N_("遵守率の表の書き出し（Excel・CSV・PDF・HTML）。"))


LEVEL_LABELS = {"all": "調査全体", "ward": "区", "department": "部", "section": "課"}


def _write_table(table: ComplianceTable, fmt: str, out: IO[bytes]) -> None:
    """One table in one format to a binary stream (a file, or standard output)."""
    from reports.csv_files import CsvShape, compliance_csv
    from reports.printing import compliance_html, compliance_pdf
    from reports.xlsx import compliance_workbook

    if fmt == "xlsx":
        compliance_workbook(table, out)
    elif fmt == "pdf":
        compliance_pdf(table, out)
    elif fmt == "html":
        out.write(compliance_html(table).encode("utf-8"))
    else:
        shape: CsvShape = "long" if fmt == "csv-long" else "wide"
        out.write("".join(compliance_csv(table, shape)).encode("utf-8"))


def _group_key(results: RoundResults, given: str) -> str:
    """A group key as `report groups` lists it, or the same with the group's name instead of
    its id (``ward:高津区``, ``section:総務課``) when exactly one group has that name."""
    keys = {group.key for group in results.groups}
    if given in keys:
        return given
    level, _sep, name = given.partition(":")
    named = [g.key for g in results.groups if g.level == level and g.name == name.strip()]
    if len(named) == 1:
        return named[0]
    raise click.ClickException(
        f"集計単位「{given}」はこの調査にありません（人数の少ない集計単位も表示しません）。"
        f"使える集計単位は flask --app wsgi report groups --round {results.round.id} で"
        "確認できます。"
    )


@report_cli.command(
    "compliance",
    help=N_(
        "調査の遵守率の表（報告書の3）を xlsx・CSV・PDF・HTML で書き出す。\n\n"
        "今年度と前年度を並べ、それぞれ職員と所属長の遵守率を示す。MIN_GROUP_SIZE 人未満の集計"
        "はどの形式でも隠す（＊）（docs/exports.md）。--output - なら標準出力に書き、完了のメッ"
        "セージは標準エラーに出す。"
    ),
)
@click.option(
    "--round", "round_id", type=int, required=True, help=N_("調査の番号（round list で確認）。")
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv", "csv-long", "pdf", "html"]),
    default="xlsx",
    show_default=True,
    help=N_("csv は報告書と同じ列、csv-long は基準×年度×区分ごとに1行（件数つき）。"),
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help=N_(
        "書き出すファイル。「-」なら標準出力。省略すると「令和7年度_高津区_遵守率.xlsx」のような名前。"
    ),
)
@click.option(
    "--group",
    "group_key",
    default="all",
    show_default=True,
    help=N_("集計単位: all（調査全体）、ward:ID、department:ID、section:ID（report groups で"
    "一覧）。ward:高津区 のように名前でも指定できる。"),
)
def report_compliance_command(
    round_id: int, fmt: str, output: Path | None, group_key: str
) -> None:
    """Write a round's compliance table to a file or, with ``--output -``, to stdout (the
    closing message then goes to stderr, so that the table can be piped)."""
    from app.extensions import db
    from app.services.compliance import ResultsError, final_results
    from app.services.exports import ExportFormat, compliance_table, export_name
    from reports.printing import PdfFontError

    try:
        results = final_results(round_id)
        key = _group_key(results, group_key)
        table = compliance_table(results, key)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    to_stdout = output is not None and str(output) == "-"
    path = output or Path(export_name(results, key, cast(ExportFormat, fmt)).text)
    try:
        if to_stdout:
            _write_table(table, fmt, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with path.open("wb") as out:
                _write_table(table, fmt, out)
    except PdfFontError as error:
        if not to_stdout:
            path.unlink(missing_ok=True)
        raise click.ClickException(error.message) from error
    where = "標準出力" if to_stdout else str(path)
    done = f"{where} に書き出しました（{table.scope}、{len(table.rows)} 基準）。"
    click.echo(done, err=to_stdout)


@report_cli.command(
    "groups",
    help=N_(
        "調査の集計単位（--group に渡すキー）を名前と一緒に一覧する。\n\n"
        "人数が少なく表示できない集計単位は載せない。"
    ),
)
@click.option(
    "--round", "round_id", type=int, required=True, help=N_("調査の番号（round list で確認）。")
)
def report_groups_command(round_id: int) -> None:
    """List the round's visible groups: key, level and the names down to the group."""
    from app.extensions import db
    from app.services.compliance import ResultsError, round_results

    try:
        results = round_results(round_id, with_previous=False)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    width = max(len(g.key) for g in results.groups)
    for group in results.groups:
        parts = (group.ward_name, group.department_name, group.name)
        path = " / ".join(dict.fromkeys(p for p in parts if p and group.level != "all"))
        label = LEVEL_LABELS.get(group.level, group.level)
        click.echo(f"{group.key:<{width}}  {label}  {path or group.name}")


@report_cli.command(
    "sections",
    help=N_(
        "調査の課ごとに、所属長向けの表（課の遵守率と区の遵守率）を1ファイルずつ書き出す。\n\n"
        "MIN_GROUP_SIZE 人未満の集計は隠す（＊）。課としての回答（課の基準）は常に示す。ファイ"
        "ル名は <年度>_<区>_<課>_遵守率.<形式>（例 令和7年度_高津区_総務課_遵守率.xlsx）。"
    ),
)
@click.option(
    "--round", "round_id", type=int, required=True, help=N_("調査の番号（round list で確認）。")
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
    help=N_("書き出すフォルダ（なければ作る）。"),
)
def report_sections_command(round_id: int, fmt: str, output_dir: Path) -> None:
    """Write one chief's sheet per section of a round: the section's rates beside its ward's.

    Cells of groups smaller than MIN_GROUP_SIZE are hidden (＊); a section's own
    section-level answers are always shown. File names are 令和7年度_高津区_総務課_遵守率.xlsx
    (``app/services/download_names.py``).
    """
    from app.extensions import db
    from app.services.compliance import ResultsError, final_results
    from app.services.exports import ExportFormat, export_name, section_sheet
    from reports.printing import PdfFontError

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
        path = output_dir / export_name(results, group.key, cast(ExportFormat, fmt)).text
        try:
            with path.open("wb") as out:
                _write_table(sheet, fmt, out)
        except PdfFontError as error:
            path.unlink(missing_ok=True)
            raise click.ClickException(error.message) from error
        written += 1
    click.echo(f"{output_dir} に {written} 課の表を書き出しました。")


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
