"""A worker process for concurrency tests: ``python -m tests.support.apply_worker URL BATCH GO``.

It opens its own connection, waits until the file GO exists (so that every worker of a test
starts together), then applies pending inbox rows through tracker.pipeline.ingest.process_pending,
BATCH rows per transaction, until a claim comes back empty (the rest are done or being applied by
another worker). Prints the totals as one JSON line.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class _NoConfirmations:
    """The tests' backlogs hold no SNS subscription confirmation."""

    def confirm(self, envelope):  # pragma: no cover - never called
        raise AssertionError("no subscription confirmation expected")


def main(url: str, batch: int, go: Path) -> None:
    from tracker.db.engine import Database
    from tracker.pipeline import ingest

    db = Database(url)
    with db.session() as session:  # connect before the start, so that the workers start together
        session.connection().exec_driver_sql("SELECT 1")
    while not go.exists():
        time.sleep(0.005)
    settings = ingest.Settings(batch_size=batch)
    total = ingest.BatchResult()
    while True:
        result = ingest.process_pending(db, _NoConfirmations(), settings)
        total += result
        if not result.claimed:
            break
    db.dispose()
    print(json.dumps({"claimed": total.claimed, "processed": total.processed, "failed": total.failed,
                      "retrying": total.retrying}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
