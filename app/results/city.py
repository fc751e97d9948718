"""The city page (committee members whose grant covers every ward): the shared standards across
the wards' closed rounds of a fiscal year, its chart and table, and the xlsx of the same. Rules
in ``app.services.results.city``; a reader granted for some wards only gets a 403."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.access import access, require_city, signed_in_person
from app.extensions import db
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import Person, Role
from app.results import bp
from app.results.downloads import xlsx_response
from app.results.figures import city_chart, city_notes, city_table
from app.results.forms import CityForm
from app.services.results.city import CityResults, city_results
from app.services.results.compliance import ResultsError
from app.services.results.download_names import CITY, download_name
from app.services.results.readers import note_round_download, note_round_reads
from reports.city_xlsx import city_workbook


class BadCityQuery(ResultsError):
    """A year or role that is not one of the choices."""

    status = 400


def _me() -> Person:
    return signed_in_person()


def _city_view() -> tuple[CityResults, CityForm]:
    """The city's results for the year and role asked (``?year=&role=``); ResultsError for a
    year without a closed round or a value that is not one of the choices (400)."""
    require_city(_me())
    form = CityForm(formdata=request.args)
    year = request.args.get("year")
    if year is not None and not (year.isdigit() and len(year) <= 4):
        raise BadCityQuery(_("表示の条件が正しくありません。"))
    results = city_results(int(year) if year else None)
    form.year.choices = [(y, fiscal_year_label(y)) for y in results.fiscal_years]
    form.year.data = results.fiscal_year
    if request.args.get("role") not in (None, "staff", "chief"):
        raise BadCityQuery(_("表示の条件が正しくありません。"))
    return results, form


def _refused(error: ResultsError) -> ResponseReturnValue:
    return render_template("results/error.html", message=error.message), error.status


@bp.get("/city")
@access("committee", "admin")
def city() -> ResponseReturnValue:
    """Committee (city-wide): each ward's rate and the city's, per shared standard."""
    try:
        results, form = _city_view()
    except ResultsError as error:
        return _refused(error)
    note_round_reads(results.rounds.items(), _me())
    db.session.commit()  # the counts of rounds that closed since anyone last looked
    role = Role(form.role.data or "staff")
    return render_template(
        "results/city.html",
        results=results,
        form=form,
        role=role,
        table=city_table(results, role),
        chart=city_chart(results, role),
        notes=city_notes(results),
        year_label=fiscal_year_label(results.fiscal_year),
    )


@bp.get("/city.xlsx")
@access("committee", "admin")
def city_xlsx() -> ResponseReturnValue:
    """Committee (city-wide): the city page's numbers, both roles, as an Excel file; the
    download is in the audit log like every results file."""
    try:
        results, _form = _city_view()
    except ResultsError as error:
        return _refused(error)
    note_round_download(
        results.rounds.items(), _me(), {"format": "city.xlsx", "fiscal_year": results.fiscal_year}
    )
    db.session.commit()
    columns, rows = city_table(results, None).for_workbook()
    data = city_workbook(
        f"{fiscal_year_label(results.fiscal_year)} 区役所サービス基準 市全体の遵守率",
        columns,
        rows,
        city_notes(results),
    )
    return xlsx_response(
        data, download_name(results.fiscal_year, [CITY], "compliance", ".xlsx")
    )
