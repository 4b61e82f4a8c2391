"""Per provider: its test signer, a recorded bounce, a forgery and a payload no parser can read.

Shared by the receiver tests and the end-to-end tests so each provider is exercised the
same way.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Provider:
    name: str
    bounce_fixture: str  # a recorded payload whose single delivery ends BOUNCED
    content_type: str
    wrong_secret: Callable[[], str]  # a secret of the right format that is not the source's
    garbage: bytes  # authenticates, but can never be processed
    unprocessable_status: int = 400
    unknown_fixture: str | None = None  # a recorded event type the tracker has no mapping for
    one_time_token: bool = False

    @property
    def signer(self):
        return importlib.import_module(f"tests.support.webhooks.{self.name}")

    @property
    def secret(self) -> str:
        return self.signer.EXAMPLE_SECRET

    def signed(self, body: bytes, secret: str | None = None, **kwargs) -> tuple[bytes, dict[str, str]]:
        return self.signer.signed_request(body, self.secret if secret is None else secret,
                                          content_type=self.content_type, **kwargs)

    def fixture(self, name: str) -> bytes:
        return self.signer.fixture(name)


def _sendgrid_other_key() -> str:
    from tests.support.webhooks import sendgrid

    return sendgrid.new_secret()


PROVIDERS = [
    Provider("infobip", "dlr/undeliverable-permanent.json", "application/json",
             lambda: "infobip-hooks:wrong-password", b"this is not a delivery report"),
    Provider("sendcloud", "json/invalid_email.json", "application/json", lambda: "not_the_appkey",
             json.dumps({"apiUser": "x"}).encode(), unprocessable_status=200,
             unknown_fixture="json/unknown-event.json", one_time_token=True),
    Provider("sendgrid", "bounce.json", "application/json", _sendgrid_other_key, b'{"not": "an array"}',
             unknown_fixture="account-status-change.json"),
    Provider("mailgun", "failed-permanent.json", "application/json", lambda: "key-wrong-signing-key",
             json.dumps({"event-data": "nothing"}).encode(), unprocessable_status=406,
             unknown_fixture="unknown-event.json", one_time_token=True),
    Provider("postmark", "bounce-hard.json", "application/json", lambda: "postmark-hooks:wrong",
             b"not json", unknown_fixture="unknown-record-type.json"),
]
