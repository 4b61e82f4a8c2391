"""gunicorn's sync worker, with idle workers woken one at a time by a new connection.

Why: each of gunicorn's sync workers waits for a connection with select() on the listening
socket they share, and the kernel wakes every waiter of a select() at once. So each
connection to an idle server woke every idle worker; all but one found nothing to accept
(EAGAIN) and went back to sleep. With 4 workers and one request at a time, that cost about
0.55 ms of CPU and 0.2 ms of latency per request, more than Flask and the 204 route's own
work (bench/read.py's 204 route: gunicorn CPU per request, 1 worker vs 4).

This worker waits in epoll instead, with the listening socket registered EPOLLEXCLUSIVE
(Linux 4.5+): the kernel wakes one waiting worker per connection (the epoll_ctl manual page
allows "one or more"). Everything else is gunicorn's SyncWorker: accept, handle, the
heartbeat before each wait, the signal pipe (registered normally: it is the worker's own).
Where epoll is missing (not Linux) it waits as SyncWorker does.
"""
from __future__ import annotations

import contextlib
import os
import select

from gunicorn.workers.sync import SyncWorker

_EXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", 0)


class ExclusiveWakeSyncWorker(SyncWorker):
    """SyncWorker whose wait wakes one idle worker per connection, not all of them."""

    _poller = None

    def run(self) -> None:
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

    def wait(self, timeout):
        """SyncWorker.wait's contract: the ready sockets (and the pipe, emptied of its wake-up byte)."""
        if self._poller is None:
            return super().wait(timeout)
        self.notify()
        ready = [self._ready[fd] for fd, _events in self._poller.poll(timeout) if fd in self._ready]
        if self.PIPE[0] in ready:
            with contextlib.suppress(BlockingIOError):  # non-blocking: nothing left to read is fine
                os.read(self.PIPE[0], 1)
        return ready


# The name gunicorn loads it by (worker_class), for tracker.http.gunicorn_config and the benchmarks.
DOTTED_NAME = f"{__name__}.{ExclusiveWakeSyncWorker.__name__}"
