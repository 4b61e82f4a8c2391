"""Sign SendCloud pushes the way SendCloud does (provider-formats.md §4.1), for tests.

Imports nothing from tracker/: the signature is built here from the doc, so a bug in the
production verifier cannot be mirrored and hidden. SendCloud signs inside the body: its
``timestamp``, ``token`` and ``signature`` fields, with signature = lowercase hex
HMAC-SHA256(key = APP KEY, msg = timestamp + token). signed_request() therefore rewrites
the body with a fresh timestamp and token, keeping every other field and the encoding.

Note that ``timestamp`` is also the event's time for the parser, so a re-signed fixture's
events happen at ``now``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
from datetime import datetime, UTC
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

__all__ = ["EXAMPLE_SECRET", "FORM", "JSON", "fixture", "sign", "signed_request"]

# The APP KEY SendCloud's own "TRY IT -> WebHook" tool signs its mock pushes with; the
# recorded fixtures are signed with it too.
EXAMPLE_SECRET = "test_appkey"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sendcloud"
_TOKEN_ALPHABET = string.ascii_letters + string.digits


def fixture(name: str) -> bytes:
    """The bytes of tests/fixtures/sendcloud/<name> (e.g. "form/deliver.txt")."""
    return (FIXTURES / name).read_bytes()


def sign(timestamp: str, token: str, secret: str) -> str:
    """SendCloud's signature: lowercase hex HMAC-SHA256(APP KEY, timestamp + token)."""
    return hmac.new(secret.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signed_request(
    body: bytes,
    secret: str,
    *,
    content_type: str | None = None,
    now: datetime | None = None,
    token: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """(body to POST, headers): the push re-signed with a fresh timestamp and token.

    The body keeps its encoding (a JSON object, or a form); ``content_type`` defaults to
    the one that encoding implies. The timestamp keeps the unit the body had (milliseconds
    when it had none). ``token`` defaults to a fresh 50-character random string, as
    SendCloud sends; pass one to build a replay.
    """
    now = now or datetime.now(UTC)
    token = token or "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(50))
    is_json = body.lstrip().startswith(b"{")
    if is_json:
        document = json.loads(body)
        timestamp = _timestamp(document.get("timestamp"), now)
        document.update(timestamp=int(timestamp), token=token, signature=sign(timestamp, token, secret))
        new_body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    else:
        pairs = parse_qsl(body.decode("utf-8").strip(), keep_blank_values=True)
        old = next((value for name, value in pairs if name == "timestamp"), None)
        timestamp = _timestamp(old, now)
        fresh = {"timestamp": timestamp, "token": token, "signature": sign(timestamp, token, secret)}
        kept = [(name, value) for name, value in pairs if name not in fresh]
        new_body = urlencode([*kept, *fresh.items()]).encode("ascii")
    headers = {"Content-Type": content_type or (JSON if is_json else FORM)}
    return new_body, headers


def _timestamp(old: object, now: datetime) -> str:
    seconds = now.timestamp()
    in_seconds = old is not None and str(old).strip().isdigit() and int(str(old)) <= 10**11
    return str(int(seconds)) if in_seconds else str(int(seconds * 1000))
