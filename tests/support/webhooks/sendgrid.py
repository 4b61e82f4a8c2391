"""A fake SendGrid for tests: a P-256 key pair and requests signed the way SendGrid signs them.

Built from provider-formats.md §6.1 alone and importing nothing from tracker/, so a bug in
the production verifier cannot be mirrored here: SendGrid signs the bytes of the
X-Twilio-Email-Event-Webhook-Timestamp value followed by the raw body with ECDSA P-256 /
SHA-256 and sends the DER signature base64-encoded; the verification key a user pastes
into the tracker is base64 DER SubjectPublicKeyInfo.

    body, headers = signed_request(fixture("batch.json"), EXAMPLE_SECRET)
"""
from __future__ import annotations

import base64
import pathlib
from datetime import datetime, UTC

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "EXAMPLE_SECRET",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "fixture",
    "new_secret",
    "sign",
    "signed_request",
]

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "sendgrid"

# Private keys by the secret (base64 DER public key) they answer to. The example key is
# derived from a fixed scalar so EXAMPLE_SECRET is the same string in every run (a test
# configuration can name it); it is a test key and signs nothing real.
_PRIVATE_KEYS: dict[str, ec.EllipticCurvePrivateKey] = {}


def _register(private_key: ec.EllipticCurvePrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = base64.b64encode(der).decode("ascii")
    _PRIVATE_KEYS[secret] = private_key
    return secret


EXAMPLE_SECRET: str = _register(
    ec.derive_private_key(0x5E4D6121D0C0FFEE_0DDBA11_5CA1AB1E_FEEDFACE, ec.SECP256R1())
)


def new_secret() -> str:
    """A fresh key pair; returns its verification key (a secret signed_request can sign for)."""
    return _register(ec.generate_private_key(ec.SECP256R1()))


def sign(timestamp: str, body: bytes, secret: str = EXAMPLE_SECRET) -> str:
    """base64 DER ECDSA-P256-SHA256 signature of ``timestamp`` + ``body``, as SendGrid sends it."""
    try:
        private_key = _PRIVATE_KEYS[secret.strip()]
    except KeyError:
        raise ValueError(
            "no private key for this verification key: use EXAMPLE_SECRET or new_secret()"
        ) from None
    der = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def signed_request(
    body: bytes,
    secret: str,
    *,
    content_type: str = "application/json",
    now: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body to POST (unchanged: SendGrid's signature lives in headers) and its headers."""
    when = now if now is not None else datetime.now(UTC)
    timestamp = str(int(when.timestamp()))
    return body, {
        "Content-Type": content_type,
        SIGNATURE_HEADER: sign(timestamp, body, secret),
        TIMESTAMP_HEADER: timestamp,
    }


def fixture(name: str) -> bytes:
    """The recorded payload tests/fixtures/sendgrid/<name>, as bytes."""
    return (FIXTURES / name).read_bytes()
