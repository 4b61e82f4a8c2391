"""Waking the processor after an event is committed: cheap, and at most one wake-up pending.

The receiver calls ``wake()`` after its commit. A wake-up carries no data (the inbox row
is the data), so one pending wake-up is enough for any number of events; a lost one is
covered by the periodic sweep. A process asks Redis at most once per WAKE_EVERY: the
requests in between are covered by that wake-up or by one sent when the interval ends.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from tracker.adapters import redis_clients

log = logging.getLogger(__name__)

WAKE_FLAG = "tracker:inbox:wake"
PROCESS_TASK = "workers.tasks.process_inbox"
HELPER_TASK = "workers.tasks.help_drain_inbox"


# How long the wake-up flag outlives the last sign of life of whoever set it. A draining task
# renews it with every batch, so it only lapses when its holder died (a killed process, a lost
# host) or a queued wake-up never ran; the beat sweep then finds pending rows and nobody holding
# the flag, and wakes a worker. Short, so a crash costs seconds; long enough that a slow batch
# rarely lets it lapse (which would only start a second drainer: SKIP LOCKED keeps them apart).
LEASE_SECONDS = 5

# The shortest time between two wake-ups a process sends (a Redis round trip each: 0.17 ms
# of CPU and 0.5 ms of wall time, as much as the rest of a receiver's request). An event
# committed within it waits at most this long more for a drain to start.
WAKE_EVERY = 0.1


class CeleryWaker:
    """Publishes a process_inbox task unless one is already queued or running (a Redis SET NX flag).

    The task keeps the flag while it drains, so a busy receiver costs Redis one SET per
    process per WAKE_EVERY and the broker nothing. When it finds the inbox empty the task clears the flag
    and then looks once more: an event committed before the clear found the flag set
    (and sent nothing) but is seen by that last look; one committed after it finds the
    flag clear and sends a new task. Either way no event waits for the sweep.

    The flag is a lease (LEASE_SECONDS), so a holder that dies frees it within seconds.
    Redis is optional to a drain already running: when it is away, holding and handing over
    fail softly and the task goes on draining PostgreSQL, where the events are.
    """

    def __init__(self, celery, redis_url: str, lease: float = LEASE_SECONDS, every: float = WAKE_EVERY) -> None:
        self._celery = celery
        self._redis_url = redis_url
        self._lease = lease
        self._every = every
        self._broker_down = False  # log an outage once, not once per batch
        self._forked()

    def _forked(self) -> None:
        """Fresh coalescing state for this process (a lock or thread never crosses a fork)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._last = float("-inf")  # when this process last asked Redis
        self._deferred = False  # a wake-up is due at the end of the current interval
        self._due = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def redis(self):
        return redis_clients.client(self._redis_url)

    def wake(self) -> bool:
        """See that a drain runs soon: at once if this process sent no wake-up in the last
        WAKE_EVERY, else once when that interval ends (coalescing every call in between).
        True if a drain was published now."""
        if self._pid != os.getpid():
            self._forked()
        with self._lock:
            if self._deferred:
                return False
            now = time.monotonic()
            if now < self._last + self._every:
                self._deferred = True
                if self._thread is None:
                    # One daemon thread per process sends the deferred wake-ups (starting a
                    # thread per interval cost more than the round trip it saves). A process
                    # that exits before it fires leaves the event to the sweep (seconds),
                    # like a wake-up lost with the broker.
                    self._thread = threading.Thread(target=self._send_deferred, name="tracker-wake", daemon=True)
                    self._thread.start()
                self._due.set()
                return False
            self._last = now
        return self.wake_now()

    def _send_deferred(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            with self._lock:
                wait = self._last + self._every - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._lock:
                self._deferred = False
                self._last = time.monotonic()
            self.wake_now()

    def wake_now(self) -> bool:
        """Publish a drain unless the flag says one is queued or running; True if one was published."""
        try:
            if self.redis.set(WAKE_FLAG, b"1", nx=True, px=int(self._lease * 1000)):
                self._celery.send_task(PROCESS_TASK)
                return True
        except Exception as error:  # the event is stored; the sweep will find it
            log.warning("could not wake a worker (%s); the sweep will pick the event up", error)
        return False

    def clear(self) -> None:
        self._softly("clear the wake-up flag", lambda: self.redis.delete(WAKE_FLAG))

    def hold(self) -> bool:
        """Keep (or take back) the flag while draining, so receivers send nothing meanwhile."""
        return self._softly("hold the wake-up flag",
                            lambda: self.redis.set(WAKE_FLAG, b"1", px=int(self._lease * 1000)))

    def hand_over(self) -> bool:
        """Queue the next leader while still holding the flag (a drain ran out of its time)."""
        return self._softly("hand the drain over", lambda: self._celery.send_task(PROCESS_TASK))

    def send_helper(self) -> bool:
        """Ask another worker process to drain alongside (SKIP LOCKED keeps them apart)."""
        return self._softly("ask for a helper", lambda: self._celery.send_task(HELPER_TASK))

    def _softly(self, what: str, action) -> bool:
        try:
            action()
        except Exception as error:  # Redis or the broker away: the caller goes on without it
            if not self._broker_down:
                log.warning("could not %s (%s); draining on without the broker", what, error)
            self._broker_down = True
            return False
        if self._broker_down:
            log.info("broker reachable again")
        self._broker_down = False
        return True


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
