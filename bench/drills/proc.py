"""Reading /proc: a process's whole tree (to kill it at once), and which process is applying a batch.

A service's processes are its root and every descendant, whatever process groups they put
themselves in (a supervisor may run Celery in a group of its own). Each is known by its
pid and start time, so a pid reused meanwhile is never signalled.

The process applying a batch is the one whose PostgreSQL session is inside a transaction:
PostgreSQL tells each session's client port (pg_stat_activity), /proc/net/tcp maps a local
port to a socket inode, and /proc/<pid>/fd to the process holding that socket. So the pool
process that is mid-batch is found for sure, never the embedded beat (same command line,
no database session).
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from collections.abc import Callable

import sqlalchemy as sa

from tests.support.process_tree import children


def applying_batch(pids: Callable[[], list[int]], database_url: str, timeout: float = 10.0) -> int | None:
    """One of the processes ``pids()`` lists whose database session is in a transaction, or None at the timeout."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                ports = {port for (port,) in connection.execute(sa.text(
                    "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND client_port > 0"))}
            owners = _socket_owners(pids()) if ports else {}
            for port in ports:
                inode = _inode_of_local_port(port)
                if inode in owners:
                    return owners[inode]
            time.sleep(0.02)
        return None
    finally:
        engine.dispose()


def _inode_of_local_port(port: int) -> int | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return int(fields[9])
    return None


def _socket_owners(pids: list[int]) -> dict[int, int]:
    """socket inode -> pid, for the sockets the given processes hold."""
    owners = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        owners[int(target[8:-1])] = pid
    return owners


def tree(root: int) -> dict[int, int]:
    """pid -> start time, for ``root`` and every live process descending from it."""
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        started = _start_time(pid)
        if started is not None and pid not in found:
            found[pid] = started
            frontier += children(pid)
    return found


def kill_tree(root: int) -> None:
    """SIGKILL ``root`` and its descendants at once: frozen first, so none can start another meanwhile."""
    processes = tree(root)
    send(processes, signal.SIGSTOP)
    processes.update(tree(root))
    send(processes, signal.SIGKILL)


def send(processes: dict[int, int], number: int) -> None:
    """Signal each (pid, start time) that is still that same process."""
    for pid, started in processes.items():
        if _start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)


def _start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot), None if it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[19])
