"""tracker.providers.infobip.auth: the path token plus optional HTTP Basic credentials."""
import base64
from datetime import datetime, UTC

import pytest

from tests.support.webhooks.infobip import EXAMPLE_SECRET, fixture, signed_request
from tracker.providers.infobip.auth import authenticate
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def request(body: bytes, headers: dict[str, str], now: datetime = NOW) -> WebhookRequest:
    """What the receiver hands authenticate(): lower-cased headers, the bare media type."""
    lowered = {name.lower(): value for name, value in headers.items()}
    media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    return WebhookRequest(body=body, headers=lowered, content_type=media_type, now=now)


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def refused(req: WebhookRequest, secret: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as raised:
        authenticate(req, secret)
    return raised.value


# --- accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("dlr/batch.json", "application/json"), ("dlr/batch.xml", "application/xml"),
     ("tracking/opened.json", "application/json")],
)
def test_a_request_with_the_configured_basic_credentials_is_accepted(name, content_type):
    body, headers = signed_request(fixture(name), EXAMPLE_SECRET, content_type=content_type)

    # Infobip sends no nonce, so there is no replay token to hand the receiver.
    assert authenticate(request(body, headers), EXAMPLE_SECRET) is None
    assert body == fixture(name)  # nothing is signed inside the body


def test_without_a_configured_secret_the_path_token_alone_authenticates():
    body, headers = signed_request(fixture("dlr/delivered.json"), None)

    assert "Authorization" not in headers
    assert authenticate(request(body, headers), None) is None


def test_without_a_configured_secret_any_credentials_are_ignored():
    body, headers = signed_request(fixture("dlr/delivered.json"), "someone:else")

    assert authenticate(request(body, headers), None) is None


def test_the_scheme_name_is_case_insensitive():
    body, headers = signed_request(fixture("dlr/delivered.json"), EXAMPLE_SECRET)
    headers["Authorization"] = headers["Authorization"].replace("Basic", "BASIC")

    assert authenticate(request(body, headers), EXAMPLE_SECRET) is None


def test_credentials_are_not_tied_to_time_or_body():
    """Infobip sends no timestamp and signs no body: an old or rewritten POST is a duplicate
    or a different event, both handled by dedupe; only the credentials are checked."""
    body, headers = signed_request(fixture("dlr/delivered.json"), EXAMPLE_SECRET,
                                   now=datetime(2020, 1, 1, tzinfo=UTC))

    assert authenticate(request(b'{"results": []}', headers, now=NOW), EXAMPLE_SECRET) is None


# --- refused ------------------------------------------------------------------------------


def test_missing_credentials_are_401():
    body, headers = signed_request(fixture("dlr/delivered.json"), None)

    assert refused(request(body, headers), EXAMPLE_SECRET).status == 401


@pytest.mark.parametrize(
    "authorization",
    ["", "Basic", "Basic ", "Bearer " + base64.b64encode(EXAMPLE_SECRET.encode()).decode(),
     base64.b64encode(EXAMPLE_SECRET.encode()).decode()],
    ids=["empty", "scheme-only", "scheme-and-space", "bearer", "no-scheme"],
)
def test_credentials_in_another_scheme_or_none_at_all_are_401(authorization):
    req = request(fixture("dlr/delivered.json"), {"Authorization": authorization})

    assert refused(req, EXAMPLE_SECRET).status == 401


@pytest.mark.parametrize("encoded", ["not base64!", "abc", base64.b64encode(b"\xff\xfe:x").decode()],
                         ids=["not-base64", "bad-padding", "not-utf8"])
def test_a_malformed_basic_header_is_401(encoded):
    req = request(fixture("dlr/delivered.json"), {"Authorization": f"Basic {encoded}"})

    assert refused(req, EXAMPLE_SECRET).status == 401


@pytest.mark.parametrize(
    "credentials",
    [
        "infobip-hooks:wrong",  # wrong password
        "someone:s3cret:with-colon",  # wrong user
        "infobip-hooks:s3cret",  # the password cut at its colon
        "infobip-hooks:s3cret:with-colon ",  # one byte more
        "INFOBIP-HOOKS:s3cret:with-colon",  # user names are compared exactly
        "infobip-hooks",  # no password at all
    ],
)
def test_wrong_credentials_are_403(credentials):
    req = request(fixture("dlr/delivered.json"), basic(credentials))

    failure = refused(req, EXAMPLE_SECRET)

    assert failure.status == 403
    assert "wrong" in failure.reason


def test_the_test_signer_builds_the_header_a_client_library_would():
    _, headers = signed_request(b"{}", "user:pa:ss", content_type="application/xml")

    assert headers == {"Content-Type": "application/xml", "Authorization": "Basic dXNlcjpwYTpzcw=="}


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "no-colon", ":password-only", "user-only:"])
def test_a_malformed_secret_is_a_configuration_error_not_an_open_door(secret):
    body, headers = signed_request(fixture("dlr/delivered.json"), "user-only:")

    with pytest.raises(ValueError, match="user:password"):
        authenticate(request(body, headers), secret)
