"""Replay benchmark: N failed events replayed by `tracker events replay --all-failed`.

Seeds a fresh PostgreSQL database with N failed inbox rows (SES bounces that "failed on
a parser bug"), then runs the real CLI command in a child process and reports its wall
time, events/s and peak resident memory (ru_maxrss of the child). Run it at two sizes to
see that memory does not grow with N:

    .venv/bin/python bench/replay.py -n 100000
    .venv/bin/python bench/replay.py -n 10000
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.database import throwaway_database  # noqa: E402


def bounce_envelope(n: int) -> str:
    message = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "feedbackId": f"fb-{n}",
                   "timestamp": "2026-11-22T12:00:01.000Z",
                   "bouncedRecipients": [{"emailAddress": f"r{n}@example.com", "diagnosticCode": "smtp; 550"}]},
        "mail": {"timestamp": "2026-11-22T12:00:00.000Z", "source": "s@example.com", "messageId": f"replay-{n}",
                 "destination": [f"r{n}@example.com"]},
    }
    return json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()),
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses", "Message": json.dumps(message),
                       "Timestamp": "2026-11-22T12:00:02.000Z"})


def seed(url: str, n: int) -> None:
    from tracker.db import repository
    from tracker.db.engine import Database
    from tracker.db.models import InboxEvent, utcnow

    db = Database(url)
    with db.transaction() as session:
        account = repository.create_account(session, "bench")
        source = repository.create_source(session, account, "ses", ["*"])
        ids = (account.id, source.id)
    now = utcnow()
    for start in range(0, n, 5000):
        rows = [{"account_id": ids[0], "source_id": ids[1], "provider": "ses", "kind": "notification",
                 "dedupe_key": f"seed-{i}", "body": bounce_envelope(i), "received_at": now, "state": "failed",
                 "attempts": 1, "error": "bouncedRecipients: parser bug", "failure_kind": "parse",
                 "first_failed_at": now, "last_failed_at": now, "replay_count": 0}
                for i in range(start, min(start + 5000, n))]
        with db.transaction() as session:
            session.execute(InboxEvent.__table__.insert(), rows)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000)
    options = parser.parse_args()
    with throwaway_database("tracker_bench_replay") as url:
        started = time.perf_counter()
        seed(url, options.n)
        print(f"seeded {options.n} failed events in {time.perf_counter() - started:.1f} s", flush=True)
        env = {**os.environ, "TRACKER_DATABASE_URL": url, "TRACKER_BROKER_URL": ""}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tracker.cli.main", "events", "replay", "--all-failed"], env=env,
                       check=True, cwd=ROOT)
        elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nreplayed {options.n} events in {elapsed:.1f} s ({options.n / elapsed:.0f}/s), "
          f"peak RSS of the replaying process {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
