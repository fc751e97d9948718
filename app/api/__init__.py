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

from typing import Any

from flask import Blueprint, jsonify, request
from flask import Response as FlaskResponse
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.errors import error_page
from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

# Error codes by HTTP status, as the "error" member of the JSON body.
ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "closed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "server_error",
}


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


def json_error(
    status: int,
    message: str | None = None,
    fields: dict[str, str] | None = None,
    code: str | None = None,
) -> FlaskResponse:
    """An error response: ``{"error", "message"}``, and ``"fields"`` when given; ``error`` is
    ``code``, or the status's usual code."""
    body: dict[str, Any] = {
        "error": code or ERROR_CODES.get(status, "error"),
        "message": message or _messages().get(status, _("エラーが起きました。")),
    }
    if fields is not None:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """JSON for every HTTP error under /api/; other paths get the site's HTML error page."""
    if exc.code is None:
        return exc
    if not request.path.startswith("/api/"):
        return error_page(exc)
    response = json_error(exc.code)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response
