"""Admin: the year's roster in the browser (``app.services.organisation.roster_upload``): upload,
preview what would change (nothing written), confirm or cancel. ``flask roster import`` does the
same import."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, ward_scope
from app.admin import bp
from app.admin.common import signed_in_admin
from app.admin.forms import RosterConfirmForm, RosterUploadForm
from app.extensions import db
from app.forms import required
from app.services.organisation import roster_upload as service


@bp.route("/roster", methods=["GET", "POST"])
@access("admin")
def roster_upload() -> ResponseReturnValue:
    """Admin: upload a roster and see what it would change (nothing is written yet)."""
    form = RosterUploadForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/roster.html", form=form, errors=[]), status
    try:
        sha256, suffix = service.store_upload(form.roster.data.filename or "",
                                              form.roster.data.read())
        preview = service.preview_upload(sha256, suffix, required(form.fiscal_year.data),
                                         ward_scope(signed_in_admin(), "admin"))
    except service.UploadError as error:
        return render_template("admin/roster.html", form=form, errors=error.errors), error.status
    confirm = RosterConfirmForm(formdata=None, sha256=preview.sha256, suffix=preview.suffix,
                                fiscal_year=preview.fiscal_year,
                                summary_digest=preview.summary_digest)
    changes = service.roster_changes(preview.sha256, preview.suffix, preview.fiscal_year)
    return render_template("admin/roster_preview.html", preview=preview, changes=changes,
                           form=confirm)


@bp.post("/roster/confirm")
@access("admin")
def roster_confirm() -> ResponseReturnValue:
    """Admin: import the previewed roster for good, if the file and the result are unchanged."""
    form = RosterConfirmForm()
    upload = RosterUploadForm(formdata=None)
    if not form.validate_on_submit() or not (form.fiscal_year.data or "").isdigit():
        return render_template("admin/roster.html", form=upload,
                               errors=[_("確認の内容が正しくありません。")]), 400
    try:
        summary = service.confirm_upload(
            signed_in_admin(), form.sha256.data or "", form.suffix.data or "",
            int(required(form.fiscal_year.data)), form.summary_digest.data or "",
            ward_scope(signed_in_admin(), "admin"),
        )
    except service.UploadError as error:
        db.session.rollback()
        return render_template("admin/roster.html", form=upload, errors=error.errors), error.status
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
        return render_template("admin/roster.html", form=upload,
                               errors=[_("確認の内容が正しくありません。")]), 400
    try:
        service.discard_upload(form.sha256.data or "", form.suffix.data or "")
    except service.UploadError as error:
        return render_template("admin/roster.html", form=upload, errors=error.errors), error.status
    flash(_("取込みを取り消しました。アップロードしたファイルは消しました。"), "success")
    return redirect(url_for(".roster_upload"))
