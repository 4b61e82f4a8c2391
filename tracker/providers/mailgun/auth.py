"""Mailgun webhook signatures: HMAC-SHA256 over ``timestamp + token``, carried in the JSON body. Pure.

Mailgun puts the signature inside the body, not in a header (provider-formats.md §6.2 [D]):
``{"signature": {"timestamp", "token", "signature", "parent-signature"?}, "event-data": …}``.
``signature`` is the hex HMAC-SHA256 of ``timestamp + token`` (plain concatenation, no
separator) keyed with the HTTP webhook signing key. For an event on a subaccount Mailgun
adds ``parent-signature``, "same as signature" but made with the primary account's key, so
a receiver configured with the primary account's key verifies every subaccount [D].

The source's secret: the **HTTP webhook signing key** exactly as the Mailgun control panel
shows it (Sending > Webhooks; not the API key). Surrounding whitespace is ignored. It is
required: Mailgun always signs, so a source without a key is never left open. That is the
operator's mistake, not the sender's: ValueError, which the receiver answers 503 (logged),
so that Mailgun keeps retrying until the source is fixed.

What is refused:

    401  the body is not a JSON object with a ``signature`` object holding timestamp,
         token and signature (no credentials at all)
    403  a malformed timestamp, token or signature; a signature
         that matches neither signature nor parent-signature; a timestamp older than
         MAX_AGE or more than MAX_FUTURE_SKEW ahead of the receiver's clock

Legacy webhooks (retired by Mailgun in 2023 [D]) posted the same three values as form
fields (``application/x-www-form-urlencoded``, or ``multipart/form-data`` with attachments),
beside the event's own fields. They are checked the same way, so that a genuine legacy post
is stored and answered 406 by the receiver (the parser cannot read it), which stops
Mailgun's retries, instead of a 401 that Mailgun would retry for 8 hours.

Freshness [A]: the signature covers only timestamp and token, not the event, so the window
and the replay token are what stop a captured request (or its signature block moved onto
a forged event) being posted again. Mailgun retries for 8 hours
and warns its own delays can be long [D], so the window is a generous 24 hours; the
token (random, 50 characters [D]) is returned for the receiver to refuse a second time,
which closes the window's gap. Whether a retry carries a fresh timestamp and token is
not documented [U]; either way a retry within 24 hours passes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, UTC
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from tracker.providers.common import bounded_json
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest, equal

__all__ = ["MAX_AGE", "MAX_FUTURE_SKEW", "authenticate"]

MAX_AGE = timedelta(hours=24)
MAX_FUTURE_SKEW = timedelta(minutes=5)

# Mailgun's timestamp is whole epoch seconds, sent as a string or a number [D]; a
# fraction is tolerated. Tokens are 50 random characters [D]: anything longer than the
# receiver's replay-token column (200) would be truncated there, so it is refused here.
_TIMESTAMP = re.compile(r"\d{1,11}(?:\.\d{1,9})?")
_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def authenticate(request: WebhookRequest, secret: str | None) -> str | None:
    """Check a Mailgun webhook's body signature; return its token for replay refusal."""
    key = (secret or "").strip()
    if not key:
        raise ValueError("no signing key configured for this Mailgun source (its HTTP webhook signing key)")
    block = _signature_block(request)
    timestamp = _credential(block, "timestamp")
    token = _credential(block, "token")
    presented = _credential(block, "signature")

    if not _TIMESTAMP.fullmatch(timestamp):
        raise AuthenticationFailed(403, f"malformed Mailgun signature.timestamp: {timestamp[:40]!r}")
    if not _TOKEN.fullmatch(token):
        raise AuthenticationFailed(403, "malformed Mailgun signature.token (expected 1-200 printable characters)")
    if not _HEX_SHA256.fullmatch(presented):
        raise AuthenticationFailed(403, "malformed Mailgun signature.signature (expected 64 hex digits)")

    expected = _signature_for(key, timestamp, token)
    parent = block.get("parent-signature")
    genuine = equal(presented.lower(), expected)
    if isinstance(parent, str) and _HEX_SHA256.fullmatch(parent):
        # Evaluated whatever ``genuine`` is, so timing says nothing about which one matched.
        genuine = equal(parent.lower(), expected) | genuine
    if not genuine:
        raise AuthenticationFailed(403, "the Mailgun signature does not match the configured signing key")

    _check_freshness(float(timestamp), request.now)
    return token


def _signature_for(key: str, timestamp: str, token: str) -> str:
    """The hex HMAC-SHA256 Mailgun sends for ``timestamp`` and ``token``."""
    message = (timestamp + token).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _signature_block(request: WebhookRequest) -> dict[str, Any]:
    try:
        document = bounded_json.loads(request.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        legacy = _legacy_form(request)
        if legacy is not None:
            return legacy
        raise AuthenticationFailed(401, "no Mailgun signature: the body is not JSON") from None
    if not isinstance(document, dict):
        raise AuthenticationFailed(401, "no Mailgun signature: the body is not a JSON object")
    block = document.get("signature")
    if not isinstance(block, dict):
        raise AuthenticationFailed(401, "no Mailgun signature: the body has no signature object")
    return block


_SIGNED_FIELDS = ("timestamp", "token", "signature")


def _legacy_form(request: WebhookRequest) -> dict[str, Any] | None:
    """timestamp, token and signature of a legacy (form) webhook, or None if it is not one.

    A form is recognized by its content, as a body with all three fields, since the
    Content-Type is never trusted to say what a body is; multipart bodies need the header's
    boundary to be read at all. A field sent twice is ambiguous and refused.
    """
    fields: dict[str, list[str]] = {}
    if request.content_type == "multipart/form-data":
        fields = _multipart_fields(request)
    else:
        try:
            fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return None
    if not all(name in fields for name in _SIGNED_FIELDS):
        return None
    for name in _SIGNED_FIELDS:
        if len(fields[name]) != 1:
            raise AuthenticationFailed(403, f"malformed Mailgun {name}: the form sends it {len(fields[name])} times")
    return {name: fields[name][0].strip() for name in _SIGNED_FIELDS}


def _multipart_fields(request: WebhookRequest) -> dict[str, list[str]]:
    """The text fields of a multipart/form-data body that name one of _SIGNED_FIELDS."""
    header = request.header("content-type") or ""
    envelope = BytesParser().parsebytes(
        b"Content-Type: " + header.encode("latin-1", "replace") + b"\r\n\r\n" + request.body)
    if not envelope.is_multipart():
        return {}
    fields: dict[str, list[str]] = {}
    for part in envelope.get_payload():
        name = part.get_param("name", header="content-disposition")
        if name not in _SIGNED_FIELDS:
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            fields.setdefault(name, []).append(payload.decode("utf-8").strip())
        except UnicodeDecodeError:
            continue
    return fields


def _credential(block: dict[str, Any], name: str) -> str:
    value = block.get(name)
    # Mailgun documents the timestamp as an int and sends it as a string; both sign the
    # same digits. A float or bool would not survive str() as Mailgun wrote it.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        raise AuthenticationFailed(401, f"no Mailgun signature: signature.{name} is missing")
    if not isinstance(value, str):
        raise AuthenticationFailed(403, f"malformed Mailgun signature.{name}: not a string")
    return value


def _check_freshness(timestamp: float, now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("request.now must be timezone-aware")
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)  # 11 digits: before year 5200
    if signed_at > now + MAX_FUTURE_SKEW:
        raise AuthenticationFailed(
            403, f"the Mailgun signature timestamp {signed_at:%Y-%m-%dT%H:%M:%SZ} is in the future"
        )
    if signed_at < now - MAX_AGE:
        raise AuthenticationFailed(
            403,
            f"the Mailgun signature timestamp {signed_at:%Y-%m-%dT%H:%M:%SZ} is older than "
            f"{MAX_AGE.total_seconds() / 3600:g} hours",
        )
