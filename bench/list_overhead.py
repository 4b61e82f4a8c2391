"""In-process CPU of the fixed cost around a list page: GET /api/v1/deliveries?limit=1 vs a trivial route.

Builds the app on a throwaway database (bench/read_seed.py, ~200 deliveries) with Redis as the
broker (so the key cache's revocation counter and the rate limiter run as in production, the
limit set high enough never to refuse), then times R requests of each through the Flask test
client with time.process_time, interleaved over several rounds, and prints the medians and their
difference (the list page's cost above Flask's floor). --profile adds cProfile's top entries.

    .venv/bin/python bench/list_overhead.py [-r 2000] [--rounds 5] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.read_seed import SECRET_KEY, seed  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
LIMITS = "native=100000000"  # counted as in production, never refused


def _time(call, r: int) -> float:
    started = time.process_time()
    for _ in range(r):
        call()
    return (time.process_time() - started) / r * 1000


def measure(url: str, options) -> None:
    """Print ms of CPU per request for the list page and the trivial route, medians over rounds."""
    from tracker import create_app
    from tracker.config import Config

    seeded = seed(url, options.n, other=50)
    app = create_app(Config(database_url=url, secret_key=SECRET_KEY, broker_url=REDIS_URL, rate_limits=LIMITS))
    app.add_url_rule("/bench/trivial", "bench_trivial", lambda: ("", 204))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {seeded.api_key}"}

    def page():
        answer = client.get("/api/v1/deliveries", query_string={"limit": "1"}, headers=headers)
        assert answer.status_code == 200, answer.data[:200]

    def trivial():
        assert client.get("/bench/trivial").status_code == 204

    for _ in range(200):
        page()
        trivial()
    lists, floors = [], []
    for _ in range(options.rounds):
        lists.append(_time(page, options.r))
        floors.append(_time(trivial, options.r))
    listed, floor = statistics.median(lists), statistics.median(floors)
    print(f"list limit=1 {listed:.3f} ms  trivial {floor:.3f} ms  above the floor {listed - floor:.3f} ms"
          f"  (rounds: {' '.join(f'{x:.3f}' for x in lists)})")
    # The Redis commands of every guarded request, each alone as its own round trip (a request with a
    # cached key sends both in one pipeline: tracker.http.key_cache).
    from tracker.adapters import redis_clients
    from tracker.http import key_cache, ratelimit

    redis = redis_clients.client(REDIS_URL)
    counter = statistics.median(_time(lambda: redis.get(key_cache.COUNTER), options.r) for _ in range(3))
    count = statistics.median(_time(lambda: ratelimit._redis_count(REDIS_URL, "bench:overhead"), options.r)
                              for _ in range(3))
    print(f"alone: revocation counter GET {counter:.3f} ms  rate-limit INCR+EXPIRE {count:.3f} ms")
    if options.profile:
        profile = cProfile.Profile(time.process_time)  # CPU, as the figures: waits on Redis and PostgreSQL left out
        profile.enable()
        for _ in range(options.r):
            page()
        profile.disable()
        if options.dump:
            profile.dump_stats(options.dump)
        pstats.Stats(profile).sort_stats("tottime").print_stats(options.top)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(options.top)
    app.extensions["tracker"].db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="deliveries of the account")
    parser.add_argument("-r", type=int, default=2000, help="requests per timing")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", help="with --profile: also write the pstats file here")
    options = parser.parse_args()
    with throwaway_database("tracker_bench_overhead") as url:
        measure(url, options)


if __name__ == "__main__":
    main()
