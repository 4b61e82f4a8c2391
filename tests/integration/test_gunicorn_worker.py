"""`tracker serve`'s worker: a connection wakes one idle worker, not all of them; --threads still means gthread."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.processes import free_port, poll, python, running, wait_for_port

REQUESTS = 200


def serve(port: int, env: dict, log: Path, *args: str):
    return running(python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}", *args), env, log)


def workers_of(master: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == master:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wake_ups(pid: int) -> int:
    """How many times the process went to sleep and was woken (voluntary context switches)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no context switch count for {pid}")


def all_idle(pids: list[int]) -> bool:
    """Every worker booted and waiting: none spent CPU over half a second."""
    before = [cpu_ticks(pid) for pid in pids]
    time.sleep(0.5)
    return before == [cpu_ticks(pid) for pid in pids]


def raw_get(port: int, target: str, close: bool = True) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: tracker", *(["Connection: close"] if close else [])]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                break
            head += chunk
    return head.partition(b"\r\n\r\n")[0]


def test_one_request_at_a_time_wakes_one_worker_not_every_idle_one(pg_url, tmp_path):
    # gunicorn's stock sync workers all select() on the listening socket: each connection woke
    # all four, so every worker slept and woke about once per request (over 4 per request in all).
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "4") as web:
        wait_for_port(port, web, log)
        workers = poll(lambda: len(found := workers_of(web.pid)) == 4 and found)
        poll(lambda: all_idle(workers))
        before = {pid: wake_ups(pid) for pid in workers}
        for _ in range(REQUESTS):
            assert raw_get(port, "/no-such-page").startswith(b"HTTP/1.1 404")
        woken = sorted(wake_ups(pid) - before[pid] for pid in workers)
    # Each connection wakes one waiting worker: the first one waiting, so the same one or two take
    # nearly every request and the others sleep on. Woken by every connection, each of the four was
    # woken about once per request.
    assert woken[0] < REQUESTS // 10, f"wake-ups of each of the 4 workers over {REQUESTS} requests: {woken}"


def test_threads_still_make_gthread_workers(pg_url, tmp_path):
    # gthread keeps an HTTP/1.1 connection open; the sync worker closes every one.
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "1", "--threads", "2") as web:
        wait_for_port(port, web, log)
        head = raw_get(port, "/no-such-page", close=False).lower()
    assert head.startswith(b"http/1.1 404") and b"connection: close" not in head


def test_the_default_worker_closes_each_connection(pg_url, tmp_path):
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "1") as web:
        wait_for_port(port, web, log)
        head = raw_get(port, "/no-such-page", close=False).lower()
    assert head.startswith(b"http/1.1 404") and b"connection: close" in head
