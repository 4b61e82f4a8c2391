"""Fault drills on the production path: python bench/drills [-n 10000] [--drill NAME ...].

Starts a private PostgreSQL cluster and Redis server on free ports (never the machine's
own), and for each drill: a fresh migrated database, `tracker serve` (gunicorn) and
`tracker worker` (Celery with beat) as real processes, N signed SES notifications posted
by an SNS-like sender (concurrent, retried on 5xx, timeouts and connection errors, some
MessageIds sent twice, several recipients per message, both SES families), and ONE fault:

  baseline        none (the reference)
  worker-kill     SIGKILL the pool process applying a batch, later tracker worker whole
  redis-stop      Redis stopped for --outage seconds, then started (its queues lost)
  postgres-stop   PostgreSQL stopped for --outage seconds, then started
  receiver-kill   SIGKILL gunicorn (master and workers), restarted a second later
  poison          one account's poison events next to another account's genuine ones

Reports acknowledged, applied, lost, applied twice, wrong statuses, the longest stall
(longest interval with rows pending and none settled) and the time to drain (from the last
acknowledgement until nothing is pending). Exits 1 if any drill found a problem.

    .venv/bin/python bench/drills -n 10000
    .venv/bin/python bench/drills -n 2000 --drill redis-stop --drill poison
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run as `python bench/drills`, Python puts this folder first on the path; its module names
# (run, report, ...) are not meant to be importable as top-level modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from bench.drills.faults import DRILLS  # noqa: E402
from bench.drills.report import as_json, describe, table  # noqa: E402
from bench.drills.run import Options, run_drill  # noqa: E402
from bench.drills.services import private_services  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=Options.n, help="unique SNS notifications per drill")
    parser.add_argument("--drill", action="append", choices=sorted(DRILLS),
                        help="repeat to pick several (default: all)")
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--outage", type=float, default=Options.outage, help="seconds Redis/PostgreSQL stay stopped")
    parser.add_argument("--drain-timeout", type=float, default=Options.drain_timeout)
    parser.add_argument("--clients", type=int, default=Options.clients, help="concurrent connections posting")
    parser.add_argument("--rate", type=float, help="notifications per second (default: as fast as answered)")
    parser.add_argument("--web-workers", type=int, default=Options.web_workers)
    parser.add_argument("--worker-concurrency", type=int, default=Options.worker_concurrency)
    parser.add_argument("--restart", choices=("always", "never"), default=Options.restart,
                        help="restart a process that exits by itself (as compose's unless-stopped), or leave it down")
    parser.add_argument("--redis-persist", action="store_true",
                        help="Redis saves and reloads its data across the restart (default: it loses everything)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the tracker's processes, e.g. TRACKER_SWEEP_INTERVAL=5")
    parser.add_argument("--keep-logs", type=Path, help="write each drill's process logs under this directory")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    options = Options(n=args.n, seed=args.seed, outage=args.outage, drain_timeout=args.drain_timeout,
                      clients=args.clients, rate=args.rate, web_workers=args.web_workers,
                      worker_concurrency=args.worker_concurrency, restart=args.restart,
                      extra_env=tuple(tuple(pair.split("=", 1)) for pair in args.env))
    names = args.drill or list(DRILLS)

    reports = []
    with (tempfile.TemporaryDirectory(prefix="drills-") as scratch,
          private_services(persist_redis=args.redis_persist) as (postgres, redis)):
        workdir = args.keep_logs or Path(scratch)
        for name in names:
            print(f"--- {name}: {DRILLS[name].description}", flush=True)
            report = run_drill(DRILLS[name], postgres, redis, options, workdir)
            print(describe(report), flush=True)
            reports.append(report)
    print()
    print(table(reports))
    if args.json:
        args.json.write_text(json.dumps(as_json(reports), indent=2))
    return 1 if any(report.problems() for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
