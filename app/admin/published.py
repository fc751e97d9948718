"""Admin: import a ward's published compliance table of a past year (docs/results.md, "Last
year's published table"): upload, preview what matched and which lines did not, then import.

The file travels back with the confirmation (base64 in a hidden field, at most 1 MB) so that
nothing is stored before the admin has seen the preview. Rules in
``app.services.results.published``.
"""

from __future__ import annotations

import base64
import binascii

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, require_ward, visible_wards
from app.admin import bp
from app.admin.common import admin_scope, signed_in_admin
from app.admin.forms import CatalogueUploadForm, PublishedConfirmForm, PublishedUploadForm
from app.extensions import db
from app.forms import required
from app.i18n import localized_fiscal_year_label
from app.services.catalogue.uploads import CatalogueUploadError, load_uploaded_catalogue
from app.services.governance import audit
from app.services.results.published import (
    ImportPreview,
    PublishedImportError,
    delete_published,
    preview_import,
    published_tables,
    save_import,
)


def _upload_form() -> PublishedUploadForm:
    form = PublishedUploadForm()
    form.ward.choices = [(w.id, w.name) for w in visible_wards(signed_in_admin(), "admin")]
    return form


def _page(
    form: PublishedUploadForm,
    errors: list[str] | None = None,
    catalogue_form: CatalogueUploadForm | None = None,
    catalogue_errors: list[str] | None = None,
) -> str:
    return render_template(
        "admin/published.html",
        form=form,
        tables=published_tables(admin_scope()),
        errors=errors or [],
        confirm=PublishedConfirmForm(),
        catalogue_form=catalogue_form or CatalogueUploadForm(formdata=None),
        catalogue_errors=catalogue_errors or [],
    )


@bp.post("/published/catalogue")
@access("admin")
def published_catalogue() -> ResponseReturnValue:
    """Admin: load the catalogue of a past year from a YAML file (checked as `flask catalogue
    load` checks it), so that the year's published table can be imported."""
    form = CatalogueUploadForm()
    if not form.validate_on_submit():
        return _page(_upload_form(), catalogue_form=form), 400
    upload = form.catalogue.data
    filename, data = upload.filename or "", upload.read()
    upload.close()  # a large upload is a temporary file: closed now, not at collection
    try:
        catalogue, result = load_uploaded_catalogue(data, filename, admin_scope())
    except CatalogueUploadError as error:
        db.session.rollback()
        return _page(_upload_form(), catalogue_form=form, catalogue_errors=error.errors), 400
    audit.record("catalogue.create", actor=signed_in_admin(), target_type="catalogue",
                 target_id=catalogue.key, ward_id=catalogue.ward_id,
                 after={"source": filename[:200], "fiscal_year": catalogue.fiscal_year,
                        "standards": result.count, "added": result.added})
    db.session.commit()
    flash(_("カタログ「%(title)s」（%(key)s、基準 %(n)s 件）を読み込みました。"
            "%(year)sの表を取り込めます。", title=catalogue.title, key=catalogue.key,
            n=result.count, year=localized_fiscal_year_label(catalogue.fiscal_year)), "success")
    return redirect(url_for(".published"))


@bp.get("/published")
@access("admin")
def published() -> str:
    """Admin: the imported tables of my wards, and the form to import one."""
    return _page(_upload_form())


@bp.post("/published/preview")
@access("admin")
def published_preview() -> ResponseReturnValue:
    """Admin: what the uploaded file would import; nothing is written yet."""
    form = _upload_form()
    if not form.validate_on_submit():
        return _page(form), 400
    require_ward(signed_in_admin(), "admin", form.ward.data)
    data = form.table.data.read()
    filename = form.table.data.filename or ""
    try:
        preview = preview_import(form.ward.data, required(form.fiscal_year.data), data, filename)
    except PublishedImportError as error:
        return _page(form, error.messages), 400
    confirm = PublishedConfirmForm(
        ward=str(preview.ward_id),
        fiscal_year=str(preview.fiscal_year),
        filename=filename,
        payload=base64.b64encode(data).decode("ascii"),
    )
    return render_template("admin/published_preview.html", preview=preview, form=confirm)


def _confirmed(form: PublishedConfirmForm) -> tuple[ImportPreview, str]:
    """The preview again from the returned file; 400 for a tampered or broken form."""
    try:
        ward_id, fiscal_year = int(form.ward.data or ""), int(form.fiscal_year.data or "")
        data = base64.b64decode(form.payload.data or "", validate=True)
    except (ValueError, binascii.Error):
        abort(400)
    require_ward(signed_in_admin(), "admin", ward_id)
    filename = form.filename.data or ""
    return preview_import(ward_id, fiscal_year, data, filename), filename


@bp.post("/published/import")
@access("admin")
def published_import() -> ResponseReturnValue:
    """Admin: import the previewed table (replacing the ward's table of that year)."""
    form = PublishedConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        preview, filename = _confirmed(form)
    except PublishedImportError as error:
        return _page(_upload_form(), error.messages), 400
    save_import(preview, filename, signed_in_admin())
    db.session.commit()
    flash(
        _("%(ward)s %(year)sの公表値を取り込みました（基準 %(n)s 件）。",
          ward=preview.ward_name, year=localized_fiscal_year_label(preview.fiscal_year),
          n=len(preview.rows)),
        "success",
    )
    return redirect(url_for(".published"))


@bp.post("/published/<int:table_id>/delete")
@access("admin")
def published_delete(table_id: int) -> ResponseReturnValue:
    """Admin: remove an imported table of one of my wards (404 for any other)."""
    if not PublishedConfirmForm().validate_on_submit() or not delete_published(
        table_id, admin_scope(), signed_in_admin()
    ):
        abort(404)
    db.session.commit()
    flash(_("取り込んだ表を削除しました。"), "success")
    return redirect(url_for(".published"))
