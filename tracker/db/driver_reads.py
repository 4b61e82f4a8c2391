"""One read on the driver: a Core statement compiled once, run on a kept connection's cursor.

Why: a list page's query through SQLAlchemy's Connection (the pool's checkout and
check-in, the execution context, the result and its Row objects) cost the page 7% of its time
over HTTP, more than anything else above the least a list page does on this stack but the
rate limit's Redis round trip (README, eleventh and twelfth rounds). The statement is still
built by Core and compiled by SQLAlchemy, once per statement object, and its values still pass
through each bound type's processor as the dialect implements it (a UTCDateTime bound is made
naive UTC as Core makes it). Only the execution goes straight to psycopg2, as the receivers'
INSERT does (tracker.db.kept_connections).

An expanding IN list (a filter's statuses, Postman's complaint events, Infobip's prices) is
expanded per execution by SQLAlchemy's own ``construct_expanded_state``, as Core expands it,
each element through its type's processor.

What this path cannot do exactly as Core does, it leaves to Core (decided when the statement is
first compiled, before the connection is used; the statement then runs on a pooled connection, as
reading() gives, beside the kept one), and so does a statement built for one call (``kept=False``:
Core's compiled cache keys it by its structure, where this path would compile it anew):
- a parameter Core finishes per execution otherwise (a literal rendered at execution, a value
  computed by a callable);
- a result column whose type processes what the driver returns (UTCDateTime's aware times;
  Float and Numeric, which on psycopg2 need the column's type code; JSON has none there, the
  driver parses it): read times as stored (tracker.db.repository.stored_times);
- result columns without a distinct plain name each (rows are named tuples).
Kept connections also skip the dialect's connect-time set-up (psycopg2's UUID and hstore
casters): no such column may be read through this path (the tracker has none).

A required parameter left out is an error, as in Core (not a NULL). Listeners of the engine's
before_cursor_execute event (the index tests, bench/read.py's plans) are told of each statement
with its cursor, SQL and parameters, but no Connection or execution context; with no listener
that costs one truth test.
"""
from __future__ import annotations

import collections
import keyword
import threading
from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from tracker.db import raw

__all__ = ["DriverReader", "first", "reading", "rows", "scalar", "within"]


class _Compiled:
    """A statement as psycopg2 runs it: its SQL, its parameters, its row type."""

    __slots__ = ("sql", "escaped", "processors", "defaults", "required", "row_type", "expanding")

    def __init__(self, statement, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or any(bind.callable is not None for bind in compiled.binds.values()):
            raise ValueError("a parameter Core finishes per execution: run this statement through Core")
        # An expanding IN: its SQL and values are made per execution (values_for).
        self.expanding = compiled if compiled.post_compile_params else None
        columns = list(statement.selected_columns)
        if any(column.type.dialect_impl(dialect).result_processor(dialect, None) is not None for column in columns):
            raise ValueError("a column whose type processes its values: run this statement through Core")
        names = [column.key for column in columns]
        if len(set(names)) != len(names) or not all(map(_plain, names)):
            raise ValueError("result columns without a distinct plain name each: run this statement through Core")
        self.sql = compiled.string
        self.escaped = dict(compiled.escaped_bind_names)  # a bound name -> its name in the SQL, where they differ
        # Each type's processor as the dialect implements it, as Core takes them.
        self.processors = {self.escaped.get(name, name): processor for name, bind in compiled.binds.items()
                           if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        # The values the statement binds itself; the caller gives the required ones.
        self.required = frozenset(name for name, bind in compiled.binds.items() if bind.required)
        self.defaults = self.processed(compiled.construct_params(_check=False))
        fields = collections.namedtuple("Row", names)  # type: ignore[misc]
        # Read as Core's rows are: by attribute, by index and, where a page mark takes its sort key, _mapping.
        self.row_type = type("Row", (fields,), {"__slots__": (), "_mapping": property(fields._asdict)})

    def values_for(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL and the processed values to run with ``values``: an expanding IN's list expanded as
        Core expands it (each element its own parameter, through its type's processor)."""
        if self.expanding is None:
            return self.sql, {**self.defaults, **self.processed(values)}
        # Unescaped names in, as Core expands them (escaping first would lose a name psycopg2 needs
        # escaped, such as "my ids"); each name then as the SQL spells it, as Core does after.
        state = self.expanding.construct_expanded_state(values, escape_names=False)
        processors, escaped = {**self.processors, **state.processors}, self.escaped
        out = {}
        for name, value in state.parameters.items():
            name = escaped.get(name, name)
            out[name] = processors[name](value) if name in processors else value
        return state.statement, out

    def processed(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` under their names in the SQL, each through its type's bind processor (as Core does)."""
        processors, escaped = self.processors, self.escaped
        out = {}
        for name, value in values.items():
            name = escaped.get(name, name)
            out[name] = processors[name](value) if name in processors else value
        return out


def _plain(name) -> bool:
    """A name a named tuple's field can have."""
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_") and not keyword.iskeyword(name)


# id(statement) -> (statement, its compiled form, or None: Core runs it)
_COMPILED: dict[int, tuple[object, _Compiled | None]] = {}
_LOCK = threading.Lock()
# Statements kept compiled per process: the prebuilt ones (tracker.db.repository.prebuilt keeps 512).
_LIMIT = 512


def _compiled(statement, engine: Engine) -> _Compiled | None:
    found = _COMPILED.get(id(statement))
    if found is not None and found[0] is statement:
        return found[1]
    try:
        compiled: _Compiled | None = _Compiled(statement, engine)
    # Not for this path (the module's docstring). Anything else the compilation raises is left to
    # Core too (psycopg2's Float and Numeric processors raise TypeError without a type code): Core
    # runs the statement as it always did, or raises what it is.
    except Exception:  # noqa: BLE001
        compiled = None
    with _LOCK:
        if len(_COMPILED) >= _LIMIT:  # the older half goes, as tracker.db.repository.prebuilt does
            for stale in list(_COMPILED)[:_LIMIT // 2]:
                del _COMPILED[stale]
        _COMPILED[id(statement)] = (statement, compiled)  # the statement kept: its id stays its own
    return compiled


class DriverReader:
    """A kept connection (autocommit) and its database: ``rows`` runs one SELECT on the driver. Or,
    made by within(), a Core connection's own DBAPI connection: its statements join that transaction."""

    __slots__ = ("connection", "db", "busy", "core")

    def __init__(self, connection, db, core: Connection | None = None) -> None:
        self.connection, self.db = connection, db
        self.busy = False  # within a statement on the kept connection (reading() says why it matters)
        self.core = core  # the Core connection whose transaction these statements are part of (within())

    def rows(self, statement, values: dict[str, Any], *, kept: bool = True, through_core: bool = True) -> list:
        """The statement's rows, as named tuples (by attribute, by index and _mapping, as Core's rows are
        read here), or as Core gives them where Core runs it (``kept=False``: built for this call alone).
        ``through_core=False``: a statement Core must not run (ValueError instead), as one with an UPDATE
        in a CTE, whose SET clause Core would extend by every execution parameter named like a column."""
        engine = self.db.engine
        compiled = _compiled(statement, engine) if kept else None  # before the connection is used
        if compiled is None and not through_core:
            raise ValueError("this statement cannot run on the driver, and must not run through Core")
        if compiled is None:
            if self.core is not None:  # in the transaction, as every statement of within() is
                return self.core.execute(statement, values).all()
            with self.db.reading() as core:
                return core.execute(statement, values).all()
        if not compiled.required <= values.keys():
            missing = ", ".join(sorted(compiled.required - values.keys()))
            raise ValueError(f"a value is required for each of: {missing}")
        sql, parameters = compiled.values_for(values)
        self.busy = True
        with self.connection.cursor() as cursor:
            if engine.dispatch.before_cursor_execute:
                engine.dispatch.before_cursor_execute(None, cursor, sql, parameters, None, False)
            cursor.execute(sql, parameters)
            fetched = cursor.fetchall()
        self.busy = False
        make = compiled.row_type._make
        return [make(row) for row in fetched]


@contextmanager
def reading(db) -> Iterator[Any]:
    """For a request's reads: a DriverReader on PostgreSQL, else ``db.reading()``'s Core connection (SQLite)."""
    if db.is_sqlite:
        with db.reading() as connection:
            yield connection
        return
    raised = None
    with db.statement() as kept:
        reader = DriverReader(kept, db)
        try:
            yield reader
        except Exception as error:
            if reader.busy:
                raise  # a driver error, or one mid-statement: tracker.db.kept_connections decides its fate
            # The caller's own error (a 404, say), or Core's beside it: the kept connection sits idle
            # between statements, so it goes back rather than being closed for nothing.
            raised = error
    if raised is not None:
        raise raised


@contextmanager
def within(core: Connection, db) -> Iterator[Any]:
    """For statements that must commit together (a claim, its mark, what it reads after): on
    PostgreSQL a DriverReader on ``core``'s own DBAPI connection, so that they run in ``core``'s
    transaction and are committed or rolled back with it; ``core`` itself elsewhere (SQLite).

    psycopg2's errors are raised as SQLAlchemy's DBAPIError, as Core raises them (the HTTP layer
    answers 503), and a connection found lost is invalidated with the pool's older ones, as Core does.
    """
    if db.is_sqlite:
        yield core
        return
    engine = db.engine
    dbapi, driver = engine.dialect.loaded_dbapi, core.connection.driver_connection
    try:
        yield DriverReader(driver, db, core=core)
    except dbapi.Error as error:
        lost = bool(driver.closed) or engine.dialect.is_disconnect(error, driver, None)
        if lost:
            raw.invalidate_lost(engine, core.connection, error)
            core.invalidate(error)
        raise DBAPIError.instance(None, None, error, dbapi.Error, connection_invalidated=lost,
                                  dialect=engine.dialect) from error


def rows(connection, statement, values: dict[str, Any], *, kept: bool = True) -> list:
    """``statement``'s rows on a DriverReader (``kept``: see DriverReader.rows), or on a Core connection
    or session (SQLite, a transaction's reads) as Core gives them."""
    if isinstance(connection, DriverReader):
        return connection.rows(statement, values, kept=kept)
    return connection.execute(statement, values).all()


def first(connection, statement, values: dict[str, Any], *, kept: bool = True):
    """The first of rows(), or None."""
    found = rows(connection, statement, values, kept=kept)
    return found[0] if found else None


def scalar(connection, statement, values: dict[str, Any], *, kept: bool = True):
    """The first column of first(), or None."""
    row = first(connection, statement, values, kept=kept)
    return None if row is None else row[0]
