"""Test-side Mailgun signer: re-signs a webhook body the way Mailgun does.

Written from provider-formats.md §6.2 and Mailgun's "Securing Webhooks" page, importing
nothing from tracker/, so a bug in the production verifier cannot be mirrored here. The
signature lives in the body: ``signature.signature`` is the hex HMAC-SHA256, keyed with
the HTTP webhook signing key, of ``signature.timestamp`` followed directly by
``signature.token``. Each call makes a fresh token, as Mailgun does for every request.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
import secrets
from datetime import datetime, UTC

__all__ = ["EXAMPLE_SECRET", "FIXTURES", "fixture", "sign", "signed_request"]

# The "HTTP webhook signing key" of the example account; the recorded fixtures in
# tests/fixtures/mailgun are signed with it (delivered-subaccount.json: as the parent).
EXAMPLE_SECRET = "key-example-mailgun-webhook-signing-0123456789"
# The subaccount's own key in delivered-subaccount.json.
SUBACCOUNT_SECRET = "key-example-subaccount-signing-9876543210"

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "mailgun"


def fixture(name: str) -> bytes:
    """The recorded body tests/fixtures/mailgun/<name>, as bytes."""
    return (FIXTURES / name).read_bytes()


def sign(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of ``timestamp`` and ``token`` under ``key``."""
    return hmac.new(key.encode("utf-8"), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signed_request(
    body: bytes,
    secret: str,
    *,
    content_type: str = "application/json",
    now: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body to POST, re-signed with a fresh timestamp and token, and its headers.

    ``body`` must be a JSON object (Mailgun can only sign inside one); any signature block
    it already has is replaced (a ``parent-signature`` is dropped: it would not match).
    """
    document = json.loads(body.decode("utf-8"))
    if not isinstance(document, dict):
        raise ValueError("Mailgun signs inside a JSON object body; this body is not one")
    moment = now or datetime.now(UTC)
    timestamp = str(int(moment.timestamp()))
    token = secrets.token_hex(25)  # 50 characters, like Mailgun's
    document["signature"] = {"timestamp": timestamp, "token": token, "signature": sign(secret, timestamp, token)}
    return json.dumps(document, ensure_ascii=False).encode("utf-8"), {"Content-Type": content_type}
