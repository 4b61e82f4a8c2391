"""What a provider webhook's authenticity check sees and how it says no. Pure.

Each provider's auth module (tracker.providers.<provider>.auth: infobip, sendcloud, sendgrid, mailgun,
postmark) exposes ``authenticate(request: WebhookRequest, secret: str | None) -> str | None``:
it raises AuthenticationFailed, or returns a replay token (a value the provider promises
never to reuse, such as Mailgun's or SendCloud's ``token``) that the receiver refuses to
accept twice, or None when the scheme has none.

Errors:

    AuthenticationFailed(status=401)   no credentials where some are required
    AuthenticationFailed(status=403)   credentials present but wrong, forged or stale

A 401 for missing HTTP Basic credentials carries its challenge (``challenge``, the
WWW-Authenticate value a 401 must have, RFC 7235 3.1): a sender whose HTTP client sends the
webhook URL's user-info only once challenged (SNS documents that it does, provider-formats
1.5; Postmark and Infobip do not say) would otherwise never send it.
"""
from __future__ import annotations

import base64
import dataclasses
import hmac
from datetime import datetime
from collections.abc import Mapping


# What a 401 for missing Basic credentials asks for (RFC 7617: the credentials are UTF-8).
BASIC_CHALLENGE = 'Basic realm="tracker", charset="UTF-8"'


class AuthenticationFailed(Exception):
    def __init__(self, status: int, reason: str, challenge: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.challenge = challenge  # the WWW-Authenticate value a 401 carries, if its scheme has one


@dataclasses.dataclass(frozen=True)
class WebhookRequest:
    """A received webhook, as its authenticity check needs it."""

    body: bytes
    headers: Mapping[str, str]  # keys lower-cased
    content_type: str  # the media type alone, lower-cased ("application/json")
    now: datetime  # aware; for freshness windows

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def basic_credentials(encoded: str) -> str | None:
    """The ``user:password`` an HTTP Basic header's credentials encode, or None when they cannot be
    read (also for the APIs' Basic scheme, tracker.http.credentials)."""
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:
        # binascii.Error and UnicodeDecodeError, and the plain ValueError b64decode raises for
        # text that is not ASCII: the sender's credentials are unreadable, never our secret.
        return None


def require_basic_auth(request: WebhookRequest, expected: str) -> None:
    """Check HTTP Basic credentials against ``user:password``, in constant time."""
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise AuthenticationFailed(401, "HTTP Basic credentials are required for this source", BASIC_CHALLENGE)
    presented = basic_credentials(encoded)
    if presented is None:
        raise AuthenticationFailed(401, "the Basic credentials are not valid base64 user:password", BASIC_CHALLENGE)
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise AuthenticationFailed(403, "the Basic credentials are wrong")


def equal(presented: str, expected: str) -> bool:
    """Constant-time comparison of two signatures or secrets."""
    return hmac.compare_digest(presented.encode(), expected.encode())
