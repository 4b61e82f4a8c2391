"""A pooled DBAPI connection for the receivers' few-statement transactions, with SQLAlchemy's errors.

The receivers commit one or two INSERTs per request; SQLAlchemy's Connection around them
(begin, execution context, result) cost more CPU than the statements themselves. This checks a
connection out of the engine's own pool (so the pool's size, recycling and fork safety
still apply), runs the caller's statements on a plain cursor, commits, and turns driver
errors into SQLAlchemy's (so the HTTP layer answers 503 for an outage as before),
invalidating a connection that died. One statement alone goes through
tracker.db.kept_connections instead, in autocommit.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError


@contextmanager
def transaction(engine: Engine) -> Iterator[Any]:
    """A pooled DBAPI connection whose work commits on success and rolls back on any error."""
    with _checked_out(engine) as connection:
        yield connection
        connection.commit()


@contextmanager
def _checked_out(engine: Engine) -> Iterator[Any]:
    """A pooled DBAPI connection: driver errors raised as SQLAlchemy's, rolled back, a dead one invalidated."""
    dbapi = engine.dialect.loaded_dbapi
    connection = engine.raw_connection()  # the pool raises SQLAlchemy's errors itself
    try:
        try:
            yield connection
        except dbapi.Error as error:
            lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
            if lost:
                invalidate_lost(engine, connection, error)
            else:
                _rollback_quietly(connection)
            raise DBAPIError.instance(None, None, error, dbapi.Error, connection_invalidated=lost,
                                      dialect=engine.dialect) from error
        except BaseException:
            _rollback_quietly(connection)
            raise
    finally:
        connection.close()  # back to the pool (its reset is a no-op once committed)


def invalidate_lost(engine: Engine, connection, error: BaseException) -> None:
    """A pooled connection found lost: it and every connection the pool made before it are invalidated,
    each reconnecting at its next checkout, as Core does on a disconnect. They died with the server
    (a restart, most likely); invalidating this one alone left each idle one to fail a request of its own.
    Pool._invalidate is the method Core's own disconnect handling calls (Connection._handle_dbapi_exception);
    tests/integration/test_database_restart.py fails should it change."""
    engine.pool._invalidate(connection, error)


def _rollback_quietly(connection) -> None:
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - the original error is the one worth raising
        connection.invalidate()
