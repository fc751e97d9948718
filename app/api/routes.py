from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic
from flask import Response as FlaskResponse
from flask import current_app, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

from app.access import SignedIn, access, signed_in, signed_in_person, ward_scope
from app.api import bp, json_error, reply, schemas
from app.api.openapi import openapi_document
from app.api.results import compliance_reply
from app.api.schemas import (
    ChecklistItem,
    ComplianceQuery,
    MyRound,
    RoundList,
    SaveRequest,
    SaveResult,
    city_time,
)
from app.extensions import db
from app.limits import checks_own_text
from app.models import Person, utcnow
from app.replica import reads_from_replica
from app.services.results.compliance import ResultsError, final_results
from app.services.results.readers import note_read
from app.services.rounds.checklist import (
    Checklist,
    InvalidAnswers,
    NotInRound,
    RoundAsRead,
    RoundClosed,
)
from app.services.rounds.checklist_page import checklist_for, rounds_for
from app.services.rounds.checklist_save import (
    answer_choice_message,
    comment_too_long_message,
    save_checklist,
    unstorable_comment_message,
)
from app.wareki import fiscal_year_label


def _me() -> SignedIn | Person:
    return signed_in()


def round_reply(round_: RoundAsRead, now: datetime) -> schemas.Round:
    return schemas.Round(
        id=round_.id,
        title=round_.title,
        fiscal_year=round_.fiscal_year,
        fiscal_year_label=fiscal_year_label(round_.fiscal_year),
        opens_at=city_time(round_.opens_at),
        closes_at=city_time(round_.closes_at),
        is_open=round_.is_open(now),
    )


def checklist_fields(checklist: Checklist, now: datetime) -> dict[str, Any]:
    """The members of a ``Checklist`` reply (a ``SaveResult`` adds its own)."""
    return {
        "round": round_reply(checklist.round, now),
        "status": checklist.status,
        "role": checklist.role,
        "section": checklist.section_name,
        "is_open": checklist.is_open,
        "answered": checklist.answered,
        "total": checklist.total,
        "items": [
            ChecklistItem(
                key=item.key,
                number=item.number,
                text=item.text,
                scene=item.scene,
                part=item.part,
                answer=item.value,
                comment=item.comment,
            )
            for item in checklist.items
        ],
    }


@bp.get("/rounds")
@access("person", link=True)
def rounds() -> FlaskResponse:
    """The rounds the signed-in person answers, newest first."""
    now = utcnow()
    return reply(
        RoundList(
            rounds=[
                MyRound(
                    id=r.round_id,
                    title=r.title,
                    fiscal_year=r.fiscal_year,
                    fiscal_year_label=fiscal_year_label(r.fiscal_year),
                    opens_at=city_time(r.opens_at),
                    closes_at=city_time(r.closes_at),
                    is_open=r.is_open,
                    status=r.status,
                    role=r.role,
                    section=r.section_name,
                )
                for r in rounds_for(_me(), now)
            ]
        )
    )


@bp.get("/rounds/<int:round_id>/checklist")
@access("person", link=True)
def checklist(round_id: int) -> FlaskResponse:
    """The person's checklist in a round, with their current answers."""
    now = utcnow()
    try:
        found = checklist_for(round_id, _me(), now)
    except NotInRound as exc:
        return json_error(404, exc.message)
    return reply(schemas.Checklist(**checklist_fields(found, now)))


def _refused() -> str:
    # Translated only when a body is refused (a string costs a save about 0.1 ms).
    return _("送られた内容に誤りがあります。何も保存していません。")


def _body_problems(error: pydantic.ValidationError) -> dict[str, str]:
    """The problems ``SaveRequest`` found in a body, by request field (``answers.<key>`` for a
    value), in the words the checklist's own checks use."""
    fields: dict[str, str] = {}
    for problem in error.errors():
        kind, loc, given = problem["type"], problem["loc"][:2], problem["input"]
        if not loc:  # the body itself: a list, a number, a string...
            name, message = "body", _("本文は JSON のオブジェクト {…} にしてください。")
        elif kind == "extra_forbidden":
            name = str(loc[0])
            message = _("この項目は使えません（answers・comments・submit だけです）。")
        elif loc[0] == "submit":
            name, message = "submit", _("true か false にしてください。")
        elif len(loc) == 1:  # answers or comments is not an object (null too)
            name = str(loc[0])
            message = _("基準のキーを名前とする JSON のオブジェクトにしてください。")
        else:
            name = f"{loc[0]}.{loc[1]}"
            if kind == "string_unicode":
                message = unstorable_comment_message()
            elif kind == "string_too_long":
                message = comment_too_long_message()
            elif isinstance(given, str):
                message = answer_choice_message()
            else:
                message = _("文字列で書いてください。")
        fields.setdefault(name, message)
    return fields


@bp.put("/rounds/<int:round_id>/checklist")
@checks_own_text  # a form body is a 415 here, whatever it holds
@access("person", link=True)
def save(round_id: int) -> FlaskResponse:
    """Save answers, and submit them when ``submit`` is true; one transaction, one commit."""
    if request.mimetype != "application/json":  # only what the OpenAPI document says
        return json_error(415)
    try:
        body = SaveRequest.model_validate(request.get_json())
    except BadRequest:  # not JSON, not UTF-8, or nested deeper than JSON_MAX_DEPTH
        fields = {
            "body": _("本文を JSON として読めません（書き方の誤り、または入れ子が深すぎます）。")
        }
        return json_error(422, _refused(), fields)
    except pydantic.ValidationError as exc:
        return json_error(422, _refused(), _body_problems(exc))
    now = utcnow()
    person = _me()
    try:
        result = save_checklist(
            round_id, person, body.answers, body.comments, submit=body.submit, now=now
        )
        saved = SaveResult(
            **checklist_fields(result.checklist, now),
            submitted=result.submitted,
            missing=[item.key for item in result.missing],
        )
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
    db.session.commit()
    return reply(saved)


@bp.get("/rounds/<int:round_id>/compliance")
@reads_from_replica
@access("committee", "admin")
def compliance(round_id: int) -> FlaskResponse:
    """Committee: a round's compliance rates per standard and role, last year's beside them,
    and the response rates; for the round as a whole or ``?group=`` (small groups hidden).
    A round outside the reader's wards is 404 like one that does not exist."""
    query = ComplianceQuery(group=request.args.get("group") or None)
    try:
        results = final_results(round_id, ward_scope(_me(), "committee"))
        body = compliance_reply(results, query.group or results.top.key)
    except ResultsError as exc:
        return json_error(exc.status, exc.message, code=exc.code)
    note_read(results, signed_in_person())
    db.session.commit()  # the round's counts, if it closed since anyone last looked
    return reply(body)


@bp.get("/openapi.json")
@access("public")
def openapi() -> FlaskResponse:
    """The OpenAPI 3.1 description of this API, generated from app/api/schemas.py."""
    return jsonify(openapi_document(current_app))
