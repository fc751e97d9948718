"""Sign-in, sign-out, throttling, set-password links, trusted header SSO, users CLI, language."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from werkzeug.security import check_password_hash, generate_password_hash

from app import create_app
from app.extensions import db
from app.models import Grant, LoginAttempt, Person, utcnow
from app.services.identity.auth import password_link_token, prune_login_attempts
from tests import factories

PASSWORD = "correct-horse-battery"
GENERIC = "職員番号またはパスワードが正しくありません。"
WAIT = "サインインの失敗が続いたため、しばらく（15分）お待ちください。"


@pytest.fixture
def account(app: Flask) -> dict[str, object]:
    """A person of 高津区 with a password."""
    with app.app_context():
        person = factories.person(section=factories.section("区民課"), employee_id="E1001")
        person.password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
        return {"id": person.id, "employee_id": "E1001", "name": person.name}


def _login(client: FlaskClient, employee_id: str, password: str, **kwargs):
    url = kwargs.pop("url", "/auth/login")
    return client.post(url, data={"employee_id": employee_id, "password": password}, **kwargs)


def _signed_in_id(client: FlaskClient) -> str | None:
    with client.session_transaction() as session:
        return session.get("_user_id")


def _attempts(app: Flask) -> list[LoginAttempt]:
    with app.app_context():
        return list(db.session.scalars(sa.select(LoginAttempt).order_by(LoginAttempt.id)))


# --- Sign-in and sign-out ------------------------------------------------------------------


def test_sign_in_with_the_right_password_signs_in_and_goes_to_me(app, client, account):
    """The right 職員番号 and password sign the person in and redirect to /me."""
    response = _login(client, "E1001", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/me")
    assert _signed_in_id(client) == str(account["id"])
    assert [a.succeeded for a in _attempts(app)] == [True]


def test_full_width_employee_id_is_accepted(client, account):
    """An id typed with full-width digits (IME on) is normalised like the roster import."""
    response = _login(client, "Ｅ１００１", PASSWORD)
    assert response.status_code == 302
    assert _signed_in_id(client) == str(account["id"])


def test_wrong_password_and_unknown_id_get_the_same_generic_message(app, client, account):
    """Wrong password and unknown id both show one message and sign nobody in."""
    wrong = _login(client, "E1001", "not-the-password")
    unknown = _login(client, "NOBODY", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert GENERIC in response.get_data(as_text=True)
    assert _signed_in_id(client) is None
    assert [(a.employee_id, a.succeeded) for a in _attempts(app)] == [
        ("E1001", False),
        ("NOBODY", False),
    ]


def test_person_without_a_password_cannot_sign_in(app, client):
    """A roster person who never set a password gets the generic message."""
    with app.app_context():
        factories.person(employee_id="E2002")
        db.session.commit()
    response = _login(client, "E2002", "")
    assert response.status_code == 200
    response = _login(client, "E2002", "anything-at-all")
    assert GENERIC in response.get_data(as_text=True)
    assert _signed_in_id(client) is None


def test_sign_in_rotates_the_session(client, account):
    """Nothing stored in the session before signing in survives it (session fixation)."""
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    _login(client, "E1001", PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(account["id"])
    assert client.get_cookie("remember_token") is None  # remember=False


def test_sign_out_only_by_post(client, account):
    """GET /auth/logout is not allowed; POST ends the session."""
    _login(client, "E1001", PASSWORD)
    assert client.get("/auth/logout").status_code == 405
    assert _signed_in_id(client) == str(account["id"])
    response = client.post("/auth/logout")
    assert response.status_code == 302
    assert _signed_in_id(client) is None


def test_header_shows_name_and_sign_out_when_signed_in(client, account):
    """The account menu shows the person's name and a POST sign-out form with a CSRF field."""
    _login(client, "E1001", PASSWORD)
    html = client.get("/").get_data(as_text=True)
    assert account["name"] in html
    assert 'action="/auth/logout"' in html and 'name="csrf_token"' in html
    client.post("/auth/logout")
    html = client.get("/").get_data(as_text=True)
    assert account["name"] not in html
    assert 'href="/auth/login?next=/"' in html


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/catalogues/x?y=1", "/catalogues/x?y=1"),
        ("https://evil.example/phish", "/me"),
        ("//evil.example/phish", "/me"),
        ("/\\evil.example", "/me"),
        ("javascript:alert(1)", "/me"),
    ],
)
def test_next_is_followed_only_for_paths_on_this_site(client, account, next_value, expected):
    """After sign-in a same-site path in next is followed; external or odd URLs are ignored."""
    response = _login(client, "E1001", PASSWORD, query_string={"next": next_value})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == expected or location == "http://localhost" + expected
    assert "evil" not in location


# --- Throttling ----------------------------------------------------------------------------


def test_sixth_attempt_on_an_account_is_refused_even_with_the_right_password(app, client, account):
    """After 5 failures for one account in 15 minutes, the right password is refused unchecked."""
    for _ in range(5):
        assert GENERIC in _login(client, "E1001", "wrong-password").get_data(as_text=True)
    response = _login(client, "E1001", PASSWORD)
    assert response.status_code == 429
    assert WAIT in response.get_data(as_text=True)
    assert _signed_in_id(client) is None
    assert len(_attempts(app)) == 5  # the refused attempt was not even recorded


def test_account_throttle_does_not_block_other_accounts(app, client, account):
    """Failures on one account leave other accounts (from other addresses) alone."""
    with app.app_context():
        other = factories.person(employee_id="E3003")
        other.password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
    for _ in range(5):
        _login(client, "E1001", "wrong-password")
    response = _login(client, "E3003", PASSWORD)
    assert response.status_code == 302


def test_twenty_failures_from_one_address_block_that_address(app, client, account):
    """After 20 failures from one address, even a right password from it is refused."""
    now = utcnow()
    with app.app_context():
        for i in range(20):
            db.session.add(
                LoginAttempt(employee_id=f"X{i}", address="10.0.0.9", at=now, succeeded=False)
            )
        db.session.commit()
    blocked = _login(client, "E1001", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert blocked.status_code == 429
    assert WAIT in blocked.get_data(as_text=True)
    allowed = _login(client, "E1001", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.10"})
    assert allowed.status_code == 302


def test_failures_older_than_the_window_do_not_count(app, client, account):
    """Failures from more than 15 minutes ago no longer throttle the account or address."""
    old = utcnow() - timedelta(minutes=16)
    with app.app_context():
        for i in range(25):
            db.session.add(
                LoginAttempt(employee_id="E1001", address="127.0.0.1", at=old, succeeded=False)
            )
            db.session.add(LoginAttempt(employee_id=f"Y{i}", address="127.0.0.1", at=old))
        db.session.commit()
    assert _login(client, "E1001", PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_account_count(app, client, account):
    """Failures before the account's last successful sign-in do not count against it."""
    for _ in range(4):
        _login(client, "E1001", "wrong-password")
    assert _login(client, "E1001", PASSWORD).status_code == 302
    client.post("/auth/logout")
    for _ in range(4):
        _login(client, "E1001", "wrong-password")
    assert _login(client, "E1001", PASSWORD).status_code == 302


def test_throttle_limits_come_from_config(app, client, account):
    """LOGIN_MAX_FAILURES_PER_ACCOUNT and the window length are read from the config."""
    app.config.update(LOGIN_MAX_FAILURES_PER_ACCOUNT=2, LOGIN_FAILURE_WINDOW_MINUTES=5)
    _login(client, "E1001", "wrong-password")
    _login(client, "E1001", "wrong-password")
    response = _login(client, "E1001", PASSWORD)
    assert response.status_code == 429
    assert "しばらく（5分）お待ちください" in response.get_data(as_text=True)


def test_prune_login_attempts_deletes_only_old_rows(app_ctx):
    """prune_login_attempts removes attempts older than the given time and keeps the rest."""
    now = utcnow()
    db.session.add_all(
        [
            LoginAttempt(employee_id="A", address="x", at=now - timedelta(days=40)),
            LoginAttempt(employee_id="B", address="x", at=now - timedelta(days=1)),
        ]
    )
    db.session.flush()
    assert prune_login_attempts(now - timedelta(days=30)) == 1
    assert db.session.scalars(sa.select(LoginAttempt.employee_id)).all() == ["B"]


# --- Set-password links ----------------------------------------------------------------------


def _link_for(app: Flask, person_id: int) -> str:
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None
        return f"/auth/set-password/{password_link_token(person)}"


def _password_ok(app: Flask, person_id: int, password: str) -> bool:
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert person is not None and person.password_hash
        return check_password_hash(person.password_hash, password)


def test_password_link_sets_the_password_once(app, client, account):
    """A link sets a new password, then the same link is refused."""
    url = _link_for(app, account["id"])
    page = client.get(url)
    assert page.status_code == 200
    assert account["name"] in page.get_data(as_text=True)
    new = "a-brand-new-password"
    response = client.post(url, data={"password": new, "confirm": new})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    assert _password_ok(app, account["id"], new)
    other = "another-password-1"
    again = client.post(url, data={"password": other, "confirm": other})
    assert again.status_code == 400
    assert "すでに使われたか" in again.get_data(as_text=True)
    assert _password_ok(app, account["id"], new)
    assert client.get(url).status_code == 400


def test_password_link_works_for_a_person_without_a_password(app, client):
    """A first link (no password yet) sets the password and can then sign in."""
    with app.app_context():
        person_id = factories.person(employee_id="E4004").id
        db.session.commit()
    url = _link_for(app, person_id)
    client.post(url, data={"password": "first-password-1", "confirm": "first-password-1"})
    assert _login(client, "E4004", "first-password-1").status_code == 302


def test_password_link_refuses_a_short_or_mismatched_password(app, client, account):
    """A password under 10 characters or a mismatched confirmation is refused, link still good."""
    url = _link_for(app, account["id"])
    short = client.post(url, data={"password": "short", "confirm": "short"})
    assert short.status_code == 200
    assert "パスワードは10文字以上にしてください。" in short.get_data(as_text=True)
    mismatch = client.post(url, data={"password": "long-enough-1", "confirm": "long-enough-2"})
    assert "2つのパスワードが一致しません。" in mismatch.get_data(as_text=True)
    assert _password_ok(app, account["id"], PASSWORD)
    assert client.get(url).status_code == 200


def test_expired_password_link_is_refused(app, client, account, monkeypatch):
    """A link older than PASSWORD_LINK_MAX_AGE (72 hours) is refused."""
    made_at = int(time.time()) - 73 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    url = _link_for(app, account["id"])
    monkeypatch.undo()
    response = client.post(url, data={"password": "long-enough-1", "confirm": "long-enough-1"})
    assert response.status_code == 400
    assert "有効期限が切れています" in response.get_data(as_text=True)
    assert _password_ok(app, account["id"], PASSWORD)


def test_tampered_password_link_is_refused(client, account):
    """A link that was not signed with the app's secret is refused."""
    assert client.get("/auth/set-password/not-a-token").status_code == 400


# --- Intranet single sign-on -----------------------------------------------------------------


def test_trusted_header_signs_in_when_configured(app, client, account):
    """With AUTH_TRUSTED_HEADER set, the header's employee id signs the person in per request."""
    app.config["AUTH_TRUSTED_HEADER"] = "X-Remote-User"
    html = client.get("/", headers={"X-Remote-User": "E1001"}).get_data(as_text=True)
    assert account["name"] in html
    assert "庁内ネットワークでサインイン" in html
    assert _signed_in_id(client) is None  # nothing stored: the header decides each request
    response = client.get("/auth/login", headers={"X-Remote-User": "E1001"})
    assert response.status_code == 302


def test_trusted_header_with_an_unknown_id_says_it_is_not_on_the_roster(app, client, account):
    """An id from the header that is not on the roster signs nobody in and is explained."""
    app.config["AUTH_TRUSTED_HEADER"] = "X-Remote-User"
    html = client.get("/auth/login", headers={"X-Remote-User": "Z9999"}).get_data(as_text=True)
    assert "職員番号 Z9999 は名簿にないため" in html
    assert account["name"] not in html


def test_trusted_header_is_ignored_when_not_configured(app, client, account):
    """Without AUTH_TRUSTED_HEADER the same header signs nobody in."""
    assert app.config["AUTH_TRUSTED_HEADER"] is None
    html = client.get("/", headers={"X-Remote-User": "E1001"}).get_data(as_text=True)
    assert account["name"] not in html
    response = client.get("/auth/login", headers={"X-Remote-User": "E1001"})
    assert response.status_code == 200


# --- The users CLI ---------------------------------------------------------------------------


def test_users_set_password_from_stdin(app, runner, account):
    """`users set-password --password-stdin` stores a new password hash; short ones exit 1."""
    result = runner.invoke(
        args=["users", "set-password", "E1001", "--password-stdin"], input="from-stdin-123\n"
    )
    assert result.exit_code == 0, result.output
    assert _password_ok(app, account["id"], "from-stdin-123")
    short = runner.invoke(
        args=["users", "set-password", "E1001", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "10文字以上" in short.output
    assert _password_ok(app, account["id"], "from-stdin-123")


def test_users_set_password_prompts_twice(app, runner, account):
    """Without --password-stdin the password is asked twice and must match."""
    result = runner.invoke(
        args=["users", "set-password", "E1001"], input="prompted-pass-1\nprompted-pass-1\n"
    )
    assert result.exit_code == 0, result.output
    assert _password_ok(app, account["id"], "prompted-pass-1")


def test_users_password_link_prints_a_working_link(app, runner, client, account):
    """`users password-link` prints a link under --base-url that opens the set-password page."""
    result = runner.invoke(
        args=["users", "password-link", "E1001", "--base-url", "https://kijun.example/"]
    )
    assert result.exit_code == 0, result.output
    link = next(line for line in result.output.splitlines() if line.startswith("https://"))
    assert link.startswith("https://kijun.example/auth/set-password/")
    assert client.get(link.removeprefix("https://kijun.example")).status_code == 200


def _grants(app: Flask) -> list[tuple[str, int | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Grant.role, Grant.ward_id).order_by(Grant.role, Grant.ward_id)
        ).all()
        return [(role.value, ward_id) for role, ward_id in rows]


def test_users_grant_for_the_city_and_for_a_ward_is_idempotent(app, runner, account):
    """`users grant` without --ward covers the city, with --ward that ward; repeats add nothing."""
    with app.app_context():
        ward_id = factories.ward("高津区").id
        db.session.commit()
    for _ in range(2):
        city = runner.invoke(args=["users", "grant", "committee", "E1001"])
        ward = runner.invoke(args=["users", "grant", "committee", "E1001", "--ward", "高津区"])
        assert city.exit_code == 0 and ward.exit_code == 0
    assert "すでに付与されています" in city.output
    assert sorted(_grants(app), key=str) == sorted(
        [("committee", None), ("committee", ward_id)], key=str
    )
    listing = runner.invoke(args=["users", "list-grants"])
    assert "全市" in listing.output and "高津区" in listing.output


def test_users_revoke_removes_only_that_scope(app, runner, account):
    """`users revoke` takes away the grant with exactly that scope and leaves the others."""
    with app.app_context():
        ward_id = factories.ward("高津区").id
        db.session.commit()
    runner.invoke(args=["users", "grant", "admin", "E1001"])
    runner.invoke(args=["users", "grant", "admin", "E1001", "--ward", "高津区"])
    result = runner.invoke(args=["users", "revoke", "admin", "E1001"])
    assert result.exit_code == 0
    assert _grants(app) == [("admin", ward_id)]
    again = runner.invoke(args=["users", "revoke", "admin", "E1001"])
    assert again.exit_code == 0 and "付与されていません" in again.output


def test_users_commands_exit_1_for_unknown_person_or_ward(app, runner, account):
    """An unknown employee id or ward is a clear error with exit status 1 and no change."""
    unknown = runner.invoke(args=["users", "grant", "admin", "NOBODY"])
    assert unknown.exit_code == 1
    assert "NOBODY" in unknown.output
    no_ward = runner.invoke(args=["users", "grant", "admin", "E1001", "--ward", "火星区"])
    assert no_ward.exit_code == 1
    assert "火星区" in no_ward.output
    link = runner.invoke(args=["users", "password-link", "NOBODY"])
    assert link.exit_code == 1
    assert _grants(app) == []


def test_users_grant_rejects_an_unknown_role(runner, account):
    """Only committee and admin can be granted."""
    result = runner.invoke(args=["users", "grant", "chief", "E1001"])
    assert result.exit_code == 2


# --- CSRF, headers, language ---------------------------------------------------------------


@pytest.fixture
def csrf_client(app, database_url: str):
    """A client of an app with CSRF protection switched on, as in production."""
    csrf_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": True,
            "AUDIT_ANCHOR_PATH": app.config["AUDIT_ANCHOR_PATH"],
        }
    )
    with csrf_app.app_context():
        db.create_all()
        person = factories.person(employee_id="E5005")
        person.password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
    yield csrf_app, csrf_app.test_client()
    with csrf_app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_login_post_without_csrf_token_is_refused(csrf_client):
    """With CSRF on, a sign-in POST without the token gets 400 and changes nothing."""
    app, client = csrf_client
    response = _login(client, "E5005", PASSWORD)
    assert response.status_code == 400
    assert _signed_in_id(client) is None
    assert _attempts(app) == []


def test_login_post_with_the_form_token_works(csrf_client):
    """With CSRF on, the token rendered in the sign-in form lets the POST through."""
    import re

    app, client = csrf_client
    html = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert token is not None
    response = client.post(
        "/auth/login",
        data={"employee_id": "E5005", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 302


def test_logout_post_without_csrf_token_is_refused(csrf_client):
    """With CSRF on, a sign-out POST without the token gets 400."""
    _app, client = csrf_client
    assert client.post("/auth/logout").status_code == 400


def test_sign_in_page_has_the_security_headers(client):
    """The sign-in page carries the CSP and the other security headers, and is not cached."""
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<script" not in html and "style=" not in html and "<style" not in html


def test_language_switch_selects_english_and_back(app, client):
    """/language/en sets the locale to en (html lang="en"); /language/ja returns to Japanese."""
    assert '<html lang="ja">' in client.get("/auth/login").get_data(as_text=True)
    response = client.get("/language/en", query_string={"next": "/auth/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    assert '<html lang="en">' in client.get("/auth/login").get_data(as_text=True)
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        from flask_babel import get_locale

        assert str(get_locale()) == "en"
    client.get("/language/ja")
    assert '<html lang="ja">' in client.get("/auth/login").get_data(as_text=True)


def test_language_defaults_to_japanese_whatever_the_browser_says(client):
    """Accept-Language: en does not change the default Japanese; unknown codes are 404."""
    html = client.get("/auth/login", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert client.get("/language/fr").status_code == 404


def test_language_switch_ignores_an_external_next(client):
    """/language/<code>?next= only follows paths on this site."""
    response = client.get("/language/en", query_string={"next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_proxy_fix_takes_the_client_address_from_x_forwarded_for(app, database_url):
    """With PROXY_FIX_X_FOR=1 the throttle sees the address the proxy forwarded (the last in
    X-Forwarded-For), not one the client wrote in front of it."""
    proxied = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "PROXY_FIX_X_FOR": 1,
            "AUDIT_ANCHOR_PATH": app.config["AUDIT_ANCHOR_PATH"],
        }
    )
    with proxied.app_context():
        db.create_all()
    client = proxied.test_client()
    _login(client, "NOBODY", "whatever-pass", headers={"X-Forwarded-For": "192.0.2.7"})
    spoofed = "203.0.113.66, 192.0.2.8"  # the client wrote the first, the proxy added the second
    _login(client, "NOBODY", "whatever-pass", headers={"X-Forwarded-For": spoofed})
    assert [a.address for a in _attempts(proxied)] == ["192.0.2.7", "192.0.2.8"]
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


# --- Sessions that end -------------------------------------------------------------------------

EXPIRED = "サインインの有効期限が切れました。もう一度サインインしてください。"


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser that replays a saved session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def test_sign_out_ends_the_session_on_the_server_too(app, client, account):
    """A copy of the session cookie saved before signing out no longer signs anyone in."""
    _login(client, "E1001", PASSWORD)
    saved = _session_cookie(client)
    assert _with_cookie(app, saved).get("/me").status_code == 200
    client.post("/auth/logout")
    replayed = _with_cookie(app, saved).get("/me")
    assert replayed.status_code == 302
    assert "/auth/login" in replayed.headers["Location"]


@pytest.mark.parametrize("how", ["command", "link"])
def test_a_new_password_ends_every_session(app, client, runner, account, how):
    """Setting a new password (command line or one-time link) signs the person out everywhere."""
    _login(client, "E1001", PASSWORD)
    saved = _session_cookie(client)
    new = "a-brand-new-password"
    if how == "command":
        result = runner.invoke(
            args=["users", "set-password", "E1001", "--password-stdin"], input=new + "\n"
        )
        assert result.exit_code == 0, result.output
    else:
        url = _link_for(app, account["id"])
        response = app.test_client().post(url, data={"password": new, "confirm": new})
        assert response.status_code == 302
    assert client.get("/me").status_code == 302
    assert _with_cookie(app, saved).get("/me").status_code == 302
    assert _login(client, "E1001", new).status_code == 302
    assert client.get("/me").status_code == 200


def _age_session(client: FlaskClient, **seconds_ago: int) -> None:
    from app.auth.sessions import SEEN_AT, SIGNED_IN_AT

    now = int(time.time())
    keys = {"signed_in": SIGNED_IN_AT, "seen": SEEN_AT}
    with client.session_transaction() as session:
        for name, ago in seconds_ago.items():
            session[keys[name]] = now - ago


def test_a_session_unused_for_longer_than_the_idle_lifetime_ends(app, client, account):
    """A session unused for more than SESSION_IDLE_MINUTES (120) ends with a plain message;
    one used within it goes on, and using it starts the idle time again."""
    from app.auth.sessions import SEEN_AT

    _login(client, "E1001", PASSWORD)
    _age_session(client, seen=119 * 60)
    assert client.get("/me").status_code == 200
    with client.session_transaction() as session:
        assert session[SEEN_AT] >= int(time.time()) - 5  # the idle time starts again
    _age_session(client, seen=121 * 60)
    response = client.get("/me", follow_redirects=True)
    assert response.request.path == "/auth/login"
    assert EXPIRED in response.get_data(as_text=True)
    assert _signed_in_id(client) is None


def test_the_idle_lifetime_comes_from_the_config(app, client, account):
    """SESSION_IDLE_MINUTES is read from the config."""
    app.config["SESSION_IDLE_MINUTES"] = 5
    _login(client, "E1001", PASSWORD)
    _age_session(client, seen=6 * 60)
    assert client.get("/me").status_code == 302


def test_a_session_ends_after_the_absolute_lifetime_even_when_in_use(app, client, account):
    """SESSION_ABSOLUTE_HOURS (12) after signing in, the session ends however busy it is."""
    _login(client, "E1001", PASSWORD)
    _age_session(client, signed_in=11 * 3600, seen=0)
    assert client.get("/me").status_code == 200
    _age_session(client, signed_in=12 * 3600 + 60, seen=0)
    assert client.get("/me").status_code == 302
    assert _signed_in_id(client) is None
    app.config["SESSION_ABSOLUTE_HOURS"] = 1
    _login(client, "E1001", PASSWORD)
    _age_session(client, signed_in=3600 + 60, seen=0)
    assert client.get("/me").status_code == 302


def test_a_session_without_the_sign_in_times_is_not_signed_in(client, account):
    """A session holding only a person id (as written before sessions ended) signs nobody in."""
    with client.session_transaction() as session:
        session["_user_id"] = str(account["id"])
        session["_fresh"] = True
    assert client.get("/me").status_code == 302


def test_an_expired_csrf_token_is_refused(csrf_client, monkeypatch):
    """A form's CSRF token older than WTF_CSRF_TIME_LIMIT (an hour) is refused with 400."""
    import re

    app, client = csrf_client
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 3600
    made_at = int(time.time()) - 3600 - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
    html = client.get("/auth/login").get_data(as_text=True)
    monkeypatch.undo()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert token is not None
    data = {"employee_id": "E5005", "password": PASSWORD, "csrf_token": token.group(1)}
    response = client.post("/auth/login", data=data)
    assert response.status_code == 400
    assert _signed_in_id(client) is None


# --- Concurrent wrong passwords ------------------------------------------------------------------


def test_concurrent_wrong_passwords_check_no_more_than_the_limit(app, account):
    """30 wrong passwords for one account sent at once: at most 5 are checked (and recorded),
    every other one is refused unchecked with 429."""
    import threading

    threads = 30
    barrier = threading.Barrier(threads)
    statuses: list[int] = []

    def attempt() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(_login(client, "E1001", "wrong-password").status_code)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(statuses) == threads
    assert len(_attempts(app)) == 5
    assert sorted(statuses) == [200] * 5 + [429] * 25


# --- People who have left -------------------------------------------------------------------


@pytest.fixture
def leaver(app: Flask) -> dict[str, object]:
    """高津区's roster of this fiscal year is in; E7007 was on last year's and is not on it.
    E7007 also holds the city-wide admin grant."""
    from app.models import GrantRole
    from app.wareki import fiscal_year_of, tokyo

    this_year = fiscal_year_of(tokyo(utcnow()))
    with app.app_context():
        section = factories.section("区民課")
        factories.person(section=section, fiscal_year=this_year)
        person = factories.person(section=section, fiscal_year=this_year - 1, employee_id="E7007")
        person.password_hash = generate_password_hash(PASSWORD)
        db.session.add(Grant(person_id=person.id, role=GrantRole.ADMIN, ward_id=None))
        db.session.commit()
        return {"id": person.id, "name": person.name, "this_year": this_year}


LEFT = "今年度の名簿に載っていないため、サインインできません。"


def test_a_leaver_cannot_sign_in_with_the_password(app, client, leaver):
    """The right password of someone the latest roster shows as having left signs nobody in
    (403, a plain message) and counts as a failure."""
    response = _login(client, "E7007", PASSWORD)
    assert response.status_code == 403
    assert LEFT in response.get_data(as_text=True)
    assert _signed_in_id(client) is None
    assert [a.succeeded for a in _attempts(app)] == [False]


def test_a_leaver_cannot_sign_in_by_the_trusted_header(app, client, leaver):
    """The intranet header with a leaver's id signs nobody in and says the id is not on the
    roster."""
    app.config["AUTH_TRUSTED_HEADER"] = "X-Remote-User"
    html = client.get("/auth/login", headers={"X-Remote-User": "E7007"}).get_data(as_text=True)
    assert "職員番号 E7007 は名簿にないため" in html
    assert client.get("/admin/rounds", headers={"X-Remote-User": "E7007"}).status_code == 302


def test_a_leavers_session_and_grant_stop_working(app, client, sign_in, leaver):
    """A session signed in before the person left ends, and their admin grant with it."""
    from app.models import Assignment

    def on_roster_of(fiscal_year: int) -> None:
        with app.app_context():
            db.session.execute(
                sa.update(Assignment)
                .where(Assignment.person_id == leaver["id"])
                .values(fiscal_year=fiscal_year)
            )
            db.session.commit()

    on_roster_of(leaver["this_year"])
    sign_in(leaver["id"])
    assert client.get("/admin/rounds").status_code == 200
    on_roster_of(leaver["this_year"] - 1)  # the roster is imported again: the person has left
    assert client.get("/admin/rounds").status_code == 302
    assert _signed_in_id(client) is None


def test_a_granted_admin_never_on_any_roster_keeps_working(app, client, leaver):
    """An admin who was never on any ward's roster signs in and uses the grant."""
    from app.models import GrantRole

    with app.app_context():
        admin = factories.person(employee_id="A0001")
        admin.password_hash = generate_password_hash(PASSWORD)
        db.session.add(Grant(person_id=admin.id, role=GrantRole.ADMIN, ward_id=None))
        db.session.commit()
    assert _login(client, "A0001", PASSWORD).status_code == 302
    assert client.get("/admin/rounds").status_code == 200


def test_last_years_people_sign_in_until_the_new_roster_is_in(app, client, account):
    """In April, before the ward's roster of the new fiscal year is imported, last year's
    people are not leavers."""
    from app.wareki import fiscal_year_of, tokyo

    this_year = fiscal_year_of(tokyo(utcnow()))
    with app.app_context():
        section = factories.section("総務課", ward_name="宮前区")
        person = factories.person(section=section, fiscal_year=this_year - 1, employee_id="E8008")
        person.password_hash = generate_password_hash(PASSWORD)
        factories.person(section=factories.section("総務課"), fiscal_year=this_year)  # 高津区
        db.session.commit()
    assert _login(client, "E8008", PASSWORD).status_code == 302


# --- The trusted header's encoding -----------------------------------------------------------


def test_a_full_width_id_in_the_trusted_header_is_decoded_and_normalised(app, client, account):
    """The header's UTF-8 bytes (handed over by WSGI as latin-1 text) are decoded again, then
    NFKC-normalised and trimmed: " Ｅ１００１ " signs E1001 in."""
    app.config["AUTH_TRUSTED_HEADER"] = "X-Remote-User"
    as_wsgi_gives_it = " Ｅ１００１ ".encode().decode("latin-1")
    html = client.get("/", environ_base={"HTTP_X_REMOTE_USER": as_wsgi_gives_it}).get_data(
        as_text=True
    )
    assert account["name"] in html
    assert "庁内ネットワークでサインイン" in html


# --- ProxyFix --------------------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_without_proxy_fix(app, client):
    """Without PROXY_FIX_X_FOR a client's own X-Forwarded-For does not change its address."""
    assert app.config["PROXY_FIX_X_FOR"] == 0
    _login(client, "NOBODY", "whatever-pass", headers={"X-Forwarded-For": "192.0.2.7"})
    assert [a.address for a in _attempts(app)] == ["127.0.0.1"]


# --- The secret key --------------------------------------------------------------------------


def test_a_new_secret_key_ends_sessions_unless_the_old_one_is_a_fallback(app, client, account):
    """A new SECRET_KEY is used at once: a cookie signed with the old key no longer signs
    anyone in, and signs in again when the old key is listed in SECRET_KEY_FALLBACKS."""
    _login(client, "E1001", PASSWORD)
    saved = _session_cookie(client)
    assert _with_cookie(app, saved).get("/me").status_code == 200
    app.secret_key = "a-rotated-secret"
    assert _with_cookie(app, saved).get("/me").status_code == 302
    app.config["SECRET_KEY_FALLBACKS"] = ["test-secret"]
    assert _with_cookie(app, saved).get("/me").status_code == 200


def _app_in(instance: str, monkeypatch, config: dict[str, object]) -> Flask:
    """create_app with its instance folder at ``instance`` and no database configured."""
    import app as app_package
    from tests.web.test_app import _flask_with_instance_path

    for name in ("DATABASE_URL", "FLASK_SQLALCHEMY_DATABASE_URI", "FLASK_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(app_package, "Flask", _flask_with_instance_path(instance))
    return create_app(config)


@pytest.mark.parametrize("key", [None, "", "dev-only-change-me"])
def test_the_default_or_an_empty_secret_key_is_refused(tmp_path, monkeypatch, key):
    """Outside debug and tests, the app refuses to start without a real SECRET_KEY and says in
    Japanese where to set one."""
    config: dict[str, object] = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.db'}"}
    if key is not None:
        config["SECRET_KEY"] = key
    with pytest.raises(RuntimeError) as refused:
        _app_in(str(tmp_path / "instance"), monkeypatch, config)
    message = str(refused.value)
    assert "SECRET_KEY が設定されていません" in message
    assert "instance/config.py" in message and "FLASK_SECRET_KEY" in message
    for allowed in ({"DEBUG": True}, {"TESTING": True}, {"SECRET_KEY": "a-real-key"}):
        assert _app_in(str(tmp_path / "instance"), monkeypatch, {**config, **allowed})


def test_a_fresh_clone_gets_a_random_key_in_instance_config(tmp_path, monkeypatch):
    """With the embedded database and no instance/config.py, the first start writes one with a
    random SECRET_KEY (mode 0600) that every later start uses; an instance/config.py without
    a key is refused instead."""
    import os
    import stat

    instance = tmp_path / "instance"
    first = _app_in(str(instance), monkeypatch, {})
    key = first.config["SECRET_KEY"]
    assert len(key) == 64 and key != "dev-only-change-me"
    written = instance / "config.py"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert _app_in(str(instance), monkeypatch, {}).config["SECRET_KEY"] == key
    written.write_text("BASE_URL = 'https://kijun.example'\n")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        _app_in(str(instance), monkeypatch, {})
