"""The hot path's statements, compiled once and run on the request's connection without
SQLAlchemy's per-execution work.

The sign-in and the checklist page each run one SELECT on every request. Through
``Session.execute`` each cost about half a millisecond of Python besides the database's own
work: the ORM's execution context, the statement's cache key, the result's metadata read from
the cursor's description (docs/benchmarks.md). ``first_row`` keeps what makes the result right
and drops the rest:

- the statement is built and compiled by SQLAlchemy, once per dialect;
- parameters go through the compiled statement's own bind processors, and each column of the
  row through its type's result processor, as ``Connection.execute`` would;
- it runs on the session's connection, so inside the request's transaction when there is one
  (after the session's pending changes are flushed, as autoflush would); in a ``reads_only``
  page, on the page's own connection, which is also the session's bind, without building a
  session;
- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` events fire;
- an error goes through the connection's own handling: a dropped connection is invalidated and
  raised as SQLAlchemy's ``DBAPIError`` (``retried_once`` retries it), a bad statement as the
  usual ``sa.exc`` error.

For statements that return one row of plain columns: a SELECT (an ORM entity in the select
list comes back as its columns, one after another), or a ``WITH`` that writes and then selects
(the first save; its write is noted by the ``before_cursor_execute`` listener, as ever).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect

from app.extensions import db, request_connection

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Prepared:
    """A SELECT compiled for one dialect, with what turns values into parameters and back."""

    compiled: Any  # sqlalchemy.sql.compiler.SQLCompiler
    sql: str
    positions: tuple[str, ...] | None  # the parameters' order, for a positional driver
    names: Mapping[str, str]  # a parameter's name in the SQL, where the dialect escapes it
    bind_processors: Mapping[str, Processor]
    result_processors: tuple[Processor | None, ...]


# Keyed by the statement (built once, app/access.py and app/services/checklist.py) and the
# engine's dialect; bounded, since every test app has an engine of its own.
@lru_cache(maxsize=128)
def _prepared(statement: sa.Select[*tuple[Any, ...]], dialect: Dialect) -> _Prepared:
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("first_row takes no expanding or literal-execute parameters")
    return _Prepared(
        compiled=compiled,
        sql=compiled.string,
        positions=tuple(compiled.positiontup) if compiled.positional else None,
        names=dict(compiled.escaped_bind_names or {}),
        bind_processors=dict(compiled._bind_processors),
        result_processors=tuple(
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        ),
    )


def _parameters(prepared: _Prepared, given: Mapping[str, Any]) -> Any:
    values = prepared.compiled.construct_params(given, escape_names=False)
    processors = prepared.bind_processors
    if prepared.positions is not None:
        return tuple(
            processors[name](values[name]) if name in processors else values[name]
            for name in prepared.positions
        )
    names = prepared.names
    return {
        names.get(name, name): processors[name](value) if name in processors else value
        for name, value in values.items()
    }


def first_row(
    statement: sa.Select[*tuple[Any, ...]], parameters: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of a SELECT built with SQLAlchemy, its columns converted by their types
    (an ORM entity's columns in its place); None when there is none. One round trip."""
    if db.session.registry.has() and db.session.autoflush:
        db.session.flush()  # nothing to do unless the request changed objects
    # The request's own connection (``reads_only``, ``saves_lazily``; the session's bind too),
    # without building the session; otherwise the session's, inside its transaction if any.
    connection = request_connection() or db.session.connection()
    prepared = _prepared(statement, connection.dialect)
    params = _parameters(prepared, parameters)
    dispatch = connection.dispatch
    cursor = connection.connection.cursor()
    try:
        dispatch.before_cursor_execute(connection, cursor, prepared.sql, params, None, False)
        cursor.execute(prepared.sql, params)
        row = cursor.fetchone()
        dispatch.after_cursor_execute(connection, cursor, prepared.sql, params, None, False)
    except Exception as error:
        connection._handle_dbapi_exception(error, prepared.sql, params, cursor, None)
    finally:
        cursor.close()
    if row is None:
        return None
    return tuple(
        value if process is None else process(value)
        for process, value in zip(prepared.result_processors, row, strict=True)
    )
