"""HTTP for bench/read.py: the tracker under gunicorn, a client, and the CPU its processes spend per request.

gunicorn serves bench.noop_wsgi:app (the tracker's app plus POST /bench/noop, a 204 route:
the floor of gunicorn, Flask and loopback HTTP) with `tracker serve`'s settings. The CPU of
a request is read from the kernel's per-process CPU clocks (clock_gettime on each gunicorn
process's clock: nanoseconds, unlike /proc's 10 ms ticks) just before the request is sent
and just after its answer is read; the client is sequential, so only that request ran.
"""
from __future__ import annotations

import contextlib
import dataclasses
import http.client
import time
from pathlib import Path
from collections.abc import Iterator
from urllib.parse import urlencode

from tests.support.processes import free_port, python, running, wait_for_port


@dataclasses.dataclass
class Answer:
    status: int
    body: bytes
    seconds: float  # wall, at the client: connect, request, the whole answer read
    cpu: float  # CPU seconds of every gunicorn process meanwhile


def _process_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` (all its threads): its CPUCLOCK_SCHED clock, as clock_getcpuclockid gives."""
    return time.clock_gettime(((~pid) << 3) | 2)


class Server:
    """gunicorn serving the tracker; ``get`` times one request and the CPU gunicorn spent on it."""

    def __init__(self, port: int, master: int) -> None:
        self.port = port
        self.master = master
        self._pids: list[int] = []

    def pids(self) -> list[int]:
        """The master and its workers (found again if a worker was replaced)."""
        if not self._pids or not all(Path(f"/proc/{pid}").exists() for pid in self._pids):
            children = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    text = stat.read_text()
                    if int(text[text.rindex(")") + 2:].split()[1]) == self.master:
                        children.append(int(stat.parent.name))
            self._pids = [self.master, *sorted(children)]
        return self._pids

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += _process_cpu(pid)
        return total

    def get(self, path: str, params: dict | None = None, headers: dict | None = None,
            method: str = "GET") -> Answer:
        target = path + ("?" + urlencode(params) if params else "")
        cpu_before = self.cpu()
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, target, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        elapsed = time.perf_counter() - started
        return Answer(response.status, body, elapsed, self.cpu() - cpu_before)


@contextlib.contextmanager
def serve(env: dict[str, str], workers: int, log: Path, tree: Path | None = None) -> Iterator[Server]:
    """gunicorn (sync workers, `tracker serve`'s config) on a free loopback port, stopped afterwards;
    serving ``tree`` (another checkout: its tracker is imported from its folder) if given."""
    port = free_port()
    argv = python("-m", "gunicorn", "bench.noop_wsgi:app", "--config", "python:tracker.http.gunicorn_config",
                  "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning")
    with running(argv, env, log, **({"cwd": tree} if tree is not None else {})) as process:
        wait_for_port(port, process, log)
        server = Server(port, process.pid)
        deadline = time.monotonic() + 30
        while len(server.pids()) < workers + 1 and time.monotonic() < deadline:
            server._pids = []
            time.sleep(0.2)
        yield server

