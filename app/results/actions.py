"""Improvement actions: the weak standards of a closed round and the actions the committee
records on them, changes and deletes; the owner and the section's chief record where an action
stands; the committee's list of actions across rounds, and its xlsx. Rules in
``app.services.results.actions``, ``action_records`` and ``action_list``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, is_city, roles_of, signed_in_person, visible_wards, ward_scope
from app.extensions import db
from app.forms import SelectChoice
from app.goals.forms import ConfirmForm
from app.models import ImprovementAction, Person, utcnow
from app.results import bp
from app.results.downloads import xlsx_response
from app.results.forms import ActionForm, ActionListForm, EditActionForm, ProgressForm
from app.services.governance import audit
from app.services.results import action_list as listing
from app.services.results import action_records as records
from app.services.results import actions as service
from app.services.results.compliance import ResultsError, RoundResults, final_results
from app.services.results.download_names import (
    CITY,
    DownloadName,
    download_name,
    ward_part,
    wards_part,
)
from app.services.results.readers import note_read
from app.wareki import fiscal_year_label, fiscal_year_of, reiwa_date, tokyo
from reports.actions_xlsx import ActionSheetRow, actions_workbook


def _me() -> Person:
    return signed_in_person()


def _refused(error: ResultsError) -> ResponseReturnValue:
    return render_template("results/error.html", message=error.message), error.status


def _choices(form: ActionForm, results: RoundResults) -> None:
    """The round's standards, and the owners grouped by section (the ward first when the
    reader sees several)."""
    form.standard.choices = [
        SelectChoice(s.key, _("基準%(n)s %(text)s", n=s.number, text=s.text[:40]))
        for s in results.standards
    ]
    wards = service.action_ward_ids(results)
    names = {g.ward_id: g.name for g in results.groups if g.level == "ward"}
    form.owner.choices = [SelectChoice("", _("選んでください"))] + [
        SelectChoice(
            c.value,
            _("%(name)s（%(id)s）・所属長", name=c.name, id=c.employee_id) if c.chief
            else _("%(name)s（%(id)s）", name=c.name, id=c.employee_id),
            optgroup=f"{names[c.ward_id]} {c.section_name}" if len(wards) > 1 else c.section_name,
        )
        for c in records.owner_choices(wards)
    ]


def _plan(form: ActionForm) -> records.ActionPlan:
    return records.ActionPlan(
        form.standard.data or "", form.action.data or "", form.owner.data or "", form.due.data
    )


def _progress(form: ProgressForm) -> records.Progress:
    return records.Progress(
        form.status.data or "", form.reason.data or "", form.outcome.data or "",
        form.evidence_url.data or "", form.evidence_note.data or "",
    )


def _page(results: RoundResults, form: ActionForm, errors: list[str] | None = None) -> str:
    return render_template(
        "results/actions.html",
        results=results,
        weak=service.weak_standards(results, results.top.key),
        thresholds=service.thresholds(),
        actions=service.round_actions(results.round.id, service.action_ward_ids(results)),
        numbers={s.key: s.number for s in results.standards},
        form=form,
        errors=errors or [],
    )


@bp.route("/rounds/<int:round_id>/actions", methods=["GET", "POST"])
@access("committee", "admin")
def actions(round_id: int) -> ResponseReturnValue:
    """Committee: a closed round's weak standards and the actions recorded on them; POST
    records one (and queues the mail to its owner and the section's chief)."""
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"))
    except ResultsError as error:
        return _refused(error)
    form = ActionForm()
    _choices(form, results)
    if not form.is_submitted():
        note_read(results, _me())  # its figures read by me (the audit log)
        db.session.commit()  # and the round's counts, if it closed since anyone last looked
        return _page(results, form)
    if not form.validate():
        return _page(results, form), 400
    try:
        records.create_action(results, _plan(form), _me())
    except service.ActionError as error:
        db.session.rollback()
        return _page(results, form, error.messages), 400
    db.session.commit()
    flash(_("改善の取組を登録しました。担当者と所属長にメールで知らせます。"), "success")
    return redirect(url_for(".actions", round_id=round_id))


def _committee_action(action_id: int) -> tuple[ImprovementAction, RoundResults]:
    """The action and its round's results, for a committee member of its ward (404 for
    anyone else, as if it did not exist)."""
    action = db.session.get(ImprovementAction, action_id)
    scope = ward_scope(_me(), "committee")
    if action is None or not records.committee_covers(action, scope):
        abort(404)
    try:
        return action, final_results(action.round_id, scope, with_previous=False)
    except ResultsError:
        abort(404)


@bp.route("/actions/<int:action_id>/outcome", methods=["GET", "POST"])
@access("person")
def outcome(action_id: int) -> ResponseReturnValue:
    """The owner, the section's chief or the committee: where an action stands, what was
    done and its evidence. Anyone else gets a 404, as if it did not exist."""
    action = db.session.get(ImprovementAction, action_id)
    me = _me()
    scope = ward_scope(me, "committee") if {"committee", "admin"} & roles_of(me) else set()
    committee = action is not None and records.committee_covers(action, scope)
    if action is None or not records.may_record_progress(action, me, committee):
        abort(404)
    form = ProgressForm(obj=action, status=action.status.value, reason=action.status_reason)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            records.record_progress(action, _progress(form), me)
        except service.ActionError as error:
            db.session.rollback()
            errors = error.messages
        else:
            db.session.commit()
            flash(_("取組の状況を記録しました。"), "success")
            return redirect(url_for(".outcome", action_id=action_id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "results/outcome.html", action=action, form=form, errors=errors, committee=committee,
    ), status


@bp.route("/actions/<int:action_id>/edit", methods=["GET", "POST"])
@access("committee", "admin")
def edit_action(action_id: int) -> ResponseReturnValue:
    """Committee: change everything about an action (each change in the audit log)."""
    action, results = _committee_action(action_id)
    form = EditActionForm(
        obj=action, standard=action.standard_key, owner=records.owner_value(action),
        status=action.status.value, reason=action.status_reason,
    )
    _choices(form, results)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            records.update_action(action, results, _plan(form), _progress(form), _me())
        except service.ActionError as error:
            db.session.rollback()
            errors = error.messages
        else:
            db.session.commit()
            flash(_("改善の取組を変更しました。"), "success")
            return redirect(url_for(".actions", round_id=action.round_id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "results/action_edit.html", action=action, results=results, form=form, errors=errors,
        delete_form=ConfirmForm(),
    ), status


@bp.post("/actions/<int:action_id>/delete")
@access("committee", "admin")
def delete_action(action_id: int) -> ResponseReturnValue:
    """Committee: delete an action (asks first; its values stay in the audit log)."""
    action, _results = _committee_action(action_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not form.is_confirmed:
        return render_template(
            "goals/confirm.html", title=_("この改善の取組を削除しますか"),
            message=_("「%(text)s」を削除します。元に戻せません（操作の記録には残ります）。",
                      text=action.action),
            action=url_for(".delete_action", action_id=action_id), button=_("削除する"),
            back=url_for(".edit_action", action_id=action_id), form=ConfirmForm(confirmed="yes"),
        )
    round_id = action.round_id
    records.delete_action(action, _me())
    db.session.commit()
    flash(_("改善の取組を削除しました。"), "success")
    return redirect(url_for(".actions", round_id=round_id))


def _list_view() -> tuple[ActionListForm, list[listing.ListedAction], set[int] | None]:
    """The filter from the query string (400 when it is not one of the choices) and the
    actions it lets through in the reader's wards."""
    scope = ward_scope(_me(), "committee")
    form = ActionListForm(formdata=request.args)
    sections = listing.listed_sections(scope)
    form.section.choices = [SelectChoice("", _("すべての課"))] + [
        SelectChoice(str(id_), name) for id_, name in sections
    ]
    if not form.validate():
        abort(400)
    chosen = listing.ActionFilter(
        form.status.data or listing.OPEN,
        int(form.section.data) if form.section.data else None,
        bool(form.overdue.data),
    )
    return form, listing.list_actions(scope, chosen, tokyo(utcnow()).date()), scope


@bp.get("/actions")
@access("committee", "admin")
def action_list() -> ResponseReturnValue:
    """Committee: the actions of every round of my wards, filtered by status (the open ones
    first), section and overdue."""
    form, rows, _scope = _list_view()
    return render_template(
        "results/action_list.html", form=form, rows=rows, fiscal_year_label=fiscal_year_label
    )


def _sheet_row(a: listing.ListedAction) -> ActionSheetRow:
    number = f"基準{a.standard_number} " if a.standard_number is not None else ""
    owner = f"{a.owner_name}（{a.owner_employee_id}）" if a.owner_name else ""
    evidence = "\n".join(v for v in (a.evidence_url, a.evidence_note) if v)
    return ActionSheetRow(
        a.ward_name, fiscal_year_label(a.fiscal_year), a.round_title,
        number + a.standard_text, a.action, a.section_name, owner, reiwa_date(a.due),
        a.overdue, service.STATUS_NAMES[a.status], a.status_reason or "", a.outcome or "",
        evidence,
    )


@bp.get("/actions.xlsx")
@access("committee", "admin")
def action_list_xlsx() -> ResponseReturnValue:
    """Committee: the same list as an Excel file (it names owners: in the audit log)."""
    form, rows, scope = _list_view()
    audit.record(
        "results.download", actor=_me(), target_type="actions", target_id=None,
        after={"format": "actions.xlsx", "status": form.status.data,
               "section": form.section.data or None, "overdue": bool(form.overdue.data)},
        ward_id=None if is_city(scope) else audit.single_ward(sorted(scope)),
    )
    db.session.commit()
    lines = [listing.filter_text(form.status.data or listing.OPEN, bool(form.overdue.data))]
    data = actions_workbook("改善の取組", lines, [_sheet_row(a) for a in rows])
    return xlsx_response(data, _list_name(scope))


def _list_name(scope: set[int] | None) -> DownloadName:
    """``令和8年度_高津区_改善の取組.xlsx``: this fiscal year and the reader's wards."""
    if is_city(scope):
        part = CITY
    else:
        wards = [(w.id, w.name) for w in visible_wards(_me(), "committee")]
        part = ward_part(*wards[0]) if len(wards) == 1 else wards_part(wards)
    return download_name(fiscal_year_of(tokyo(utcnow())), [part], "actions", ".xlsx")
