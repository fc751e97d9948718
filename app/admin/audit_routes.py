"""Admin: the audit log, filtered, a page at a time or as a CSV file
(``app.services.governance.audit``).

An admin of some wards reads the rows of those wards only; a city-wide admin reads every row,
the city's and sign-in failures included.
"""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from app.access import access
from app.admin import bp
from app.admin.common import admin_scope
from app.admin.forms import (
    AUDIT_CATALOGUE_NAME,
    AUDIT_TARGET_NAMES,
    AUDIT_TARGET_TYPES,
    AuditFilterForm,
)
from app.extensions import db
from app.services.catalogue.catalogues import catalogue_titles
from app.services.governance.audit import ACTIONS, CSV_HEADER, AuditFilter, audit_query, csv_rows
from reports.csv_files import rows_csv

AUDIT_PAGE_SIZE = 50


def _filter() -> tuple[AuditFilterForm, AuditFilter | None]:
    form = AuditFilterForm(formdata=request.args)
    return form, (form.wanted() if form.validate() else None)



@bp.get("/audit")
@access("admin")
def audit_log() -> ResponseReturnValue:
    """Admin: the log of my wards, newest first, 50 rows a page, filtered."""
    form, wanted = _filter()
    if wanted is None:
        return render_template("admin/audit.html", form=form, page=None), 400
    page = db.paginate(
        audit_query(admin_scope(), wanted), per_page=AUDIT_PAGE_SIZE, max_per_page=AUDIT_PAGE_SIZE
    )
    titles = catalogue_titles(
        e.target_id for e in page.items if e.target_type == "catalogue" and e.target_id
    )
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        actions=ACTIONS,
        targets={e.id: _target_name(e.target_type, e.target_id, titles) for e in page.items},
        args=form.query_args(),
    )


def _target_name(kind: str | None, target_id: str | None, titles: dict[str, str]) -> str:
    """A row's object as people read it: 「調査 3」 (Round 3), a catalogue by its title."""
    if kind == "catalogue" and target_id in titles:
        return str(AUDIT_CATALOGUE_NAME % {"title": titles[target_id], "key": target_id})
    if kind in AUDIT_TARGET_NAMES and target_id:
        return str(AUDIT_TARGET_NAMES[kind] % {"id": target_id})
    label = str(AUDIT_TARGET_TYPES.get(kind or "", kind or ""))
    return f"{label} {target_id or ''}".strip()


@bp.get("/audit.csv")
@access("admin")
def audit_csv() -> ResponseReturnValue:
    """Admin: the filtered log of my wards as CSV (UTF-8 with BOM), streamed."""
    form, wanted = _filter()
    if wanted is None:
        return render_template("admin/audit.html", form=form, page=None), 400
    query = audit_query(admin_scope(), wanted)
    response = Response(
        stream_with_context(rows_csv(CSV_HEADER, csv_rows(query))), mimetype="text/csv"
    )
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="kijun-audit.csv"'
    return response
