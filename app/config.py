"""Default configuration. Overridden by ``instance/config.py``, then ``FLASK_*`` variables."""

import os
from collections.abc import Mapping
from typing import Any


def database_url_from_env(name: str = "DATABASE_URL") -> str | None:
    """``DATABASE_URL`` (or another variable) as SQLAlchemy wants it."""
    url = os.environ.get(name)
    return sqlalchemy_url(url) if url else None


def sqlalchemy_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def reports_replica(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``REPORTS_DATABASE_URL`` and the engine options of the read replica the report views
    read from (``app/replica.py``), or None when it is not set: the primary's options, every
    transaction read-only. Only PostgreSQL has read replicas; another URL stops the start."""
    url = config.get("REPORTS_DATABASE_URL")
    if not url:
        return None
    url = sqlalchemy_url(str(url))
    if not url.startswith("postgresql"):
        raise ValueError(
            "REPORTS_DATABASE_URL は PostgreSQL の読み取り専用レプリカの URL にしてください"
            f"（設定値: {url.split(':', 1)[0]}:…）。"
        )
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # Read-only on the server's side too: a write from a report view fails even when the URL
    # names the primary itself (a separate pool for the reports).
    options["connect_args"] = {
        **options.get("connect_args", {}),
        "options": "-c default_transaction_read_only=on",
    }
    return url, options


def check_results_settings(config: Mapping[str, Any]) -> None:
    """Refuse to start with a rounding mode that does not exist or a smallest group below 3."""
    from reports.privacy import check_min_size
    from reports.rates import ROUNDINGS

    check_min_size(config["MIN_GROUP_SIZE"])
    if config["RATE_ROUNDING"] not in ROUNDINGS:
        raise ValueError(
            f"RATE_ROUNDING は {' または '.join(ROUNDINGS)} にしてください"
            f"（設定値: {config['RATE_ROUNDING']!r}）。"
        )


DEFAULT_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - refused outside debug and tests

UNSET_KEY_MESSAGE = (
    "SECRET_KEY が設定されていません（空か、開発用の既定値 {default!r} のままです）。"
    "instance/config.py に SECRET_KEY = \"…長いランダムな文字列…\" を書くか、"
    "環境変数 FLASK_SECRET_KEY を設定してください。複数のサーバーでは同じ値にします。"
    "値は例えば python3 -c 'import secrets; print(secrets.token_hex(32))' で作れます"
    "（docs/deploy.md）。"
)


def ensure_secret_key(config: dict[str, Any], instance_path: str, embedded: bool) -> None:
    """Refuse to start, outside debug and tests, with the default or an empty ``SECRET_KEY``
    (anyone could sign a session as anyone).

    One exception keeps the README's first run working: with the embedded SQLite database
    (``embedded``: no database configured) and no ``instance/config.py`` at all, that file is
    created with a random key and the key is used. The instance is then one machine's own
    (its database is a file next to the key), so nothing else needs the same key.
    """
    key = config.get("SECRET_KEY")
    if key and key != DEFAULT_SECRET_KEY:
        return
    if config.get("DEBUG") or config.get("TESTING"):
        return
    path = os.path.join(instance_path, "config.py")
    if not embedded or os.path.exists(path):
        raise RuntimeError(UNSET_KEY_MESSAGE.format(default=DEFAULT_SECRET_KEY))
    config["SECRET_KEY"] = _write_instance_key(path)


def _write_instance_key(path: str) -> str:
    """Create ``path`` (mode 0600) with a random ``SECRET_KEY``, or read the one another
    process created first (two workers starting at once); return the key."""
    import secrets
    import sys
    import tempfile

    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = secrets.token_hex(32)
    text = (
        "# Created by Kijun on its first start: the key that signs sessions, CSRF tokens and\n"
        "# set-password links on this machine (docs/auth.md). Keep this file private.\n"
        f"SECRET_KEY = {key!r}\n"
    )
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.link(tmp, path)  # creates path with the whole text, or fails if it exists
    except FileExistsError:
        from flask import Config

        written = Config(os.path.dirname(path))
        written.from_pyfile(path)
        found = written.get("SECRET_KEY")
        if not found or found == DEFAULT_SECRET_KEY:
            raise RuntimeError(UNSET_KEY_MESSAGE.format(default=DEFAULT_SECRET_KEY)) from None
        return str(found)
    finally:
        os.unlink(tmp)
    sys.stderr.write(
        f"{path} を作成し、ランダムな SECRET_KEY を書き込みました（この機械だけで使う設定）。\n"
    )
    return key


class Defaults:
    # Refused outside debug and tests (ensure_secret_key): set SECRET_KEY in instance/config.py
    # or FLASK_SECRET_KEY.
    SECRET_KEY = DEFAULT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str | None = None  # set to instance/kijun.sqlite3 by the factory
    # No ping before each checkout (a round trip on every request): connections are replaced
    # after 30 minutes instead, and a view whose connection turns out dropped is run again
    # once, then answered 503 (app/extensions.py, retried_once).
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_recycle": 1800}
    # A PostgreSQL read replica for the committee's reports (docs/deploy.md); None = primary.
    REPORTS_DATABASE_URL: str | None = None
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    TIMEZONE = "Asia/Tokyo"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # A form's CSRF token is good for an hour; the checklist shows its answers again with a
    # fresh token when it has expired (docs/auth.md).
    WTF_CSRF_TIME_LIMIT = 3600
    # A signed-in session ends after this long unused, and this long after the sign-in
    # (docs/auth.md, "Sessions").
    SESSION_IDLE_MINUTES = 120
    SESSION_ABSOLUTE_HOURS = 12
    # Set FLASK_SESSION_COOKIE_SECURE=true when the app is served over HTTPS (production).
    SESSION_COOKIE_SECURE = False
    CONTENT_SECURITY_POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'self'; object-src 'none'"
    )
    # --- Input limits (docs/deploy.md) ---
    # Bytes of any request body; a larger one is refused with 413 before it is read.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    # Bytes of a roster or goal sheet (.csv / .xlsx), uploaded or read by the CLI.
    IMPORT_MAX_BYTES = 10 * 1024 * 1024
    # Lines of such a file, the header included (a whole city's roster is ~20,000 people).
    IMPORT_MAX_ROWS = 50_000
    # Bytes of an .xlsx once unpacked (it is a zip), checked before it is opened.
    IMPORT_MAX_UNPACKED_BYTES = 100 * 1024 * 1024
    # Nesting of arrays and objects in a JSON body (the API needs 2).
    JSON_MAX_DEPTH = 32
    # Directory of the catalogue YAML files loaded by `flask catalogue load` and the demo.
    SURVEYS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "surveys")

    # --- The audit log (docs/audit.md) ---
    # The key that signs every row of the audit log (an HMAC), kept outside the database and
    # outside its backups. None: derived from SECRET_KEY (app/services/governance/audit_anchor.py
    # ``KEY_LABEL``); set it on its own in production (docs/deploy.md).
    AUDIT_KEY: str | None = None
    # The file that holds the last row's place and hash after each commit (mode 0600). None:
    # instance/audit-anchor.json.
    AUDIT_ANCHOR_PATH: str | None = None

    # --- Sign-in (docs/auth.md) ---
    # Failed sign-ins allowed per account and per client address within the window; more are
    # refused without checking the password until the oldest failure leaves the window.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW_MINUTES = 15
    # Seconds a one-time set-password link stays valid (72 hours).
    PASSWORD_LINK_MAX_AGE = 72 * 3600
    # The opening mail and the reminders carry a personal sign-in link for the round
    # (docs/auth.md, "Sign-in links"). False (e.g. where SSO covers everyone): the mail links
    # to the checklist page, which asks for a sign-in.
    SIGN_IN_LINKS = True
    # Intranet single sign-on: the request header the authenticating reverse proxy sets to the
    # employee id (e.g. "X-Remote-User"). None = off. Read the warning in docs/auth.md first.
    AUTH_TRUSTED_HEADER: str | None = None
    # Directory sign-in (Active Directory or OpenLDAP, docs/auth.md): the employee number and
    # the Windows password are checked by an LDAP simple bind instead of the local password.
    # None = off. The template names the account: "{employee_id}@city.local" (AD's UPN),
    # "CITY\\{employee_id}" or "uid={employee_id},ou=people,dc=city,dc=test".
    AUTH_LDAP_URL: str | None = None
    AUTH_LDAP_BIND_TEMPLATE = "{employee_id}"
    AUTH_LDAP_TIMEOUT_SECONDS = 5
    # Where the app is reached, for links printed by `flask users password-link`.
    BASE_URL = "http://127.0.0.1:5000"
    # --- Compliance results (docs/results.md) ---
    # Rounding of rates to one decimal: "half_up" (四捨五入) or "down" (切り捨て).
    RATE_ROUNDING = "half_up"
    # Cells built from fewer people than this are hidden (never below 3).
    MIN_GROUP_SIZE = 5
    # /readyz gives up on the database (and the replica) after this many seconds: 503.
    READINESS_TIMEOUT_SECONDS = 3
    # Weak standards after a round (docs/results.md, "Improvement actions"): a rate under this,
    # or staff and chiefs this many points apart.
    WEAK_RATE_THRESHOLD = 95.0
    WEAK_GAP_POINTS = 5.0
    # An improvement action's owner and section chief are mailed this many days before its due.
    ACTION_REMINDER_DAYS = 7
    # Number of proxies in front of the app that set X-Forwarded-For (0 = none; see docs/auth.md).
    PROXY_FIX_X_FOR = 0
    # --- Mail and the scheduler (docs/scheduler.md) ---
    MAIL_HOST = "localhost"
    MAIL_PORT = 25
    MAIL_STARTTLS = False  # True: STARTTLS (certificate checked) before any login
    MAIL_USERNAME: str | None = None  # set both to log in
    MAIL_PASSWORD: str | None = None
    MAIL_FROM = "Kijun <kijun@localhost>"
    MAIL_TIMEOUT_SECONDS = 30
    MAIL_BATCH_SIZE = 100  # messages per SMTP connection
    MAIL_RETRY_BASE_SECONDS = 60  # a failed send waits 1, 2, 4 … minutes before the next try
    MAIL_RETRY_MAX_SECONDS = 3600  # … but never more than an hour
    MAIL_CLAIM_SECONDS = 600  # a message claimed by a tick that died is tried again after this
    SCHEDULER_INTERVAL_SECONDS = 60
    SCHEDULER_CLOSED_SUMMARY_DAYS = 7  # a round closed longer ago gets no summary any more
    SCHEDULER_LOCK_KEY = 4_151_000_004  # PostgreSQL advisory lock taken by `scheduler run`
    # No tick for this long: the admin pages show a banner, pages that queue mail say it waits,
    # /readyz/scheduler answers 503 (docs/scheduler.md, "Is it running?").
    SCHEDULER_STALE_SECONDS = 300
    # The demo's mailbox (`flask demo serve` turns it on in its own process): mail is written
    # as .eml files under DEMO_MAIL_DIR (default instance/demo-mail) instead of going to SMTP,
    # and /demo/mail lists it. Never on in production (docs/deploy.md).
    DEMO_MAILBOX = False
    DEMO_MAIL_DIR: str | None = None
