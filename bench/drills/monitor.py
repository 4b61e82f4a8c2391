"""Watching the inbox during a drill: pending and settled rows over time, the longest stall, the drain."""
from __future__ import annotations

import dataclasses
import threading
import time

import sqlalchemy as sa


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float  # seconds since the drill started
    pending: int | None  # None: the database could not be read
    settled: int | None  # processed, failed or discarded


class InboxMonitor(threading.Thread):
    """Samples the inbox every ``interval`` seconds from its own connection until stopped."""

    def __init__(self, database_url: str, started: float, interval: float = 0.1) -> None:
        super().__init__(name="inbox-monitor", daemon=True)
        self.engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool,
                                       connect_args={"connect_timeout": 1})
        self.started = started
        self.interval = interval
        self.samples: list[Sample] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            at = time.monotonic() - self.started
            try:
                with self.engine.connect() as connection:
                    pending, settled = connection.execute(sa.text(
                        "SELECT count(*) FILTER (WHERE state = 'pending'), "
                        "count(*) FILTER (WHERE state <> 'pending') FROM inbox_events")).one()
                self.samples.append(Sample(at, pending, settled))
            except sa.exc.OperationalError:
                self.samples.append(Sample(at, None, None))
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        self.engine.dispose()

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def wait_drained(self, since: float, timeout: float) -> float | None:
        """The first moment at or after ``since`` (seconds since the start) when nothing was pending, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for sample in self.samples:
                if sample.at >= since and sample.pending == 0:
                    return sample.at
            if time.monotonic() > deadline:
                return None
            time.sleep(self.interval)


def longest_stall(samples: list[Sample], until: float | None = None) -> tuple[float, float]:
    """(seconds, start) of the longest interval with rows pending and none settled.

    An interval ends when a sample shows a row settled or nothing pending; samples taken
    while the database was away continue whatever interval was open (pending work cannot
    progress without the database).
    """
    longest, longest_start = 0.0, 0.0
    since = None  # start of the open interval: the last time progress was seen with work left
    last_settled = None
    for sample in samples:
        if until is not None and sample.at > until:
            break
        if sample.pending is None:
            continue
        progressed = last_settled is not None and sample.settled > last_settled
        last_settled = sample.settled
        if sample.pending == 0:
            if since is not None and sample.at - since > longest:
                longest, longest_start = sample.at - since, since
            since = None
            continue
        if since is None or progressed:
            if since is not None and sample.at - since > longest:
                longest, longest_start = sample.at - since, since
            since = sample.at
    if since is not None and samples:
        end = samples[-1].at if until is None else min(samples[-1].at, until)
        if end - since > longest:
            longest, longest_start = end - since, since
    return longest, longest_start
