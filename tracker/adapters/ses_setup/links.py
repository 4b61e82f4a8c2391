"""The links between SES and the tracker as plain data: what the operator asks for and what exists now."""
from __future__ import annotations

import dataclasses
import re
import shlex
from datetime import datetime
from typing import Any
from collections.abc import Mapping
from urllib.parse import urlsplit

from tracker.db.sources import SourceInfo

# The ten event types of a configuration set's event destination, as SESv2 names them,
# each with the eventType its messages carry (what the parser and the database call it).
# The classic SES API knows only the first eight: DeliveryDelay and Subscription need SESv2.
EVENT_TYPES: Mapping[str, str] = {
    "SEND": "Send",
    "REJECT": "Reject",
    "BOUNCE": "Bounce",
    "COMPLAINT": "Complaint",
    "DELIVERY": "Delivery",
    "OPEN": "Open",
    "CLICK": "Click",
    "RENDERING_FAILURE": "Rendering Failure",
    "DELIVERY_DELAY": "DeliveryDelay",
    "SUBSCRIPTION": "Subscription",
}
# An identity's feedback notifications (SES API v1 only): each type has its own topic setting.
NOTIFICATION_TYPES = ("Bounce", "Complaint", "Delivery")

DESTINATION_NAME = "tracker"  # the event destination connect creates (when none points at the topic)
PROTOCOL = "https"


class SetupError(Exception):
    """Something connect or doctor cannot go on without (no account, no region, a bad URL)."""


@dataclasses.dataclass(frozen=True)
class Request:
    """What the operator asked for: one tracker account wired to one configuration set or identity."""

    account: str
    region: str
    public_url: str
    topic_name: str
    configuration_set: str | None = None
    identity: str | None = None
    create_configuration_set: bool = False

    def __post_init__(self) -> None:
        if (self.configuration_set is None) == (self.identity is None):
            raise SetupError("give exactly one of --configuration-set and --identity")
        check_public_url(self.public_url)

    @property
    def event_types(self) -> tuple[str, ...]:
        """The SES eventTypes this link should bring, in the order they are reported."""
        return tuple(EVENT_TYPES.values()) if self.configuration_set else NOTIFICATION_TYPES

    def ses_resource_arn(self, partition: str, aws_account: str) -> str:
        """The ARN SES publishes as (aws:SourceArn): the configuration set or the identity."""
        kind, name = (("configuration-set", self.configuration_set) if self.configuration_set
                      else ("identity", self.identity))
        return f"arn:{partition}:ses:{self.region}:{aws_account}:{kind}/{name}"

    def connect_command(self) -> str:
        """The command that makes (or repairs) every link of this request."""
        words = ["tracker", "ses", "connect", "--account", self.account, "--region", self.region,
                 "--public-url", self.public_url]
        if self.configuration_set:
            words += ["--configuration-set", self.configuration_set]
        else:
            words += ["--identity", self.identity]
        if self.topic_name != default_topic_name(self.account):
            words += ["--topic-name", self.topic_name]
        return shlex.join(words)


def default_topic_name(account: str) -> str:
    """One topic per tracker account: two accounts sharing a topic would each store the other's events."""
    return f"tracker-{re.sub(r'[^A-Za-z0-9_-]', '-', account)}-ses"[:256]


def check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise SetupError(f"--public-url must be an https:// URL that AWS can reach, not {url!r} "
                         "(SNS delivers to the tracker over HTTPS)")
    if parts.query or parts.fragment:
        raise SetupError(f"--public-url must have no query or fragment: {url!r}")


def hook_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/hooks/sns/{token}"


def topic_arn(partition: str, region: str, aws_account: str, name: str) -> str:
    """Where the topic is, or will be: CreateTopic answers this ARN for this name."""
    return f"arn:{partition}:sns:{region}:{aws_account}:{name}"


# --- what exists now ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Topic:
    arn: str
    policy: Mapping[str, Any] | None  # the parsed topic policy; None if absent or unreadable
    kms_key: str | None = None


@dataclasses.dataclass(frozen=True)
class Subscription:
    """An HTTPS subscription of the topic. A pending one may be listed without an ARN."""

    endpoint: str
    arn: str | None
    pending: bool
    raw_delivery: bool = False


@dataclasses.dataclass(frozen=True)
class Source:
    """One of the account's SES sources; allows() is the very check the receiver applies."""

    id: int
    token: str
    topic_arns: tuple[str, ...]

    def allows(self, topic_arn: str) -> bool:
        return SourceInfo(self.id, 0, "ses", self.topic_arns).allows_topic(topic_arn)


@dataclasses.dataclass(frozen=True)
class EventDestination:
    name: str
    enabled: bool
    event_types: frozenset[str]  # SESv2 names (EVENT_TYPES keys)
    topic_arn: str | None  # None: not an SNS destination


@dataclasses.dataclass(frozen=True)
class ConfigurationSet:
    name: str
    exists: bool
    destinations: tuple[EventDestination, ...] = ()


@dataclasses.dataclass(frozen=True)
class Identity:
    name: str
    exists: bool  # SES answers nothing for an identity it does not have (in this region)
    topics: Mapping[str, str | None] = dataclasses.field(default_factory=dict)  # Bounce/Complaint/Delivery
    headers: Mapping[str, bool] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Handshake:
    """The tracker's side of the subscription: what it recorded, and the last confirmation it received."""

    recorded: str | None = None  # "confirmed" | "unsubscribed" (sns_subscriptions), None: nothing
    recorded_at: datetime | None = None
    received_at: datetime | None = None  # the newest SubscriptionConfirmation for the topic
    inbox_state: str | None = None  # pending | processed | failed | discarded
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class State:
    """Every link as it is now."""

    aws_account: str
    partition: str
    topic_arn: str  # where the topic is or would be
    topic: Topic | None
    subscriptions: tuple[Subscription, ...]  # HTTPS subscriptions of the topic
    source: Source | None  # the account's SES source connect uses (choose_source), None: it has none
    configuration_set: ConfigurationSet | None = None
    identity: Identity | None = None
    handshake: Handshake = Handshake()
    last_arrivals: Mapping[str, datetime] = dataclasses.field(default_factory=dict)  # SES eventType -> time


def choose_source(sources: tuple[Source, ...], topic_arn: str, public_url: str,
                  subscribed: frozenset[str] = frozenset()) -> Source | None:
    """The SES source connect uses, among the account's (oldest first).

    One already subscribed to the topic (its hook among ``subscribed`` endpoints) and
    accepting it; else one that names the topic; else one that takes any topic; else the
    oldest. Deterministic, so that a second run picks the same source (the same hook).
    """
    preferences = (
        lambda s: s.allows(topic_arn) and hook_url(public_url, s.token) in subscribed,
        lambda s: topic_arn in s.topic_arns,
        lambda s: s.allows(topic_arn),
        lambda s: True,
    )
    for wanted in preferences:
        for source in sources:
            if wanted(source):
                return source
    return None
