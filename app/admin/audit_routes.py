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
from app.admin.audit_sentences import audit_entries
from app.admin.common import admin_scope
from app.admin.forms import AuditFilterForm
from app.extensions import db
from app.services.governance.audit import ACTIONS, CSV_HEADER, AuditFilter, audit_query, csv_rows
from reports.csv_files import rows_csv

AUDIT_PAGE_SIZE = 50


def _filter() -> tuple[AuditFilterForm, AuditFilter | None]:
    form = AuditFilterForm(formdata=request.args)
    return form, (form.wanted() if form.validate() else None)


@bp.get("/audit")
@access("admin")
def audit_log() -> ResponseReturnValue:
    """Admin: the log of my wards, newest first, 50 rows a page, filtered; each row as a
    sentence with today's names (``audit_sentences``), its stored values behind a disclosure."""
    form, wanted = _filter()
    if wanted is None:
        return render_template("admin/audit.html", form=form, page=None), 400
    page = db.paginate(
        audit_query(admin_scope(), wanted), per_page=AUDIT_PAGE_SIZE, max_per_page=AUDIT_PAGE_SIZE
    )
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        entries=audit_entries(page.items),
        actions=ACTIONS,
        args=form.query_args(),
    )


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
