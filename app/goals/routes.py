"""The goal pages: a chief's section goals, the committee's year (plan, teams, import, lock).

The rules live in ``app.services.goals.goals``; these views check who may see what, validate the
form, call the service, commit once and redirect, or render the page again with the errors.
Chiefs edit the goals of the section they are chief of in that fiscal year; the committee (and
admins) edit anything of their wards' years. A locked year refuses every change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.access import (
    access,
    chief_sections_by_year,
    covers,
    may_manage_section,
    require_ward,
    roles_of,
    signed_in_person,
    visible_wards,
    ward_scope,
)
from app.extensions import db
from app.goals import bp
from app.goals.forms import (
    ConfirmForm,
    GoalsForm,
    ImportForm,
    PlanForm,
    TeamForm,
    goals_form,
)
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.limits import upload
from app.models import Person, Section, Ward, WorkingTeam, utcnow
from app.services.goals import goals as service
from app.services.goals import sheet as goal_sheet
from app.services.goals import teams as team_service
from app.services.governance import audit
from app.wareki import fiscal_year_of, tokyo


@dataclass(frozen=True)
class Problem:
    """One line of the error summary (see _forms.html render_error_summary)."""

    anchor: str
    label: str
    message: str = ""


def _me() -> Person:
    return signed_in_person()


# Problems listed on a page; a sheet with thousands of bad lines gets a count of the rest.
MAX_PROBLEMS_SHOWN = 50


def _goal_values(goals: list[Any]) -> list[dict[str, Any]]:
    return [{"scene": g.scene, "goal": g.goal, "result": g.result} for g in goals]


def _plan_values(ward_id: int, fiscal_year: int) -> dict[str, Any] | None:
    stored = service.plan_for(ward_id, fiscal_year)
    if stored is None:
        return None
    return {name: getattr(stored, name) for name in
            ("policy", "summary", "committee_name", "committee_members")}


def _team_values(team: WorkingTeam | None) -> dict[str, Any] | None:
    if team is None:
        return None
    return {"name": team.name, "purpose": team.purpose,
            "members": [p.employee_id for p in team.members]}


def _audit(action: str, target_type: str, target_id: object, ward_id: int,
           before: Any = None, after: Any = None) -> None:
    """One row of the audit log for a change of the goals pages (before the commit)."""
    audit.record(action, actor=_me(), target_type=target_type, target_id=target_id,
                 before=before, after=after, ward_id=ward_id)


def _problems(error: service.GoalsError, anchor: str) -> list[Problem]:
    shown = [Problem(anchor, message) for message in error.errors[:MAX_PROBLEMS_SHOWN]]
    rest = len(error.errors) - MAX_PROBLEMS_SHOWN
    if rest > 0:
        shown.append(Problem(anchor, _("ほかに %(count)d 件の誤りがあります。", count=rest)))
    return shown


def _year(fiscal_year: int) -> int:
    if not 2000 <= fiscal_year <= 2100:
        abort(404)
    return fiscal_year


def _is_committee() -> bool:
    return bool({"committee", "admin"} & roles_of(_me()))


def _may_manage_ward(ward_id: int) -> bool:
    return covers(ward_scope(_me(), "committee"), [ward_id])


def _ward(ward_id: int) -> Ward:
    """The ward, if the committee member may manage it (404 / 403 otherwise)."""
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        abort(404)
    require_ward(_me(), "committee", ward_id)
    return ward


def _section(section_id: int, fiscal_year: int) -> Section:
    """The section, if I am its chief in the year or manage its ward (404 / 403 otherwise)."""
    section = db.session.get(Section, section_id)
    if section is None:
        abort(404)
    if not may_manage_section(_me(), section, _year(fiscal_year)):
        abort(403)
    return section


def _team(team_id: int) -> WorkingTeam:
    """The team, if the committee member may manage its ward; 404 otherwise, as for a team
    that does not exist (another ward's teams are its own business)."""
    team = db.session.get(WorkingTeam, team_id)
    if team is None or not _may_manage_ward(team.ward_id):
        abort(404)
    return team


def _confirm(title: str, message: str, action: str, button: str, back: str) -> str:
    return render_template(
        "goals/confirm.html", title=title, message=message, action=action, button=button,
        back=back, form=ConfirmForm(confirmed="yes"),
    )


# --- Landing page ---------------------------------------------------------------------------


@bp.get("/")
@access("chief", "committee", "admin")
def index() -> str:
    """Chief: my sections' goals by year; committee: each ward's current and previous year."""
    current = fiscal_year_of(tokyo(utcnow()))
    mine = chief_sections_by_year(_me(), current - 2, current + 1)
    wards = visible_wards(_me(), "committee") if _is_committee() else []
    return render_template(
        "goals/index.html", mine=mine, wards=wards, years=(current + 1, current, current - 1)
    )


# --- A section's goals -----------------------------------------------------------------------


@bp.route("/sections/<int:section_id>/<int:fiscal_year>", methods=["GET", "POST"])
@access("chief", "committee", "admin")
def section_goals(section_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Chief (own section) or committee: the section's 1-3 goals and results for the year."""
    section = _section(section_id, fiscal_year)
    before = service.section_goals(section.id, fiscal_year)
    form = goals_form(before)
    if form.validate_on_submit():
        before_values = _goal_values(before)
        try:
            service.save_section_goals(section, fiscal_year, form.inputs(), _me())
        except service.GoalsError as error:
            db.session.rollback()
            return _section_page(section, fiscal_year, form, _problems(error, "goal-form")), 400
        _audit("goals.update", "section", section.id, section.ward_id,
               {"fiscal_year": fiscal_year, "goals": before_values},
               {"fiscal_year": fiscal_year,
                "goals": _goal_values(service.section_goals(section.id, fiscal_year))})
        db.session.commit()
        flash(_("目標を保存しました。"), "success")
        return redirect(url_for(".section_goals", section_id=section_id, fiscal_year=fiscal_year))
    status = 400 if form.is_submitted() else 200
    return _section_page(section, fiscal_year, form, _form_problems(form)), status


def _form_problems(form: GoalsForm | TeamForm | PlanForm | ImportForm) -> list[Problem]:
    problems = []
    for field in form:
        for entry in getattr(field, "entries", []):
            for sub in entry.form:
                problems += [Problem(sub.id, str(sub.label.text), m) for m in sub.errors]
        if not getattr(field, "entries", None) and isinstance(field.errors, list):
            problems += [Problem(field.id, str(field.label.text), m) for m in field.errors]
    return problems


def _section_page(
    section: Section, fiscal_year: int, form: GoalsForm, problems: list[Problem]
) -> str:
    return render_template(
        "goals/section.html",
        section=section,
        fiscal_year=fiscal_year,
        form=form,
        problems=problems,
        locked=service.is_locked(section.ward_id, fiscal_year),
        has_previous=bool(service.section_goals(section.id, fiscal_year - 1)),
        may_manage=_may_manage_ward(section.ward_id),
        scenes=service.GOAL_SCENES,
        copy_form=ConfirmForm(),
    )


@bp.post("/sections/<int:section_id>/<int:fiscal_year>/copy")
@access("chief", "committee", "admin")
def copy_section_goals(section_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Start the year's goals from last year's; asks first when goals exist already."""
    section = _section(section_id, fiscal_year)
    form = ConfirmForm()
    here = url_for(".section_goals", section_id=section_id, fiscal_year=fiscal_year)
    if not form.validate_on_submit():
        abort(400)
    if service.section_goals(section.id, fiscal_year) and not form.is_confirmed:
        return _confirm(
            _("前年度の目標で置き換えますか"),
            _("%(year)sの%(section)sの目標を、前年度の目標（場面と目標。実施結果は空）で置き換えます。"
              "今の目標と実施結果は消えます。", year=fiscal_year_label(fiscal_year),
              section=section.name),
            url_for(".copy_section_goals", section_id=section_id, fiscal_year=fiscal_year),
            _("置き換える"), here,
        )
    before = _goal_values(service.section_goals(section.id, fiscal_year))
    return _run(lambda: service.copy_section_goals(section, fiscal_year, _me(), replace=True),
                _("前年度の目標を写しました。"), here,
                lambda: _audit("goals.update", "section", section.id, section.ward_id,
                               {"fiscal_year": fiscal_year, "goals": before},
                               {"fiscal_year": fiscal_year, "copied_from_previous_year": True,
                                "goals": _goal_values(
                                    service.section_goals(section.id, fiscal_year))}))


def _run(
    action: Callable[[], object], done: str, back: str,
    audited: Callable[[], None] | None = None,
) -> ResponseReturnValue:
    """Call the service, write the audit row (``audited``), commit and go back; on GoalsError
    roll back and flash the errors."""
    try:
        action()
    except service.GoalsError as error:
        db.session.rollback()
        for message in error.errors:
            flash(message, "error")
        return redirect(back)
    if audited is not None:
        audited()
    db.session.commit()
    flash(done, "success")
    return redirect(back)


# --- The committee's year ----------------------------------------------------------------------


@bp.get("/wards/<int:ward_id>/<int:fiscal_year>")
@access("committee", "admin")
def year(ward_id: int, fiscal_year: int) -> str:
    """Committee: the ward's year: plan, each section's and team's goals, import, lock."""
    ward = _ward(ward_id)
    return _year_page(ward, _year(fiscal_year), ImportForm())


def _year_page(
    ward: Ward, fiscal_year: int, import_form: ImportForm, problems: list[Problem] | None = None
) -> str:
    return render_template(
        "goals/year.html",
        overview=service.year_overview(ward, fiscal_year),
        import_form=import_form,
        button_form=ConfirmForm(),
        problems=problems or [],
    )


@bp.route("/wards/<int:ward_id>/<int:fiscal_year>/plan", methods=["GET", "POST"])
@access("committee", "admin")
def plan(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: the year's policy (方針), summary (総括) and the committee's membership."""
    ward = _ward(ward_id)
    stored = service.plan_for(ward.id, _year(fiscal_year))
    members = stored.committee_members if stored else service.format_members(
        service.default_committee(ward.id, fiscal_year))
    form = PlanForm(obj=stored, committee_members=members,
                    committee_name=stored.committee_name if stored else "サービス推進部会")
    problems: list[Problem] = []
    if form.validate_on_submit():
        before = _plan_values(ward.id, fiscal_year)
        try:
            service.save_plan(ward.id, fiscal_year, **_plan_fields(form))
        except service.GoalsError as error:
            db.session.rollback()
            problems = _problems(error, "plan-form")
        else:
            _audit("goals.update", "year_plan", f"{ward.id}:{fiscal_year}", ward.id,
                   before, _plan_values(ward.id, fiscal_year))
            db.session.commit()
            flash(_("方針と総括を保存しました。"), "success")
            return redirect(url_for(".year", ward_id=ward_id, fiscal_year=fiscal_year))
    problems = problems or _form_problems(form)
    return render_template(
        "goals/plan.html", ward=ward, fiscal_year=fiscal_year, form=form, problems=problems,
        locked=service.is_locked(ward.id, fiscal_year),
    ), (400 if form.is_submitted() else 200)


def _plan_fields(form: PlanForm) -> dict[str, str]:
    return {
        "policy": form.policy.data or "",
        "summary": form.summary.data or "",
        "committee_name": form.committee_name.data or "",
        "committee_members": form.committee_members.data or "",
    }


@bp.post("/wards/<int:ward_id>/<int:fiscal_year>/import")
@upload
@access("committee", "admin")
def import_sheet(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: goals and results from an xlsx sheet (laid out like 中原区's FY2022 取組シート),
    all or nothing."""
    ward = _ward(ward_id)
    form = ImportForm()
    if not form.validate_on_submit():
        return _year_page(ward, _year(fiscal_year), form, _form_problems(form)), 400
    try:
        summary = goal_sheet.import_goals(
            goal_sheet.read_upload(form.sheet.data.filename or "", form.sheet.data.read()),
            ward.id,
            fiscal_year,
            _me(),
        )
    except service.GoalsError as error:
        db.session.rollback()
        return _year_page(ward, fiscal_year, form, _problems(error, "import-form")), 400
    goal_sheet.log_import(summary, ward.id, form.sheet.data.filename or "", _me())
    db.session.commit()
    for line in summary.lines():
        flash(line, "success")
    return redirect(url_for(".year", ward_id=ward_id, fiscal_year=fiscal_year))


@bp.route("/wards/<int:ward_id>/<int:fiscal_year>/lock", methods=["GET", "POST"])
@access("committee", "admin")
def lock(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: lock the year (GET asks for confirmation, POST locks)."""
    ward = _ward(ward_id)
    back = url_for(".year", ward_id=ward_id, fiscal_year=_year(fiscal_year))
    form = ConfirmForm()
    if not form.validate_on_submit() or not form.is_confirmed:
        return _confirm(
            _("%(year)sを確定（ロック）しますか", year=fiscal_year_label(fiscal_year)),
            _("確定すると、%(ward)sの%(year)sの目標・実施結果・ワーキングチーム・方針・総括は"
              "変更できなくなります（委員会はロックを解除できます）。", ward=ward.name,
              year=fiscal_year_label(fiscal_year)),
            url_for(".lock", ward_id=ward_id, fiscal_year=fiscal_year), _("確定する"), back,
        )
    return _run(lambda: service.lock_year(ward.id, fiscal_year, _me()),
                _("%(year)sを確定しました。", year=fiscal_year_label(fiscal_year)), back)


@bp.post("/wards/<int:ward_id>/<int:fiscal_year>/unlock")
@access("committee", "admin")
def unlock(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: unlock the year so that it can be edited again."""
    ward = _ward(ward_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return _run(lambda: service.unlock_year(ward.id, _year(fiscal_year), _me()),
                _("ロックを解除しました。"),
                url_for(".year", ward_id=ward_id, fiscal_year=fiscal_year))


# --- Working teams --------------------------------------------------------------------------------


@bp.post("/wards/<int:ward_id>/<int:fiscal_year>/copy-teams")
@access("committee", "admin")
def copy_teams(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: start the year's working teams from last year's (asks when teams exist)."""
    ward = _ward(ward_id)
    back = url_for(".year", ward_id=ward_id, fiscal_year=_year(fiscal_year))
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if service.ward_teams(ward.id, fiscal_year) and not form.is_confirmed:
        return _confirm(
            _("前年度のワーキングチームで置き換えますか"),
            _("今年度のワーキングチームとその目標・実施結果を消して、前年度のチーム"
              "（名前・目的・メンバー・目標）を写します。"),
            url_for(".copy_teams", ward_id=ward_id, fiscal_year=fiscal_year),
            _("置き換える"), back,
        )
    return _run(lambda: team_service.copy_teams(ward.id, fiscal_year, replace=True),
                _("前年度のワーキングチームを写しました。"), back,
                lambda: _audit("goals.update", "year_plan", f"{ward.id}:{fiscal_year}", ward.id,
                               after={"teams_copied_from_previous_year": True}))


@bp.route("/wards/<int:ward_id>/<int:fiscal_year>/teams/new", methods=["GET", "POST"])
@access("committee", "admin")
def new_team(ward_id: int, fiscal_year: int) -> ResponseReturnValue:
    """Committee: a new working team for the year (name, purpose, members)."""
    ward = _ward(ward_id)
    form = TeamForm(prefix="team")
    problems: list[Problem] = []
    if form.validate_on_submit():
        try:
            team = team_service.save_team(ward.id, _year(fiscal_year), **_team_fields(form))
        except service.GoalsError as error:
            db.session.rollback()
            problems = _problems(error, "team-form")
        else:
            _audit("goals.update", "working_team", team.id, ward.id, None, _team_values(team))
            db.session.commit()
            flash(_("ワーキングチームを作りました。目標を入力してください。"), "success")
            return redirect(url_for(".team", team_id=team.id))
    return render_template(
        "goals/team.html", ward=ward, fiscal_year=fiscal_year, team=None, form=form,
        goals_form=None, problems=problems or _form_problems(form), locked=False,
    ), (400 if form.is_submitted() else 200)


def _team_fields(form: TeamForm) -> dict[str, Any]:
    return {
        "name": form.name.data or "",
        "purpose": form.purpose.data or "",
        "member_ids": team_service.split_employee_ids(form.members.data or ""),
    }


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@access("committee", "admin")
def team(team_id: int) -> ResponseReturnValue:
    """Committee: a working team's name, purpose and members (POST), and its goals."""
    team = _team(team_id)
    form = TeamForm(prefix="team", data=_team_data(team))
    if form.validate_on_submit():
        before = _team_values(team)
        try:
            team_service.save_team(team.ward_id, team.fiscal_year, team=team, **_team_fields(form))
        except service.GoalsError as error:
            db.session.rollback()
            return _team_page(_team(team_id), form, None, _problems(error, "team-form")), 400
        _audit("goals.update", "working_team", team.id, team.ward_id, before, _team_values(team))
        db.session.commit()
        flash(_("ワーキングチームを保存しました。"), "success")
        return redirect(url_for(".team", team_id=team_id))
    return _team_page(team, form, None, _form_problems(form)), (
        400 if form.is_submitted() else 200)


def _team_data(team: WorkingTeam) -> dict[str, str]:
    """The team form's values: the members as their 職員番号, one a line (not the Person
    objects, which WTForms would take from the team as ``obj`` before any keyword)."""
    return {"name": team.name, "purpose": team.purpose,
            "members": "\n".join(p.employee_id for p in team.members)}


def _team_page(
    team: WorkingTeam, form: TeamForm, goals: GoalsForm | None, problems: list[Problem]
) -> str:
    return render_template(
        "goals/team.html", ward=team.ward, fiscal_year=team.fiscal_year, team=team,
        form=form, goals_form=goals or goals_form(service.team_goals(team.id)),
        problems=problems, locked=service.is_locked(team.ward_id, team.fiscal_year),
        scenes=service.GOAL_SCENES, delete_form=ConfirmForm(),
    )


@bp.post("/teams/<int:team_id>/goals")
@access("committee", "admin")
def team_goals(team_id: int) -> ResponseReturnValue:
    """Committee: a working team's 0-3 goals and results."""
    team = _team(team_id)
    form = GoalsForm()
    info = TeamForm(prefix="team", formdata=None, data=_team_data(team))
    if not form.validate_on_submit():
        return _team_page(team, info, form, _form_problems(form)), 400
    before = _goal_values(service.team_goals(team.id))
    try:
        service.save_team_goals(team, form.inputs(), _me())
    except service.GoalsError as error:
        db.session.rollback()
        return _team_page(_team(team_id), info, form, _problems(error, "goal-form")), 400
    _audit("goals.update", "working_team", team.id, team.ward_id, {"goals": before},
           {"goals": _goal_values(service.team_goals(team.id))})
    db.session.commit()
    flash(_("目標を保存しました。"), "success")
    return redirect(url_for(".team", team_id=team_id))


@bp.post("/teams/<int:team_id>/delete")
@access("committee", "admin")
def delete_team(team_id: int) -> ResponseReturnValue:
    """Committee: delete a working team and its goals (asks first)."""
    team = _team(team_id)
    back = url_for(".year", ward_id=team.ward_id, fiscal_year=team.fiscal_year)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not form.is_confirmed:
        return _confirm(
            _("「%(name)s」を削除しますか", name=team.name),
            _("チームとその目標・実施結果を削除します。元に戻せません。"),
            url_for(".delete_team", team_id=team_id), _("削除する"),
            url_for(".team", team_id=team_id),
        )
    before = _team_values(team)
    ward_id, deleted_id = team.ward_id, team.id
    return _run(lambda: team_service.delete_team(team), _("ワーキングチームを削除しました。"), back,
                lambda: _audit("goals.update", "working_team", deleted_id, ward_id, before,
                               {"deleted": True}))


@bp.app_context_processor
def goals_helpers() -> dict[str, object]:
    """``can_edit_goals()`` for the navigation: chiefs, committee and admins."""

    def can_edit_goals() -> bool:
        if not current_user.is_authenticated:
            return False
        if "can_edit_goals" not in g:
            g.can_edit_goals = bool({"chief", "committee", "admin"} & roles_of(current_user))
        return bool(g.can_edit_goals)

    return {"can_edit_goals": can_edit_goals}
