"""Operators' long jobs: replay, discard, rebuild and purge, in bounded chunks that resume.

Each job works through the inbox in id order, CHUNK rows per transaction, and records
how far it got (tracker.models.OperatorJob) after every chunk. Memory stays bounded by the
chunk, an interrupted job (Ctrl-C, a crash) loses at most the chunk in flight, and running
the same command again resumes where it stopped. Progress goes to a callback so the CLI
can draw a bar and the admin API can stay silent.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Callable, Iterable, Sequence

from tracker import inbox, ingest, repository
from tracker.models import utcnow
from tracker.repository.operations import EventFilter
from tracker.services import Services

CHUNK = 500

Progress = Callable[[int], None]  # called with how many rows a chunk just finished


def _silent(_: int) -> None:
    pass


@dataclasses.dataclass
class ReplaySummary:
    replayed: int = 0
    processed: int = 0
    still_failing: int = 0
    job_id: int | None = None
    resumed: bool = False

    def add(self, result: ingest.BatchResult, requeued: int) -> None:
        self.replayed += requeued
        self.processed += result.processed
        self.still_failing += result.failed + result.retrying

    def as_dict(self) -> dict:
        return {"replayed": self.replayed, "processed": self.processed, "still_failing": self.still_failing}


def replay_ids(services: Services, ids: Sequence[int], progress: Progress = _silent) -> ReplaySummary:
    """Replay the given failed rows now, in this process; rows not failed are left alone."""
    summary = ReplaySummary()
    for start in range(0, len(ids), CHUNK):
        chunk = sorted(ids[start:start + CHUNK])
        summary.add(*_replay_chunk(services, chunk))
        progress(len(chunk))
    return summary


def replay_matching(services: Services, where: EventFilter, *, restart: bool = False,
                    progress: Progress = _silent) -> ReplaySummary:
    """Replay every failed row matching ``where`` as a resumable job.

    The job walks failed rows by id past its cursor, so a row that fails again during
    the job is not replayed twice by it, and an interrupted job goes on from its cursor.
    """
    where = dataclasses.replace(where, state=inbox.FAILED)
    with services.db.transaction() as session:
        job, resumed = repository.open_job(session, "replay", dataclasses.asdict(where), restart=restart)
        job_id, cursor, counts = job.id, job.cursor, dict(job.counts or {})
    summary = ReplaySummary(job_id=job_id, resumed=resumed, **counts)
    while True:
        with services.db.session() as session:
            ids = repository.inbox_ids(session, where, after_id=cursor, limit=CHUNK)
        if not ids:
            break
        summary.add(*_replay_chunk(services, ids))
        cursor = ids[-1]
        with services.db.transaction() as session:
            repository.save_job(session, job_id, cursor=cursor, counts=summary.as_dict())
        progress(len(ids))
    with services.db.transaction() as session:
        repository.finish_job(session, job_id, summary.as_dict())
    return summary


def _replay_chunk(services: Services, ids: list[int]) -> tuple[ingest.BatchResult, int]:
    with services.db.transaction() as session:
        requeued = repository.requeue_for_replay(session, ids, utcnow())
    if not requeued:
        return ingest.BatchResult(), 0
    return ingest.process_rows(services.db, requeued, services.confirmer, services.settings), len(requeued)


def count_failed(services: Services, where: EventFilter) -> int:
    from sqlalchemy import func, select

    from tracker.models import InboxEvent

    where = dataclasses.replace(where, state=inbox.FAILED)
    with services.db.session() as session:
        return session.scalar(where.apply(select(func.count()).select_from(InboxEvent)))


def discard(services: Services, ids: Sequence[int], *, reason: str, by: str,
            account_id: int | None = None) -> list[int]:
    if not reason.strip():
        raise ValueError("a discard needs a reason")
    with services.db.transaction() as session:
        return repository.discard_events(session, ids, reason=reason, by=by, now=utcnow(), account_id=account_id)


@dataclasses.dataclass
class RebuildSummary:
    rows: int = 0
    applied: int = 0
    unreadable: int = 0
    job_id: int | None = None
    resumed: bool = False


def rebuild(services: Services, *, account_id: int | None = None, since: datetime | None = None,
            restart: bool = False, progress: Progress = _silent, total: Callable[[int], None] = _silent) -> RebuildSummary:
    """Recompute deliveries from the raw inbox; the result equals what incremental processing gave.

    Suppressions are left as they are: operators may have removed entries on purpose.
    """
    params = {"account_id": account_id, "since": since.isoformat() if since else None}
    with services.db.transaction() as session:
        job, resumed = repository.open_job(session, "rebuild", params, restart=restart)
        job_id, cursor, phase = job.id, job.cursor, job.phase
        counts = dict(job.counts or {})
        if phase == "started":
            counts["rows"] = repository.clear_for_rebuild(session, job_id, account_id=account_id, since=since)
            repository.save_job(session, job_id, phase="applying", counts=counts)
    summary = RebuildSummary(rows=counts.get("rows", 0), applied=counts.get("applied", 0),
                             unreadable=counts.get("unreadable", 0), job_id=job_id, resumed=resumed)
    total(summary.rows)
    settings = dataclasses.replace(services.settings, suppress=False)
    while True:
        with services.db.transaction() as session:
            rows = repository.job_items_after(session, job_id, cursor, CHUNK)
            if not rows:
                break
            applied, unreadable = ingest.reapply(session, rows, settings)
            summary.applied += applied
            summary.unreadable += unreadable
            cursor = rows[-1].id
            repository.save_job(session, job_id, cursor=cursor, counts=_rebuild_counts(summary))
        progress(len(rows))
    with services.db.transaction() as session:
        repository.finish_job(session, job_id, _rebuild_counts(summary))
    return summary


def _rebuild_counts(summary: RebuildSummary) -> dict:
    return {"rows": summary.rows, "applied": summary.applied, "unreadable": summary.unreadable}


@dataclasses.dataclass
class PurgeSummary:
    raw_events: dict[str, int] = dataclasses.field(default_factory=dict)  # by account name
    deliveries: dict[str, int] = dataclasses.field(default_factory=dict)
    replay_tokens: int = 0


def purge(services: Services, *, dry_run: bool, now: datetime | None = None, batch: int = 1000,
          accounts: Iterable | None = None) -> PurgeSummary:
    """Apply every account's retention, in small batches (each its own transaction)."""
    now = now or utcnow()
    summary = PurgeSummary()
    with services.db.session() as session:
        accounts = list(accounts) if accounts is not None else repository.accounts_with_retention(session)
    for account in accounts:
        if account.raw_retention_days is not None:
            cutoff = now - timedelta(days=account.raw_retention_days)
            summary.raw_events[account.name] = _in_batches(
                services, lambda s: repository.purge_raw_events(s, account, cutoff, limit=batch, dry_run=dry_run),
                dry_run, batch)
        if account.delivery_retention_days is not None:
            cutoff = now - timedelta(days=account.delivery_retention_days)
            summary.deliveries[account.name] = _in_batches(
                services, lambda s: repository.purge_deliveries(s, account, cutoff, limit=batch, dry_run=dry_run),
                dry_run, batch)
    with services.db.transaction() as session:
        summary.replay_tokens = repository.purge_replay_tokens(session, now - REPLAY_TOKEN_LIFETIME, dry_run=dry_run)
    return summary


# Longer than every provider's freshness window (24 h) plus its allowed clock skew.
REPLAY_TOKEN_LIFETIME = timedelta(days=2)


def _in_batches(services: Services, step, dry_run: bool, batch: int) -> int:
    total = 0
    while True:
        with services.db.transaction() as session:
            done = step(session)
        total += done
        if dry_run or done < batch:
            return total
