"""The Infobip parser's tests' shared helpers: recorded payloads under tests/fixtures/infobip, parsing, events."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, UTC

from tests.support import harness
from tracker.domain import NormalizedEvent
from tracker.providers.infobip.parse import parse

FIXTURES = harness.FIXTURES / "infobip"
RECEIVED = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def document(name: str) -> dict:
    return json.loads(fixture(name))


def events_of(payload: bytes | str | dict, content_type: str = "application/json",
              received_at: datetime = RECEIVED) -> list[NormalizedEvent]:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return parse(payload, content_type, received_at=received_at)


def utc(*parts: int, ms: int = 0) -> datetime:
    return datetime(*parts, ms * 1000, tzinfo=UTC)


def payload_digest(name: str) -> str:
    """The first 16 hex digits of sha256 over the payload as canonical JSON (sorted keys, no spaces,
    ASCII escapes): the key of a tracking event that carries no eventId."""
    canonical = json.dumps(document(name), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def infobip(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="infobip", **fields)
