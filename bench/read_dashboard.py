"""The dashboard's pages over HTTP, for bench/read.py: p50 per page against the native API's first page.

Adds to the read bench's database what the dashboard reads besides deliveries (INSERT ... SELECT
from the seeded deliveries, then VACUUM ANALYZE):
  inbox_events   two raw events per delivery of both accounts (received when the delivery was
                 created and when it last changed), 1 in 1000 failed with a ~2 KB body, a few pending
  suppressions   every permanently bounced address
  webhooks       3 subscriptions of the measured account, an event per delivery for 1 in 10
                 deliveries (1 in 100 of them parked), one attempt each
Then serves the app with werkzeug on a local port, signs in with an operator key, times the
process's first overview (which counts the month's closed hours once), then each page R rounds
round-robin after a warm-up, with a requests.Session (the session cookie).
The baseline, timed in the same rounds over the same server, is GET /api/v1/deliveries?limit=100.
"""
from __future__ import annotations

import statistics
import threading
import time

FAILED_BODY = '{"Type": "Notification", "Message": "' + "x" * 2000 + '"}'


def seed_dashboard(connection, account_id: int) -> dict:
    """Inbox rows, suppressions and webhook events for the seeded deliveries; what was added."""
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("""
            INSERT INTO inbox_events (account_id, provider, kind, dedupe_key, body, received_at, state, attempts,
                                      replay_count, error, failure_kind, first_failed_at, last_failed_at,
                                      processed_at)
            SELECT d.account_id, d.provider, 'notification', 'bench-' || d.id || '-' || e.n,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN %s ELSE '{}' END,
                   CASE WHEN e.n = 0 THEN d.created_at ELSE d.updated_at END,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN 'failed'
                        WHEN d.id %% 100000 = 7 THEN 'pending' ELSE 'processed' END,
                   1, 0,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN 'SES message is not JSON (bench)' END,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN 'parse' END,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN d.updated_at END,
                   CASE WHEN d.id %% 1000 = 0 AND e.n = 1 THEN d.updated_at END,
                   CASE WHEN d.id %% 1000 <> 0 OR e.n = 0 THEN d.updated_at END
            FROM deliveries d CROSS JOIN (VALUES (0), (1)) AS e(n)
            ORDER BY 7""", (FAILED_BODY,))
        inbox = cursor.rowcount
        cursor.execute("""
            INSERT INTO suppressions (account_id, address, reason, provider, message_id, event_key, occurred_at,
                                      created_at)
            SELECT DISTINCT ON (account_id, recipient) account_id, recipient, 'hard_bounce', provider, message_id,
                   provider || ':bounced:' || id, updated_at, updated_at
            FROM deliveries WHERE status = 'BOUNCED' AND bounce_type = 'PERMANENT'""")
        suppressions = cursor.rowcount
        cursor.execute("""
            INSERT INTO webhook_subscriptions (account_id, url, secret, statuses, active, created_at, updated_at)
            SELECT %s, 'https://hooks.example.com/' || n, 'whsec_bench', '[]', true, now(), now()
            FROM generate_series(1, 3) AS n RETURNING id""", (account_id,))
        subscriptions = [row[0] for row in cursor.fetchall()]
        cursor.execute("""
            INSERT INTO webhook_events (account_id, subscription_id, delivery_id, type, sequence, payload, state,
                                        attempts, last_status, created_at, retry_window_start, delivered_at,
                                        parked_at)
            SELECT d.account_id, (%s::bigint[])[1 + d.id %% 3], d.id, 'delivery.status_changed', d.status_sequence,
                   '{}', CASE WHEN d.id %% 1000 = 0 THEN 'parked' ELSE 'delivered' END, 1,
                   CASE WHEN d.id %% 1000 = 0 THEN 503 ELSE 200 END, d.updated_at, d.updated_at,
                   CASE WHEN d.id %% 1000 <> 0 THEN d.updated_at END, CASE WHEN d.id %% 1000 = 0 THEN d.updated_at END
            FROM deliveries d WHERE d.account_id = %s AND d.id %% 10 = 0""",
                       (subscriptions, account_id))
        webhook_events = cursor.rowcount
        cursor.execute("""
            INSERT INTO webhook_attempts (webhook_event_id, attempted_at, status_code, latency_ms)
            SELECT id, created_at, last_status, 20 + id % 200 FROM webhook_events ORDER BY id""")
        for table in ("inbox_events", "suppressions", "webhook_subscriptions", "webhook_events", "webhook_attempts"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"inbox_events": inbox, "suppressions": suppressions, "webhook_events": webhook_events,
            "seconds": round(time.perf_counter() - started, 1)}


def dashboard_pages(url: str, seeded, options, secret_key: str, rate_limits: str) -> dict:
    """Seed, serve, sign in, time every page; {page: {"p50_ms", "p99_ms", "ratio"}} with the baseline's."""
    import psycopg2
    import requests
    from werkzeug.serving import WSGIRequestHandler, make_server

    from tracker import create_app
    from tracker.config import Config
    from tracker.db import repository
    from tracker.db.models import Account

    connection = _patiently(lambda: psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://")))
    connection.autocommit = True
    try:
        print("dashboard: seeding inbox events, suppressions, webhook events ...", flush=True)
        added = seed_dashboard(connection, seeded.account_id)
        print(f"  added {added}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, message_id, recipient FROM deliveries WHERE account_id = %s "
                           "AND status = 'BOUNCED' ORDER BY id DESC LIMIT 1", (seeded.account_id,))
            delivery_id, message_id, recipient = cursor.fetchone()
            cursor.execute("SELECT address FROM suppressions WHERE account_id = %s ORDER BY id DESC LIMIT 1",
                           (seeded.account_id,))
            suppressed = cursor.fetchone()[0]
    finally:
        connection.close()

    app = create_app(Config(database_url=url, secret_key=secret_key, rate_limits=rate_limits))
    services = app.extensions["tracker"]

    def operator_key() -> str:
        with services.db.transaction() as session:
            account = session.get(Account, seeded.account_id)
            return repository.create_api_key(session, account, role="operator", secret_key=secret_key)

    operator = _patiently(operator_key)
    class Quiet(WSGIRequestHandler):
        def log_request(self, *args) -> None:  # a line per request would drown the figures
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        browser = requests.Session()
        form = browser.get(f"{base}/dashboard/signin").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = browser.post(f"{base}/dashboard/signin", data={"key": operator, "csrf_token": token})
        assert signed_in.url == f"{base}/dashboard", signed_in.url
        pages = {
            "native first page (baseline)": (f"{base}/api/v1/deliveries?limit=100",
                                             {"Authorization": f"Bearer {seeded.api_key}"}),
            "overview": (f"{base}/dashboard", {}),
            "deliveries by message id": (f"{base}/dashboard/deliveries?message_id={message_id}", {}),
            "deliveries by recipient": (f"{base}/dashboard/deliveries?recipient={recipient}", {}),
            "delivery timeline": (f"{base}/dashboard/deliveries/{delivery_id}", {}),
            "failed events": (f"{base}/dashboard/failed", {}),
            "failed: confirm replay all": (f"{base}/dashboard/failed/confirm?action=replay", {}),
            "suppressions": (f"{base}/dashboard/suppressions", {}),
            "suppressions: search": (f"{base}/dashboard/suppressions?address={suppressed}", {}),
            "webhooks": (f"{base}/dashboard/webhooks", {}),
            "reputation, 24 h": (f"{base}/dashboard/reputation?window=24h", {}),
            "reputation, 7 days": (f"{base}/dashboard/reputation?window=7d", {}),
        }
        # The first overview of a process counts the month's closed hours (then remembers them).
        started = time.perf_counter()
        assert browser.get(pages["overview"][0]).status_code == 200
        cold = time.perf_counter() - started
        samples: dict[str, list[float]] = {name: [] for name in pages}
        for round_number in range(options.warmup + options.r):
            for name, (target, headers) in pages.items():
                started = time.perf_counter()
                response = browser.get(target, headers=headers, allow_redirects=False)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"dashboard bench: {name} answered {response.status_code}")
                if round_number >= options.warmup:
                    samples[name].append(elapsed)
    finally:
        server.shutdown()
        services.db.dispose()
    baseline = statistics.median(samples["native first page (baseline)"])
    figures = {}
    print(f"dashboard pages over HTTP ({options.r} rounds after {options.warmup} warm-up):", flush=True)
    for name, values in samples.items():
        ordered = sorted(values)
        p50 = statistics.median(values)
        p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
        figures[name] = {"p50_ms": round(1000 * p50, 2), "p99_ms": round(1000 * p99, 2),
                         "ratio": round(p50 / baseline, 2)}
        print(f"  {name:<30} p50 {1000 * p50:8.2f} ms  p99 {1000 * p99:8.2f} ms  x{p50 / baseline:5.2f}", flush=True)
    print(f"  {'overview, first of the process':<30} {1000 * cold:8.2f} ms (once: counts the closed hours)", flush=True)
    return {"seeded": added, "pages": figures, "overview_first_ms": round(1000 * cold, 2)}


def _patiently(connect, seconds: float = 120):
    """Retry while the server has no connection slot free (a shared machine's PostgreSQL may be full for a while)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return connect()
        except Exception as error:  # psycopg2 or SQLAlchemy's OperationalError: "too many clients already"
            if "too many clients" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(1)
