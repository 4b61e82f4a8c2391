"""Queries behind the operators' tools: failed-event listing, replay, discard, rebuild scope, retention."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.domain import BounceType, EventType, NormalizedEvent, submitted_at
from tracker.db.repository.deliveries import DeliveryChange, outcome_values
from tracker.db.repository.inbox import in_state
from tracker.db.repository.like_patterns import ESCAPE, containing
from tracker.db.models import (
    Account,
    Delivery,
    DeliveryEvent,
    InboxEvent,
    JobItem,
    Message,
    OperatorJob,
    ReplayToken,
    SnsSubscription,
    WebhookEvent,
    utcnow,
)

__all__ = [
    "EventFilter",
    "LISTABLE_STATES",
    "REBUILDING",
    "clear_for_rebuild",
    "count_inbox_events",
    "count_rebuild_deliveries",
    "delete_deliveries",
    "deliveries_touched",
    "discard_events",
    "finish_job",
    "inbox_event",
    "inbox_ids",
    "inbox_ids_of_account",
    "job_items_after",
    "list_inbox_events",
    "open_job",
    "overwrite_delivery",
    "purge_deliveries",
    "purge_raw_events",
    "purge_replay_tokens",
    "purge_webhook_events",
    "rebuild_deliveries",
    "registered_messages",
    "requeue_for_replay",
    "save_job",
    "stored_histories",
]


# Not a state a row stays in (a replayed row is pending again, then processed or failed)
# but what operators ask for: the rows replayed at least once, whatever came of it.
REPLAYED = "replayed"
LISTABLE_STATES = (*inbox.STATES, REPLAYED)


@dataclasses.dataclass(frozen=True)
class EventFilter:
    state: str | None = None  # one of LISTABLE_STATES
    provider: str | None = None
    account_id: int | None = None
    since: datetime | None = None
    error_contains: str | None = None

    def apply(self, statement):
        if self.state == REPLAYED:
            statement = statement.where(InboxEvent.replay_count > 0)
        elif self.state is not None:
            statement = statement.where(in_state(self.state))
        if self.provider is not None:
            statement = statement.where(InboxEvent.provider == self.provider)
        if self.account_id is not None:
            statement = statement.where(InboxEvent.account_id == self.account_id)
        if self.since is not None:
            statement = statement.where(InboxEvent.received_at >= self.since)
        if self.error_contains:
            statement = statement.where(func.lower(InboxEvent.error).like(containing(self.error_contains).lower(),
                                                                           escape=ESCAPE))
        return statement


def list_inbox_events(session: Session, where: EventFilter, *, after_id: int = 0, limit: int = 100) -> list[InboxEvent]:
    """A keyset page of inbox rows by id (the body is loaded too: callers show or replay it)."""
    statement = where.apply(select(InboxEvent).where(InboxEvent.id > after_id))
    return list(session.scalars(statement.order_by(InboxEvent.id).limit(limit)))


def count_inbox_events(session: Session, where: EventFilter, *, after_id: int = 0) -> int:
    """How many inbox rows ``where`` selects (past ``after_id``, for a walk by id that goes on from there)."""
    statement = select(func.count()).select_from(InboxEvent)
    if after_id:
        statement = statement.where(InboxEvent.id > after_id)
    return session.scalar(where.apply(statement))


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
    """Fix the rebuild's inbox rows as job items, delete the history rows they will re-create,
    and hold the deliveries in scope at their current status until they are recomputed.

    Without ``since``: every processed row (of the account). With ``since``: the raw events
    behind the history of the deliveries updated since then. Deliveries themselves stay:
    their ids, status sequences and registrations are not the inbox's to re-create. Each
    gets the precedence REBUILDING, which no event outranks, so that re-applied events (and
    new ones arriving meanwhile) add to its history without moving its status; the rebuild
    then recomputes it from its whole history and knows what it was before. History rows
    whose raw event retention already purged stay: they are the only record of those
    events. One transaction, so the scope cannot move underneath. Returns how many inbox
    rows the job will re-apply.
    """
    key = tuple_(DeliveryEvent.account_id, DeliveryEvent.message_id, DeliveryEvent.recipient)
    if since is None:
        rows = select(InboxEvent.id).where(InboxEvent.state == inbox.PROCESSED)
        if account_id is not None:
            rows = rows.where(InboxEvent.account_id == account_id)
        session.execute(insert(JobItem).from_select(["job_id", "inbox_event_id"],
                                                    select(literal(job_id), rows.subquery().c.id)))
        items = select(JobItem.inbox_event_id).where(JobItem.job_id == job_id)
        history = delete(DeliveryEvent).where(DeliveryEvent.inbox_event_id.in_(items))
    else:
        scoped = _rebuild_scope(select(Delivery.account_id, Delivery.message_id, Delivery.recipient),
                                account_id, since)
        sources = (select(DeliveryEvent.inbox_event_id)
                   .where(key.in_(scoped), DeliveryEvent.inbox_event_id.is_not(None)).distinct().subquery())
        session.execute(insert(JobItem).from_select(["job_id", "inbox_event_id"],
                                                    select(literal(job_id), sources.c.inbox_event_id)))
        # Only the scoped deliveries' history: a raw event may also speak of deliveries
        # outside the scope, whose history stays (re-applying it then adds nothing).
        history = delete(DeliveryEvent).where(key.in_(scoped), DeliveryEvent.inbox_event_id.is_not(None))
    count = session.scalar(select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id))
    session.execute(history)
    session.execute(_rebuild_scope(update(Delivery), account_id, since).values(precedence=REBUILDING))
    return count


# Greater than every precedence tracker.domain.state.precedence makes ("00|..." to "08|..."):
# a delivery holding it keeps its status whatever a merge brings, until the rebuild has
# recomputed it from its history.
REBUILDING = "~rebuilding"


def _rebuild_scope(statement, account_id: int | None, since: datetime | None):
    """Limit a statement over deliveries to a rebuild's: the account's, updated since ``since``."""
    if account_id is not None:
        statement = statement.where(Delivery.account_id == account_id)
    if since is not None:
        statement = statement.where(Delivery.updated_at >= since)
    return statement


def count_rebuild_deliveries(session: Session, *, account_id: int | None, since: datetime | None) -> int:
    return session.scalar(_rebuild_scope(select(func.count()).select_from(Delivery), account_id, since))


def rebuild_deliveries(session: Session, *, account_id: int | None, since: datetime | None, after_id: int,
                       limit: int) -> list[Delivery]:
    """The next deliveries (by id) a rebuild recomputes, row-locked until commit like a worker's merge."""
    statement = _rebuild_scope(select(Delivery).where(Delivery.id > after_id), account_id, since)
    return list(session.scalars(statement.order_by(Delivery.id).limit(limit).with_for_update()))


def stored_histories(session: Session,
                     deliveries: Sequence[Delivery]) -> dict[tuple[int, str, str], list[NormalizedEvent]]:
    """Each delivery's history as normalized events, keyed by (account id, message id, recipient)."""
    if not deliveries:
        return {}
    providers = {(d.account_id, d.message_id, d.recipient): d.provider for d in deliveries}
    key = tuple_(DeliveryEvent.account_id, DeliveryEvent.message_id, DeliveryEvent.recipient)
    histories: dict[tuple[int, str, str], list[NormalizedEvent]] = {k: [] for k in providers}
    for row in session.scalars(select(DeliveryEvent).where(key.in_(list(providers))).order_by(DeliveryEvent.id)):
        identity = (row.account_id, row.message_id, row.recipient)
        histories[identity].append(NormalizedEvent(
            provider=providers[identity], message_id=row.message_id, recipient=row.recipient,
            type=EventType(row.type), occurred_at=row.occurred_at, event_key=row.event_key,
            bounce_type=BounceType(row.bounce_type) if row.bounce_type else None,
            bounce_subtype=row.bounce_subtype, diagnostic=row.diagnostic, details=row.details or {},
            sent_at=row.sent_at, smtp_action=row.smtp_action, smtp_status=row.smtp_status,
        ))
    return histories


def registered_messages(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (account id, message id) pairs an application registered (POST /api/v1/messages)."""
    pairs = list(set(pairs))
    if not pairs:
        return set()
    rows = session.execute(select(Message.account_id, Message.message_id).where(
        tuple_(Message.account_id, Message.message_id).in_(pairs), Message.registered_at.is_not(None)))
    return {(r.account_id, r.message_id) for r in rows}


def overwrite_delivery(delivery: Delivery, change: DeliveryChange, now: datetime) -> bool:
    """Set what a delivery's whole history says (state, event count, engagement, milestones); True if
    its status changed.

    The rebuild's counterpart of merge_deliveries, which only ever adds to a delivery: here
    the whole history is known, so the columns are replaced. As with a merge, the status
    sequence moves on (and updated_at with it) only if the status itself changes.
    """
    state, seen, reached = change.state, change.engagement, change.milestones
    status_changed = delivery.status != state.status.value
    if status_changed:
        delivery.status_sequence += 1
        delivery.updated_at = now
    for column, value in {**outcome_values(state, 0), **outcome_values(state.failure, 1)}.items():
        setattr(delivery, column, value)
    delivery.events_count = change.new_events
    delivery.opens_count, delivery.first_opened_at, delivery.last_opened_at = (
        seen.opens, seen.first_opened_at, seen.last_opened_at)
    delivery.clicks_count, delivery.first_clicked_at, delivery.last_clicked_at = (
        seen.clicks, seen.first_clicked_at, seen.last_clicked_at)
    delivery.last_clicked_link = seen.last_clicked_link
    delivery.sent_at, delivery.delivered_at = reached.sent_at, reached.delivered_at
    delivery.first_event_at = reached.first_event_at
    delivery.submitted_at = submitted_at(reached.sent_at, delivery.registered_at, reached.first_event_at)
    return status_changed


def delete_deliveries(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(Delivery).where(Delivery.id.in_(list(ids))))


# --- retention ----------------------------------------------------------------------------


def purge_raw_events(session: Session, account: Account, cutoff: datetime, *, limit: int, dry_run: bool) -> int:
    """Delete (or count) up to ``limit`` resolved raw events received before ``cutoff``.

    Failed and pending rows are never purged: they are unresolved, and an operator may
    still replay them; nor are the rows an unfinished rebuild still has to re-apply.
    History rows keep their data; only their link to the raw row goes.
    """
    in_unfinished_job = (select(JobItem.inbox_event_id).join(OperatorJob, OperatorJob.id == JobItem.job_id)
                         .where(JobItem.inbox_event_id == InboxEvent.id, OperatorJob.finished_at.is_(None)))
    resolved = select(InboxEvent.id).where(
        InboxEvent.account_id == account.id, InboxEvent.received_at < cutoff,
        InboxEvent.state.in_([inbox.PROCESSED, inbox.DISCARDED]),
        # A rebuild under way has dropped the history of its rows and not yet re-applied them all.
        ~in_unfinished_job.exists(),
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


def purge_webhook_events(session: Session, account: Account, cutoff: datetime, *, limit: int,
                         dry_run: bool) -> int:
    """Delete (or count) up to ``limit`` delivered webhook events created before ``cutoff``, with their attempts.

    Pending and parked events are unresolved (a subscriber is still owed them) and stay.
    """
    old = select(WebhookEvent.id).where(WebhookEvent.account_id == account.id, WebhookEvent.state == "delivered",
                                        WebhookEvent.created_at < cutoff)
    if dry_run:
        return session.scalar(select(func.count()).select_from(old.subquery()))
    ids = list(session.scalars(old.order_by(WebhookEvent.id).limit(limit)))
    if ids:
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))  # attempts go by ON DELETE CASCADE
    return len(ids)


def purge_replay_tokens(session: Session, cutoff: datetime, *, dry_run: bool) -> int:
    """One-time tokens outlive every provider's freshness window (24 h) and then go."""
    if dry_run:
        return session.scalar(select(func.count()).select_from(ReplayToken).where(ReplayToken.seen_at < cutoff))
    return session.execute(delete(ReplayToken).where(ReplayToken.seen_at < cutoff)).rowcount
