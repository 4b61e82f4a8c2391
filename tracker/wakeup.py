"""Waking the processor after an event is committed: cheap, and at most one wake-up pending.

The receiver calls ``wake()`` after its commit. A wake-up carries no data (the inbox row
is the data), so one pending wake-up is enough for any number of events; a lost one is
covered by the periodic sweep.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from tracker import redis_clients

log = logging.getLogger(__name__)

WAKE_FLAG = "tracker:inbox:wake"
PROCESS_TASK = "workers.tasks.process_inbox"
HELPER_TASK = "workers.tasks.help_drain_inbox"


class CeleryWaker:
    """Publishes a process_inbox task unless one is already queued or running (a Redis SET NX flag).

    The task keeps the flag while it drains, so a busy receiver costs Redis one SET per
    event and the broker nothing. When it finds the inbox empty the task clears the flag
    and then looks once more: an event committed before the clear found the flag set
    (and sent nothing) but is seen by that last look; one committed after it finds the
    flag clear and sends a new task. Either way no event waits for the sweep.
    """

    def __init__(self, celery, redis_url: str, flag_ttl: int = 30) -> None:
        self._celery = celery
        self._redis_url = redis_url
        self._ttl = flag_ttl

    @property
    def redis(self):
        return redis_clients.client(self._redis_url)

    def wake(self) -> None:
        try:
            if self.redis.set(WAKE_FLAG, b"1", nx=True, ex=self._ttl):
                self._celery.send_task(PROCESS_TASK)
        except Exception as error:  # the event is stored; the sweep will find it
            log.warning("could not wake a worker (%s); the sweep will pick the event up", error)

    def clear(self) -> None:
        self.redis.delete(WAKE_FLAG)

    def hold(self) -> None:
        """Keep (or take back) the flag while draining, so receivers send nothing meanwhile."""
        self.redis.set(WAKE_FLAG, b"1", ex=self._ttl)

    def hand_over(self) -> None:
        """Queue the next leader while still holding the flag (a drain ran out of its time)."""
        self._celery.send_task(PROCESS_TASK)

    def send_helper(self) -> None:
        """Ask another worker process to drain alongside (SKIP LOCKED keeps them apart)."""
        self._celery.send_task(HELPER_TASK)


class InProcessWorker:
    """The embedded default's processor: a daemon thread that drains the inbox when woken.

    It also wakes by itself every ``interval`` seconds, which is the embedded form of the
    beat sweep.
    """

    def __init__(self, drain: Callable[[], object], interval: float = 5.0) -> None:
        self._drain = drain
        self._interval = interval
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        self._ensure_started()
        self._event.set()

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="tracker-inbox", daemon=True)
                    self._thread.start()

    def start(self) -> None:
        self._ensure_started()

    def _run(self) -> None:
        while True:
            self._event.wait(self._interval)
            self._event.clear()
            try:
                self._drain()
            except Exception:
                log.exception("in-process inbox processing failed; retrying at the next wake-up")
