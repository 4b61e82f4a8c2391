"""Sending queued webhook events: lease, POST to the checked address, record, retry or park.

No database transaction is held during a POST: an event is leased (state "sending" until
``leased_until``), posted, and its outcome recorded in a second transaction. A sender
that dies mid-POST leaves a lease that expires, and the event is sent again; receivers
see the same event id and drop the duplicate.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tracker import metrics, repository
from tracker.models import WebhookSubscription, utcnow
from tracker.outbound import destinations, http, retry, signing

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SenderSettings:
    policy: destinations.Policy
    timeout: float = 10.0
    per_subscription: int = 2
    max_age: timedelta = timedelta(hours=24)
    disable_after: timedelta = timedelta(hours=72)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout * 2 + 30)

    @classmethod
    def from_config(cls, config) -> "SenderSettings":
        return cls(
            policy=destinations.Policy.from_settings(config.webhook_allow_http, config.webhook_allowed_networks),
            timeout=config.webhook_timeout,
            per_subscription=config.webhook_concurrency,
            max_age=timedelta(hours=config.webhook_max_age_hours),
            disable_after=timedelta(hours=config.webhook_disable_after_hours),
        )


def lease(services, settings: SenderSettings, limit: int = 100) -> list[int]:
    now = utcnow()
    with services.db.transaction() as session:
        return repository.lease_webhook_events(session, now, now + settings.lease,
                                               per_subscription=settings.per_subscription, limit=limit)


def deliver(services, event_id: int, settings: SenderSettings, *, rng: random.Random | None = None,
            ssl_context=None) -> str:
    """POST one leased event and record what happened; the outcome's name.

    Only while the lease holds: a task that waited in the queue past its lease finds the
    event due again (another sender may have leased it since) and leaves it alone.
    """
    with services.db.session() as session:
        event = repository.webhook_event(session, event_id)
        if event is None or event.state != "sending" or event.leased_until is None or event.leased_until <= utcnow():
            return "skipped"
        subscription = session.get(WebhookSubscription, event.subscription_id)
        url, secret, body, lease = subscription.url, subscription.secret, event.payload.encode(), event.leased_until

    started, outcome = utcnow(), None
    try:
        destination = destinations.resolve(url, settings.policy)
    except destinations.ResolutionFailed as failed:  # DNS trouble passes: retry like a connection error
        response, outcome = http.Response(None, 0.0, f"could not resolve: {failed}", b""), retry.Outcome.RETRY
    except destinations.DestinationRefused as refused:
        response, outcome = http.Response(None, 0.0, f"destination refused: {refused}", b""), retry.Outcome.PARK
    if outcome is None:
        headers = signing.signature_headers(secret, body, int(time.time()))
        response = http.post(destination, body, headers, timeout=settings.timeout, ssl_context=ssl_context)
        outcome = retry.classify(response)
    metrics.WEBHOOK_DELIVERIES.labels(outcome.name.lower()).inc()
    log.info("webhook event %s to subscription %s: %s (status %s, %.0f ms%s)", event_id, event.subscription_id,
             outcome.name.lower(), response.status, response.latency_ms,
             f", {response.error}" if response.error else "")
    _record(services, event_id, lease, response, outcome, settings, started, rng or random.Random())
    return outcome.name.lower()


def _record(services, event_id, lease, response, outcome, settings: SenderSettings, now, rng) -> None:
    with services.db.transaction() as session:
        # The event row first, then its subscription: leasing holds subscription locks but
        # skips locked events, so this order cannot deadlock with it.
        event = repository.webhook_event(session, event_id, lock=True)
        if event is None:
            return  # its subscription was deleted meanwhile
        repository.record_attempt(session, event, status=response.status, latency_ms=response.latency_ms,
                                  error=response.error, at=now)
        if event.state != "sending" or event.leased_until != lease:
            return  # the lease ran out mid-POST and another sender has the event now: its outcome decides
        subscription = session.get(WebhookSubscription, event.subscription_id)
        event.leased_until = None
        if outcome is retry.Outcome.DELIVERED:
            event.state, event.delivered_at, event.next_attempt_at = "delivered", now, None
            subscription.failing_since = None
            return
        window_ends = event.retry_window_start + settings.max_age
        if outcome is retry.Outcome.RETRY and not retry.should_park(event.retry_window_start, now, settings.max_age):
            # The last attempt falls at the end of the window, not after it.
            event.state = "pending"
            event.next_attempt_at = min(now + retry.next_delay(event.attempts, rng), window_ends)
        else:
            event.state, event.parked_at, event.next_attempt_at = "parked", now, None
        subscription.failing_since = subscription.failing_since or now
        if subscription.active and retry.should_disable(subscription.failing_since, now, settings.disable_after):
            subscription.active = False
            subscription.disabled_at = now
            subscription.disabled_reason = (f"failing since {subscription.failing_since.isoformat()}: "
                                            f"{response.error or f'HTTP {response.status}'}")
            log.warning("webhook subscription %s disabled: %s", subscription.id, subscription.disabled_reason)


def deliver_and_continue(services, event_id: int, settings: SenderSettings, *, max_events: int = 100,
                         ssl_context=None) -> int:
    """Deliver a leased event, then keep this sending slot busy with the subscription's next due events.

    A slot is one of the subscription's ``per_subscription`` leases: it passes straight to
    that subscriber's next event, so a healthy subscriber drains its backlog at the speed
    it answers, while a hanging one keeps only its own slots waiting.
    """
    sent = 0
    while event_id is not None and sent < max_events:
        deliver(services, event_id, settings, ssl_context=ssl_context)
        sent += 1
        event_id = _lease_next(services, settings, event_id)
    return sent


def _lease_next(services, settings: SenderSettings, previous_id: int) -> int | None:
    with services.db.session() as session:
        previous = repository.webhook_event(session, previous_id)
        if previous is None:
            return None  # its subscription was deleted meanwhile
        subscription_id = previous.subscription_id
    now = utcnow()
    with services.db.transaction() as session:
        ids = repository.lease_webhook_events(session, now, now + settings.lease, limit=1, subscription_id=subscription_id,
                                              per_subscription=settings.per_subscription)
    return ids[0] if ids else None


def send_due(services, settings: SenderSettings, *, workers: int = 4, limit: int = 100, ssl_context=None) -> int:
    """Lease and send due events with a small thread pool (the embedded form; Celery fans out instead)."""
    ids = lease(services, settings, limit)
    if not ids:
        return 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(lambda event_id: deliver_and_continue(services, event_id, settings,
                                                                  ssl_context=ssl_context), ids))
