"""Read benchmark: every list API over HTTP at depth, against the raw keyset SQL, over one account of N deliveries.

Seeds a fresh PostgreSQL database (bench/read_seed.py: N deliveries of one account by COPY,
a neighbour account of N/10 interleaved with them, messages with attributes, the failure
events of failed deliveries; VACUUM ANALYZE), starts the tracker under gunicorn as
`tracker serve` runs it (sync workers, Redis as broker: its rate limiter counts every
request, with limits too high to refuse any), then, from one sequential HTTP client over
loopback, times each API's first page and a deep page, R times after a warm-up, and reads
the CPU every gunicorn process spent on each request (bench/read_http.py). The pages
(bench/read_cases.py):

  native    GET /api/v1/deliveries         first page, and page 1000 by its cursor (also: limit=1,
                                           the per-request cost without rows)
  elevate   GET /v1/email-status           page 1; the deepest page MAX_OFFSET allows, jumped to (an
                                           OFFSET); page 1000 after reading pages 1-999 (from a page mark)
  postman   GET /v1/transactional/email    offset 0; offset = MAX_OFFSET jumped to; offset 99,900 walked
  sendcloud GET /apiv2/data/emailStatus    start 0; start = MAX_START jumped to, and walked (days=3)
  infobip   GET /email/1/logs              limit 1000, and page 100 of 1000 by sentUntil
            GET /email/1/reports           limit 100; every pull consumes what it returns, so:
                                           successive pulls of a fresh backlog, then successive
                                           pulls after 99,900 reports were pulled (marked by SQL)

  http      POST /bench/noop               a 204 route in the same gunicorn: the floor of HTTP, gunicorn, Flask
            GET /bench/floor-list          the floor of a list page here: the native first page's query
                                           through psycopg2, its rows written by orjson, in a Flask route
                                           (no API key, rate limit, SQLAlchemy or validation)
            GET /bench/bare-list           the same in a bare WSGI callable in front of Flask

Pages are 100 rows unless said otherwise. The pages are timed round-robin (each round one
request of each page, in an order shuffled per round: what ran just before a request changes
its cost), so load from elsewhere on the machine hits them alike; the consuming
reports pulls are timed last, in order. The baseline, measured in the same run on its own
psycopg2 connection, is the raw indexed keyset query the native API stands on:

  SELECT * FROM deliveries WHERE account_id = %s AND (updated_at, id) > (%s, %s)
  ORDER BY updated_at, id LIMIT 100

for the first page (no cursor), page 1000, and a first page of 1000 rows (the baseline of
Infobip's logs), each timed twice: alone, R times in a row before the pages ("keyset SQL", what
x SQL divides by, the issue's method), and as one more page of the shuffled rounds ("keyset SQL,
rounds", what x rounds divides by: the same load and the same cold caches as the pages around
it). The second is a cross-check of the first, which a burst of load can spoil: both are timed
after a CHECKPOINT, so the seed's dirty pages are not being written out meanwhile (a baseline
timed right after a 1,000,000-row seed once came out at 1.8 times its usual figure). An OFFSET
100,000 page is timed 3 times for contrast. Each API's SQL is
captured from one request and its plan summarised: the indexes used, and for SELECTs
(EXPLAIN ANALYZE) the time in the database and the rows read and filtered out.
An API whose route is not there yet (404) is skipped with a note. The statistics calls
(/api/v1/stats, /api/v1/reputation) are timed afterwards by bench/read_stats.py.

Each page's p50 and p99 are also given as ratios to the raw SQL's p50 and p99 of the same kind of
page (x SQL), and its gunicorn CPU per request (the mean over its timed requests).

    .venv/bin/python bench/read.py [-n 1000000] [-r 50] [--web-workers 4] [--json out.json] [--old-tree DIR]

--old-tree DIR also serves another checkout (a git worktree of an older commit) from a second
gunicorn on the same database and times every list page on it right after this tree's, in the
same rounds; a last table gives new / old for p50 and CPU.

Needs PostgreSQL and Redis as the test suite does (TRACKER_TEST_ADMIN_URL, TRACKER_TEST_REDIS_URL).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import tempfile
import sys
import time
from pathlib import Path
from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.read_http import Server, serve  # noqa: E402
from bench.read_plans import explain  # noqa: E402
from bench.read_baseline import KEYSET_AFTER, SqlTimer, baseline, checkpoint, keyset_in_rounds  # noqa: E402
from bench.read_cases import DEEP_PAGE, PAGE, Case, build_cases  # noqa: E402
from bench.read_report import report, report_old  # noqa: E402
from bench.read_result import Result  # noqa: E402
from bench.read_dashboard import dashboard_pages  # noqa: E402
from bench.read_seed import SECRET_KEY, seed  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402

NO_RATE_LIMITS = "native=0,elevate=0,postman=0,sendcloud=0,infobip=0"
# Counted (in Redis, as in production) but never reached.
HIGH_RATE_LIMITS = "native=100000000,elevate=100000000,postman=100000000,sendcloud=100000000,infobip=100000000"
REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="deliveries of the measured account")
    parser.add_argument("-r", type=int, default=50, help="timed repetitions of each page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests before each page's timing")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--no-explain", action="store_true", help="skip EXPLAIN of the APIs' queries")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--old-tree", type=Path,
                        help="also serve another checkout (e.g. a git worktree of an older commit) and time each "
                             "list page on it in the same rounds: old vs this tree, same database")
    parser.add_argument("--dashboard", choices=("also", "only", "no"), default="also",
                        help="time the dashboard's pages over HTTP too (bench/read_dashboard.py), only them, or not")
    options = parser.parse_args()
    if options.n < 2 * PAGE:
        raise SystemExit("-n must be at least 200")

    with throwaway_database("tracker_bench_read") as url:
        print(f"seeding {options.n:,} deliveries (+ a neighbour account) by COPY ...", flush=True)
        seeded = seed(url, options.n)
        print(f"seeded {seeded.deliveries:,} + {seeded.other_deliveries:,} (neighbour) deliveries, "
              f"{seeded.messages:,} messages, {seeded.events:,} failure events in {seeded.seconds:.1f} s "
              "(COPY, VACUUM ANALYZE)", flush=True)
        started = time.perf_counter()
        results, facts = run(url, seeded, options) if options.dashboard != "only" else ([], {})
        print(f"measured in {time.perf_counter() - started:.1f} s", flush=True)
        if options.dashboard != "only":
            facts["stats"] = run_stats(url, seeded, options)
        else:  # the overview's statuses and the reputation page read the statistics: count them first
            count_statistics_only(url, seeded)
        dashboard = dashboard_pages(url, seeded, options, SECRET_KEY, NO_RATE_LIMITS) \
            if options.dashboard != "no" else None
    if options.dashboard != "only":
        old = facts.pop("old", None)  # Result objects: not in the --json file
        report(results, facts, seeded, options, PAGE)
        if old:
            report_old(results, old, options.old_tree)
    if dashboard is not None and options.json:
        figures = json.loads(options.json.read_text()) if options.json.exists() and results else {}
        options.json.write_text(json.dumps({**figures, "dashboard": dashboard}, indent=2))


def count_statistics_only(url: str, seeded) -> None:
    """The statistics table as a rebuild leaves it, for --dashboard only (run_stats counts it otherwise)."""
    from bench.read_stats import count_statistics
    from tracker import create_app
    from tracker.config import Config

    app = create_app(Config(database_url=url, secret_key=SECRET_KEY, rate_limits=NO_RATE_LIMITS))
    count_statistics(app.extensions["tracker"], seeded)


def run_stats(url: str, seeded, options) -> dict:
    """GET /api/v1/stats and /api/v1/reputation (bench/read_stats.py), against their own same-run baseline."""
    from bench.read_stats import stats_bench

    return stats_bench(url, seeded, options.r, options.warmup, SECRET_KEY, NO_RATE_LIMITS)


def run(url: str, seeded, options) -> tuple[list[Result], dict]:
    import psycopg2
    import redis

    from tracker import create_app
    from tracker.config import Config

    redis.Redis.from_url(REDIS_URL).flushdb()  # no page marks of an earlier run
    dsn = re.sub(r"^postgresql\+psycopg2://", "postgresql://", url)
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    env = {"TRACKER_DATABASE_URL": url, "TRACKER_SECRET_KEY": SECRET_KEY, "TRACKER_BROKER_URL": REDIS_URL,
           "TRACKER_RATE_LIMITS": HIGH_RATE_LIMITS}
    # In process, only to find routes and capture each request's SQL for its plan (same marks in Redis).
    app = create_app(Config(database_url=url, secret_key=SECRET_KEY, broker_url=REDIS_URL,
                            rate_limits=NO_RATE_LIMITS))
    try:
        with tempfile.TemporaryDirectory() as tmp, serve(env, options.web_workers, Path(tmp) / "web.log") as server, \
                contextlib.ExitStack() as stack:
            old = (stack.enter_context(serve(env, options.web_workers, Path(tmp) / "old.log", options.old_tree))
                   if options.old_tree else None)
            deep_page = min(DEEP_PAGE, seeded.deliveries // PAGE)
            position = deep_position(connection, seeded.account_id, (deep_page - 1) * PAGE)
            checkpoint(connection)
            results = baseline(connection, seeded.account_id, position, deep_page, options)
            in_rounds = keyset_in_rounds(connection, seeded.account_id, position, deep_page)
            engine = app.extensions["tracker"].db.engine
            cases, facts = build_cases(connection, seeded, position, deep_page, options.r)
            facts["deep_page"] = deep_page
            facts["web_workers"] = options.web_workers
            print(f"APIs over HTTP (gunicorn, {options.web_workers} sync workers): {len(cases)} pages, "
                  f"{options.warmup} warm-up requests each, then {options.r} rounds ...", flush=True)
            client = app.test_client()
            plans = None if options.no_explain else (lambda case: explain(client, engine, connection, case))
            load_before = os.getloadavg()[0]
            measured, facts["old"] = measure(server, app, cases, options, connection, plans, old, in_rounds)
            facts["load"] = (load_before, os.getloadavg()[0])
            results[len(results) - 1:len(results) - 1] = [result for result, _ in in_rounds]  # before OFFSET
            for result, _ in in_rounds:
                print(f"  {result.api:<18} {result.page:<34} p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms",
                      flush=True)
            for case, result in zip(cases, measured, strict=False):
                results.append(result)
                state = result.skipped or (f"p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms, "
                                           f"gunicorn CPU {result.cpu_ms:.2f} ms")
                print(f"  {case.api:<10} {case.page:<34} {state}", flush=True)
            check_native_deep(server, cases, results, connection, seeded.account_id, position)
    finally:
        app.extensions["tracker"].db.dispose()
        connection.close()
    return results, facts


def deep_position(connection, account_id: int, rows_before: int) -> tuple:
    """(updated_at, id) of the last row before the deep page: what its cursor encodes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT updated_at, id FROM deliveries WHERE account_id = %s ORDER BY updated_at, id "
                       "OFFSET %s LIMIT 1", (account_id, rows_before - 1))
        return cursor.fetchone()


def walk_to(server: Server, case: Case) -> None:
    """Read every page before ``case``'s in order, as a client paging through would (leaving page marks)."""
    started, page = time.perf_counter(), 0
    while True:
        params, offset = case.walk(page)
        if offset >= case.walk(-1)[1]:
            break
        answer = server.get(case.path, params, case.headers)
        if answer.status != 200:
            case.note = f"walk stopped at offset {offset:,}: HTTP {answer.status}"
            return
        page += 1
    case.note = f"reached by reading the {page:,} pages before it in order ({time.perf_counter() - started:.1f} s)"


def _has_route(app, case: Case) -> bool:
    """The route is in the app (bench/noop_wsgi.py's own routes are always there)."""
    return case.path.startswith("/bench/") or app.url_map.bind("localhost").test(case.path, case.method)


def probe(server: Server, app, case: Case) -> Result:
    """The page's first request: skipped if the route is not there yet, FAILED unless it answers a list."""
    result = Result(case.api, case.page, note=case.note, baseline=case.depth, pair=case.pair)
    if not _has_route(app, case):
        result.skipped = f"skipped: no route {case.path} yet (404)"
        return result
    answer = server.get(case.path, case.params, case.headers, case.method)
    body = _json(answer.body)
    items = case.items(body) if answer.status == case.expect else None
    if items is None:
        result.skipped = f"FAILED: HTTP {answer.status} {answer.body.decode(errors='replace').strip()[:300]}"
        return result
    result.items = items
    if items == 0 and case.expect == 200:
        result.note = (result.note + "; " if result.note else "") + "EMPTY page"
    return result


def timed_request(server: Server, case: Case, result: Result) -> None:
    answer = server.get(case.path, case.params, case.headers, case.method)
    if answer.status != case.expect:
        result.skipped = f"FAILED during timing: HTTP {answer.status}"
    else:
        result.samples.append(answer.seconds)
        result.cpu.append(answer.cpu)


def measure(server: Server, app, cases: list[Case], options, connection, plans: Callable | None,
            old: Server | None = None, sql: list[tuple[Result, SqlTimer]] = ()
            ) -> tuple[list[Result], dict[tuple[str, str], Result]]:
    """Warm up, then time the pages round-robin (R rounds, each in its own shuffled order), so that load
    from elsewhere hits all alike. ``sql``: queries timed as pages of the rounds too, into their Result.

    A page that consumes what it returns (Infobip reports) is timed on its own, in order, after
    its ``prepare``. ``plans(case)``, if given, is each page's query plans, taken after its timing.
    ``old``: another tree's gunicorn; each page that is no consuming one is also timed on it, next
    to this tree's request in every round (first in one round, second in the next). Returns this
    tree's results, and the old tree's by (api, page).
    """
    for case in cases:
        if case.walk is not None and _has_route(app, case):
            walk_to(server, case)  # the page marks are in Redis: the old tree's server finds them too
    results = {id(case): probe(server, app, case) for case in cases if not case.consumes}
    live = [case for case in cases if not case.consumes and not results[id(case)].skipped]
    olds = {id(case): probe(old, app, case) for case in live} if old is not None else {}
    for case in live:
        for _ in range(options.warmup):
            server.get(case.path, case.params, case.headers, case.method)
            if old is not None:
                old.get(case.path, case.params, case.headers, case.method)
    for _, timer in sql:
        for _ in range(options.warmup):
            timer()
    for round_ in range(options.r):
        # A page's cost depends on what ran just before it (a page after the 204 route met colder
        # caches than one after a page of the same API): a new order each round, the same each run.
        for case in random.Random(round_).sample([*live, *sql], len(live) + len(sql)):
            if isinstance(case, tuple):  # a query of ``sql``
                result, timer = case
                result.samples.append(timer())
                continue
            # Which tree goes first alternates by round: whichever follows the other is not favoured.
            pairs = [(server, results), (old, olds)] if old is not None else [(server, results)]
            for at, by_case in (pairs if round_ % 2 == 0 else pairs[::-1]):
                if not by_case[id(case)].skipped:
                    timed_request(at, case, by_case[id(case)])

    for case in live:
        if plans is not None and not results[id(case)].skipped and case.method == "GET":
            results[id(case)].plans = plans(case)
    for case in (case for case in cases if case.consumes):
        if case.prepare is not None and _has_route(app, case):
            started = time.perf_counter()
            case.note = case.prepare(connection)
            print(f"  ({case.api}: {case.note}, in {time.perf_counter() - started:.1f} s)", flush=True)
        result = results[id(case)] = probe(server, app, case)
        for n in range(options.warmup + options.r):
            if result.skipped:
                break
            if n < options.warmup:
                server.get(case.path, case.params, case.headers)
            else:
                timed_request(server, case, result)
        if plans is not None and not result.skipped:
            result.plans = plans(case)
    return [results[id(case)] for case in cases], {(case.api, case.page): olds[id(case)] for case in live if olds}


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None


def check_native_deep(server: Server, cases: list[Case], results: list[Result], connection, account_id: int,
                      position: tuple) -> None:
    """The native deep page holds exactly the raw keyset SQL page's rows (a cheap correctness check)."""
    with connection.cursor() as cursor:
        cursor.execute(KEYSET_AFTER.replace("SELECT *", "SELECT id"), (account_id, *position))
        expected = [row[0] for row in cursor.fetchall()]
    for case, result in zip(cases, results[-len(cases):], strict=False):
        if case.api == "native" and case.depth == "deep" and not result.skipped:
            body = json.loads(server.get(case.path, case.params, case.headers).body)
            same = [item["id"] for item in body["data"]] == expected
            result.note = ("same rows as the SQL page" if same else "DIFFERENT rows from the SQL page!")


if __name__ == "__main__":
    main()
