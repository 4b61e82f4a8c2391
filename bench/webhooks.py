"""Webhook benchmark: status changes at a steady rate, on the production path, to a local subscriber.

Starts, on a fresh PostgreSQL database: `tracker serve` (gunicorn), `tracker worker` (Celery,
with beat) and `tracker worker --webhooks`, and a local subscriber: a threaded HTTP server
that checks every request with the README's recipe and answers 200 at once. Client
processes post N signed SES bounces (each a new delivery, so one status change each) at a
steady RATE per second. Reports, per event, the latency from the status change's
transaction (its outbox row's created_at: the batch that changed the status began then and
committed a few milliseconds later) to the subscriber's 200, as p50/p99/max, and the
throughput the subscriber saw, against a baseline measured in the same run: the same bodies
POSTed straight to the subscriber by the tracker's HTTP client from as many threads as a
subscription may have in flight. Then the same with the webhook worker's Celery process
SIGKILLed once, midway (its supervisor, `tracker worker`, starts another): latency,
duplicates, and how long the subscriber heard nothing.

    .venv/bin/python bench/webhooks.py [-n 6000] [--rate 200] [--clients 4] [--web-workers 3]

Target (issue 16): every event within 2 s p99 at a steady 200 events/s on a 2-core machine.
Needs PostgreSQL and Redis as the test suite does (TRACKER_TEST_ADMIN_URL, TRACKER_TEST_REDIS_URL).
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import bounce, cpu_seconds  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402
from tests.support.process_tree import celery_main  # noqa: E402
from tests.support.processes import free_port, python, running, wait_for_log, wait_for_port  # noqa: E402
from tests.support.sns_signing import SnsTestPki, notification  # noqa: E402

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRET = "whsec_bench"


class Subscriber:
    """The application's end: verify each request with the README's recipe, note when it was answered."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tracker.outbound.signing import RECIPE

        recipe: dict = {}
        exec(RECIPE, recipe)  # noqa: S102 - the README's own code, as an application would paste it
        verify = recipe["verify"]
        self.answered: dict[str, float] = {}  # webhook event id -> when it was first answered 200
        self.requests = 0
        self.forged = 0
        lock = threading.Lock()
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                genuine = verify(SECRET, body, self.headers.get("X-Tracker-Timestamp", ""),
                                 self.headers.get("X-Tracker-Signature", ""))
                event_id = json.loads(body)["id"] if genuine else None
                self.send_response(200 if genuine else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                now = time.time()
                with lock:
                    subscriber.requests += 1
                    if event_id is None:
                        subscriber.forged += 1
                    else:
                        subscriber.answered.setdefault(event_id, now)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tracker"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _post_paced(args) -> int:
    """One client process: POST its share of the bodies, each at its scheduled instant."""
    port, path, schedule = args
    failures = 0
    for at, body in schedule:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", path, body=body, headers={"Content-Type": "text/plain; charset=UTF-8"})
        response = connection.getresponse()
        response.read()
        failures += response.status >= 300
        connection.close()
    return failures


def post_at_rate(port: int, path: str, bodies: list[bytes], rate: float, clients: int,
                 during=None) -> float:
    """Post every body, the i-th at start + i/rate (all at once with rate 0); the start time.

    ``during(start)`` runs in this process meanwhile (the fault injection).
    """
    start = time.time() + 1.0
    spacing = 1.0 / rate if rate else 0.0
    schedule = [(start + i * spacing, body) for i, body in enumerate(bodies)]
    chunks = [(port, path, schedule[k::clients]) for k in range(clients)]
    pool = multiprocessing.get_context("fork").Pool(clients)
    result = pool.map_async(_post_paced, chunks)
    if during is not None:
        during(start)
    failures = sum(result.get())
    pool.close()
    pool.join()
    if failures:
        raise SystemExit(f"{failures} POSTs to {path} failed")
    return start


def outbox_times(db, first_id: int) -> dict[str, float]:
    """Webhook event id -> when its status change's transaction began (unix seconds)."""
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT created_at, payload FROM webhook_events WHERE id > %(first)s", {"first": first_id}).all()
    return {json.loads(payload)["id"]: created_at.timestamp() for created_at, payload in rows}


def last_outbox_id(db) -> int:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM webhook_events").scalar()


def wait_answered(subscriber: Subscriber, n: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while len(subscriber.answered) < n and time.time() < deadline:
        time.sleep(0.1)


def figures(subscriber: Subscriber, queued: dict[str, float], start: float, n: int) -> dict:
    latencies = sorted(subscriber.answered[i] - created for i, created in queued.items() if i in subscriber.answered)
    arrivals = sorted(subscriber.answered[i] for i in queued if i in subscriber.answered)
    if len(latencies) < n:
        print(f"  warning: {n - len(latencies)} of {n} events never reached the subscriber", flush=True)
    if not latencies:
        raise SystemExit("no event reached the subscriber")
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "events": len(latencies),
        "p50_s": quantiles[49], "p99_s": quantiles[98], "max_s": latencies[-1],
        "within_2s": sum(latency <= 2.0 for latency in latencies) / len(latencies),
        "throughput_eps": len(arrivals) / max(arrivals[-1] - start, 1e-9),
        "arrivals": arrivals,
    }


def baseline(subscriber: Subscriber, bodies: list[bytes], threads: int) -> float:
    """Events/s when the same bodies are POSTed straight to the subscriber (no tracker in between)."""
    from tracker.outbound import destinations, http as webhook_http, signing

    destination = destinations.resolve(subscriber.url, destinations.Policy.from_settings(True, "127.0.0.0/8:*"))

    def send(k: int) -> None:
        for n, body in enumerate(bodies[k::threads]):
            payload = json.dumps({"id": f"baseline-{k}-{n}", "body": body.decode()[:200]}).encode()
            webhook_http.post(destination, payload, signing.signature_headers(SECRET, payload, int(time.time())))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(threads)))
    return len(bodies) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=6000, help="status changes per phase")
    parser.add_argument("--rate", type=float, default=200.0, help="status changes per second (0: all at once)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--no-kill", action="store_true", help="skip the phase with a SIGKILLed webhook worker")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()

    from tracker.db import repository
    from tracker.db.engine import Database

    subscriber = Subscriber()
    with throwaway_database("tracker_bench") as url, tempfile.TemporaryDirectory() as tmp:
        db = Database(url)
        with db.transaction() as session:
            account = repository.create_account(session, "bench")
            token = repository.create_source(session, account, "ses", ["*"]).token
            repository.create_subscription(session, account_id=account.id, url=subscriber.url, secret=SECRET,
                                           statuses=[])
        try:
            results = run(options, db, url, token, Path(tmp), subscriber)
        finally:
            db.dispose()
            subscriber.stop()
    report(results, options)


def run(options, db, url: str, token: str, tmp: Path, subscriber: Subscriber) -> dict:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    (tmp / "certs").mkdir()
    pki = SnsTestPki(tmp / "certs")
    phases = 1 if options.no_kill else 2
    print(f"signing {phases} x {options.n} notifications ...", flush=True)
    bodies = [[json.dumps(pki.sign(notification(bounce(f"wh{phase}-{n}", f"r{phase}-{n}@example.com")),
                                   "1")).encode() for n in range(options.n)] for phase in range(phases)]
    env = {"TRACKER_DATABASE_URL": url, "TRACKER_BROKER_URL": REDIS_URL, "TRACKER_SNS_CERT_DIR": str(pki.directory),
           "TRACKER_WEBHOOKS_ALLOW_HTTP": "1", "TRACKER_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8:*",
           "TRACKER_LOG_LEVEL": "WARNING"}
    port = free_port()
    serve = python("-m", "tracker.cli.main", "serve", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(options.web_workers), "--log-level", "warning")
    worker = python("-m", "tracker.cli.main", "worker", "--concurrency", str(options.worker_concurrency),
                    "--schedule", str(tmp / "beat-schedule"))
    webhook_worker = python("-m", "tracker.cli.main", "worker", "--webhooks")
    results: dict = {"n": options.n, "rate": options.rate}
    with contextlib.ExitStack() as stack:
        web = stack.enter_context(running(serve, env, tmp / "web.log"))
        inbox_worker = stack.enter_context(running(worker, env, tmp / "worker.log"))
        sender = stack.enter_context(running(webhook_worker, env, tmp / "webhooks-1.log"))
        wait_for_port(port, web, tmp / "web.log")
        wait_for_log(tmp / "worker.log", "ready", inbox_worker)
        wait_for_log(tmp / "webhooks-1.log", "ready", sender)

        print("baseline: the same bodies POSTed straight to the subscriber ...", flush=True)
        results["baseline_eps"] = baseline(subscriber, bodies[0][: min(options.n, 3000)], threads=2)
        subscriber.answered.clear()

        print(f"healthy: {options.n} status changes at {options.rate or 'max'}/s ...", flush=True)
        first = last_outbox_id(db)
        # `tracker worker` supervises Celery, which runs in a process group of its own.
        groups = {"web": web.pid, "worker": celery_main(inbox_worker.pid), "webhook worker": celery_main(sender.pid)}

        def cpu_now() -> dict[str, float]:
            return {**{name: cpu_seconds(pgid) for name, pgid in groups.items()},
                    "postgres": cpu_seconds(comm="postgres")}

        cpu_before = cpu_now()
        start = post_at_rate(port, f"/hooks/sns/{token}", bodies[0], options.rate, options.clients)
        wait_answered(subscriber, options.n)
        cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_now().items()}
        results["healthy"] = figures(subscriber, outbox_times(db, first), start, options.n)
        results["healthy"]["cpu_ms_per_event"] = {name: 1000 * s / options.n for name, s in cpu.items()}

        if not options.no_kill:
            print("killed: the same, the webhook worker SIGKILLed and restarted midway ...", flush=True)
            first = last_outbox_id(db)
            killed: dict = {}

            def kill_midway(start: float) -> None:
                time.sleep(max(start + options.n / max(options.rate, 1) / 2 - time.time(), 1.0))
                ready = (tmp / "webhooks-1.log").read_text().count(" ready.")
                celery = celery_main(sender.pid)
                killed["at"] = time.time()
                os.killpg(celery, signal.SIGKILL)  # as the OOM killer would; its supervisor restarts it
                while (tmp / "webhooks-1.log").read_text().count(" ready.") == ready:
                    time.sleep(0.05)
                killed["ready_after"] = time.time() - killed["at"]

            requests_before = subscriber.requests
            start = post_at_rate(port, f"/hooks/sns/{token}", bodies[1], options.rate, options.clients,
                                 during=kill_midway)
            wait_answered(subscriber, 2 * options.n)
            phase = figures(subscriber, outbox_times(db, first), start, options.n)
            around = [killed["at"]] + [t for t in phase["arrivals"] if t > killed["at"]]
            phase["restart_ready_s"] = killed["ready_after"]
            # The longest silence at the subscriber from the kill on: how long sending stopped.
            phase["pause_after_kill_s"] = max((b - a for a, b in zip(around, around[1:], strict=False)), default=None)
            phase["duplicates"] = subscriber.requests - requests_before - phase["events"]
            results["killed"] = phase
    results["load_average"] = os.getloadavg()
    results["forged"] = subscriber.forged
    for phase in ("healthy", "killed"):
        results.get(phase, {}).pop("arrivals", None)
    return results


def report(results: dict, options) -> None:
    base = results["baseline_eps"]
    lines = [f"""
webhook benchmark: {results['n']} status changes per phase at {results['rate'] or 'max'}/s, one subscriber,
gunicorn x{options.web_workers}, Celery inbox worker x{options.worker_concurrency}, `tracker worker --webhooks`, \
{os.cpu_count()} cores
(load average at the end: {' '.join(f'{x:.1f}' for x in results['load_average'])}; \
other work on the machine shows there)

  baseline (straight to the subscriber, 2 threads)  {base:7.0f} ev/s   1.00
"""]
    for name, title in (("healthy", "healthy"), ("killed", "webhook worker SIGKILLed once")):
        phase = results.get(name)
        if not phase:
            continue
        lines.append(
            f"  {title:<40}  {phase['throughput_eps']:7.0f} ev/s   {phase['throughput_eps'] / base:.2f} x baseline\n"
            f"      commit -> subscriber's 200: p50 {phase['p50_s']:.3f} s, p99 {phase['p99_s']:.3f} s, "
            f"max {phase['max_s']:.3f} s; {100 * phase['within_2s']:.1f}% within 2 s ({phase['events']} events)\n")
        if name == "healthy":
            lines.append("      CPU per event: " + ", ".join(
                f"{k} {v:.2f} ms" for k, v in phase["cpu_ms_per_event"].items()) + "\n")
        else:
            lines.append(f"      restarted worker ready after {phase['restart_ready_s']:.1f} s; "
                         "the subscriber heard nothing "
                         f"for {phase['pause_after_kill_s']:.1f} s; {phase['duplicates']} duplicate POST(s)\n")
    if results["forged"]:
        lines.append(f"  !! {results['forged']} request(s) failed the README's signature check\n")
    print("".join(lines))
    if options.json:
        options.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
