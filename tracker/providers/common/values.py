"""Lenient readers and helpers shared by the pure provider parsers."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, UTC
from typing import Any
from collections.abc import Mapping

from tracker.domain import BounceType, EventType, NormalizedEvent, normalize_address
from tracker.providers.common.errors import PayloadError
from tracker.providers.common.timestamps import parse_timestamp

# The one form of a time inside event keys. Changing it would change every stored key.
KEY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# --- event keys ---------------------------------------------------------------------------


def digest(value: Any, length: int = 16, *, ensure_ascii: bool = True) -> str:
    """The first ``length`` hex digits of the sha256 of ``value`` as canonical JSON.

    Canonical: keys sorted, no spaces, anything JSON cannot hold written as str(). The
    same value gives the same digest whatever its key order, so it can stand in an event
    key. ``length`` and ``ensure_ascii`` (False: non-ASCII text hashed as UTF-8, not as
    \\u escapes) must stay what each provider's keys were first made with, or stored
    histories stop deduplicating.
    """
    canonical = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def key_time(value: Any) -> str | None:
    """A time in the one UTC form event keys use (``2016-01-27T14:59:38.237000Z``).

    ``value`` is an aware datetime or anything parse_timestamp reads (ISO 8601 text, epoch
    seconds); None when it is no timestamp (missing included), so that the caller can
    choose what stands in.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = parse_timestamp(value)
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(KEY_TIME_FORMAT)


# --- error messages -----------------------------------------------------------------------


def json_kind(value: Any) -> str:
    """What kind of JSON value this is, for error messages: "a JSON array", "null", ..."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return {list: "a JSON array", dict: "a JSON object", str: "a string"}.get(
        type(value), "a number"
    )


def excerpt(value: Any, limit: int = 80) -> str:
    """The repr of the start of ``value`` (text, bytes or a JSON value), for error messages.

    Bytes are read as UTF-8 (bad bytes replaced); text is stripped and cut at ``limit``
    characters with "…" after it.
    """
    if isinstance(value, (bytes, bytearray)):
        shown = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, str):
        shown = value
    else:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    shown = shown.strip()
    return repr(shown if len(shown) <= limit else shown[:limit] + "…")


def key_list(document: Mapping[str, Any]) -> str:
    """The first ten keys of an object, sorted, for error messages; "none" when it has none."""
    keys = sorted(str(key) for key in document)
    shown = ", ".join(keys[:10]) + (", …" if len(keys) > 10 else "")
    return shown or "none"


def not_json(what: str, error: json.JSONDecodeError, source: Any) -> str:
    """The message for ``source`` (what: "SES message", ...) failing to parse as JSON:
    what is wrong and where, and how it starts."""
    return (
        f"{what} is not JSON ({error.msg} at line {error.lineno} column {error.colno}): "
        f"{excerpt(source)}"
    )


# --- lenient readers ----------------------------------------------------------------------


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string (white space counts), else None."""
    return value if isinstance(value, str) and value else None


def first_text(*values: Any) -> str | None:
    """The first of ``values`` that is a string with more than white space, as given."""
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return None


def compact(**facts: Any) -> dict[str, Any]:
    """The facts that are present (neither None nor ""): details stay small and free of nulls."""
    return {name: value for name, value in facts.items() if value is not None and value != ""}


def parse_time(value: Any, where: str) -> datetime:
    """``value`` as an aware UTC datetime; PayloadError "{where}: {why}" if it is none."""
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise PayloadError(f"{where}: {exc}") from None


def optional_time(value: Any, where: str) -> datetime | None:
    """As parse_time, but None for a missing time (None or "")."""
    if value is None or value == "":
        return None
    return parse_time(value, where)


def maybe_address(raw: Any) -> str | None:
    """The address normalized (domain.normalize_address) if ``raw`` is text holding one, else None."""
    if not isinstance(raw, str):
        return None
    try:
        return normalize_address(raw)
    except ValueError:
        return None


def checked_address(raw: str, where: str) -> str:
    """The normalized address in ``raw``; PayloadError "{where} is not an email address" if none."""
    address = maybe_address(raw)
    if address is None:
        raise PayloadError(f"{where} is not an email address: {raw!r}")
    return address


# --- building events ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Facts:
    """What one provider event says beyond its type, identity and time."""

    diagnostic: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    bounce_type: BounceType | None = None
    bounce_subtype: str | None = None
    smtp_action: str | None = None  # a DSN's Action (RFC 3464): "failed", "delayed"
    smtp_status: str | None = None  # a DSN's Status, the enhanced code (RFC 3463): "5.1.1"


def normalized_event(
    provider: str, type: EventType, facts: Facts, **identity: Any
) -> NormalizedEvent:
    """The event of ``type`` saying ``facts``; ``identity`` is message_id, recipient,
    occurred_at and event_key (and sent_at, when the provider states the send time)."""
    return NormalizedEvent(
        provider=provider,
        type=type,
        bounce_type=facts.bounce_type,
        bounce_subtype=facts.bounce_subtype,
        diagnostic=facts.diagnostic,
        details=facts.details,
        smtp_action=facts.smtp_action,
        smtp_status=facts.smtp_status,
        **identity,
    )


def unmapped_event(
    provider: str, provider_event: str, details: Mapping[str, Any], **identity: Any
) -> NormalizedEvent:
    """An event of a type the tracker has no mapping for: kept in the history under the
    provider's own name (details["provider_event"]), never dropped, changing no status.
    ``identity`` is message_id, recipient, occurred_at and event_key."""
    return NormalizedEvent(
        provider=provider,
        type=EventType.UNMAPPED,
        details={"provider_event": provider_event, **details},
        **identity,
    )
