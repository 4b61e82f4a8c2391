"""Every provider the tracker takes events from: its name, its source's secret, where its code lives.

The one list of provider facts: the CLI (`tracker sources create`), the receivers, the
worker and the source checks (tracker.providers.source_checks) all read it here.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from datetime import datetime

from tracker.domain import NormalizedEvent
from tracker.providers.common.batch import Batch

SES = "ses"


@dataclasses.dataclass(frozen=True)
class Provider:
    """What the tracker knows of one provider beyond its parser and authenticity check."""

    name: str
    # What a source's secret is for this provider (None: its sources take none), and whether
    # it is required: a provider that can prove its sender needs one, or a source without
    # it would accept anyone.
    secret: str | None = None
    secret_required: bool = False
    # The status to answer for an authenticated payload that can never be processed (it is
    # stored all the same, and fails in the worker with the same reason, kept for replay).
    # Mailgun stops retrying only on 406. SendCloud retries anything but a 200, each time
    # with a fresh token (so a new body, which the inbox cannot dedupe): it hears 200, with
    # the error in the body. For the others a 400 says what was wrong, and their retries
    # are harmless (the inbox dedupes the identical body).
    # A batch with some readable elements is not that: its readable events are applied and
    # only its unreadable elements wait (on the stored body) for a fix and a replay, so every
    # provider hears 200 with them named in the body. A 400 would have SendGrid retry the
    # whole batch for 24 h (provider-formats §6.1: any non-2xx), each retry deduplicated into
    # nothing, and tell it the endpoint fails when it took thousands of events.
    unprocessable_status: int = 400
    # Whether the provider checks a hook URL before it saves it, expecting a 200 to a GET or to a
    # POST with no push in it. SendCloud does: "我们会对用户提供的 URL 做检测. 需要此 HTTP 服务能够正确响应
    # get | post 请求, 并且保证返回的 HTTP 状态码 为 200" (its WebHook guide, sendcloud2013/sendcloud_docs
    # guide/advance.md, and its TRY IT -> WebHook page; not in provider-formats §4.1).
    checks_url: bool = False


# SES comes through SNS (signed envelopes, over HTTPS or an SQS queue); the others push webhooks.
PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in (
    Provider(SES),
    Provider("infobip", "optional: 'user:password' for HTTP Basic auth on the notify URL"),
    Provider("sendcloud", "the APP KEY that signs webhooks", True, unprocessable_status=200, checks_url=True),
    Provider("sendgrid", "optional: the Event Webhook verification key (base64 DER or PEM public key)"),
    Provider("mailgun", "the HTTP webhook signing key", True, unprocessable_status=406),
    Provider("postmark", "'user:password' for the HTTP Basic auth in the webhook URL", True),
)}
NAMES = tuple(PROVIDERS)
WEBHOOK_PROVIDERS = tuple(name for name in PROVIDERS if name != SES)
# What --secret is for each webhook provider, and whether it is required.
SECRETS = {name: (PROVIDERS[name].secret, PROVIDERS[name].secret_required) for name in WEBHOOK_PROVIDERS}
URL_CHECKERS = tuple(name for name, p in PROVIDERS.items() if p.checks_url)
UNPROCESSABLE_STATUS = {name: p.unprocessable_status for name, p in PROVIDERS.items() if p.unprocessable_status != 400}

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
    """A webhook body through its provider's parser: the normalized events it holds, all or nothing."""
    return parser(provider)(body, content_type, received_at=received_at)


def read_webhook(provider: str, body: bytes, content_type: str, received_at: datetime) -> Batch:
    """A webhook body through its provider's parser, element by element where the provider batches
    (its module's ``read``: the events of the readable elements and the unreadable ones); as one
    where it does not. PayloadError for a body that can never be processed as a whole."""
    module = _module(provider, "parse")
    if hasattr(module, "read"):
        return module.read(body, content_type, received_at=received_at)
    return Batch.single(module.parse(body, content_type, received_at=received_at))
