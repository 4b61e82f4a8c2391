"""Inbox rows -> provider parsers -> state machine -> persistence.

Called by Celery tasks and by the embedded in-process worker, never by views. A batch is
one transaction: claim pending rows, read each (tracker.pipeline.rows: its normalized
events and message facts, pure), insert the new ones into the history, merge each
touched delivery's winner, mark the rows. A row whose payload can never be processed is
marked failed with the reason and kept for replay; the rest of the batch goes on.

A batch body with unreadable elements (tracker.pipeline.rows: Reading.unreadable) is applied in
part: its readable events go in like any row's, and the row is then marked failed, its error
naming each unreadable element (index and reason), its kind the first one's. So one bad element
costs only itself: it stays visible with the failed rows, can be discarded, and a replay after a
parser fix applies it; the events already applied are found in the history by their keys and
change nothing (no status, statistic, webhook or metric counts twice). Why not split the bad
elements into inbox rows of their own: the inbox keeps what the provider sent, byte for byte (a
replay re-reads those bytes with the fixed parser, an XML report included); an element cut out
and re-serialized would be the tracker's own text, lose its original form and its arrival time,
and make a second copy of data that retention would have to track. The partially applied row's
history survives a rebuild: a full one re-applies processed rows only and leaves the history of
others (a failed row's, a purged one's) in place for the recomputation; one ``--since`` re-reads
every row behind the scoped history and re-applies a partial row's readable events. A rebuild counts a
processed row of which the parser now refuses an element among the rows it cannot read (the element's
history is gone, as a refused row's is).
"""
from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from datetime import datetime
from collections.abc import Sequence

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from tracker.domain import inbox
from tracker.pipeline import reputation as reputation_alerts
from tracker.adapters import logs, metrics
from tracker.db import repository
from tracker.domain import NormalizedEvent, engagement, fold, milestones, suppression, transitions
from tracker.domain.suppression import SoftBouncePolicy
from tracker.db.engine import Database
from tracker.db.models import utcnow
from tracker.db.repository.inbox import InboxRow
from tracker.outbound import outbox
from tracker.pipeline.rows import Permanent, Reading, messages_of, read_row
from tracker.providers.ses import parse as ses
from tracker.providers.ses.envelope import SUBSCRIPTION_CONFIRMATION, EnvelopeError, decode_envelope
from tracker.adapters.sns_subscriptions import ConfirmationFailed, SubscriptionConfirmer

log = logging.getLogger(__name__)

# History rows of message-level events (an SES open of a message sent to several
# addresses) carry this recipient: kept on the message, attributed to nobody.
MESSAGE_LEVEL = ""


@dataclasses.dataclass
class BatchResult:
    claimed: int = 0
    processed: int = 0
    failed: int = 0
    retrying: int = 0
    partial: int = 0  # of the failed: batches whose readable elements were applied, the rest failed
    transitions: list = dataclasses.field(default_factory=list)  # MergedDelivery rows whose status changed
    webhooks_queued: int = 0

    def __iadd__(self, other: BatchResult) -> BatchResult:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self


@dataclasses.dataclass(frozen=True)
class Settings:
    batch_size: int = 500
    max_attempts: int = 5
    soft_bounces: SoftBouncePolicy = SoftBouncePolicy()
    suppress: bool = True  # a rebuild re-derives statuses but leaves the suppression list as operators left it


def process_pending(db: Database, confirmer: SubscriptionConfirmer, settings: Settings) -> BatchResult:
    """Process one batch of pending rows; BatchResult.claimed == 0 means the inbox is drained.

    Raises only for trouble that concerns the whole batch (the database went away): its
    rows stay pending and the caller tries again later.
    """
    with db.transaction() as session:
        return _process(session, repository.claim_pending(session, settings.batch_size), confirmer, settings)


def process_rows(db: Database, ids: Sequence[int], confirmer: SubscriptionConfirmer,
                 settings: Settings) -> BatchResult:
    """Process the given rows if still pending (a replay), each failing alone like a batch's."""
    with db.transaction() as session:
        return _process(session, repository.claim_by_ids(session, ids), confirmer, settings)


def drain(db: Database, confirmer: SubscriptionConfirmer, settings: Settings,
          max_batches: int | None = None) -> BatchResult:
    """Process batches until the inbox has no pending row (or ``max_batches`` ran)."""
    total = BatchResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = process_pending(db, confirmer, settings)
        total += result
        batches += 1
        if result.claimed < settings.batch_size:
            break
    return total


def _process(session: Session, rows: Sequence[InboxRow], confirmer: SubscriptionConfirmer,
             settings: Settings) -> BatchResult:
    """Read each row, then apply them: a row whose reading or applying fails, fails alone.

    Reading is per row. Applying is one savepoint for the rows never tried before; if the
    database refuses it (or anything else goes wrong), the group is halved until the row
    at fault is alone, so one poison row costs a few extra savepoints, never the batch.
    A row that failed before (a retry) is applied on its own, so that a row failing
    repeatedly cannot drag its neighbours down with it.
    """
    now = utcnow()
    result = BatchResult(claimed=len(rows))
    read: list[tuple[InboxRow, Reading]] = []
    for row in rows:
        with _logged_as(row):
            try:
                read.append((row, _read(session, row, confirmer)))
            except Exception as error:  # noqa: BLE001 - whatever it is, it is this row's alone
                _record_failure(session, row, error, now, settings, result)
    fresh = [item for item in read if not item[0].attempts]
    groups = ([fresh] if fresh else []) + [[item] for item in read if item[0].attempts]
    # Every group's locks at once, before the first group writes, and outside the groups' savepoints
    # (rolling one back would release what was taken in it): a group taking its own after an earlier
    # one's rows are locked could wait for a worker that waits for those. Should taking them fail (a
    # lock_timeout an operator set), that is no row's fault: the batch is tried again later.
    if read:
        _take_locks(session, [(row, event) for row, reading in read for event in reading.events],
                    [(row.account_id, reading.facts.message_id) for row, reading in read if reading.facts],
                    suppress=settings.suppress)
    for group in groups:
        _apply_group(session, group, now, settings, result)
    if result.processed or result.partial:
        _evaluate_reputation(session, {row.account_id for row, _ in read}, now, result)
    _count(result)
    return result


def _evaluate_reputation(session: Session, account_ids: set[int], now, result: BatchResult) -> None:
    """Threshold alerts for the accounts this batch touched, in its transaction (from the
    statistics table: cheap); should it fail, the batch stands and the beat's sweep evaluates."""
    try:
        with session.begin_nested():
            result.webhooks_queued += len(reputation_alerts.evaluate(session, account_ids, now))
    except Exception as error:  # noqa: BLE001 - an alert is not worth a batch
        if _concerns_batch(error):
            raise
        log.warning("evaluating reputation failed (%s); the scheduled evaluation will catch up", _reason(error))


def _apply_group(session: Session, group: list[tuple[InboxRow, Reading]], now,
                 settings: Settings, result: BatchResult) -> None:
    try:
        with session.begin_nested():
            applied = _apply_rows(session, group, now, settings)
    except Exception as error:  # noqa: BLE001 - isolated below; only whole-batch trouble propagates
        if _concerns_batch(error):
            raise
        if len(group) == 1:
            with _logged_as(group[0][0]):
                _record_failure(session, group[0][0], error, now, settings, result)
            return
        log.warning("applying %d rows failed (%s); isolating the row at fault", len(group), _reason(error))
        half = len(group) // 2
        _apply_group(session, group[:half], now, settings, result)
        _apply_group(session, group[half:], now, settings, result)
        return
    result += applied
    if log.isEnabledFor(logging.DEBUG):
        for row, reading in group:
            with _logged_as(row):
                log.debug("applied inbox row %s (%s %s): %d event(s)", row.id, row.provider, row.kind,
                          len(reading.events))


def _logged_as(row: InboxRow):
    """Log lines in this block name the row and the request that brought it (tracker.adapters.logs)."""
    return logs.context(request_id=row.request_id, inbox_id=row.id)


def _apply_rows(session: Session, group: list[tuple[InboxRow, Reading]], now,
                settings: Settings) -> BatchResult:
    """Apply these rows' events and mark the rows processed, in the caller's savepoint (their messages'
    and addresses' locks taken before: _process). A batch with unreadable elements is marked failed
    instead, in the same savepoint: should the group be rolled back, so is its failure."""
    events = [(row, event) for row, reading in group for event in reading.events]
    messages = messages_of(group)
    _, merged = _apply(session, events, now, settings)
    _record_messages(session, messages, now)
    transitions = [delivery for delivery in merged if delivery.status_changed]
    queued = outbox.enqueue_status_changes(session, transitions, now)
    result = BatchResult(transitions=transitions, webhooks_queued=queued)
    complete = [row.id for row, reading in group if not reading.unreadable]
    repository.mark_processed(session, complete, now)
    result.processed = len(complete)
    for row, reading in group:
        failure = reading.failure()
        if failure is not None:
            with _logged_as(row):
                _record_failure(session, row, failure, now, settings, result)
            result.partial += 1
    return result


def _take_locks(session: Session, events: Sequence[tuple[InboxRow, NormalizedEvent]],
                messages: Sequence[tuple[int, str]] = (), *, suppress: bool = False) -> None:
    """Take the messages these events are about and those (account id, message id) whose facts the rows
    carry, and the addresses whose soft bounces they count, before any row lock (tracker.db.repository.locks
    says why). The facts' ids are read from the rows as they are: messages_of's checks and copies are the
    apply's, and a lock on an id the apply then refuses holds nothing up."""
    repository.take_locks(
        session, messages=[(row.account_id, event.message_id) for row, event in events] + list(messages),
        addresses=[(row.account_id, event.recipient) for row, event in events
                   if suppress and event.recipient and suppression.is_soft_bounce(event)])


def _record_messages(session: Session, messages: list[tuple[int, ses.MessageFacts]], now) -> None:
    """Record what the rows say of their messages; deliveries whose message learns its sender
    only now move to that sending domain in the statistics."""
    learning = repository.messages_learning_sender(session, messages)
    before = {account_id: repository.message_stats_snapshot(session, account_id, senders)
              for account_id, senders in learning.items()}
    repository.record_messages(session, messages, now)
    for account_id, senders in learning.items():
        # A From unknown until now is the one just recorded (record_messages only fills gaps).
        repository.record_senders_learnt(session, before[account_id], senders)


def _record_failure(session: Session, row: InboxRow, error: Exception, now, settings: Settings,
                    result: BatchResult) -> None:
    """Mark ``row`` failed (or waiting for its retry) with the kind and reason of ``error``."""
    if _concerns_batch(error):
        raise error
    kind = _failure_kind(error)
    if kind == inbox.INTERNAL:
        log.error("inbox row %s failed with an unexpected error", row.id, exc_info=error)
    state = repository.record_failure(session, row.id, _reason(error), now=now, kind=kind,
                                      max_attempts=settings.max_attempts, retry_delay=inbox.retry_delay)
    if kind != inbox.INTERNAL:  # (logged above with its traceback)
        log.warning("inbox row %s %s (%s): %s", row.id, "to be retried" if state == inbox.PENDING else "failed",
                    kind, _reason(error))
    if state == inbox.PENDING:
        result.retrying += 1
    else:
        result.failed += 1


def _failure_kind(error: Exception) -> str:
    if isinstance(error, Permanent):
        return error.kind
    if isinstance(error, ConfirmationFailed):
        return inbox.TRANSIENT
    if isinstance(error, (DataError, IntegrityError)):
        return inbox.UNSTORABLE  # the database refuses a value of this row: retrying cannot help
    if isinstance(error, OperationalError):
        return inbox.DATABASE  # a deadlock, a lock or statement timeout: worth another try
    return inbox.INTERNAL


def _reason(error: Exception) -> str:
    if isinstance(error, (Permanent, ConfirmationFailed)):
        return str(error)
    if isinstance(error, DBAPIError):
        return f"database error: {error.orig}".strip()
    return f"{type(error).__name__}: {error}"


def _concerns_batch(error: Exception) -> bool:
    """Whether ``error`` says nothing about a row but that the database is gone (retry the batch)."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, InterfaceError)
    return isinstance(error, (DisconnectionError, PoolTimeoutError))


def _count(result: BatchResult) -> None:
    metrics.ROWS_PROCESSED.labels("processed").inc(result.processed)
    # Outcomes are disjoint: a batch applied in part (and failed for the rest) is counted once, as such.
    metrics.ROWS_PROCESSED.labels("failed").inc(result.failed - result.partial)
    metrics.ROWS_PROCESSED.labels("partially_applied").inc(result.partial)
    metrics.ROWS_PROCESSED.labels("retrying").inc(result.retrying)
    for delivery in result.transitions:
        for change in delivery.changes or (None,):
            metrics.STATUS_TRANSITIONS.labels(change.status.value if change else delivery.status).inc()


def _read(session: Session, row: InboxRow, confirmer: SubscriptionConfirmer) -> Reading:
    """What a row says, after acting on the SNS handshake it may be."""
    if row.kind not in (inbox.SUBSCRIPTION_CONFIRMATION, inbox.UNSUBSCRIBE_CONFIRMATION):
        return read_row(row)
    try:
        envelope = decode_envelope(row.body)
    except EnvelopeError as error:
        raise Permanent(str(error), inbox.PARSE_ERROR) from None
    if envelope.type == SUBSCRIPTION_CONFIRMATION:
        try:
            arn = confirmer.confirm(envelope)
        except ValueError as error:
            raise Permanent(str(error)) from None
        state = "confirmed"
    else:
        # An UnsubscribeConfirmation is recorded and nothing else: re-subscribing is the
        # topic owner's decision, never the tracker's.
        arn, state = None, "unsubscribed"
    with session.begin_nested():  # a write while reading: if refused, only this row fails
        repository.record_sns_subscription(session, source_id=row.source_id, topic_arn=envelope.topic_arn,
                                           state=state, subscription_arn=arn, inbox_event_id=row.id)
    return Reading([], None)


def reapply(session: Session, rows: Sequence[InboxRow], settings: Settings) -> tuple[int, int]:
    """Apply already-processed rows again (a rebuild): (events added, rows unreadable now, whole or in part)."""
    events, unreadable = [], 0
    for row in rows:
        try:
            reading = read_row(row)
        except Exception:  # noqa: BLE001 - a rebuild counts what it cannot read and goes on
            unreadable += 1
            continue
        if reading.unreadable:
            # A batch element the parser refuses now loses its history as a refused row does: counted alike.
            unreadable += 1
        events.extend((row, event) for event in reading.events)
    _take_locks(session, events, suppress=settings.suppress)
    added, _ = _apply(session, events, utcnow(), settings)
    return added, unreadable


def _apply(session: Session, events: Sequence[tuple[InboxRow, NormalizedEvent]], now,
           settings: Settings) -> tuple[int, list[repository.MergedDelivery]]:
    """Add new events to the history and merge each touched delivery's new winner; returns events added."""
    history_rows: dict[tuple, dict] = {}
    by_identity: dict[tuple, tuple[InboxRow, NormalizedEvent]] = {}
    for row, event in events:
        recipient = event.recipient if event.recipient is not None else MESSAGE_LEVEL
        identity = (row.account_id, event.message_id, recipient, event.event_key)
        if identity in history_rows:
            continue  # the same event twice in one batch (e.g. via two SNS topics)
        by_identity[identity] = (row, event)
        history_rows[identity] = {
            "account_id": row.account_id,
            "message_id": event.message_id,
            "recipient": recipient,
            "event_key": event.event_key,
            "type": event.type.value,
            "status": event.status.value if event.status else None,
            "occurred_at": event.occurred_at,
            "bounce_type": event.bounce_type.value if event.bounce_type else None,
            "bounce_subtype": event.bounce_subtype,
            "diagnostic": event.diagnostic,
            "details": dict(event.details),
            "sent_at": event.sent_at, "smtp_action": event.smtp_action, "smtp_status": event.smtp_status,
            "inbox_event_id": row.id,
            "recorded_at": now,
        }
    # Sorted, so that concurrent workers take index locks in one order and never deadlock.
    inserted = repository.insert_delivery_events(session, [history_rows[k] for k in sorted(history_rows)])

    # In arrival order (the rows' order, then each row's own), so that the status changes
    # counted below are the ones the events would have made arriving one by one.
    new_per_address: dict[tuple, list[NormalizedEvent]] = defaultdict(list)
    providers: dict[tuple, str] = {}
    for identity, (row, event) in by_identity.items():
        account_id, message_id, recipient, _ = identity
        if recipient == MESSAGE_LEVEL or identity not in inserted:
            continue
        new_per_address[(account_id, message_id, recipient)].append(event)
        providers[(account_id, message_id, recipient)] = row.provider
    # An event about an address but no message (a suppression made in a provider's
    # console) feeds the suppression list and the history, but is no delivery.
    new_per_delivery = {key: events for key, events in new_per_address.items() if key[1]}
    while True:
        try:
            with session.begin_nested():
                merged = _merge(session, new_per_delivery, providers, now)
            break
        except repository.DeliveryRaced:
            continue  # another worker created one of these deliveries meanwhile: count on top of it
    if settings.suppress:
        _suppress(session, new_per_address, providers, settings.soft_bounces)
    return len(inserted), merged


def _merge(session: Session, new_per_delivery: dict[tuple, list[NormalizedEvent]], providers: dict[tuple, str],
           now) -> list[repository.MergedDelivery]:
    """Lock the deliveries, count the status changes the new events make on each (tracker.domain
    transitions), and merge; each change gets its own status sequence, as one by one. The
    statistics move by the difference between the deliveries' keys before and after."""
    # One locked read per account gives the state to count on and, with the senders read
    # after the merge, the statistics keys before; the merge's RETURNING gives those after.
    rows = repository.lock_deliveries(session, sorted(new_per_delivery))
    changes = []
    for key, new_events in sorted(new_per_delivery.items()):
        account_id, message_id, recipient = key
        current = repository.locked_delivery(rows[key]) if key in rows else None
        steps = tuple(transitions(current.state if current else None, new_events))
        changes.append(repository.DeliveryChange(
            account_id=account_id, provider=providers[key], message_id=message_id, recipient=recipient,
            state=fold(new_events), new_events=len(new_events), engagement=engagement(new_events),
            milestones=milestones(new_events), changes=steps,
            status_sequence=(current.status_sequence if current else 0) + len(steps), before=current,
        ))
    merged = repository.merge_deliveries(session, changes, now)
    # Read now, as late as the old "after" snapshot read them: a message with deliveries
    # locked above cannot learn its From meanwhile (that locks them too), one without any
    # can, from a worker committing it while this merge ran.
    senders = repository.message_senders(session, sorted(new_per_delivery))
    # In this transaction, under the rows' locks: the statistics move with the statuses.
    repository.record_status_change(session, repository.stat_keys(rows.values(), senders),
                                    repository.stat_keys((m.row for m in merged), senders))
    return merged


def _suppress(session: Session, new_per_address: dict[tuple, list[NormalizedEvent]],
              providers: dict[tuple, str], policy: SoftBouncePolicy) -> None:
    """Put the recipients of suppressing events on their account's list (tracker.domain.suppression),
    each entry naming the earliest event that suppresses the address, whatever the arrival order.

    A soft bounce suppresses only with others: the ones within a window of the new ones are read
    from the history, which has every committed one and this batch's (the address's lock, taken
    before the batch began, keeps another worker's from being neither)."""
    entries: dict[tuple[int, str], dict] = {}

    def offer(account_id, recipient, reason, provider, event) -> None:
        current = entries.get((account_id, recipient))
        if current is None or suppression.entry_order(event) < (current["occurred_at"], current["event_key"]):
            entries[(account_id, recipient)] = _suppression_row(account_id, recipient, reason, provider, event)

    soft: dict[int, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for key, events in new_per_address.items():
        account_id, _, recipient = key
        for event in events:
            reason = suppression.immediate_reason(event)
            if reason is not None:
                offer(account_id, recipient, reason, providers[key], event)
            elif suppression.is_soft_bounce(event):
                soft[account_id][recipient].append(event.occurred_at)
    for account_id, times in sorted(soft.items()):
        moments = [moment for found in times.values() for moment in found]
        bounces_of = repository.soft_bounces(session, account_id, sorted(times), min(moments) - policy.window,
                                          max(moments) + policy.window)
        for recipient, bounces in bounces_of.items():
            found = suppression.suppressing_soft_bounce(bounces, policy)
            if found is not None:
                offer(account_id, recipient, suppression.Reason.SOFT_BOUNCES, found.provider, found)
    repository.add_suppressions(session, [entries[key] for key in sorted(entries)])


def _suppression_row(account_id, recipient, reason, provider, event) -> dict:
    """The list entry for ``event`` (a NormalizedEvent, or a soft bounce read from the history)."""
    return {"account_id": account_id, "address": recipient, "reason": reason.value, "provider": provider,
            "message_id": event.message_id, "event_key": event.event_key, "occurred_at": event.occurred_at,
            "created_at": utcnow()}
