"""What keeping the statistics and evaluating reputation costs the worker, measured in one run.

Two fresh PostgreSQL databases receive the same N raw SES events (Send, then Delivery or
Bounce or Complaint per recipient, in batches of the worker's size, shuffled) and the
worker's apply path (tracker.pipeline.ingest.drain) processes them: once as shipped, once
with the statistics and the evaluation stubbed out (the baseline: the worker before them).
Rounds alternate between the two, so load from elsewhere on the machine hits both alike.
Reported: events applied per second of each, and the ratio.

    .venv/bin/python bench/stats_overhead.py [-n 20000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apply import seeded as seeded_inbox  # noqa: E402
from tests.support.database import throwaway_database  # noqa: E402


def events(n: int, seed: int = 5) -> list[str]:
    """N raw SES event records (as SQS raw delivery hands them over) over n/4 recipients."""
    rng = random.Random(seed)
    sent = datetime.now(UTC) - timedelta(hours=2)
    found = []
    for i in range(n // 2):
        recipient = f"r{i}@example.org"
        mail = {"timestamp": sent.isoformat().replace("+00:00", "Z"), "messageId": f"bench-{i}",
                "source": f"news@d{i % 7}.example", "destination": [recipient]}
        at = (sent + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        found.append({"eventType": "Send", "mail": mail, "send": {}})
        fate = rng.random()
        if fate < 0.9:
            found.append({"eventType": "Delivery", "mail": mail, "delivery": {"timestamp": at,
                                                                              "recipients": [recipient]}})
        elif fate < 0.97:
            found.append({"eventType": "Bounce", "mail": mail, "bounce": {
                "bounceType": "Permanent", "bounceSubType": "General", "timestamp": at, "feedbackId": f"b{i}",
                "bouncedRecipients": [{"emailAddress": recipient}]}})
        else:
            found.append({"eventType": "Complaint", "mail": mail, "complaint": {
                "timestamp": at, "feedbackId": f"c{i}", "complainedRecipients": [{"emailAddress": recipient}]}})
    rng.shuffle(found)
    return [json.dumps(event) for event in found]


def seeded(url: str, bodies: list[str]):
    """A migrated database at ``url`` with an account, a source and the bodies as pending raw rows."""
    from tracker.domain import inbox

    return seeded_inbox(url, bodies, inbox.RAW, analyze=False)


@contextlib.contextmanager
def without_statistics():
    """The worker as it was before: no statistics kept, no reputation evaluated."""
    from tracker.db import repository

    with mock.patch.object(repository, "message_senders", lambda session, keys: {}), \
            mock.patch.object(repository, "stat_keys", lambda rows, senders: {}), \
            mock.patch.object(repository, "record_status_change", lambda session, before, after: 0), \
            mock.patch.object(repository, "messages_learning_sender", lambda session, messages: {}), \
            mock.patch("tracker.pipeline.reputation.evaluate", lambda session, ids, now=None: []):
        yield


def apply_all(db) -> float:
    from tracker.pipeline import ingest

    started = time.perf_counter()
    result = ingest.drain(db, confirmer=None, settings=ingest.Settings())
    elapsed = time.perf_counter() - started
    assert result.failed == 0 and result.processed > 0, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20_000, help="events per run")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    bodies = events(options.n)
    import tracker.pipeline.ingest  # noqa: F401 - imported before any timing, not in the first run's
    timings: dict[str, list[float]] = {"with statistics": [], "baseline (without)": []}
    for round_number in range(options.rounds):
        order = list(timings) if round_number % 2 == 0 else list(reversed(timings))
        for name in order:
            with throwaway_database("tracker_bench_stats") as url:
                db = seeded(url, bodies)
                with (without_statistics() if name.startswith("baseline") else contextlib.nullcontext()):
                    timings[name].append(apply_all(db))
                db.dispose()
            print(f"round {round_number + 1}: {name}: {len(bodies) / timings[name][-1]:,.0f} events/s", flush=True)
    rate = {name: len(bodies) / statistics.median(times) for name, times in timings.items()}
    print(f"\n{len(bodies):,} events, {options.rounds} rounds, median:")
    for name, value in rate.items():
        print(f"  {name:<22} {value:,.0f} events/s")
    print(f"  with / without: {rate['with statistics'] / rate['baseline (without)']:.2f}")


if __name__ == "__main__":
    main()
