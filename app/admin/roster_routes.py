"""Admin: the year's roster in the browser (``app.services.organisation.roster_upload``): upload,
preview what would change and what to check (nothing written), confirm or cancel; and the
downloads to start from (``app.services.organisation.roster_export``): a template, and a year's
roster in the format the import reads. ``flask roster import`` does the same import."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, ward_scope
from app.admin import bp
from app.admin.common import admin_scope, signed_in_admin
from app.admin.forms import RosterConfirmForm, RosterUploadForm
from app.downloads import send_download
from app.extensions import db
from app.forms import required
from app.models import utcnow
from app.services.organisation import roster_export
from app.services.organisation import roster_upload as service
from app.wareki import fiscal_year_of, tokyo
from reports.roster_sheet import roster_csv, roster_workbook

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _upload_page(form: RosterUploadForm, errors: list[str], status: int = 200) -> tuple[str, int]:
    """The roster page: the format, the downloads, the upload form and what went wrong."""
    scope = admin_scope()
    example = roster_export.template_rows(roster_export.template_ward(scope))
    return render_template("admin/roster.html", form=form, errors=errors,
                           years=roster_export.roster_years(scope),
                           header=roster_export.HEADER, example=example), status


@bp.route("/roster", methods=["GET", "POST"])
@access("admin")
def roster_upload() -> ResponseReturnValue:
    """Admin: upload a roster and see what it would change (nothing is written yet)."""
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, [], 400 if form.is_submitted() else 200)
    try:
        sha256, suffix = service.store_upload(form.roster.data.filename or "",
                                              form.roster.data.read())
        preview = service.preview_upload(sha256, suffix, required(form.fiscal_year.data),
                                         ward_scope(signed_in_admin(), "admin"))
    except service.UploadError as error:
        return _upload_page(form, error.errors, error.status)
    return _preview_page(preview)


def _preview_page(preview: service.Preview, errors: list[str] | None = None) -> str:
    """The preview: what would change, the warnings, and the confirmation's form."""
    confirm = RosterConfirmForm(formdata=None, sha256=preview.sha256, suffix=preview.suffix,
                                fiscal_year=preview.fiscal_year,
                                summary_digest=preview.summary_digest)
    changes = service.roster_changes(preview.sha256, preview.suffix, preview.fiscal_year)
    return render_template("admin/roster_preview.html", preview=preview, changes=changes,
                           form=confirm, errors=errors or [])


@bp.post("/roster/confirm")
@access("admin")
def roster_confirm() -> ResponseReturnValue:
    """Admin: import the previewed roster for good, if the file and the result are unchanged."""
    form = RosterConfirmForm()
    upload = RosterUploadForm(formdata=None)
    if not form.validate_on_submit() or not (form.fiscal_year.data or "").isdigit():
        return _upload_page(upload, [_("確認の内容が正しくありません。")], 400)
    sha256, suffix = form.sha256.data or "", form.suffix.data or ""
    year, scope = int(form.fiscal_year.data or ""), ward_scope(signed_in_admin(), "admin")
    try:
        try:
            summary = service.confirm_upload(signed_in_admin(), sha256, suffix, year,
                                             form.summary_digest.data or "", scope,
                                             acknowledged=bool(form.acknowledged.data))
        except service.NotAcknowledged as refused:
            db.session.rollback()  # the preview again, with the tick asked for
            preview = service.preview_upload(sha256, suffix, year, scope)
            return _preview_page(preview, refused.errors), refused.status
    except service.UploadError as error:
        db.session.rollback()
        return _upload_page(upload, error.errors, error.status)
    db.session.commit()
    for line in summary.lines():
        flash(line, "success")
    return redirect(url_for(".roster_upload"))


@bp.post("/roster/cancel")
@access("admin")
def roster_cancel() -> ResponseReturnValue:
    """Admin: drop the previewed roster (取り消す): its stored file is removed, nothing else."""
    form = RosterConfirmForm()
    upload = RosterUploadForm(formdata=None)
    if not form.validate_on_submit():
        return _upload_page(upload, [_("確認の内容が正しくありません。")], 400)
    try:
        service.discard_upload(form.sha256.data or "", form.suffix.data or "")
    except service.UploadError as error:
        return _upload_page(upload, error.errors, error.status)
    flash(_("取込みを取り消しました。アップロードしたファイルは消しました。"), "success")
    return redirect(url_for(".roster_upload"))


def _sheet(header: tuple[str, ...], rows: list[list[str]], fmt: str) -> bytes:
    if fmt not in FORMATS:
        abort(404)
    return roster_csv(header, rows) if fmt == "csv" else roster_workbook(header, rows)


@bp.get("/roster/template.<fmt>")
@access("admin")
def roster_template(fmt: str) -> Response:
    """Admin: the roster's template (CSV or xlsx): the headers and an example section."""
    scope = admin_scope()
    data = _sheet(roster_export.HEADER, roster_export.template_rows(
        roster_export.template_ward(scope)), fmt)
    year = fiscal_year_of(tokyo(utcnow()))
    name = roster_export.roster_download_name(year, scope, f".{fmt}", template=True)
    return send_download(data, FORMATS[fmt], name)


@bp.get("/roster/<int:fiscal_year>.<fmt>")
@access("admin")
def roster_download(fiscal_year: int, fmt: str) -> Response:
    """Admin: a year's roster of my wards, in exactly the format the import reads."""
    scope = admin_scope()
    data = _sheet(roster_export.HEADER, roster_export.roster_rows(fiscal_year, scope), fmt)
    name = roster_export.roster_download_name(fiscal_year, scope, f".{fmt}")
    return send_download(data, FORMATS[fmt], name)
