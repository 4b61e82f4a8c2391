"""SendGrid Signed Event Webhook: what is accepted, what is refused, and with which status."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, UTC

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.webhooks.sendgrid import (
    EXAMPLE_SECRET,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    fixture,
    new_secret,
    sign,
    signed_request,
)
from tracker.providers.sendgrid.auth import authenticate, load_verification_key
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

SIGNED_AT = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
BODY = fixture("batch.json")


def request(body: bytes, headers: dict[str, str], now: datetime = SIGNED_AT) -> WebhookRequest:
    """What the receiver hands authenticate(): header names lower-cased, the media type alone."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return WebhookRequest(body=body, headers=lowered, content_type="application/json", now=now)


def signed(body: bytes = BODY, secret: str = EXAMPLE_SECRET, *, signed_at: datetime = SIGNED_AT):
    return signed_request(body, secret, now=signed_at)


def refused(req: WebhookRequest, secret: str = EXAMPLE_SECRET) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(req, secret)
    return caught.value


def pem(secret: str) -> str:
    der = base64.b64decode(secret)
    key = serialization.load_der_public_key(der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# -- genuine requests ------------------------------------------------------------------


def test_a_signed_batch_is_accepted_and_has_no_replay_token():
    body, headers = signed()

    assert authenticate(request(body, headers), EXAMPLE_SECRET) is None


def test_the_key_may_be_configured_as_pem():
    body, headers = signed()

    assert authenticate(request(body, headers), pem(EXAMPLE_SECRET)) is None


def test_the_key_may_be_pasted_with_surrounding_or_wrapped_whitespace():
    body, headers = signed()
    wrapped = "\n  " + EXAMPLE_SECRET[:40] + "\n" + EXAMPLE_SECRET[40:] + "  \n"

    assert authenticate(request(body, headers), wrapped) is None


def test_example_secret_is_a_p256_verification_key_as_sendgrid_shows_it():
    key = load_verification_key(EXAMPLE_SECRET)

    assert isinstance(key.curve, ec.SECP256R1)
    assert EXAMPLE_SECRET.startswith("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")  # P-256 SPKI prefix


def test_without_a_configured_key_nothing_is_checked():
    assert authenticate(request(BODY, {}), None) is None


def test_another_secret_signs_and_verifies_on_its_own():
    other = new_secret()
    body, headers = signed(secret=other)

    assert authenticate(request(body, headers), other) is None


# SendGrid's own known-answer vector, the one every official SendGrid library tests its
# verifier with (sendgrid-python, -nodejs, -java, -go, -ruby, -csharp "eventwebhook" tests):
# a key pair SendGrid made, signing a body SendGrid serialized. It is the only check here
# that does not go through our own test signer, so it proves the verifier interoperates.
SENDGRID_VECTOR_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7"
    "yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
)
SENDGRID_VECTOR_SIGNATURE = (
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
)
SENDGRID_VECTOR_TIMESTAMP = "1588788367"
SENDGRID_VECTOR_BODY = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'
SENDGRID_VECTOR_RECEIVED = datetime.fromtimestamp(1588788367 + 30, tz=UTC)


def vector_request(body: bytes = SENDGRID_VECTOR_BODY, timestamp: str = SENDGRID_VECTOR_TIMESTAMP,
                   signature: str = SENDGRID_VECTOR_SIGNATURE) -> WebhookRequest:
    headers = {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: timestamp}
    return request(body, headers, now=SENDGRID_VECTOR_RECEIVED)


def test_sendgrid_s_published_test_vector_verifies():
    assert authenticate(vector_request(), SENDGRID_VECTOR_KEY) is None


@pytest.mark.parametrize(
    "changed",
    [
        {"body": b'{"category":"example_payload","event":"test_event","message_id":"message_id"} '},
        {"timestamp": "1588788368"},
        {"signature": SENDGRID_VECTOR_SIGNATURE.replace("NH2j", "NH3j")},  # SendGrid's failing signature
    ],
)
def test_sendgrid_s_published_test_vector_with_anything_changed_is_403(changed):
    assert refused(vector_request(**changed), SENDGRID_VECTOR_KEY).status == 403


# -- missing credentials: 401 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "named"),
    [
        ((SIGNATURE_HEADER,), [SIGNATURE_HEADER]),
        ((TIMESTAMP_HEADER,), [TIMESTAMP_HEADER]),
        ((SIGNATURE_HEADER, TIMESTAMP_HEADER), [SIGNATURE_HEADER, TIMESTAMP_HEADER]),
    ],
)
def test_a_missing_signature_header_is_401(dropped, named):
    body, headers = signed()
    for name in dropped:
        del headers[name]

    failure = refused(request(body, headers))

    assert failure.status == 401
    assert all(name in failure.reason for name in named)


@pytest.mark.parametrize("header", [SIGNATURE_HEADER, TIMESTAMP_HEADER])
def test_an_empty_signature_header_is_401(header):
    body, headers = signed()
    headers[header] = "  "

    assert refused(request(body, headers)).status == 401


# -- wrong, forged or tampered: 403 ------------------------------------------------------


def test_a_request_signed_with_another_key_is_403():
    body, headers = signed(secret=new_secret())

    failure = refused(request(body, headers))

    assert failure.status == 403
    assert "does not match" in failure.reason


def test_a_tampered_body_is_403():
    body, headers = signed()
    tampered = body.replace(b'"event":"bounce"', b'"event":"delivered"')
    assert tampered != body

    assert refused(request(tampered, headers)).status == 403


def test_a_reformatted_body_is_403_because_the_raw_bytes_are_signed():
    body, headers = signed()

    assert refused(request(body + b"\n", headers)).status == 403


def test_a_tampered_timestamp_is_403():
    body, headers = signed()
    headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)

    assert refused(request(body, headers)).status == 403


def test_a_signature_moved_to_another_body_is_403():
    _, headers = signed()
    other_body, _ = signed(fixture("processed.json"))

    assert refused(request(other_body, headers)).status == 403


@settings(max_examples=25, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(BODY) - 1), flip=st.integers(1, 255))
def test_any_changed_byte_of_the_body_is_403(position, flip):
    body, headers = signed()
    changed = bytearray(body)
    changed[position] ^= flip

    assert refused(request(bytes(changed), headers)).status == 403


@pytest.mark.parametrize(
    "signature",
    [
        "not base64!",
        "MEUCIQ",  # truncated base64
        base64.b64encode(b"not a DER signature").decode(),
        base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(),  # DER (r=1, s=1), never valid
    ],
)
def test_a_garbled_signature_is_403(signature):
    body, headers = signed()
    headers[SIGNATURE_HEADER] = signature

    assert refused(request(body, headers)).status == 403


@pytest.mark.parametrize("timestamp", ["2024-05-01T10:00:30Z", "1714557630.5", "-1714557630", "0x66321296", "１７１４"])
def test_a_timestamp_that_is_not_unix_seconds_is_403(timestamp):
    body, headers = signed()
    headers[TIMESTAMP_HEADER] = timestamp
    headers[SIGNATURE_HEADER] = sign(timestamp, body) if timestamp.isascii() else headers[SIGNATURE_HEADER]

    failure = refused(request(body, headers))

    assert failure.status == 403
    assert "unix seconds" in failure.reason


# -- freshness: up to 24 h old (SendGrid's retry period), up to 5 min ahead ---------------


@pytest.mark.parametrize(
    "received_after",
    [timedelta(0), timedelta(hours=23, minutes=59), timedelta(hours=24), timedelta(minutes=-5)],
)
def test_a_genuine_request_within_the_window_is_accepted(received_after):
    body, headers = signed()

    assert authenticate(request(body, headers, now=SIGNED_AT + received_after), EXAMPLE_SECRET) is None


def test_a_request_signed_more_than_24_hours_ago_is_403():
    body, headers = signed()

    failure = refused(request(body, headers, now=SIGNED_AT + timedelta(hours=24, seconds=1)))

    assert failure.status == 403
    assert "stale" in failure.reason


def test_a_request_signed_more_than_5_minutes_in_the_future_is_403():
    body, headers = signed()

    failure = refused(request(body, headers, now=SIGNED_AT - timedelta(minutes=5, seconds=1)))

    assert failure.status == 403
    assert "future" in failure.reason


def test_an_absurd_timestamp_is_403_not_a_crash():
    body = BODY
    timestamp = "9" * 30
    headers = {SIGNATURE_HEADER: sign(timestamp, body), TIMESTAMP_HEADER: timestamp}

    assert refused(request(body, headers)).status == 403


# -- the configured key ------------------------------------------------------------------


def rsa_secret() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def p384_secret() -> str:
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        ("user:password", "not base64"),
        (base64.b64encode(b"not a key").decode(), "not a DER/PEM SubjectPublicKeyInfo"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a DER/PEM SubjectPublicKeyInfo"),
        (rsa_secret(), "not an ECDSA P-256"),
        (p384_secret(), "not an ECDSA P-256"),
    ],
)
def test_an_unusable_configured_key_is_a_configuration_error_for_every_request(secret, complaint):
    # ValueError: the receiver answers 503 so that SendGrid retries until the key is fixed.
    body, headers = signed()

    with pytest.raises(ValueError, match=complaint):
        load_verification_key(secret)
    for req in (request(body, headers), request(body, {})):
        with pytest.raises(ValueError, match="configured SendGrid verification key is unusable: " + complaint):
            authenticate(req, secret)
