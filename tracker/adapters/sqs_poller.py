"""SQS intake: long-poll a queue that SNS fills with SES events, store each, then delete it.

The SQS twin of receivers/sns.py: the same checks and the same inbox commit (tracker.pipeline.intake),
with SQS's answers in place of HTTP's. Each message is handled inside its own error
boundary and deleted only once nothing more can come of it: after the inbox commit, or
when it can never be accepted. Everything else stays in the queue and SQS shows it again
after the visibility timeout. The poller may die at any point: what it had not deleted is
redelivered, and the inbox's unique dedupe key turns a redelivery of something already
stored into a no-op.

While the database is away the poller receives nothing (each receive would count towards
a redrive policy's maxReceiveCount and push good events into the dead-letter queue): it
looks for the database again every few seconds, and once it is back shows the messages it
was holding to SQS again at once. It starts the same way when the database (or SQS) is
unreachable at start.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import signal
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tracker.adapters import logs
from tracker.db import repository
from tracker.providers.common import bounded_json
from tracker.pipeline import intake
from tracker.providers.registry import SES
from tracker.db.sources import SourceInfo

if TYPE_CHECKING:  # only named: callers hand the services in (tracker.services is above this layer)
    from tracker.services import Services

log = logging.getLogger(__name__)

STORED, DUPLICATE, REFUSED, RETRY_LATER = "stored", "duplicate", "refused", "retry_later"

MAX_MESSAGES = 10  # the most one ReceiveMessage (or ChangeMessageVisibilityBatch) takes
# The longest wait between looks while the database or SQS is away, so that the poller is
# back within about 5 s of its return.
MAX_BACKOFF = 4.0
FIRST_BACKOFF = 0.5


def next_backoff(previous: float) -> float:
    """The wait after another failed look: 0.5 s doubling to MAX_BACKOFF."""
    return min(max(previous * 2, FIRST_BACKOFF), MAX_BACKOFF)


class UnknownSource(Exception):
    """No SES source has the poller's token: nothing to poll for."""


class DatabaseAway(Exception):
    """The database does not answer; str() says what it said."""


class NoSuchQueue(Exception):
    """SQS answers that the queue does not exist (a wrong URL, or a deleted queue): nothing to wait for."""


# How SQS says the queue is not there: the query protocol's code, and the JSON protocol's.
_NO_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one SQS message: stored | duplicate | refused | retry_later (with why).

    ``database_away``: a retry_later because the database does not answer (not this message's fault).
    """

    kind: str
    reason: str = ""
    database_away: bool = False
    by_source: bool = False  # refused for what the source allows (its topics), which may have changed since read

    @property
    def settled(self) -> bool:
        """Delete it: the inbox has it, or no redelivery could ever make it acceptable."""
        return self.kind != RETRY_LATER


def handle_message(services: Services, source: SourceInfo, body: str, request_id: str | None = None) -> Outcome:
    """Verify and store one SQS message body (its row keeps ``request_id``, the MessageId); never
    raises for a bad or unlucky message."""
    try:
        return _handle(services, source, body, request_id)
    except intake.Refused as refusal:
        reason = f"{refusal.reason}: {refusal.detail or refusal}"
        # Malformed, forged, topic not allowed: no redelivery can fix it. Passing: the
        # certificate could not be fetched; it may be next time.
        return Outcome(RETRY_LATER if refusal.passing else REFUSED, reason,
                       by_source=refusal.reason == intake.TOPIC_NOT_ALLOWED)
    except SQLAlchemyError as error:
        reason = f"database: {error.__class__.__name__}: {error}".splitlines()[0]
        return Outcome(RETRY_LATER, reason, database_away=_database_away(error))
    except Exception as error:  # a bug must not delete the message, nor stop the other messages
        log.exception("unexpected error handling an SQS message; leaving it for redelivery")
        return Outcome(RETRY_LATER, f"unexpected {error.__class__.__name__}: {error}")


def _handle(services: Services, source: SourceInfo, body: str, request_id: str | None) -> Outcome:
    """The checks the HTTPS receiver makes (size, envelope, signature, topic), then the store; a body with
    no envelope is a raw delivery, stored whatever it holds (the worker judges it)."""
    if len(body.encode("utf-8", "surrogatepass")) > services.config.max_body_bytes:
        return Outcome(REFUSED, f"body is larger than {services.config.max_body_bytes} bytes")
    if _dressed_as_envelope(body):
        # An SNS envelope, or something dressed as one (SNS -> SQS keeps the whole signed
        # envelope): verified exactly as over HTTP, so a half-envelope is refused, not
        # stored as a raw message.
        stored = intake.accept_sns(services, source, body, request_id=request_id)
    else:
        # Raw message delivery: the body IS the SES message, with no envelope and no
        # signature. Its authenticity rests on the queue's IAM policy alone (only the SNS
        # topic may SendMessage to it), which is why the HTTP receiver refuses raw bodies.
        # Like any authenticated body it is stored, JSON or not: SES's plain-text "topic
        # validated" notice comes this way, and one that is no SES event fails in the
        # worker with its reason, kept for replay, instead of vanishing with a log line.
        stored = intake.accept_raw_ses(services, source, body, request_id=request_id)
    return Outcome(DUPLICATE if stored.duplicate else STORED)


def _dressed_as_envelope(body: str) -> bool:
    """Whether ``body`` is a JSON object with an SNS envelope's Type or TopicArn (signed or not)."""
    try:
        document = bounded_json.loads(body)
    except ValueError:  # JSONDecodeError, nesting past the bound included: no envelope
        return False
    return isinstance(document, dict) and ("Type" in document or "TopicArn" in document)


def _database_away(error: SQLAlchemyError) -> bool:
    """Whether ``error`` says the database does not answer (rather than refusing this message)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError))


class SqsPoller:
    """Receive, store, delete, in batches of up to ten, until stopped (or once).

    ``source``: the SES source, or None to look ``token`` up when the database answers.
    """

    def __init__(self, services: Services, source: SourceInfo | None, queue_url: str, client, *,
                 token: str | None = None, wait_seconds: int = 20, report_every: float = 300.0) -> None:
        if source is None and token is None:
            raise ValueError("a source, or the token to find it by")
        self.services = services
        self.source = source
        self.token = token
        self.queue_url = queue_url
        self.client = client
        self.wait_seconds = wait_seconds
        self.report_every = report_every
        self.totals: collections.Counter[str] = collections.Counter()
        self._stopping = threading.Event()
        self._database_away = False
        # Received while the database was away: shown to SQS again as soon as it is back.
        self._held: list[dict] = []

    def stop(self, *_signal_args) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stopping.set()

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT stop after the current batch; a second one acts as the default would."""
        def handler(signum, frame):
            log.info("signal %s: finishing the current batch, then exiting", signum)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, *, once: bool = False) -> collections.Counter[str]:
        """Poll until stop() (or after one receive with ``once``); returns the totals.

        The database or SQS being away only makes it wait (with ``once`` it raises
        DatabaseAway or botocore's error instead); UnknownSource and NoSuchQueue end it.
        """
        log.info("polling %s for source %s", self.queue_url, self.source.id if self.source else self.token)
        start = getattr(self.services.waker, "start", None)
        if start is not None:
            start()  # the in-process worker: rows a previous run stored and never applied are applied now
        backoff, last_report = 0.0, time.monotonic()
        while not self._stopping.is_set():
            try:
                self._ready()
                trouble = self.poll_once()[RETRY_LATER] > 0
            except DatabaseAway as away:
                if once:
                    raise
                backoff = next_backoff(backoff)
                log.warning("the database does not answer (%s); looking again in %.1f s", away, backoff)
                self._stopping.wait(backoff)
                continue
            except (BotoCoreError, ClientError) as error:  # botocore's own retries are spent
                if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _NO_QUEUE_CODES:
                    raise NoSuchQueue(f"no SQS queue at {self.queue_url} ({error})") from None
                if once:
                    raise
                log.warning("receiving from SQS failed: %s", error)
                trouble = True
            if once:
                break
            # Something could not be stored for now: wait a little before receiving again.
            backoff = next_backoff(backoff) if trouble else 0.0
            if backoff:
                self._stopping.wait(backoff)
            if time.monotonic() - last_report >= self.report_every:
                self._report()
                last_report = time.monotonic()
        self._report()
        return self.totals

    def _ready(self) -> None:
        """Know the source, and the database answering: DatabaseAway (or UnknownSource) if not."""
        if self.source is None:
            try:
                source = self.services.sources.get(self.token)
            except SQLAlchemyError as error:
                raise DatabaseAway(str(error).splitlines()[0]) from None
            if source is None or source.provider != SES:
                raise UnknownSource("no SES source has this token (see `tracker sources create --provider ses`)")
            self.source = source
        if self._database_away:
            try:
                _ping(self.services)
            except SQLAlchemyError as error:
                raise DatabaseAway(str(error).splitlines()[0]) from None
            log.info("the database answers again; resuming")
            self._database_away = False
            self._release_held()

    def poll_once(self) -> collections.Counter[str]:
        """One receive and its batch: store each message, wake a worker, delete what is settled."""
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=MAX_MESSAGES,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        batch: collections.Counter[str] = collections.Counter()
        settled = []
        for message in response.get("Messages", []):
            if self._database_away:
                # Found away by an earlier message of this batch: each further try would
                # wait out a connect timeout. Held, and shown again once it is back.
                batch[RETRY_LATER] += 1
                self._held.append(message)
                continue
            # The MessageId is this message's request id: on its inbox row and its log lines.
            message_id = message.get("MessageId")
            with logs.context(request_id=message_id):
                outcome = handle_message(self.services, self.source, message.get("Body", ""), message_id)
                if outcome.by_source:
                    outcome = self._decide_again(message.get("Body", ""), message_id, outcome)
                if outcome.kind in (REFUSED, RETRY_LATER):
                    log.warning("SQS message %s (receive #%s) %s: %s", message_id or "?",
                                message.get("Attributes", {}).get("ApproximateReceiveCount", "?"),
                                "refused and deleted" if outcome.settled else "left for redelivery",
                                outcome.reason)
            batch[outcome.kind] += 1
            if outcome.database_away:
                self._database_away = True
                self._held.append(message)
            if outcome.settled:
                settled.append(message)
        if batch[STORED]:
            self.services.waker.wake()  # once per batch; the wake-up carries no data
        self.totals.update(batch)
        self._delete(settled)
        return batch

    def _decide_again(self, body: str, message_id: str | None, refused: Outcome) -> Outcome:
        """``refused`` (for what the source allows) decided again on the source read afresh. The poller
        holds its source for its whole life, and a topic allowed since (in another process) must not
        see its events refused, hence deleted."""
        token = self.source.token or self.token
        if token is None:
            return refused
        self.services.sources.forget(token)
        try:
            fresh = self.services.sources.get(token)
        except SQLAlchemyError as error:
            # Whether the topic is allowed now cannot be known: keep the message, not delete it on a stale answer.
            return Outcome(RETRY_LATER, f"database: {error.__class__.__name__}: {error}".splitlines()[0],
                           database_away=_database_away(error))
        if fresh is None or fresh == self.source:
            return refused
        self.source = fresh
        return handle_message(self.services, fresh, body, message_id)

    def _delete(self, messages: list[dict]) -> None:
        # Only now, after the inbox commit. Dying before this line costs nothing: SQS
        # redelivers, and the inbox dedupe (the SNS MessageId, or the content hash of a
        # raw body) stores the redelivery as a duplicate. A failed delete is the same.
        if not messages:
            return
        response = self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)
        ])
        for failure in response.get("Failed", []):
            log.warning("could not delete SQS message %s (%s); its redelivery will be a duplicate",
                        messages[int(failure["Id"])]["MessageId"], failure.get("Message", failure.get("Code")))

    def _release_held(self) -> None:
        """Show the messages held while the database was away to SQS again, rather than after
        their visibility timeout. A handle that expired meanwhile is simply redelivered."""
        held, self._held = self._held, []
        for start in range(0, len(held), MAX_MESSAGES):
            chunk = held[start:start + MAX_MESSAGES]
            try:
                self.client.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(chunk)])
            except (BotoCoreError, ClientError) as error:
                log.warning("could not show %d held SQS message(s) again (%s); SQS will after their "
                            "visibility timeout", len(chunk), error)

    def _report(self) -> None:
        log.info("SQS intake totals: %s", ", ".join(
            f"{kind}={self.totals[kind]}" for kind in (STORED, DUPLICATE, REFUSED, RETRY_LATER)))


def _ping(services: Services) -> None:
    """One round trip to the database; SQLAlchemyError if it does not answer.

    Twice at most: the first use of a pool whose connections died with a database restart
    fails once and empties the pool, so the second try is a fresh connection.
    """
    for attempt in (1, 2):
        try:
            with services.db.engine.connect() as connection:
                repository.round_trip(connection)
            return
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise


_QUEUE_HOSTS = (
    re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$"),  # https://sqs.<region>.amazonaws.com/...
    re.compile(r"^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$"),  # the legacy form
)


def queue_region(queue_url: str) -> str | None:
    """The AWS region in an SQS queue URL, or None (e.g. a local endpoint's URL)."""
    host = urlparse(queue_url).hostname or ""
    for pattern in _QUEUE_HOSTS:
        match = pattern.match(host)
        if match:
            return match.group(1)
    return None


def sqs_client(endpoint_url: str | None, region: str | None):
    """A boto3 SQS client; the region is AWS_DEFAULT_REGION, else ``region`` (e.g. the queue URL's).

    Credentials come from boto3's usual chain (environment, profile, instance role).
    ``endpoint_url`` points it at a local SQS (moto, ElasticMQ) instead of AWS.
    """
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url or None,
        region_name=os.environ.get("AWS_DEFAULT_REGION") or region,
        # The read timeout must outlast a 20 s long poll.
        config=BotoConfig(retries={"mode": "standard"}, read_timeout=60),
    )
