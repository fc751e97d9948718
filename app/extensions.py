"""Flask extensions, created unbound and bound to the app in ``create_app``."""

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
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
        if bind is None:
            connection = request_connection()
            if connection is not None:
                return connection
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
    otherwise fail at once with "database is locked" when another request wrote in between.
    A read-only request (``reads_only``) runs without a transaction, so takes no lock."""
    if connection.dialect.name == "sqlite" and not _autocommit(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


READS_ONLY = "kijun_reads_only"
# g: the rows read ahead of the statements that would read them (``app.statements``).
READ_AHEAD = "kijun_read_ahead"


@sa.event.listens_for(sa.Engine, "begin")
def _transaction_begins(connection: sa.Connection) -> None:
    connection.info[READS_ONLY] = True


@sa.event.listens_for(sa.Engine, "before_cursor_execute")
def _note_writes(
    connection: sa.Connection, _cursor: Any, statement: str, *_args: Any
) -> None:
    """Mark the transaction as writing at its first statement that is not a SELECT.

    A SELECT changes no data (its row locks and advisory locks end with COMMIT as with
    ROLLBACK); anything else, WITH included, counts as a write."""
    if not statement.lstrip()[:6].upper() == "SELECT":
        connection.info[READS_ONLY] = False
        if has_request_context():
            g.kijun_wrote = True  # a dropped connection is not retried after a write
            # A row read ahead (app/statements.py) may no longer be what a read would see.
            g.pop(READ_AHEAD, None)


def end_read_only_transaction(exc: BaseException | None) -> None:
    """Teardown: end a PostgreSQL transaction that only read with COMMIT, not ROLLBACK; then
    hand the request's own connection (``request_connection``) back to the pool.

    The two mean the same for a transaction without writes, but psycopg forgets its prepared
    statements on every ROLLBACK, so each page view would plan its queries afresh (about a
    quarter of the checklist page's time; docs/benchmarks.md). A transaction that wrote
    anything (or has changes not yet flushed), or a request that failed, is still rolled back
    by Flask-SQLAlchemy.
    """
    _commit_if_only_read(exc)
    end_request_connection()


def _commit_if_only_read(exc: BaseException | None) -> None:
    if exc is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if runs_without_transaction():
        # ``reads_only``: each statement ended itself; the pool's rollback of an idle
        # connection sends nothing and keeps the prepared statements, so there is nothing to
        # end (the session's own commit would only cost the request its bookkeeping).
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.info.get(READS_ONLY):
        # Nothing changed, so the loaded objects stay as they are (as after a rollback).
        session.expire_on_commit = False
        session.commit()


View = TypeVar("View", bound=Callable[..., Any])


# g: True in a request that runs without a transaction (``reads_only``, ``saves_lazily``), then
# the connection it runs on.
REQUEST_CONNECTION = "kijun_request_connection"


def reads_only(view: View) -> View:
    """Decorate a page that only reads (above ``access``, so that the sign-in is included):
    a GET or HEAD runs its statements without a transaction (``AUTOCOMMIT``), saving the
    BEGIN and COMMIT round trips. Each statement then sees the data committed when it starts;
    the page must not need two statements to agree with each other beyond that (the
    checklist's do not: the person, then the round with the person's answers). On SQLite no
    ``BEGIN IMMEDIATE`` is taken either, so the page waits on no writer.

    The connection is the request's own (``request_connection``), also the session's bind,
    so that ``first_row`` needs no session at all: a page whose statements all go through it
    never builds one (docs/benchmarks.md)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.method in ("GET", "HEAD") and not (
            db.session.registry.has() and db.session().in_transaction()
        ):
            g.setdefault(REQUEST_CONNECTION, True)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def request_connection() -> sa.Connection | None:
    """The connection of a request that runs without a transaction (``reads_only``,
    ``saves_lazily``), in ``AUTOCOMMIT``: checked out at its first statement, the session's
    bind for the request, handed back at teardown (``end_request_connection``). None in any
    other request."""
    if not has_request_context():
        return None
    held = g.get(REQUEST_CONNECTION)
    if held is None:
        return None
    if held is True:
        held = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        setattr(g, REQUEST_CONNECTION, held)
    connection: sa.Connection = held
    return connection


def end_request_connection() -> None:
    """Hand the request's connection back to the pool (after the session bound to it is
    closed, which rolls back a transaction left open); a later statement of the request gets
    a new one."""
    held = g.get(REQUEST_CONNECTION)
    if isinstance(held, sa.Connection):
        db.session.remove()
        held.close()
        setattr(g, REQUEST_CONNECTION, True)


def saves_lazily(view: View) -> View:
    """Decorate a view that saves (PUT or POST), on PostgreSQL: its request starts without a
    transaction (``AUTOCOMMIT``), so that a save that is one statement (a staff member's first
    save, app/services/rounds/checklist_save.py) makes no BEGIN and no COMMIT round trip. A service
    whose statements must agree calls ``begin_transaction()`` before them; the view commits or rolls
    back as ever. SQLite keeps its ``BEGIN IMMEDIATE`` from the first statement. The
    connection is the request's own, as for ``reads_only`` (``request_connection``)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if (
            request.method in ("POST", "PUT")
            and db.engine.dialect.name == "postgresql"
            and not (db.session.registry.has() and db.session().in_transaction())
        ):
            g.setdefault(REQUEST_CONNECTION, True)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def commit() -> None:
    """Commit the request's work: the session's transaction, when the request built a session
    at all. A request whose statements all ran on its own connection (``request_connection``,
    ``first_row``: a first save) has nothing to commit, and building a session only to commit
    nothing cost a first submit about a tenth of a millisecond."""
    if db.session.registry.has():
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


def runs_without_transaction() -> bool:
    """Whether the session's statements now run each on its own (``reads_only``,
    ``saves_lazily``), not yet inside a transaction begun by ``begin_transaction()``."""
    connection = request_connection() or db.session.connection()
    if not _autocommit(connection):
        return False
    driver: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        return bool(driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)
    return not driver.in_transaction  # sqlite3


def begin_transaction() -> None:
    """Make what follows one transaction, on a connection that runs without one: BEGIN now
    (BEGIN IMMEDIATE on SQLite). The view's commit or rollback ends it (the driver sends
    COMMIT or ROLLBACK for a transaction that is open, whatever its mode), and so does the
    pool's rollback when the request fails. Inside the session's own transaction: nothing."""
    if runs_without_transaction():
        # Through the session, which then holds the transaction and ends it with the view's
        # commit or rollback (a BEGIN sent on the bare request connection would not be).
        connection = db.session.connection()
        sqlite = connection.dialect.name == "sqlite"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite else "BEGIN")


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
            db.session.rollback()
            end_request_connection()  # an invalidated connection is not used again
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
