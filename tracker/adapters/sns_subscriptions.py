"""Confirming an SNS subscription: the one place the tracker calls AWS on a message's behalf."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Protocol

from tracker.adapters.sns_certificates import Opener, urllib_opener
from tracker.providers.ses.auth import SignatureError, validate_subscribe_url
from tracker.providers.ses.envelope import Envelope


class ConfirmationFailed(Exception):
    """AWS could not be reached or refused; the inbox row is retried, then kept as failed."""


class SubscriptionConfirmer(Protocol):
    def confirm(self, envelope: Envelope) -> str | None:
        """Confirm the subscription; the SubscriptionArn AWS answered, if it said one."""


class HttpSubscriptionConfirmer:
    """Confirms by GETting the signed, host-checked SubscribeURL, as AWS documents."""

    def __init__(self, opener: Opener = urllib_opener, timeout: float = 10.0) -> None:
        self._open = opener
        self._timeout = timeout

    def confirm(self, envelope: Envelope) -> str | None:
        url = envelope.subscribe_url or ""
        try:
            validate_subscribe_url(url)
        except SignatureError as error:
            raise ValueError(f"SubscribeURL refused: {error}") from None
        try:
            body = self._open(url, self._timeout)
        except Exception as error:  # any network failure is worth a retry
            raise ConfirmationFailed(f"GET SubscribeURL failed: {error}") from error
        return subscription_arn(body)


def subscription_arn(body: bytes) -> str | None:
    """The SubscriptionArn in a ConfirmSubscriptionResponse, if the body is one."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "SubscriptionArn":
            return (element.text or "").strip() or None
    return None
