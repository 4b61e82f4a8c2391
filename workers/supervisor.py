"""Keeps one Celery process running: restarts it with backoff when it dies, forwards signals to it.

`tracker worker` and `tracker beat` run Celery as a child of this supervisor rather than
becoming Celery, so a worker that crashes (killed by the OOM killer, an unrecoverable error)
comes back by itself. A stop asked of the supervisor (SIGTERM, SIGINT, SIGQUIT) is passed to
Celery once (SIGTERM and SIGINT: finish the running tasks, then exit; SIGQUIT: at once) and
the supervisor exits with Celery's status. Celery runs in its own process group, so a Ctrl-C
in a terminal reaches it once, through the supervisor (twice would mean a cold shutdown), and
it is told to stop if the supervisor itself dies, so no worker outlives its supervisor.
A Celery that exits with status 0 on its own was stopped on purpose (`celery control
shutdown`) and is not restarted.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger("tracker.supervisor")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
PASSED_ON = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)  # Celery's own meanings (restart, dump stacks)


class Supervisor:
    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 first_delay: float = 1.0, max_delay: float = 30.0, steady_after: float = 60.0) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.steady_after = steady_after  # a child that ran this long starts the backoff over
        self._child: subprocess.Popen | None = None
        self._stop: signal.Signals | None = None

    def run(self) -> int:
        """Run the child until asked to stop; the exit status to leave with."""
        for number in STOP_SIGNALS + PASSED_ON:
            signal.signal(number, self._on_signal)
        delay = self.first_delay
        while True:
            started = time.monotonic()
            self._child = subprocess.Popen(self.argv, env=self.env, process_group=0,
                                           preexec_fn=functools.partial(_stop_with_parent, os.getpid()))
            log.info("%s: Celery started (pid %d)", self.name, self._child.pid)
            if self._stop is not None:  # asked to stop while it was starting
                self._child.send_signal(self._stop)
            status = self._child.wait()
            self._child = None
            if self._stop is not None:
                return _exit_status(status)
            if status == 0:
                log.info("%s: exited by itself with status 0; not restarting", self.name)
                return 0
            ran = time.monotonic() - started
            if ran >= self.steady_after:
                delay = self.first_delay
            log.error("%s: %s after %.0f s; restarting in %.1f s", self.name, _describe(status), ran, delay)
            if not self._sleep(delay):
                return _exit_status(status)
            delay = min(delay * 2, self.max_delay)

    def _on_signal(self, number: int, _frame) -> None:
        if number in STOP_SIGNALS and self._stop is None:
            self._stop = signal.Signals(number)
            log.info("%s: %s received, stopping", self.name, self._stop.name)
        elif number in STOP_SIGNALS:
            return  # already passed on once: a second SIGINT would make Celery drop its tasks
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(number)

    def _sleep(self, seconds: float) -> bool:
        """Wait before a restart; False if a stop came meanwhile."""
        deadline = time.monotonic() + seconds
        while self._stop is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return self._stop is None


def _stop_with_parent(supervisor: int) -> None:  # runs in the child, between fork and exec
    """Linux: SIGTERM the child if the supervisor dies, whatever kills it (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != supervisor:  # it died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def _describe(status: int) -> str:
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


def _exit_status(status: int) -> int:
    return 128 - status if status < 0 else status
