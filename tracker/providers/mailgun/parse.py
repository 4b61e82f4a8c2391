"""Mailgun webhook events (``{"signature": …, "event-data": …}`` JSON) -> normalized events.

Pure: standard library and the domain only, no I/O. Mailgun posts one event per request,
as JSON, to every configured webhook (provider-formats.md §6.2 [D]); the signature beside
the event is checked by tracker.providers.mailgun.auth, not here.

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
import json
from datetime import datetime
from email.utils import getaddresses
from types import MappingProxyType
from typing import Any
from collections.abc import Callable, Mapping

from tracker.providers.common import bounded_json
from tracker.domain import BounceType, EventType, NormalizedEvent
from tracker.providers.common.errors import PayloadError, UnreadablePayload
from tracker.providers.common.values import (
    Facts,
    checked_address,
    compact,
    digest,
    first_text,
    json_kind,
    key_list,
    key_time,
    maybe_address,
    normalized_event,
    not_json,
    optional_time,
    unmapped_event,
)

PROVIDER = "mailgun"

_JSONObject = Mapping[str, Any]
_SMALL = 1024  # bytes of JSON: larger tags / user-variables are left out of details
_SUBTYPE_LIMIT = 64  # the width of the bounce_subtype column


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one Mailgun event type becomes a normalized event."""

    type: EventType
    facts: Callable[[_JSONObject], Facts]  # never says the bounce type: the rule does
    bounce_type: BounceType | None = None


# --- what each event type says -------------------------------------------------------------


def _no_facts(data: _JSONObject) -> Facts:
    return Facts()


def _delivery_facts(data: _JSONObject) -> Facts:
    """delivered and temporary failures: the receiving server's answer and the attempt."""
    status = _object(data.get("delivery-status"))
    return Facts(
        diagnostic=first_text(status.get("message"), status.get("description")),
        details=compact(
            severity=data.get("severity"),
            reason=data.get("reason"),
            **_status_details(status),
        ),
    )


def _bounce_facts(data: _JSONObject) -> Facts:
    """Permanent (or unclassified) failures: Mailgun's reason is the bounce subtype."""
    facts = _delivery_facts(data)
    reason = data.get("reason")
    subtype = reason[:_SUBTYPE_LIMIT] if isinstance(reason, str) and reason else None
    return dataclasses.replace(facts, bounce_subtype=subtype)


def _reject_facts(data: _JSONObject) -> Facts:
    reject = _object(data.get("reject"))
    return Facts(diagnostic=first_text(reject.get("reason"), reject.get("description")))


def _engagement_facts(data: _JSONObject) -> Facts:
    """opened, clicked, unsubscribed: where the reader was, and the link for a click."""
    client = _object(data.get("client-info"))
    return Facts(
        details=compact(url=data.get("url"), ip=data.get("ip"), **{"user-agent": client.get("user-agent")})
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
    # on a suppression list ("suppress-bounce", "suppress-complaint", "suppress-unsubscribe")
    # or "generic". The reason becomes the bounce subtype (a "suppress-" one: Mailgun did not
    # send, which reputation counts as suppressed, tracker.domain.reputation.PROVIDER_SUPPRESSED).
    # Two reasons are no hard bounce and have a row of their own (_SOFT_PERMANENT_REASONS).
    "failed/permanent": _Rule(EventType.BOUNCED, _bounce_facts, BounceType.PERMANENT),
    # failed, severity permanent, reason "old" (a soft bounce whose retries ran out) or "espblock"
    # (the receiving provider blocked the sender for its domain's or IP's reputation): Mailgun
    # stops, but only invalid recipients go on its Bounces list; these are "due to all of the
    # other reasons" (help article "What is the difference between soft (temporary) and hard
    # (permanent) bounces?"; its Metrics count permanent failures as "soft bounces, hard bounces,
    # and suppressions"). The address may well take mail: a soft bounce, like SendGrid's
    # "blocked", suppressing only by the soft-bounce policy.
    "failed/permanent/soft": _Rule(EventType.BOUNCED, _bounce_facts, BounceType.TRANSIENT),
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
        shown = "missing" if raw_event is None else f"{json_kind(raw_event)} {raw_event!r}"
        raise PayloadError(f"Mailgun event-data.event must name the event, got {shown}")
    event = raw_event.strip().lower()  # Mailgun writes them lower-case; be lenient
    rule = _rule_for(event, data)

    occurred_at = (
        optional_time(data.get("timestamp"), "Mailgun event-data.timestamp") or received_at
    )
    event_key = f"{PROVIDER}:{event[:64]}:{_discriminator(data)}"  # within the 400-character column

    if rule is None:
        return [_unmapped(raw_event.strip(), data, occurred_at, event_key)]
    message_id = _message_id(data)
    if message_id is None:
        raise PayloadError(f"Mailgun {event} event has no event-data.message.headers.message-id")
    facts = rule.facts(data)
    facts = dataclasses.replace(
        facts, bounce_type=rule.bounce_type, details={**_common_details(data), **facts.details}
    )
    return [
        normalized_event(
            PROVIDER,
            rule.type,
            facts,
            message_id=message_id,
            recipient=recipient,
            occurred_at=occurred_at,
            event_key=event_key,
        )
        for recipient in _recipients(event, data)
    ]


_LEGACY_ADVICE = (
    "; this looks like a legacy (form-encoded) Mailgun webhook, which Mailgun retired in 2023 "
    "and the tracker does not read: configure the webhook again in Mailgun so it posts JSON"
)


def _load(body: bytes, content_type: str) -> _JSONObject:
    # A form body is recognized by its encoding or by its look, never trusted to be one.
    legacy = "form" in (content_type or "") or (body[:1] != b"{" and b"event=" in body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadablePayload(
            f"Mailgun webhook body is not UTF-8 text ({exc})" + (_LEGACY_ADVICE if legacy else "")
        ) from None
    try:
        document = bounded_json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadablePayload(
            not_json("Mailgun webhook body", exc, text) + (_LEGACY_ADVICE if legacy else "")
        ) from None
    if not isinstance(document, dict):
        raise PayloadError(f"Mailgun webhook body must be a JSON object, got {json_kind(document)}")
    return document


def _event_data(document: _JSONObject) -> _JSONObject:
    data = document.get("event-data")
    if isinstance(data, dict):
        return data
    if data is None:
        raise PayloadError(
            f"Mailgun webhook body has no event-data object (top-level keys: {key_list(document)})"
        )
    raise PayloadError(f"Mailgun event-data must be a JSON object, got {json_kind(data)}")


# Mailgun's reasons (event-data.reason) for a permanent failure that is no hard bounce.
_SOFT_PERMANENT_REASONS = frozenset({"old", "espblock"})


def _rule_for(event: str, data: _JSONObject) -> _Rule | None:
    if event != "failed":
        return _RULES.get(event)
    severity = data.get("severity")
    if not isinstance(severity, str):
        return _RULES["failed"]
    severity = severity.strip().lower()
    reason = data.get("reason")
    if severity == "permanent" and isinstance(reason, str) and reason.strip().lower() in _SOFT_PERMANENT_REASONS:
        return _RULES["failed/permanent/soft"]
    return _RULES.get(f"failed/{severity}", _RULES["failed"])


def _discriminator(data: _JSONObject) -> str:
    """The id and time of the event: Mailgun's event id is unique only within a day [C], so
    the event's own timestamp goes with it. Lacking either, a digest of the event data,
    which is still the same on every redelivery."""
    event_id = data.get("id")
    if isinstance(event_id, str) and 0 < len(event_id.strip()) <= 128:
        stamp = key_time(data.get("timestamp"))
        if stamp is not None:
            return f"{event_id.strip()}:{stamp}"
    return "sha256:" + digest(data, 32)


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
        return [checked_address(raw, "Mailgun event-data.recipient")]
    if raw is None and event == "rejected":
        # A rejected send request names no recipient [C]; it was refused for every address.
        to = _object(_object(data.get("message")).get("headers")).get("to")
        if isinstance(to, str):
            addresses = [address for _, address in getaddresses([to]) if address]
            if addresses:
                where = "Mailgun event-data.message.headers.to"
                return list(dict.fromkeys(checked_address(a, where) for a in addresses))
    shown = "missing" if raw is None else repr(raw)
    raise PayloadError(f"Mailgun {event} event has no recipient: event-data.recipient is {shown}")


def _unmapped(event: str, data: _JSONObject, occurred_at: datetime, event_key: str) -> NormalizedEvent:
    """An event type without a row in the table: kept in the history, changes no status."""
    return unmapped_event(
        PROVIDER,
        event,
        {
            **_common_details(data),
            **compact(severity=data.get("severity"), reason=data.get("reason")),
        },
        message_id=_message_id(data) or "",
        recipient=maybe_address(data.get("recipient")),
        occurred_at=occurred_at,
        event_key=event_key,
    )


def _common_details(data: _JSONObject) -> dict[str, Any]:
    return compact(
        id=data.get("id"),
        tags=_small(data.get("tags")),
        **{"log-level": data.get("log-level"), "user-variables": _small(data.get("user-variables"))},
    )


def _status_details(status: _JSONObject) -> dict[str, Any]:
    return {
        name: status.get(name)
        for name in ("code", "enhanced-code", "attempt-no", "retry-seconds")
    }


def _object(value: Any) -> _JSONObject:
    return value if isinstance(value, dict) else {}


def _small(value: Any) -> Any:
    """``value`` if it is non-empty and its JSON fits in _SMALL bytes, else None."""
    if not value:
        return None
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8"))
    return value if size <= _SMALL else None

