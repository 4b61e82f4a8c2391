"""SendCloud webhook pushes -> normalized events.

Pure: standard library and the domain only, no I/O. One POST carries one event, as an
``application/x-www-form-urlencoded`` form (classic docs) or a JSON object (newer Aurora
docs); both are read whatever the Content-Type says. A delivery is one ``emailId``
(``messageId`` + index + ``$`` + recipient), SendCloud's per-recipient id (DESIGN §3).
See provider-formats.md §4.1 (push, encodings) and §4.2 (events and fields).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, UTC
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Mapping

from tracker.domain import BounceType, EventType, NormalizedEvent
from tracker.providers.common.errors import PayloadError
from tracker.providers.sendcloud.facts import (
    Fields,
    bounce_facts,
    click_facts,
    common_details,
    decode,
    deliver_facts,
    engagement_facts,
    no_facts,
    scalar_text,
)
from tracker.providers.common.values import (
    Facts,
    checked_address,
    digest,
    key_time,
    maybe_address,
    normalized_event,
    parse_time,
    unmapped_event,
)

PROVIDER = "sendcloud"


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one SendCloud event code becomes normalized events."""

    type: EventType
    # The classic spelling: event keys use it, so an event pushed once as "deliver" and
    # again as "delivered" is still one event.
    code: str
    facts: Callable[[Fields], Facts]
    bounce_type: BounceType | None = None


# --- the mapping table: one row per SendCloud event code [§4.2, D] ------------------------
# The newer overview table renames three events while the field tables keep the classic
# names [D, conflicting]: both spellings are rows here.

_RULES: dict[str, _Rule] = {
    # request: SendCloud accepted the send request. It is per request, not per recipient: it
    # lists emailIds[] and recipientArray[], and each pair becomes one SENT event.
    "request": _Rule(EventType.SENT, "request", no_facts),
    # deliver: the recipient's mail server accepted the message (outIp: SendCloud's sending IP).
    "deliver": _Rule(EventType.DELIVERED, "deliver", deliver_facts),
    # delivered: the newer overview table's spelling of deliver.
    "delivered": _Rule(EventType.DELIVERED, "deliver", deliver_facts),
    # open: the tracking pixel was fetched; ip and the reader's client are kept.
    "open": _Rule(EventType.OPENED, "open", engagement_facts),
    # click: a tracked link was followed; url is kept (and is part of the event key).
    "click": _Rule(EventType.CLICKED, "click", click_facts),
    # unsubscribe: the reader used the unsubscribe link. Kept, changes no status.
    "unsubscribe": _Rule(EventType.UNSUBSCRIBED, "unsubscribe", engagement_facts),
    # report_spam: the reader reported the message as spam (a feedback-loop complaint).
    "report_spam": _Rule(EventType.COMPLAINED, "report_spam", no_facts),
    # spam-report: the newer overview table's spelling of report_spam.
    "spam-report": _Rule(EventType.COMPLAINED, "report_spam", no_facts),
    # invalid: SendCloud gave up on the address for good: a hard bounce (subStat 401-409;
    # 401 blacklisted and 402 unsubscribed are SendCloud's own suppressions, still "4 +
    # subStatus 40x" in its status API, so they stay bounces here too).
    "invalid": _Rule(EventType.BOUNCED, "invalid", bounce_facts, BounceType.PERMANENT),
    # invalid_email: the newer overview table's spelling of invalid.
    "invalid_email": _Rule(EventType.BOUNCED, "invalid", bounce_facts, BounceType.PERMANENT),
    # soft_bounce: a temporary failure SendCloud reports as the message's outcome (status 5
    # in its status API; subStat 503-509, cause = the remote server's words).
    "soft_bounce": _Rule(EventType.BOUNCED, "soft_bounce", bounce_facts, BounceType.TRANSIENT),
    # bounce: the classic docs' "弹回"/"退信" event (also in their webhook test tool), with a
    # `reason` and no subStat. One page calls it a soft bounce, another "refused permanently
    # by the recipient" [D, conflicting]: UNDETERMINED, so it counts towards the soft-bounce
    # policy but never suppresses the address on its own.
    "bounce": _Rule(EventType.BOUNCED, "bounce", bounce_facts, BounceType.UNDETERMINED),
}

# route is inbound mail (a reply routed to the sender), not the status of anything sent:
# accepted and ignored.
IGNORED_EVENTS = frozenset({"route"})

# The table as documentation and for tests: SendCloud event code -> normalized event type.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType(
    {code: rule.type for code, rule in _RULES.items()}
)

# Fields that differ from one push of an event to the next, left out of content digests.
_PER_PUSH = ("token", "signature", "timestamp")


def parse(body: bytes, content_type: str, *, received_at: datetime) -> list[NormalizedEvent]:
    """The normalized events in one SendCloud push (form or JSON body).

    Returns [] for ``route`` (inbound mail). An event code the table does not know gives
    one UNMAPPED event. ``received_at`` (aware) is the event time when the push has no
    ``timestamp``. Raises PayloadError for anything that can never be processed.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    fields = decode(body, content_type)
    raw_event = fields.first("event")
    if raw_event is None:
        shown = ", ".join(fields.names()[:10]) or "none"
        raise PayloadError(f"not a SendCloud event: no event field (fields: {shown})")
    if not isinstance(raw_event, str):
        raise PayloadError(f"SendCloud event must be a string, got {raw_event!r}")
    event = raw_event.strip()
    code = event.lower()
    if code in IGNORED_EVENTS:
        return []
    occurred_at, stamp = _event_time(fields, received_at)
    rule = _RULES.get(code)
    if rule is None:
        return [_unmapped(event, fields, occurred_at, stamp)]

    if rule.type is EventType.SENT:
        pairs = _request_pairs(fields)
    else:
        email_id = fields.text("emailId")
        if email_id is None:
            raise PayloadError(f"SendCloud {event} event has no emailId")
        pairs = [(email_id, _recipient(fields, email_id, event))]

    facts = dataclasses.replace(rule.facts(fields), bounce_type=rule.bounce_type)
    tail = stamp
    if rule.type is EventType.CLICKED:
        # Two links clicked in the same instant are two events; the digest keeps keys short.
        tail = f"{stamp}:{digest(fields.text('url'))}"
    return [
        normalized_event(
            PROVIDER,
            rule.type,
            facts,
            message_id=email_id,
            recipient=recipient,
            occurred_at=occurred_at,
            # Semantic: the same event pushed again has the same key. Never the token: it is
            # a fresh random string on every push (retries included), so keying on it would
            # record each retry as another event.
            event_key=f"{PROVIDER}:{rule.code}:{email_id}:{tail}",
        )
        for email_id, recipient in pairs
    ]


def _request_pairs(fields: Fields) -> list[tuple[str, str]]:
    """(emailId, recipient) for each recipient of a request event."""
    email_ids = fields.items("emailIds")
    recipients = fields.items("recipientArray")
    if not email_ids:
        email_id = fields.text("emailId")
        if email_id is not None:
            return [(email_id, _recipient(fields, email_id, "request"))]
        message_id = fields.text("messageId")
        if recipients and message_id is not None:
            # No ids, but the documented id model [§4.2, D] builds them: emailId =
            # messageId + 0-based index in to[] + "$" + recipient.
            return [
                (f"{message_id}{index}${raw}", checked_address(raw, f"recipientArray[{index}]"))
                for index, raw in enumerate(recipients)
            ]
        raise PayloadError(
            "SendCloud request event names no recipient: emailIds, emailId and "
            "recipientArray with messageId are all missing"
        )
    if len(recipients) == len(email_ids):
        return [
            (email_id, checked_address(raw, f"recipientArray[{index}]"))
            for index, (email_id, raw) in enumerate(zip(email_ids, recipients, strict=True))
        ]
    # The arrays disagree (or recipientArray is missing): each emailId names its recipient.
    pairs = []
    for index, email_id in enumerate(email_ids):
        derived = _recipient_in(email_id)
        if derived is None:
            raise PayloadError(
                f"SendCloud request event: emailIds[{index}] {email_id!r} names no recipient "
                f"and recipientArray has {len(recipients)} entries for {len(email_ids)} emailIds"
            )
        pairs.append((email_id, derived))
    return pairs


def _recipient(fields: Fields, email_id: str, event: str) -> str:
    """The event's recipient: its ``recipient`` field, else the address inside emailId."""
    raw = fields.text("recipient")
    if raw is not None:
        return checked_address(raw, "recipient")
    derived = _recipient_in(email_id)
    if derived is None:
        raise PayloadError(
            f"SendCloud {event} event names no recipient: no recipient field and emailId "
            f"{email_id!r} holds no address"
        )
    return derived


def _recipient_in(email_id: str) -> str | None:
    """The address at the end of an emailId (messageId + index + "$" + recipient), if any."""
    _, dollar, raw = email_id.partition("$")
    return maybe_address(raw) if dollar else None


def _unmapped(event: str, fields: Fields, occurred_at: datetime, stamp: str) -> NormalizedEvent:
    """An event code the table does not know: recorded as it came, never dropped."""
    message_id = fields.text("emailId") or fields.text("messageId") or ""
    raw_recipient = fields.text("recipient")
    # maybe_address gives None for an unreadable recipient: the raw text is then kept in details.
    recipient = maybe_address(raw_recipient) if raw_recipient is not None else _recipient_in(message_id)
    return unmapped_event(
        PROVIDER,
        event,
        {
            **common_details(fields),
            **({"recipient": raw_recipient} if recipient is None and raw_recipient else {}),
        },
        message_id=message_id,
        recipient=recipient,
        occurred_at=occurred_at,
        event_key=f"{PROVIDER}:{event}:{message_id or '-'}:{stamp}",
    )


# --- time ----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The unit of timestamp is undocumented [§4.1, U]. 10**11 seconds is the year 5138 and
# 10**11 milliseconds is March 1973, so a larger value can only be milliseconds.
_MILLISECONDS_ABOVE = 10**11
_LATEST_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime holds


def _event_time(fields: Fields, received_at: datetime) -> tuple[datetime, str]:
    """(occurred_at, the key's time part) from ``timestamp``, else the arrival time.

    The key's time is one UTC form whatever the unit or encoding (1717236000123, "…123",
    "1717236000.123" agree). With no timestamp the key takes a digest of the push instead
    of the arrival time, so that a redelivery still has the same key.
    """
    raw = fields.first("timestamp")
    if raw is None:
        return received_at, digest(fields.digest_source(_PER_PUSH))
    occurred_at = event_time(raw)
    return occurred_at, key_time(occurred_at)


def event_time(raw: Any) -> datetime:
    """An aware UTC datetime from SendCloud's ``timestamp``: epoch seconds or milliseconds."""
    text = scalar_text(raw) if not isinstance(raw, float) else repr(raw)
    if text is None:
        raise PayloadError(f"timestamp is not a time: {raw!r}")
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return parse_time(text, "timestamp")  # an ISO 8601 string, should a relay rewrite it
    seconds = number / 1000 if abs(number) > _MILLISECONDS_ABOVE else number
    if abs(seconds) > _LATEST_SECONDS:  # checked first: int() of 1e999999 would be huge
        raise PayloadError(f"timestamp out of range: {raw!r}")
    try:
        return _EPOCH + timedelta(microseconds=int(seconds * 1_000_000))
    except OverflowError:  # before year 1
        raise PayloadError(f"timestamp out of range: {raw!r}") from None

