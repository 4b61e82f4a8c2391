"""One read on the driver: a Core statement compiled once, run on a kept connection's cursor.

Why: a native list page's query through SQLAlchemy's Connection (the pool's checkout and
check-in, the execution context, the result and its Row objects) cost the page 7% of its time
over HTTP, more than anything else above the least a list page does on this stack but the
rate limit's Redis round trip (README, eleventh and twelfth rounds). The statement is still
built by Core and compiled by SQLAlchemy, once per statement object; its values still pass
through each bound type's processor (a UTCDateTime bound is made naive UTC as Core makes it),
and each result column through its type's result processor where it has one. Only the
execution goes straight to psycopg2, as the receivers' INSERT does (tracker.db.kept_connections).

A statement Core must finish per execution (an expanding IN list, a literal rendered at
execution) is refused here: run it through Core. Listeners of the engine's
before_cursor_execute event (the index tests, bench/read.py's plans) are told of each
statement, as Core tells them; with none, that costs one truth test.
"""
from __future__ import annotations

import collections
import threading
from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

from sqlalchemy.engine import Engine

__all__ = ["DriverReader", "reading", "rows"]


class _Compiled:
    """A statement as psycopg2 runs it: its SQL, its parameters' defaults and processors, its row type."""

    __slots__ = ("sql", "names", "processors", "defaults", "row", "results")

    def __init__(self, statement, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement with expanding or literal-execute parameters runs through Core")
        self.sql = compiled.string
        self.names = dict(compiled.escaped_bind_names)  # a bound name -> its name in the SQL, where they differ
        # Each type's processors as the dialect implements it, as Core takes them.
        self.processors = {self.names.get(name, name): processor for name, bind in compiled.binds.items()
                           if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        # Every parameter with the value the statement binds itself (None for those a caller gives).
        self.defaults = self.processed(compiled.construct_params(_check=False))
        columns = list(statement.selected_columns)
        self.row = collections.namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
        self.results = [(index, processor) for index, column in enumerate(columns)
                        if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None]

    def processed(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` under their names in the SQL, each through its type's bind processor (as Core does)."""
        processors, names = self.processors, self.names
        out = {}
        for name, value in values.items():
            name = names.get(name, name)
            out[name] = processors[name](value) if name in processors else value
        return out


_COMPILED: dict[int, tuple[object, _Compiled]] = {}  # id(statement) -> (statement, its compiled form)
_LOCK = threading.Lock()
_LIMIT = 512  # as tracker.db.repository.prebuilt keeps statements


class DriverReader:
    """A kept connection (autocommit) and its engine: ``rows`` runs one SELECT on the driver."""

    __slots__ = ("connection", "engine")

    def __init__(self, connection, engine: Engine) -> None:
        self.connection, self.engine = connection, engine

    def rows(self, statement, values: dict[str, Any]) -> list:
        """The statement's rows as named tuples (attribute and index access, as Core's rows)."""
        compiled = self._compiled(statement)
        parameters = {**compiled.defaults, **compiled.processed(values)}
        with self.connection.cursor() as cursor:
            if self.engine.dispatch.before_cursor_execute:
                self.engine.dispatch.before_cursor_execute(None, cursor, compiled.sql, parameters, None, False)
            cursor.execute(compiled.sql, parameters)
            fetched = cursor.fetchall()
        make = compiled.row._make
        if not compiled.results:
            return [make(row) for row in fetched]
        rows = []
        for row in fetched:
            values_of = list(row)
            for index, processor in compiled.results:
                values_of[index] = processor(values_of[index])
            rows.append(make(values_of))
        return rows

    def _compiled(self, statement) -> _Compiled:
        found = _COMPILED.get(id(statement))
        if found is not None and found[0] is statement:
            return found[1]
        compiled = _Compiled(statement, self.engine)
        with _LOCK:
            if len(_COMPILED) >= _LIMIT:
                _COMPILED.clear()
            _COMPILED[id(statement)] = (statement, compiled)  # the statement kept: its id stays its own
        return compiled


@contextmanager
def reading(db) -> Iterator[Any]:
    """For ONE read: a DriverReader on PostgreSQL, else ``db.reading()``'s Core connection (SQLite)."""
    if db.is_sqlite:
        with db.reading() as connection:
            yield connection
        return
    with db.statement() as kept:
        yield DriverReader(kept, db.engine)


def rows(connection, statement, values: dict[str, Any]) -> list:
    """``statement``'s rows on a DriverReader, or on a Core connection (SQLite, a session's) as Core gives them."""
    if isinstance(connection, DriverReader):
        return connection.rows(statement, values)
    return connection.execute(statement, values).all()
