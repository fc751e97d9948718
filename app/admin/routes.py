"""Admin: the rounds, creating and editing one, and a round's send ledger.

The rules live in ``app.services.rounds.rounds`` and ``app.services.operations.schedule``; these
views validate the form, call the service, commit once and redirect, or render the form again with
what went wrong. An admin granted for some wards sees and manages only the rounds all of whose wards
are theirs; any other round is a 404 (``app.access.require_round``), as if it did not exist.
Saving times that open or close a round at once (mail goes out, answers stop), or that reopen
a closed round, asks for a confirmation first; reopening is refused once anyone has read the
round's results (``app.services.results.readers``), and a reopening is logged as such.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.access import access, require_round, roles_of
from app.admin import bp
from app.admin.common import admin_scope, signed_in_admin
from app.admin.forms import (
    ConfirmActionForm,
    ConfirmRemindForm,
    LedgerFilterForm,
    RoundForm,
    SendLinksForm,
    round_form,
)
from app.extensions import db
from app.forms import required
from app.models import Round, utcnow
from app.services.governance import audit
from app.services.identity.links import links_enabled, live_links_of_round, revoke_round_links
from app.services.operations.heartbeat import (
    SchedulerStatus,
    mail_goes_out_soon,
    scheduler_status,
)
from app.services.operations.schedule import (
    STATE_LABELS,
    LinkSendError,
    immediate_effects,
    kind_label,
    ledger_counts,
    ledger_query,
    link_sends,
    reason_label,
    remind_now,
    remind_now_count,
    send_links,
    send_links_count,
)
from app.services.organisation.grants import grant_review_due
from app.services.results.readers import reopen_refusal
from app.services.rounds.rounds import (
    RoundError,
    catalogue_year_mismatch,
    create_round,
    list_rounds,
    reopens,
    round_values,
    update_round,
)

LEDGER_PAGE_SIZE = 50


@bp.get("/rounds")
@access("admin")
def rounds() -> str:
    """Admin: the rounds I manage, newest first, with the number of messages in each state."""
    listed = list_rounds(ward_ids=admin_scope())
    return render_template(
        "admin/rounds.html",
        rounds=listed,
        counts=ledger_counts([r.id for r in listed]),
        labels=STATE_LABELS,
    )


@bp.route("/rounds/new", methods=["GET", "POST"])
@access("admin")
def new_round() -> ResponseReturnValue:
    """Admin: create a round (catalogue, wards, title, times, reminder days)."""
    return _save(round_form(ward_ids=admin_scope()), None)


@bp.route("/rounds/<int:round_id>/edit", methods=["GET", "POST"])
@access("admin")
def edit_round(round_id: int) -> ResponseReturnValue:
    """Admin: change a round; what may change depends on whether it has opened or closed."""
    round_ = require_round(signed_in_admin(), "admin", round_id)
    return _save(round_form(round_, ward_ids=admin_scope()), round_)


@bp.get("/rounds/<int:round_id>/mail")
@access("admin")
def ledger(round_id: int) -> str:
    """Admin: the round's send ledger, 50 messages a page, with the count in each state."""
    round_ = require_round(signed_in_admin(), "admin", round_id)
    form = LedgerFilterForm(formdata=request.args)
    state = form.chosen() if form.validate() else None
    page = db.paginate(
        ledger_query(round_id, state), per_page=LEDGER_PAGE_SIZE, max_per_page=LEDGER_PAGE_SIZE
    )
    return render_template(
        "admin/ledger.html",
        round=round_,
        form=form,
        page=page,
        state=state,
        counts=ledger_counts([round_id]).get(round_id, {}),
        labels=STATE_LABELS,
        is_open=round_.is_open(),
        kind_label=kind_label,
        reason_label=reason_label,
        links_on=links_enabled(current_app.config),
        live_links=live_links_of_round(round_id),
        action_form=ConfirmActionForm(),
    )


@bp.route("/rounds/<int:round_id>/remind", methods=["GET", "POST"])
@access("admin")
def remind(round_id: int) -> ResponseReturnValue:
    """Admin: remind the round's non-respondents now. GET shows how many it will reach and
    asks to confirm; POST writes their reminders to the ledger (the scheduler sends them)."""
    round_ = require_round(signed_in_admin(), "admin", round_id)
    now = utcnow()
    form = ConfirmRemindForm()
    if not round_.is_open(now):
        return render_template("admin/remind.html", round=round_, form=form, reach=0), 409
    if not form.validate_on_submit():
        reach = remind_now_count(round_, now)
        return render_template("admin/remind.html", round=round_, form=form, reach=reach)
    reach = remind_now(round_, now)
    audit.record(
        "round.remind_now",
        actor=signed_in_admin(),
        target_type="round",
        target_id=round_.id,
        after={"reminders": reach},
        ward_id=audit.single_ward([ward.id for ward in round_.wards]),
    )
    db.session.commit()
    if mail_goes_out_soon():
        flash(_("%(n)s 人への催促を送信待ちにしました。1分ほどで届きます。", n=reach), "success")
    else:
        flash(_("%(n)s 人への催促を送信待ちにしました。スケジューラーが止まっているため、"
                "スケジューラーが動き出してから送られます。", n=reach), "warning")
    return redirect(url_for(".ledger", round_id=round_id))


@bp.route("/rounds/<int:round_id>/links", methods=["GET", "POST"])
@access("admin")
def links(round_id: int) -> ResponseReturnValue:
    """Admin: サインイン用リンクをまとめて送る. GET says how many non-respondents it will
    reach (and, after a first send, asks to confirm sending again); POST writes their rows to
    the send ledger, once per person and send (the scheduler sends them, each with a new
    link)."""
    round_ = require_round(signed_in_admin(), "admin", round_id)
    now = utcnow()
    form = SendLinksForm()
    if not links_enabled(current_app.config) or not round_.is_open(now):
        return _links_page(round_, form), 409
    if not form.validate_on_submit():
        return _links_page(round_, form), 400 if form.is_submitted() else 200
    send = int(form.send.data or 0)
    if send > 1 and not form.confirm_again.data:
        return _links_page(round_, form, confirm_missing=True), 400
    try:
        reach = send_links(round_, send, now)
    except LinkSendError as error:
        db.session.rollback()
        if error.reason != "already":
            return _links_page(round_, form), 409 if error.reason == "not_open" else 400
        flash(
            _("このまとめ送りは、もう送信待ちに記録されています。同じ人に二度は届きません。"),
            "info",
        )
        return redirect(url_for(".ledger", round_id=round_id))
    audit.record("round.send_links", actor=signed_in_admin(), target_type="round",
                 target_id=round_.id, after={"send": send, "people": reach},
                 ward_id=audit.single_ward([ward.id for ward in round_.wards]))
    db.session.commit()
    if mail_goes_out_soon():
        flash(_("%(n)s 人へのサインイン用リンクを送信待ちにしました。1分ほどで届きます。",
                n=reach), "success")
    else:
        flash(_("%(n)s 人へのサインイン用リンクを送信待ちにしました。スケジューラーが止まって"
                "いるため、スケジューラーが動き出してから送られます。", n=reach), "warning")
    return redirect(url_for(".ledger", round_id=round_id))


def _links_page(round_: Round, form: SendLinksForm, confirm_missing: bool = False) -> str:
    sent = link_sends(round_)
    return render_template(
        "admin/send_links.html",
        round=round_,
        form=form,
        sent=sent,
        next_send=sent + 1,
        reach=send_links_count(round_) if round_.is_open() else 0,
        links_on=links_enabled(current_app.config),
        confirm_missing=confirm_missing,
    )


@bp.post("/rounds/<int:round_id>/links/revoke")
@access("admin")
def revoke_links(round_id: int) -> ResponseReturnValue:
    """Admin: revoke every sign-in link of the round still good (the sessions they opened
    end); audited with the number."""
    round_ = require_round(signed_in_admin(), "admin", round_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    count = revoke_round_links(signed_in_admin(), round_)
    db.session.commit()
    flash(_("この調査のサインイン用リンク %(n)s 件を無効にしました。", n=count), "success")
    return redirect(url_for(".ledger", round_id=round_id))


def _save(form: RoundForm, round_: Round | None) -> ResponseReturnValue:
    """Validate everything (the form, then the service's own checks), then ask at once for
    every confirmation still missing (mail at once, another year's catalogue), then save,
    commit and redirect. Nothing is kept until every confirmation is given."""
    if not form.validate_on_submit():
        return _render(form, round_), 400 if form.is_submitted() else 200
    opens_at, closes_at = form.times()
    now = utcnow()
    effects, mismatch = _confirmations(form, round_, opens_at, closes_at, now)
    args = (form.catalogue.data, required(form.wards.data), opens_at, closes_at, form.title.data)
    scope = admin_scope()
    before = None if round_ is None else round_values(round_)
    reopening = round_ is not None and reopens(round_, opens_at, closes_at, now)
    try:
        saved = (
            create_round(*args, reminder_days=form.cadence(), allowed_ward_ids=scope)
            if round_ is None
            else update_round(
                round_, *args, reminder_days=form.cadence(), now=now, allowed_ward_ids=scope
            )
        )
    except RoundError as error:
        db.session.rollback()
        return _render(form, round_, errors=error.errors), 400
    if (effects and not form.confirm.data) or mismatch:
        db.session.rollback()  # valid, but not yet confirmed: nothing is kept
        return _render(form, round_, effects=effects, year_mismatch=mismatch)
    after = round_values(saved)
    audit.record(
        "round.create" if before is None else "round.reopen" if reopening else "round.update",
        actor=signed_in_admin(),
        target_type="round",
        target_id=saved.id,
        before=before,
        after=after,
        ward_id=audit.single_ward(after["ward_ids"]),
    )
    db.session.commit()
    flash(_("調査 %(id)s を保存しました。", id=saved.id), "success")
    return redirect(url_for(".rounds"))


def _confirmations(
    form: RoundForm, round_: Round | None, opens_at: datetime, closes_at: datetime, now: datetime
) -> tuple[list[str], str | None]:
    """What saving would do at once (mail, the close: asked until ``confirm``), and the
    catalogue's other year when not yet confirmed (``confirm_year``; never for an edit that
    keeps the round's catalogue and year: ``catalogue_year_mismatch``). Read before the save
    changes the round."""
    effects = immediate_effects(
        opens_at,
        closes_at,
        now,
        was_open=round_ is not None and round_.state(now) != "upcoming",
        was_closed=round_ is not None and round_.state(now) == "closed",
    )
    mismatch = catalogue_year_mismatch(form.catalogue.data or "", opens_at, round_)
    return effects, None if form.confirm_year.data else mismatch


def _render(
    form: RoundForm,
    round_: Round | None,
    errors: list[str] | None = None,
    effects: list[str] | None = None,
    year_mismatch: str | None = None,
) -> str:
    now = utcnow()
    closed = round_ is not None and round_.state(now) == "closed"
    return render_template(
        "admin/round_form.html",
        form=form,
        round=round_,
        errors=errors or [],
        effects=effects,
        year_mismatch=year_mismatch,
        now=now,
        reopen_refused=reopen_refusal(round_.id) if round_ is not None and closed else None,
    )


@bp.app_context_processor
def admin_helpers() -> dict[str, object]:
    """``can_manage_rounds()`` for the navigation: admins only (asked once a request)."""

    def can_manage_rounds() -> bool:
        if not current_user.is_authenticated:
            return False
        if "can_manage_rounds" not in g:
            g.can_manage_rounds = "admin" in roles_of(current_user)
        return bool(g.can_manage_rounds)

    return {"can_manage_rounds": can_manage_rounds}


@bp.context_processor
def scheduler_helpers() -> dict[str, object]:
    """``scheduler_status()`` for the admin pages' header (``admin/_subnav.html``): when mail
    last went out, and the banner when the scheduler has not ticked for
    SCHEDULER_STALE_SECONDS (read once a request)."""

    def status() -> SchedulerStatus:
        if "scheduler_status" not in g:
            g.scheduler_status = scheduler_status()
        found: SchedulerStatus = g.scheduler_status
        return found

    return {"scheduler_status": status, "grant_review_due": _grant_review_due}


def _grant_review_due() -> bool:
    """The April banner asking to review the grants (``grants.grant_review_due``)."""
    return grant_review_due(utcnow())
