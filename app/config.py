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


class Defaults:
    SECRET_KEY = "dev-only-change-me"  # noqa: S105 - replaced by instance config in production
    SQLALCHEMY_DATABASE_URI: str | None = None  # set to instance/kijun.sqlite3 by the factory
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # A PostgreSQL read replica for the committee's reports (docs/deploy.md); None = primary.
    REPORTS_DATABASE_URL: str | None = None
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    TIMEZONE = "Asia/Tokyo"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Set FLASK_SESSION_COOKIE_SECURE=true when the app is served over HTTPS (production).
    SESSION_COOKIE_SECURE = False
    CONTENT_SECURITY_POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'self'; object-src 'none'"
    )
    # Directory of the catalogue YAML files loaded by `flask catalogue load` and the demo.
    SURVEYS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "surveys")

    # --- Sign-in (docs/auth.md) ---
    # Failed sign-ins allowed per account and per client address within the window; more are
    # refused without checking the password until the oldest failure leaves the window.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    LOGIN_FAILURE_WINDOW_MINUTES = 15
    # Seconds a one-time set-password link stays valid (72 hours).
    PASSWORD_LINK_MAX_AGE = 72 * 3600
    # Intranet single sign-on: the request header the authenticating reverse proxy sets to the
    # employee id (e.g. "X-Remote-User"). None = off. Read the warning in docs/auth.md first.
    AUTH_TRUSTED_HEADER: str | None = None
    # Where the app is reached, for links printed by `flask users password-link`.
    BASE_URL = "http://127.0.0.1:5000"
    # --- Compliance results (docs/results.md) ---
    # Rounding of rates to one decimal: "half_up" (四捨五入) or "down" (切り捨て).
    RATE_ROUNDING = "half_up"
    # Cells built from fewer people than this are hidden (never below 3).
    MIN_GROUP_SIZE = 5
    # Weak standards after a round (docs/results.md, "Improvement actions"): a rate under this,
    # or staff and chiefs this many points apart.
    WEAK_RATE_THRESHOLD = 95.0
    WEAK_GAP_POINTS = 5.0
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
