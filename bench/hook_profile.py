"""In-process CPU of the SNS receiver per request, against a 204 route in the same app and run.

Calls the tracker's WSGI app directly (as gunicorn's sync worker does, without the socket),
on a fresh PostgreSQL database, with the same distinct signed SES bounces bench/ingest.py
posts: CPU (process time) per request of POST /hooks/sns/<token> and of POST /bench/noop,
interleaved in rounds, printed as medians and as their ratio. --profile writes a cProfile
of the receiver's requests (sorted by cumulative time) or, with pyinstrument installed,
--pyinstrument prints its call tree.

    .venv/bin/python bench/hook_profile.py [-n 2000] [--rounds 5] [--profile 40] [--pyinstrument]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.database import throwaway_database  # noqa: E402
from tests.support.sns_signing import SnsTestPki  # noqa: E402

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="requests per route and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, metavar="LINES", help="cProfile the receiver: print the top LINES")
    parser.add_argument("--pyinstrument", action="store_true", help="pyinstrument's tree of the receiver")
    options = parser.parse_args()

    from tracker.db import repository
    from tracker.db.engine import Database

    with throwaway_database("tracker_hookprof") as url, tempfile.TemporaryDirectory() as tmp:
        db = Database(url)
        with db.transaction() as session:
            account = repository.create_account(session, "bench")
            token = repository.create_source(session, account, "ses", ["*"]).token
        db.dispose()
        (Path(tmp) / "certs").mkdir()
        pki = SnsTestPki(Path(tmp) / "certs")
        os.environ.update({"TRACKER_DATABASE_URL": url, "TRACKER_BROKER_URL": REDIS_URL,
                           "TRACKER_SNS_CERT_DIR": str(pki.directory)})
        run(options, pki, token)


def run(options, pki: SnsTestPki, token: str) -> None:
    import redis
    from werkzeug.test import EnvironBuilder

    from bench.ingest import bounce
    from bench.noop_wsgi import app
    from tests.support.sns_signing import notification
    import json

    redis.Redis.from_url(REDIS_URL).flushdb()
    serial = iter(range(10**9))

    def environs(path: str, count: int) -> list[dict]:
        built = []
        for _ in range(count):
            n = next(serial)
            body = json.dumps(pki.sign(notification(bounce(f"prof-{n}", f"r{n}@example.com")), "1")).encode()
            builder = EnvironBuilder(path=path, method="POST", data=body, headers={
                "Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"})
            built.append(builder.get_environ())
        return built

    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def serve(batch: list[dict]) -> float:
        """CPU seconds per request for ``batch`` (each environ used once)."""
        started = time.process_time()
        for environ in batch:
            result = app(environ, start_response)
            for _ in result:
                pass
            getattr(result, "close", lambda: None)()
        return (time.process_time() - started) / len(batch)

    hook = f"/hooks/sns/{token}"
    serve(environs(hook, 200))  # warm: imports, pools, certificate cache, prepared statement
    serve(environs("/bench/noop", 200))
    figures = {"hook": [], "noop": []}
    for _ in range(options.rounds):
        for name, path in (("noop", "/bench/noop"), ("hook", hook)):
            batch = environs(path, options.n)
            statuses.clear()
            figures[name].append(serve(batch))
            assert set(statuses) <= {"200 OK", "204 NO CONTENT"}, set(statuses)
    hook_us = statistics.median(figures["hook"]) * 1e6
    noop_us = statistics.median(figures["noop"]) * 1e6
    print(f"{options.rounds} rounds of {options.n}: CPU per request, median (min-max)")
    for name, values in figures.items():
        print(f"  {name:5} {statistics.median(values) * 1e6:7.0f} us ({min(values) * 1e6:.0f}-{max(values) * 1e6:.0f})")
    print(f"  receiver - 204 route: {hook_us - noop_us:.0f} us; receiver / 204 route: {hook_us / noop_us:.2f}x")

    if options.profile:
        import cProfile
        import pstats

        batch = environs(hook, options.n)
        profiler = cProfile.Profile(time.process_time)  # CPU, not the wait on the WAL flush
        profiler.enable()
        serve(batch)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(options.profile)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(options.profile)
        print(out.getvalue())
    if options.pyinstrument:
        from pyinstrument import Profiler

        batch = environs(hook, options.n)
        profiler = Profiler(interval=0.0001)
        profiler.start()
        serve(batch)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
