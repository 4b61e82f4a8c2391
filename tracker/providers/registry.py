"""Which providers push webhooks, and where each one's parser and authenticity check live."""
from __future__ import annotations

import importlib
from datetime import datetime
from typing import Callable

from tracker.domain import NormalizedEvent

WEBHOOK_PROVIDERS = ("infobip", "sendcloud", "sendgrid", "mailgun", "postmark")

# The status to answer for an authenticated payload that can never be processed (it is
# stored all the same, and fails in the worker with the same reason, kept for replay).
# Mailgun stops retrying only on 406. SendCloud retries anything but a 200, each time with
# a fresh token (so a new body, which the inbox cannot dedupe): it hears 200, with the
# error in the body. For the others a 400 says what was wrong, and their retries are
# harmless (the inbox dedupes the identical body).
UNPROCESSABLE_STATUS = {"mailgun": 406, "sendcloud": 200}

Parser = Callable[..., list[NormalizedEvent]]


def parser(provider: str) -> Parser:
    """``parse(body: bytes, content_type: str, *, received_at: datetime)`` of a webhook provider."""
    return _module(provider, "parse").parse


def authenticator(provider: str):
    """``authenticate(request: WebhookRequest, secret: str | None) -> str | None`` of a provider."""
    return _module(provider, "auth").authenticate


def _module(provider: str, part: str):
    """A provider's ``parse`` or ``auth`` module: each provider is one folder, tracker/providers/<name>/."""
    if provider not in WEBHOOK_PROVIDERS:
        raise KeyError(provider)
    return importlib.import_module(f"tracker.providers.{provider}.{part}")


def parse_webhook(provider: str, body: bytes, content_type: str, received_at: datetime) -> list[NormalizedEvent]:
    return parser(provider)(body, content_type, received_at=received_at)
