"""Connections kept in autocommit, outside SQLAlchemy's pool, for the receivers' one-statement writes.

Why not the pool: checking a connection out of SQLAlchemy's pool and back in (its queue, its
records, the reset) cost a receiver 26 us of CPU per event in process, half as much as the
INSERT through psycopg2 (51 us). Here a statement takes an idle connection from a list and
puts it back: a gunicorn sync worker, which serves one request at a time, keeps one; a
gthread worker or a threaded development server keeps as many as its requests ran at once,
up to KEEP idle.

One statement only: in autocommit it is its own transaction, committed (WAL flushed, with
synchronous_commit on) before the server answers it, so one round trip has the durability
that BEGIN, INSERT and COMMIT have in three.

What the pool guaranteed holds here too: a connection is used only by the process that made
it (what a fork inherited is dropped from the list, never closed there: closing would end the
parent's session on the socket both hold), lives at most ``recycle`` seconds, one the server
ended while it was idle (a database restart) is replaced when taken (tracker.db.liveness), and
one found dead only by its statement (a server gone without a word) takes the idle ones with
it, as the pool invalidates itself, so that one statement fails (503: the sender retries) and
the next connects anew; ``close()`` closes every one, an idle one at once and one in use when
its statement ends.
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

from tracker.db import liveness

KEEP = 10  # idle connections kept at most (the engine's pool keeps 5, and 5 more under load)


class KeptConnection:
    """A DBAPI connection in autocommit: ``cursor()`` and ``info`` as a pooled one has."""

    __slots__ = ("driver", "info", "expires", "generation", "pid")

    def __init__(self, driver, expires: float, generation: int) -> None:
        self.driver, self.info, self.expires, self.generation = driver, {}, expires, generation
        self.pid = os.getpid()

    def cursor(self):
        return self.driver.cursor()

    def close(self) -> None:
        """Close it, in the process that made it only (a forked child never ends its parent's session)."""
        if self.pid == os.getpid():
            with contextlib.suppress(Exception):  # a connection that cannot close cleanly is gone anyway
                self.driver.close()


class KeptConnections:
    """The kept connections of one Database."""

    def __init__(self, connect_args: dict[str, Any], recycle: float) -> None:
        self._connect_args = connect_args
        self._recycle = recycle
        self._idle: list[KeptConnection] = []  # taken by list.pop: atomic, no two threads get one
        self._generation = 0  # moved on by close(): a connection of an older one is not kept
        self._lock = threading.Lock()  # a give-back against close(): none kept past it
        _EVERY.add(self)

    @contextmanager
    def statement(self, engine: Engine) -> Iterator[Any]:
        """A kept connection for ONE statement: it is committed when it returns (autocommit).

        Driver errors are raised as SQLAlchemy's DBAPIError (the HTTP layer answers 503).
        """
        dbapi = engine.dialect.loaded_dbapi
        try:
            kept = self._take(engine)
        except dbapi.Error as error:  # could not connect
            raise DBAPIError.instance(None, None, error, dbapi.Error, dialect=engine.dialect) from error
        try:
            yield kept
        except dbapi.Error as error:
            lost = bool(kept.driver.closed) or engine.dialect.is_disconnect(error, kept.driver, None)
            if lost:
                kept.close()
                self.close()  # the server restarted, most likely: the idle ones died with it
            else:  # autocommit: a failed statement leaves no transaction open
                self._give_back(kept)
            raise DBAPIError.instance(None, None, error, dbapi.Error, connection_invalidated=lost,
                                      dialect=engine.dialect) from error
        except BaseException:
            kept.close()  # interrupted mid-statement, perhaps: never reused in an unknown state
            raise
        self._give_back(kept)

    def close(self) -> None:
        """Close every kept connection: the idle ones now, the ones in use when their statement ends."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for kept in idle:
            kept.close()

    def _take(self, engine: Engine) -> KeptConnection:
        now = time.monotonic()
        while True:
            try:
                kept = self._idle.pop()
            except IndexError:
                break
            if kept.expires > now and not liveness.ended_by_server(kept.driver):
                return kept
            kept.close()
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        driver = engine.dialect.loaded_dbapi.connect(*cargs, **{**cparams, **self._connect_args})
        driver.autocommit = True
        return KeptConnection(driver, now + self._recycle, self._generation)

    def _give_back(self, kept: KeptConnection) -> None:
        with self._lock:
            if kept.generation == self._generation and len(self._idle) < KEEP and not kept.driver.closed:
                self._idle.append(kept)
                return
        kept.close()

    def _forget_inherited(self) -> None:
        """In a forked child: nothing of the parent's is this process's to use (KeptConnection.close
        leaves them open; psycopg2 does not close a connection it frees in another process)."""
        self._idle, self._lock = [], threading.Lock()
        self._generation += 1  # one in use at the fork: given back, it is closed (that is, left alone)


_EVERY: weakref.WeakSet[KeptConnections] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for kept in list(_EVERY):
        kept._forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)
