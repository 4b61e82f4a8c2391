"""Test-side Postmark sender: requests the way Postmark makes them, built without tracker/.

Postmark signs nothing; it sends the HTTP Basic credentials written into the webhook URL
(``https://user:password@host/...``) as an ``Authorization: Basic base64(user:password)``
header, and the record as a JSON body. The body is posted unchanged.
"""
from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

__all__ = ["EXAMPLE_SECRET", "fixture", "signed_request"]

# The format tracker.providers.postmark.auth expects: the URL's "user:password".
EXAMPLE_SECRET = "postmark-hooks:Tr4cker-example-pa55:with-colon"

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmark"


def signed_request(
    body: bytes,
    secret: str,
    *,
    content_type: str = "application/json",
    now: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body to POST and its headers, as Postmark sends them for a URL holding ``secret``.

    ``now`` is accepted for symmetry with the other providers' signers and unused: nothing
    in a Postmark request depends on the time.
    """
    credentials = base64.b64encode(secret.encode("utf-8")).decode("ascii")
    headers = {"Content-Type": content_type, "Authorization": f"Basic {credentials}"}
    return body, headers


def fixture(name: str) -> bytes:
    """A recorded payload from tests/fixtures/postmark/, as bytes."""
    return (FIXTURES / name).read_bytes()
