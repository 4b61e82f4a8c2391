"""`tracker serve`'s worker: a connection wakes one idle worker, not all of them; a worker stopping
right after its wake-up still serves the connection; a silent connection is closed without taking
its worker down; a client that keeps its connection open after the answer holds no worker, unless it
may still be sending; --threads still means gthread."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.support.processes import free_port, poll, python, running, wait_for_port
from tracker.http import gunicorn_worker

REQUESTS = 100


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


def test_a_connection_to_an_idle_server_wakes_one_worker_not_every_one(pg_url, tmp_path):
    # gunicorn's stock sync workers all select() on the listening socket: each connection woke
    # all four, and each of them was woken about once per request.
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "4") as web:
        wait_for_port(port, web, log)
        workers = poll(lambda: len(found := workers_of(web.pid)) == 4 and found)
        poll(lambda: all_idle(workers))
        before = {pid: wake_ups(pid) for pid in workers}
        for _ in range(REQUESTS):
            assert raw_get(port, "/no-such-page").startswith(b"HTTP/1.1 404")
            time.sleep(0.02)  # every worker back waiting: each request meets an idle server
        woken = sorted(wake_ups(pid) - before[pid] for pid in workers)
    # Each connection wakes the worker that has waited longest, so one or two workers take the
    # requests and the others sleep on (but for a look at the listener each second).
    assert woken[0] < REQUESTS // 10, f"wake-ups of each of the 4 workers over {REQUESTS} requests: {woken}"


def test_a_worker_stopped_right_after_its_wake_up_serves_the_connection_that_woke_it(pg_url, tmp_path):
    # No other worker was woken by that connection: had the stopped worker left it in the queue,
    # it would wait for another worker to look (gunicorn's wait is 15 s) or for the replacement.
    port, log, access = free_port(), tmp_path / "web.log", tmp_path / "access.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "2", "--access-logfile", str(access),
               "--access-logformat", "%(p)s %(U)s") as web:
        wait_for_port(port, web, log)
        workers = poll(lambda: len(found := workers_of(web.pid)) == 2 and found)
        poll(lambda: all_idle(workers))
        for attempt in range(3):
            stop_the_next_woken_worker_as_a_connection_arrives(port, web.pid, access, attempt)


def stop_the_next_woken_worker_as_a_connection_arrives(port: int, master: int, access: Path, attempt: int) -> None:
    assert raw_get(port, f"/first-{attempt}").startswith(b"HTTP/1.1 404")
    first = poll(lambda: served_by(access, f"/first-{attempt}"))  # the worker the next wake-up goes to
    poll(lambda: all_idle(workers_of(master)))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        os.kill(first, signal.SIGTERM)  # as gunicorn's master stops a worker (TTOU, HUP, shutdown)
        sock.sendall(f"GET /then-{attempt} HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 404")
    assert poll(lambda: served_by(access, f"/then-{attempt}")) == first
    poll(lambda: len(found := workers_of(master)) == 2 and first not in found)


def served_by(access: Path, path: str) -> int | None:
    """The pid of the worker whose access log line names ``path``."""
    for line in access.read_text().splitlines() if access.exists() else ():
        pid, _, logged = line.partition(" ")
        if logged == path:
            return int(pid.strip("<>"))
    return None


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


def read_to_the_end(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_a_client_that_keeps_its_connection_open_after_the_answer_holds_no_worker(pg_url, tmp_path):
    # gunicorn waits after each answer for the client to close its side too (up to 2 s; 60 s
    # here, so that a wait cannot pass unnoticed): with one sync worker, everyone else waited as
    # long. The whole request has arrived (a body the app did not read included), so nothing the
    # client could still send can make closing lose the answer: the worker goes on at once.
    port, log = free_port(), tmp_path / "web.log"
    argv = python("-m", "gunicorn", "tracker.http.wsgi:app", "--config", "python:tests.support.gunicorn_long_close",
                  "--bind", f"127.0.0.1:{port}", "--workers", "1")
    with running(argv, {"TRACKER_DATABASE_URL": pg_url}, log) as web:
        wait_for_port(port, web, log)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as lingering:
            lingering.sendall(b"POST /no-such-page HTTP/1.1\r\nHost: tracker\r\nContent-Length: 5\r\n\r\nhello")
            assert read_to_the_end(lingering).startswith(b"HTTP/1.1 404")  # the worker's side is closed
            # ... and this client's side stays open while another one asks (raw_get gives up at 10 s).
            assert raw_get(port, "/next").startswith(b"HTTP/1.1 404")


def test_a_client_still_sending_its_body_is_read_on_after_the_answer(pg_url, tmp_path):
    # The case gunicorn's wait is for: answered before the body has all arrived (a 404 reads none
    # of it), the client sends the rest after reading the answer. Closing at once would answer that
    # with a reset, which can make a client's TCP stack drop an answer it has not read yet.
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "1") as web:
        wait_for_port(port, web, log)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sending:
            sending.sendall(b"POST /no-such-page HTTP/1.1\r\nHost: tracker\r\nContent-Length: 9000\r\n\r\n" + b"x" * 10)
            assert read_to_the_end(sending).startswith(b"HTTP/1.1 404")
            for _ in range(3):  # a reset would fail the send after the one it answered
                sending.sendall(b"x" * 1000)
                time.sleep(0.05)


def test_a_connection_that_sends_nothing_is_closed_without_taking_its_worker_down(pg_url, tmp_path):
    # gunicorn's sync worker waited on it until the master killed the worker for silence (30 s):
    # as many idle connections as workers stopped every receiver and API.
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "1") as web:
        wait_for_port(port, web, log)
        [worker] = poll(lambda: len(found := workers_of(web.pid)) == 1 and found)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as silent:
            assert raw_get(port, "/next").startswith(b"HTTP/1.1 404")  # queued behind it; gives up at 10 s
            assert silent.recv(1) == b""  # closed by the worker
        assert workers_of(web.pid) == [worker]  # the same worker: not killed and replaced
    assert f"that sent nothing in {gunicorn_worker.CLIENT_TIMEOUT} s" in log.read_text()


def test_a_request_that_stops_coming_part_way_is_closed_with_one_line(pg_url, tmp_path):
    # gunicorn logs such a read error as an error with a traceback: a client trickling its headers
    # would fill the log with them.
    port, log = free_port(), tmp_path / "web.log"
    with serve(port, {"TRACKER_DATABASE_URL": pg_url}, log, "--workers", "1") as web:
        wait_for_port(port, web, log)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as stalled:
            stalled.sendall(b"GET /no-such-page HTTP/1.1\r\nHost: tra")
            assert raw_get(port, "/next").startswith(b"HTTP/1.1 404")  # queued behind it; gives up at 10 s
            assert stalled.recv(1) == b""
    written = log.read_text()
    assert f"whose request stopped coming for {gunicorn_worker.CLIENT_TIMEOUT} s" in written
    assert "Traceback" not in written and " ERROR " not in written
