"""The SES parser's tests' shared helpers: recorded payloads under tests/fixtures/ses, parsing, events."""
from __future__ import annotations

import json
from datetime import datetime, UTC

from tests.support import harness
from tracker.domain import NormalizedEvent
from tracker.providers.ses.parse import parse_message

FIXTURES = harness.FIXTURES / "ses"
FALLBACK = datetime(2030, 1, 1, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def document(name: str) -> dict:
    return json.loads(fixture(name))


def parse(payload: str | dict, fallback_time: datetime = FALLBACK) -> list[NormalizedEvent]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return parse_message(text, fallback_time=fallback_time)


def utc(*parts: int, ms: int = 0) -> datetime:
    return datetime(*parts, ms * 1000, tzinfo=UTC)


def ses(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="ses", **fields)
