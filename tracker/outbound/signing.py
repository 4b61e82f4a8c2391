"""The signature on every outbound webhook, and how a subscriber checks it. Pure.

Each POST carries two headers:

    X-Tracker-Timestamp: 1718000000
    X-Tracker-Signature: v1=<hex HMAC-SHA256(secret, b"1718000000." + body)>

Signing the timestamp with the body lets a receiver refuse replays of an old request. The
signature header may hold several comma-separated ``v1=`` values (one per secret while a
secret is being rotated); a receiver accepts the request if any of them matches.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

TIMESTAMP_HEADER = "X-Tracker-Timestamp"
SIGNATURE_HEADER = "X-Tracker-Signature"
VERSION = "v1"
DEFAULT_TOLERANCE = 300  # seconds either side of now; the README promises receivers five minutes
SECRET_PREFIX = "whsec_"
# After a rotation the replaced secret signs too, by default for a day: time for receivers to
# deploy the new one. At most three days: a secret rotated because it leaked should not live long.
PREVIOUS_SECRET_HOURS = 24
MAX_PREVIOUS_SECRET_HOURS = 72

# Pasted into the README for receivers and executed verbatim by the tests, so it cannot drift
# from signature_headers. Keep it stdlib only and at most ten lines.
RECIPE = '''\
import hashlib, hmac, time

def verify(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
    """The X-Tracker-Timestamp and X-Tracker-Signature headers as received; True if genuine."""
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > 300:
        return False  # not a number, or over 5 minutes off: a replayed request (or a bad clock)
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    expected = ("v1=" + mac.hexdigest()).encode()
    return any(hmac.compare_digest(expected, v.strip().encode()) for v in signature.split(","))
'''


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """One ``v1=<hex>`` value; join several with "," to sign with old and new secrets at once."""
    return _signature(secret, body, str(timestamp))


def signature_headers(secret: str, body: bytes, timestamp: int, *, also: Sequence[str] = ()) -> dict[str, str]:
    """The timestamp and signature headers for one POST of ``body`` at ``timestamp`` (unix seconds).

    ``also``: secrets that sign too (the one a rotation replaced, while it is still valid),
    each adding a ``v1=`` value after the current secret's.
    """
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: ",".join(signature(key, body, timestamp) for key in (secret, *also)),
    }


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """True if ``headers`` sign ``body`` with ``secret`` at a time within ``tolerance`` of ``now``.

    Header names are matched case-insensitively. Every presented ``v1=`` value is compared in
    constant time, so rotating secrets (two values in one header) works.
    """
    timestamp = _header(headers, TIMESTAMP_HEADER)
    presented = _header(headers, SIGNATURE_HEADER)
    if timestamp is None or presented is None:
        return False
    # isdigit alone accepts "²", which int() refuses; a signed timestamp is plain ASCII digits.
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    # The header's own text is signed (as the recipe does), not a re-formatted number.
    expected = _signature(secret, body, timestamp).encode()
    # Bytes, not str: compare_digest raises on non-ASCII text, and the header is the sender's
    # choice. Every value is compared (no early exit) so timing tells nothing about which matched.
    matches = [hmac.compare_digest(expected, value.strip().encode()) for value in presented.split(",")]
    return any(matches)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _signature(secret: str, body: bytes, timestamp: str) -> str:
    signed = timestamp.encode() + b"." + body
    return f"{VERSION}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
