"""Private PostgreSQL and Redis on free ports, for drills that stop them: never the machine's own.

The Redis server is tests/support/redis_server.py's; the PostgreSQL cluster is made here
with the cluster tools of Debian's postgresql-common.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from collections.abc import Iterator

from tests.support.processes import free_port
from tests.support.redis_server import PrivateRedis

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
            if (len(fields) > 1 and fields[0] == PG_VERSION and re.fullmatch(r"drill_(\d+)_[0-9a-f]{6}", fields[1])
                    and not Path(f"/proc/{fields[1].split('_')[1]}").exists()):
                subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, fields[1]], capture_output=True)


@contextlib.contextmanager
def private_services(*, persist_redis: bool = False) -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    """A private PostgreSQL cluster and Redis server, removed afterwards whatever happens.

    Redis keeps nothing across a restart unless ``persist_redis``: its queues, unacked
    messages and the wake-up flag are lost, the harder case for the tracker.
    """
    postgres = redis = None
    directory = Path(tempfile.mkdtemp(prefix="drill-redis-"))
    try:
        PrivatePostgres.drop_abandoned()
        postgres = PrivatePostgres()
        redis = PrivateRedis(directory, persist=persist_redis)
        redis.start()
        yield postgres, redis
    finally:
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.drop()
        shutil.rmtree(directory, ignore_errors=True)


def flush(redis: PrivateRedis) -> None:
    """Empty the server between drills."""
    import redis as client

    client.Redis.from_url(redis.url()).flushall()
