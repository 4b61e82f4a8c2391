"""Thin tasks: wake-ups that drain the inbox through tracker.pipeline.ingest; no status rule lives here."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready

from tracker.pipeline import ingest, operations
from tracker.db import repository
from tracker.db.models import utcnow
from tracker.outbound import sender
from tracker.services import services

log = logging.getLogger(__name__)

# How long one task drains before handing over, so a long backlog never pins a worker
# process and a deploy's warm shutdown is quick.
TIME_BUDGET = 10.0
LINGER = 0.02
# How long one send_webhooks task sends before queueing its successor: the sender runs
# continuously while a webhook worker lives, and a deploy's warm shutdown stays quick.
SEND_BUDGET = 10.0
IDLE_LINGER = 1.0
IDLE_POLL = 0.05


# A drain whose pool process is killed (the OOM killer, a crash) is sent again a second later,
# a few times, rather than waiting for its wake-up flag to lapse; if draining itself is what
# kills the process, the retries run out and the beat sweep keeps trying at its own pace.
@shared_task(name="workers.tasks.process_inbox", retry_on_worker_lost=True, max_retries=3, default_retry_delay=1)
def process_inbox() -> dict:
    """Drain the inbox, holding the wake-up flag meanwhile (see tracker.adapters.wakeup.CeleryWaker)."""
    app = services()
    total = ingest.BatchResult()
    budget_from = time.monotonic()
    helped = False
    idle_since = None
    while True:
        if time.monotonic() - budget_from >= TIME_BUDGET:
            # Out of time with work left: queue the next leader rather than pin a process. With
            # the broker away nobody can be queued, so this drain carries on: the events are in
            # PostgreSQL and the receivers cannot wake anyone else meanwhile.
            if app.waker.hand_over():
                break
            budget_from = time.monotonic()
        app.waker.hold()
        result = ingest.process_pending(app.db, app.confirmer, app.settings)
        total += result
        if result.claimed == app.settings.batch_size and not helped:
            # A backlog: one more worker process drains alongside this one.
            helped = app.waker.send_helper()
        if result.claimed:
            idle_since = None
            if result.claimed < app.settings.batch_size:
                # Events are trickling in: let a few more arrive so the next batch is worth
                # its transaction (a few ms of latency for far fewer commits).
                time.sleep(LINGER)
            continue
        # Empty. Under steady traffic more is about to come: staying a moment keeps the
        # flag held, so receivers publish nothing (a Celery publish costs a receiver more
        # than the whole rest of its request).
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since < IDLE_LINGER:
            time.sleep(IDLE_POLL)
            continue
        app.waker.clear()
        # The last look after clearing: see CeleryWaker for why nothing slips past it.
        result = ingest.process_pending(app.db, app.confirmer, app.settings)
        total += result
        if result.claimed == 0:
            break
        idle_since = None  # events raced the clear; the loop takes the flag back and goes on
    if total.claimed:
        log.info("inbox: claimed %d processed %d failed %d webhooks %d", total.claimed, total.processed,
                 total.failed, total.webhooks_queued)
    if total.webhooks_queued:
        try:
            send_webhooks.delay()
        except Exception as error:  # the broker is away: beat's send-webhooks picks them up
            log.warning("could not queue the webhook sender (%s); the next scheduled run sends them", error)
    return {"claimed": total.claimed, "processed": total.processed, "failed": total.failed}


@shared_task(name="workers.tasks.help_drain_inbox")
def help_drain_inbox() -> int:
    """Drain alongside process_inbox until a batch comes back short; touches no flag."""
    app = services()
    started, claimed = time.monotonic(), 0
    while time.monotonic() - started < TIME_BUDGET:
        result = ingest.process_pending(app.db, app.confirmer, app.settings)
        claimed += result.claimed
        if result.claimed < app.settings.batch_size:
            break
    return claimed


@shared_task(name="workers.tasks.sweep_inbox")
def sweep_inbox() -> bool:
    """Wake a worker if due pending rows wait and nobody holds the wake-up flag.

    That is a wake-up that was lost (the broker was away when the event arrived) or a
    drainer that died (its flag lapses within seconds, see tracker.adapters.wakeup). A live drainer
    holds the flag, so under steady traffic a sweep costs one query and one SET.
    """
    app = services()
    now = utcnow()
    with app.db.session() as session:
        waiting = repository.has_due_pending(session, now=now,
                                             received_before=now - timedelta(seconds=app.config.sweep_grace))
    if waiting and app.waker.wake():
        log.warning("pending inbox rows and no worker draining them: woke one")
    return waiting


@shared_task(name="workers.tasks.purge_expired")
def purge_expired() -> dict:
    """Apply every account's retention in small batches (unresolved failed events are never purged)."""
    summary = operations.purge(services(), dry_run=False)
    log.info("purged raw events %s, deliveries %s, tokens %s", summary.raw_events, summary.deliveries,
             summary.replay_tokens)
    return {"raw_events": summary.raw_events, "deliveries": summary.deliveries}


@shared_task(name="workers.tasks.evaluate_reputation")
def evaluate_reputation() -> int:
    """Evaluate every sending account's reputation; crossings go to its webhook subscribers."""
    from tracker.pipeline import reputation

    with services().db.transaction() as session:
        crossings = reputation.evaluate_all(session)
    if crossings:
        try:
            send_webhooks.delay()  # sent, signed and retried like status changes
        except Exception as error:  # the broker is away: beat's send-webhooks picks them up
            log.warning("could not queue the webhook sender (%s); the next scheduled run sends them", error)
    return len(crossings)


@shared_task(name="workers.tasks.send_webhooks")
def send_webhooks() -> int:
    """Be this process's webhook sender for SEND_BUDGET seconds, then queue the next (see
    tracker.outbound.sender); returns at once if the process has one running already."""
    from celery.worker import state as worker

    app = services()
    return sender.run_as_process_sender(app, app.webhook_settings, budget=SEND_BUDGET, hand_over=send_webhooks.delay,
                                        stop=lambda: bool(worker.should_stop or worker.should_terminate))


@worker_ready.connect
def _send_webhooks_at_start(**_kwargs) -> None:
    """A webhook worker that starts (or restarts after a crash) sends at once, not at the next beat."""
    try:
        send_webhooks.delay()
    except Exception as error:  # the broker is away: beat's send-webhooks starts it later
        log.warning("could not queue the webhook sender at start (%s)", error)


@shared_task(name="workers.tasks.deliver_webhook")
def deliver_webhook(event_id: int) -> int:
    """Send one event leased by an older send_webhooks (messages queued before an upgrade)."""
    app = services()
    return int(sender.deliver(app, event_id, app.webhook_settings) != "skipped")
