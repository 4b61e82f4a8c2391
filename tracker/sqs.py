"""SQS intake: long-poll a queue that SNS fills with SES events, store each, then delete it.

The SQS twin of receivers/sns.py: the same checks and the same inbox commit (tracker.intake),
with SQS's answers in place of HTTP's. A message is deleted only once nothing more can come
of it: after the inbox commit, or when it can never be accepted. Everything else stays in
the queue and SQS shows it again after the visibility timeout. The poller may die at any
point: what it had not deleted is redelivered, and the inbox's unique dedupe key turns a
redelivery of something already stored into a no-op.
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
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from tracker.providers import bounded_json
from tracker import intake
from tracker.errors import ApiError
from tracker.services import Services, SourceInfo

log = logging.getLogger(__name__)

STORED, DUPLICATE, REFUSED, RETRY_LATER = "stored", "duplicate", "refused", "retry_later"

MAX_MESSAGES = 10  # the most one ReceiveMessage returns
MAX_BACKOFF = 60.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one SQS message: stored | duplicate | refused | retry_later (with why)."""

    kind: str
    reason: str = ""

    @property
    def settled(self) -> bool:
        """Delete it: the inbox has it, or no redelivery could ever make it acceptable."""
        return self.kind != RETRY_LATER


def handle_message(services: Services, source: SourceInfo, body: str) -> Outcome:
    """Verify and store one SQS message body; never raises for a bad or unlucky message."""
    if len(body.encode("utf-8")) > services.config.max_body_bytes:
        return Outcome(REFUSED, f"body is larger than {services.config.max_body_bytes} bytes")
    try:
        document = bounded_json.loads(body)
    except ValueError as error:
        return Outcome(REFUSED, f"body is not JSON: {error}")
    if not isinstance(document, dict):
        return Outcome(REFUSED, "body is not a JSON object")
    try:
        if "Type" in document and "TopicArn" in document:
            # SNS -> SQS keeps the whole signed envelope: verified exactly as over HTTP.
            stored = intake.accept_sns(services, source, body)
        else:
            # Raw message delivery: the body IS the SES message, with no envelope and no
            # signature. Its authenticity rests on the queue's IAM policy alone (only the SNS
            # topic may SendMessage to it), which is why the HTTP receiver refuses raw bodies.
            stored = intake.accept_raw_ses(services, source, body)
    except ApiError as error:
        reason = f"{error.error}: {error.detail or error}"
        # 4xx: malformed, forged, topic not allowed: no redelivery can fix it. 5xx: the
        # certificate could not be fetched; it may be next time.
        return Outcome(REFUSED if error.status < 500 else RETRY_LATER, reason)
    except SQLAlchemyError as error:
        return Outcome(RETRY_LATER, f"database unavailable: {error.__class__.__name__}: {error}".splitlines()[0])
    except Exception as error:  # a bug must not delete the message, nor stop the other messages
        log.exception("unexpected error handling an SQS message; leaving it for redelivery")
        return Outcome(RETRY_LATER, f"unexpected {error.__class__.__name__}: {error}")
    return Outcome(DUPLICATE if stored.duplicate else STORED)


class SqsPoller:
    """Receive, store, delete, in batches of up to ten, until stopped (or once)."""

    def __init__(self, services: Services, source: SourceInfo, queue_url: str, client, *,
                 wait_seconds: int = 20, report_every: float = 300.0) -> None:
        self.services = services
        self.source = source
        self.queue_url = queue_url
        self.client = client
        self.wait_seconds = wait_seconds
        self.report_every = report_every
        self.totals: collections.Counter[str] = collections.Counter()
        self._stopping = threading.Event()

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
        """Poll until stop() (or after one receive with ``once``); returns the totals."""
        log.info("polling %s for source %s", self.queue_url, self.source.id)
        backoff, last_report = 0.0, time.monotonic()
        while not self._stopping.is_set():
            try:
                batch = self.poll_once()
            except (BotoCoreError, ClientError) as error:  # botocore's own retries are spent
                if once:
                    raise
                log.warning("receiving from SQS failed: %s", error)
                batch = collections.Counter({RETRY_LATER: 1})
            if once:
                break
            # While the database (or SQS) is down, back off instead of receiving the same
            # messages again and again: each receive counts towards a redrive policy's
            # maxReceiveCount and would push good events into the dead-letter queue.
            backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF) if batch[RETRY_LATER] else 0.0
            if backoff:
                self._stopping.wait(backoff)
            if time.monotonic() - last_report >= self.report_every:
                self._report()
                last_report = time.monotonic()
        self._report()
        return self.totals

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
            outcome = handle_message(self.services, self.source, message["Body"])
            batch[outcome.kind] += 1
            if outcome.kind in (REFUSED, RETRY_LATER):
                log.warning("SQS message %s (receive #%s) %s: %s", message["MessageId"],
                            message.get("Attributes", {}).get("ApproximateReceiveCount", "?"),
                            "refused and deleted" if outcome.settled else "left for redelivery",
                            outcome.reason)
            if outcome.settled:
                settled.append(message)
        if batch[STORED]:
            self.services.waker.wake()  # once per batch; the wake-up carries no data
        self._delete(settled)
        self.totals.update(batch)
        return batch

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

    def _report(self) -> None:
        log.info("SQS intake totals: %s", ", ".join(
            f"{kind}={self.totals[kind]}" for kind in (STORED, DUPLICATE, REFUSED, RETRY_LATER)))


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
