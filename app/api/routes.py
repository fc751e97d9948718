"""The API views: my rounds, my checklist (read and save), a round's compliance results for
the committee, and the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from flask import Response as FlaskResponse
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from app.access import access, ward_scope
from app.api import bp, json_error
from app.api.openapi import openapi_document
from app.api.results import compliance_json
from app.extensions import db
from app.limits import checks_own_text
from app.models import Person, Round, utcnow
from app.replica import reads_from_replica
from app.services.checklist import (
    Checklist,
    InvalidAnswers,
    NotInRound,
    RoundClosed,
    checklist_for,
    rounds_for,
    save_checklist,
)
from app.services.compliance import ResultsError, final_results
from app.wareki import fiscal_year_label, tokyo

SAVE_FIELDS = frozenset({"answers", "comments", "submit"})


def _me() -> Person:
    return cast(Person, current_user._get_current_object())


def iso(moment: datetime) -> str:
    """An instant in ISO 8601 on the city's clock: ``2026-11-01T09:00:00+09:00``."""
    return tokyo(moment).isoformat(timespec="seconds")


def round_json(round_: Round, now: datetime) -> dict[str, Any]:
    return {
        "id": round_.id,
        "title": round_.title,
        "fiscal_year": round_.fiscal_year,
        "fiscal_year_label": fiscal_year_label(round_.fiscal_year),
        "opens_at": iso(round_.opens_at),
        "closes_at": iso(round_.closes_at),
        "is_open": round_.is_open(now),
    }


def checklist_json(checklist: Checklist, now: datetime) -> dict[str, Any]:
    return {
        "round": round_json(checklist.round, now),
        "status": checklist.status,
        "role": checklist.role.value,
        "section": checklist.section_name,
        "is_open": checklist.is_open,
        "answered": checklist.answered,
        "total": checklist.total,
        "items": [
            {
                "key": item.key,
                "number": item.number,
                "text": item.text,
                "scene": item.scene,
                "part": item.part,
                "answer": item.value.value if item.value is not None else None,
                "comment": item.comment,
            }
            for item in checklist.items
        ],
    }


@bp.get("/rounds")
@access("person")
def rounds() -> FlaskResponse:
    """The rounds the signed-in person answers, newest first."""
    now = utcnow()
    return jsonify(
        rounds=[
            {
                "id": r.round_id,
                "title": r.title,
                "fiscal_year": r.fiscal_year,
                "fiscal_year_label": fiscal_year_label(r.fiscal_year),
                "opens_at": iso(r.opens_at),
                "closes_at": iso(r.closes_at),
                "is_open": r.is_open,
                "status": r.status,
                "role": r.role.value,
                "section": r.section_name,
            }
            for r in rounds_for(_me(), now)
        ]
    )


@bp.get("/rounds/<int:round_id>/checklist")
@access("person")
def checklist(round_id: int) -> FlaskResponse:
    """The person's checklist in a round, with their current answers."""
    now = utcnow()
    try:
        found = checklist_for(round_id, _me(), now)
    except NotInRound as exc:
        return json_error(404, exc.message)
    return jsonify(checklist_json(found, now))


def _save_request(body: Any) -> tuple[dict[str, Any], dict[str, Any], bool, dict[str, str]]:
    """answers, comments, submit and the problems of the body's shape, by field name."""
    fields: dict[str, str] = {}
    if not isinstance(body, dict):
        fields["body"] = _("本文は JSON のオブジェクト {…} にしてください。")
        return {}, {}, False, fields
    for name in sorted(set(body) - SAVE_FIELDS):
        fields[name] = _("この項目は使えません（answers・comments・submit だけです）。")
    parts: list[dict[str, Any]] = []
    for name in ("answers", "comments"):
        part = body.get(name, {})
        if not isinstance(part, dict):  # null too: the schema says object
            fields[name] = _("基準のキーを名前とする JSON のオブジェクトにしてください。")
            part = {}
        for key, value in part.items():
            if value is not None and not isinstance(value, str):
                fields[f"{name}.{key}"] = _("文字列で書いてください。")
        parts.append(part)
    submit = body.get("submit", False)
    if not isinstance(submit, bool):
        fields["submit"] = _("true か false にしてください。")
        submit = False
    return parts[0], parts[1], submit, fields


@bp.put("/rounds/<int:round_id>/checklist")
@checks_own_text  # a form body is a 415 here, whatever it holds
@access("person")
def save(round_id: int) -> FlaskResponse:
    """Save answers, and submit them when ``submit`` is true; one transaction, one commit."""
    if request.mimetype != "application/json":  # only what the OpenAPI document says
        return json_error(415)
    try:
        body = request.get_json()
    except BadRequest:  # not JSON, not UTF-8, or nested deeper than JSON_MAX_DEPTH
        fields = {
            "body": _("本文を JSON として読めません（書き方の誤り、または入れ子が深すぎます）。")
        }
        return json_error(422, _("送られた内容に誤りがあります。何も保存していません。"), fields)
    answers, comments, submit, fields = _save_request(body)
    if fields:
        return json_error(422, _("送られた内容に誤りがあります。何も保存していません。"), fields)
    now = utcnow()
    person = _me()
    try:
        result = save_checklist(round_id, person, answers, comments, submit=submit, now=now)
        body = checklist_json(result.checklist, now)
    except NotInRound as exc:
        db.session.rollback()
        return json_error(404, exc.message)
    except RoundClosed as exc:
        db.session.rollback()
        return json_error(409, exc.message)
    except InvalidAnswers as exc:
        db.session.rollback()
        return json_error(422, exc.message, exc.fields)
    except Exception:
        db.session.rollback()
        raise
    body["submitted"] = result.submitted
    body["missing"] = [item.key for item in result.missing]
    db.session.commit()
    return jsonify(body)


@bp.get("/rounds/<int:round_id>/compliance")
@reads_from_replica
@access("committee", "admin")
def compliance(round_id: int) -> FlaskResponse:
    """Committee: a round's compliance rates per standard and role, last year's beside them,
    and the response rates; for the round as a whole or ``?group=`` (small groups hidden).
    A round outside the reader's wards is 404 like one that does not exist."""
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"))
        body = compliance_json(results, request.args.get("group") or results.top.key)
    except ResultsError as exc:
        return json_error(exc.status, exc.message, code=exc.code)
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return jsonify(body)


@bp.get("/openapi.json")
@access("public")
def openapi() -> FlaskResponse:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())
