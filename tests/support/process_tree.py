"""Finding the processes a `tracker worker` runs, from /proc (Linux), to crash the right one."""
from __future__ import annotations

import os
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def celery_main(pid: int) -> int:
    """The Celery worker's main process: ``pid`` itself if it is Celery, else its Celery child."""
    if "-m celery" in command_line(pid):
        return pid
    for child in children(pid):
        if "-m celery" in command_line(child):
            return child
    raise LookupError(f"no Celery process at or under {pid}: {command_line(pid)!r}")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def busiest(pids: list[int], over: float = 1.0) -> int:
    """The process that used the most CPU over the next ``over`` seconds (the one draining, under traffic)."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    time.sleep(over)
    return max(pids, key=lambda pid: cpu_seconds(pid) - before[pid])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
