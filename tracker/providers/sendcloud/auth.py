"""SendCloud webhook authenticity: HMAC-SHA256 over timestamp + token, a one-time token. Pure.

provider-formats.md §4.1 [D]: every push carries, among its form or JSON fields,
``timestamp``, ``token`` (a fresh 50-character random string) and ``signature`` =
lowercase hex HMAC-SHA256(key = the account's APP KEY, msg = str(timestamp) + token), no
separator. The source's secret is that **APP KEY**, verbatim, as the SendCloud console
shows it (the console's test tool signs with ``test_appkey``).

The HMAC covers neither the body nor the hook URL, so a captured (timestamp, token,
signature) triple is a bearer credential. Two things bound it:

- the token is returned as the replay token; the receiver refuses a token it has seen,
  so each triple is good for one request. SendCloud draws a new token for every push, a
  retry included, so no genuine push is refused for it;
- the timestamp must be fresh: no older than 24 hours and no more than 5 minutes ahead of
  ``request.now``. SendCloud retries for about 31 minutes (EN doc: 1+2+4+8+16 min) or a
  few hours (CN doc); 24 hours leaves room for both and for a queue in front of the
  receiver, and it is how long the receiver must remember tokens. Its unit (seconds or
  milliseconds) is undocumented [U]; a value above 10**11 is milliseconds (10**11 s is
  the year 5138). The HMAC uses the text verbatim, so the unit only matters here.

A source without an APP KEY is refused: SendCloud can sign, so the tracker requires it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, UTC
from urllib.parse import parse_qs

from tracker.providers.common import bounded_json
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest, equal

MAX_AGE = timedelta(hours=24)
MAX_AHEAD = timedelta(minutes=5)
# The receiver stores replay tokens in a 200-character column; SendCloud's are 50.
MAX_TOKEN_LENGTH = 200

_SIGNED = ("timestamp", "token", "signature")
_MILLISECONDS_ABOVE = 10**11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def authenticate(request: WebhookRequest, secret: str | None) -> str | None:
    """Check a push's signature and freshness; return its token (the replay token).

    ``secret`` is the APP KEY. Raises AuthenticationFailed: 401 when timestamp, token or
    signature is missing, 403 when no APP KEY is configured or the push is forged,
    malformed or stale.
    """
    if not secret:
        raise AuthenticationFailed(403, "no app key configured for this SendCloud source")
    timestamp, token, signature = _signed_fields(request)
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthenticationFailed(403, f"token is {len(token)} characters long, over {MAX_TOKEN_LENGTH}")
    expected = hmac.new(secret.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256)
    # Lowercase per the docs; an upper-case hex digest names the same bytes.
    if not equal(signature.lower(), expected.hexdigest()):
        raise AuthenticationFailed(403, "signature does not match HMAC-SHA256(app key, timestamp + token)")
    _require_fresh(timestamp, request.now)
    return token


def _signed_fields(request: WebhookRequest) -> tuple[str, str, str]:
    """(timestamp, token, signature) as text, from a JSON object or a form body."""
    fields = _fields(request)
    missing = [name for name in _SIGNED if not fields.get(name)]
    if missing:
        raise AuthenticationFailed(401, f"SendCloud push without {', '.join(missing)}: it is not signed")
    values = []
    for name in _SIGNED:
        presented = fields[name]
        if len(presented) != 1:
            # Which copy would the HMAC have covered? Refuse rather than guess.
            raise AuthenticationFailed(403, f"{name} appears {len(presented)} times")
        value = presented[0]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise AuthenticationFailed(403, f"{name} must be text, got {value!r}")
        values.append(str(value))
    timestamp, token, signature = values
    return timestamp, token, signature


def _fields(request: WebhookRequest) -> dict[str, list[object]]:
    """The body's fields, each name -> its non-empty values; {} when the body has none.

    The body decides its encoding, as in the parser (tracker.providers.sendcloud.facts.decode):
    a JSON object starts with "{" and a form cannot. Trusting the Content-Type instead would
    refuse, as unsigned, a signed form that a relay labelled application/json, a push the
    parser reads without complaint.
    """
    try:
        text = request.body.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        return {}
    if text.startswith("{"):
        try:
            document = bounded_json.loads(text)
        except json.JSONDecodeError:
            return {}
        if not isinstance(document, dict):
            return {}
        return {name: [value] for name, value in document.items() if value not in (None, "")}
    try:
        return parse_qs(text, errors="strict")  # blank values are dropped: they are missing
    except UnicodeDecodeError:
        return {}


def _require_fresh(timestamp: str, now: datetime) -> None:
    try:
        number = int(timestamp.strip())
    except ValueError:
        raise AuthenticationFailed(403, f"timestamp is not a whole number: {timestamp!r}") from None
    try:
        seconds = number / 1000 if abs(number) > _MILLISECONDS_ABOVE else number
        signed_at = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise AuthenticationFailed(403, f"timestamp out of range: {timestamp!r}") from None
    if signed_at < now - MAX_AGE:
        raise AuthenticationFailed(403, f"timestamp {timestamp} is older than {MAX_AGE}: stale or replayed")
    if signed_at > now + MAX_AHEAD:
        raise AuthenticationFailed(403, f"timestamp {timestamp} is more than {MAX_AHEAD} in the future")
