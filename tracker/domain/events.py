"""The normalized event every provider parser produces."""
from __future__ import annotations

import dataclasses
import enum
import re
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from collections.abc import Mapping

from tracker.domain.status import BounceType, Status


class EventType(str, enum.Enum):
    """What happened, independent of the provider's vocabulary."""

    SENT = "sent"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    REJECTED = "rejected"
    RENDERING_FAILED = "rendering_failed"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    # A provider event type the tracker has no mapping for: kept in the history with the
    # provider's own name in details["provider_event"], never dropped, changes no status.
    UNMAPPED = "unmapped"
    # An application or operator acknowledged a failed delivery (tracker.domain.state.can_acknowledge).
    ACKNOWLEDGED = "acknowledged"

    @property
    def status(self) -> Status | None:
        """The status this event asserts, or None for events that change no status."""
        return _STATUS_OF[self]


_STATUS_OF: dict[EventType, Status | None] = {
    EventType.SENT: Status.SENT,
    EventType.DELIVERED: Status.DELIVERED,
    EventType.DELAYED: Status.RETRY,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.COMPLAINED: Status.COMPLAINT,
    EventType.REJECTED: Status.ERROR,
    EventType.RENDERING_FAILED: Status.ERROR,
    EventType.OPENED: Status.OPENED,
    EventType.CLICKED: Status.OPENED,
    # Unsubscribes are kept in the history (and feed the suppression list) but a reader
    # unsubscribing says nothing about whether this message was delivered.
    EventType.UNSUBSCRIBED: None,
    EventType.UNMAPPED: None,
    EventType.ACKNOWLEDGED: Status.ACKNOWLEDGED,
}


@dataclasses.dataclass(frozen=True)
class NormalizedEvent:
    """One thing that happened to one (message, recipient) delivery.

    ``event_key`` identifies the event semantically (the same bounce delivered twice, or
    through two SNS topics, has the same key) and is unique within its delivery; it is
    also the last tie-breaker of the state machine's total order.
    ``recipient`` is None only for message-level events that name no recipient (SES opens
    and clicks of a message sent to several addresses).
    """

    provider: str
    message_id: str
    recipient: str | None
    type: EventType
    occurred_at: datetime
    event_key: str
    bounce_type: BounceType | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # When the provider says the message was sent (SES mail.timestamp, Infobip sentAt), if it
    # says: the delivery's send time comes from here, never from when the tracker heard.
    sent_at: datetime | None = None
    # The DSN facts of a bounce or delay (RFC 3464): the action ("failed", "delayed") and the
    # enhanced status code (RFC 3463, "5.1.1"), beside the diagnostic (the server's reply).
    smtp_action: str | None = None
    smtp_status: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or (self.sent_at is not None and self.sent_at.tzinfo is None):
            raise ValueError("occurred_at and sent_at must be timezone-aware")

    @property
    def status(self) -> Status | None:
        return self.type.status


# How providers spell nearly every address: bare, of these characters only. parseaddr gives
# such a string back unchanged (tests/unit/domain/test_addresses.py), and it is a pure-Python
# tokenizer that took a tenth of the worker's CPU per event; the rest still goes through it.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


def normalize_address(raw: str) -> str:
    """The key form of an email address: the bare address, trimmed and lower-cased.

    Providers echo the address in different spellings (display names in
    ``mail.destination``, upper-case domains in DSNs); a delivery must be found by any of
    them. Local parts are case-sensitive in theory, never in practice among mailbox
    providers, so lower-casing the whole address is the safer identity.
    """
    if _PLAIN_ADDRESS.fullmatch(raw):
        return raw.lower()
    _, address = parseaddr(raw)
    address = (address or raw).strip().lower()
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in address):
        raise ValueError(f"not an email address: {raw!r}")
    return address


def normalize_message_id(raw: str) -> str:
    """The key form of a provider message id an application hands us (registration, filters).

    Some send APIs answer with the id in its Message-ID header form, in angle brackets
    (Mailgun's ``<20240101.1@mg.example.com>``), while their webhooks name it bare; events
    are keyed by the bare id, so the brackets go.
    """
    message_id = raw.strip()
    if len(message_id) > 2 and message_id.startswith("<") and message_id.endswith(">"):
        message_id = message_id[1:-1].strip()
    return message_id
