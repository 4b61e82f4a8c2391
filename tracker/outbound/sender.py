"""Sending queued webhook events: lease, POST to the checked address, record, retry or park.

No database transaction is held during a POST. The thread that will POST an event leases
it (state "sending" until ``leased_until``) right before it does, and never leases one it
will not send. Leases are short (SenderSettings.lease, seconds) and renewed while the POST
is in flight (tracker.outbound.leases), so a sender that dies mid-POST frees its events
within one lease, whatever the POST timeout; the event is sent again and receivers see the
same event id and drop the duplicate.

``run`` is a sender: a loop that leases what is due (at most ``per_subscription`` in flight
per subscription) and hands each event to a thread of its pool; a thread then passes its
slot straight on to the same subscription's next due event, so a healthy subscriber drains
its backlog at the speed it answers while a hanging one keeps only its own slots waiting.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.engine import make_url

from tracker.adapters import metrics
from tracker.db import repository
from tracker.db.engine import Database
from tracker.db.models import utcnow
from tracker.outbound import destinations, http, retry, signing
from tracker.outbound.leases import Leases

log = logging.getLogger(__name__)

# How often a sender looks for due events: while events keep coming (something was leased
# within BUSY_FOR seconds) every BUSY_POLL, so a chain that ran dry is followed at once;
# when quiet every POLL, which bounds how long the first event after a lull waits.
POLL = 0.25
BUSY_POLL = 0.02
BUSY_FOR = 2.0
MAX_PAUSE = 5.0  # the longest wait between looks while the database is away
# Events one thread sends in a row for one subscription before its slot goes back to the
# sender's loop, so that with every thread busy the oldest due events elsewhere get a turn.
CHAIN = 100


@dataclasses.dataclass(frozen=True)
class SenderSettings:
    policy: destinations.Policy
    timeout: float = 10.0
    per_subscription: int = 2
    max_age: timedelta = timedelta(hours=24)
    disable_after: timedelta = timedelta(hours=72)
    # Short, and renewed while the POST is in flight: how long a dead sender's events wait.
    lease: timedelta = timedelta(seconds=5)
    threads: int = 16  # POSTs in flight per sender (across subscriptions)

    @classmethod
    def from_config(cls, config) -> SenderSettings:
        return cls(
            policy=destinations.Policy.from_settings(config.webhook_allow_http, config.webhook_allowed_networks),
            timeout=config.webhook_timeout,
            per_subscription=config.webhook_concurrency,
            max_age=timedelta(hours=config.webhook_max_age_hours),
            disable_after=timedelta(hours=config.webhook_disable_after_hours),
        )


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def sender_db(services) -> Database:
    """The database as senders use it: on PostgreSQL their own connections, whose commits do
    not wait for the WAL flush (synchronous_commit=off for those sessions only). A database
    crash could then forget that an event was leased or sent, and it is sent again, which its
    id lets every receiver drop; it saves a flush per event."""
    url = make_url(services.db.url)
    if not url.drivername.startswith("postgresql"):
        return services.db
    with _DATABASES_LOCK:
        if services.db.url not in _DATABASES:
            options = " ".join(filter(None, [url.query.get("options"), "-c synchronous_commit=off"]))
            relaxed = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
            _DATABASES[services.db.url] = Database(relaxed)
        return _DATABASES[services.db.url]


def lease(services, settings: SenderSettings, limit: int = 100, *, leases: Leases | None = None,
          subscription_id: int | None = None) -> list[int]:
    """Lease up to ``limit`` due events (bounded per subscription); their ids. Lease only what will be sent."""
    now = utcnow()
    until = now + settings.lease
    with sender_db(services).transaction() as session:
        ids = repository.lease_webhook_events(session, now, until, per_subscription=settings.per_subscription,
                                              limit=limit, subscription_id=subscription_id)
    if leases is not None:
        leases.hold(ids, until)
    return ids


def deliver(services, event_id: int, settings: SenderSettings, *, leases: Leases | None = None,
            rng: random.Random | None = None, ssl_context=None) -> str:
    """POST one leased event and record what happened; the outcome's name.

    Only while the lease holds: an event whose lease ran out before this began is due
    again (another sender may have leased it since) and is left alone ("skipped").
    ``leases`` renews the lease while the POST is in flight.
    """
    return _deliver(services, event_id, settings, leases, rng=rng, ssl_context=ssl_context)[0]


def _deliver(services, event_id: int, settings: SenderSettings, leases: Leases | None, *, event=None,
             pass_slot: bool = False, rng: random.Random | None = None, ssl_context=None):
    """deliver(); ``event``: what repository.webhook_to_send says of it, if already known. With
    ``pass_slot``, also lease the subscription's next due event in the transaction that records
    this one (the slot passes on). Returns (outcome, what webhook_to_send says of that next event or None)."""
    if event is None:
        with sender_db(services).session() as session:
            event = repository.webhook_to_send(session, event_id)
    if event is None or event.state != "sending" or event.leased_until is None or event.leased_until <= utcnow():
        if leases is not None:
            leases.release(event_id)
        return "skipped", None
    started, outcome, body = utcnow(), None, event.payload.encode()
    try:
        destination = destinations.resolve(event.url, settings.policy)
    except destinations.ResolutionFailed as failed:  # DNS trouble passes: retry like a connection error
        response, outcome = http.Response(None, 0.0, f"could not resolve: {failed}", b""), retry.Outcome.RETRY
    except destinations.DestinationRefused as refused:
        response, outcome = http.Response(None, 0.0, f"destination refused: {refused}", b""), retry.Outcome.PARK
    if outcome is None:
        headers = signing.signature_headers(event.secret, body, int(time.time()), also=_previous_secrets(event))
        response = http.post(destination, body, headers, timeout=settings.timeout, ssl_context=ssl_context)
        outcome = retry.classify(response)
    metrics.WEBHOOK_DELIVERIES.labels(outcome.name.lower()).inc()
    log.info("webhook event %s to subscription %s: %s (status %s, %.0f ms%s)", event_id, event.subscription_id,
             outcome.name.lower(), response.status, response.latency_ms,
             f", {response.error}" if response.error else "")
    held = event.leased_until
    if leases is not None:
        # No renewal from here on, so the lease compared when recording is the last one written.
        held = leases.release(event_id) or held
    until = utcnow() + settings.lease
    following = _record(services, event_id, event.subscription_id, held, response, outcome, settings, started,
                        rng or random.Random(), failing=event.failing_since is not None,
                        pass_slot_until=until if pass_slot else None)
    if following is not None and leases is not None:
        leases.hold([following.id], until)
    return outcome.name.lower(), following


def _previous_secrets(event) -> tuple[str, ...]:
    """The secret a rotation replaced, while it still signs (see repository.rotate_subscription_secret)."""
    until = event.previous_secret_expires_at
    return (event.previous_secret,) if event.previous_secret and until is not None and until > utcnow() else ()


def _record(services, event_id, subscription_id, lease, response, outcome, settings: SenderSettings, now, rng, *,
            failing: bool, pass_slot_until):
    """Record the attempt and what follows from it; the next event leased if the slot passes on."""
    with sender_db(services).transaction() as session:
        if outcome is retry.Outcome.DELIVERED:  # the common case, in three statements
            settled = repository.record_delivered(session, event_id, lease, status=response.status,
                                                  latency_ms=response.latency_ms, error=response.error, at=now)
            if settled and failing:
                repository.clear_failing(session, subscription_id)
        else:
            settled = _record_failure(session, event_id, lease, response, outcome, settings, now, rng)
        if not settled or pass_slot_until is None:
            # Not settled: the lease had run out and another sender holds the event (and the slot).
            return None
        return repository.pass_webhook_slot(session, subscription_id, utcnow(), pass_slot_until)


def _record_failure(session, event_id, lease, response, outcome, settings: SenderSettings, now, rng) -> bool:
    """A retry or a parking, and the subscription's failure streak; False if the lease was no longer ours."""
    # The event row first, then its subscription: leasing holds subscription locks but
    # skips locked events, so this order cannot deadlock with it.
    event = repository.webhook_event(session, event_id, lock=True)
    if event is None:
        return False  # its subscription was deleted meanwhile
    repository.record_attempt(session, event, status=response.status, latency_ms=response.latency_ms,
                              error=response.error, at=now)
    if event.state != "sending" or event.leased_until != lease:
        return False  # the lease ran out mid-POST and another sender has the event now: its outcome decides
    subscription = repository.subscription_of(session, None, event.subscription_id)
    event.leased_until = None
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
    session.flush()
    return True


def deliver_and_continue(services, event_id: int, settings: SenderSettings, *, max_events: int = CHAIN,
                         leases: Leases | None = None, stopping: Callable[[], bool] = lambda: False,
                         ssl_context=None) -> int:
    """Deliver a leased event, then keep this sending slot busy with the subscription's next due events.

    A slot is one of the subscription's ``per_subscription`` leases: it passes straight to
    that subscriber's next event, in the transaction that records the last one. It stops
    after ``max_events`` or once ``stopping()``, and leases the next event only when it is
    going to send it. Returns how many events it took (skipped ones included).
    """
    own = leases is None
    leases = leases or Leases(sender_db(services), settings.lease)
    sent, event = 0, None
    try:
        while event_id is not None:
            go_on = sent + 1 < max_events and not stopping()
            try:
                _, event = _deliver(services, event_id, settings, leases, event=event, pass_slot=go_on,
                                    ssl_context=ssl_context)
            except BaseException:
                leases.release(event_id)  # no more renewals: its lease runs out and another sender has it
                raise
            event_id = event.id if event is not None else None
            sent += 1
    finally:
        if own:
            leases.close()
    return sent


def run(services, settings: SenderSettings, *, until_idle: bool = False, budget: float | None = None,
        stop: Callable[[], bool] = lambda: False, on_stop: Callable[[], None] | None = None,
        ssl_context=None) -> int:
    """Send due webhook events with a pool of ``settings.threads``; how many POSTs were made.

    ``until_idle``: return once nothing is due and nothing is in flight (the embedded
    default's round, and the tests'). ``budget`` seconds, or ``stop()`` (a warm shutdown):
    stop leasing, call ``on_stop`` (a Celery task queues its successor there), then finish
    what is in flight. Leases are renewed meanwhile, whichever applies.
    """
    leases = Leases(sender_db(services), settings.lease)
    wake = threading.Event()
    running: set[Future] = set()
    deadline = None if budget is None else time.monotonic() + budget
    stopped = threading.Event()
    sent = 0
    pool = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="webhook")
    pause, last_busy = POLL, 0.0
    try:
        while True:
            done = _harvest(running, strict=until_idle)
            if done:  # a chain ran dry: more events are likely to follow shortly
                sent, last_busy = sent + done, time.monotonic()
            if (deadline is not None and time.monotonic() >= deadline) or stop():
                break
            free = settings.threads - len(running)
            try:
                ids = lease(services, settings, limit=free, leases=leases) if free else []
            except Exception as error:  # noqa: BLE001 - the database away: wait, and look again
                if until_idle:
                    raise
                log.warning("could not lease webhook events (%s); trying again in %.1f s",
                            str(error).splitlines()[0], pause)
                wake.wait(pause)
                wake.clear()
                pause = min(pause * 2, MAX_PAUSE)
                continue
            pause = POLL
            if ids:
                last_busy = time.monotonic()
            for event_id in ids:
                future = pool.submit(deliver_and_continue, services, event_id, settings, leases=leases,
                                     stopping=stopped.is_set, ssl_context=ssl_context)
                future.add_done_callback(lambda _: wake.set())
                running.add(future)
            if until_idle and not ids and not running:
                break
            if ids and len(ids) == free:
                continue  # the pool is full now; the next pass waits for a thread
            wake.wait(BUSY_POLL if time.monotonic() - last_busy < BUSY_FOR else POLL)
            wake.clear()
    finally:
        stopped.set()
        if on_stop is not None:
            on_stop()
        pool.shutdown(wait=True)
        sent += _harvest(running, strict=False)
        leases.close()
    return sent


def _harvest(running: set[Future], *, strict: bool) -> int:
    """Forget the finished chains; how many events they sent. A chain's error is raised if
    ``strict`` (a round that must end), else logged: the events are sent again when their
    lease runs out, and the other chains go on."""
    sent = 0
    for future in [f for f in running if f.done()]:
        running.discard(future)
        try:
            sent += future.result()
        except Exception:  # noqa: BLE001 - one chain's trouble (the database away) must not stop the others
            if strict:
                raise
            log.exception("sending webhook events failed; they are sent again when their lease runs out")
    return sent


def send_due(services, settings: SenderSettings, *, ssl_context=None) -> int:
    """Send everything due now, then return (the embedded default's sender, and the tests')."""
    return run(services, settings, until_idle=True, ssl_context=ssl_context)


# One sender per process is enough (its pool spreads over subscriptions); more would only
# compete for the same leases. Celery's thread pool may start several send_webhooks at once.
_ACTIVE = threading.Lock()


def run_as_process_sender(services, settings: SenderSettings, *, budget: float, hand_over: Callable[[], None],
                          stop: Callable[[], bool] = lambda: False) -> int:
    """Be this process's sender for ``budget`` seconds, then ``hand_over`` to the next; 0 if one runs already.

    If the successor cannot be queued (the broker is away) this one carries on for another
    budget, unless another sender of this process took over meanwhile.
    """
    if not _ACTIVE.acquire(blocking=False):
        return 0
    sent, held = 0, True

    def release_and_hand_over() -> None:
        # Released before the POSTs in flight finish, so that the successor (perhaps in this
        # very process) starts leasing at once; their slots stay counted until they are done.
        nonlocal held
        _ACTIVE.release()
        held = False
        try:
            hand_over()
        except Exception as error:  # noqa: BLE001 - the broker away: nobody can be queued
            log.warning("could not queue the next webhook sender (%s); this one sends on", error)
            held = _ACTIVE.acquire(blocking=False)

    try:
        while True:
            sent += run(services, settings, budget=budget, stop=stop, on_stop=release_and_hand_over)
            if not held or stop():
                return sent
    finally:
        if held:
            _ACTIVE.release()
