"""Postmark webhook records -> normalized events.

Pure: standard library and the domain only, no I/O. Postmark POSTs one JSON record per
request, named by ``RecordType``: Delivery, Bounce, SpamComplaint, Open, Click,
SubscriptionChange (provider-formats.md §6.3; Postmark developer docs, "Webhooks"). Inbound
mail uses a separate webhook and is not read here. Authenticity is checked before this
runs (tracker.providers.postmark.auth); the Content-Type header is never trusted.
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
from tracker.providers.common.batch import Batch, read_each
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.postmark.facts import (
    bounce_details,
    bounce_diagnostic,
    bounce_rule,
    click_details,
    common_details,
    identifying_details,
    open_details,
    subscription_details,
    suppression_rule,
)
from tracker.providers.common.timestamps import parse_timestamp
from tracker.providers.common.values import (
    Facts,
    checked_address,
    digest,
    json_kind,
    key_list,
    key_time,
    maybe_address,
    normalized_event,
    not_json,
    optional_time,
    text,
    unmapped_event,
)

PROVIDER = "postmark"

_JSONObject = Mapping[str, Any]
_SUBTYPE_LIMIT = 64  # the width of the bounce_subtype column
_NAME_LIMIT = 64  # of a RecordType inside an event key
_KEY_LIMIT = 400  # the width of the event_key column

# What one record is (its event type, which for a Bounce record may be no bounce at all)
# and what it says beyond who, which message and when.
_Says = tuple[EventType, Facts]


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one RecordType becomes a normalized event."""

    type: EventType  # what the record usually is (the table's documentation)
    recipient: str  # the field naming the address
    time: str  # the field saying when it happened
    key: Callable[[_JSONObject, str, str], str]  # (record, message id, recipient) -> key tail
    facts: Callable[[_JSONObject], _Says]


# --- event_key discriminators -------------------------------------------------------------
# event_key = "postmark:{RecordType}:{discriminator}". It must be the same whenever Postmark
# posts the same record again (a retry after a timeout, a manual re-post), so it is built
# only from the record itself, never from arrival time:
#   - Bounce, SpamComplaint: Postmark's bounce ID, its own id of the record;
#   - Delivery: message id, recipient and DeliveredAt (one delivery per recipient);
#   - Open: ReceivedAt (with PostFirstOpenOnly off, every open is posted, each at its time);
#   - Click: ReceivedAt plus a digest of OriginalLink (one post per unique link clicked);
#   - SubscriptionChange: ChangedAt.
# Times are rewritten in one UTC form, so "…-05:00" and "…Z" spellings agree. When the
# field is missing, a digest of the whole record stands in: still stable across re-posts.


def _by_bounce_id(record: _JSONObject, message_id: str, recipient: str) -> str:
    bounce_id = record.get("ID")
    if isinstance(bounce_id, (int, str)) and not isinstance(bounce_id, bool) and bounce_id != "":
        return str(bounce_id)
    return f"{message_id}:{recipient}:{_key_time(record, 'BouncedAt')}"


def _by_delivery(record: _JSONObject, message_id: str, recipient: str) -> str:
    return f"{message_id}:{recipient}:{_key_time(record, 'DeliveredAt')}"


def _by_received_at(record: _JSONObject, message_id: str, recipient: str) -> str:
    return _key_time(record, "ReceivedAt")


def _by_received_at_and_link(record: _JSONObject, message_id: str, recipient: str) -> str:
    return f"{_key_time(record, 'ReceivedAt')}:{digest(record.get('OriginalLink'))}"


def _by_changed_at(record: _JSONObject, message_id: str, recipient: str) -> str:
    return _key_time(record, "ChangedAt")


# --- what each RecordType says --------------------------------------------------------------


def _delivery_facts(record: _JSONObject) -> _Says:
    return EventType.DELIVERED, Facts(
        diagnostic=text(record.get("Details")), details=common_details(record)
    )


def _bounce_facts(record: _JSONObject) -> _Says:
    name, rule = bounce_rule(record)
    details = bounce_details(record)
    diagnostic = bounce_diagnostic(record)
    if rule.type is EventType.BOUNCED:
        subtype = name[:_SUBTYPE_LIMIT] if name else None  # an unknown Type is Postmark's free text
        return EventType.BOUNCED, Facts(diagnostic, details, rule.bounce_type, subtype)
    # Not a failed delivery (a complaint, an auto-reply, a rejected send...): the event says
    # what it is, and Postmark's name for it stays in the details.
    key = "provider_event" if rule.type is EventType.UNMAPPED else "Type"
    value = f"Bounce:{name}" if rule.type is EventType.UNMAPPED else name
    return rule.type, Facts(diagnostic, {key: value, **details})


def _complaint_facts(record: _JSONObject) -> _Says:
    return EventType.COMPLAINED, Facts(
        diagnostic=text(record.get("Details")), details=bounce_details(record)
    )


def _open_facts(record: _JSONObject) -> _Says:
    return EventType.OPENED, Facts(details=open_details(record))


def _click_facts(record: _JSONObject) -> _Says:
    return EventType.CLICKED, Facts(details=click_details(record))


def _subscription_facts(record: _JSONObject) -> _Says:
    suppress = record.get("SuppressSending")
    if not isinstance(suppress, bool):
        raise PayloadError(
            f"SubscriptionChange record needs SuppressSending true or false, got {suppress!r}"
        )
    details = subscription_details(record)
    if suppress:
        rule = suppression_rule(record)
        subtype = text(record.get("SuppressionReason")) if rule.bounce_type else None
        return rule.type, Facts(details=details, bounce_type=rule.bounce_type, bounce_subtype=subtype)
    # A reactivation: the address may be mailed again. No status, but kept in the history.
    return EventType.UNMAPPED, Facts(
        details={"provider_event": "SubscriptionChange:reactivated", **details}
    )


# --- the mapping table: one row per RecordType --------------------------------------------

_RULES: dict[str, _Rule] = {
    # Delivery: the receiving server answered OK for this recipient; Details is its reply.
    "Delivery": _Rule(
        EventType.DELIVERED, "Recipient", "DeliveredAt", _by_delivery, _delivery_facts
    ),
    # Bounce: BOUNCED with the bounce type from Type/TypeCode (postmark_facts.BOUNCE_TYPES);
    # a few "bounce" types are no failure at all and become what they are instead.
    "Bounce": _Rule(EventType.BOUNCED, "Email", "BouncedAt", _by_bounce_id, _bounce_facts),
    # SpamComplaint: the recipient marked the message as spam; Postmark deactivates them.
    "SpamComplaint": _Rule(
        EventType.COMPLAINED, "Email", "BouncedAt", _by_bounce_id, _complaint_facts
    ),
    # Open: the tracking pixel was fetched by this recipient (first or later open).
    "Open": _Rule(EventType.OPENED, "Recipient", "ReceivedAt", _by_received_at, _open_facts),
    # Click: this recipient followed a tracked link for the first time.
    "Click": _Rule(
        EventType.CLICKED, "Recipient", "ReceivedAt", _by_received_at_and_link, _click_facts
    ),
    # SubscriptionChange: the address was put on the stream's suppression list
    # (SuppressSending true) -> by SuppressionReason (postmark_facts.SUPPRESSION_REASONS):
    # ManualSuppression (an unsubscribe) UNSUBSCRIBED; HardBounce a permanent bounce and
    # SpamComplaint a complaint, both about the address alone; or taken off it (a
    # reactivation) -> UNMAPPED "SubscriptionChange:reactivated".
    "SubscriptionChange": _Rule(
        EventType.UNSUBSCRIBED, "Recipient", "ChangedAt", _by_changed_at, _subscription_facts
    ),
}

# The table as documentation and for tests: Postmark RecordType -> normalized event type.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType(
    {record_type: rule.type for record_type, rule in _RULES.items()}
)

# Records Postmark documents without a message: manual suppressions by the customer or an
# admin, and reactivations (SubscriptionChange with MessageID null). Their event names the
# address only, with message_id "".
_MESSAGE_OPTIONAL = frozenset({"SubscriptionChange"})

# Fields that say when a record of an unknown type happened, in the order we trust them.
_TIME_FIELDS = ("ReceivedAt", "DeliveredAt", "BouncedAt", "ChangedAt")


def parse(body: bytes, content_type: str, *, received_at: datetime) -> list[NormalizedEvent]:
    """The normalized events in one Postmark webhook POST, all or nothing: PayloadError for the
    first record ``read`` sets aside, else as ``read``."""
    return read(body, content_type, received_at=received_at).strict()


def read(body: bytes, content_type: str, *, received_at: datetime) -> Batch:
    """The normalized events in one Postmark webhook POST.

    ``content_type`` is accepted for the receiver's convenience and ignored: the body is
    read as JSON whatever it claims. ``received_at`` (aware) is the event time when a record
    has none. A record of a RecordType we do not know becomes an UNMAPPED event. Raises
    PayloadError for bodies that can never be processed: one record (Postmark's own POST) it
    cannot read fails whole; in an array, a record it cannot read is set aside with its index
    and reason, and the others stand.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    document = _load(body)
    if isinstance(document, dict):
        return Batch.single([_event(document, "record", received_at)])
    return read_each(_records(document), lambda index, item: [_record(index, item, received_at)])


def _load(body: bytes) -> Any:
    if isinstance(body, str):
        text_body = body
    else:
        try:
            # utf-8-sig: a byte-order mark some relays add is not part of the JSON.
            text_body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnreadablePayload(f"Postmark webhook body is not UTF-8 text ({exc})") from None
    try:
        return bounded_json.loads(text_body)
    except json.JSONDecodeError as exc:
        raise UnreadablePayload(not_json("Postmark webhook body", exc, text_body)) from None


def _records(document: Any) -> list[Any]:
    """The records of a body that is not one object: Postmark posts one object; an array is tolerated."""
    if isinstance(document, list):
        if not document:
            raise PayloadError("Postmark webhook body is an empty JSON array: no record in it")
        return document
    raise PayloadError(
        f"Postmark webhook body must be a JSON object, got {json_kind(document)}"
    )


def _record(index: int, item: Any, received_at: datetime) -> NormalizedEvent:
    """The event of the array's record ``index``; PayloadError if it is no object or cannot be read."""
    where = f"record [{index}]"
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be a JSON object, got {json_kind(item)}")
    return _event(item, where, received_at)


def _event(record: _JSONObject, where: str, received_at: datetime) -> NormalizedEvent:
    record_type = _record_type(record, where)
    rule = _RULES.get(record_type)
    if rule is None:
        return _unmapped(record, record_type, received_at)

    event_type, facts = rule.facts(record)
    message_id = _message_id(record)
    if message_id is None:
        if record_type not in _MESSAGE_OPTIONAL and event_type is not EventType.UNMAPPED:
            raise PayloadError(f"{record_type} {where} has no MessageID")
        message_id = ""
    elif record_type == "SubscriptionChange" and not _about_the_message(record, event_type):
        facts = dataclasses.replace(facts, details={"MessageID": message_id, **facts.details})
        message_id = ""
    raw_recipient = record.get(rule.recipient)
    if not isinstance(raw_recipient, str) or not raw_recipient.strip():
        raise PayloadError(f"{record_type} {where} has no {rule.recipient}: {raw_recipient!r}")
    recipient = checked_address(raw_recipient, f"{record_type} {rule.recipient}")
    occurred_at = (
        optional_time(record.get(rule.time), f"{record_type} {rule.time}") or received_at
    )
    return normalized_event(
        PROVIDER,
        event_type,
        facts,
        message_id=message_id,
        recipient=recipient,
        occurred_at=occurred_at,
        event_key=_event_key(record_type, rule.key(record, message_id, recipient)),
    )


def _about_the_message(record: _JSONObject, event_type: EventType) -> bool:
    """Whether a SubscriptionChange event belongs to its MessageID's delivery."""
    return event_type is EventType.UNMAPPED or suppression_rule(record).about_the_message


def _record_type(record: _JSONObject, where: str) -> str:
    record_type = record.get("RecordType")
    if isinstance(record_type, str) and record_type.strip():
        return record_type.strip()
    if record_type is not None and record_type != "":
        raise PayloadError(
            f"RecordType must be a string, got {json_kind(record_type)}: {record_type!r}"
        )
    inferred = _infer_record_type(record)
    if inferred is None:
        raise PayloadError(
            f"not a Postmark event {where}: no RecordType, and its fields match no record "
            f"type (top-level keys: {key_list(record)})"
        )
    return inferred


def _infer_record_type(record: _JSONObject) -> str | None:
    """The RecordType of a record that lacks it, from the fields only that type has.

    Postmark's older examples (the delivery-webhook support article, the bounce hook blog
    post) show records without RecordType, as server-level hooks posted them [D].
    """
    if "DeliveredAt" in record:
        return "Delivery"
    if "BouncedAt" in record:
        return "SpamComplaint" if record.get("Type") == "SpamComplaint" else "Bounce"
    if "ChangedAt" in record and "SuppressSending" in record:
        return "SubscriptionChange"
    if "ReceivedAt" in record and "OriginalLink" in record:
        return "Click"
    if "ReceivedAt" in record and ("FirstOpen" in record or "ReadSeconds" in record):
        return "Open"
    return None


def _unmapped(record: _JSONObject, record_type: str, received_at: datetime) -> NormalizedEvent:
    """An event of a RecordType the tracker does not know: stored, never dropped."""
    recipient = None
    for field in ("Recipient", "Email"):
        recipient = maybe_address(record.get(field))
        if recipient is not None:
            break
    occurred_at = received_at
    for field in _TIME_FIELDS:
        try:
            occurred_at = parse_timestamp(record[field])
            break
        except (KeyError, ValueError):
            continue
    record_id = record.get("ID")
    if not isinstance(record_id, (int, str)) or isinstance(record_id, bool) or record_id == "":
        record_id = digest(record)
    return unmapped_event(
        PROVIDER,
        record_type,
        identifying_details(record),
        message_id=_message_id(record) or "",
        recipient=recipient,
        occurred_at=occurred_at,
        event_key=_event_key(record_type, str(record_id)),
    )


def _event_key(record_type: str, tail: str) -> str:
    """postmark:{RecordType}:{tail}, within the 400-character event_key column.

    Documented record types and ids are short; only an unknown RecordType or an absurdly
    long message id or address could overflow it, and then a digest of the tail stands in
    (still the same for every re-post of the record).
    """
    key = f"{PROVIDER}:{record_type[:_NAME_LIMIT]}:{tail}"
    if len(key) <= _KEY_LIMIT:
        return key
    return f"{PROVIDER}:{record_type[:_NAME_LIMIT]}:sha256:{digest(tail, 32)}"


def _message_id(record: _JSONObject) -> str | None:
    # Postmark's API docs spell it MessageID; an older client model spells it MessageId [C].
    for field in ("MessageID", "MessageId"):
        value = record.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _key_time(record: _JSONObject, field: str) -> str:
    """The record's time in the one form keys use, or a digest of the record without one."""
    return key_time(record.get(field)) or digest(record)

