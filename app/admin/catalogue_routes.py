"""Admin: next year's standards in the browser (docs/admin.md, docs/catalogue.md).

A ward's catalogue is copied as next year's draft, edited (the ward's own standards: text, scene,
audience; new standards; retiring; numbers), previewed as each kind of person would see the
checklist, exported to YAML and published. The rules are in ``app.services.catalogue.drafts``
(which runs those of ``flask catalogue load``). Each action is one transaction with its audit
row. A catalogue of a ward outside the admin's scope, a city-wide one or an unknown key is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access
from app.admin import bp
from app.admin.catalogue_forms import ConfirmForm, NextYearForm, PublishForm, StandardForm
from app.admin.common import admin_scope, signed_in_admin
from app.checklist.rendering import items_html, parts_of, stored_states
from app.extensions import db
from app.models import Catalogue
from app.services.catalogue.drafts import (
    NUMBER_MAX,
    DraftError,
    add_standard,
    catalogue_values,
    compare_with_previous,
    create_next_year,
    export_yaml,
    next_year_defaults,
    preview_items,
    preview_viewers,
    publish,
    renumber,
    retire_standard,
    standard_values,
    update_standard,
    ward_catalogue,
    ward_catalogues,
)
from app.services.governance import audit


def _catalogue(key: str) -> Catalogue:
    found = ward_catalogue(key, admin_scope())
    if found is None:
        abort(404)
    return found


def _log(action: str, catalogue: Catalogue, before: Any = None, after: Any = None) -> None:
    audit.record(
        action,
        actor=signed_in_admin(),
        target_type="catalogue",
        target_id=catalogue.key,
        before=before,
        after=after,
        ward_id=catalogue.ward_id,
    )


@bp.get("/catalogues")
@access("admin")
def catalogues() -> str:
    """Admin: my wards' catalogues, drafts first among each year's."""
    return render_template("admin/catalogues.html", catalogues=ward_catalogues(admin_scope()))


@bp.route("/catalogues/<key>/next", methods=["GET", "POST"])
@access("admin")
def catalogue_next(key: str) -> ResponseReturnValue:
    """Admin: create next year's draft from this catalogue (key and title proposed)."""
    source = _catalogue(key)
    form = NextYearForm()
    if not form.is_submitted():
        form.key.data, form.title.data = next_year_defaults(source)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            draft = create_next_year(source, form.key.data or "", form.title.data or "")
        except DraftError as error:
            db.session.rollback()
            errors = error.errors
        else:
            _log("catalogue.create", draft, after={**catalogue_values(draft), "from": source.key})
            db.session.commit()
            flash(_("%(title)s の下書きを作りました。", title=draft.title), "success")
            return redirect(url_for(".catalogue", key=draft.key))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "admin/catalogue_next.html", source=source, form=form, errors=errors
    ), status


@bp.get("/catalogues/<key>")
@access("admin")
def catalogue(key: str) -> str:
    """Admin: a catalogue's standards, with what may be done to each."""
    found = _catalogue(key)
    return render_template("admin/catalogue.html", catalogue=found)


def _standard_page(
    found: Catalogue, form: StandardForm, standard: Any, errors: list[str], status: int
) -> tuple[str, int]:
    return render_template(
        "admin/catalogue_standard.html",
        catalogue=found,
        form=form,
        standard=standard,
        errors=errors,
    ), status


@bp.route("/catalogues/<key>/standards/new", methods=["GET", "POST"])
@access("admin")
def catalogue_add_standard(key: str) -> ResponseReturnValue:
    """Admin: add a ward standard (it gets a new key)."""
    found = _catalogue(key)
    form = StandardForm()
    if not form.is_submitted():
        form.number.data = str(max((s.number for s in found.standards), default=0) + 1)
    if not form.validate_on_submit():
        return _standard_page(found, form, None, [], 400 if form.is_submitted() else 200)
    try:
        added = add_standard(found, form.change())
    except DraftError as error:
        db.session.rollback()
        return _standard_page(found, form, None, error.errors, 400)
    _log("catalogue.update", found, after={"added": standard_values(added)})
    db.session.commit()
    flash(_("No.%(number)s を加えました。", number=added.number), "success")
    return redirect(url_for(".catalogue", key=key))


@bp.route("/catalogues/<key>/standards/<standard_key>", methods=["GET", "POST"])
@access("admin")
def catalogue_edit_standard(key: str, standard_key: str) -> ResponseReturnValue:
    """Admin: change a standard (a city standard: its number only)."""
    found = _catalogue(key)
    standard = next((s for s in found.standards if s.key == standard_key), None)
    if standard is None:
        abort(404)
    form = StandardForm(obj=None)
    if not form.is_submitted():
        form.number.data, form.text.data = str(standard.number), standard.text
        form.scene.data, form.audience.data = standard.scene, str(standard.audience)
        form.section_kinds.data = [k.name for k in standard.section_kinds]
    if not form.validate_on_submit():
        return _standard_page(found, form, standard, [], 400 if form.is_submitted() else 200)
    try:
        before, after = update_standard(found, standard_key, form.change())
    except DraftError as error:
        db.session.rollback()
        return _standard_page(found, form, standard, error.errors, 400)
    _log("catalogue.update", found, before=standard_values(before), after=standard_values(after))
    db.session.commit()
    flash(_("No.%(number)s を保存しました。", number=after.number), "success")
    return redirect(url_for(".catalogue", key=key))


@bp.post("/catalogues/<key>/standards/<standard_key>/retire")
@access("admin")
def catalogue_retire_standard(key: str, standard_key: str) -> ResponseReturnValue:
    """Admin: take a ward standard out of the catalogue."""
    found = _catalogue(key)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        retired = retire_standard(found, standard_key)
    except DraftError as error:
        db.session.rollback()
        for message in error.errors:
            flash(message, "error")
        return redirect(url_for(".catalogue", key=key))
    _log("catalogue.update", found, before={"retired": standard_values(retired)})
    db.session.commit()
    flash(_("No.%(number)s をやめました。", number=retired.number), "success")
    return redirect(url_for(".catalogue", key=key))


@bp.route("/catalogues/<key>/numbers", methods=["GET", "POST"])
@access("admin")
def catalogue_numbers(key: str) -> ResponseReturnValue:
    """Admin: renumber the standards; the list is put in number order."""
    found = _catalogue(key)
    form = ConfirmForm()
    errors: list[str] = []
    if form.validate_on_submit():
        numbers, errors = _numbers_sent(found)
        if not errors:
            try:
                moved = renumber(found, numbers)
            except DraftError as error:
                db.session.rollback()
                errors = error.errors
            else:
                _log("catalogue.update", found, after={"renumbered": moved})
                db.session.commit()
                flash(_("番号を保存しました（%(n)s 件変更）。", n=len(moved)), "success")
                return redirect(url_for(".catalogue", key=key))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "admin/catalogue_numbers.html", catalogue=found, form=form, errors=errors,
        sent=request.form, number_max=NUMBER_MAX,
    ), status


def _numbers_sent(found: Catalogue) -> tuple[dict[str, int], list[str]]:
    """The numbers the renumber form sent, by standard key, with a message per unreadable one."""
    numbers: dict[str, int] = {}
    errors: list[str] = []
    for standard in found.standards:
        text = (request.form.get(f"n-{standard.key}") or "").strip()
        if not text.isascii() or not text.isdigit() or len(text) > 3:
            errors.append(
                _("No.%(number)s の新しい番号「%(text)s」を 1 から %(max)s の数で入れてください。",
                  number=standard.number, text=text[:10], max=NUMBER_MAX)
            )
        else:
            numbers[standard.key] = int(text)
    return numbers, errors


@bp.get("/catalogues/<key>/preview")
@access("admin")
def catalogue_preview(key: str) -> str:
    """Admin: the checklist exactly as a staff member, or a chief of a kind of section, would
    see it with this catalogue (answers disabled; nothing is written)."""
    found = _catalogue(key)
    viewers = preview_viewers(found)
    viewer = next((v for v in viewers if v.code == request.args.get("as")), viewers[0])
    items = preview_items(found, viewer)
    return render_template(
        "admin/catalogue_preview.html",
        catalogue=found,
        viewers=viewers,
        viewer=viewer,
        parts=parts_of(items),
        total=len(items),
        item_html=items_html(items, stored_states(items), {}, disabled=True),
    )


@bp.get("/catalogues/<key>/export.yaml")
@access("admin")
def catalogue_export(key: str) -> Response:
    """Admin: the catalogue as a surveys/*.yaml file (flask catalogue load reads it back)."""
    found = _catalogue(key)
    return Response(
        export_yaml(found),
        mimetype="application/yaml",
        headers={"Content-Disposition": f"attachment; filename={found.key}.yaml"},
    )


@bp.route("/catalogues/<key>/publish", methods=["GET", "POST"])
@access("admin")
def catalogue_publish(key: str) -> ResponseReturnValue:
    """Admin: publish a draft after a confirmation page (what changed since last year)."""
    found = _catalogue(key)
    form = PublishForm()
    errors: list[str] = []
    if not found.is_draft:
        errors = [_("このカタログはすでに公開しています。")]
    elif form.validate_on_submit():
        try:
            publish(found)
        except DraftError as error:
            db.session.rollback()
            errors = error.errors
        else:
            _log("catalogue.publish", found, before={"published": False},
                 after=catalogue_values(found))
            db.session.commit()
            flash(_("%(title)s を公開しました。調査に使えます。", title=found.title), "success")
            return redirect(url_for(".catalogue", key=key))
    status = 400 if form.is_submitted() or errors else 200
    if not found.is_draft:
        status = 409
    return render_template(
        "admin/catalogue_publish.html",
        catalogue=found,
        form=form,
        errors=errors,
        comparison=compare_with_previous(found),
    ), status
