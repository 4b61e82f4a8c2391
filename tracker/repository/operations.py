"""Queries behind the operators' tools: failed-event listing, replay, discard, rebuild scope, retention."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, func, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from tracker import inbox
from tracker.models import (
    Account,
    Delivery,
    DeliveryEvent,
    InboxEvent,
    JobItem,
    OperatorJob,
    ReplayToken,
    SnsSubscription,
    utcnow,
)

__all__ = [
    "EventFilter",
    "clear_for_rebuild",
    "deliveries_touched",
    "discard_events",
    "finish_job",
    "inbox_event",
    "inbox_ids",
    "inbox_ids_of_account",
    "job_items_after",
    "list_inbox_events",
    "open_job",
    "purge_deliveries",
    "purge_raw_events",
    "purge_replay_tokens",
    "requeue_for_replay",
    "save_job",
]


@dataclasses.dataclass(frozen=True)
class EventFilter:
    state: str | None = None
    provider: str | None = None
    account_id: int | None = None
    since: datetime | None = None
    error_contains: str | None = None

    def apply(self, statement):
        if self.state is not None:
            statement = statement.where(InboxEvent.state == self.state)
        if self.provider is not None:
            statement = statement.where(InboxEvent.provider == self.provider)
        if self.account_id is not None:
            statement = statement.where(InboxEvent.account_id == self.account_id)
        if self.since is not None:
            statement = statement.where(InboxEvent.received_at >= self.since)
        if self.error_contains:
            pattern = "%" + self.error_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(func.lower(InboxEvent.error).like(pattern.lower(), escape="\\"))
        return statement


def list_inbox_events(session: Session, where: EventFilter, *, after_id: int = 0, limit: int = 100) -> list[InboxEvent]:
    """A keyset page of inbox rows by id (the body is loaded too: callers show or replay it)."""
    statement = where.apply(select(InboxEvent).where(InboxEvent.id > after_id))
    return list(session.scalars(statement.order_by(InboxEvent.id).limit(limit)))


def inbox_ids(session: Session, where: EventFilter, *, after_id: int, limit: int) -> list[int]:
    """Ids only, for jobs that walk many rows (bodies stay in the database)."""
    statement = where.apply(select(InboxEvent.id).where(InboxEvent.id > after_id))
    return list(session.scalars(statement.order_by(InboxEvent.id).limit(limit)))


def inbox_event(session: Session, event_id: int, account_id: int | None = None) -> InboxEvent | None:
    statement = select(InboxEvent).where(InboxEvent.id == event_id)
    if account_id is not None:
        statement = statement.where(InboxEvent.account_id == account_id)
    return session.scalar(statement)


def deliveries_touched(session: Session, event_id: int) -> list[Delivery]:
    """The deliveries whose history holds an event from this inbox row."""
    keys = select(DeliveryEvent.account_id, DeliveryEvent.message_id, DeliveryEvent.recipient).where(
        DeliveryEvent.inbox_event_id == event_id)
    return list(session.scalars(
        select(Delivery).where(tuple_(Delivery.account_id, Delivery.message_id, Delivery.recipient).in_(keys))
        .order_by(Delivery.id)
    ))


def inbox_ids_of_account(session: Session, ids: Sequence[int], account_id: int) -> list[int]:
    return sorted(session.scalars(select(InboxEvent.id).where(InboxEvent.id.in_(list(ids)),
                                                              InboxEvent.account_id == account_id)))


def requeue_for_replay(session: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Put failed rows back to pending with a fresh attempt budget; the ids that were failed."""
    if not ids:
        return []
    rows = session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_(ids), InboxEvent.state == inbox.FAILED)
        .values(state=inbox.PENDING, attempts=0, next_attempt_at=None, replayed_at=now,
                replay_count=InboxEvent.replay_count + 1)
        .returning(InboxEvent.id)
    )
    return sorted(row.id for row in rows)


def discard_events(session: Session, ids: Sequence[int], *, reason: str, by: str, now: datetime,
                   account_id: int | None = None) -> list[int]:
    """Discard failed or pending rows (never processed ones); the ids discarded."""
    statement = (
        update(InboxEvent)
        .where(InboxEvent.id.in_(ids), InboxEvent.state.in_([inbox.FAILED, inbox.PENDING]))
        .values(state=inbox.DISCARDED, discarded_at=now, discarded_by=by, discard_reason=reason,
                next_attempt_at=None)
        .returning(InboxEvent.id)
    )
    if account_id is not None:
        statement = statement.where(InboxEvent.account_id == account_id)
    return sorted(row.id for row in session.execute(statement))


# --- resumable jobs -----------------------------------------------------------------------


def open_job(session: Session, kind: str, params: dict, *, restart: bool) -> tuple[OperatorJob, bool]:
    """The unfinished job of this kind and params (resumed), or a new one; (job, resumed)."""
    canonical = json.dumps(params, sort_keys=True, default=str)
    job = session.scalar(select(OperatorJob).where(OperatorJob.kind == kind, OperatorJob.params == canonical,
                                                   OperatorJob.finished_at.is_(None)).order_by(OperatorJob.id.desc()))
    if job is not None and restart:
        job.finished_at = utcnow()
        job.phase = "abandoned"
        job = None
    if job is not None:
        return job, True
    job = OperatorJob(kind=kind, params=canonical, phase="started", cursor=0, counts={})
    session.add(job)
    session.flush()
    return job, False


def save_job(session: Session, job_id: int, *, cursor: int | None = None, phase: str | None = None,
             counts: dict | None = None) -> None:
    values = {"updated_at": utcnow()}
    if cursor is not None:
        values["cursor"] = cursor
    if phase is not None:
        values["phase"] = phase
    if counts is not None:
        values["counts"] = counts
    session.execute(update(OperatorJob).where(OperatorJob.id == job_id).values(**values))


def finish_job(session: Session, job_id: int, counts: dict) -> None:
    session.execute(update(OperatorJob).where(OperatorJob.id == job_id)
                    .values(phase="finished", finished_at=utcnow(), updated_at=utcnow(), counts=counts))


def job_items_after(session: Session, job_id: int, after_id: int, limit: int) -> list[InboxEvent]:
    return list(session.scalars(
        select(InboxEvent).join(JobItem, JobItem.inbox_event_id == InboxEvent.id)
        .where(JobItem.job_id == job_id, InboxEvent.id > after_id)
        .order_by(InboxEvent.id).limit(limit)
    ))


# --- rebuild ------------------------------------------------------------------------------


def clear_for_rebuild(session: Session, job_id: int, *, account_id: int | None, since: datetime | None) -> int:
    """Fix the rebuild's inbox rows as job items, then delete the derived rows they will re-create.

    Without ``since``: every processed row (of the account) and every delivery and history
    row. With ``since``: the deliveries updated since then, their history, and the inbox
    rows that history came from. One transaction, so the scope cannot move underneath.
    Returns how many inbox rows the job will re-apply.
    """
    if since is None:
        rows = select(InboxEvent.id).where(InboxEvent.state == inbox.PROCESSED)
        if account_id is not None:
            rows = rows.where(InboxEvent.account_id == account_id)
        session.execute(insert(JobItem).from_select(["job_id", "inbox_event_id"],
                                                    select(literal(job_id), rows.subquery().c.id)))
        history, deliveries = delete(DeliveryEvent), delete(Delivery)
        if account_id is not None:
            history = history.where(DeliveryEvent.account_id == account_id)
            deliveries = deliveries.where(Delivery.account_id == account_id)
    else:
        scoped = select(Delivery.account_id, Delivery.message_id, Delivery.recipient).where(Delivery.updated_at >= since)
        if account_id is not None:
            scoped = scoped.where(Delivery.account_id == account_id)
        key = tuple_(DeliveryEvent.account_id, DeliveryEvent.message_id, DeliveryEvent.recipient)
        sources = (select(DeliveryEvent.inbox_event_id).where(key.in_(scoped), DeliveryEvent.inbox_event_id.is_not(None))
                   .distinct().subquery())
        session.execute(insert(JobItem).from_select(["job_id", "inbox_event_id"], select(literal(job_id), sources.c.inbox_event_id)))
        history = delete(DeliveryEvent).where(key.in_(scoped))
        deliveries = delete(Delivery).where(tuple_(Delivery.account_id, Delivery.message_id, Delivery.recipient).in_(
            scoped.subquery().select()))
    count = session.scalar(select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id))
    session.execute(history)
    session.execute(deliveries)
    return count


# --- retention ----------------------------------------------------------------------------


def purge_raw_events(session: Session, account: Account, cutoff: datetime, *, limit: int, dry_run: bool) -> int:
    """Delete (or count) up to ``limit`` resolved raw events received before ``cutoff``.

    Failed and pending rows are never purged: they are unresolved, and an operator may
    still replay them. History rows keep their data; only their link to the raw row goes.
    """
    resolved = select(InboxEvent.id).where(
        InboxEvent.account_id == account.id, InboxEvent.received_at < cutoff,
        InboxEvent.state.in_([inbox.PROCESSED, inbox.DISCARDED]),
    )
    if dry_run:
        return session.scalar(select(func.count()).select_from(resolved.subquery()))
    ids = list(session.scalars(resolved.order_by(InboxEvent.id).limit(limit)))
    if ids:
        session.execute(update(DeliveryEvent).where(DeliveryEvent.inbox_event_id.in_(ids)).values(inbox_event_id=None))
        session.execute(update(SnsSubscription).where(SnsSubscription.inbox_event_id.in_(ids)).values(inbox_event_id=None))
        session.execute(delete(InboxEvent).where(InboxEvent.id.in_(ids)))
    return len(ids)


def purge_deliveries(session: Session, account: Account, cutoff: datetime, *, limit: int, dry_run: bool) -> int:
    """Delete (or count) up to ``limit`` deliveries last updated before ``cutoff``, with their history."""
    old = select(Delivery.id).where(Delivery.account_id == account.id, Delivery.updated_at < cutoff)
    if dry_run:
        return session.scalar(select(func.count()).select_from(old.subquery()))
    rows = session.execute(select(Delivery.id, Delivery.message_id, Delivery.recipient)
                           .where(Delivery.id.in_(old.order_by(Delivery.id).limit(limit)))).all()
    if rows:
        keys = [(account.id, r.message_id, r.recipient) for r in rows]
        session.execute(delete(DeliveryEvent).where(
            tuple_(DeliveryEvent.account_id, DeliveryEvent.message_id, DeliveryEvent.recipient).in_(keys)))
        session.execute(delete(Delivery).where(Delivery.id.in_([r.id for r in rows])))
    return len(rows)


def purge_replay_tokens(session: Session, cutoff: datetime, *, dry_run: bool) -> int:
    """One-time tokens outlive every provider's freshness window (24 h) and then go."""
    if dry_run:
        return session.scalar(select(func.count()).select_from(ReplayToken).where(ReplayToken.seen_at < cutoff))
    return session.execute(delete(ReplayToken).where(ReplayToken.seen_at < cutoff)).rowcount
