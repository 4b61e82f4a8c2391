"""Private PostgreSQL and Redis on free ports, for drills that stop them: never the machine's own."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

from tests.support.processes import free_port

PG_VERSION = "15"


class PrivatePostgres:
    """A throwaway cluster made with pg_createcluster (trust auth on loopback), dropped at the end."""

    def __init__(self) -> None:
        self.name = f"drill_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        made = subprocess.run(["pg_createcluster", PG_VERSION, self.name, "--port", str(self.port),
                               "--start-conf", "manual", "--", "--auth=trust"], capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"pg_createcluster failed (drills need PostgreSQL {PG_VERSION}'s cluster tools and "
                               f"the right to use them: root or postgres):\n{made.stderr}")
        try:
            self.start()
        except BaseException:
            self.drop()
            raise

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        subprocess.run(["pg_ctlcluster", PG_VERSION, self.name, "start"], check=True, capture_output=True)

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, in-flight transactions roll back."""
        subprocess.run(["pg_ctlcluster", PG_VERSION, self.name, "stop", "--", "-m", "fast"],
                       check=True, capture_output=True)

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, self.name], capture_output=True)

    @staticmethod
    def drop_abandoned() -> None:
        """Drop the clusters of drill processes that died without cleaning up (named drill_<pid>_...)."""
        listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
        for line in listed.splitlines():
            fields = line.split()
            if len(fields) > 1 and fields[0] == PG_VERSION and re.fullmatch(r"drill_(\d+)_[0-9a-f]{6}", fields[1]):
                if not Path(f"/proc/{fields[1].split('_')[1]}").exists():
                    subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, fields[1]], capture_output=True)


class PrivateRedis:
    """redis-server without persistence on a free port: stopping it loses its queues, as a crash would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="drill-redis-"))
        self.pidfile = self.directory / "redis.pid"
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.pidfile),
                        "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
                       check=True, capture_output=True)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, and wait until the port is closed (nothing is saved: --save '')."""
        pid = self._pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A daemonized redis-server is reparented to init, which reaps it; a zombie is gone all the same.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


@contextlib.contextmanager
def private_services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    """A private PostgreSQL cluster and Redis server, removed afterwards whatever happens."""
    postgres = redis = None
    try:
        PrivatePostgres.drop_abandoned()
        postgres = PrivatePostgres()
        redis = PrivateRedis()
        yield postgres, redis
    finally:
        if redis is not None:
            redis.remove()
        if postgres is not None:
            postgres.drop()
