"""Ingest benchmark: the tracker's receiver and worker against a 204 route and django-ses, in one run.

Starts, on fresh PostgreSQL databases, two gunicorns with the same settings (the worker
class `tracker serve` runs, gunicorn's sync worker woken one at a time, unless --worker-class
says otherwise): the tracker (its receiver plus a 204-only route, bench/noop_wsgi.py) and a
minimal Django project serving django-ses's SNS view with a signal receiver doing one
INSERT per event (bench/peer_django). Then, in interleaved rounds (phase order shuffled per
round), with the same distinct signed SES bounces for the tracker and the peer:

  204 route      POST to a route that answers 204 and does nothing (gunicorn + Flask + loopback)
  receiver       the tracker's receiver alone, its Celery worker SIGSTOPped (the backlog stays)
  worker         the worker alone, SIGCONTed, draining that backlog
  end to end     both running: from the first POST until the last event is applied
  peer           django-ses's view + one INSERT per event

Each figure is printed as a ratio per round (median, min-max over rounds), plus CPU per
event per process: gunicorn (its process group), the Celery worker, and PostgreSQL
counting only the benchmark's own backends (pg_stat_activity pids of that database ->
/proc/<pid>/stat).

    .venv/bin/python bench/ingest.py [-n 2000] [--rounds 7] [--clients 8] [--web-workers 4] [--threads N]
        [--worker-class sync] [--headers]

Needs PostgreSQL and Redis as the test suite does (TRACKER_TEST_ADMIN_URL, TRACKER_TEST_REDIS_URL),
and the bench extra (pip install -e '.[bench]') for the peer.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu_meter import Backends, Meter  # noqa: E402
from tracker.http import gunicorn_worker  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402
from tests.support.processes import free_port, python, running, wait_for_log, wait_for_port  # noqa: E402
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, SnsTestPki, notification  # noqa: E402

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PEER_PATH = "/ses/event-webhook/"
PEER_TABLE = """CREATE TABLE peer_bounces (
    id bigserial PRIMARY KEY, message_id text NOT NULL, bounce_type text, raw_message text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now())"""
PHASES = ("noop", "receiver+worker", "end_to_end", "peer", "old_receiver")


def bounce(message_id: str, recipient: str, headers: bool = False) -> dict:
    """A permanent-bounce notification (the shape of tests/fixtures/ses/notification/bounce-permanent.json);
    ``headers``: with the original headers, as SES sends them when the identity includes them (the
    shape of tests/fixtures/ses/aws-docs/notification-bounce-with-dsn.json)."""
    message = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-22T12:00:01.000Z", "feedbackId": f"fb-{message_id}",
        },
        "mail": {"timestamp": "2026-11-22T12:00:00.000Z", "source": "sender@example.com",
                 "messageId": message_id, "destination": [recipient]},
    }
    if headers:
        message["mail"].update(_headers(message_id, recipient))
    return message


def _headers(message_id: str, recipient: str) -> dict:
    return {
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com", "sourceIp": "192.0.2.10",
        "sendingAccountId": "123456789012", "headersTruncated": False,
        "headers": [{"name": name, "value": value} for name, value in (
            ("From", '"Sender" <sender@example.com>'), ("To", recipient), ("Subject", "Your order has shipped"),
            ("MIME-Version", "1.0"), ("Content-Type", 'multipart/alternative; boundary="b1_7f3a"'),
            ("Message-ID", f"<{message_id}@example.com>"), ("Date", "Sun, 22 Nov 2026 12:00:00 +0000"))],
        "commonHeaders": {"from": ['"Sender" <sender@example.com>'], "to": [recipient],
                          "date": "Sun, 22 Nov 2026 12:00:00 +0000", "messageId": f"<{message_id}@example.com>",
                          "subject": "Your order has shipped"},
    }


_PKI: SnsTestPki | None = None  # inherited by the forked signing processes
_HEADERS = False


def _sign(n: int) -> bytes:
    assert _PKI is not None
    return json.dumps(_PKI.sign(notification(bounce(f"bench-{n}", f"r{n}@example.com", _HEADERS)), "1")).encode()


def sign_all(pki: SnsTestPki, start: int, count: int, headers: bool = False) -> list[bytes]:
    global _PKI, _HEADERS
    _PKI, _HEADERS = pki, headers
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        return pool.map(_sign, range(start, start + count), chunksize=200)


def _post_all(args) -> int:
    """One client process: POST each body on its own connection (gunicorn's sync workers close them)."""
    port, path, bodies = args
    failures = 0
    for body in bodies:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, body=body, headers={"Content-Type": "text/plain; charset=UTF-8"})
        response = connection.getresponse()
        response.read()
        failures += response.status >= 300
        connection.close()
    return failures


def post_concurrently(port: int, path: str, bodies: list[bytes], clients: int) -> tuple[float, float]:
    """Wall seconds to post every body, and the CPU seconds the client processes used."""
    chunks = [(port, path, bodies[i::clients]) for i in range(clients)]
    before = os.times()
    pool = multiprocessing.get_context("fork").Pool(clients)
    started = time.perf_counter()
    failures = sum(pool.map(_post_all, chunks))
    elapsed = time.perf_counter() - started
    pool.close()
    pool.join()  # reaped, so their CPU shows in os.times().children_*
    after = os.times()
    client_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if failures and path != "/bench/noop":
        raise SystemExit(f"{failures} POSTs to {path} failed")
    return elapsed, client_cpu


def applied_count(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM deliveries WHERE status = 'BOUNCED'")
        return cursor.fetchone()[0]


def wait_applied(connection, total: int, timeout: float = 600) -> None:
    """Wait until no inbox row is pending, then check ``total`` deliveries were applied.

    The poll counts pending rows (a small partial index), not deliveries: counting a
    growing table every 20 ms would take CPU from the processes being measured.
    """
    deadline = time.perf_counter() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM inbox_events WHERE state = 'pending'")
            if cursor.fetchone()[0] == 0:
                break
        if time.perf_counter() > deadline:
            raise SystemExit(f"events still pending after {timeout}s")
        time.sleep(0.02)
    if (done := applied_count(connection)) != total:
        raise SystemExit(f"{done} deliveries bounced, expected {total}: see the inbox's failed rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="notifications per phase and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="gthread workers with N threads each instead of sync workers (tracker and peer alike)")
    parser.add_argument("--worker-class", default=gunicorn_worker.DOTTED_NAME,
                        help="gunicorn's worker class, tracker and peer alike (default: tracker serve's, "
                             "tracker.http.gunicorn_worker; 'sync' for gunicorn's own)")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--warm", type=int, default=200, help="warm-up requests per route (not measured)")
    parser.add_argument("--seed", type=int, default=12, help="shuffles the phase order of each round")
    parser.add_argument("--commit-delay", type=int, default=0, metavar="US",
                        help="PostgreSQL commit_delay (commit_siblings=1) on the tracker's and the peer's "
                             "connections (needs a superuser, as the suite's PostgreSQL is)")
    parser.add_argument("--old-tree", type=Path, metavar="DIR",
                        help="also serve the receiver from another checkout (e.g. git worktree add DIR main) "
                             "on the same database, measured in the same rounds: old vs new")
    parser.add_argument("--headers", action="store_true",
                        help="bounces with their original headers (about 2.3 KB each instead of 1.4 KB)")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    options = parser.parse_args()

    from tracker.db import repository
    from tracker.db.engine import Database

    with throwaway_database("tracker_bench") as url, throwaway_database("tracker_bench_peer", revision="base") \
            as peer_url, tempfile.TemporaryDirectory() as tmp:
        db = Database(url)
        with db.transaction() as session:
            account = repository.create_account(session, "bench")
            token = repository.create_source(session, account, "ses", ["*"]).token
        db.dispose()
        rounds = run(options, url, peer_url, token, Path(tmp))
    report(rounds, options)


def run(options, url: str, peer_url: str, token: str, tmp: Path) -> list[dict]:
    import psycopg2
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    (tmp / "certs").mkdir()
    pki = SnsTestPki(tmp / "certs")
    # the receiver's, the end to end phase's and the old receiver's own events
    per_round = (3 if options.old_tree else 2) * options.n
    warm = options.warm
    print(f"signing {warm + per_round * options.rounds} notifications ...", flush=True)
    bodies = sign_all(pki, 0, warm + per_round * options.rounds, options.headers)
    print(f"bodies of {statistics.median(map(len, bodies)):.0f} bytes", flush=True)

    pg_options = (f"-c commit_delay={options.commit_delay} -c commit_siblings=1" if options.commit_delay else "")
    env = {"TRACKER_DATABASE_URL": url + (f"?options={quote(pg_options)}" if pg_options else ""),
           "TRACKER_BROKER_URL": REDIS_URL, "TRACKER_SNS_CERT_DIR": str(pki.directory)}
    peer_env = {"BENCH_PEER_DATABASE_URL": peer_url, "BENCH_PEER_TOPIC_ARN": DEFAULT_TOPIC_ARN,
                "BENCH_PEER_CERT_URL": pki.cert_url, "BENCH_PEER_CERT_PEM": str(pki.cert_path),
                "BENCH_PEER_PG_OPTIONS": pg_options}
    tracker_db = psycopg2.connect(_dsn(url))
    tracker_db.autocommit = True
    peer_db = psycopg2.connect(_dsn(peer_url))
    peer_db.autocommit = True
    with peer_db.cursor() as cursor:
        cursor.execute(PEER_TABLE)

    port, peer_port = free_port(), free_port()
    workers = ("--worker-class", "gthread", "--threads", str(options.threads)) if options.threads else \
        ("--worker-class", options.worker_class)
    common = ("--workers", str(options.web_workers), *workers, "--log-level", "warning")
    gunicorn = python("-m", "gunicorn", "bench.noop_wsgi:app", "--bind", f"127.0.0.1:{port}", *common)
    peer = python("-m", "gunicorn", "bench.peer_django.wsgi:application", "--bind", f"127.0.0.1:{peer_port}",
                  *common)
    worker = python("-m", "celery", "-A", "workers.celery_app", "worker", "--concurrency",
                    str(options.worker_concurrency), "--loglevel", "INFO", "-P", "prefork")
    # Beat's sweep, as in production: the net under coalesced wake-ups.
    beat = python("-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel", "WARNING",
                  "--schedule", str(tmp / "beat-schedule"))
    old_port = free_port()
    old = python("-m", "gunicorn", "bench.noop_wsgi:app", "--bind", f"127.0.0.1:{old_port}", *common)
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        web = stack.enter_context(running(gunicorn, env, tmp / "web.log"))
        django = stack.enter_context(running(peer, peer_env, tmp / "peer.log"))
        celery = stack.enter_context(running(worker, env, tmp / "worker.log"))
        beat_process = stack.enter_context(running(beat, env, tmp / "beat.log"))
        stack_processes = [web, django, celery, beat_process]
        if options.old_tree:
            old_web = stack.enter_context(running(old, {**env, "PYTHONPATH": str(options.old_tree.resolve())},
                                                  tmp / "old.log", cwd=options.old_tree.resolve()))
            wait_for_port(old_port, old_web, tmp / "old.log")
            stack_processes.append(old_web)
        wait_for_port(port, web, tmp / "web.log")
        wait_for_port(peer_port, django, tmp / "peer.log")
        wait_for_log(tmp / "worker.log", "ready", celery, timeout=60)
        groups = {"gunicorn": web.pid, "worker": celery.pid}

        # Warm up every route (imports, connection pools, certificate caches).
        post_concurrently(port, "/bench/noop", bodies[:warm], options.clients)
        post_concurrently(port, f"/hooks/sns/{token}", bodies[:warm], options.clients)
        post_concurrently(peer_port, PEER_PATH, bodies[:warm], options.clients)
        if options.old_tree:
            post_concurrently(old_port, f"/hooks/sns/{token}", bodies[:warm], options.clients)  # duplicates
        applied = warm
        wait_applied(tracker_db, applied)

        rounds = []
        order = random.Random(options.seed)
        for number in range(options.rounds):
            first = warm + number * per_round
            mine, e2e_bodies = bodies[first:first + options.n], bodies[first + options.n:first + 2 * options.n]
            old_bodies = bodies[first + 2 * options.n:first + per_round]
            figures: dict = {}
            phases = [phase for phase in PHASES if options.old_tree or phase != "old_receiver"]
            order.shuffle(phases)
            for phase in phases:
                if phase == "noop":
                    with Meter(groups, Backends(tracker_db, _name(url))) as meter:
                        post_concurrently(port, "/bench/noop", mine, options.clients)
                    figures["noop"] = _figures(meter, options.n)
                elif phase == "peer":
                    with Meter({"gunicorn": django.pid}, Backends(peer_db, _name(peer_url))) as meter:
                        post_concurrently(peer_port, PEER_PATH, mine, options.clients)
                    figures["peer"] = _figures(meter, options.n)
                elif phase == "receiver+worker":
                    stop_when_idle(celery)
                    try:
                        with Meter(groups, Backends(tracker_db, _name(url))) as meter:
                            post_concurrently(port, f"/hooks/sns/{token}", mine, options.clients)
                        figures["receiver"] = _figures(meter, options.n)
                    finally:
                        os.killpg(celery.pid, signal.SIGCONT)
                    applied += options.n
                    with Meter(groups, Backends(tracker_db, _name(url))) as meter:
                        wait_applied(tracker_db, applied)
                    figures["worker"] = _figures(meter, options.n)
                elif phase == "old_receiver":
                    stop_when_idle(celery)
                    try:
                        with Meter({"gunicorn": old_web.pid}, Backends(tracker_db, _name(url))) as meter:
                            post_concurrently(old_port, f"/hooks/sns/{token}", old_bodies, options.clients)
                        figures["old_receiver"] = _figures(meter, options.n)
                    finally:
                        os.killpg(celery.pid, signal.SIGCONT)
                    applied += options.n
                    wait_applied(tracker_db, applied)
                else:
                    with Meter(groups, Backends(tracker_db, _name(url))) as meter:
                        accepted, _ = post_concurrently(port, f"/hooks/sns/{token}", e2e_bodies, options.clients)
                        applied += options.n
                        wait_applied(tracker_db, applied)
                    figures["end_to_end"] = {**_figures(meter, options.n), "accepted_rps": options.n / accepted}
            with peer_db.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM peer_bounces")
                stored = cursor.fetchone()[0]
            if stored != warm + (number + 1) * options.n:
                raise SystemExit(f"the peer stored {stored} bounces, expected {warm + (number + 1) * options.n}")
            rounds.append(figures)
            print(f"round {number + 1}/{options.rounds}: " + ", ".join(
                f"{name} {phase['rate']:.0f}/s" for name, phase in figures.items()), flush=True)
        for process in stack_processes:  # stop them all at once; the stack then waits for each
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for name, load in (("before", load_before), ("after", os.getloadavg())):
        print(f"load average {name}: " + " ".join(f"{value:.2f}" for value in load))
    tracker_db.close()
    peer_db.close()
    if options.json:
        options.json.write_text(json.dumps(rounds, indent=2))
    return rounds


def stop_when_idle(celery, timeout: float = 30) -> None:
    """SIGSTOP the worker once its drain has ended (the wake-up flag is free), never mid-drain."""
    import redis

    from tracker.adapters.wakeup import WAKE_FLAG

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    while client.exists(WAKE_FLAG) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(celery.pid, signal.SIGSTOP)


def _dsn(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def _name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _figures(meter: Meter, n: int) -> dict:
    return {"rate": n / meter.wall, **{f"{name}_ms": 1000 * seconds / n for name, seconds in meter.cpu.items()}}


def _spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def cpu_rows(column) -> str:
    """The CPU table's rows: each phase's gunicorn, worker and PostgreSQL columns (blank where it has none)."""
    rows = (("204 route", "noop", ("gunicorn_ms",)),
            ("receiver alone", "receiver", ("gunicorn_ms", None, "postgres_ms")),
            ("worker alone", "worker", (None, "worker_ms", "postgres_ms")),
            ("end to end", "end_to_end", ("gunicorn_ms", "worker_ms", "postgres_ms")),
            ("django-ses peer", "peer", ("gunicorn_ms", None, "postgres_ms")))
    lines = []
    for label, phase, keys in rows:
        cells = [_spread(column(phase, key)) if key else "" for key in keys]
        lines.append(f"    {label:<35}" + "".join(f"{cell:<20}" for cell in cells).rstrip())
    return "\n".join(lines)


def report(rounds: list[dict], options) -> None:
    def ratio(top: str, bottom: str, key: str = "rate") -> list[float]:
        return [r[top][key] / r[bottom]["rate"] for r in rounds]

    def column(phase: str, key: str) -> list[float]:
        return [r[phase][key] for r in rounds]

    print(f"""
ingest benchmark: {options.rounds} interleaved rounds of {options.n} distinct signed SES bounces per phase,
{options.clients} client processes, gunicorn {options.web_workers} \
{f"gthread workers of {options.threads} threads" if options.threads else f"workers {options.worker_class}"} \
(tracker and peer alike),
Celery prefork x{options.worker_concurrency}, {os.cpu_count()} cores, commit_delay {options.commit_delay} us.
Median (min-max) over rounds.

  rates, per second                    median (min-max)
    204 route                          {_spread(column('noop', 'rate'), 0)}
    receiver alone (worker stopped)    {_spread(column('receiver', 'rate'), 0)}
    worker alone (draining)            {_spread(column('worker', 'rate'), 0)}
    end to end, applied                {_spread(column('end_to_end', 'rate'), 0)}
    django-ses view + INSERT (peer)    {_spread(column('peer', 'rate'), 0)}

  ratios (same round)
    receiver vs the 204 route          {_spread(ratio('receiver', 'noop'))}   target >= 0.5
    receiver vs the django-ses peer    {_spread(ratio('receiver', 'peer'))}   target >= 1.3
    end to end vs the receiver alone   {_spread(ratio('end_to_end', 'receiver'))}   target >= 0.8
    worker alone vs the receiver alone {_spread(ratio('worker', 'receiver'))}
    peer vs the 204 route              {_spread(ratio('peer', 'noop'))}

  CPU per event, ms                    gunicorn            worker              PostgreSQL (own backends)
{cpu_rows(column)}
  targets: gunicorn per accepted event <= 0.6 ms; PostgreSQL per event end to end <= 0.4 ms""")
    if options.old_tree:
        print(f"""
  old vs new (--old-tree {options.old_tree}, same rounds, same database)
    old receiver alone                 {_spread(column('old_receiver', 'rate'), 0)} /s
    receiver vs the old receiver       {_spread(ratio('receiver', 'old_receiver'))}
    old receiver vs the 204 route      {_spread(ratio('old_receiver', 'noop'))}
    old receiver vs the peer           {_spread(ratio('old_receiver', 'peer'))}
    old receiver CPU per event, ms     gunicorn {_spread(column('old_receiver', 'gunicorn_ms'))}, \
PostgreSQL {_spread(column('old_receiver', 'postgres_ms'))}""")


if __name__ == "__main__":
    main()
