"""SendGrid's own published samples (tests/fixtures/sendgrid/published/), verbatim, through the parser
and the signature check: each must say what SendGrid's documents say."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest
from tracker.providers.sendgrid.auth import authenticate
from tracker.providers.sendgrid.parse import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sendgrid"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)
REFERENCE_TIME = datetime.fromtimestamp(1513299569, UTC)


def events(name: str):
    return parse((FIXTURES / name).read_bytes(), "application/json", received_at=RECEIVED)


# Event Webhook Reference, one example per event (sendgrid/docs event.md): what each one is.
@pytest.mark.parametrize(("name", "type", "bounce_type"), [
    ("processed", EventType.SENT, None),
    ("dropped", EventType.REJECTED, None),
    ("delivered", EventType.DELIVERED, None),
    ("deferred", EventType.DELAYED, None),
    # "Receiving server could not or would not accept mail to this recipient permanently."
    ("bounce", EventType.BOUNCED, BounceType.PERMANENT),
    # "... would not accept the message temporarily", although its example says 5.0.0.
    ("blocked", EventType.BOUNCED, BounceType.TRANSIENT),
    ("open", EventType.OPENED, None),
    ("click", EventType.CLICKED, None),
    ("spamreport", EventType.COMPLAINED, None),
    ("unsubscribe", EventType.UNSUBSCRIBED, None),
    ("groupunsubscribe", EventType.UNSUBSCRIBED, None),
    ("groupresubscribe", EventType.UNMAPPED, None),
])
def test_each_reference_example_is_the_event_its_page_describes(name, type, bounce_type):
    [event] = events(f"published/reference-{name}.json")

    assert (event.type, event.bounce_type) == (type, bounce_type)
    # The message id before SendGrid's suffix (".filter0001...", even ".000000000000000000000").
    assert (event.message_id, event.recipient) == ("14c5d75ce93.dfd.64b469", "example@test.com")
    assert event.occurred_at == REFERENCE_TIME


def test_a_single_send_event_timestamped_in_milliseconds_is_read_as_milliseconds():
    # SendGrid's "Example event from a Single Send" carries "timestamp": 1591726752372, which
    # as seconds is the year 52409: the whole POST was refused as unprocessable (400, retried
    # by SendGrid for 24 hours, every other event of the batch failed with it).
    [event] = events("published/single-send-open.json")

    assert event.type is EventType.OPENED
    assert (event.message_id, event.recipient) == ("sendgrid_internal_message_id", "email@example.com")
    assert event.occurred_at == datetime(2020, 6, 9, 18, 19, 12, 372000, tzinfo=UTC)


@pytest.mark.parametrize("value", [1591726752372, "1591726752372", 1591726752372.0])
def test_milliseconds_in_any_json_form_are_the_same_moment(value):
    body = (b'[{"event":"open","email":"a@example.com","sg_event_id":"e1","sg_message_id":"m1",'
            b'"timestamp":' + (f'"{value}"' if isinstance(value, str) else repr(value)).encode() + b"}]")

    [event] = parse(body, "application/json", received_at=RECEIVED)

    assert event.occurred_at == datetime(2020, 6, 9, 18, 19, 12, 372000, tzinfo=UTC)


def test_seconds_are_still_seconds():
    body = b'[{"event":"open","email":"a@example.com","sg_event_id":"e1","timestamp":99999999999}]'

    [event] = parse(body, "application/json", received_at=RECEIVED)

    assert event.occurred_at == datetime.fromtimestamp(99999999999, UTC)


def test_the_documented_webhook_call_with_reserved_keys_is_a_processed_event():
    # "The resulting webhook call" of the reference's "Reserved Keys in Unique Arguments":
    # "event": "Processed" (capitalized) and "timestamp" as a string of seconds.
    [event] = events("published/reserved-keys-processed.json")

    assert event.type is EventType.SENT
    assert event.recipient == "john.doe@sendgrid.com"
    assert event.occurred_at == datetime.fromtimestamp(123456789, UTC)


# The test vector of SendGrid's own Python library (sendgrid-python test/unit/test_eventwebhook.py):
# a body signed by SendGrid's key, not by this suite's test signer.
SENDGRID_PYTHON_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw"
                       "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")
SENDGRID_PYTHON_SIGNATURE = ("MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15Tl"
                             "uLtEZtM=")
SENDGRID_PYTHON_TIMESTAMP = "1600112502"


def vector_request(body: bytes, *, seconds_later: int = 60, **headers: str) -> WebhookRequest:
    sent = {
        "x-twilio-email-event-webhook-signature": SENDGRID_PYTHON_SIGNATURE,
        "x-twilio-email-event-webhook-timestamp": SENDGRID_PYTHON_TIMESTAMP,
        **headers,
    }
    now = datetime.fromtimestamp(int(SENDGRID_PYTHON_TIMESTAMP), UTC) + timedelta(seconds=seconds_later)
    return WebhookRequest(body=body, headers=sent, content_type="application/json", now=now)


def test_a_body_signed_by_sendgrid_verifies_byte_for_byte_with_its_trailing_crlf():
    body = (FIXTURES / "published/signed-by-sendgrid-dropped.json").read_bytes()
    assert body.endswith(b"}]\r\n")

    assert authenticate(vector_request(body), SENDGRID_PYTHON_KEY) is None
    [event] = parse(body, "application/json", received_at=RECEIVED)
    assert (event.type, event.message_id) == (EventType.REJECTED, "LRzXl_NHStOGhQ4kofSm_A")

    for altered in (body.rstrip(b"\r\n"), body.replace(b"hello@", b"hallo@")):
        with pytest.raises(AuthenticationFailed) as caught:
            authenticate(vector_request(altered), SENDGRID_PYTHON_KEY)
        assert caught.value.status == 403
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(vector_request(body, seconds_later=25 * 3600), SENDGRID_PYTHON_KEY)
    assert caught.value.status == 403
