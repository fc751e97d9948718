"""Kijun: the yearly service-standard self-assessment of the ward offices."""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints and commands."""
    app = Flask(__name__, instance_relative_config=True)
    register_config(app, test_config)
    register_limits(app)
    register_extensions(app)
    register_security(app)
    register_caching(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_commands(app)
    register_connection_retry(app)
    return app


def register_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Defaults, then ``instance/config.py``, then ``FLASK_*`` and ``DATABASE_URL``, then tests."""
    from app.config import (
        Defaults,
        check_results_settings,
        database_url_from_env,
        ensure_secret_key,
    )

    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    for name, key in (
        ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI"),
        ("REPORTS_DATABASE_URL", "REPORTS_DATABASE_URL"),
    ):
        env_url = database_url_from_env(name)
        if env_url:
            app.config[key] = env_url
    if test_config is not None:
        app.config.from_mapping(test_config)
    embedded = not app.config.get("SQLALCHEMY_DATABASE_URI")
    if embedded:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "kijun.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + path
    check_results_settings(app.config)
    ensure_secret_key(app.config, app.instance_path, embedded)


def register_limits(app: Flask) -> None:
    """Request size, ids in URLs and JSON depth (``app.limits``); before extensions and
    blueprints."""
    from app.limits import register_limits as register

    register(app)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions of ``app.extensions`` to this app."""
    from app import models  # noqa: F401  (registers the tables on the metadata)
    from app.access import SignedIn
    from app.extensions import (
        babel,
        csrf,
        db,
        login_manager,
        migrate,
    )
    from app.i18n import select_locale
    from app.replica import init_replica
    from app.services.governance import audit_anchor

    db.init_app(app)
    init_replica(app)
    audit_anchor.init_app(app)  # the audit log's anchor after each commit, and its log line
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    @login_manager.user_loader
    def load_person(person_id: str) -> SignedIn | None:
        from app.auth.sessions import load_session_person

        return load_session_person(person_id)


def register_connection_retry(app: Flask) -> None:
    """Every view is run again once on a dropped database connection (``app.extensions``)."""
    from app.extensions import register_connection_retry as register

    register(app)


def register_security(app: Flask) -> None:
    """Security headers on every response; 401 as JSON for the API, sign-in page otherwise."""
    from flask import jsonify, redirect, request, url_for
    from flask_babel import gettext
    from werkzeug.exceptions import Unauthorized

    from app.extensions import login_manager

    if int(app.config.get("PROXY_FIX_X_FOR") or 0) > 0:
        # Behind N reverse proxies: take the client address from X-Forwarded-For (docs/auth.md).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=int(app.config["PROXY_FIX_X_FOR"])
        )

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if request.path.startswith("/api/") or "auth.login" not in app.view_functions:
            if request.path.startswith("/api/"):
                message = gettext("サインインしてください。")
                return jsonify(error="unauthorized", message=message), 401
            raise Unauthorized()
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy", app.config["CONTENT_SECURITY_POLICY"]
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def register_caching(app: Flask) -> None:
    """``Cache-Control: no-store`` on every response but the static assets' (``app.caching``)."""
    from app.caching import register_caching as register

    register(app)


def register_blueprints(app: Flask) -> None:
    """Mount each area's blueprint."""
    # Importing an area's route modules registers their views on the area's blueprint.
    from app import admin, annual, api, auth, checklist, demo, goals, main, results
    from app.admin import (  # noqa: F401
        audit_routes,
        catalogue_routes,
        people_routes,
        published,
        roster_routes,
    )
    from app.admin import routes as admin_routes  # noqa: F401
    from app.annual import routes as annual_routes  # noqa: F401
    from app.api import routes as api_routes  # noqa: F401
    from app.auth import routes as auth_routes  # noqa: F401
    from app.checklist import routes as checklist_routes  # noqa: F401
    from app.demo import routes as demo_routes  # noqa: F401
    from app.goals import routes as goals_routes  # noqa: F401
    from app.main import routes as main_routes  # noqa: F401
    from app.results import actions, city, comments, downloads  # noqa: F401
    from app.results import routes as results_routes  # noqa: F401

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(checklist.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(results.vendor_bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(goals.bp)
    app.register_blueprint(annual.bp)
    app.register_blueprint(demo.bp)


def register_template_helpers(app: Flask) -> None:
    """Jinja filters for dates: the era (令和) on Japanese pages, Western dates on English ones."""
    from app.i18n import (
        is_english,
        localized_date,
        localized_datetime,
        localized_fiscal_year_label,
        scene_label,
        western_date_ja,
    )

    app.add_template_global(is_english)
    app.add_template_filter(scene_label, "scene_label")
    app.add_template_filter(localized_fiscal_year_label, "fiscal_year_label")
    app.add_template_filter(localized_date, "reiwa_date")
    app.add_template_filter(localized_datetime, "reiwa_datetime")
    app.add_template_filter(western_date_ja, "western_date")


def register_commands(app: Flask) -> None:
    """Add the ``flask --app wsgi <group> <command>`` groups (app/cli/)."""
    from app.cli import register_cli

    register_cli(app)
