"""A private PostgreSQL cluster on a port of its own, for tests that stop the database.

Never the machine's own server: a cluster is created for the test (pg_createcluster, trust
auth, loopback), started and stopped at will, and dropped afterwards.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from tests.support.processes import free_port


def _version() -> str:
    """The installed PostgreSQL major version that pg_createcluster knows (the main cluster's)."""
    listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    versions = sorted({line.split()[0] for line in listed.splitlines() if line.strip()}, key=int)
    return versions[-1] if versions else "15"


class PrivateCluster:
    def __init__(self, name: str, port: int, version: str) -> None:
        self.name, self.port, self.version = name, port, version

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return subprocess.run(["pg_ctlcluster", self.version, self.name, "status"], capture_output=True).returncode == 0

    def start(self) -> None:
        if not self.running:
            subprocess.run(["pg_ctlcluster", self.version, self.name, "start"], check=True, capture_output=True)

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in an outage."""
        if self.running:
            subprocess.run(["pg_ctlcluster", self.version, self.name, "stop", "-m", "fast"], check=True,
                           capture_output=True)

    def create_database(self) -> str:
        """A fresh database, migrated to head; its URL."""
        from tracker.db import migrate
        from tracker.db.engine import Database

        name = f"tracker_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        db = Database(self.url(name))
        migrate.upgrade(db.engine)
        db.dispose()
        return self.url(name)


@contextlib.contextmanager
def private_cluster(prefix: str = "trk") -> Iterator[PrivateCluster]:
    """Create and start a cluster on a free port; stop and drop it afterwards."""
    version = _version()
    name = re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    port = free_port()
    subprocess.run(["pg_createcluster", version, name, "--port", str(port), "--", "--auth=trust"],
                   check=True, capture_output=True)
    cluster = PrivateCluster(name, port, version)
    try:
        cluster.start()
        yield cluster
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True)
