"""Postmark webhook authenticity: HTTP Basic credentials from the webhook URL, or refusal."""
from __future__ import annotations

import base64
from datetime import datetime, UTC

import pytest

from tests.support.webhooks.postmark import EXAMPLE_SECRET, fixture, signed_request
from tracker.providers.postmark.auth import authenticate
from tracker.providers.common.webhook_auth import AuthenticationFailed, WebhookRequest

NOW = datetime(2024, 3, 5, 18, 30, tzinfo=UTC)


def request(body: bytes, headers: dict[str, str], now: datetime = NOW) -> WebhookRequest:
    """The request as the receiver hands it over: header names lower-cased."""
    lowered = {name.lower(): value for name, value in headers.items()}
    media_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    return WebhookRequest(body=body, headers=lowered, content_type=media_type, now=now)


def from_postmark(secret: str = EXAMPLE_SECRET, name: str = "delivery.json") -> WebhookRequest:
    return request(*signed_request(fixture(name), secret))


def basic(credentials: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}


def refusal(req: WebhookRequest, secret: str | None = EXAMPLE_SECRET) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(req, secret)
    return caught.value


# -- genuine requests ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["delivery.json", "bounce-hard.json", "batch-array.json"])
def test_a_request_with_the_configured_credentials_passes_without_a_replay_token(name):
    assert authenticate(from_postmark(name=name), EXAMPLE_SECRET) is None


def test_the_signer_sends_the_body_unchanged_with_basic_credentials():
    body, headers = signed_request(fixture("open.json"), EXAMPLE_SECRET)

    assert body == fixture("open.json")
    assert headers["Authorization"] == "Basic " + base64.b64encode(
        EXAMPLE_SECRET.encode()).decode()
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("secret", [
    "hooks:pa:ss:word",  # RFC 7617: the password may contain colons
    "hooks:pässwörd",  # non-ASCII, sent as UTF-8
    "h:p",
])
def test_any_user_password_pair_of_the_secret_format_is_accepted(secret):
    assert authenticate(from_postmark(secret=secret), secret) is None


def test_the_scheme_name_is_case_insensitive():
    credentials = base64.b64encode(EXAMPLE_SECRET.encode()).decode()
    req = request(b"{}", {"Authorization": f"basic {credentials}"})

    assert authenticate(req, EXAMPLE_SECRET) is None


def test_the_request_time_does_not_matter_since_nothing_is_timestamped():
    late = request(*signed_request(fixture("delivery.json"), EXAMPLE_SECRET),
                   now=datetime(2031, 1, 1, tzinfo=UTC))

    assert authenticate(late, EXAMPLE_SECRET) is None


# -- missing credentials: 401 ------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Content-Type": "application/json"},
    {"Authorization": ""},
    {"Authorization": "Basic"},
    {"Authorization": "Bearer " + base64.b64encode(EXAMPLE_SECRET.encode()).decode()},
    {"Authorization": base64.b64encode(EXAMPLE_SECRET.encode()).decode()},  # no scheme
], ids=["none", "content-type-only", "empty", "scheme-only", "bearer", "no-scheme"])
def test_a_request_without_basic_credentials_is_refused_with_401(headers):
    failure = refusal(request(fixture("delivery.json"), headers))

    assert failure.status == 401
    assert "Basic credentials are required" in failure.reason


@pytest.mark.parametrize("encoded", ["%%%not-base64%%%", "cG9zdG1hcms", "/w=="],
                         ids=["not-base64", "bad-padding", "not-utf8"])
def test_malformed_basic_credentials_are_refused_with_401(encoded):
    failure = refusal(request(b"{}", {"Authorization": f"Basic {encoded}"}))

    assert failure.status == 401
    assert "not valid base64 user:password" in failure.reason


# -- wrong credentials: 403 --------------------------------------------------------------

USER, _, PASSWORD = EXAMPLE_SECRET.partition(":")


@pytest.mark.parametrize("credentials", [
    f"{USER}:wrong-password",
    f"intruder:{PASSWORD}",
    f"{USER.upper()}:{PASSWORD}",
    f"{USER}:{PASSWORD[:-1]}",
    f"{USER}:{PASSWORD}x",
    f"{USER}:",
    ":",
    PASSWORD,
], ids=["wrong-password", "wrong-user", "user-case", "short", "long", "no-password",
        "colon-only", "password-only"])
def test_wrong_credentials_are_refused_with_403(credentials):
    failure = refusal(request(fixture("delivery.json"), basic(credentials.encode())))

    assert failure.status == 403
    assert failure.reason == "the Basic credentials are wrong"


def test_credentials_of_another_source_are_refused_with_403():
    other_source = "other-hooks:another-password"

    failure = refusal(from_postmark(secret=other_source))

    assert failure.status == 403


# -- a source without usable credentials: a configuration error, never a 403 ----------------
# ValueError: the receiver answers 503 and stores nothing. A 403 would stop Postmark's
# retries, losing genuine events posted before the operator fixes the source.


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_a_source_without_credentials_is_a_configuration_error_even_for_a_good_request(secret):
    with pytest.raises(ValueError, match="no Basic credentials configured for this Postmark source"):
        authenticate(from_postmark(), secret)


def test_a_source_without_credentials_is_a_configuration_error_for_a_bare_request_too():
    with pytest.raises(ValueError, match="no Basic credentials configured"):
        authenticate(request(b"{}", {}), None)


@pytest.mark.parametrize("secret", ["no-colon-here", ":password-without-user"])
def test_a_misconfigured_secret_is_reported_as_such(secret):
    # Even a sender presenting exactly those bytes cannot pass: the secret is not user:password.
    with pytest.raises(ValueError, match="not user:password"):
        authenticate(request(b"{}", basic(secret.encode())), secret)
