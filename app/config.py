"""Default configuration. Overridden by ``instance/config.py``, then ``FLASK_*`` variables."""

import os


def database_url_from_env() -> str | None:
    """``DATABASE_URL`` as SQLAlchemy wants it: ``postgres://`` URLs use the psycopg 3 driver."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Defaults:
    SECRET_KEY = "dev-only-change-me"  # noqa: S105 - replaced by instance config in production
    SQLALCHEMY_DATABASE_URI: str | None = None  # set to instance/kijun.sqlite3 by the factory
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
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
