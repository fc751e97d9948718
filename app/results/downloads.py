"""Downloads of the compliance table (xlsx, CSV, PDF, print view) and the chief's sheet.

The files are built by ``reports/`` from ``app.services.results.exports``, which takes every number
from ``app.services.results.compliance``: small groups are already hidden in every format. CSV is
streamed.
"""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, roles_of, signed_in_person, ward_scope
from app.downloads import send_download, stream_download
from app.extensions import db
from app.models import Person
from app.render_worker import render
from app.replica import reads_from_replica
from app.results import bp
from app.services.results.compliance import ResultsError, RoundResults, final_results
from app.services.results.download_names import DownloadName
from app.services.results.exports import (
    FORMATS,
    MEDIA_TYPES,
    ExportFormat,
    chief_section_key,
    compliance_table,
    export_name,
    section_sheet,
)
from app.services.results.readers import note_download, note_read
from reports.csv_files import CsvShape, compliance_csv
from reports.printing import PdfFontError, compliance_html
from reports.table import ComplianceTable
from reports.xlsx import compliance_workbook


def _me() -> Person:
    return signed_in_person()


def _refused(error: ResultsError) -> ResponseReturnValue:
    return render_template("results/error.html", message=error.message), error.status


def _format(name: str) -> ExportFormat:
    if name not in FORMATS:
        abort(404)
    return name  # narrowed to ExportFormat by the membership test


def xlsx_response(data: bytes, name: DownloadName) -> Response:
    """A workbook as a download (never cached: it holds results, which are personal data)."""
    return send_download(
        data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", name
    )


def _log_download(results: RoundResults, fmt: ExportFormat, group: str) -> None:
    """One audit row per download: the files hold personal data, and a round whose results
    were handed out is not reopened (docs/audit.md, app/services/results/readers.py)."""
    note_download(results, _me(), {"format": fmt, "group": group})


def _download(
    table: ComplianceTable, fmt: ExportFormat, name: DownloadName
) -> ResponseReturnValue:
    if fmt in ("csv", "csv-long"):
        shape: CsvShape = "long" if fmt == "csv-long" else "wide"
        return stream_download(compliance_csv(table, shape), MEDIA_TYPES[fmt], name)
    if fmt == "html":
        return Response(compliance_html(table), mimetype="text/html")
    try:
        # The PDF is written by a subprocess: the web worker stays small (app/render_worker.py).
        data = compliance_workbook(table) if fmt == "xlsx" else render("compliance_pdf", table)
    except PdfFontError as error:
        # A character the fonts cannot draw (or no Japanese font): say so, never boxes.
        current_app.logger.error("compliance PDF: %s", error.message)
        message = _(
            "PDF を作れませんでした。サーバーに日本語フォントがありません。"
            "管理者に連絡してください。"
        )
        return render_template("results/error.html", message=message), 503
    return send_download(data, MEDIA_TYPES[fmt], name)


@bp.get("/rounds/<int:round_id>/export/<fmt>")
@reads_from_replica
@access("committee", "admin")
def export(round_id: int, fmt: str) -> ResponseReturnValue:
    """Committee: the round's table (``?group=``) as xlsx, csv, csv-long, pdf or html."""
    export_format = _format(fmt)
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"))
        group = request.args.get("group") or results.top.key
        table = compliance_table(results, group)
    except ResultsError as error:
        return _refused(error)
    _log_download(results, export_format, group)
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return _download(table, export_format, export_name(results, group, export_format))


def _sheet_results(round_id: int, section_id: int) -> tuple[RoundResults, str]:
    """The round's results and the section's group key, if this reader may see the sheet:
    the section's chief in the round's year, or a committee member of its ward."""
    me = _me()
    key = f"section:{section_id}"
    if chief_section_key(round_id, me) == key:
        return final_results(round_id, with_previous=False), key
    if not {"committee", "admin"} & roles_of(me):
        raise ResultsError(_("この課の結果を見る権限がありません。"))
    results = final_results(round_id, ward_scope(me, "committee"), with_previous=False)
    results.group(key)
    return results, key


@bp.get("/rounds/<int:round_id>/sections/<int:section_id>")
@reads_from_replica
@access("chief", "committee", "admin")
def section_page(round_id: int, section_id: int) -> ResponseReturnValue:
    """A chief's sheet: the section's rates beside its ward's (the chief's own section only;
    committee: any section of its wards)."""
    try:
        results, key = _sheet_results(round_id, section_id)
        sheet = section_sheet(results, key)
    except ResultsError as error:
        return _refused(error)
    note_read(results, _me())
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    # The way back: the chief came from "my rounds", a committee member from the round's page.
    own_section = chief_section_key(round_id, _me()) == key
    return render_template(
        "results/section.html",
        results=results,
        sheet=sheet,
        section_id=section_id,
        section_key=key,
        own_section=own_section,
    )


@bp.get("/rounds/<int:round_id>/sections/<int:section_id>/export/<fmt>")
@reads_from_replica
@access("chief", "committee", "admin")
def section_export(round_id: int, section_id: int, fmt: str) -> ResponseReturnValue:
    """A chief's sheet as xlsx, csv, pdf or html."""
    export_format = _format(fmt)
    if export_format == "csv-long":
        abort(404)
    try:
        results, key = _sheet_results(round_id, section_id)
        sheet = section_sheet(results, key)
    except ResultsError as error:
        return _refused(error)
    _log_download(results, export_format, key)
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return _download(sheet, export_format, export_name(results, key, export_format))
