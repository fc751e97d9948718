"""Sign-in, sign-out, personal sign-in links, one-time set-password links and the language
switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from app.access import access, via_link
from app.auth import bp
from app.auth.forms import LoginForm, SetPasswordForm
from app.auth.sessions import start_link_session, start_session
from app.auth.sso import load_person_from_header, signed_in_by_header, unknown_header_id
from app.extensions import db, login_manager
from app.i18n import LANG_COOKIE, LANG_COOKIE_MAX_AGE, LANGUAGES
from app.services.identity import auth as auth_service
from app.services.identity import links
from app.services.organisation.people import log_password_set

LANDING_ENDPOINT = "checklist.my_rounds"


@bp.record_once
def _install_request_loader(_state: BlueprintSetupState) -> None:
    login_manager.request_loader(load_person_from_header)


@bp.app_context_processor
def _account_context() -> dict[str, Any]:
    return {
        "current_locale": str(get_locale() or "ja"),
        "unknown_header_id": unknown_header_id,
        "signed_in_by_header": signed_in_by_header,
    }


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site ("/..."), else None: no scheme, no host, no
    "//" or backslash tricks, no control characters."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _landing(next_path: str | None) -> str:
    """Where to go after signing in: the safe ``next`` path, else the person's rounds."""
    if next_path:
        # next is a path inside the app (request.full_path), so it goes below script_root.
        return request.script_root + next_path
    if LANDING_ENDPOINT in current_app.view_functions:
        return url_for(LANDING_ENDPOINT)
    return request.script_root + "/me"


@bp.route("/auth/login", methods=["GET", "POST"])
@access("public")
def login() -> Any:
    """Public: sign in with 職員番号 and password, throttled; then go to ``next`` or /me."""
    next_path = safe_next(request.args.get("next"))
    # A session from a sign-in link stays here: it signs in with a password first (step-up).
    if current_user.is_authenticated and request.method == "GET" and via_link() is None:
        return redirect(_landing(next_path))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        result = auth_service.check_sign_in(
            form.employee_id.data or "", form.password.data or "", request.remote_addr or ""
        )
        # A refused sign-in is a row of the login-attempt table, not of the audit log: an
        # anonymous client must not be able to grow the log (docs/audit.md).
        db.session.commit()
        if result.person is not None:
            start_session(result.person)
            flash(_("サインインしました。"), "success")
            return redirect(_landing(next_path))
        if result.outcome is auth_service.SignInOutcome.LEFT:
            error = _(
                "今年度の名簿に載っていないため、サインインできません。"
                "名簿の担当者に確認してください。"
            )
            status = 403
        elif result.outcome is auth_service.SignInOutcome.THROTTLED:
            policy = auth_service.ThrottlePolicy.from_config(current_app.config)
            error = _(
                "サインインの失敗が続いたため、しばらく（%(minutes)d分）お待ちください。",
                minutes=policy.window_minutes,
            )
            status = 429
        else:
            error = _("職員番号またはパスワードが正しくありません。")
    return (
        render_template("auth/login.html", form=form, error=error, next_path=next_path),
        status,
    )


@bp.post("/auth/logout")
@access("public")
def logout() -> Response:
    """Public (POST with the CSRF token only): end the person's sessions, on this browser
    and on the server's side (a copy of the cookie stops working too), and go home."""
    if current_user.is_authenticated and not signed_in_by_header():
        round_id = via_link()
        if round_id is not None:  # the link that opened this session stops working too
            links.revoke_on_sign_out(current_user.id, round_id)
        auth_service.end_sessions(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("サインアウトしました。"), "success")
    return redirect(url_for("main.index"))


@bp.get("/r/<token>")
@access("public")
def sign_in_link(token: str) -> ResponseReturnValue:
    """Public, with a personal sign-in link from a round's mail: sign its person in on a new
    session limited to their own checklists, and go to the round's checklist at an address
    without the token (nor a Referer that would carry it)."""
    if not links.links_enabled(current_app.config):
        abort(404)
    result = links.check_link(token, request.remote_addr or "")
    person, round_id = result.person, result.round_id
    if result.outcome is not links.LinkOutcome.OK or person is None or round_id is None:
        db.session.commit()  # a wrong token's failed attempt (never the audit log)
        return _sign_in_link_refused(result.outcome)
    # A full sign-in of the same person (form, SSO, directory) is kept as it is.
    if not (current_user.is_authenticated and via_link() is None and current_user.id == person.id):
        start_link_session(person, round_id)
    db.session.commit()
    response = redirect(url_for("checklist.checklist", round_id=round_id))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _sign_in_link_refused(outcome: links.LinkOutcome) -> ResponseReturnValue:
    status = 400
    if outcome is links.LinkOutcome.THROTTLED:
        policy = auth_service.ThrottlePolicy.from_config(current_app.config)
        message = _(
            "サインインの失敗が続いたため、しばらく（%(minutes)d分）お待ちください。",
            minutes=policy.window_minutes,
        )
        status = 429
    elif outcome is links.LinkOutcome.CLOSED:
        message = _("この調査は受付中ではないため、このリンクは使えません。")
        status = 410
    else:  # unknown, revoked, blocked, left: the same words, whichever it is
        message = _(
            "このリンクは使えません。無効にされたか、正しくないリンクです。"
            "新しいメールのリンクを開くか、パスワードでサインインしてください。"
        )
    page = render_template("auth/sign_in_link_refused.html", message=message)
    return page, status, {"Referrer-Policy": "no-referrer"}


def _link_refused(exc: auth_service.PasswordLinkError) -> tuple[str, int]:
    if exc.reason == "expired":
        message = _("このリンクは有効期限が切れています。管理者に新しいリンクを依頼してください。")
    else:
        message = _(
            "このリンクは使えません。すでに使われたか、正しくないリンクです。"
            "管理者に新しいリンクを依頼してください。"
        )
    return render_template("auth/link_refused.html", message=message), 400


@bp.route("/auth/set-password/<token>", methods=["GET", "POST"])
@access("public")
def set_password(token: str) -> Any:
    """Public, with a one-time link: set one's password, then sign in with it."""
    try:
        person = auth_service.person_for_token(token)
    except auth_service.PasswordLinkError as exc:
        return _link_refused(exc)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            changed = auth_service.redeem_password_token(token, form.password.data or "")
        except auth_service.PasswordLinkError as exc:
            db.session.rollback()
            return _link_refused(exc)
        except auth_service.PasswordRuleError as exc:
            db.session.rollback()
            form.password.errors = [exc.message]
        else:
            log_password_set(changed, changed, "link")
            db.session.commit()
            flash(
                _("パスワードを設定しました。新しいパスワードでサインインしてください。"),
                "success",
            )
            return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, person=person)


@bp.get("/language/<code>")
@access("public")
def language(code: str) -> Response:
    """Public: show the pages in Japanese (ja) or English (en), then go back to ``next``."""
    if code not in LANGUAGES:
        abort(404)
    next_path = safe_next(request.args.get("next"))
    target = request.script_root + next_path if next_path else url_for("main.index")
    response = redirect(target)
    response.set_cookie(
        LANG_COOKIE,
        code,
        max_age=LANG_COOKIE_MAX_AGE,
        path=request.script_root or "/",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
    return response
