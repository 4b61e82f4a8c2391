"""DBAPI connections for the receivers' one-statement transactions, with SQLAlchemy's errors.

The receivers commit one INSERT per request; SQLAlchemy's Connection around it (begin,
execution context, result) cost more CPU than the statement itself. These run the caller's
statements on a plain cursor, commit, and turn driver errors into SQLAlchemy's (so the HTTP
layer answers 503 for an outage as before), dropping a connection that died.

``OwnConnections.statement`` is the one-round-trip form, on a connection of the thread's own:
psycopg2 outside autocommit sends BEGIN and COMMIT as round trips of their own, so one
INSERT in a transaction costs three. In autocommit the INSERT is its own transaction,
committed (WAL flushed, with synchronous_commit on) before the server answers it: the same
durability in one. ``transaction`` (several statements) checks a connection out of the
engine's pool.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
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


class OwnConnection:
    """One thread's DBAPI connection, always in autocommit: ``cursor()`` and ``info`` as a pooled one has."""

    __slots__ = ("driver", "info", "expires")

    def __init__(self, driver, expires: float) -> None:
        self.driver, self.info, self.expires = driver, {}, expires

    def cursor(self):
        return self.driver.cursor()


# What a forked process inherited: kept referenced, never closed here (closing would end the
# parent's session on the socket both hold).
_INHERITED: list[OwnConnection] = []


class OwnConnections:
    """A connection per thread, outside the engine's pool, for one-statement writes in autocommit.

    Why not the pool: checking a connection out of SQLAlchemy's pool and back in (its queue,
    its records, the reset) cost a receiver 26 us of CPU per event in process, half as much
    as the INSERT through psycopg2 (51 us). A thread serves one request at a time, so it needs one
    connection, which it keeps: one per gunicorn sync worker, per gthread thread, per SQS
    poller. The pool's guarantees, kept here: a connection is made in the process that uses
    it (one inherited through a fork is left alone), lives at most ``recycle`` seconds (the
    engine's pool_recycle), and one that died is dropped, so the next statement reconnects.
    ``close()`` closes every thread's (the Database's dispose()).
    """

    def __init__(self, connect_args: dict[str, Any], recycle: float) -> None:
        self._connect_args = connect_args
        self._recycle = recycle
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[OwnConnection] = []
        _EVERY.add(self)

    @contextmanager
    def statement(self, engine: Engine) -> Iterator[Any]:
        """This thread's connection, for ONE statement: it is committed when it returns (autocommit).

        Only for a single statement: two would be two transactions.
        """
        dbapi = engine.dialect.loaded_dbapi
        own = None
        try:
            own = self._connection(engine)
            yield own
        except dbapi.Error as error:
            lost = own is None or own.driver.closed or engine.dialect.is_disconnect(error, own.driver, None)
            if lost and own is not None:
                self._drop(own)
            raise DBAPIError.instance(None, None, error, dbapi.Error, connection_invalidated=lost,
                                      dialect=engine.dialect) from error
        except BaseException:
            if own is not None:  # interrupted mid-statement, perhaps: never reuse it in an unknown state
                self._drop(own)
            raise

    def close(self) -> None:
        """Close every thread's connection (each reconnects at its next statement)."""
        with self._lock:
            owned, self._open = self._open, []
        for own in owned:
            own.expires = 0.0  # its thread replaces it at the next statement
            _close_quietly(own.driver)

    def _connection(self, engine: Engine) -> OwnConnection:
        own = getattr(self._local, "own", None)
        if own is not None and own.expires > time.monotonic() and not own.driver.closed:
            return own
        if own is not None:
            self._drop(own)
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        driver = engine.dialect.loaded_dbapi.connect(*cargs, **{**cparams, **self._connect_args})
        driver.autocommit = True
        own = OwnConnection(driver, time.monotonic() + self._recycle)
        with self._lock:
            self._open.append(own)
        self._local.own = own
        return own

    def _forget_inherited(self) -> None:
        """In a forked child: nothing of the parent's is this process's to use or to close."""
        _INHERITED.extend(self._open)
        self._open, self._local, self._lock = [], threading.local(), threading.Lock()

    def _drop(self, own: OwnConnection) -> None:
        with self._lock:
            if own in self._open:
                self._open.remove(own)
        _close_quietly(own.driver)
        if getattr(self._local, "own", None) is own:
            self._local.own = None


_EVERY: weakref.WeakSet[OwnConnections] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for holder in list(_EVERY):
        holder._forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_quietly(driver) -> None:
    with contextlib.suppress(Exception):  # a connection that cannot close cleanly is gone anyway
        driver.close()


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
                connection.invalidate(error)
            else:
                _rollback_quietly(connection)
            raise DBAPIError.instance(None, None, error, dbapi.Error, connection_invalidated=lost,
                                      dialect=engine.dialect) from error
        except BaseException:
            _rollback_quietly(connection)
            raise
    finally:
        connection.close()  # back to the pool (its reset is a no-op once committed)


def _rollback_quietly(connection) -> None:
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - the original error is the one worth raising
        connection.invalidate()
