"""My rounds, the checklist (save a draft or submit) and the chief's view of the section.

The rules live in ``app.services.rounds.checklist`` (reading: ``checklist_page``, saving:
``checklist_save``); these views validate the form, call the
service, commit once and redirect (POST/redirect/GET) or render the page again with what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from app.access import SignedIn, access, roles_of, signed_in, signed_in_person
from app.auth.sso import signed_in_by_header
from app.checklist import bp
from app.checklist.forms import ANSWER_LABELS, COMMENT_PREFIX, ChecklistForm, checklist_form
from app.checklist.frame import framed, framing_enabled, slot
from app.checklist.rendering import form_states, items_html, parts_of, stored_states
from app.extensions import csrf, db
from app.limits import checks_own_text
from app.models import Person, Round, utcnow
from app.services.operations.heartbeat import mail_goes_out_soon
from app.services.operations.schedule import request_receipt_mail
from app.services.rounds.checklist import (
    Checklist,
    ChecklistItem,
    InvalidAnswers,
    NotInRound,
    RoundClosed,
    SectionMember,
)
from app.services.rounds.checklist_page import (
    checklist_for,
    receipt_for,
    rounds_for,
    section_progress,
)
from app.services.rounds.checklist_save import save_checklist
from app.wareki import tokyo

CHECKLIST_PAGE = "checklist/checklist.html"
STATUS_ORDER = {"not_started": 0, "draft": 1, "submitted": 2}


@bp.get("/me")
@access("person", link=True)
def my_rounds() -> str:
    """Person: the rounds I answer, my status, the deadline and a button to each checklist."""
    me = _me()
    return render_template(
        "checklist/my_rounds.html",
        rounds=rounds_for(me),
        now=utcnow(),
        is_chief="chief" in roles_of(me),
        western_date=western_date,
    )


# The form checks its own CSRF token (FlaskForm), so that an expired token after a long
# session shows the checklist again with every answer kept, instead of the bare 400 page.
@csrf.exempt
@bp.route("/rounds/<int:round_id>/checklist", methods=["GET", "POST"])
@checks_own_text  # the service names a comment with a NUL beside it
@access("person", link=True)
def checklist(round_id: int) -> ResponseReturnValue:
    """Person: my checklist for a round; 一時保存 saves a draft, 提出する submits."""
    sheet = _checklist_or_404(round_id)
    if request.method != "POST":  # GET and HEAD
        return _render(sheet, None)
    form = checklist_form(sheet.items)
    if not form.validate():
        return _render(sheet, form, problems=_form_problems(sheet, form)), 400
    submit = bool(form.submit_answers.data)
    try:
        result = save_checklist(round_id, _me(), form.answers(), form.comments(), submit=submit)
    except RoundClosed as closed:
        db.session.rollback()
        return _render(_checklist_or_404(round_id), None, notice=closed.message), 409
    except InvalidAnswers as invalid:
        db.session.rollback()
        return _render(sheet, form, problems=_service_problems(sheet, invalid)), 400
    db.session.commit()
    if submit and not result.submitted:
        missing = [_missing(item) for item in result.missing]
        return _render(_checklist_or_404(round_id), form, problems=missing, failed_submit=True), 422
    if submit:
        flash(_("提出しました。締め切りまでは回答を直せます。"), "success")
        return redirect(url_for(".receipt", round_id=round_id))
    flash(_("一時保存しました。"), "success")
    return redirect(url_for(".checklist", round_id=round_id))


@bp.get("/rounds/<int:round_id>/receipt")
@access("person", link=True)
def receipt(round_id: int) -> ResponseReturnValue:
    """Person: my answers as submitted and stored, with the time (the receipt after submit)."""
    try:
        found = receipt_for(round_id, _me())
    except NotInRound:
        abort(404)
    if found is None:
        return redirect(url_for(".checklist", round_id=round_id))
    return render_template(
        "checklist/receipt.html",
        receipt=found,
        sheet=found.checklist,
        parts=parts_of(found.checklist.items),
        labels=ANSWER_LABELS,
    )


@bp.post("/rounds/<int:round_id>/receipt/mail")
@access("person", link=True)
def receipt_mail(round_id: int) -> ResponseReturnValue:
    """Person: send me a copy of my submitted answers (optional; while the round is open)."""
    me = signed_in_person()
    try:
        found = receipt_for(round_id, me)
    except NotInRound:
        abort(404)
    if found is None or not found.checklist.is_open:
        abort(409)
    if not (me.email or "").strip():
        flash(_("メールアドレスが登録されていないため、控えを送れません。"), "error")
    elif request_receipt_mail(round_id, me.id, found.submitted_at):
        if mail_goes_out_soon():
            flash(_("控えをメールで送ります（数分以内に届きます）。"), "success")
        else:
            flash(_("控えを送信待ちにしました。メールを送る仕組みが今は止まっているため、"
                    "動き出してから届きます。"), "warning")
    else:
        flash(_("この提出の控えは、もう送るように頼まれています。"), "success")
    db.session.commit()
    return redirect(url_for(".receipt", round_id=round_id))


@bp.get("/rounds/<int:round_id>/section")
@access("chief")
def section(round_id: int) -> str:
    """Chief: who in my section has submitted, is drafting or has not started (never answers)."""
    try:
        section_name, members = section_progress(round_id, _me())
    except NotInRound:
        abort(404)
    round_ = db.session.get(Round, round_id)
    members = sorted(members, key=lambda m: (STATUS_ORDER.get(m.status, 0), m.employee_id))
    return render_template(
        "checklist/section.html",
        round=round_,
        section_name=section_name,
        members=members,
        counts=_counts(members),
    )


# --- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One line of the error summary, and the item it marks."""

    key: str
    anchor: str
    label: str
    message: str  # in the summary, after the label ("" = the label alone)
    detail: str = ""  # beside the item; the message when empty

    @property
    def inline(self) -> str:
        return self.detail or self.message


def _me() -> SignedIn | Person:
    return signed_in()


def _checklist_or_404(round_id: int) -> Checklist:
    try:
        return checklist_for(round_id, _me())
    except NotInRound:
        abort(404)


def _render(
    sheet: Checklist,
    form: ChecklistForm | None,
    *,
    problems: list[Problem] | None = None,
    notice: str | None = None,
    failed_submit: bool = False,
) -> str:
    """The checklist page: the answers as sent in ``form``, or the stored ones without it."""
    problems = problems or []
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.key, []).append(problem.inline)
    states = stored_states(sheet.items) if form is None else form_states(sheet.items, form)
    item_html = items_html(sheet.items, states, errors, disabled=not sheet.is_open)
    answered = sum(1 for state in states.values() if state.value)
    context: dict[str, Any] = {
        "sheet": sheet,
        "parts": parts_of(sheet.items),
        "problems": problems,
        "notice": notice,
        "failed_submit": failed_submit,
        "not_yet_open": sheet.round.state() == "upcoming",
        "western_date": western_date,
    }
    if form is None and not problems and not notice and framing_enabled():
        return _framed(sheet, context, item_html, answered)
    return render_template(
        CHECKLIST_PAGE,
        section_name=sheet.section_name,
        item_html=item_html,
        answered=answered,
        **context,
    )


def _framed(
    sheet: Checklist, context: dict[str, Any], item_html: dict[str, Markup], answered: int
) -> str:
    """The page from its kept frame (app/checklist/frame.py): the key holds everything the
    template reads except the slots' values, which are this request's own."""
    me = _me()
    round_ = sheet.round
    key = (
        str(get_locale()), round_.id, round_.title, round_.fiscal_year, round_.opens_at,
        round_.closes_at, sheet.role, sheet.is_open, sheet.status, context["not_yet_open"],
        tuple((item.key, item.part, item.scene) for item in sheet.items),
        frozenset(roles_of(me)), signed_in_by_header(), current_app.config["MIN_GROUP_SIZE"],
    )  # fmt: skip

    def write() -> str:
        return render_template(
            CHECKLIST_PAGE,
            section_name=slot("section"),
            item_html={item_key: slot(f"item:{n}") for n, item_key in enumerate(item_html)},
            answered=slot("answered"),
            csrf_token=lambda: slot("csrf"),
            current_user=FramePerson(slot("name")),
            **context,
        )

    values = {
        "name": escape(me.name),
        "section": escape(sheet.section_name),
        "csrf": escape(generate_csrf()),
        "answered": str(answered),
        **{f"item:{n}": html for n, html in enumerate(item_html.values())},
    }
    return framed(key, write, values)


@dataclass(frozen=True)
class FramePerson:
    """The signed-in person as the frame's header sees them: a slot for the name."""

    name: Markup
    is_authenticated: bool = True


def _label(item: ChecklistItem) -> str:
    text = item.text if len(item.text) <= 30 else item.text[:29] + "…"
    return f"No.{item.number} {text}"


def _missing(item: ChecklistItem) -> Problem:
    return Problem(
        item.key,
        f"item-{item.key}",
        _label(item),
        "",
        _("まだ選ばれていません。できている・できていない・該当しない のどれかを選んでください。"),
    )


def _form_problems(sheet: Checklist, form: ChecklistForm) -> list[Problem]:
    problems = []
    if form.errors.get("csrf_token"):
        problems.append(
            Problem("", "main", _("画面の有効期限が切れました"), _("もう一度送ってください。"))
        )
    for item in sheet.items:
        for message in form[item.key].errors:
            problems.append(Problem(item.key, f"item-{item.key}", _label(item), str(message)))
        for message in form[COMMENT_PREFIX + item.key].errors:
            anchor = COMMENT_PREFIX + item.key
            problems.append(Problem(item.key, anchor, _label(item), str(message)))
    return problems


def _service_problems(sheet: Checklist, invalid: InvalidAnswers) -> list[Problem]:
    """The service's objections, each linked to its item (or its comment box)."""
    by_key = {item.key: item for item in sheet.items}
    comment_keys = {
        name.partition(".")[2]
        for name in getattr(invalid, "fields", {})
        if name.startswith("comments.")
    }
    problems = []
    for key, message in invalid.field_errors.items():
        item = by_key.get(key)
        if item is not None:
            anchor = COMMENT_PREFIX + key if key in comment_keys else f"item-{key}"
            problems.append(Problem(key, anchor, _label(item), message))
    return problems or [Problem("", "main", invalid.message, "")]


def _counts(members: list[SectionMember]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for member in members:
        counts[member.status] = counts.get(member.status, 0) + 1
    return counts


def western_date(moment: datetime) -> str:
    """An instant as a Western date on the city's clock: ``2025年11月28日``."""
    local = tokyo(moment)
    return f"{local.year}年{local.month}月{local.day}日"
