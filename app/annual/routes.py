"""The annual report (実施状況報告書) of a ward and fiscal year: HTML, PDF and Word downloads.

The committee (and admins) of the ward read it. The data comes from
``app.services.goals.annual_report`` and the documents from ``reports/annual.py``.
"""

from __future__ import annotations

import base64
import hashlib

from flask import Response, abort, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, require_ward, signed_in_person, visible_wards
from app.annual import bp
from app.downloads import send_download
from app.extensions import db
from app.models import Person, Ward, utcnow
from app.render_worker import render
from app.replica import reads_from_replica
from app.services.goals.annual_report import annual_report_with_results, report_years
from app.services.results.download_names import download_name, ward_part
from app.services.results.readers import note_download, note_read
from app.wareki import fiscal_year_of, tokyo
from reports.annual import AnnualReport, annual_html, report_css
from reports.printing import PdfFontError

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _me() -> Person:
    return signed_in_person()


def _report(ward_id: int, fiscal_year: int, download: str | None = None) -> AnnualReport:
    """The report, if the reader may see the ward (404 for no ward, 403 for another's). When
    it prints a round's compliance table, the audit log records the read, or the download
    in the format ``download`` (a round read is not reopened)."""
    if not 2000 <= fiscal_year <= 2100 or db.session.get(Ward, ward_id) is None:
        abort(404)
    require_ward(_me(), "committee", ward_id)
    report, results = annual_report_with_results(ward_id, fiscal_year)
    if results is not None and download is not None:
        note_download(results, _me(), {"format": download, "annual_report": fiscal_year})
    elif results is not None:
        note_read(results, _me())
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return report


def _download(
    data: bytes, mimetype: str, report: AnnualReport, ward_id: int, suffix: str
) -> Response:
    """A download named 令和7年度_高津区_実施状況報告書.pdf, with a plain ASCII name for clients
    that read only ``filename``: FY2025_ward-2_annual-report.pdf."""
    scope = [ward_part(ward_id, report.ward)]
    name = download_name(report.fiscal_year, scope, "annual-report", suffix)
    return send_download(data, mimetype, name)


def _style_hash() -> str:
    digest = hashlib.sha256(report_css().encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@bp.get("/")
@reads_from_replica
@access("committee", "admin")
def index() -> str:
    """Committee: the wards it reads and the years that have a plan, goals or a round."""
    wards = visible_wards(_me(), "committee")
    years = report_years([w.id for w in wards], fiscal_year_of(tokyo(utcnow())))
    return render_template("annual/index.html", wards=[(w, years[w.id]) for w in wards])


@bp.get("/<int:ward_id>/<int:fiscal_year>")
@reads_from_replica
@access("committee", "admin")
def view(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: the report as one HTML page (prints as the PDF does)."""
    header = render_template(
        "annual/_site_header.html", ward_id=ward_id, fiscal_year=fiscal_year
    )
    html = annual_html(
        _report(ward_id, fiscal_year), header, url_for("static", filename="header.css")
    )
    response = Response(html, mimetype="text/html")
    # The site's style sheet for its header; the sign-out form of the header posts to the site.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self' {_style_hash()}; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return response


@bp.get("/<int:ward_id>/<int:fiscal_year>/report.pdf")
@reads_from_replica
@access("committee", "admin")
def pdf(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: the report as PDF (a download with a Japanese file name)."""
    report = _report(ward_id, fiscal_year, "annual_report.pdf")
    try:
        # Written by a subprocess: the web worker stays small (app/render_worker.py).
        data = render("annual_pdf", report)
    except PdfFontError as error:
        # The server lacks the Japanese font: say so instead of sending boxes.
        message = _(
            "PDF を作れませんでした。サーバーに日本語フォントがありません。"
            "管理者に連絡してください。"
        )
        current_app.logger.error("annual report PDF: %s", error.message)
        return Response(message + "\n", 503, mimetype="text/plain")
    return _download(data, "application/pdf", report, ward_id, ".pdf")


@bp.get("/<int:ward_id>/<int:fiscal_year>/report.docx")
@reads_from_replica
@access("committee", "admin")
def docx(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: the report as a Word document the committee can still edit."""
    report = _report(ward_id, fiscal_year, "annual_report.docx")
    data = render("annual_docx", report)  # in a subprocess, as the PDF
    return _download(data, DOCX_TYPE, report, ward_id, ".docx")
