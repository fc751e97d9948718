"""Flask extensions, created unbound and bound to the app in ``create_app``."""

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from flask import Flask, g, has_request_context
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import ServiceUnavailable

from app.private_files import ensure_private_file
from app.replica import on_replica, replica_engine

# Named constraints let Alembic's batch mode alter SQLite tables and keep
# migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's session; in a report view's request, on the read replica when one is
    configured (``app/replica.py``)."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: sa.Engine | sa.Connection | None = None,
        **kwargs: Any,
    ) -> sa.Engine | sa.Connection:
        if bind is None and on_replica():
            engine = replica_engine()
            if engine is not None:
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})

if TYPE_CHECKING:
    # Flask-SQLAlchemy builds db.Model at run time; for mypy it is an abstract Base.
    class Model(Base):
        __abstract__ = True
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


@sa.event.listens_for(sa.Engine, "do_connect")
def _private_sqlite_file(
    dialect: sa.Dialect, _record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> None:
    """Embedded SQLite: the database file is created 0600 before SQLite opens it (SQLite gives
    its -wal and -shm files the same mode), and an existing one of ours is made 0600
    (``app.private_files``); ``flask db upgrade`` and the app's first connection alike."""
    if dialect.name != "sqlite" or cparams.get("uri"):
        return
    database = cargs[0] if cargs else cparams.get("database")
    if isinstance(database, str) and database and database != ":memory:":
        ensure_private_file(Path(database))


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Embedded SQLite: WAL for concurrent readers, wait on locks, enforce foreign keys."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        # We emit BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _autocommit(connection: sa.Connection) -> bool:
    return connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


@sa.event.listens_for(sa.Engine, "begin")
def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    """Take SQLite's write lock at BEGIN: a transaction that read first and wrote later could
    otherwise fail at once with "database is locked" when another request wrote in between."""
    if connection.dialect.name == "sqlite" and not _autocommit(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@sa.event.listens_for(sa.Engine, "before_cursor_execute")
def _note_writes(
    connection: sa.Connection, _cursor: Any, statement: str, *_args: Any
) -> None:
    """Note in the request that it wrote (``retried_once`` then never runs it again) at its
    first statement that is neither a SELECT nor SQLite's ``BEGIN IMMEDIATE``; WITH counts as
    a write."""
    if has_request_context() and statement.lstrip()[:6].upper().rstrip() not in (
        "SELECT",
        "BEGIN",
    ):
        g.kijun_wrote = True


def start_without_transaction() -> None:
    """Run this request's statements each on its own (``AUTOCOMMIT``) until its first
    ``db.session.commit()``; the session's next statement after that begins a transaction as
    ever. No BEGIN and no COMMIT round trip, no ROLLBACK that makes psycopg forget its prepared
    statements, and on SQLite no write lock. For the checklist's requests (before_request of
    app/checklist/__init__.py and app/api/__init__.py): its pages only read, and its save
    begins the transaction it needs (app/services/rounds/checklist_save.py). Inside a
    transaction already under way (a test serving a request in its own app context) it
    changes nothing."""
    if db.session.registry.has() and db.session().in_transaction():
        return
    try:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    except sa.exc.DBAPIError as error:  # before any view: the clean 503 of ``retried_once``
        if not _dropped(error):
            raise
        db.session.rollback()
        raise ServiceUnavailable() from error


def runs_without_transaction() -> bool:
    """Whether the session's statements now run each on its own (``start_without_transaction``
    and no commit since)."""
    options = db.session.connection().get_execution_options()
    return options.get("isolation_level") == "AUTOCOMMIT"


def begin_transaction() -> None:
    """End a phase without a transaction (``start_without_transaction``), so that the session's
    next statement begins one: for a write that must hold together with what it reads (the
    audit log's row and its lock). Nothing was written in that phase: the commit writes
    nothing. Elsewhere it changes nothing."""
    if db.session.registry.has() and db.session().in_transaction() and runs_without_transaction():
        db.session.commit()


def refresh_statistics(*models: type[Base]) -> None:
    """After a bulk load, inside its transaction: ``ANALYZE`` the tables it filled (every table
    when none is named), on PostgreSQL.

    The planner sizes a table by its page count times the rows per page of its last ANALYZE.
    Autovacuum may analyze a table in the middle of a load into it, before the load commits.
    It then counts the pages but none of the rows, and records zero rows per page. Until the
    next ANALYZE every plan takes the table for empty: its nested loops over the demo's 700
    people took up to a minute a statement (the first roster of a new database, the demo,
    the first round counted are such loads). An ANALYZE in the load's own transaction counts
    the load's rows, and leaves autovacuum nothing to redo.
    SQLite has no autovacuum, so there is nothing to do there."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    tables = [model.__table__ for model in models] or db.metadata.sorted_tables
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(str(table.name)) for table in tables)  # type: ignore[attr-defined]
    connection.exec_driver_sql(f"ANALYZE {names}")


View = TypeVar("View", bound=Callable[..., Any])


def _dropped(error: sa.exc.DBAPIError) -> bool:
    """The database could not be reached or the connection broke (not a bad statement)."""
    return error.connection_invalidated or isinstance(
        error, sa.exc.OperationalError | sa.exc.InterfaceError
    )


def retried_once(view: View) -> View:
    """Run a view again, once, when its connection to the database turned out to be dropped
    (a restarted server, a killed backend, a connection closed by a firewall; the pool no
    longer pings before each checkout, see ``SQLALCHEMY_ENGINE_OPTIONS``) before it wrote
    anything: nothing was done, so doing it again is safe. A second failure, or one after a
    write, is a clean 503 (the "server error" page, or JSON under /api/), never a 500."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except sa.exc.DBAPIError as error:
            if not _dropped(error):
                raise
            retry = error.connection_invalidated and not g.get("kijun_wrote")
            db.session.rollback()  # an invalidated connection is not used again
            if not retry:
                raise ServiceUnavailable() from error
        try:
            return view(*args, **kwargs)
        except sa.exc.DBAPIError as error:
            if not _dropped(error):
                raise
            db.session.rollback()
            raise ServiceUnavailable() from error

    return wrapped  # type: ignore[return-value]


def register_connection_retry(app: Flask) -> None:
    """Wrap every view (after the blueprints are mounted) with ``retried_once``."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = retried_once(view)
