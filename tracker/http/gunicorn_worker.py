"""gunicorn's sync worker, with idle workers woken one at a time by a new connection.

Why: each of gunicorn's sync workers waits for a connection with select() on the listening
socket they share, and the kernel wakes every waiter of a select() at once. So each
connection to an idle server woke every idle worker; all but one found nothing to accept
(EAGAIN) and went back to sleep. With 4 workers and one request at a time, that cost about
0.25 ms of CPU and 0.17 ms of latency per request, as much as the 204 route's own work
(0.51 -> 0.25-0.31 ms of gunicorn CPU per request, measured with a sequential client).

This worker waits in epoll instead, with the listening socket registered EPOLLEXCLUSIVE
(Linux 4.5+): the kernel wakes one waiting worker per connection (the epoll_ctl manual page
allows "one or more"), the one that has waited longest. Everything else is gunicorn's
SyncWorker: accept, handle, the heartbeat before each wait, the signal pipe (registered
normally: it is the worker's own). Where epoll is missing (not Linux) it waits as SyncWorker
does.

One thing the herd did for free: a connection whose wake-up went to a worker that then
stopped (TERM, TTOU, HUP, a reload) before accepting it was taken by another woken worker.
Now no other worker was woken, so a worker leaving right after a wake-up first serves the
connections waiting then, and an idle worker looks again at least every IDLE_POLL seconds
(a worker killed outright after its wake-up cannot hand anything over).

After each answer, gunicorn (27 and later) closes the connection as RFC 9112 section 9.6
asks: it shuts its own side, then reads until the client closes its side too (at most 2 s),
so that closing cannot make the client's TCP stack drop an answer it has not read yet. That
risk exists only if the client still sends something (a body the app did not read, a
pipelined request). But a sync worker does nothing else meanwhile: each request held it for
one more client round trip, the time the client's close takes to come back. Measured with 16
clients whose close came 5 ms after the answer (a 5 ms round trip), 4 workers answered 640
requests/s instead of 2,350 (bench/close_wait.py); a client that never closed held a worker 2 s
per request. So this worker ends that wait at once when nothing more can come: the whole
request body has arrived and nothing else has. Otherwise gunicorn's wait stays.

gunicorn's sync worker also sets no timeout on a client's socket: a connection that sent
nothing (a crashed client, a half-open connection, a port scan) held its worker until the
master killed it for silence (--timeout, 30 s), so five idle connections stopped every
receiver and API of a default `tracker serve`. Here a client has CLIENT_TIMEOUT seconds to
start its request, and as long again for each later read of it (over plain TCP: with
gunicorn's own TLS the ssl module retries a read that timed out, so there only a connection
that sends nothing at all is closed); a connection so closed costs one INFO line in the log.
Writes keep gunicorn's behaviour, so a large answer to a slow reader is not cut short.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import ssl
import struct

from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import SyncWorker

_EXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", 0)
# The longest an idle worker sleeps without looking at the listener itself (gunicorn's own
# wait is half its --timeout, 15 s by default): the bound on a connection stranded by a worker
# that died between its wake-up and its accept. An idle look costs a few syscalls.
IDLE_POLL = 1.0
# A leaving worker serves at most this many waiting connections (it is meant to leave).
_SERVED_WHEN_LEAVING = 16
_NOTHING_WAITING = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)
# How long a client may leave its connection silent before it is closed: waiting for the
# request to begin, or for any later read of it (gunicorn's own waits for a client's close
# are left as they are). Clients send a request as soon as they connect.
CLIENT_TIMEOUT = 5.0
# At most this much of a request body the app left unread is read before closing (gunicorn's
# own close reads up to 64 KiB): past it, gunicorn's close as is.
_LEFT_UNREAD = 64 * 1024


class ExclusiveWakeSyncWorker(SyncWorker):
    """SyncWorker whose wait wakes one idle worker per connection, not all of them, which gives up on a
    silent client, and which does not wait for the client to close a connection from which nothing
    more can come."""

    _poller = None
    _woken: tuple = ()  # the listeners the last wait said were ready

    def run(self) -> None:
        self.log.error_log.addFilter(_ClientTimeouts())
        if hasattr(select, "epoll"):
            # Made here, in the worker process: an epoll instance is the process's own.
            self._poller = select.epoll()
            self._ready = {}
            for listener in self.sockets:
                self._poller.register(listener.fileno(), select.EPOLLIN | _EXCLUSIVE)
                self._ready[listener.fileno()] = listener
            self._poller.register(self.PIPE[0], select.EPOLLIN)
            self._ready[self.PIPE[0]] = self.PIPE[0]
        super().run()
        self._serve_before_leaving()

    def handle(self, listener, client, addr) -> None:
        _time_out_reads(client)
        if not _request_begins(client):
            self.log.info("Closed a connection from %s that sent nothing in %s s", _peer(addr), CLIENT_TIMEOUT)
            client.close()
            return
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr) -> None:
        super().handle_request(listener, req, client, addr)  # answered (raising: gunicorn's close as is)
        if _nothing_more_coming(req, client):
            # Shutting the read side too makes the read of gunicorn's close see the end at once.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def wait(self, timeout):
        """SyncWorker.wait's contract: the ready sockets (and the pipe, emptied of its wake-up byte)."""
        if self._poller is None:
            return super().wait(timeout)
        self.notify()
        ready = [self._ready[fd] for fd, _events in self._poller.poll(min(timeout, IDLE_POLL))
                 if fd in self._ready]
        self._woken = tuple(listener for listener in ready if listener != self.PIPE[0])
        if self.PIPE[0] in ready:
            with contextlib.suppress(BlockingIOError):  # non-blocking: nothing left to read is fine
                os.read(self.PIPE[0], 1)
        return ready

    def _serve_before_leaving(self) -> None:
        """Leaving right after a wake-up: serve the connections waiting now (no other worker was woken)."""
        for listener in self._woken:
            for _ in range(_SERVED_WHEN_LEAVING):
                try:
                    self.accept(listener)
                except OSError as error:
                    if error.errno in _NOTHING_WAITING:
                        break
                    raise


def _time_out_reads(client) -> None:
    """Reads from ``client`` time out after CLIENT_TIMEOUT (EAGAIN), writes as before: an answer a slow
    client takes long to read is not cut short (socket.settimeout would bound writes too)."""
    seconds = int(CLIENT_TIMEOUT)
    with contextlib.suppress(OSError):  # where timeval is not two longs: no timeout, as gunicorn
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                          struct.pack("ll", seconds, int((CLIENT_TIMEOUT - seconds) * 1_000_000)))


def _request_begins(client) -> bool:
    """Whether the client sends something (or closes) before its reads time out."""
    try:
        client.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, TimeoutError):
        return False
    except OSError:
        pass  # gunicorn's handling reads it again and answers or logs it as before
    return True


class _ClientTimeouts(logging.Filter):
    """gunicorn logs a socket error other than a reset as an error, with its traceback. A read that
    timed out (CLIENT_TIMEOUT, a request that stopped coming part-way) is the client's doing, as a
    silent connection is: one INFO line, so a client trickling its headers cannot fill the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], (BlockingIOError, TimeoutError)):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg, record.args = "Closed a connection whose request stopped coming for %s s", (CLIENT_TIMEOUT,)
            record.exc_info, record.exc_text = None, None
        return True


def _peer(addr) -> str:
    return addr[0] if isinstance(addr, tuple) else str(addr)


def _nothing_more_coming(req, client) -> bool:
    """Whether the client can have nothing more to send: the whole request body has arrived (what
    the app left unread of it is read here, from what gunicorn holds or the socket holds already)
    and no byte more is waiting (a pipelined request, say)."""
    reader = getattr(req.body, "reader", None)
    if isinstance(client, ssl.SSLSocket) or not isinstance(reader, LengthReader) or reader.length > _LEFT_UNREAD:
        return False  # TLS, a chunked body, or a long one the app left unread: gunicorn's close as is
    try:
        client.setblocking(False)
        try:
            while req.body.read(_LEFT_UNREAD):
                pass
        except BlockingIOError:
            return False  # more of the body is still on its way
        try:
            return not client.recv(1, socket.MSG_PEEK)  # b"": the client has closed already
        except BlockingIOError:
            return True  # nothing waiting
    except OSError:
        return False


# The name gunicorn loads it by (worker_class), for tracker.http.gunicorn_config and the benchmarks.
DOTTED_NAME = f"{__name__}.{ExclusiveWakeSyncWorker.__name__}"
