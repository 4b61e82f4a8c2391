"""The SES traffic a drill sends, and what each delivery must then show, worked out here alone.

A plan is a set of messages with one to three recipients and a plausible life each (sent,
delayed, delivered, bounced hard or soft or both, complained, opened, clicked, rejected, a
template that failed to render), published as SES publishes it: through identity feedback
notifications (``notificationType``), a configuration set's event destination
(``eventType``), or both at once, in which case the same bounce, complaint or delivery
arrives twice under two SNS MessageIds and counts once. Notifications are posted in a
random order, and some MessageIds are posted twice, as SNS does.

The expected status of every (message, recipient) is computed from what was sent with the
status model of DESIGN.md section 3, written out again here rather than imported from
tracker/, so that a bug in the tracker's fold cannot hide itself: the highest rank wins,
and among equal ranks the latest event.
"""
from __future__ import annotations

import dataclasses
import random
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, UTC
from collections.abc import Iterable

from tests.support.ses_events import for_message
from tests.support.sns_signing import SnsTestPki, format_timestamp, notification

# DESIGN.md section 3. ACKNOWLEDGED (8) comes from an application, never from SES; PENDING
# (0) needs a registration, which drills do not make.
RANK = {"SENT": 1, "RETRY": 2, "DELIVERED": 3, "OPENED": 4, "ERROR": 5, "BOUNCED": 6, "COMPLAINT": 7}

# What each SES event type means for the recipients it names (SES developer guide, and
# docs/provider-formats.md section 2). Open and Click name nobody: with one destination
# they are that address's, with several they stay on the message.
STATUS_OF = {"Send": "SENT", "DeliveryDelay": "RETRY", "Delivery": "DELIVERED", "Open": "OPENED",
             "Click": "OPENED", "Reject": "ERROR", "Rendering Failure": "ERROR", "Bounce": "BOUNCED",
             "Complaint": "COMPLAINT"}
BOUNCE_TYPE = {"Permanent": "PERMANENT", "Transient": "TRANSIENT", "Undetermined": "UNDETERMINED"}

FEEDBACK_TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
EVENTS_TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
TOPICS = (FEEDBACK_TOPIC, EVENTS_TOPIC)

# Recorded payloads (tests/fixtures/ses) each family's documents are made from.
_EVENT_FIXTURE = {"Send": "event/send.json", "Delivery": "event/delivery.json", "Bounce": "event/bounce.json",
                  "Complaint": "event/complaint.json", "DeliveryDelay": "event/delivery-delay.json",
                  "Open": "event/open.json", "Click": "event/click.json", "Reject": "event/reject.json",
                  "Rendering Failure": "event/rendering-failure.json"}
_FEEDBACK_FIXTURE = {"Delivery": "notification/delivery.json", "Bounce": "notification/bounce-permanent.json",
                     "Complaint": "notification/complaint.json"}


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing SES says about a message, whichever family (or both) publishes it."""

    id: int
    ses_type: str
    message_id: str
    destination: tuple[str, ...]
    sent: datetime  # mail.timestamp: when SES accepted the message
    at: datetime  # the event's own time (Send, Reject, Rendering Failure: the same as sent)
    recipients: tuple[str, ...]  # the addresses whose delivery it changes; () for message-level
    bounce_type: str | None = None  # SES's spelling: Permanent, Transient
    feedback_id: str | None = None
    link: str | None = None


@dataclasses.dataclass(frozen=True)
class Notification:
    """One signed SNS message: a unique MessageId carrying one event."""

    sns_message_id: str
    event_id: int
    family: str  # "events" (eventType) or "feedback" (notificationType)
    body: bytes


@dataclasses.dataclass(frozen=True)
class Expected:
    status: str
    bounce_type: str | None
    events: int  # distinct events in the delivery's history
    opens: int
    clicks: int


@dataclasses.dataclass
class Plan:
    events: dict[int, Event]
    notifications: list[Notification]  # unique MessageIds
    sends: list[int]  # indexes into notifications, in posting order, re-sent MessageIds included

    def expected(self, acknowledged: Iterable[str]) -> dict[tuple[str, str], Expected]:
        """The status of every delivery once the events of these acknowledged MessageIds are applied."""
        by_sns_id = {n.sns_message_id: n.event_id for n in self.notifications}
        events = {by_sns_id[message_id] for message_id in acknowledged}
        per_delivery: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for event_id in events:
            event = self.events[event_id]
            for recipient in event.recipients:
                per_delivery[(event.message_id, recipient)].append(event)
        return {key: _fold(history) for key, history in per_delivery.items()}

    def summary(self) -> str:
        kinds = Counter(self.events[n.event_id].ses_type for n in self.notifications)
        families = Counter(n.family for n in self.notifications)
        recipients = {(e.message_id, r) for e in self.events.values() for r in e.destination}
        return (f"{len(self.notifications)} notifications ({len(self.sends) - len(self.notifications)} "
                f"MessageIds re-sent), {len({e.message_id for e in self.events.values()})} messages, "
                f"{len(recipients)} recipients; families {dict(families)}; {dict(kinds)}")


def _fold(history: list[Event]) -> Expected:
    winner = max(history, key=lambda e: (RANK[STATUS_OF[e.ses_type]], e.at))
    status = STATUS_OF[winner.ses_type]
    return Expected(
        status=status,
        bounce_type=BOUNCE_TYPE[winner.bounce_type] if status == "BOUNCED" else None,
        events=len(history),
        opens=sum(e.ses_type == "Open" for e in history),
        clicks=sum(e.ses_type == "Click" for e in history),
    )


def make_plan(n: int, pki: SnsTestPki, *, seed: int = 1, resend_fraction: float = 0.03,
              prefix: str = "drill") -> Plan:
    """At least ``n`` unique notifications (whole messages), shuffled, signed, with some re-sent."""
    rng = random.Random(seed)
    builder = _Builder(rng, prefix)
    while len(builder.published) < n:
        builder.message()
    published = builder.published
    rng.shuffle(published)
    notifications = [
        Notification(sns_message_id, event.id, family,
                     _signed(pki, rng, sns_message_id, family, builder.document(event, family)))
        for sns_message_id, event, family in published
    ]
    sends = list(range(len(notifications)))
    for index in rng.sample(range(len(notifications)), int(len(notifications) * resend_fraction)):
        # SNS delivers at least once: the same MessageId again, some time later.
        sends.insert(rng.randrange(index + 1, len(sends) + 1), index)
    return Plan(builder.events, notifications, sends)


def _signed(pki: SnsTestPki, rng: random.Random, sns_message_id: str, family: str, document: dict) -> bytes:
    import json

    topic = EVENTS_TOPIC if family == "events" else FEEDBACK_TOPIC
    envelope = notification(document, topic_arn=topic, message_id=sns_message_id)
    return json.dumps(pki.sign(envelope, rng.choice("12"))).encode()


class _Builder:
    """Makes messages and their events; each event is published through one family or both."""

    def __init__(self, rng: random.Random, prefix: str) -> None:
        self.rng = rng
        self.prefix = prefix
        self.events: dict[int, Event] = {}
        self.published: list[tuple[str, Event, str]] = []  # (SNS MessageId, event, family)
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self.count = 0

    def message(self) -> None:
        rng, m = self.rng, self.count
        self.count += 1
        message_id = f"{rng.getrandbits(64):016x}-{uuid.UUID(int=rng.getrandbits(128))}-000000"
        destination = tuple(f"{self.prefix}-{m}-{i}@example.{rng.choice(('com', 'net', 'org'))}"
                            for i in range(rng.choices((1, 2, 3), (5, 3, 2))[0]))
        # Which SES features publish this message's events: a configuration set's event
        # destination, the identity's feedback notifications, or both.
        families = rng.choices((("events",), ("feedback",), ("events", "feedback")), (45, 35, 20))[0]
        sent = self.base + timedelta(seconds=10 * m)

        def add(ses_type, at, recipients, **facts):
            self._event(ses_type, message_id, destination, families, sent, at, recipients, **facts)

        events_family = "events" in families
        if events_family:
            add("Send", sent, destination)
            fate = rng.random()
            if fate < 0.03:
                add("Reject", sent, destination)
                return
            if fate < 0.05:
                add("Rendering Failure", sent, destination)
                return
        delivered = []
        for index, recipient in enumerate(destination):
            ms = timedelta(milliseconds=index)
            if events_family and rng.random() < 0.15:
                add("DeliveryDelay", sent + timedelta(seconds=1) + ms, (recipient,))
            fate = rng.random()
            if fate < 0.62:
                delivered.append(recipient)
            elif fate < 0.74:
                self._bounce(add, message_id, sent + timedelta(seconds=6) + ms, recipient, "Permanent")
            elif fate < 0.82:
                self._bounce(add, message_id, sent + timedelta(seconds=6) + ms, recipient, "Transient")
            elif fate < 0.86:
                # Soft, then hard: both BOUNCED, so the later one decides the bounce type.
                first, second = rng.sample(("Transient", "Permanent"), 2)
                self._bounce(add, message_id, sent + timedelta(seconds=6) + ms, recipient, first)
                self._bounce(add, message_id, sent + timedelta(seconds=120) + ms, recipient, second)
            elif fate < 0.90:
                delivered.append(recipient)
                add("Complaint", sent + timedelta(seconds=60) + ms, (recipient,),
                    feedback_id=self._feedback_id(message_id))
            elif fate < 0.93:
                delivered.append(recipient)  # an asynchronous bounce after the delivery wins
                self._bounce(add, message_id, sent + timedelta(seconds=90) + ms, recipient, "Permanent")
            elif fate < 0.97 and events_family:
                add("DeliveryDelay", sent + timedelta(seconds=30) + ms, (recipient,))
        # One delivery notification may name several recipients (one SMTP transaction).
        if delivered and rng.random() < 0.5:
            add("Delivery", sent + timedelta(seconds=5), tuple(delivered))
        else:
            for index, recipient in enumerate(delivered):
                add("Delivery", sent + timedelta(seconds=5, milliseconds=index), (recipient,))
        if events_family and delivered:
            for k in range(rng.choices((0, 1, 2), (6, 3, 1))[0]):
                add("Open", sent + timedelta(seconds=300 + k),
                    destination if len(destination) == 1 else ())
            if rng.random() < 0.2:
                add("Click", sent + timedelta(seconds=400), destination if len(destination) == 1 else (),
                    link=f"https://example.com/offer/{m}")

    def _bounce(self, add, message_id, at, recipient, bounce_type) -> None:
        add("Bounce", at, (recipient,), bounce_type=bounce_type, feedback_id=self._feedback_id(message_id))

    def _feedback_id(self, message_id: str) -> str:
        return f"{message_id[:16]}-{uuid.UUID(int=self.rng.getrandbits(128))}-000000"

    def _event(self, ses_type, message_id, destination, families, sent, at, recipients, **facts) -> None:
        event = Event(len(self.events), ses_type, message_id, destination, sent, at, tuple(recipients), **facts)
        self.events[event.id] = event
        for family in families:
            if family == "events" or ses_type in _FEEDBACK_FIXTURE:
                self.published.append((str(uuid.UUID(int=self.rng.getrandbits(128))), event, family))

    @staticmethod
    def document(event: Event, family: str) -> dict:
        """The SES message for ``event`` in ``family``'s shape, from a recorded payload."""
        at = format_timestamp(event.at)
        fixture = (_EVENT_FIXTURE if family == "events" else _FEEDBACK_FIXTURE)[event.ses_type]
        named = list(event.recipients) or list(event.destination)
        section = {
            "Send": {},
            "Reject": {},
            "Rendering Failure": {},
            "Delivery": {"delivery": {"timestamp": at, "recipients": named}},
            "DeliveryDelay": {"deliveryDelay": {
                "timestamp": at, "delayedRecipients": [
                    {"emailAddress": r, "status": "4.4.1", "diagnosticCode": "smtp; 421 4.4.1 try later"}
                    for r in named]}},
            "Bounce": {"bounce": {
                "bounceType": event.bounce_type, "bounceSubType": "General", "timestamp": at,
                "feedbackId": event.feedback_id, "bouncedRecipients": [
                    {"emailAddress": r, "action": "failed", "status": "5.1.1",
                     "diagnosticCode": "smtp; 550 5.1.1 user unknown"} for r in named]}},
            "Complaint": {"complaint": {"timestamp": at, "arrivalDate": at, "feedbackId": event.feedback_id,
                                        "complainedRecipients": [{"emailAddress": r} for r in named]}},
            "Open": {"open": {"timestamp": at}},
            "Click": {"click": {"timestamp": at, "link": event.link}},
        }[event.ses_type]
        document = for_message(fixture, event.message_id, list(event.destination), **section)
        document["mail"]["timestamp"] = format_timestamp(event.sent)
        return document
