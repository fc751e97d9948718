"""The committee's pages (committee and admin only): the rounds, a round's table and charts,
and a breakdown by ward, department or section; and plotly.js served by the app itself.

A reader granted for some wards only reads those wards (``ward_scope``); a round that
does not exist or covers none of their wards is a 404 either way, so that nobody learns which
rounds other wards have. Every number comes from ``app.services.results.compliance``, which has
already hidden the small groups.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from flask import Response, g, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.access import access, is_city, roles_of, signed_in, signed_in_person, ward_scope
from app.caching import cacheable
from app.extensions import db
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import Role
from app.replica import reads_from_replica
from app.results import bp, vendor_bp
from app.results.figures import compared, round_charts
from app.results.forms import BreakdownForm, group_form
from app.services.results.actions import effects_of_last_years_actions, status_label
from app.services.results.compliance import (
    ALL,
    ResultsError,
    RoundInfo,
    not_final_message,
    response_progress,
    round_results,
    rounds_for_committee,
)
from app.services.results.readers import note_read

YEAR = 365 * 24 * 3600


def _ward_ids() -> set[int] | None:
    return ward_scope(signed_in(), "committee")


def _refused(error: ResultsError, status: int | None = None) -> ResponseReturnValue:
    return render_template("results/error.html", message=error.message), status or error.status


def round_state(info: RoundInfo) -> str:
    """``open``, ``upcoming`` or ``closed`` now."""
    return info.state()


@bp.get("/")
@reads_from_replica
@access("committee", "admin")
def index() -> str:
    """Committee: the rounds I may read, newest first, with their response rates."""
    scope = _ward_ids()
    rounds = rounds_for_committee(scope)
    db.session.commit()  # the counts of rounds that closed since anyone last looked
    return render_template(
        "results/index.html", rounds=rounds, state=round_state, city_scope=is_city(scope)
    )


@bp.get("/rounds/<int:round_id>")
@reads_from_replica
@access("committee", "admin")
def round_page(round_id: int) -> ResponseReturnValue:
    """Committee: a round's table in the report's layout and its five charts, for one group."""
    try:
        results = round_results(round_id, _ward_ids())
        group_key = request.args.get("group") or results.top.key
        group = results.group(group_key)
    except ResultsError as error:
        return _refused(error)
    note_read(results, signed_in_person())  # the audit log: a read round is not reopened
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return render_template(
        "results/round.html",
        results=results,
        group=group,
        rows=results.table(group_key) if results.final else [],
        compared=compared(results, group_key),
        charts=round_charts(results, group_key, response_progress(results)),
        not_final=None if results.final else not_final_message(results.round),
        form=group_form(results.groups, request.args, group_key),
        effects=effects_of_last_years_actions(results),
        state=round_state(results.round),
        fiscal_year_label=fiscal_year_label,
        roles=(Role.STAFF, Role.CHIEF),
        ALL=ALL,
    )


@bp.get("/rounds/<int:round_id>/breakdown")
@reads_from_replica
@access("committee", "admin")
def breakdown(round_id: int) -> ResponseReturnValue:
    """Committee: one row per ward, department or section: response rate, all standards and
    each scene, for 職員 or 所属長."""
    form = BreakdownForm(formdata=request.args)
    if not form.validate():
        return _refused(ResultsError(_("表示の条件が正しくありません。")), 400)
    try:
        results = round_results(round_id, _ward_ids(), with_previous=False)
    except ResultsError as error:
        return _refused(error)
    note_read(results, signed_in_person())
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    role = Role(form.role.data)
    return render_template(
        "results/breakdown.html",
        results=results,
        form=form,
        role=role,
        rows=results.breakdown(form.level.data, role),
        state=round_state(results.round),
        not_final=None if results.final else not_final_message(results.round),
    )


@bp.app_context_processor
def results_helpers() -> dict[str, object]:
    """``can_read_results()`` for the navigation: committee or admin (asked once a request);
    ``action_status(status)``: an improvement action's status in words."""

    def can_read_results() -> bool:
        if not current_user.is_authenticated:
            return False
        if "can_read_results" not in g:
            g.can_read_results = bool({"committee", "admin"} & roles_of(current_user))
        return bool(g.can_read_results)

    return {"can_read_results": can_read_results, "action_status": status_label}


# --- plotly.js, served by the app (never a CDN) -------------------------------------------


@functools.cache
def plotly_js_path() -> Path:
    """The plotly.min.js shipped inside the plotly Python package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


@functools.cache
def plotly_version() -> str:
    from importlib.metadata import version

    return version("plotly")


@vendor_bp.get("/plotly.min.js")
@access("public")
@cacheable
def plotly_js() -> Response:
    """plotly.js from the installed plotly package, cached for a year (the URL carries the
    package version, so an upgrade is fetched anew)."""
    response = send_file(
        plotly_js_path(), mimetype="text/javascript", max_age=YEAR, conditional=True
    )
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


# plotly.js injects one stylesheet of its own at load time (the maplibre map styles, which no
# chart here uses) as an inline <style>, unless an element with its id is already in the page.
# The CSP (style-src 'self') would refuse it with a console error, so the chart pages carry an
# empty placeholder with that id instead of relaxing the policy. Its own rules (plotly.js-style-
# global) come from app/static/plotly.css, linked with the class plotly.js looks for.
_INJECTED_STYLE = re.compile(
    r'getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@functools.cache
def plotly_style_ids() -> tuple[str, ...]:
    """The ids of the stylesheets plotly.min.js would inject at load time."""
    text = plotly_js_path().read_text(encoding="utf-8")
    return tuple(dict.fromkeys(_INJECTED_STYLE.findall(text)))


@vendor_bp.app_context_processor
def vendor_helpers() -> dict[str, object]:
    return {"plotly_version": plotly_version, "plotly_style_ids": plotly_style_ids}
