"""The HTML error pages (400, 403, 404, 405 …) in the site's own layout: Japanese (or the chosen
language), with the skip link, the menu and a way back, instead of werkzeug's bare English page.

Called by the app-wide handler in ``app.api`` for every path outside ``/api/`` (that handler
answers JSON under ``/api/``). Server errors (5xx) get a standalone page without the menu:
rendering the layout needs the database, which may be what failed.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def refusal_text(exc: HTTPException) -> str | None:
    """The sentence that explains a refusal of ``app.limits`` (a control character in a form,
    the path or the query; a page number too large), or None for any other error; the API's
    JSON error says it too."""
    from app.limits import UnreadableAddress, UnstorableText

    if isinstance(exc, UnstorableText):
        return _(
            "入力に使えない文字（NUL などの制御文字）が入っています。"
            "その文字を消してから、もう一度送ってください。"
        )
    if isinstance(exc, UnreadableAddress) and exc.reason == "page":
        return _(
            "ページの番号が大きすぎます。リンクやブックマークのアドレスを確かめてください。"
        )
    if isinstance(exc, UnreadableAddress):
        return _(
            "アドレス（URL）に使えない文字（NUL などの制御文字）が入っています。"
            "リンクやブックマークのアドレスを確かめてください。"
        )
    return None


def _texts(code: int, exc: HTTPException | None = None) -> tuple[str, str]:
    """The page's heading and its one-sentence explanation for an HTTP status."""
    refusal = refusal_text(exc) if exc is not None else None
    if refusal is not None:
        return _("送られた内容を受け付けられませんでした"), refusal
    if code == 403:
        return _("このページは表示できません"), _(
            "このページを見る権限がありません。必要なときは、管理者に相談してください。"
        )
    if code == 404:
        return _("ページが見つかりません"), _(
            "アドレスが間違っているか、ページがなくなった可能性があります。"
        )
    if code == 413:
        return _("送られた内容が大きすぎます"), _(
            "ファイルや入力が上限を超えています。小さくしてから、もう一度送ってください。"
        )
    if code == 405:
        return _("この操作はできません"), _("このページでは、その送り方は使えません。")
    return _("送られた内容を受け付けられませんでした"), _(
        "画面を読み込み直してから、もう一度操作してください。"
    )


def error_page(exc: HTTPException) -> ResponseReturnValue:
    """The error page for a 4xx or 5xx; anything else is returned as it is."""
    code = exc.code
    if code is None or not 400 <= code < 600:
        return exc
    if code >= 500:
        # Without the context processors: Flask-Login's would load the signed-in person from
        # the database again, and the database may be what failed.
        page = current_app.jinja_env.get_template("errors/server_error.html")
        return page.render(code=code, current_locale=str(get_locale() or "ja")), code
    heading, message = _texts(code, exc)
    response = render_template("errors/error.html", code=code, heading=heading, message=message)
    headers = exc.get_headers()
    allow = [(k, v) for k, v in headers if k.lower() == "allow"]
    return response, code, allow
