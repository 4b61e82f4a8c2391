"""tracker.providers.sendcloud.auth: HMAC-SHA256(APP KEY, timestamp + token), fresh, one-time."""
import json
from datetime import datetime, timedelta, UTC
from urllib.parse import urlencode

import pytest

from tests.support.webhooks.sendcloud import EXAMPLE_SECRET, FIXTURES, fixture, sign, signed_request
from tracker.providers.sendcloud.auth import authenticate
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = "1717243200000"  # NOW in epoch milliseconds
TOKEN = "Mn5Qw8Ec2Rt6Yu1Io4Pa9Sd3Fg7Hj0Kl5Zx8Cv2Bn6Mq1We4Ra"


def request(body: bytes, content_type: str = FORM, now: datetime = NOW) -> WebhookRequest:
    return WebhookRequest(body=body, headers={"content-type": content_type}, content_type=content_type, now=now)


def push(secret: str = EXAMPLE_SECRET, timestamp: str = NOW_MS, token: str = TOKEN, **fields) -> bytes:
    """A signed form push; fields given as None are left out."""
    values = {"event": "deliver", "emailId": "m-10$a@example.com", "timestamp": timestamp,
              "token": token, "signature": sign(timestamp, token, secret), **fields}
    return urlencode({name: value for name, value in values.items() if value is not None}).encode()


def refused(req: WebhookRequest, secret: str | None = EXAMPLE_SECRET) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(req, secret)
    return caught.value


# --- genuine pushes pass and yield their token --------------------------------------------


def test_a_known_answer_vector_computed_with_openssl_passes():
    # printf '%s%s' 1717236002456 Mn5Q…4Ra | openssl dgst -sha256 -hmac test_appkey
    body = urlencode({
        "event": "deliver",
        "timestamp": "1717236002456",
        "token": TOKEN,
        "signature": "f8991d56b6b12d3e2d33d1a8965d92bfa1bbcbef8281db6f6bba5c2eef4dfbaa",
    }).encode()

    assert authenticate(request(body), "test_appkey") == TOKEN


RECORDED = sorted(
    path.relative_to(FIXTURES).as_posix()
    for path in FIXTURES.rglob("*")
    if path.is_file() and path.name != "README.md"
)


@pytest.mark.parametrize("name", RECORDED)
def test_every_recorded_push_is_genuine_and_its_token_is_the_replay_token(name):
    body = fixture(name)
    content_type = JSON if name.endswith(".json") else FORM

    token = authenticate(request(body, content_type), EXAMPLE_SECRET)

    assert token is not None and len(token) == 50
    assert token.encode() in body


@pytest.mark.parametrize("name", ["form/deliver.txt", "json/delivered.json"])
def test_a_push_signed_now_passes_and_each_push_has_its_own_token(name):
    first, headers = signed_request(fixture(name), EXAMPLE_SECRET, now=NOW)
    second, _ = signed_request(fixture(name), EXAMPLE_SECRET, now=NOW)

    one = authenticate(request(first, headers["Content-Type"]), EXAMPLE_SECRET)
    two = authenticate(request(second, headers["Content-Type"]), EXAMPLE_SECRET)

    assert one and two and one != two


def test_a_json_push_labelled_as_a_form_still_authenticates():
    body, _ = signed_request(fixture("json/delivered.json"), EXAMPLE_SECRET, now=NOW, token=TOKEN)

    assert authenticate(request(body, FORM), EXAMPLE_SECRET) == TOKEN


@pytest.mark.parametrize("name", ["form/deliver.txt", "form/request.txt"])
def test_a_form_push_labelled_as_json_still_authenticates(name):
    # The parser reads a form whatever its label (SendCloud's docs disagree on the encoding
    # and relays relabel bodies); refusing it here as unsigned would lose a genuine push.
    body = fixture(name)

    assert authenticate(request(body, JSON), EXAMPLE_SECRET) == authenticate(request(body), EXAMPLE_SECRET)


def test_an_upper_case_hex_signature_names_the_same_digest():
    body = push(signature=sign(NOW_MS, TOKEN, EXAMPLE_SECRET).upper())

    assert authenticate(request(body), EXAMPLE_SECRET) == TOKEN


def test_the_body_is_not_signed_so_the_one_time_token_is_what_stops_reuse():
    # A captured (timestamp, token, signature) triple verifies with any body; the receiver
    # refuses the returned token a second time, so the triple is good for one request.
    tampered = push(event="invalid", emailId="m-11$victim@example.com")

    assert authenticate(request(tampered), EXAMPLE_SECRET) == TOKEN


# --- no credentials: 401 ------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["timestamp", "token", "signature"])
def test_a_push_without_a_signed_field_is_unauthenticated(missing):
    failure = refused(request(push(**{missing: None})))

    assert failure.status == 401
    assert missing in failure.reason


@pytest.mark.parametrize("missing", ["timestamp", "token", "signature"])
def test_a_json_push_with_an_empty_signed_field_is_unauthenticated(missing):
    document = {"event": "deliver", "timestamp": int(NOW_MS), "token": TOKEN,
                "signature": sign(NOW_MS, TOKEN, EXAMPLE_SECRET)}
    document[missing] = ""

    assert refused(request(json.dumps(document).encode(), JSON)).status == 401


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe", b"not a form", b'{"timestamp": 1', b"[1, 2]", b"event=deliver&emailId=%FF"],
)
def test_a_body_without_readable_credentials_is_unauthenticated(body):
    assert refused(request(body)).status == 401


# --- wrong, forged, malformed: 403 --------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""])
def test_a_source_without_an_app_key_refuses_everything(secret):
    failure = refused(request(push()), secret)

    assert failure.status == 403
    assert "no app key configured" in failure.reason


def test_a_push_signed_with_another_app_key_is_forged():
    failure = refused(request(push(secret="someone_elses_key")))

    assert failure.status == 403
    assert "signature does not match" in failure.reason


@pytest.mark.parametrize(
    "tampered",
    [
        {"timestamp": str(int(NOW_MS) + 1)},  # the signed timestamp changed
        {"token": TOKEN[:-1] + "b"},  # the signed token changed
        {"signature": "0" * 64},
        {"signature": "not-hex"},
        {"signature": sign(NOW_MS, TOKEN, EXAMPLE_SECRET)[:-2]},  # truncated
    ],
)
def test_a_tampered_signed_field_is_forged(tampered):
    signature = sign(NOW_MS, TOKEN, EXAMPLE_SECRET)
    fields = {"signature": signature, **tampered}
    body = urlencode({"event": "deliver", "timestamp": NOW_MS, "token": TOKEN, **fields}).encode()

    assert refused(request(body)).status == 403


def test_a_signed_field_sent_twice_is_refused_rather_than_guessed():
    body = push() + b"&timestamp=" + str(int(NOW_MS) - 1000).encode()

    failure = refused(request(body))

    assert (failure.status, failure.reason) == (403, "timestamp appears 2 times")


@pytest.mark.parametrize("timestamp", [1717243200000.0, True, {"ms": 1}, [1]])
def test_a_json_timestamp_that_is_not_text_or_an_integer_is_malformed(timestamp):
    document = {"event": "deliver", "timestamp": timestamp, "token": TOKEN, "signature": "ab" * 32}

    assert refused(request(json.dumps(document).encode(), JSON)).status == 403


def test_a_correctly_signed_timestamp_that_is_not_a_number_is_malformed():
    failure = refused(request(push(timestamp="yesterday")))

    assert failure.status == 403
    assert "not a whole number" in failure.reason


def test_a_correctly_signed_token_too_long_to_remember_is_refused():
    long_token = "x" * 201

    failure = refused(request(push(token=long_token)))

    assert failure.status == 403
    assert "over 200" in failure.reason


# --- freshness ----------------------------------------------------------------------------


def at(moment: datetime, unit: str = "ms") -> str:
    seconds = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return str(seconds * 1000) if unit == "ms" else str(seconds)


@pytest.mark.parametrize("unit", ["ms", "s"])
@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (-timedelta(hours=24) + timedelta(seconds=1), True),  # SendCloud's last retry, and then some
        (-timedelta(hours=24) - timedelta(seconds=1), False),  # stale: a replay window we do not allow
        (timedelta(minutes=5) - timedelta(seconds=1), True),  # a sender clock slightly ahead
        (timedelta(minutes=5) + timedelta(seconds=1), False),  # from the future
        (timedelta(0), True),
    ],
)
def test_freshness_window(unit, offset, accepted):
    timestamp = at(NOW + offset, unit)
    req = request(push(timestamp=timestamp))

    if accepted:
        assert authenticate(req, EXAMPLE_SECRET) == TOKEN
    else:
        failure = refused(req)
        assert failure.status == 403
        assert timestamp in failure.reason


def test_a_recorded_push_replayed_days_later_is_stale():
    body = fixture("form/deliver.txt")  # signed at 2024-06-01T10:00:02Z

    failure = refused(request(body, now=NOW + timedelta(days=3)))

    assert failure.status == 403
    assert "older than" in failure.reason


def test_a_timestamp_beyond_any_date_is_refused_not_crashed_on():
    failure = refused(request(push(timestamp="9" * 400)))

    assert failure.status == 403
