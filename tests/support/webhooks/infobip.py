"""Test-side Infobip sender: the headers Infobip puts on a hook POST. Imports nothing from tracker.

Infobip signs nothing on a per-message notifyUrl/trackingUrl; a Subscriptions API
subscription with BASIC security sends HTTP Basic credentials (provider-formats §3.3).
So "signing" here is setting Content-Type and, when a secret is given, Authorization.
"""
from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "infobip"

# An Infobip source's secret: the BASIC subscription's "username:password" (the password
# may contain colons).
EXAMPLE_SECRET = "infobip-hooks:s3cret:with-colon"


def signed_request(
    body: bytes,
    secret: str | None,
    *,
    content_type: str = "application/json",
    now: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body to POST (unchanged: nothing is signed in it) and Infobip's headers.

    ``secret`` None gives a request without credentials, as a plain notifyUrl sends it.
    ``now`` is accepted for the common signer interface; Infobip sends no timestamp.
    """
    headers = {"Content-Type": content_type}
    if secret is not None:
        token = base64.b64encode(secret.encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return body, headers


def fixture(name: str) -> bytes:
    """A recorded payload, e.g. fixture("dlr/delivered.json")."""
    return (FIXTURES / name).read_bytes()
