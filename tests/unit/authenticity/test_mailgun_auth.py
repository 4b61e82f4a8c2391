"""Mailgun webhook authenticity: what is accepted, what is refused, with which status."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, UTC

import pytest

from tests.support.webhooks.mailgun import (
    EXAMPLE_SECRET,
    FIXTURES,
    SUBACCOUNT_SECRET,
    fixture,
    signed_request,
)
from tracker.providers.mailgun.auth import MAX_AGE, MAX_FUTURE_SKEW, authenticate
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

RECORDED = sorted(path.name for path in FIXTURES.glob("*.json"))
DELIVERED_TOKEN = "8a1b2c3d4e5f60718293a4b5c6d7e8f9011223344556677889"
DELIVERED_SIGNED_AT = datetime(2026, 2, 3, 19, 26, 41, tzinfo=UTC)  # 1770146801


def request(body: bytes, now: datetime, content_type: str = "application/json") -> WebhookRequest:
    headers = {"content-type": content_type}
    return WebhookRequest(body=body, headers=headers, content_type=content_type, now=now)


def signed_at(body: bytes) -> datetime:
    return datetime.fromtimestamp(int(json.loads(body)["signature"]["timestamp"]), tz=UTC)


def delivered(**signature_changes) -> bytes:
    """The recorded delivered.json with its signature block changed (None removes a field)."""
    document = json.loads(fixture("delivered.json"))
    for name, value in signature_changes.items():
        if value is None:
            document["signature"].pop(name, None)
        else:
            document["signature"][name] = value
    return json.dumps(document).encode("utf-8")


def refused(
    body: bytes, secret: str | None = EXAMPLE_SECRET, now: datetime = DELIVERED_SIGNED_AT
) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(request(body, now), secret)
    return caught.value


def independent_signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


# --- genuine requests -----------------------------------------------------------------------

@pytest.mark.parametrize("name", RECORDED)
def test_every_recorded_body_is_genuine_and_returns_its_token(name):
    body = fixture(name)
    token = json.loads(body)["signature"]["token"]
    assert authenticate(request(body, signed_at(body) + timedelta(minutes=1)), EXAMPLE_SECRET) == token


def test_the_content_type_does_not_matter():
    webhook = request(fixture("delivered.json"), DELIVERED_SIGNED_AT, "text/plain")
    assert authenticate(webhook, EXAMPLE_SECRET) == DELIVERED_TOKEN


def test_a_subaccount_event_verifies_with_the_subaccount_key_or_the_parent_key():
    body = fixture("delivered-subaccount.json")
    now = signed_at(body)
    assert authenticate(request(body, now), SUBACCOUNT_SECRET)  # signature
    assert authenticate(request(body, now), EXAMPLE_SECRET)  # parent-signature
    assert refused(body, "key-some-other-account", now).status == 403


def test_the_test_signer_produces_requests_that_pass():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    body, headers = signed_request(fixture("opened.json"), EXAMPLE_SECRET, now=now)
    assert headers == {"Content-Type": "application/json"}
    block = json.loads(body)["signature"]
    assert block["timestamp"] == str(int(now.timestamp()))
    assert len(block["token"]) == 50
    assert authenticate(request(body, now), EXAMPLE_SECRET) == block["token"]
    again, _ = signed_request(fixture("opened.json"), EXAMPLE_SECRET, now=now)
    assert json.loads(again)["signature"]["token"] != block["token"]  # fresh token per request


def test_a_timestamp_sent_as_a_json_number_signs_the_same_digits():
    timestamp, token = 1770146801, "n" * 50
    signature = independent_signature(EXAMPLE_SECRET, str(timestamp), token)
    body = delivered(timestamp=timestamp, token=token, signature=signature)
    assert authenticate(request(body, DELIVERED_SIGNED_AT), EXAMPLE_SECRET) == token


def test_upper_case_hex_and_a_padded_secret_are_accepted():
    body = delivered(signature="4EF226C9CDA43CA55F2029D52287AC9719B10E16C1B632B866B8E399717E2F41")
    assert authenticate(request(body, DELIVERED_SIGNED_AT), f"  {EXAMPLE_SECRET}\n") == DELIVERED_TOKEN


# --- legacy (form) webhooks: checked the same way, so the receiver can answer 406 ------------

LEGACY_SIGNED_AT = datetime(2026, 2, 3, 19, 26, 41, tzinfo=UTC)  # legacy-delivered.form
MULTIPART_SIGNED_AT = datetime(2026, 2, 3, 19, 38, 20, tzinfo=UTC)  # legacy-bounced.multipart
MULTIPART = "multipart/form-data; boundary=legacy-example-boundary-7f3a"


def form_request(body: bytes, content_type: str, now: datetime) -> WebhookRequest:
    media_type = content_type.split(";")[0]
    return WebhookRequest(body=body, headers={"content-type": content_type}, content_type=media_type, now=now)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_a_genuine_legacy_form_post_is_authentic_and_returns_its_token(content_type):
    webhook = form_request(fixture("legacy-delivered.form"), content_type, LEGACY_SIGNED_AT)
    assert authenticate(webhook, EXAMPLE_SECRET) == DELIVERED_TOKEN


def test_a_genuine_legacy_multipart_post_is_authentic_and_returns_its_token():
    webhook = form_request(fixture("legacy-bounced.multipart"), MULTIPART, MULTIPART_SIGNED_AT)
    assert authenticate(webhook, EXAMPLE_SECRET) == "5e7d9c1b3a2f4e6d8c0b1a3f5e7d9c2b4a6f8e0d1c3b5a7f9e"


@pytest.mark.parametrize(
    ("name", "content_type", "now"),
    [
        ("legacy-delivered.form", "application/x-www-form-urlencoded", LEGACY_SIGNED_AT),
        ("legacy-bounced.multipart", MULTIPART, MULTIPART_SIGNED_AT),
    ],
)
def test_a_legacy_post_under_another_key_is_403(name, content_type, now):
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(form_request(fixture(name), content_type, now), "key-some-other-account")
    assert caught.value.status == 403


def test_a_legacy_form_naming_a_signed_field_twice_is_403():
    body = fixture("legacy-delivered.form").strip() + b"&token=" + b"x" * 50
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(form_request(body, "application/x-www-form-urlencoded", LEGACY_SIGNED_AT), EXAMPLE_SECRET)
    assert caught.value.status == 403
    assert "token" in caught.value.reason


def test_a_multipart_body_without_its_boundary_has_no_credentials():
    webhook = form_request(fixture("legacy-bounced.multipart"), "multipart/form-data", MULTIPART_SIGNED_AT)
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(webhook, EXAMPLE_SECRET)
    assert caught.value.status == 401


# --- no credentials: 401 --------------------------------------------------------------------

NO_CREDENTIALS = {
    "not json": b"event=delivered&token=abc",
    "not utf-8": b"\xff\xfe\x00{",
    "json array": b"[]",
    "no signature object": json.dumps({"event-data": {"event": "delivered"}}).encode(),
    "signature is a string": json.dumps({"signature": "4ef226c9", "event-data": {}}).encode(),
    "no timestamp": delivered(timestamp=None),
    "no token": delivered(token=None),
    "no signature": delivered(signature=None),
    "empty signature": delivered(signature=""),
}


@pytest.mark.parametrize("case", sorted(NO_CREDENTIALS))
def test_missing_credentials_are_401(case):
    failure = refused(NO_CREDENTIALS[case])
    assert failure.status == 401
    assert "no Mailgun signature" in failure.reason


# --- wrong, forged, malformed or stale: 403 -------------------------------------------------

@pytest.mark.parametrize("secret", [None, "", "   "])
def test_a_source_without_a_signing_key_is_a_configuration_error(secret):
    # ValueError: the receiver answers 503 (Mailgun retries) and stores nothing.
    with pytest.raises(ValueError, match="no signing key configured"):
        authenticate(request(fixture("delivered.json"), DELIVERED_SIGNED_AT), secret)


def test_the_wrong_key_is_403():
    failure = refused(fixture("delivered.json"), "key-a-different-signing-key")
    assert (failure.status, failure.reason) == (403, "the Mailgun signature does not match the configured signing key")


def test_the_api_key_in_place_of_the_signing_key_is_403():
    assert refused(fixture("delivered.json"), "key-3ax6xnjp29jd6fds4gc373sgvjxteol0").status == 403


TAMPERED = {
    "timestamp moved": {"timestamp": "1770146802"},
    "token changed": {"token": DELIVERED_TOKEN[:-1] + "0"},
    "signature changed": {"signature": "5ef226c9cda43ca55f2029d52287ac9719b10e16c1b632b866b8e399717e2f41"},
    "signature of another request": {"signature": "6fca1fc639706cb7fa87897baa09fcc46bff211cd4b2fa72a70385df3ec5ef89"},
    "parent-signature forged": {"signature": "0" * 64, "parent-signature": "1" * 64},
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_tampered_signed_field_is_403(case):
    failure = refused(delivered(**TAMPERED[case]))
    assert failure.status == 403
    assert "does not match" in failure.reason


MALFORMED = {
    "timestamp not digits": ({"timestamp": "yesterday"}, "malformed Mailgun signature.timestamp"),
    "timestamp negative": ({"timestamp": "-1770146801"}, "malformed Mailgun signature.timestamp"),
    "timestamp a JSON float": ({"timestamp": 1770146801.0}, "malformed Mailgun signature.timestamp: not a string"),
    "timestamp absurdly long": ({"timestamp": "9" * 40}, "malformed Mailgun signature.timestamp"),
    "token with spaces": ({"token": "a token with spaces"}, "malformed Mailgun signature.token"),
    "token too long": ({"token": "t" * 201}, "malformed Mailgun signature.token"),
    "token not text": ({"token": ["x"]}, "malformed Mailgun signature.token: not a string"),
    "signature not hex": ({"signature": "z" * 64}, "malformed Mailgun signature.signature"),
    "signature truncated": ({"signature": "4ef226c9cda43ca5"}, "malformed Mailgun signature.signature"),
    "signature base64": ({"signature": "TvImyc2kPKVfICnVIoesl xmwtjK4ZrjjmXF+L0E="},
                         "malformed Mailgun signature.signature"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_signature_block_is_403(case):
    changes, reason = MALFORMED[case]
    failure = refused(delivered(**changes))
    assert failure.status == 403
    assert reason in failure.reason


def test_a_correctly_signed_but_day_old_request_is_stale():
    failure = refused(fixture("delivered.json"), now=DELIVERED_SIGNED_AT + MAX_AGE + timedelta(seconds=1))
    assert failure.status == 403
    assert "older than 24 hours" in failure.reason


def test_mailgun_s_eight_hours_of_retries_fit_in_the_window():
    now = DELIVERED_SIGNED_AT + MAX_AGE - timedelta(seconds=1)
    assert authenticate(request(fixture("delivered.json"), now), EXAMPLE_SECRET) == DELIVERED_TOKEN


def test_a_request_from_the_future_is_refused_beyond_the_clock_skew():
    too_far_behind = DELIVERED_SIGNED_AT - MAX_FUTURE_SKEW - timedelta(seconds=1)
    failure = refused(fixture("delivered.json"), now=too_far_behind)
    assert failure.status == 403
    assert "in the future" in failure.reason
    slightly_ahead = DELIVERED_SIGNED_AT - MAX_FUTURE_SKEW + timedelta(seconds=1)
    assert authenticate(request(fixture("delivered.json"), slightly_ahead), EXAMPLE_SECRET) == DELIVERED_TOKEN


def test_a_forged_request_is_refused_as_forged_even_when_also_stale():
    failure = refused(delivered(signature="0" * 64), now=DELIVERED_SIGNED_AT + timedelta(days=30))
    assert "does not match" in failure.reason
