"""What the worker's apply costs PostgreSQL, against a plain INSERT..SELECT of the same rows, in one run.

A fresh database's inbox gets N distinct signed SES notifications (worker stopped): per
message two recipients, each a Send, then a Delivery (most), a Bounce or a Complaint, in
shuffled order. Then, per round and interleaved:
  baseline  the same rows copied by one INSERT..SELECT per batch of the worker's size (or --batch),
            one COMMIT each (what PostgreSQL does for the least possible apply)
  apply     tracker.pipeline.ingest.drain over the backlog, in-process
Reported (medians over rounds): events applied/s, SQL statements per batch (a
before_cursor_execute listener), PostgreSQL backend CPU per event (this process's own
backends: their pids from pg_backend_pid(), /proc/<pid>/stat), each apply figure also as
a ratio to the baseline's, and the apply's own CPU per event (this process: the worker's
Python). Run it on two commits to compare them (copy it over).

    .venv/bin/python bench/apply.py [-n 10000] [--rounds 3] [--profile] [--batch 500]

--batch sets the events per batch: the worker's own batches are as long as its backlog, up to
500, so under light traffic they are short, and each batch's ~28 statements cost PostgreSQL a
fixed amount whatever their length.

Measured 2026-12-04 on the shared 2-core development machine (-n 10000 --rounds 2, run
twice on each commit, alternately; other jobs kept its load at 10-15), against the
same-run baseline (0.010 ms of PostgreSQL CPU per row):
  before (e334b05): 0.186 / 0.195 ms PG CPU per event = 17.7x / 19.5x; 38.0 statements per batch
  after:            0.140 / 0.129 ms PG CPU per event = 14.0x / 13.5x; 27.9 statements per batch
Events/s against the baseline's rows/s moved from 0.024x / 0.015x to 0.030x / 0.022x; wall
time is noisy on a loaded machine, CPU and statement counts are not.

2026-12-05, quiet machine, the batch's writes as one array per column (README, fourteenth
round), two runs on each commit alternately: the worker's own CPU 0.272 / 0.266 -> 0.221 /
0.215 ms per event, PostgreSQL's 0.115 / 0.109 -> 0.101 / 0.099 ms (12.6x / 12.4x the baseline's
0.008 ms per row); 27.7 statements per batch either way.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.database import throwaway_database  # noqa: E402
from tests.support.sns_signing import SnsTestPki, notification  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PROFILE = False


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bodies(n: int, seed: int = 12) -> list[str]:
    """N signed SNS notifications (SES events) over n/4 messages of two recipients each."""
    rng = random.Random(seed)
    pki = SnsTestPki(Path(tempfile.mkdtemp(prefix="bench-apply-")))
    sent = datetime.now(UTC) - timedelta(hours=2)
    found = []
    for i in range(n // 4):
        recipients = [f"a{i}@example.org", f"b{i}@example.org"]
        mail = {"timestamp": _iso(sent), "messageId": f"bench-{i}", "source": f"news@d{i % 7}.example",
                "destination": recipients}
        at = _iso(sent + timedelta(minutes=1))
        for recipient in recipients:
            found.append({"eventType": "Send", "mail": {**mail, "destination": [recipient]}, "send": {}})
            fate = rng.random()
            if fate < 0.85:
                found.append({"notificationType": "Delivery", "mail": mail, "delivery": {
                    "timestamp": at, "recipients": [recipient], "smtpResponse": "250 ok"}})
            elif fate < 0.95:
                found.append({"notificationType": "Bounce", "mail": mail, "bounce": {
                    "bounceType": "Permanent" if fate < 0.92 else "Transient", "bounceSubType": "General",
                    "timestamp": at, "feedbackId": f"b-{recipient}",
                    "bouncedRecipients": [{"emailAddress": recipient, "status": "5.1.1"}]}})
            else:
                found.append({"notificationType": "Complaint", "mail": mail, "complaint": {
                    "timestamp": at, "feedbackId": f"c-{recipient}",
                    "complainedRecipients": [{"emailAddress": recipient}]}})
    rng.shuffle(found)
    return [json.dumps(pki.sign(notification(event))) for event in found]


def seeded(url: str, texts: list[str], kind: str | None = None, *, analyze: bool = True):
    """The database at ``url`` with an account, a source and ``texts`` as pending inbox rows of
    ``kind`` (SNS notifications; "raw" for bare SES events), its statistics fresh if ``analyze``."""
    from tracker.db import repository
    from tracker.db.engine import Database
    from tracker.domain import inbox

    db = Database(url)
    with db.transaction() as session:
        account = repository.create_account(session, "bench")
        source = repository.create_source(session, account, "ses", ["*"])
        account_id, source_id = account.id, source.id
    with db.engine.begin() as connection:
        for n, body in enumerate(texts):
            repository.store_inbox_event(connection, source_id=source_id, account_id=account_id, provider="ses",
                                         kind=kind or inbox.NOTIFICATION, dedupe_key=f"k{n}", body=body)
    if analyze:
        with db.engine.connect() as connection:  # fresh statistics: both paths plan on the same facts
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return db


class Meter:
    """Statements sent and CPU used by the database backends of one engine while it is on."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements = 0
        self.kinds: Counter = Counter()
        self.pids: set[int] = set()
        self._seen = set()
        event.listen(engine, "before_cursor_execute", self._count)
        event.listen(engine, "connect", self._pid)
        engine.dispose()  # so that every connection from now on goes through connect

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements += 1
        self.kinds[" ".join(statement.split()[:5])[:80]] += 1

    def _pid(self, dbapi_connection, record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        self.pids.add(cursor.fetchone()[0])
        cursor.close()

    def cpu(self) -> float:
        """Seconds of CPU (user + system) the backends used so far."""
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
        return total / TICKS


def baseline(db, n: int, batch: int) -> tuple[float, float, int]:
    """Copy the inbox rows into a same-shaped scratch table, a batch per statement and commit."""
    meter = Meter(db.engine)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bench_copy")
        connection.exec_driver_sql("CREATE TABLE bench_copy (LIKE inbox_events INCLUDING ALL)")
        low = connection.exec_driver_sql("SELECT min(id) FROM inbox_events").scalar()
    meter.statements = 0
    cpu, started = meter.cpu(), time.perf_counter()
    for first in range(low, low + n, batch):
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO bench_copy SELECT * FROM inbox_events WHERE id >= %(a)s AND id < %(b)s",
                {"a": first, "b": first + batch})
    elapsed = time.perf_counter() - started
    return elapsed, meter.cpu() - cpu, meter.statements


def apply(db, batch: int) -> tuple[float, float, int, int, float]:
    """Drain the inbox in batches of ``batch``: (seconds, backend CPU seconds, statements, batches,
    this process's CPU seconds: the worker's own work)."""
    from tracker.pipeline import ingest

    meter = Meter(db.engine)
    settings = ingest.Settings(batch_size=batch)
    with db.engine.connect() as connection:  # a first connection, so its pid is known before timing
        connection.exec_driver_sql("SELECT 1")
    meter.statements = 0
    meter.kinds.clear()
    cpu, started, own = meter.cpu(), time.perf_counter(), time.process_time()
    batches = 0
    while True:
        result = ingest.process_pending(db, confirmer=None, settings=settings)
        assert result.failed == 0 and result.retrying == 0, result
        if not result.claimed:
            break
        batches += 1
    elapsed = time.perf_counter() - started
    if PROFILE:
        print(f"    statements per batch, by kind ({batches} batches):")
        for text, count in meter.kinds.most_common():
            print(f"    {count / batches:8.1f}  {text}")
    return elapsed, meter.cpu() - cpu, meter.statements, batches, time.process_time() - own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000, help="events in the inbox")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also print one batch's statements")
    parser.add_argument("--batch", type=int, help="events per batch (default: the worker's, Settings.batch_size)")
    options = parser.parse_args()
    global PROFILE
    PROFILE = options.profile
    texts = bodies(options.n)
    import tracker.pipeline.ingest  # noqa: F401 - imported before any timing
    from tracker.pipeline.ingest import Settings

    batch = options.batch or Settings().batch_size
    figures: dict[str, list[tuple]] = {"baseline": [], "apply": []}
    for round_number in range(options.rounds):
        order = ["baseline", "apply"] if round_number % 2 == 0 else ["apply", "baseline"]
        for name in order:
            with throwaway_database("tracker_bench_apply") as url:
                db = seeded(url, texts)
                if name == "baseline":
                    elapsed, cpu, statements = baseline(db, len(texts), batch)
                    batches, own = -(-len(texts) // batch), 0.0
                else:
                    elapsed, cpu, statements, batches, own = apply(db, batch)
                figures[name].append((len(texts) / elapsed, cpu / len(texts) * 1e3, statements / batches,
                                      own / len(texts) * 1e3))
                print(f"round {round_number + 1} {name:<8} {figures[name][-1][0]:8,.0f} events/s "
                      f"{figures[name][-1][1]:.3f} ms CPU/event {figures[name][-1][2]:.1f} statements/batch"
                      + (f", worker {figures[name][-1][3]:.3f} ms CPU/event" if name == "apply" else ""),
                      flush=True)
                db.dispose()
    median = {name: [statistics.median(f[i] for f in rows) for i in range(4)] for name, rows in figures.items()}
    (rate, cpu, per_batch, own), (base_rate, base_cpu, base_per_batch, _) = median["apply"], median["baseline"]
    print(f"\n{len(texts):,} events, batches of {batch}, {options.rounds} rounds, medians:")
    print(f"  baseline INSERT..SELECT  {base_rate:9,.0f} rows/s    {base_cpu:.3f} ms PG CPU/row   "
          f"{base_per_batch:.1f} statements/batch")
    print(f"  apply (drain)            {rate:9,.0f} events/s  {cpu:.3f} ms PG CPU/event "
          f"{per_batch:.1f} statements/batch; the worker's own CPU {own:.3f} ms/event")
    print(f"  apply / baseline: {rate / base_rate:.3f}x the rate, {cpu / base_cpu:.1f}x the PG CPU per event")


if __name__ == "__main__":
    main()
