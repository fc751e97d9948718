"""The JSON API, ``/api/v1``: a person's rounds and checklist (docs/api.md).

The views are in ``app.api.routes``; the app factory registers ``app.api.routes.bp``.

Errors are JSON everywhere under ``/api/``: ``{"error": "<code>", "message": "<Japanese>"}``,
plus ``"fields"`` for 422. That covers the errors of the API's own views and those raised
before any view is chosen (404 for an unknown path, 405 for a wrong method), which is why the
handler is app-wide and looks at the path; outside ``/api/`` it hands over to the HTML error
pages of ``app.errors``. An app-wide handler for a given status code added
elsewhere would take precedence over this one: keep a JSON branch for ``/api/`` in it.

CSRF: the blueprint is exempt from Flask-WTF's CSRF check. Its only writing endpoint accepts
nothing but ``application/json`` bodies (anything else, ``application/*+json`` included,
gets 415): a cross-site page cannot send
that content type without a CORS preflight, which this app never answers with permission, and
the session cookie is ``SameSite=Lax``, so a cross-site request does not carry it anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, request
from flask import Response as FlaskResponse
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.api.schemas import Error, ErrorCode, Reply, ValidationError
from app.errors import error_page, refusal_text
from app.extensions import csrf, start_without_transaction

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _checklist_starts_without_a_transaction() -> None:
    """The checklist's GET only reads, and its save begins the transaction it needs: they
    start without one (``start_without_transaction``), as the checklist's pages do."""
    if request.endpoint in ("api.checklist", "api.save"):
        start_without_transaction()

# The usual error code of each HTTP status, as the "error" member of the JSON body. Every code
# is an ErrorCode (app/api/schemas.py, the enum the OpenAPI document lists); a view may give
# another for the same status (the compliance 409 is "not_final", ResultsNotFinal.code).
ERROR_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CLOSED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.INVALID,
    500: ErrorCode.SERVER_ERROR,
}


def error_code(status: int) -> ErrorCode:
    """The usual code of ``status``; a status without one of its own gets its class's
    (bad_request or server_error), so that the code is always one the document lists."""
    if status in ERROR_CODES:
        return ERROR_CODES[status]
    return ErrorCode.SERVER_ERROR if status >= 500 else ErrorCode.BAD_REQUEST


def _messages() -> dict[int, str]:
    return {
        400: _("リクエストが正しくありません。"),
        401: _("サインインしてください。"),
        403: _("この操作はできません。"),
        404: _("見つかりません。"),
        405: _("この方法では使えません。"),
        413: _("送られた内容が大きすぎます。"),
        415: _("Content-Type: application/json の本文で送ってください。"),
        500: _("サーバーで問題が起きました。しばらくしてからもう一度お試しください。"),
    }


def reply(body: Reply, status: int = 200) -> FlaskResponse:
    """The JSON response of a reply model (app/api/schemas.py), as the document describes it."""
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = status
    return response


def json_error(
    status: int,
    message: str | None = None,
    fields: Mapping[str, str] | None = None,
    code: str | None = None,
) -> FlaskResponse:
    """An error response, ``Error`` or (with ``fields``) ``ValidationError``; ``error`` is
    ``code`` (an ErrorCode's value), or the status's usual code."""
    error = ErrorCode(code) if code else error_code(status)
    text = message or _messages().get(status, _("エラーが起きました。"))
    if fields is not None:
        return reply(ValidationError(error=error, message=text, fields=dict(fields)), status)
    return reply(Error(error=error, message=text), status)


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """JSON for every HTTP error under /api/; other paths get the site's HTML error page."""
    if exc.code is None:
        return exc
    if not request.path.startswith("/api/"):
        return error_page(exc)
    response = json_error(exc.code, refusal_text(exc))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response
