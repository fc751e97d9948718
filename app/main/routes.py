"""Home page and the read-only view of the loaded catalogues."""

from flask import Response, abort, jsonify, render_template

from app.access import access
from app.main import bp
from app.services.catalogue.catalogues import catalogue_with_standards, public_catalogues


@bp.get("/")
@access("public")
def index() -> str:
    """Public: what Kijun is, and the catalogues it holds."""
    return render_template("main/index.html", catalogues=public_catalogues())


@bp.get("/catalogues/<key>")
@access("public")
def catalogue(key: str) -> str:
    """Public: one catalogue's standards, grouped as in the city's list."""
    found = catalogue_with_standards(key)
    if found is None:
        abort(404)
    catalogue_, standards = found
    return render_template("main/catalogue.html", catalogue=catalogue_, standards=standards)


@bp.get("/healthz")
@access("public")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Public: "ok" without touching the database: the liveness check (is the process
    serving?) and the benchmarks' baseline. Readiness, with the database, is ``/readyz``."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/readyz")
@access("public")
def readyz() -> tuple[str, int, dict[str, str]]:
    """Public: 200 when the database (and the read replica, if configured) answer within
    READINESS_TIMEOUT_SECONDS, else 503 (the load balancer's check; docs/deploy.md)."""
    from flask import current_app

    from app.config import reports_replica
    from app.services.operations.readiness import readiness

    replica = reports_replica(current_app.config)
    checks = readiness(
        current_app.config["SQLALCHEMY_DATABASE_URI"],
        replica[0] if replica else None,
        float(current_app.config["READINESS_TIMEOUT_SECONDS"]),
    )
    for check in checks:
        if not check.ok:
            current_app.logger.warning("readyz: %s unavailable: %s", check.name, check.detail)
    ready = all(check.ok for check in checks)
    body = "\n".join(f"{c.name}: {'ok' if c.ok else 'unavailable'}" for c in checks) + "\n"
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    return body, 200 if ready else 503, headers


@bp.get("/readyz/scheduler")
@access("public")
def readyz_scheduler() -> tuple[Response, int]:
    """Public: is the scheduler ticking? JSON for monitoring: 200 with ``"scheduler": "ok"``,
    503 with ``"stale"`` (no tick for SCHEDULER_STALE_SECONDS), ``"never"`` or, when the
    database cannot be read, ``"unknown"`` (docs/deploy.md, "Health checks")."""
    from app.services.operations.heartbeat import monitoring_document, read_status_safely

    status = read_status_safely()
    if status is None:
        return jsonify({"scheduler": "unknown", "detail": "database unavailable"}), 503
    return jsonify(monitoring_document(status)), 503 if status.stale else 200
