"""The committee's reports from a read replica (docs/deploy.md, "Scaling out").

With ``REPORTS_DATABASE_URL`` set (a PostgreSQL streaming replica), a request to a report view
(the results pages and files, the annual report, the API's compliance results) runs every
statement, the signed-in person's included, on the replica: the committee's heavy reads leave
the primary to the staff's submissions. Its figures lag the primary by the replication delay
(seconds). Every other request, and every request without the setting, uses the primary.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context

from app.config import reports_replica

_ENGINE = "kijun_reports_replica"
_ON_REPLICA = "kijun_on_replica"

View = TypeVar("View", bound=Callable[..., Any])


def init_replica(app: Flask) -> None:
    """Create the replica's engine when ``REPORTS_DATABASE_URL`` is set (kept apart from
    Flask-SQLAlchemy's binds: the replica has the primary's tables, not tables of its own).
    A replica URL that is not PostgreSQL stops the start (``reports_replica``)."""
    replica = reports_replica(app.config)
    if replica is not None:
        url, options = replica
        app.extensions[_ENGINE] = sa.create_engine(url, **options)


def replica_engine() -> sa.Engine | None:
    """The current app's read replica, or None."""
    engine: sa.Engine | None = current_app.extensions.get(_ENGINE)
    return engine


def reads_from_replica(view: View) -> View:
    """Decorate a report view (above ``access``, so the sign-in reads the replica too): its
    statements go to the read replica when one is configured. The view must only read; the
    replica's transactions are read-only, so a write fails instead of going astray."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if _ENGINE in current_app.extensions:
            setattr(g, _ON_REPLICA, True)
        return view(*args, **kwargs)

    return cast(View, wrapped)  # functools.wraps keeps the signature


def on_replica() -> bool:
    """True inside a report view's request when a read replica is configured."""
    return has_request_context() and bool(g.get(_ON_REPLICA))
