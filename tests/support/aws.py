"""A local AWS for the SES setup tests: moto's server, recorded answers where moto lacks an API, AWS's handshake.

- ``RecordedAws`` serves the operations moto does not implement (MOTO_LACKS) from response
  bodies recorded in tests/fixtures/aws (written from AWS's API reference), at the HTTP
  layer so botocore parses them as it parses AWS; every other call goes to moto. It also
  records every call any attached client made.
- ``AwsHandshake`` makes moto's SNS treat HTTPS subscriptions as AWS does. moto 5 confirms
  them on the spot (PendingConfirmation false, nothing POSTed); AWS leaves them pending and
  POSTs a signed SubscriptionConfirmation that the endpoint confirms by GETting its
  SubscribeURL. Here the confirmation is signed by the suite's test CA and handed to the
  test (which posts it to the tracker), and the tracker's GET of the SubscribeURL lands in
  ``opener``, which confirms the subscription in moto as AWS's ConfirmSubscription would.
"""
from __future__ import annotations

import collections
import copy
import secrets
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import requests
from botocore.awsrequest import AWSResponse

from tests.support.harness import FIXTURES
from tests.support.sns_signing import SnsTestPki, subscription_confirmation

AWS_FIXTURES = FIXTURES / "aws"

# (service, operation) moto 5.2.5 does not answer as AWS does; see tests/fixtures/aws/README.md.
MOTO_LACKS = frozenset({
    ("sesv2", "GetConfigurationSetEventDestinations"),
    ("sesv2", "CreateConfigurationSetEventDestination"),
    ("sesv2", "UpdateConfigurationSetEventDestination"),
    ("ses", "GetIdentityNotificationAttributes"),  # moto leaves the topics out of its answer
    ("ses", "SetIdentityHeadersInNotificationsEnabled"),
})
_CONTENT_TYPES = {"sesv2": "application/json", "ses": "text/xml"}


def reset_moto(endpoint_url: str) -> None:
    """Forget every resource moto holds (its state is per process, shared by all its servers)."""
    requests.post(f"{endpoint_url}/moto-api/reset", timeout=10).raise_for_status()


class RecordedAws:
    """Recorded answers, used once each and in order, for the operations in MOTO_LACKS; a log of every call."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], collections.deque[tuple[int, dict, bytes]]] = \
            collections.defaultdict(collections.deque)
        self.calls: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def answer(self, service: str, operation: str, fixture: str | None = None, status: int = 200,
               headers: dict | None = None) -> None:
        """Queue the next answer to ``operation``: a recorded body (a file under tests/fixtures/aws) or empty."""
        if (service, operation) not in MOTO_LACKS:
            raise ValueError(f"{service} {operation} is answered by moto; record only what moto lacks")
        body = (AWS_FIXTURES / fixture).read_bytes() if fixture else b""
        self._answers[(service, operation)].append((status, headers or {}, body))

    def unused(self) -> list[tuple[str, str]]:
        """Answers queued but never asked for: a call the test expected did not happen."""
        return [key for key, queue in self._answers.items() for _ in queue]

    def made(self, service: str, operation: str) -> list[dict]:
        """The parameters of each call of ``operation``, in order."""
        return [params for s, o, params in self.calls if (s, o) == (service, operation)]

    def operations(self) -> list[str]:
        return [operation for _, operation, _ in self.calls]

    def attach(self, client):
        service = client.meta.service_model.service_name
        client.meta.events.register("before-parameter-build", self._record(service))
        client.meta.events.register_first("before-send", self._send(service))
        return client

    def _record(self, service: str):
        def record(params, model, **kwargs):
            with self._lock:
                self.calls.append((service, model.name, copy.deepcopy(params)))
        return record

    def _send(self, service: str):
        def send(request, event_name, **kwargs):
            operation = event_name.rsplit(".", 1)[-1]
            if (service, operation) not in MOTO_LACKS:
                return None  # moto answers
            with self._lock:
                queue = self._answers.get((service, operation))
                if not queue:
                    raise AssertionError(f"unexpected call: {service} {operation} (no recorded answer queued)")
                status, headers, body = queue.popleft()
            return AWSResponse(request.url, status, {"Content-Type": _CONTENT_TYPES[service],
                                                     "x-amzn-RequestId": secrets.token_hex(8), **headers}, _Body(body))
        return send


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **kwargs):
        yield self._content


class AwsHandshake:
    """AWS's HTTPS subscription handshake around moto's SNS (see the module docstring)."""

    def __init__(self, pki: SnsTestPki) -> None:
        self.pki = pki
        self.deliver: Callable[[str, dict], None] = lambda endpoint, envelope: None  # the test sets it
        self._pending: dict[str, object] = {}  # token -> moto's Subscription
        self.sent = 0  # SubscriptionConfirmations handed to deliver

    def install(self, monkeypatch) -> None:
        from moto.sns.models import SNSBackend

        original = SNSBackend.subscribe
        handshake = self

        def subscribe(backend, topic_arn, endpoint, protocol):
            known = backend._find_subscription(topic_arn, endpoint, protocol)
            subscription = original(backend, topic_arn, endpoint, protocol)
            if protocol == "https" and (known is None or handshake.is_pending(subscription)):
                # New, or still pending: AWS (re)sends the confirmation and keeps it pending.
                handshake.mark_pending(subscription)
                token = secrets.token_hex(64)
                handshake._pending[token] = subscription
                handshake.sent += 1
                handshake.deliver(endpoint, handshake.pki.sign(subscription_confirmation(topic_arn=topic_arn,
                                                                                        token=token)))
            return subscription

        monkeypatch.setattr(SNSBackend, "subscribe", subscribe)

    @staticmethod
    def is_pending(subscription) -> bool:
        return str(subscription.attributes.get("PendingConfirmation")).lower() == "true"

    @staticmethod
    def mark_pending(subscription) -> None:
        subscription.attributes["PendingConfirmation"] = True
        subscription.confirmed = False

    def opener(self, url: str, timeout: float) -> bytes:
        """AWS's answer to the GET of a SubscribeURL: ConfirmSubscription."""
        token = parse_qs(urlsplit(url).query)["Token"][0]
        subscription = self._pending.pop(token)
        subscription.attributes["PendingConfirmation"] = False
        subscription.confirmed = True
        return ('<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<ConfirmSubscriptionResult><SubscriptionArn>{subscription.arn}</SubscriptionArn>"
                "</ConfirmSubscriptionResult>"
                "<ResponseMetadata><RequestId>0d3f8e6c-0000-4000-8000-000000000001</RequestId></ResponseMetadata>"
                "</ConfirmSubscriptionResponse>").encode()


def moto_subscription(endpoint: str):
    """moto's own record of the HTTPS subscription of ``endpoint`` (to stage what AWS could show)."""
    from moto.sns.models import sns_backends

    for account in sns_backends.values():
        for backend in account.values():
            for subscription in backend.subscriptions.values():
                if subscription.endpoint == endpoint:
                    return subscription
    raise LookupError(endpoint)
