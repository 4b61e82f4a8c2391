"""Whether an inbound source's configuration can work, asked of the receivers' own checks.

What each provider's secret is comes from tracker.providers.registry.

A source is refused when it is made (or its secret rotated) rather than on its first event:
a secret the provider's authenticity check could never use (tracker.providers.<provider>.auth
raises ValueError for it, which the receiver answers with 503 forever) and a TopicArn that
can never equal an SNS message's are found here, by the same code. Pure.
"""
from __future__ import annotations

import re
from datetime import datetime, UTC

from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest
from tracker.providers import registry
from tracker.providers.registry import SECRETS, SES

# arn:<partition>:sns:<region>:<12-digit account>:<topic>, as SNS writes TopicArn (a FIFO
# topic's name ends in .fifo); "*" accepts any topic.
_TOPIC_ARN = re.compile(r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}"
                        r"(\.fifo)?")
# An unsigned request: it proves nothing, so a usable secret makes the check refuse it
# (AuthenticationFailed); only an unusable one makes the check itself fail (ValueError).
_PROBE = WebhookRequest(body=b"{}", headers={}, content_type="application/json",
                        now=datetime(2000, 1, 1, tzinfo=UTC))


def secret_problem(provider: str, secret: str | None) -> str | None:
    """Why ``secret`` cannot serve a ``provider`` source, or None if it can."""
    if provider == SES:
        return None if secret is None else ("SES sources take no secret: SNS signs every message and the "
                                            "topic is checked (--topic-arn)")
    what, required = SECRETS[provider]
    if secret is None:
        return f"{provider} sources need a secret: {what}" if required else None
    if not secret.strip() or secret != secret.strip():
        return f"the secret is blank or has white space around it; {provider}: {what}"
    try:
        registry.authenticator(provider)(_PROBE, secret)
    except ValueError as unusable:
        return f"{unusable} ({provider}: {what})"
    except AuthenticationFailed:
        pass  # the secret was used and the unsigned probe refused: as it should be
    return None


def topic_arn_problem(topic_arn: str) -> str | None:
    """Why an SES source could never accept ``topic_arn`` (SNS's TopicArn), or None."""
    if topic_arn == "*" or _TOPIC_ARN.fullmatch(topic_arn):
        return None
    return (f"{topic_arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<12-digit account>:<topic>), "
            "nor '*' for any topic")
