"""SendGrid Event Webhook batches (a JSON array of event objects) -> normalized events.

Pure: standard library and the domain only, no I/O. One POST carries many events, for many
messages and recipients; each array element becomes at most one event. See
provider-formats.md §6.1 (fields, event names, ``sg_event_id`` as the dedupe key) and §0.

Identity of a delivery: SendGrid answers a send with an ``X-Message-Id`` header, which is
what applications register. Events carry ``sg_message_id`` ("<X-Message-Id>.<suffix>") and
``smtp-id`` (the Message-ID header, "<X-Message-Id@…ismtpd…>" when SendGrid made it); see
``_message_id`` for how the X-Message-Id is read from them. The formats doc marks the
prefix relation [U]; SendGrid's support does state it [D]: "query=msg_id LIKE
'<X-Message-ID>%'" finds a request's messages (article "How To Filter results with Activity
Feed API for X-Message-ID"), and its Japanese partner's support says the SendGrid Message ID
is the X-Message-ID followed by a per-message string.

SendGrid documents that delayed (asynchronous) bounces come without the message id: such
an event, and any other naming no message, is kept about its address alone (message id
""), which still feeds the suppression list and the history but makes no delivery.
"""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Mapping

from tracker.providers.common import bounded_json
from tracker.providers.common.batch import Batch, read_each
from tracker.domain import BounceType, EventType, NormalizedEvent
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.common.values import (
    Facts,
    compact,
    digest,
    excerpt,
    first_text,
    json_kind,
    key_list,
    maybe_address,
    normalized_event,
    not_json,
    optional_time,
)

PROVIDER = "sendgrid"

_JSONObject = Mapping[str, Any]
_SUBTYPE_LIMIT = 64  # the width of the bounce_subtype column
_NAME_LIMIT = 64  # of an event name inside the 400-character event_key column
_EMAIL_LIMIT = 320  # characters of an unreadable address kept in details


# --- what each event type says ------------------------------------------------------------
# One function per event shape, item -> Facts. Details keep SendGrid's own field names and
# only what an operator needs to read a history; the raw batch is kept by the receiver.
# The full sg_message_id is added to every event's details by _event().


def _no_facts(item: _JSONObject) -> Facts:
    return Facts()


def _delivered_facts(item: _JSONObject) -> Facts:
    return Facts(diagnostic=_diagnostic(item))


def _deferred_facts(item: _JSONObject) -> Facts:
    # attempt is a string in SendGrid's examples ("5"); kept as sent.
    return Facts(diagnostic=_diagnostic(item), details=compact(attempt=item.get("attempt")))


# bounce.type -> bounce type. Any other word is kept in details and the bounce is classed
# by its status (below): a bounce is never dropped for its subtype.
_BOUNCE_TYPES = {
    # "bounce": a hard bounce, the address is bad; SendGrid puts it on its bounce list.
    "bounce": BounceType.PERMANENT,
    # "blocked": the receiving server refused for now or by policy (reputation, content,
    # rate, a domain without MX), which says nothing final about the address.
    "blocked": BounceType.TRANSIENT,
}


# A bounce without a ``type`` (SendGrid's "Test Your Integration" batch, older payloads) is
# classed by its enhanced status code, RFC 3463 section 3.1: the first digit is the class,
# 5.x.x a permanent failure, 4.x.x a persistent transient one. Anything else (2.x.x, a bare
# SMTP reply code, no status) cannot say, so UNDETERMINED.
_BOUNCE_CLASSES = {"5": BounceType.PERMANENT, "4": BounceType.TRANSIENT}
_ENHANCED_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")


def _by_status_class(status: Any) -> BounceType:
    code = _ENHANCED_STATUS.fullmatch(status.strip()) if isinstance(status, str) else None
    return _BOUNCE_CLASSES.get(code.group(1), BounceType.UNDETERMINED) if code else BounceType.UNDETERMINED


def _bounce_facts(item: _JSONObject) -> Facts:
    raw_type = item.get("type")
    classification = first_text(item.get("bounce_classification"))
    return Facts(
        diagnostic=_diagnostic(item),
        details=compact(
            type=raw_type,
            status=item.get("status"),
            bounce_classification=classification,
        ),
        bounce_type=_BOUNCE_TYPES.get(first_text(raw_type) or "") or _by_status_class(item.get("status")),
        smtp_status=first_text(item.get("status")),
        # SendGrid's own classification ("Invalid Address", "Reputation", ...) when it sends
        # one; older payloads only carry the enhanced status code ("5.1.1").
        bounce_subtype=_cut(classification or first_text(item.get("status")), _SUBTYPE_LIMIT),
    )


def _dropped_facts(item: _JSONObject) -> Facts:
    # reason is SendGrid's drop reason ("Bounced Address", "Unsubscribed Address", ...).
    return Facts(diagnostic=_diagnostic(item), details=compact(status=item.get("status")))


def _open_facts(item: _JSONObject) -> Facts:
    # sg_machine_open marks opens by mail privacy proxies (not a person reading).
    return Facts(
        details=compact(
            useragent=item.get("useragent"),
            ip=item.get("ip"),
            sg_machine_open=item.get("sg_machine_open"),
        )
    )


def _click_facts(item: _JSONObject) -> Facts:
    return Facts(
        details=compact(url=item.get("url"), useragent=item.get("useragent"), ip=item.get("ip"))
    )


def _unsubscribe_facts(item: _JSONObject) -> Facts:
    # asm_group_id: the unsubscribe group (suppression group) the reader left, when any.
    return Facts(details=compact(asm_group_id=item.get("asm_group_id")))


def _unmapped_facts(item: _JSONObject) -> Facts:
    """Types the tracker keeps without a status: the name and a few identifying fields."""
    return Facts(
        diagnostic=_diagnostic(item),
        details=compact(
            provider_event=item.get("event"),
            type=item.get("type"),
            asm_group_id=item.get("asm_group_id"),
        ),
    )


@dataclasses.dataclass(frozen=True)
class _Rule:
    type: EventType
    facts: Callable[[_JSONObject], Facts]


# --- the mapping table: one row per documented SendGrid event -----------------------------

_RULES: dict[str, _Rule] = {
    # processed: SendGrid accepted the message and queued it for delivery.
    "processed": _Rule(EventType.SENT, _no_facts),
    # deferred: the receiving server answered with a temporary failure and SendGrid will
    # try again, so the delivery is in RETRY. response is the SMTP reply, attempt the count.
    "deferred": _Rule(EventType.DELAYED, _deferred_facts),
    # delivered: the receiving server accepted the message; response is its SMTP reply.
    "delivered": _Rule(EventType.DELIVERED, _delivered_facts),
    # bounce: type "bounce" -> PERMANENT, type "blocked" -> TRANSIENT (see _BOUNCE_TYPES).
    "bounce": _Rule(EventType.BOUNCED, _bounce_facts),
    # dropped: SendGrid never tried (suppressed address, invalid address, spam content...);
    # an ERROR, diagnostic = reason.
    "dropped": _Rule(EventType.REJECTED, _dropped_facts),
    # open: the tracking pixel was fetched (possibly by a privacy proxy, sg_machine_open).
    "open": _Rule(EventType.OPENED, _open_facts),
    # click: a tracked link was followed; the status is OPENED, the url is kept.
    "click": _Rule(EventType.CLICKED, _click_facts),
    # spamreport: the recipient marked the message as spam.
    "spamreport": _Rule(EventType.COMPLAINED, _no_facts),
    # unsubscribe: global unsubscribe from this message; changes no status.
    "unsubscribe": _Rule(EventType.UNSUBSCRIBED, _unsubscribe_facts),
    # group_unsubscribe: unsubscribed from one group (asm_group_id); changes no status.
    "group_unsubscribe": _Rule(EventType.UNSUBSCRIBED, _unsubscribe_facts),
    # group_resubscribe: the reader re-joined a group. The tracker has no "resubscribed"
    # event type, so it is kept as UNMAPPED (no status; details name it and the group).
    "group_resubscribe": _Rule(EventType.UNMAPPED, _unmapped_facts),
    # account_status_change: the SendGrid account was suspended/reinstated (type, e.g.
    # "compliance_suspend"). About the account, not a message: UNMAPPED, usually with no
    # email and no message id at all [C].
    "account_status_change": _Rule(EventType.UNMAPPED, _unmapped_facts),
}

# Anything else SendGrid may add later: kept as UNMAPPED, never dropped, never an error.
_UNKNOWN = _Rule(EventType.UNMAPPED, _unmapped_facts)

# The table as documentation and for tests: SendGrid event -> normalized event type.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType(
    {name: rule.type for name, rule in _RULES.items()}
)


def parse(body: bytes, content_type: str, *, received_at: datetime) -> list[NormalizedEvent]:
    """The normalized events in one Event Webhook POST body, in the batch's order; all or nothing.

    PayloadError for the first element ``read`` sets aside, else as ``read``.
    """
    return read(body, content_type, received_at=received_at).strict()


def read(body: bytes, content_type: str, *, received_at: datetime) -> Batch:
    """The normalized events of the readable elements of one Event Webhook POST, in the batch's
    order, and the elements that cannot be read (index and reason).

    ``content_type`` is not trusted (the body is JSON whatever the header says).
    ``received_at`` (aware) is the event time when an element has no ``timestamp``.
    Raises PayloadError for a body that is no batch (not a JSON array). An element that is not
    an object, has no ``event``, an unreadable ``timestamp`` or id, or is a delivery event
    without ``email`` is set aside, named by its array index and field; the others stand.
    Unknown event names are not errors: they become EventType.UNMAPPED events.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return read_each(_load(body), lambda index, item: [_event(index, item, received_at)])


def _event(index: int, item: Any, received_at: datetime) -> NormalizedEvent:
    where = f"SendGrid event [{index}]"
    if not isinstance(item, dict):
        raise PayloadError(f"{where} must be a JSON object, got {json_kind(item)}: {excerpt(item)}")
    name = item.get("event")
    if not isinstance(name, str) or not name.strip():
        shown = "missing" if name is None else repr(name)
        raise PayloadError(f"{where} has no event name: 'event' is {shown} (keys: {key_list(item)})")
    where = f"{where} ({name})"
    # SendGrid writes its event names in lower case, but its own reference shows a webhook call
    # with "event": "Processed" ("Reserved Keys in Unique Arguments"): the name is matched
    # without regard to case, and an unknown one is kept as sent.
    known = name.strip().lower()
    rule = _RULES.get(known, _UNKNOWN)
    if rule is not _UNKNOWN:
        name = known
    # Events about a delivery need its address; events kept without a status
    # (account_status_change has neither address nor message [C], an unknown type may not)
    # take it when present. A message id is never required: SendGrid sends none with a
    # delayed bounce [D], and such an event is about the address alone.
    about_a_delivery = rule.type is not EventType.UNMAPPED

    message_id = _message_id(item, where)
    recipient = _recipient(item, where, required=about_a_delivery)

    facts = rule.facts(item)
    details = dict(facts.details)
    sg_message_id = first_text(item.get("sg_message_id"))
    if sg_message_id:
        details["sg_message_id"] = sg_message_id
    unreadable = first_text(item.get("email")) if recipient is None else None
    if unreadable:
        # SendGrid drops sends to invalid addresses (reason "Invalid") and says so with the
        # address as given. No delivery can have it (registration normalizes addresses too),
        # so the event is kept on its message, attributed to nobody, the text in details.
        details["email"] = unreadable[:_EMAIL_LIMIT]

    return normalized_event(
        PROVIDER,
        rule.type,
        dataclasses.replace(facts, details=details),
        message_id=message_id or "",
        recipient=recipient,
        occurred_at=_occurred_at(item.get("timestamp"), where) or received_at,
        event_key=_event_key(item, name),
    )


# SendGrid documents ``timestamp`` as unix seconds, but its own "Example event from a Single
# Send" (Marketing Campaigns) carries milliseconds: "timestamp": 1591726752372 (Event Webhook
# Reference, sendgrid/docs event.md). 10**11 seconds is the year 5138 and 10**11 milliseconds
# March 1973, so a larger value can only be milliseconds (SendCloud's rule, for the same doubt).
_MILLISECONDS_ABOVE = 10**11
_LATEST_MILLISECONDS = 253402300799999  # 9999-12-31T23:59:59.999Z; beyond it, an error as before
_DIGITS = re.compile(r"\s*\d{1,20}\s*")


def _occurred_at(raw: Any, where: str) -> datetime | None:
    """When the event happened: ``timestamp`` in unix seconds or milliseconds (number or numeric
    string); None when absent. PayloadError for anything else."""
    number: float | int | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str) and _DIGITS.fullmatch(raw):
        number = int(raw)
    if number is not None and _MILLISECONDS_ABOVE < abs(number) <= _LATEST_MILLISECONDS:
        raw = number / 1000
    return optional_time(raw, f"{where}: 'timestamp'")


def _load(body: bytes | str) -> list[Any]:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnreadablePayload(f"SendGrid body is not UTF-8 text ({exc})") from None
    if not isinstance(body, str):
        raise PayloadError(f"SendGrid body must be bytes, got {type(body).__name__}")
    try:
        document = bounded_json.loads(body)
    except json.JSONDecodeError as exc:
        raise UnreadablePayload(not_json("SendGrid body", exc, body)) from None
    if not isinstance(document, list):
        raise PayloadError(
            f"SendGrid body must be a JSON array of events, got {json_kind(document)}: "
            f"{excerpt(body)}"
        )
    return document


# Where SendGrid's own suffix starts in sg_message_id: "filter0001.16648.5515E0B88.0" (older),
# "filterdrecv-…", "filter0425p1mdw1.…", "recvd-…" [C]. A dropped event may carry only the
# suffix, with no X-Message-Id before it [C].
_SUFFIX = re.compile(r"(?:^|\.)(?:filter|recvd)")
# Hosts SendGrid names in the Message-ID headers it makes: "ismtpd-555" (docs),
# "ismtpd0006p1sjc2.sendgrid.net", "geopod-ismtpd-3" [C].
_SENDGRID_HOST = re.compile(r"(?:^|[.-])ismtpd|(?:^|\.)sendgrid\.net$", re.IGNORECASE)


def _message_id(item: _JSONObject, where: str) -> str | None:
    """The X-Message-Id the application registered, or None when the event names none.

    sg_message_id is "<X-Message-Id>.<SendGrid suffix>", the suffix differing between
    events of one message (processed vs delivered). Current X-Message-Ids are 22 base64url
    characters without "."; older ones had dots ("14c5d75ce93.dfd.64b469", SendGrid's own
    examples), so the id ends where the suffix starts ("filter…", "recvd…"), not at the first
    ".". The prefix relation is [D] (see the module docstring); where the suffix starts is
    read from examples [C]. When SendGrid made the Message-ID header, smtp-id is
    "<X-Message-Id@…ismtpd…>" and its local part is the id [C]: it confirms a dotted prefix,
    and stands in when sg_message_id is missing (delayed bounces) or holds only the suffix.
    An application's own Message-ID in smtp-id is taken whole, without its angle brackets,
    as a last resort: it matches only if that is what the application registered.
    """
    sg_message_id = _text_field(item, "sg_message_id", where)
    smtp_id = (_text_field(item, "smtp-id", where) or "").strip("<>").strip()
    local, at, host = smtp_id.rpartition("@")
    made_by_sendgrid = bool(at and local and _SENDGRID_HOST.search(host))

    if sg_message_id:
        if made_by_sendgrid and (sg_message_id == local or sg_message_id.startswith(local + ".")):
            return local
        suffix = _SUFFIX.search(sg_message_id)
        prefix = sg_message_id[: suffix.start()] if suffix else sg_message_id.split(".", 1)[0]
        if prefix:
            return prefix
    if made_by_sendgrid:
        return local
    return smtp_id or None


def _text_field(item: _JSONObject, field: str, where: str) -> str | None:
    """A string field, stripped; None when absent or blank. PayloadError if not a string."""
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: '{field}' must be a string, got {json_kind(value)}: {value!r}")
    return value.strip() or None


def _recipient(item: _JSONObject, where: str, *, required: bool) -> str | None:
    """The normalized address in ``email``; None when it holds text that is no address.

    PayloadError when a delivery event (``required``) has no ``email`` text at all.
    """
    raw = item.get("email")
    address = maybe_address(raw)
    if address is not None or not required or first_text(raw):
        return address
    shown = "missing" if raw is None else repr(raw)
    raise PayloadError(f"{where} has no recipient: 'email' is {shown}")


def _event_key(item: _JSONObject, name: str) -> str:
    """sendgrid:{event}:{sg_event_id}: SendGrid's documented dedupe key, the same on every retry.

    The event name goes with it so that ids that are not unique cannot merge different
    events of one delivery: SendGrid's own example batch gives every event the placeholder
    "sg_event_id". Without an id (older or unusual payloads), a digest of the whole event
    object stands in: still the same on every redelivery of the same object.
    """
    name = name[:_NAME_LIMIT]
    event_id = first_text(item.get("sg_event_id"))
    if event_id and len(event_id) <= 256:
        return f"{PROVIDER}:{name}:{event_id.strip()}"
    return f"{PROVIDER}:{name}:sha256:{digest(item, 32, ensure_ascii=False)}"


def _diagnostic(item: _JSONObject) -> str | None:
    """SendGrid's reason (bounce, dropped) or the receiving server's SMTP response."""
    return first_text(item.get("reason"), item.get("response"))


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None
