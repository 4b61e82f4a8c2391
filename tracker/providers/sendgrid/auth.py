"""SendGrid Signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body. Pure.

provider-formats.md §6.1: SendGrid signs ``X-Twilio-Email-Event-Webhook-Timestamp``'s value
followed by the raw request body bytes, with no separator, and sends the base64 DER ECDSA
signature in ``X-Twilio-Email-Event-Webhook-Signature``.

The secret (a source's configured value) is the verification key exactly as SendGrid's
Mail Settings show it: base64 of the DER SubjectPublicKeyInfo of a P-256 key ("MFkwEw...").
A PEM "-----BEGIN PUBLIC KEY-----" block is accepted too. It is a public key: knowing it
lets nobody sign. With no key configured (secret None) the check is skipped and the
request accepted: signing is optional in SendGrid ("verify when a verification key is
configured"), and the receiver's secret path token still guards the URL.

Freshness [A]: SendGrid documents no replay window, and retries a failing POST for up to
24 hours, so a timestamp up to 24 hours old is accepted (a tighter window could refuse a
genuine retry if the timestamp is kept across retries, which SendGrid does not say). More
than 5 minutes in the future is refused as clock skew beyond reason.

Replay: there is no per-request token; authenticate() returns None. A replayed batch
within the window is harmless because every event is deduplicated on ``sg_event_id``.
OAuth 2.0, which SendGrid can add on top, is not checked here.

Errors (AuthenticationFailed):

    401   a signature or timestamp header is missing
    403   the signature is garbled or does not verify, the timestamp is not unix seconds
          or outside the window

A configured key that is no P-256 public key is the operator's mistake, not the sender's:
ValueError, which the receiver answers 503 (logged) so that SendGrid keeps retrying until
the source is fixed, whatever the request carries.
"""
from __future__ import annotations

import base64
import binascii
import functools
from datetime import datetime, timedelta, UTC

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

__all__ = [
    "MAX_AGE",
    "MAX_FUTURE_SKEW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "authenticate",
    "load_verification_key",
]

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = timedelta(hours=24)
MAX_FUTURE_SKEW = timedelta(minutes=5)


def authenticate(request: WebhookRequest, secret: str | None) -> str | None:
    """Verify a signed Event Webhook POST; raise AuthenticationFailed (ValueError for an
    unusable configured key) or return None."""
    if secret is None:
        return None
    try:
        key = load_verification_key(secret)
    except ValueError as exc:
        raise ValueError(f"the configured SendGrid verification key is unusable: {exc}") from None
    signature_b64 = (request.header(SIGNATURE_HEADER) or "").strip()
    timestamp = (request.header(TIMESTAMP_HEADER) or "").strip()
    if not signature_b64 or not timestamp:
        missing = [h for h, v in ((SIGNATURE_HEADER, signature_b64), (TIMESTAMP_HEADER, timestamp)) if not v]
        raise AuthenticationFailed(401, f"SendGrid signature required: missing {' and '.join(missing)}")

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        # binascii.Error, or the plain ValueError b64decode raises for text that is not ASCII:
        # a garbled signature is the sender's, and must not pass for an unusable configured key.
        raise AuthenticationFailed(403, f"{SIGNATURE_HEADER} is not base64") from None
    if not timestamp.isascii() or not timestamp.isdigit():
        raise AuthenticationFailed(403, f"{TIMESTAMP_HEADER} is not unix seconds: {timestamp[:40]!r}")

    # The header value exactly as received is what SendGrid signed, not a re-formatted number.
    signed = timestamp.encode("ascii") + request.body
    try:
        key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthenticationFailed(403, "the SendGrid signature does not match the body and timestamp") from None

    # Checked after the signature, so "stale" is only ever said of a genuine request.
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise AuthenticationFailed(403, f"{TIMESTAMP_HEADER} is out of range: {timestamp[:40]!r}") from None
    if request.now - signed_at > MAX_AGE:
        raise AuthenticationFailed(403, f"the SendGrid signature is stale (signed at {signed_at.isoformat()})")
    if signed_at - request.now > MAX_FUTURE_SKEW:
        raise AuthenticationFailed(403, f"the SendGrid timestamp is in the future ({signed_at.isoformat()})")
    return None


@functools.lru_cache(maxsize=64)
def load_verification_key(secret: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key in a configured secret (base64 DER SubjectPublicKeyInfo or PEM).

    Raises ValueError, saying what is wrong, so that a source can be checked when it is
    configured rather than on its first webhook.
    """
    text = secret.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64 (expected the key shown in SendGrid's Mail Settings)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a DER/PEM SubjectPublicKeyInfo public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key
