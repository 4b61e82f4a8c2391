"""The statistics part of bench/read.py: GET /api/v1/stats and /api/v1/reputation over the seeded account.

The seed writes deliveries by COPY, past the worker, so the statistics are counted first
with tracker.db.repository.rebuild_stats (what `tracker rebuild` ends with: its time is
reported too). Each call is timed R times after a warm-up, round-robin, and reported as p50
and p99 and as a ratio to the baseline measured in the same run on its own connection: the
native list's raw first-page query

  SELECT * FROM deliveries WHERE account_id = %s ORDER BY updated_at, id LIMIT 100
"""
from __future__ import annotations

import math
import statistics
import time

BASELINE = "SELECT * FROM deliveries WHERE account_id = %s ORDER BY updated_at, id LIMIT 100"
CALLS = (
    ("stats, last 24 h hourly by status", "/api/v1/stats", {"interval": "hour", "group_by": "status"}),
    ("stats, last 30 days daily by provider", "/api/v1/stats", {"interval": "day", "group_by": "provider"}),
    ("stats, last 30 days daily by domain", "/api/v1/stats", {"interval": "day", "group_by": "domain"}),
    ("reputation, 24 h", "/api/v1/reputation", {"window": "24h"}),
    ("reputation, 7 days", "/api/v1/reputation", {"window": "7d"}),
)


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return 1000 * ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def count_statistics(services, seeded) -> tuple[int, float]:
    """Count the seeded deliveries into the statistics table (rows written, seconds), then ANALYZE it."""
    from sqlalchemy import text

    from tracker.db import repository

    started = time.perf_counter()
    with services.db.transaction() as session:
        rows = repository.rebuild_stats(session)
    counted = time.perf_counter() - started
    with services.db.transaction() as session:
        session.execute(text("ANALYZE delivery_stats"))
    print(f"statistics: {rows:,} rows counted from {seeded.deliveries + seeded.other_deliveries:,} deliveries "
          f"in {counted:.1f} s (rebuild_stats)", flush=True)
    return rows, counted


def stats_bench(url: str, seeded, repeat: int, warmup: int, secret_key: str, rate_limits: str) -> dict:
    """Count the statistics, time the calls and the baseline; print and return the figures."""

    from tracker import create_app
    from tracker.config import Config

    app = create_app(Config(database_url=url, secret_key=secret_key, rate_limits=rate_limits))
    services = app.extensions["tracker"]
    rows, counted = count_statistics(services, seeded)

    raw = services.db.engine.raw_connection()  # the baseline's own connection, outside the app's sessions
    connection = raw.driver_connection
    connection.autocommit = True
    client = app.test_client()
    headers = {"Authorization": f"Bearer {seeded.api_key}"}
    samples: dict[str, list[float]] = {label: [] for label, _, _ in CALLS}
    samples["baseline"] = []
    try:
        with connection.cursor() as cursor:
            def baseline() -> None:
                cursor.execute(BASELINE, (seeded.account_id,))
                cursor.fetchall()

            for _ in range(warmup):
                baseline()
                for label, path, params in CALLS:
                    assert client.get(path, query_string=params, headers=headers).status_code == 200, label
            for _ in range(repeat):  # round-robin: load from elsewhere hits every call alike
                began = time.perf_counter()
                baseline()
                samples["baseline"].append(time.perf_counter() - began)
                for label, path, params in CALLS:
                    began = time.perf_counter()
                    response = client.get(path, query_string=params, headers=headers)
                    samples[label].append(time.perf_counter() - began)
                    assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        raw.close()
        services.db.dispose()
    base = statistics.median(samples["baseline"]) * 1000
    figures = {"stats_rows": rows, "rebuild_stats_seconds": counted, "calls": {}}
    print(f"  {'baseline (raw first-page query)':<40} p50 {base:.2f} ms, p99 {_p(samples['baseline'], 0.99):.2f} ms")
    for label, _, _ in CALLS:
        p50, p99 = statistics.median(samples[label]) * 1000, _p(samples[label], 0.99)
        figures["calls"][label] = {"p50_ms": p50, "p99_ms": p99, "ratio_to_baseline": p50 / base}
        print(f"  {label:<40} p50 {p50:.2f} ms, p99 {p99:.2f} ms, {p50 / base:.1f}x baseline", flush=True)
    figures["baseline_p50_ms"] = base
    return figures
