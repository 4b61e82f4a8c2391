"""Container health checks for the Celery services: `python -m workers.healthcheck worker|webhooks|beat|sqs`.

worker: the Celery node of this host answers a ping through the broker (it is consuming).
beat:   a Celery beat process runs under `tracker beat`'s supervisor (which restarts it).
sqs:    `tracker sqs-poll` runs (it backs off by itself while SQS or the database is away).
Exit status 0 when healthy, 1 otherwise, with one line saying why.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys


def _ping(node: str) -> int:
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "inspect", "ping",
            "--destination", f"{node}@{socket.gethostname()}", "--timeout", "5"]
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode


def _running(*words: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                argv = file.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if all(word.encode() in argv for word in words):
            return True
    return False


def main(what: str) -> int:
    if what in ("worker", "webhooks"):
        healthy = _ping("celery" if what == "worker" else "webhooks") == 0
    elif what == "beat":
        healthy = _running("celery", "beat")
    elif what == "sqs":
        healthy = _running("sqs-poll")
    else:
        print(f"usage: python -m workers.healthcheck worker|webhooks|beat|sqs (not {what!r})")
        return 2
    print(f"{what}: {'healthy' if healthy else 'not answering'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
