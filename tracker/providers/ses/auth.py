"""Amazon SNS message signatures: certificate URL rules, the string to sign, verification.

Pure: no network and no file I/O. Certificates come from an injected `CertificateStore`
(see tracker.adapters.sns_certificates for the real ones).

There is deliberately no certificate-chain validation. Trust in a certificate comes from
where it was obtained: over HTTPS (with normal TLS verification) from an SNS host that
passes `validate_cert_url`, or from a directory the operator filled by hand. A chain
check would add nothing to the first and would break the second.

Errors:

    SignatureError           the message is forged, unsigned or unverifiable -> 403
    CertificateUnavailable   the certificate could not be fetched right now  -> 503, SNS retries
"""
from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, UTC
from typing import Any, Protocol
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "SNS_HOST",
    "CertificateStore",
    "CertificateUnavailable",
    "SignatureError",
    "string_to_sign",
    "validate_cert_url",
    "validate_subscribe_url",
    "verify",
]


class SignatureError(Exception):
    """The message is forged, unsigned or cannot be verified; str() is the reason."""


class CertificateUnavailable(Exception):
    """The signing certificate could not be obtained for a transient reason."""


class CertificateStore(Protocol):
    """Where `verify` gets certificates; may raise CertificateUnavailable or SignatureError."""

    def get(self, url: str) -> x509.Certificate: ...


# The host rule used by AWS's own validators (PHP, JS, Ruby). It covers commercial
# regions, GovCloud and China. Arbitrary *.amazonaws.com hosts are NOT acceptable: S3
# buckets live there, so anyone could host a "certificate" under them.
SNS_HOST = re.compile(r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$")

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

# Keys in the string to sign, in AWS's (byte-sorted) order; False marks an optional key.
# Everything else in the envelope (UnsubscribeURL, MessageAttributes, ...) is unsigned.
_CONFIRMATION_KEYS = (
    ("Message", True),
    ("MessageId", True),
    ("SubscribeURL", True),
    ("Timestamp", True),
    ("Token", True),
    ("TopicArn", True),
    ("Type", True),
)
_SIGNED_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "Notification": (
        ("Message", True),
        ("MessageId", True),
        ("Subject", False),
        ("Timestamp", True),
        ("TopicArn", True),
        ("Type", True),
    ),
    "SubscriptionConfirmation": _CONFIRMATION_KEYS,
    "UnsubscribeConfirmation": _CONFIRMATION_KEYS,
}


def validate_cert_url(url: str) -> None:
    """Raise SignatureError unless `url` is an https .pem URL on an SNS host."""
    parts = _split_sns_url(url, "SigningCertURL")
    # A query or fragment could make "ends with .pem" true of a URL that serves
    # something else (https://sns.../x?f=.pem), so neither is allowed at all.
    if "?" in url or "#" in url:
        raise SignatureError("SigningCertURL must not have a query string or fragment.")
    if not parts.path.endswith(".pem"):
        raise SignatureError("SigningCertURL must point to a .pem file.")


def validate_subscribe_url(url: str) -> None:
    """Raise SignatureError unless `url` is an https URL on an SNS host (SSRF guard)."""
    _split_sns_url(url, "SubscribeURL")


def _split_sns_url(url: Any, what: str) -> SplitResult:
    """Split `url`, enforcing the rules shared by certificate and subscribe URLs."""
    if not isinstance(url, str) or not url:
        raise SignatureError(f"{what} is missing.")
    # urlsplit silently drops tabs and newlines and other parsers treat backslashes as
    # slashes; refusing such URLs outright leaves no room for parser disagreements.
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        raise SignatureError(f"{what} contains characters not allowed in a URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SignatureError(f"{what} is not a valid URL.") from None
    if parts.scheme != "https":
        raise SignatureError(f"{what} must use https.")
    if "@" in parts.netloc:
        raise SignatureError(f"{what} must not contain user information.")
    if port not in (None, 443):
        raise SignatureError(f"{what} must not name a port other than 443.")
    if not SNS_HOST.fullmatch(parts.hostname or ""):
        raise SignatureError(f"{what} host {parts.hostname!r} is not an Amazon SNS host.")
    return parts


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    """Build the canonical bytes SNS signs for this envelope's Type."""
    message_type = envelope.get("Type")
    keys = _SIGNED_KEYS.get(message_type) if isinstance(message_type, str) else None
    if keys is None:
        raise SignatureError(f"Unknown SNS message Type {message_type!r}.")
    lines = []
    for key, required in keys:
        # null counts as absent, as in AWS's validators (Lambda records send "Subject": null).
        value = envelope.get(key)
        if value is None:
            if required:
                raise SignatureError(f"{message_type} is missing the signed field {key}.")
            continue
        if not isinstance(value, str):
            raise SignatureError(f"The signed field {key} is not a string.")
        lines.append(f"{key}\n{value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError:
        # json.loads accepts lone surrogates ("\ud800") that UTF-8 cannot encode.
        raise SignatureError("The message contains text that is not valid Unicode.") from None


def verify(envelope: Mapping[str, Any], certificates: CertificateStore) -> None:
    """Raise SignatureError unless `envelope` carries a valid SNS signature.

    Only the certificate store may do I/O, and it is asked only after every check that
    can be made on the message alone has passed (so junk never causes a fetch).
    CertificateUnavailable from the store is left to propagate.
    """
    version = envelope.get("SignatureVersion")
    if not isinstance(version, str) or version not in _HASHES:
        raise SignatureError(f'SignatureVersion must be "1" or "2", not {version!r}.')
    signature = _decode_signature(envelope.get("Signature"))
    # Lambda-delivered records spell it SigningCertUrl; HTTP and SQS use SigningCertURL.
    cert_url = envelope.get("SigningCertURL", envelope.get("SigningCertUrl"))
    validate_cert_url(cert_url)
    signed = string_to_sign(envelope)
    published_at = _parse_timestamp(envelope.get("Timestamp"))

    certificate = certificates.get(cert_url)

    # Judge validity at the message's own (signed) Timestamp, not at "now": AWS rotates
    # its certificates, and a genuine old message (a replay from an SQS backlog, a
    # re-drive) must still verify. Freshness is a separate policy for the receiver.
    if not certificate.not_valid_before_utc <= published_at <= certificate.not_valid_after_utc:
        raise SignatureError("The signing certificate was not valid at the message Timestamp.")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("The signing certificate does not hold an RSA key.")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), _HASHES[version]())
    except (InvalidSignature, ValueError):
        raise SignatureError("The signature does not match the message.") from None


def _decode_signature(value: Any) -> bytes:
    """Decode the base64 Signature field, refusing anything missing or malformed."""
    if not isinstance(value, str) or not value:
        raise SignatureError("Signature is missing.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature is not valid base64.") from None


def _parse_timestamp(value: Any) -> datetime:
    """Parse the ISO-8601 Timestamp (e.g. 2012-04-26T20:45:04.751Z) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise SignatureError("Timestamp is missing.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SignatureError(f"Timestamp {value!r} is not an ISO-8601 date and time.") from None
    if parsed.tzinfo is None:
        raise SignatureError(f"Timestamp {value!r} has no time zone.")
    return parsed.astimezone(UTC)
