"""How long a client holds a sync worker beyond its request: its close, and a connection that sends nothing.

Serves the tracker as `tracker serve` does (its gunicorn settings and worker class) with the
benchmark's 204 route (bench/noop_wsgi.py) on a fresh PostgreSQL database and, with
--old-tree, another checkout the same way, then measures:

  close delay   C client processes each POST the 204 route on a new connection, read the whole
                answer and close their side D ms later, as a client D ms away does (its close
                takes that long to come back); requests/s per D of --delays, the trees
                interleaved over --rounds rounds, each figure also as new / old in the same round
  silent        one worker: a connection that sends nothing, then a request behind it; the
                seconds until that request is answered (gunicorn's sync worker held it until the
                master killed the worker for silence: --timeout, 30 s)

    .venv/bin/python bench/close_wait.py [--clients 16] [--workers 4] [--seconds 5] [--delays 0 5 20]
        [--rounds 3] [--old-tree DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.read_http import serve  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402

REQUEST = b"POST /bench/noop HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}"


def _client(args) -> int:
    """Requests answered in ``seconds``, each on its own connection closed ``delay`` s after its answer."""
    port, seconds, delay = args
    answered, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(REQUEST)
            while sock.recv(65536):  # to the server's end of the answer (its FIN)
                pass
            time.sleep(delay)
        answered += 1
    return answered


def rate(port: int, clients: int, seconds: float, delay_ms: float) -> float:
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        return sum(pool.map(_client, [(port, seconds, delay_ms / 1000)] * clients)) / seconds


def behind_a_silent_connection(port: int) -> float:
    """Seconds until a request queued behind a connection that sends nothing is answered."""
    with socket.create_connection(("127.0.0.1", port)):
        time.sleep(0.2)  # the silent one is accepted first
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("GET", "/no-such-page")
        connection.getresponse().read()
        connection.close()
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--delays", type=float, nargs="+", default=[0, 5, 20], metavar="MS")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-tree", type=Path, metavar="DIR", help="another checkout, measured in the same rounds")
    options = parser.parse_args()
    trees = {"new": None, **({"old": options.old_tree.resolve()} if options.old_tree else {})}
    with throwaway_database("tracker_bench_close") as url, tempfile.TemporaryDirectory() as tmp:
        env = {"TRACKER_DATABASE_URL": url}
        rates: dict[tuple[str, float], list[float]] = {}
        with contextlib.ExitStack() as stack:
            servers = {name: stack.enter_context(serve(env, options.workers, Path(tmp) / f"{name}.log", tree))
                       for name, tree in trees.items()}
            for server in servers.values():  # warm: every worker has served before anything is timed
                rate(server.port, options.clients, 1.0, 0)
            for round_number in range(options.rounds):
                for delay in options.delays:
                    for name in (sorted(trees) if round_number % 2 else sorted(trees, reverse=True)):
                        rates.setdefault((name, delay), []).append(
                            rate(servers[name].port, options.clients, options.seconds, delay))
                print(f"round {round_number + 1}/{options.rounds}: " + ", ".join(
                    f"{name} {delay:g} ms {rates[name, delay][-1]:,.0f}/s" for delay in options.delays
                    for name in trees), flush=True)
        silent = {}
        for name, tree in trees.items():
            with serve(env, 1, Path(tmp) / f"{name}-silent.log", tree) as server:
                silent[name] = behind_a_silent_connection(server.port)
    report(options, trees, rates, silent)


def report(options, trees, rates, silent) -> None:
    def spread(values, digits=0):
        return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"

    print(f"\nclose-wait benchmark: {options.clients} client processes, gunicorn {options.workers} workers "
          f"(tracker serve's settings), {options.seconds:g} s per measurement, {options.rounds} rounds; "
          "median (min-max)")
    print(f"  {'client closes after':22}" + "".join(f"{name + ' requests/s':>30}" for name in trees)
          + ("       new / old (same round)" if "old" in trees else ""))
    for delay in options.delays:
        row = f"  {f'{delay:g} ms':22}" + "".join(f"{spread(rates[name, delay]):>30}" for name in trees)
        if "old" in trees:
            same_round = zip(rates["new", delay], rates["old", delay], strict=True)
            row += "   " + spread([new / old for new, old in same_round], 2)
        print(row)
    print("  a request behind a connection that sends nothing (one worker), answered after: "
          + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in silent.items()))


if __name__ == "__main__":
    main()
