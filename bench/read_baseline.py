"""bench/read.py's baseline: the raw keyset SQL the native list stands on, through psycopg2.

Timed twice: alone, R times in a row before the pages ("keyset SQL", what x SQL divides by),
and as pages of the shuffled rounds ("keyset SQL, rounds", keyset_in_rounds). Both after a
CHECKPOINT (checkpoint), so that the seed's dirty pages are not being written out meanwhile.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from bench.read_cases import PAGE
from bench.read_plans import plan_summary
from bench.read_result import Result

OFFSET_CONTRAST = 100_000


def checkpoint(connection) -> None:
    """Write out the seed's dirty pages now, so that the checkpointer is not doing it while the baseline is timed."""
    import psycopg2

    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except psycopg2.Error as error:  # needs a superuser or pg_checkpoint: the figures are timed without it
        print(f"no CHECKPOINT before the timing: {str(error).strip()}", flush=True)
    else:
        print(f"CHECKPOINT before the timing ({time.perf_counter() - started:.1f} s)", flush=True)


KEYSET_FIRST = "SELECT * FROM deliveries WHERE account_id = %s ORDER BY updated_at, id LIMIT 100"
KEYSET_AFTER = ("SELECT * FROM deliveries WHERE account_id = %s AND (updated_at, id) > (%s, %s) "
                "ORDER BY updated_at, id LIMIT 100")
OFFSET_PAGE = "SELECT * FROM deliveries WHERE account_id = %s ORDER BY updated_at, id OFFSET %s LIMIT 100"


KEYSET_SQL, KEYSET_SQL_ROUNDS = "keyset SQL", "keyset SQL, rounds"
SqlTimer = Callable[[], float]


def _sql_timer(connection, sql: str, params: tuple) -> SqlTimer:
    """A callable that runs ``sql`` once on ``connection`` and returns its wall seconds (execute and fetch)."""
    def timed() -> float:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            return time.perf_counter() - started
    return timed


def _keyset_pages(connection, account_id: int, position: tuple, deep_page: int) -> list[tuple[dict, SqlTimer]]:
    """The three keyset baselines: (Result's fields but the API, its timer)."""
    return [
        ({"page": "first", "items": PAGE, "baseline": "first"},
         _sql_timer(connection, KEYSET_FIRST, (account_id,))),
        ({"page": f"page {deep_page:,} (row {(deep_page - 1) * PAGE + 1:,})", "items": PAGE, "baseline": "deep",
          "pair": "first"},
         _sql_timer(connection, KEYSET_AFTER, (account_id, *position))),
        ({"page": "first, LIMIT 1000", "items": 1000, "baseline": "first-1000",
          "note": "the baseline of the 1000-row pages"},
         _sql_timer(connection, KEYSET_FIRST.replace("LIMIT 100", "LIMIT 1000"), (account_id,))),
    ]


def keyset_in_rounds(connection, account_id: int, position: tuple, deep_page: int) -> list[tuple[Result, SqlTimer]]:
    """The keyset baselines as pages of the shuffled rounds (measure): x rounds divides by these."""
    return [(Result(KEYSET_SQL_ROUNDS, **fields), timer)
            for fields, timer in _keyset_pages(connection, account_id, position, deep_page)]


def baseline(connection, account_id: int, position: tuple, deep_page: int, options) -> list[Result]:
    """The raw keyset query timed alone, R times in a row before the pages (first page, deep page,
    1000 rows), and an OFFSET page for contrast."""
    def timed(timer: SqlTimer, repeat: int, warmup: int) -> list[float]:
        return [seconds for n, seconds in enumerate(timer() for _ in range(warmup + repeat)) if n >= warmup]

    print("baseline: raw keyset SQL, alone ...", flush=True)
    first, deep, wide = (Result(KEYSET_SQL, samples=timed(timer, options.r, options.warmup), **fields)
                         for fields, timer in _keyset_pages(connection, account_id, position, deep_page))
    offset = min(OFFSET_CONTRAST, options.n - PAGE)
    contrast = Result("OFFSET SQL", f"OFFSET {offset:,} (3 runs)",
                      timed(_sql_timer(connection, OFFSET_PAGE, (account_id, offset)), 3, 1), PAGE, baseline="deep",
                      note="same ORDER BY, OFFSET instead of the keyset condition")
    for result, sql, params in ((first, KEYSET_FIRST, (account_id,)),
                                (deep, KEYSET_AFTER, (account_id, *position)),
                                (wide, KEYSET_FIRST.replace("LIMIT 100", "LIMIT 1000"), (account_id,)),
                                (contrast, OFFSET_PAGE, (account_id, offset))):
        if not options.no_explain:
            result.plans = [plan_summary(connection, sql, params)]
        print(f"  {result.api:<10} {result.page:<34} p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms", flush=True)
    return [first, deep, wide, contrast]
