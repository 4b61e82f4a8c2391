"""A private redis-server on a free port, for tests that stop and restart the broker.

Never the machine's Redis: a test that takes the broker away starts its own and removes
it afterwards. By default it persists like a stock Redis does (an RDB written at shutdown
and read at start), so a restart keeps queued tasks, unacked messages and keys with their
TTLs; with ``persist=False`` (``--save ''``) a restart loses them all, as a cache-only Redis
or a replaced container without a volume does.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from collections.abc import Iterator

from tests.support.processes import free_port


class PrivateRedis:
    def __init__(self, directory: Path, port: int | None = None, *, persist: bool = True) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.persist = persist
        self._process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "3600 1" if self.persist else "", "--appendonly", "no", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{(self.directory / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"redis-server on {self.port} never answered")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops Redis: it saves its data set and exits."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
