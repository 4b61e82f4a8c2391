"""Amazon SES events (the JSON inside an SNS ``Message``) -> normalized events.

Pure: standard library and the domain only, no I/O. Both SES families are read here: the
identity feedback notifications (``notificationType``: Bounce, Complaint, Delivery) and
configuration-set event publishing (``eventType``: ten types). See provider-formats.md §2.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Mapping

from tracker.providers.common import bounded_json
from tracker.domain import EventType, NormalizedEvent
from tracker.domain.attributes import ATTRIBUTE_TAGS
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.ses.facts import (
    bounce_facts,
    click_facts,
    complaint_facts,
    delay_facts,
    delivery_facts,
    no_facts,
    open_facts,
    opts_out,
    reject_facts,
    rendering_failure_facts,
    subscription_facts,
)
from tracker.providers.common.values import (
    Facts,
    checked_address,
    digest,
    excerpt,
    json_kind,
    key_list,
    key_time,
    normalized_event,
    not_json,
    optional_time,
    text,
)

PROVIDER = "ses"

_JSONObject = Mapping[str, Any]


# Notices that arrive on the same topic and carry no event [provider-formats §2.1, C]: the
# plain-text (not JSON) greeting when an event destination is added, and the JSON
# notificationType below when identity notifications are set up.
_TOPIC_VALIDATED = "Successfully validated SNS topic for Amazon SES event publishing"
_IGNORED_TYPES = frozenset({"AmazonSnsSubscriptionSucceeded"})

# Who an event is about. Any other value of _Rule.recipients is the name of the list in
# the event object that names the recipients (and only those get an event).
_EVERY_DESTINATION = "every address in mail.destination"
_SOLE_DESTINATION = "the only address in mail.destination, else the message"


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one SES event type becomes normalized events."""

    type: EventType
    section: str  # the key of the event object beside "mail"
    recipients: str  # _EVERY_DESTINATION, _SOLE_DESTINATION or a list field of the section
    discriminator: Callable[[_JSONObject, _JSONObject], str]  # (section, mail) -> event_key tail
    facts: Callable[[_JSONObject, _JSONObject], Facts]  # (section, recipient entry) -> facts
    section_required: bool = True
    wanted: Callable[[_JSONObject], bool] | None = None  # None: every event of the type counts


# --- event_key discriminators -------------------------------------------------------------
# event_key = "ses:{EventType value}:{discriminator}". It must be the same whenever SES says
# the same thing again (an SNS retry, an SES duplicate, or the same bounce/complaint/delivery
# arriving through both the feedback and the event-publishing family), so it is built only
# from facts of the event itself, never from arrival time or the SNS envelope:
#   - bounce, complaint: feedbackId, SES's id of the feedback (same in both families [A]);
#   - delivery, delay, open, subscription: the event's own timestamp;
#   - click: timestamp plus a digest of the link (two links clicked in the same millisecond
#     are two events; the digest keeps keys short whatever the URL length);
#   - send, reject, rendering failure: mail.timestamp (one such event per message).
# Timestamps are rewritten in one UTC form, so "…:45 +0000" and "…:45.000Z" agree. When the
# field is missing, a digest of the event object stands in: still stable across redeliveries.
# The key is unique within a delivery and is the state machine's last tie-breaker.


def _by_feedback_id(section: _JSONObject, mail: _JSONObject) -> str:
    feedback_id = section.get("feedbackId")
    if isinstance(feedback_id, str) and feedback_id:
        return feedback_id
    return _by_event_time(section, mail)


def _by_event_time(section: _JSONObject, mail: _JSONObject) -> str:
    return key_time(section.get("timestamp")) or digest(section)


def _by_event_time_and_link(section: _JSONObject, mail: _JSONObject) -> str:
    return f"{_by_event_time(section, mail)}:{digest(section.get('link'))}"


def _by_mail_time(section: _JSONObject, mail: _JSONObject) -> str:
    return key_time(mail.get("timestamp")) or digest(section)


# --- the mapping table: one row per SES type ----------------------------------------------

_RULES: dict[str, _Rule] = {
    # Send: SES accepted the request and will try to deliver. Per message ("send" is always
    # {}), so every destination address is now SENT.
    "Send": _Rule(
        EventType.SENT, "send", _EVERY_DESTINATION, _by_mail_time, no_facts,
        section_required=False,
    ),
    # Reject: SES refused the whole message (a virus; reason "Bad content"); nothing was sent.
    "Reject": _Rule(
        EventType.REJECTED, "reject", _EVERY_DESTINATION, _by_mail_time, reject_facts
    ),
    # Rendering Failure (with the space): a template could not be rendered; nothing was sent.
    "Rendering Failure": _Rule(
        EventType.RENDERING_FAILED, "failure", _EVERY_DESTINATION, _by_mail_time,
        rendering_failure_facts,
    ),
    # Delivery: the recipient's mail server accepted the message; smtpResponse is its answer.
    "Delivery": _Rule(
        EventType.DELIVERED, "delivery", "recipients", _by_event_time, delivery_facts
    ),
    # DeliveryDelay (event publishing only): a temporary failure; SES keeps retrying until
    # expirationTime, so the delivery is in RETRY, not failed.
    "DeliveryDelay": _Rule(
        EventType.DELAYED, "deliveryDelay", "delayedRecipients", _by_event_time, delay_facts
    ),
    # Bounce: Permanent (hard), Transient (soft, published only once SES stopped retrying,
    # so final for this send) or Undetermined; bounceSubType is kept verbatim.
    "Bounce": _Rule(
        EventType.BOUNCED, "bounce", "bouncedRecipients", _by_feedback_id, bounce_facts
    ),
    # Complaint: a feedback-loop report; complainedRecipients is SES's best guess.
    "Complaint": _Rule(
        EventType.COMPLAINED, "complaint", "complainedRecipients", _by_feedback_id,
        complaint_facts,
    ),
    # Open: the tracking pixel was fetched. SES does not say by whom.
    "Open": _Rule(EventType.OPENED, "open", _SOLE_DESTINATION, _by_event_time, open_facts),
    # Click: a tracked link was followed. SES does not say by whom.
    "Click": _Rule(
        EventType.CLICKED, "click", _SOLE_DESTINATION, _by_event_time_and_link, click_facts
    ),
    # Subscription: a contact changed list preferences (e.g. the List-Unsubscribe header).
    # Only an opt-out (unsubscribeAll, or some topic OptOut) is an event; an opt-in is not.
    "Subscription": _Rule(
        EventType.UNSUBSCRIBED, "subscription", _SOLE_DESTINATION, _by_event_time,
        subscription_facts, wanted=opts_out,
    ),
}

# The table as documentation and for tests: SES type -> normalized event type.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType(
    {ses_type: rule.type for ses_type, rule in _RULES.items()}
)


def parse_message(message: str, *, fallback_time: datetime) -> list[NormalizedEvent]:
    """The normalized events in one SES message (an SNS ``Message`` or a raw-delivery body).

    Returns [] for the notices that carry no event (topic validated, subscription
    succeeded, a Subscription that only opts in). ``fallback_time`` (aware) is the event
    time when the payload has none. Raises PayloadError for anything that can never parse.
    """
    return _events(_load(message), fallback_time)


def read_message(message: str, *, fallback_time: datetime) -> tuple[list[NormalizedEvent], MessageFacts | None]:
    """parse_message and message_facts of one message, its JSON read once (the worker wants both)."""
    document = _load(message)
    return _events(document, fallback_time), _facts(document)


def _events(document: _JSONObject | None, fallback_time: datetime) -> list[NormalizedEvent]:
    if fallback_time.tzinfo is None:
        raise ValueError("fallback_time must be timezone-aware")
    if document is None:
        return []
    field = "eventType" if document.get("eventType") else "notificationType"
    ses_type = document.get(field)
    if ses_type is None or ses_type == "":
        raise PayloadError(
            f"not an SES event: neither eventType nor notificationType "
            f"(top-level keys: {key_list(document)})"
        )
    if not isinstance(ses_type, str):
        raise PayloadError(f"{field} must be a string, got {json_kind(ses_type)}: {ses_type!r}")
    if ses_type in _IGNORED_TYPES:
        return []
    rule = _RULES.get(ses_type)
    if rule is None:
        raise PayloadError(
            f"unknown SES {field} {ses_type!r}; expected one of: {', '.join(sorted(_RULES))}"
        )

    mail = document.get("mail")
    if not isinstance(mail, Mapping):
        raise PayloadError(f"{ses_type} event has no mail object")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise PayloadError(f"{ses_type} event has no mail.messageId")
    section = document.get(rule.section)
    if section is None and not rule.section_required:
        section = {}
    if not isinstance(section, Mapping):
        raise PayloadError(f"{ses_type} event has no {rule.section} object")
    if rule.wanted is not None and not rule.wanted(section):
        return []

    occurred_at = _occurred_at(rule.section, section, mail, fallback_time)
    # mail.timestamp: "the date and time at which the original message was sent" (every
    # SES event carries it): the delivery's send time, whichever event tells it first.
    sent_at = optional_time(mail.get("timestamp"), "mail.timestamp")
    event_key = f"ses:{rule.type.value}:{rule.discriminator(section, mail)}"
    return [
        normalized_event(
            PROVIDER,
            rule.type,
            rule.facts(section, entry),
            message_id=message_id,
            recipient=recipient,
            occurred_at=occurred_at,
            event_key=event_key,
            sent_at=sent_at,
        )
        for recipient, entry in _recipients(ses_type, rule, section, mail)
    ]


def _load(message: str) -> _JSONObject | None:
    """The message as a JSON object, or None for the plain-text "topic validated" notice."""
    if isinstance(message, (bytes, bytearray)):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadablePayload(f"SES message is not UTF-8 text ({exc})") from None
    if not isinstance(message, str):
        raise PayloadError(f"SES message must be text, got {type(message).__name__}")
    try:
        document = bounded_json.loads(message)
    except json.JSONDecodeError as exc:
        if message.strip().startswith(_TOPIC_VALIDATED):
            return None
        raise UnreadablePayload(not_json("SES message", exc, message)) from None
    if isinstance(document, str) and document.strip().startswith(_TOPIC_VALIDATED):
        return None  # the same notice, JSON-quoted by a relay
    if not isinstance(document, dict):
        raise PayloadError(
            f"SES message must be a JSON object, got {json_kind(document)}: {excerpt(message)}"
        )
    return document


def _occurred_at(
    name: str, section: _JSONObject, mail: _JSONObject, fallback_time: datetime
) -> datetime:
    """The event's own timestamp, else when SES accepted the message, else the fallback.

    Send, Reject and Rendering Failure have no timestamp of their own, so they take
    mail.timestamp. Any other event lacking its timestamp takes mail.timestamp too rather
    than the arrival time: it is earlier than the truth but the same on every redelivery.
    """
    for where, source in ((name, section), ("mail", mail)):
        moment = optional_time(source.get("timestamp"), f"{where}.timestamp")
        if moment is not None:
            return moment
    return fallback_time


def _recipients(
    ses_type: str, rule: _Rule, section: _JSONObject, mail: _JSONObject
) -> list[tuple[str | None, _JSONObject]]:
    """(normalized address or None, that recipient's entry) for each event to produce."""
    if rule.recipients == _EVERY_DESTINATION:
        addresses = _destination(mail)
        if not addresses:
            raise PayloadError(f"{ses_type} event has no address in mail.destination")
        return [(address, {}) for address in addresses]
    if rule.recipients == _SOLE_DESTINATION:
        # SES names no recipient for opens, clicks and subscriptions: with several
        # destinations any of them could be the one, so the event stays message-level.
        addresses = _destination(mail)
        return [(addresses[0], {})] if len(addresses) == 1 else [(None, {})]

    path = f"{rule.section}.{rule.recipients}"
    entries = section.get(rule.recipients)
    if not isinstance(entries, list) or not entries:
        raise PayloadError(f"{ses_type} event names no recipient: {path} is missing or empty")
    named: dict[str, _JSONObject] = {}
    for index, entry in enumerate(entries):
        # delivery.recipients holds strings; the other lists hold {"emailAddress": ...}.
        raw = entry.get("emailAddress") if isinstance(entry, Mapping) else entry
        if not isinstance(raw, str):
            raise PayloadError(f"{path}[{index}] has no email address: {entry!r}")
        # The first entry for an address wins when SES lists it twice.
        named.setdefault(
            checked_address(raw, f"{path}[{index}]"), entry if isinstance(entry, Mapping) else {}
        )
    return list(named.items())


def _destination(mail: _JSONObject) -> list[str]:
    """mail.destination normalized, duplicates removed, in SES's order."""
    raw = mail.get("destination")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PayloadError(f"mail.destination must be a list, got {json_kind(raw)}")
    addresses: dict[str, None] = {}
    for index, value in enumerate(raw):
        if not isinstance(value, str):
            raise PayloadError(f"mail.destination[{index}] is not an address: {value!r}")
        addresses[checked_address(value, f"mail.destination[{index}]")] = None
    return list(addresses)


# SES message tags may carry the message attributes (tracker.domain.attributes), tag names
# compared without case, "-" and "_", so bill-run-id and billRunId match.
_ATTRIBUTE_BY_FOLDED = {name.lower(): name for name in ATTRIBUTE_TAGS}


@dataclasses.dataclass(frozen=True)
class MessageFacts:
    """What an SES event says about its message as a whole: sender, subject, attributes from tags."""

    message_id: str
    from_address: str | None
    subject: str | None
    attributes: dict[str, Any]


def message_facts(message: str) -> MessageFacts | None:
    """The message-level facts in an SES event, or None when it has none worth keeping.

    Custom tags (not SES's own ``ses:`` ones) are kept under attributes["tags"]; those
    naming an attribute of ATTRIBUTE_TAGS also fill that attribute (first value).
    """
    try:
        document = _load(message)
    except PayloadError:
        return None
    return _facts(document)


def _facts(document: _JSONObject | None) -> MessageFacts | None:
    mail = document.get("mail") if isinstance(document, dict) else None
    if not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str):
        return None
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    custom = {name: values for name, values in tags.items()
              if isinstance(name, str) and not name.startswith("ses:") and isinstance(values, list)}
    attributes: dict[str, Any] = {}
    for name, values in custom.items():
        attribute = _ATTRIBUTE_BY_FOLDED.get(name.replace("-", "").replace("_", "").lower())
        if attribute and values and isinstance(values[0], str):
            attributes[attribute] = values[0]
    if custom:
        attributes["tags"] = custom
    headers = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    senders = headers.get("from") if isinstance(headers.get("from"), list) else []
    from_address = senders[0] if senders and isinstance(senders[0], str) else text(mail.get("source"))
    subject = text(headers.get("subject"))
    if not (attributes or from_address or subject):
        return None
    return MessageFacts(mail["messageId"], from_address, subject, attributes)
