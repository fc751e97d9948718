"""Improvement actions: the weak standards of a closed round and the actions the committee
records on them; the section's chief records what was done. Rules in
``app.services.results.actions``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, roles_of, signed_in_person, ward_scope
from app.extensions import db
from app.forms import required
from app.models import ImprovementAction, Person
from app.results import bp
from app.results.forms import ActionForm, OutcomeForm
from app.services.results import actions as service
from app.services.results.compliance import ResultsError, RoundResults, final_results
from app.services.results.readers import note_read


def _me() -> Person:
    return signed_in_person()


def _form(results: RoundResults) -> ActionForm:
    form = ActionForm()
    form.standard.choices = [
        (s.key, _("基準%(n)s %(text)s", n=s.number, text=s.text[:40])) for s in results.standards
    ]
    wards = service.action_ward_ids(results)
    several = len(wards) > 1
    names = {g.ward_id: g.name for g in results.groups if g.level == "ward"}
    form.section.choices = [
        (section_id, f"{names[ward_id]} {name}" if several else name)
        for ward_id in wards
        for section_id, name in service.ward_sections(ward_id)
    ]
    return form


def _page(results: RoundResults, form: ActionForm, errors: list[str] | None = None) -> str:
    top = results.top.key
    return render_template(
        "results/actions.html",
        results=results,
        weak=service.weak_standards(results, top),
        thresholds=service.thresholds(),
        actions=service.round_actions(results.round.id, service.action_ward_ids(results)),
        numbers={s.key: s.number for s in results.standards},
        form=form,
        errors=errors or [],
    )


def _read_page(results: RoundResults, form: ActionForm, errors: list[str] | None = None) -> str:
    """The page, its figures read by me (the audit log, app/services/results/readers.py)."""
    note_read(results, _me())
    db.session.commit()  # and the round's counts, if it closed since anyone last looked
    return _page(results, form, errors)


@bp.route("/rounds/<int:round_id>/actions", methods=["GET", "POST"])
@access("committee", "admin")
def actions(round_id: int) -> ResponseReturnValue:
    """Committee: a closed round's weak standards and the actions recorded on them; POST
    records one."""
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"))
    except ResultsError as error:
        return render_template("results/error.html", message=error.message), error.status
    form = _form(results)
    if not form.is_submitted() or not form.validate():
        return _read_page(results, form), 400 if form.is_submitted() else 200
    ward_id = service.section_ward(form.section.data)
    try:
        service.create_action(
            results, ward_id, form.standard.data, form.action.data or "",
            form.section.data, required(form.due.data), _me(),
        )
    except service.ActionError as error:
        db.session.rollback()
        return _read_page(results, form, error.messages), 400
    db.session.commit()
    flash(_("改善の取組を登録しました。"), "success")
    return redirect(url_for(".actions", round_id=round_id))


@bp.route("/actions/<int:action_id>/outcome", methods=["GET", "POST"])
@access("person")
def outcome(action_id: int) -> ResponseReturnValue:
    """The section's chief (or the committee): what was done about an action. Anyone else
    gets a 404, as if it did not exist."""
    action = db.session.get(ImprovementAction, action_id)
    me = _me()
    scope = ward_scope(me, "committee") if {"committee", "admin"} & roles_of(me) else set()
    committee = scope is None or (scope is not None and action is not None
                                  and action.ward_id in scope)
    if action is None or not service.may_record_outcome(action, me, committee):
        abort(404)
    form = OutcomeForm(outcome=action.outcome)
    if form.validate_on_submit():
        try:
            service.record_outcome(action, form.outcome.data or "", me)
        except service.ActionError as error:
            db.session.rollback()
            return render_template(
                "results/outcome.html", action=action, form=form, errors=error.messages
            ), 400
        db.session.commit()
        flash(_("実施したことを記録しました。"), "success")
        return redirect(url_for(".outcome", action_id=action_id))
    status = 400 if form.is_submitted() else 200
    return render_template("results/outcome.html", action=action, form=form, errors=[]), status
