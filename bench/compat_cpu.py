"""In-process CPU per list request of every read API (Flask test client, no HTTP), as ratios to the native page.

Seeds a throwaway database as bench/read.py does (bench/read_seed.py), builds the same pages
(bench/read_cases.build_cases; walked and consuming pages left out), and for each page times R requests
three times with time.process_time (this process only: the database's time is not in it), keeping
the best. Rate limits are counted in Redis as bench/read.py's gunicorn counts them (one round trip
per request, which also reads the key cache's revocation counter), never reached. Each page's
figure is also a ratio to the native API's first page of the same run. The SHA-1 of each page's
body is printed, so two trees can be compared byte for byte on the same data (--database-url with
a database seeded once, the seed's facts in --seeded, a pickle).

    .venv/bin/python bench/compat_cpu.py [-n 20000] [-r 50] [--only postman]
    .venv/bin/python bench/compat_cpu.py --only postman --profile "postman offset 0" [--sort tottime]
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import pickle
import pstats
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.read import HIGH_RATE_LIMITS, REDIS_URL, deep_position  # noqa: E402
from bench.read_cases import build_cases  # noqa: E402
from bench.read_seed import SECRET_KEY, seed  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402


def measure(url: str, seeded, options) -> None:
    """Print each page's CPU per request, its ratio to the native first page, and its body's SHA-1."""
    import psycopg2
    import redis

    from tracker import create_app
    from tracker.config import Config

    redis.Redis.from_url(REDIS_URL).flushdb()  # no page marks of an earlier run
    connection = psycopg2.connect(re.sub(r"^postgresql\+psycopg2://", "postgresql://", url))
    connection.autocommit = True
    app = create_app(Config(database_url=url, secret_key=SECRET_KEY, broker_url=REDIS_URL,
                            rate_limits=HIGH_RATE_LIMITS))
    client = app.test_client()
    cases, _ = build_cases(connection, seeded, deep_position(connection, seeded.account_id, 400), 5, options.r)
    figures = {}
    for case in cases:
        if case.walk or case.consumes or case.path.startswith("/bench/"):
            continue
        name = f"{case.api} {case.page}"
        if options.only and options.only not in case.api and name != "native first":
            continue
        answer = client.get(case.path, query_string=case.params, headers=case.headers)
        if answer.status_code != 200:
            print(f"{name}: HTTP {answer.status_code} {answer.data[:200]!r}")
            continue
        for _ in range(10):
            client.get(case.path, query_string=case.params, headers=case.headers)
        if options.profile and options.profile in name:
            profile = cProfile.Profile(time.process_time)  # CPU, as timed below: not the wait on PostgreSQL
            profile.enable()
            for _ in range(options.r):
                client.get(case.path, query_string=case.params, headers=case.headers)
            profile.disable()
            pstats.Stats(profile).sort_stats(options.sort).print_stats(40)
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(options.r):
                client.get(case.path, query_string=case.params, headers=case.headers)
            best = min(best, (time.process_time() - started) / options.r * 1000)
        figures[name] = (best, hashlib.sha1(answer.data).hexdigest()[:10])
    native = figures["native first"][0]
    for name, (ms, digest) in figures.items():
        print(f"{name:<40} {ms:7.2f} ms  x{ms / native:5.2f} native first  sha1 {digest}")
    connection.close()
    app.extensions["tracker"].db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20_000, help="deliveries of the measured account")
    parser.add_argument("-r", type=int, default=50, help="requests per timing")
    parser.add_argument("--only", help="only the pages of this API (and the native first page)")
    parser.add_argument("--profile", help="also print a cProfile of the page whose name contains this")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (pstats: cumulative, tottime, ...)")
    parser.add_argument("--database-url", help="a database seeded before (with --seeded); else a throwaway one")
    parser.add_argument("--seeded", type=Path, help="the pickled bench.read_seed.Seeded of --database-url")
    options = parser.parse_args()
    if options.database_url:
        measure(options.database_url, pickle.loads(options.seeded.read_bytes()), options)
        return
    with throwaway_database("tracker_bench_compat") as url:
        measure(url, seed(url, options.n), options)


if __name__ == "__main__":
    main()
