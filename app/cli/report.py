"""``flask --app wsgi report compliance|groups|sections``: a round's compliance tables
written as xlsx, CSV, PDF or HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import click

from app.cli.help import N_, Group

if TYPE_CHECKING:
    from app.services.results.compliance import RoundResults
    from reports.table import ComplianceTable


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
    from app.services.results.compliance import ResultsError, final_results
    from app.services.results.exports import ExportFormat, compliance_table, export_name
    from app.services.results.readers import note_download
    from reports.printing import PdfFontError

    try:
        results = final_results(round_id)
        key = _group_key(results, group_key)
        table = compliance_table(results, key)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    # Like every results file, in the audit log (a round read is not reopened).
    note_download(results, None, {"format": fmt, "group": table.scope, "source": "cli"})
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
    from app.services.results.compliance import ResultsError, round_results

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
    (``app/services/results/download_names.py``).
    """
    from app.extensions import db
    from app.services.results.compliance import ResultsError, final_results
    from app.services.results.exports import ExportFormat, export_name, section_sheet
    from app.services.results.readers import note_download
    from reports.printing import PdfFontError

    try:
        results = final_results(round_id, with_previous=False)
    except ResultsError as error:
        raise click.ClickException(error.message) from error
    note_download(results, None, {"format": fmt, "group": "sections", "source": "cli"})
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
