"""Whether the server has ended an idle connection: one poll() of its socket, no round trip.

A PostgreSQL server that ends a session (a restart or fast shutdown, pg_terminate_backend,
idle_session_timeout) sends the client a FATAL error and closes the socket. An idle connection
in the protocol's ready state has nothing else to read (the tracker LISTENs for nothing), so a
socket that is readable, or hung up, before a statement is sent belongs to a session that is over.
Taking such a connection would fail the request it serves (503) after the database is back;
it is replaced instead. pool_pre_ping would catch it too, at the cost of a round trip per
checkout; poll() costs a system call (about a microsecond).

A connection whose server vanished without a word (a host lost, a network cut) still looks
alive here: its first statement fails, as before, and the connections of its generation go with
it (tracker.db.kept_connections, tracker.db.raw).
"""
from __future__ import annotations

import select

from sqlalchemy.exc import DisconnectionError

_ENDED = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def ended_by_server(driver) -> bool:
    """True when the idle DBAPI connection ``driver`` was closed, or ended by its server."""
    if driver.closed:
        return True
    poller = select.poll()
    poller.register(driver.fileno(), _ENDED)
    return bool(poller.poll(0))


def replace_if_ended(dbapi_connection, _record, _proxy) -> None:
    """The pool's "checkout" listener: a connection the server ended is replaced by a new one
    (SQLAlchemy invalidates it and connects again when a checkout listener raises DisconnectionError)."""
    if ended_by_server(dbapi_connection):
        raise DisconnectionError("the server ended this idle connection")
