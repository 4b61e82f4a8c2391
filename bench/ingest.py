"""Ingest benchmark: signed SES notifications through gunicorn, Redis and a Celery worker.

Starts, on a fresh PostgreSQL database: gunicorn (the real receiver plus a 204-only
baseline route, same process, same settings) and a Celery worker. A second process (a
pool of client processes) posts N signed SNS notifications over loopback. Reports
  accepted/s  how fast the receiver verified, stored and acknowledged them
  applied/s   end to end: from the first POST until the worker had applied all of them
each also as a ratio to the baseline route measured in the same run.

    .venv/bin/python bench/ingest.py [-n 5000] [--clients 8] [--web-workers 4] [--worker-concurrency 2]

Needs PostgreSQL and Redis as the test suite does (TRACKER_TEST_ADMIN_URL, TRACKER_TEST_REDIS_URL).
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.database import throwaway_database  # noqa: E402
from tests.support.processes import free_port, python, running, wait_for_port  # noqa: E402
from tests.support.sns_signing import SnsTestPki, notification  # noqa: E402

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def bounce(message_id: str, recipient: str) -> dict:
    """A permanent-bounce notification (the shape of tests/fixtures/ses/notification/bounce-permanent.json)."""
    return {
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
    if failures and path.startswith("/hooks/"):
        raise SystemExit(f"{failures} POSTs to {path} failed")
    return elapsed, client_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="notifications to post")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (>1: gthread)")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--subscriber", choices=("none", "healthy", "hanging"), default="none",
                        help="subscribe a local webhook receiver that answers at once, or never")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()

    from tracker.db import repository
    from tracker.db.engine import Database

    with throwaway_database("tracker_bench") as url, tempfile.TemporaryDirectory() as tmp:
        db = Database(url)
        receiver = None
        if options.subscriber != "none":
            from tests.support.receiver import Receiver

            receiver = Receiver(hang=3600 if options.subscriber == "hanging" else 0)
        with db.transaction() as session:
            account = repository.create_account(session, "bench")
            token = repository.create_source(session, account, "ses", ["*"]).token
            if receiver is not None:
                repository.create_subscription(session, account_id=account.id, url=receiver.url,
                                               secret="whsec_bench", statuses=[])
        try:
            figures = run(options, db, url, token, Path(tmp))
        finally:
            db.dispose()
    report(figures, options)


def run(options, db, url: str, token: str, tmp: Path) -> dict:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    (tmp / "certs").mkdir()
    pki = SnsTestPki(tmp / "certs")
    print(f"signing {options.n} notifications ...", flush=True)
    bodies = [
        json.dumps(pki.sign(notification(bounce(f"bench-{n}", f"r{n}@example.com")), "1")).encode()
        for n in range(options.n)
    ]
    env = {"TRACKER_DATABASE_URL": url, "TRACKER_BROKER_URL": REDIS_URL, "TRACKER_SNS_CERT_DIR": str(pki.directory),
           "TRACKER_WEBHOOKS_ALLOW_HTTP": "1", "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*"}
    port = free_port()
    gunicorn = python("-m", "gunicorn", "bench.noop_wsgi:app", "--bind", f"127.0.0.1:{port}",
                      "--workers", str(options.web_workers), "--threads", str(options.threads),
                      "--log-level", "warning")
    worker = python("-m", "celery", "-A", "workers.celery_app", "worker", "--concurrency",
                    str(options.worker_concurrency), "--loglevel", "WARNING", "-P", "prefork")
    webhook_worker = python("-m", "celery", "-A", "workers.celery_app", "worker", "--queues", "webhooks",
                            "--pool", "threads", "--concurrency", "8", "--loglevel", "WARNING")
    with running(gunicorn, env, tmp / "web.log") as web, running(worker, env, tmp / "worker.log") as celery, \
            running(webhook_worker, env, tmp / "webhooks.log"):
        wait_for_port(port, web, tmp / "web.log")
        time.sleep(3)  # the worker connects to the broker; a wake-up sent before is queued anyway

        # Warm up both routes (imports, connection pools, certificate cache).
        post_concurrently(port, "/bench/noop", bodies[:200], options.clients)
        print("baseline: the 204 route ...", flush=True)
        web_before = cpu_seconds(web.pid)
        baseline, _ = post_concurrently(port, "/bench/noop", bodies, options.clients)
        baseline_web_cpu = cpu_seconds(web.pid) - web_before
        print("reference: decode and verify only ...", flush=True)
        verify_only, _ = post_concurrently(port, "/bench/verify", bodies, options.clients)

        print("receiver: signed notifications ...", flush=True)
        cpu_before = {"web": cpu_seconds(web.pid), "worker": cpu_seconds(celery.pid),
                      "postgres": cpu_seconds(comm="postgres")}
        started = time.perf_counter()
        accepted, client_cpu = post_concurrently(port, f"/hooks/sns/{token}", bodies, options.clients)
        applied = wait_applied(db, options.n, started)
        cpu = {"web": cpu_seconds(web.pid) - cpu_before["web"],
               "worker": cpu_seconds(celery.pid) - cpu_before["worker"],
               "postgres": cpu_seconds(comm="postgres") - cpu_before["postgres"],
               "load client": client_cpu}
    return {
        "n": options.n,
        "cpu_ms_per_event": {name: 1000 * seconds / options.n for name, seconds in cpu.items()},
        "baseline_web_cpu_ms": 1000 * baseline_web_cpu / options.n,
        "baseline_rps": options.n / baseline,
        "verify_only_rps": options.n / verify_only,
        "accepted_rps": options.n / accepted,
        "applied_eps": options.n / applied,
    }


def cpu_seconds(pgid: int | None = None, comm: str | None = None) -> float:
    """CPU time (user+system) of every process in a process group, or with a command name."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if (pgid is not None and int(fields[2]) == pgid) or (comm is not None and name == comm):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wait_applied(db, n: int, started: float, timeout: float = 600) -> float:
    with db.engine.connect() as connection:
        while time.perf_counter() - started < timeout:
            done = connection.exec_driver_sql(
                "SELECT count(*) FROM deliveries WHERE status = 'BOUNCED'").scalar()
            connection.rollback()
            if done >= n:
                return time.perf_counter() - started
            time.sleep(0.05)
    raise SystemExit(f"only {done}/{n} applied after {timeout}s")


def report(figures: dict, options) -> None:
    base = figures["baseline_rps"]
    print(f"""
ingest benchmark: {figures['n']} signed SES bounces, {options.clients} client processes,
gunicorn {options.web_workers} workers x {options.threads} threads, webhook subscriber: {options.subscriber}, Celery prefork x{options.worker_concurrency}, {os.cpu_count()} cores

  baseline (204 route)     {base:9.0f} req/s   1.00
  + decode, verify (ref.)  {figures['verify_only_rps']:9.0f} req/s   {figures['verify_only_rps'] / base:.2f} x baseline
  accepted at receiver     {figures['accepted_rps']:9.0f} req/s   {figures['accepted_rps'] / base:.2f} x baseline
  applied end to end       {figures['applied_eps']:9.0f} ev/s    {figures['applied_eps'] / base:.2f} x baseline

  CPU per event: """ + ", ".join(f"{name} {ms:.2f} ms" for name, ms in figures["cpu_ms_per_event"].items())
          + f"   (web on the 204 route: {figures['baseline_web_cpu_ms']:.2f} ms)")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
