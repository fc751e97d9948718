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

**Reading ahead.** A statement that a view is known to run next can be read in the same round
trip as one before it (``side_by_side``: the sign-in and the checklist's first read,
app/access.py ``reads_ahead``). Its row is kept for the request (``keep_read_ahead``) and
``first_row`` hands it out, once, to the first call with the very same statement and
parameters; any write in between drops it (the ``before_cursor_execute`` listener), so a
kept row is always what that read would have returned when it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.visitors import iterate, replacement_traverse

from app.extensions import READ_AHEAD, db, request_connection

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


# Keyed by the statement (built once, app/access.py and app/services/rounds/checklist_page.py) and
# the engine's dialect; bounded, since every test app has an engine of its own.
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
    kept = g.get(READ_AHEAD) if has_request_context() else None
    if kept:
        for n, (read, given, row) in enumerate(kept):
            if read is statement and given == parameters:
                del kept[n]
                kept_row: tuple[Any, ...] | None = row
                return kept_row
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


@dataclass(frozen=True)
class SideBySide:
    """Two SELECTs read as one (``side_by_side``): the first's columns, then the other's."""

    statement: sa.Select[*tuple[Any, ...]]
    first_columns: int


def side_by_side(
    first: sa.Select[*tuple[Any, ...]],
    ahead: sa.Select[*tuple[Any, ...]],
    replaced: Mapping[str, sa.ColumnElement[Any]],
) -> SideBySide:
    """One SELECT that returns ``first``'s row with ``ahead``'s beside it (NULLs when ahead has
    none; no row when first has none): one round trip instead of two. Each of ahead's bound
    parameters named in ``replaced`` becomes that expression (the person ``first`` finds,
    say); the two share no other parameter names. Both return at most one row. Build it once
    per pair: it is compiled once per object (``_prepared``)."""
    if _parameter_names(first) & _parameter_names(ahead) - replaced.keys():
        raise ValueError("the statements read side by side share a parameter name")

    def replace(element: Any, **_kw: Any) -> Any:
        if isinstance(element, sa.BindParameter) and element.key in replaced:
            return replaced[element.key]
        return None

    found = sa.true().label("kijun_read_ahead_found")
    marked: Any = ahead.add_columns(found)
    no_options: dict[str, Any] = {}
    reading: Any = replacement_traverse(marked, no_options, replace)
    first_part = first.subquery("first_read")
    ahead_part = reading.subquery("read_ahead")
    statement = sa.select(first_part, ahead_part).select_from(
        first_part.outerjoin(ahead_part, sa.true())
    )
    return SideBySide(statement, len(first_part.c))


def _parameter_names(statement: sa.Select[*tuple[Any, ...]]) -> set[str]:
    return {
        element.key for element in iterate(statement) if isinstance(element, sa.BindParameter)
    }


def split_side_by_side(
    read: SideBySide, row: tuple[Any, ...]
) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """A row of ``read.statement`` as the first statement's row and the other's (None when
    it had none)."""
    first, ahead = row[: read.first_columns], row[read.first_columns : -1]
    return first, (ahead if row[-1] else None)


def keep_read_ahead(
    statement: sa.Select[*tuple[Any, ...]],
    parameters: Mapping[str, Any],
    row: tuple[Any, ...] | None,
) -> None:
    """Keep ``row`` (read side by side with another statement) for this request: the next
    ``first_row(statement, parameters)`` returns it instead of asking the database."""
    g.setdefault(READ_AHEAD, []).append((statement, dict(parameters), row))
