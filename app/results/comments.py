"""The committee's comments page: a final round's comments per standard for one group, with
no name or section, hiding a comment that identifies someone, and the xlsx of the same.
Rules in ``app.services.results.comments``."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, signed_in_person, ward_scope
from app.extensions import db
from app.models import Person
from app.results import bp
from app.results.downloads import xlsx_response
from app.results.forms import group_form
from app.services.results.comments import (
    GroupComments,
    comment_rows,
    group_comments,
    hide_comment,
    no_such_comment,
)
from app.services.results.compliance import ResultsError, RoundResults, final_results
from app.services.results.download_names import download_name
from app.services.results.exports import group_scope
from app.services.results.readers import note_download, note_read
from reports.comments_xlsx import comments_workbook


def _me() -> Person:
    return signed_in_person()


def _refused(error: ResultsError) -> ResponseReturnValue:
    return render_template("results/error.html", message=error.message), error.status


def _rules_note(min_size: int) -> str:
    return _(
        "名前・課・役職は示しません。%(n)s人以上が答えた区分の基準だけを、提出の順とは"
        "関係のない順に並べています。",
        n=min_size,
    )


def _group_view(round_id: int) -> tuple[RoundResults, str, GroupComments]:
    """The final round's results in my wards, the group chosen (``?group=``, default the
    widest I may see) and that group's comments; ResultsError otherwise."""
    results = final_results(round_id, ward_scope(_me(), "committee"), with_previous=False)
    group_key = request.args.get("group") or results.top.key
    return results, group_key, group_comments(results, group_key)


@bp.get("/rounds/<int:round_id>/comments")
@access("committee", "admin")
def comments(round_id: int) -> ResponseReturnValue:
    """Committee: the comments of a closed round per standard, for one group."""
    try:
        results, group_key, view = _group_view(round_id)
    except ResultsError as error:
        return _refused(error)
    note_read(results, _me())
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    show_all = request.args.get("all") == "1"  # every standard, not only those with comments
    return render_template(
        "results/comments.html",
        results=results,
        view=view,
        show_all=show_all,
        listed=view.standards if show_all else view.commented,
        form=group_form(results.groups, request.args, group_key),
        note=_rules_note(results.min_group_size),
    )


@bp.post("/rounds/<int:round_id>/comments/hide")
@access("committee", "admin")
def hide(round_id: int) -> ResponseReturnValue:
    """Committee: hide a comment that identifies someone (for everyone, from now on)."""
    group_key = request.form.get("group", "")
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"), with_previous=False)
        results.group(group_key or results.top.key)
        if not hide_comment(results, request.form.get("token", ""), _me().id):
            raise no_such_comment()
    except ResultsError as error:
        db.session.rollback()
        return _refused(error)
    db.session.commit()
    flash(_("コメントを隠しました。"), "success")
    show_all = "1" if request.form.get("all") == "1" else None
    return redirect(
        url_for(".comments", round_id=round_id, group=group_key or None, all=show_all)
    )


@bp.get("/rounds/<int:round_id>/comments.xlsx")
@access("committee", "admin")
def comments_xlsx(round_id: int) -> ResponseReturnValue:
    """Committee: the same comments as an Excel file (same rules); the download is in the
    audit log like every results file."""
    try:
        results, group_key, view = _group_view(round_id)
    except ResultsError as error:
        return _refused(error)
    note_download(results, _me(), {"format": "comments.xlsx", "group": group_key})
    db.session.commit()
    data = comments_workbook(
        results.round.title, view.group.name, comment_rows(view),
        [
            f"名前・課・役職は示しません。{results.min_group_size}人以上が答えた区分の基準"
            "だけを、提出の順とは関係のない順に並べています。",
        ],
    )
    scope = group_scope(results, group_key)
    return xlsx_response(data, download_name(results.round.fiscal_year, scope, "comments", ".xlsx"))
