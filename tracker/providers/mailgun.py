"""Mailgun webhook events (``{"signature": …, "event-data": …}`` JSON) -> normalized events.

Pure: standard library and the domain only, no I/O. Mailgun posts one event per request,
as JSON, to every configured webhook (provider-formats.md §6.2 [D]); the signature beside
the event is checked by tracker.authenticity.mailgun, not here.

What is read from ``event-data``:

- ``event`` (with ``severity`` for ``failed``) picks the row of the mapping table below;
- ``message.headers.message-id`` is the delivery's message id, without the ``<>`` that
  Mailgun's send API puts around it (the webhook sends it bare [D][C]);
- ``recipient`` is the delivery's address. ``rejected`` events may lack it (a public
  library's note [C]); they then apply to every address in ``message.headers.to``;
- ``timestamp`` (float epoch seconds [D]) is when it happened; ``received_at`` only when
  Mailgun sent none;
- details keep Mailgun's own field names, only the small ones: ``id``, ``log-level``,
  ``tags``, ``user-variables`` (up to 1 KiB), ``delivery-status`` ``code``,
  ``enhanced-code``, ``attempt-no``, ``retry-seconds``, ``severity``/``reason`` of
  failures, ``url``/``ip``/``user-agent`` of engagement events.

Mailgun adds fields without notice [D]: unknown fields are ignored, and an unknown event
type becomes an UNMAPPED event, never an error. PayloadError is kept for bodies that can
never be processed (the receiver answers 406 to them so that Mailgun stops retrying).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime
from email.utils import getaddresses
from types import MappingProxyType
from typing import Any, Callable, Mapping

from tracker.domain import BounceType, EventType, NormalizedEvent, normalize_address
from tracker.providers.errors import PayloadError
from tracker.providers.timestamps import parse_timestamp

PROVIDER = "mailgun"

_JSONObject = Mapping[str, Any]
_SMALL = 1024  # bytes of JSON: larger tags / user-variables are left out of details
_SUBTYPE_LIMIT = 64  # the width of the bounce_subtype column


@dataclasses.dataclass(frozen=True)
class _Facts:
    """What one event says beyond its type and time."""

    diagnostic: str | None = None
    bounce_subtype: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one Mailgun event type becomes a normalized event."""

    type: EventType
    facts: Callable[[_JSONObject], _Facts]
    bounce_type: BounceType | None = None


# --- what each event type says -------------------------------------------------------------


def _no_facts(data: _JSONObject) -> _Facts:
    return _Facts()


def _delivery_facts(data: _JSONObject) -> _Facts:
    """delivered and temporary failures: the receiving server's answer and the attempt."""
    status = _object(data.get("delivery-status"))
    return _Facts(
        diagnostic=_first_text(status.get("message"), status.get("description")),
        details=_compact(
            severity=data.get("severity"),
            reason=data.get("reason"),
            **_status_details(status),
        ),
    )


def _bounce_facts(data: _JSONObject) -> _Facts:
    """Permanent (or unclassified) failures: Mailgun's reason is the bounce subtype."""
    facts = _delivery_facts(data)
    reason = data.get("reason")
    subtype = reason[:_SUBTYPE_LIMIT] if isinstance(reason, str) and reason else None
    return dataclasses.replace(facts, bounce_subtype=subtype)


def _reject_facts(data: _JSONObject) -> _Facts:
    reject = _object(data.get("reject"))
    return _Facts(diagnostic=_first_text(reject.get("reason"), reject.get("description")))


def _engagement_facts(data: _JSONObject) -> _Facts:
    """opened, clicked, unsubscribed: where the reader was, and the link for a click."""
    client = _object(data.get("client-info"))
    return _Facts(
        details=_compact(url=data.get("url"), ip=data.get("ip"), **{"user-agent": client.get("user-agent")})
    )


# --- the mapping table: one row per Mailgun event (failed: per severity) ------------------

_RULES: dict[str, _Rule] = {
    # accepted: Mailgun accepted the send request and queued the message for this recipient.
    "accepted": _Rule(EventType.SENT, _no_facts),
    # delivered: the recipient's mail server accepted the message (delivery-status.code 250).
    "delivered": _Rule(EventType.DELIVERED, _delivery_facts),
    # failed, severity temporary: a soft failure (greylisting, no MX, mailbox busy); Mailgun
    # keeps retrying (delivery-status.retry-seconds), so the delivery is in RETRY.
    "failed/temporary": _Rule(EventType.DELAYED, _delivery_facts),
    # failed, severity permanent: Mailgun gave up: a hard bounce (reason "bounce"), an address
    # on a suppression list ("suppress-bounce", "suppress-complaint", "suppress-unsubscribe"),
    # retries exhausted ("old") or "generic". The reason becomes the bounce subtype.
    "failed/permanent": _Rule(EventType.BOUNCED, _bounce_facts, BounceType.PERMANENT),
    # failed with no or an unknown severity [A]: the message did fail, but whether for good
    # is unknown, so it is a bounce of undetermined type (the severity is kept in details).
    "failed": _Rule(EventType.BOUNCED, _bounce_facts, BounceType.UNDETERMINED),
    # rejected: Mailgun refused the send request (e.g. sandbox domain limits); nothing was sent.
    "rejected": _Rule(EventType.REJECTED, _reject_facts),
    # opened: the tracking pixel was fetched by this recipient.
    "opened": _Rule(EventType.OPENED, _engagement_facts),
    # clicked: this recipient followed a tracked link (details["url"]).
    "clicked": _Rule(EventType.CLICKED, _engagement_facts),
    # unsubscribed: the recipient used Mailgun's unsubscribe link; changes no status.
    "unsubscribed": _Rule(EventType.UNSUBSCRIBED, _engagement_facts),
    # complained: the recipient reported the message as spam (feedback loop).
    "complained": _Rule(EventType.COMPLAINED, _no_facts),
}

# The table as documentation and for tests: Mailgun event (failed: "failed/<severity>",
# bare "failed" for any other severity) -> normalized event type, and the bounce types.
TYPE_MAP: Mapping[str, EventType] = MappingProxyType({code: rule.type for code, rule in _RULES.items()})
BOUNCE_TYPES: Mapping[str, BounceType] = MappingProxyType(
    {code: rule.bounce_type for code, rule in _RULES.items() if rule.bounce_type is not None}
)


def parse(body: bytes, content_type: str, *, received_at: datetime) -> list[NormalizedEvent]:
    """The normalized events in one Mailgun webhook body (one event; several for a rejected
    message without a recipient field). ``content_type`` is not trusted: the body is read
    as JSON whatever it says. ``received_at`` (aware) is the event time when Mailgun sent none.
    Raises PayloadError for a body that can never be processed.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data = _event_data(_load(body, content_type))
    raw_event = data.get("event")
    if not isinstance(raw_event, str) or not raw_event.strip():
        shown = "missing" if raw_event is None else f"{_json_kind(raw_event)} {raw_event!r}"
        raise PayloadError(f"Mailgun event-data.event must name the event, got {shown}")
    event = raw_event.strip().lower()  # Mailgun writes them lower-case; be lenient
    rule = _rule_for(event, data)

    occurred_at = received_at
    if data.get("timestamp") not in (None, ""):
        occurred_at = _parse_time(data["timestamp"])
    event_key = f"{PROVIDER}:{event[:64]}:{_discriminator(data)}"  # within the 400-character column

    if rule is None:
        return [_unmapped(raw_event.strip(), data, occurred_at, event_key)]
    message_id = _message_id(data)
    if message_id is None:
        raise PayloadError(f"Mailgun {event} event has no event-data.message.headers.message-id")
    facts = rule.facts(data)
    details = {**_common_details(data), **facts.details}
    return [
        NormalizedEvent(
            provider=PROVIDER,
            message_id=message_id,
            recipient=recipient,
            type=rule.type,
            occurred_at=occurred_at,
            event_key=event_key,
            bounce_type=rule.bounce_type,
            bounce_subtype=facts.bounce_subtype,
            diagnostic=facts.diagnostic,
            details=details,
        )
        for recipient in _recipients(event, data)
    ]


def _load(body: bytes, content_type: str) -> _JSONObject:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"Mailgun webhook body is not UTF-8 text ({exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if "form" in (content_type or "") or (text[:1] != "{" and "event=" in text):
            hint = (
                "; this looks like a legacy (form-encoded) Mailgun webhook, which is not "
                "supported: configure the webhook again in Mailgun so it posts JSON"
            )
        raise PayloadError(
            f"Mailgun webhook body is not JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}): {_excerpt(text)}{hint}"
        ) from None
    if not isinstance(document, dict):
        raise PayloadError(f"Mailgun webhook body must be a JSON object, got {_json_kind(document)}")
    return document


def _event_data(document: _JSONObject) -> _JSONObject:
    data = document.get("event-data")
    if isinstance(data, dict):
        return data
    if data is None:
        keys = sorted(document)
        shown = ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
        raise PayloadError(f"Mailgun webhook body has no event-data object (top-level keys: {shown or 'none'})")
    raise PayloadError(f"Mailgun event-data must be a JSON object, got {_json_kind(data)}")


def _rule_for(event: str, data: _JSONObject) -> _Rule | None:
    if event != "failed":
        return _RULES.get(event)
    severity = data.get("severity")
    if isinstance(severity, str):
        return _RULES.get(f"failed/{severity.strip().lower()}", _RULES["failed"])
    return _RULES["failed"]


def _discriminator(data: _JSONObject) -> str:
    """The id and time of the event: Mailgun's event id is unique only within a day [C], so
    the event's own timestamp goes with it. Lacking either, a digest of the event data,
    which is still the same on every redelivery."""
    event_id = data.get("id")
    if isinstance(event_id, str) and 0 < len(event_id.strip()) <= 128:
        try:
            stamp = parse_timestamp(data["timestamp"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        except (KeyError, ValueError):
            pass
        else:
            return f"{event_id.strip()}:{stamp}"
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _message_id(data: _JSONObject) -> str | None:
    headers = _object(_object(data.get("message")).get("headers"))
    value = headers.get("message-id")
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value or None


def _recipients(event: str, data: _JSONObject) -> list[str]:
    raw = data.get("recipient")
    if isinstance(raw, str) and raw.strip():
        return [_address(raw, "event-data.recipient")]
    if raw is None and event == "rejected":
        # A rejected send request names no recipient [C]; it was refused for every address.
        to = _object(_object(data.get("message")).get("headers")).get("to")
        if isinstance(to, str):
            addresses = [address for _, address in getaddresses([to]) if address]
            if addresses:
                return list(dict.fromkeys(_address(a, "event-data.message.headers.to") for a in addresses))
    shown = "missing" if raw is None else repr(raw)
    raise PayloadError(f"Mailgun {event} event has no recipient: event-data.recipient is {shown}")


def _unmapped(event: str, data: _JSONObject, occurred_at: datetime, event_key: str) -> NormalizedEvent:
    """An event type without a row in the table: kept in the history, changes no status."""
    return NormalizedEvent(
        provider=PROVIDER,
        message_id=_message_id(data) or "",
        recipient=_maybe_address(data.get("recipient")),
        type=EventType.UNMAPPED,
        occurred_at=occurred_at,
        event_key=event_key,
        details={
            "provider_event": event,
            **_common_details(data),
            **_compact(severity=data.get("severity"), reason=data.get("reason")),
        },
    )


def _common_details(data: _JSONObject) -> dict[str, Any]:
    return _compact(
        id=data.get("id"),
        tags=_small(data.get("tags")),
        **{"log-level": data.get("log-level"), "user-variables": _small(data.get("user-variables"))},
    )


def _status_details(status: _JSONObject) -> dict[str, Any]:
    return {
        name: status.get(name)
        for name in ("code", "enhanced-code", "attempt-no", "retry-seconds")
    }


def _address(raw: str, where: str) -> str:
    address = _maybe_address(raw)
    if address is None:
        raise PayloadError(f"Mailgun {where} is not an email address: {raw!r}")
    return address


def _maybe_address(raw: Any) -> str | None:
    """The normalized address, or None unless ``raw`` looks like one (has a local part and a domain)."""
    if not isinstance(raw, str):
        return None
    try:
        address = normalize_address(raw)
    except ValueError:
        return None
    local, at, domain = address.rpartition("@")
    return address if local and at and domain else None


def _parse_time(value: Any) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise PayloadError(f"Mailgun event-data.timestamp: {exc}") from None


def _object(value: Any) -> _JSONObject:
    return value if isinstance(value, dict) else {}


def _first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return None


def _small(value: Any) -> Any:
    """``value`` if it is non-empty and its JSON fits in _SMALL bytes, else None."""
    if not value:
        return None
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8"))
    return value if size <= _SMALL else None


def _compact(**facts: Any) -> dict[str, Any]:
    """The facts that are present: history details stay small and free of nulls."""
    return {name: value for name, value in facts.items() if value is not None and value != ""}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return {list: "a JSON array", dict: "a JSON object", str: "a string"}.get(type(value), "a number")


def _excerpt(text: str, limit: int = 80) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "…")
