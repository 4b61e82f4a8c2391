"""CPU of the processes a benchmark measures: process groups and one database's PostgreSQL backends, via /proc."""
from __future__ import annotations

import os
import time
from pathlib import Path


def _ticks(pid: int) -> tuple[int, int, int] | None:
    """(process group, user+system ticks) of a pid, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[2]), int(fields[11]) + int(fields[12]), pid


def group_cpu(pgid: int) -> float:
    """CPU seconds (user+system) of every live process in a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*"):
        found = _ticks(int(stat.name))
        if found and found[0] == pgid:
            total += found[1]
    return total / os.sysconf("SC_CLK_TCK")


class Backends:
    """CPU of the PostgreSQL backends serving one database, the benchmark's own poller excluded."""

    def __init__(self, connection, database: str) -> None:
        self._connection = connection
        self._database = database

    def snapshot(self) -> dict[int, int]:
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                           (self._database,))
            pids = [pid for (pid,) in cursor.fetchall()]
        return {pid: found[1] for pid in pids if (found := _ticks(pid))}

    @staticmethod
    def seconds(before: dict[int, int], after: dict[int, int]) -> float:
        """CPU between two snapshots; a backend born in between counts from its start."""
        return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and CPU of the gunicorn, worker and PostgreSQL backends around one phase."""

    def __init__(self, groups: dict[str, int], backends: Backends) -> None:
        self._groups = groups
        self._backends = backends

    def __enter__(self):
        self.cpu = {name: -group_cpu(pgid) for name, pgid in self._groups.items()}
        self._pg = self._backends.snapshot()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc):
        self.wall = time.perf_counter() - self.started
        for name, pgid in self._groups.items():
            self.cpu[name] += group_cpu(pgid)
        self.cpu["postgres"] = Backends.seconds(self._pg, self._backends.snapshot())
