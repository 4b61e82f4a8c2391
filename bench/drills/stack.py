"""The tracker's production processes for a drill, and a service manager that restarts them.

`tracker serve` (gunicorn) and `tracker worker` (Celery with beat) run as real processes,
each in its own process group. The supervisor plays systemd's or compose's part
(``restart: unless-stopped`` in docker-compose.yml): a process that exits is started again
a second later. An exit the drill did not cause is recorded, whatever the policy, because
the tracker should not need one.
"""
from __future__ import annotations

import dataclasses
import re
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from bench.drills import proc
from tests.support.processes import ROOT, free_port, python, stop, wait_for_log, wait_for_port

RESTART_DELAY = 1.0


@dataclasses.dataclass(frozen=True)
class Exit:
    service: str
    at: float  # time.monotonic()
    returncode: int
    log_tail: str


class Service:
    """One process (and all it starts) the drill can kill and the supervisor can start again."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen | None = None
        self.killed = False  # the drill killed it: its exit is expected
        self.down = False  # exited by itself and left down (restart policy "never")
        self.starts = 0
        self.starts_at_kill = 0

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env={**os.environ, **self.env}, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.killed = False
        self.starts += 1

    def wait_restarted(self, timeout: float = 30) -> None:
        """After a kill: wait until the supervisor has started the process again."""
        deadline = time.monotonic() + timeout
        while self.starts == self.starts_at_kill and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process and all under it at once (a crashed host, an OOM-killed container)."""
        self.killed = True
        self.starts_at_kill = self.starts
        proc.kill_tree(self.process.pid)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as a service manager stops a service; then SIGKILL whatever it left behind."""
        if self.process is None:
            return
        self.killed = True
        processes = self.tree()
        if self.process.poll() is None:
            stop(self.process)
        proc.send(processes, signal.SIGKILL)

    def wait_for_log(self, needle: str, timeout: float = 60) -> bool:
        """Wait until ``needle`` appears in what the latest start logged; False at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log.open("rb") as log:
                log.seek(self.log_offset)
                if needle.encode() in log.read():
                    return True
            time.sleep(0.1)
        return False

    def tree(self) -> dict[int, int]:
        """The live processes of this service (pid -> start time)."""
        return proc.tree(self.process.pid) if self.process is not None else {}


class Stack:
    """gunicorn and a Celery worker with beat on the given database and broker, supervised."""

    def __init__(self, database_url: str, broker_url: str, cert_dir: Path, tmp: Path, *, web_workers: int = 4,
                 worker_concurrency: int = 2, restart: str = "always", extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.tmp = tmp
        self.restart = restart
        self.exits: list[Exit] = []
        env = {
            "TRACKER_DATABASE_URL": database_url,
            "TRACKER_BROKER_URL": broker_url,
            "TRACKER_SNS_CERT_DIR": str(cert_dir),
            "TRACKER_RATE_LIMITS": "native=0",
            **(extra_env or {}),
        }
        self.web = Service("web", python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{self.port}",
                                         "--workers", str(web_workers)), env, tmp / "web.log")
        self.worker = Service("worker", python("-m", "tracker.cli.main", "worker", "--concurrency",
                                               str(worker_concurrency), "--schedule", str(tmp / "beat-schedule")),
                              env, tmp / "worker.log")
        self.services = (self.web, self.worker)
        for stale in (self.web.log, self.worker.log, tmp / "beat-schedule"):  # from an earlier run's --keep-logs
            stale.unlink(missing_ok=True)
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Stack:
        try:
            self.web.start()
            self.worker.start()
            wait_for_port(self.port, self.web.process, self.web.log)
            wait_for_log(self.worker.log, "ready", self.worker.process)
        except BaseException:
            self._stop_all()
            raise
        self._supervisor.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._supervisor.join()
        self._stop_all()

    def celery_restarts(self) -> int:
        """Times Celery came up inside `tracker worker` beyond the starts of `tracker worker` itself.

        A supervisor inside the product may bring a dead Celery back; each is a death the
        drill did not cause (its whole-worker kills are restarted as new starts).
        """
        ready = len(re.findall(rb"celery@\S+ ready\.", self.worker.log.read_bytes()))
        return max(0, ready - self.worker.starts)

    def wait_web(self) -> None:
        wait_for_port(self.port, self.web.process, self.web.log)

    def _stop_all(self) -> None:
        for service in self.services:
            service.stop()

    def _supervise(self) -> None:
        while not self._closing.wait(0.1):
            for service in self.services:
                returncode = service.process.poll()
                if returncode is None or service.down:
                    continue
                if not service.killed:
                    tail = service.log.read_text(errors="replace")[-2000:]
                    self.exits.append(Exit(service.name, time.monotonic(), returncode, tail))
                if service.killed or self.restart == "always":
                    time.sleep(RESTART_DELAY)
                    service.start()
                else:
                    service.down = True
