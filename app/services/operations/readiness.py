"""Readiness: can this instance reach its database (and its read replica) right now?

``/readyz`` asks this for the load balancer; ``/healthz`` stays a liveness check that touches
nothing. Each check opens its own short-lived connection with a short timeout, outside the
app's pool: a pooled connection could look alive while the server is gone, and the app's
SQLite transactions wait up to 15 s for the write lock, which a probe must never do.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa

# Any table of the schema: a SQLite file that went missing, or an empty database, is not ready.
PROBE_TABLE = "ward"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _probe_sqlite(url: sa.engine.URL, timeout: float) -> None:
    # mode=ro: a missing file is an error instead of a new empty database.
    conn = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True, timeout=timeout)
    try:
        conn.execute(f"SELECT 1 FROM {PROBE_TABLE} LIMIT 1").fetchall()  # noqa: S608
    finally:
        conn.close()


def _probe_postgresql(url: sa.engine.URL, timeout: float) -> None:
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(
        conninfo,
        connect_timeout=max(1, round(timeout)),
        options=f"-c statement_timeout={int(timeout * 1000)}",
        autocommit=True,
    ) as conn:
        conn.execute(f"SELECT 1 FROM {PROBE_TABLE} LIMIT 1").fetchall()  # noqa: S608


def probe(name: str, url: str, timeout: float) -> Check:
    """One database: reachable, and its schema there, within ``timeout`` seconds."""
    parsed = sa.engine.make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            _probe_sqlite(parsed, timeout)
        else:
            _probe_postgresql(parsed, timeout)
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        return Check(name, False, f"{type(error).__name__}: {str(error).strip()[:200]}")
    return Check(name, True, "ok")


def readiness(database_url: str, replica_url: str | None, timeout: float) -> list[Check]:
    """The primary database and, when one is configured, the read replica."""
    checks = [probe("database", database_url, timeout)]
    if replica_url:
        checks.append(probe("replica", replica_url, timeout))
    return checks
