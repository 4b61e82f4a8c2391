"""Operators' long jobs: replay, discard, rebuild and purge, in bounded chunks that resume.

Each job works through the inbox in id order, CHUNK rows per transaction, and records
how far it got (tracker.db.models.OperatorJob) after every chunk. Memory stays bounded by the
chunk, an interrupted job (Ctrl-C, a crash) loses at most the chunk in flight, and running
the same command again resumes where it stopped. Progress goes to a callback so the CLI
can draw a bar and the admin API can stay silent.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from collections.abc import Callable, Iterable, Sequence

from tracker.pipeline import ingest
from tracker.domain import inbox
from tracker.db import repository
from tracker.domain import engagement, fold, milestones
from tracker.db.models import utcnow
from tracker.outbound import outbox
from tracker.db.repository.operations import EventFilter

if TYPE_CHECKING:  # only named: callers hand the services in (tracker.services is above this layer)
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


def count_failed(services: Services, where: EventFilter, *, after_id: int = 0) -> int:
    """The failed rows matching ``where`` (with an id past ``after_id``)."""
    where = dataclasses.replace(where, state=inbox.FAILED)
    with services.db.session() as session:
        return repository.count_inbox_events(session, where, after_id=after_id)


def discard(services: Services, ids: Sequence[int], *, reason: str, by: str,
            account_id: int | None = None) -> list[int]:
    if not reason.strip():
        raise ValueError("a discard needs a reason")
    with services.db.transaction() as session:
        return repository.discard_events(session, ids, reason=reason, by=by, now=utcnow(), account_id=account_id)


@dataclasses.dataclass
class RebuildSummary:
    rows: int = 0  # raw events re-applied
    applied: int = 0  # history events they gave
    unreadable: int = 0  # raw events the parsers refuse now, whole or in part (a batch's element)
    deliveries: int = 0  # deliveries recomputed from their history
    changed: int = 0  # of which the rebuild changed (or made): their subscribers are told
    removed: int = 0  # deliveries left with no event and no registration: gone
    job_id: int | None = None
    resumed: bool = False

    def counts(self) -> dict:
        return {name: getattr(self, name) for name in ("rows", "applied", "unreadable", "deliveries", "changed",
                                                       "removed")}


Stage = Callable[[str, int], None]  # a stage of a long job begins: its name and how many items it has


def _no_stage(name: str, size: int) -> None:
    pass


def rebuild(services: Services, *, account_id: int | None = None, since: datetime | None = None,
            restart: bool = False, progress: Progress = _silent, stage: Stage = _no_stage) -> RebuildSummary:
    """Recompute deliveries from the raw inbox; the result equals what incremental processing gave.

    Three phases, each resumable: fix the scope and drop the history its raw events gave;
    re-apply those raw events in id order (new history, and deliveries they create); then
    recompute every delivery in scope from its whole history, in id order. Deliveries keep
    their ids, registrations and status sequences (a sequence moves on only where the
    status really changes), so API clients, webhook subscribers and pull-style reports see
    nothing move that did not; webhook subscribers are sent the statuses that did change.
    Suppressions are left as they are: operators may have removed entries on purpose.
    The delivery statistics are counted again at the end.
    """
    params = {"account_id": account_id, "since": since.isoformat() if since else None}
    with services.db.transaction() as session:
        job, resumed = repository.open_job(session, "rebuild", params, restart=restart)
        job_id, cursor, phase, started_at = job.id, job.cursor, job.phase, job.started_at
        summary = RebuildSummary(job_id=job_id, resumed=resumed, **(job.counts or {}))
        if phase == "started":
            summary.rows = repository.clear_for_rebuild(session, job_id, account_id=account_id, since=since)
            phase, cursor = "applying", 0
            repository.save_job(session, job_id, phase=phase, cursor=cursor, counts=summary.counts())
    if phase == "applying":
        stage("re-applying raw events", summary.rows)
        _reapply(services, summary, cursor, progress)
        phase, cursor = "recomputing", 0
        with services.db.transaction() as session:
            repository.save_job(session, job_id, phase=phase, cursor=cursor)
    if phase == "recomputing":
        with services.db.session() as session:
            stage("recomputing deliveries",
                  repository.count_rebuild_deliveries(session, account_id=account_id, since=since))
        _recompute(services, summary, cursor, progress, account_id=account_id, since=since, started_at=started_at)
    with services.db.transaction() as session:
        # The recomputation overwrote deliveries wholesale: count them again (the account's, or all).
        repository.rebuild_stats(session, account_id)
        repository.finish_job(session, job_id, summary.counts())
    return summary


def _reapply(services: Services, summary: RebuildSummary, cursor: int, progress: Progress) -> None:
    settings = dataclasses.replace(services.settings, suppress=False)
    while True:
        with services.db.transaction() as session:
            rows = repository.job_items_after(session, summary.job_id, cursor, CHUNK)
            if not rows:
                return
            applied, unreadable = ingest.reapply(session, rows, settings)
            summary.applied += applied
            summary.unreadable += unreadable
            cursor = rows[-1].id
            repository.save_job(session, summary.job_id, cursor=cursor, counts=summary.counts())
        progress(len(rows))


def _recompute(services: Services, summary: RebuildSummary, cursor: int, progress: Progress, *,
               account_id: int | None, since: datetime | None, started_at: datetime) -> None:
    while True:
        with services.db.transaction() as session:
            deliveries = repository.rebuild_deliveries(session, account_id=account_id, since=since, after_id=cursor,
                                                       limit=CHUNK)
            if not deliveries:
                return
            now = utcnow()
            histories = repository.stored_histories(session, deliveries)
            registered = repository.registered_messages(
                session, [(d.account_id, d.message_id) for d in deliveries if not histories[_key(d)]])
            removed, changed = [], []
            for delivery in deliveries:
                events = histories[_key(delivery)]
                if not events and (delivery.account_id, delivery.message_id) not in registered:
                    # Only events or a registration make a delivery: with neither, incremental
                    # processing of this inbox would never have made it (a parser since fixed did).
                    removed.append(delivery.id)
                    continue
                before = delivery.status
                change = repository.DeliveryChange(
                    account_id=delivery.account_id, provider=delivery.provider, message_id=delivery.message_id,
                    recipient=delivery.recipient, state=fold(events), new_events=len(events),
                    engagement=engagement(events), milestones=milestones(events))
                if repository.overwrite_delivery(delivery, change, now) or delivery.created_at >= started_at:
                    # A delivery the re-applied events created is new to subscribers as well
                    # (queueing is idempotent per status sequence, should a worker have done it).
                    previous = None if delivery.created_at >= started_at else before
                    changed.append(repository.MergedDelivery(delivery.id, delivery.account_id, delivery.message_id,
                                                             delivery.recipient, delivery.status, previous,
                                                             delivery.status_sequence))
            repository.delete_deliveries(session, removed)
            outbox.enqueue_status_changes(session, changed, now)
            summary.deliveries += len(deliveries)
            summary.changed += len(changed)
            summary.removed += len(removed)
            cursor = deliveries[-1].id
            repository.save_job(session, summary.job_id, cursor=cursor, counts=summary.counts())
        progress(len(deliveries))


def _key(delivery) -> tuple[int, str, str]:
    return delivery.account_id, delivery.message_id, delivery.recipient


@dataclasses.dataclass
class PurgeSummary:
    raw_events: dict[str, int] = dataclasses.field(default_factory=dict)  # by account name
    deliveries: dict[str, int] = dataclasses.field(default_factory=dict)
    webhook_events: dict[str, int] = dataclasses.field(default_factory=dict)  # delivered ones, with their attempts
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
                services, lambda s, account=account, cutoff=cutoff: repository.purge_raw_events(
                    s, account, cutoff, limit=batch, dry_run=dry_run),
                dry_run, batch)
        if account.delivery_retention_days is not None:
            cutoff = now - timedelta(days=account.delivery_retention_days)
            summary.deliveries[account.name] = _in_batches(
                services, lambda s, account=account, cutoff=cutoff: repository.purge_deliveries(
                    s, account, cutoff, limit=batch, dry_run=dry_run),
                dry_run, batch)
            if summary.deliveries[account.name] and not dry_run:
                with services.db.transaction() as session:
                    # The statistics count the deliveries kept: purged ones leave them too.
                    repository.rebuild_stats(session, account.id)
            # The delivery log of outbound webhooks is kept as long as the deliveries it reports on.
            summary.webhook_events[account.name] = _in_batches(
                services, lambda s, account=account, cutoff=cutoff: repository.purge_webhook_events(
                    s, account, cutoff, limit=batch, dry_run=dry_run),
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
