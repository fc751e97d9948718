"""Admin: people and their roles (``app.services.organisation.people``): search, a person's page,
grant and revoke within my wards, a one-time password link shown once, "may not sign in", and
revoking the person's sign-in links.

A person outside my wards is a 404, as if they did not exist.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.validators import ValidationError

from app.access import access
from app.admin import bp
from app.admin.common import admin_scope, signed_in_admin
from app.admin.forms import ConfirmActionForm, GrantForm, PeopleSearchForm, grant_form
from app.extensions import db
from app.models import GrantRole, Person, utcnow
from app.services.identity.auth import link_max_age, password_link_token
from app.services.identity.links import (
    links_enabled,
    live_links_of_person,
    revoke_person_links,
)
from app.services.organisation import people
from app.services.organisation.grants import ENDING_SOON_DAYS, GrantError, parse_ends_on
from app.wareki import tokyo_date


def _person(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None or not people.in_scope(person, admin_scope()):
        abort(404)
    return person


@bp.get("/people")
@access("admin")
def people_list() -> ResponseReturnValue:
    """Admin: search the people of my wards by employee id, name or section (or only those
    holding a grant: the April review), with what each holds and what ends soon."""
    form = PeopleSearchForm(formdata=request.args)
    if not form.validate():
        return render_template("admin/people.html", form=form, rows=[]), 400
    rows = people.search_people(
        form.q.data or "", admin_scope(), holders_only=bool(form.holders.data)
    )
    return render_template("admin/people.html", form=form, rows=rows, limit=people.SEARCH_LIMIT,
                           ending_days=ENDING_SOON_DAYS)


def _page(person: Person, form: GrantForm | None = None, error: str | None = None,
          link: str | None = None, expires: object = None) -> str:
    return render_template(
        "admin/person.html",
        detail=people.person_detail(person),
        form=form or grant_form(admin_scope()),
        action_form=ConfirmActionForm(),
        error=error,
        link=link,
        expires=expires,
        scope=admin_scope(),
        links_on=links_enabled(current_app.config),
        live_links=live_links_of_person(person.id),
        ending_days=ENDING_SOON_DAYS,
        today=tokyo_date(utcnow()),
    )


@bp.get("/people/<int:person_id>")
@access("admin")
def person(person_id: int) -> ResponseReturnValue:
    """Admin: a person's years on the roster, sign-in, grants and the actions on them."""
    return _page(_person(person_id))


@bp.post("/people/<int:person_id>/grants")
@access("admin")
def person_grant(person_id: int) -> ResponseReturnValue:
    """Admin: grant or revoke committee or admin for one of my wards (or the city); a grant
    may have an end date (granting a held role again sets it)."""
    target = _person(person_id)
    form = grant_form(admin_scope())
    try:
        if not form.validate_on_submit():
            raise ValidationError(_("入力が正しくありません。"))
        granting = form.operation.data == "grant"
        changed = people.change_grant(
            signed_in_admin(), target, GrantRole(form.role.data), form.ward_id(), admin_scope(),
            grant=granting,
            ends_on=parse_ends_on(form.ends_on.data or "", utcnow()) if granting else None,
        )
    except (ValidationError, people.PeopleError, GrantError) as error:
        db.session.rollback()
        message = str(error) if isinstance(error, ValidationError) else error.message
        return _page(target, form, error=message), 400
    db.session.commit()
    flash(_("権限を変更しました。") if changed else _("変更はありませんでした。"), "success")
    return redirect(url_for(".person", person_id=person_id))


@bp.post("/people/<int:person_id>/password-link")
@access("admin")
def person_password_link(person_id: int) -> ResponseReturnValue:
    """Admin: a one-time set-password link, shown on this response only (never stored)."""
    target = _person(person_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    if target.sign_in_blocked:
        return _page(target, error=_("サインインを止めている人にはリンクを発行できません。")), 400
    try:
        people.require_identity_in_scope(target, admin_scope())
    except people.PeopleError as error:
        return _page(target, error=error.message), 403
    link = url_for("auth.set_password", token=password_link_token(target), _external=True)
    expires = utcnow() + timedelta(seconds=link_max_age())
    people.log_password_link(signed_in_admin(), target, expires)
    db.session.commit()
    return _page(target, link=link, expires=expires)


@bp.post("/people/<int:person_id>/sign-in")
@access("admin")
def person_sign_in(person_id: int) -> ResponseReturnValue:
    """Admin: mark that the person may not sign in (``blocked=1``), or may again."""
    target = _person(person_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    blocked = request.form.get("blocked") == "1"
    try:
        people.set_sign_in_blocked(signed_in_admin(), target, blocked, admin_scope())
    except people.PeopleError as error:
        db.session.rollback()
        return _page(target, error=error.message), 400
    db.session.commit()
    flash(_("サインインを止めました。") if blocked else _("サインインできるようにしました。"),
          "success")
    return redirect(url_for(".person", person_id=person_id))


@bp.post("/people/<int:person_id>/sign-in-links/revoke")
@access("admin")
def person_revoke_links(person_id: int) -> ResponseReturnValue:
    """Admin: revoke every sign-in link of the person still good (the sessions they opened
    end); audited with the number, never a link."""
    target = _person(person_id)
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    count = revoke_person_links(signed_in_admin(), target)
    db.session.commit()
    flash(_("サインイン用リンク %(n)s 件を無効にしました。", n=count), "success")
    return redirect(url_for(".person", person_id=person_id))
