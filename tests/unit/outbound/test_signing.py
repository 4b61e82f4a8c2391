"""Outbound webhook signatures, and the receivers' recipe that the README quotes."""
from __future__ import annotations

import ast
import hashlib
import hmac
import time

import pytest

from tracker.outbound.signing import (
    RECIPE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    new_secret,
    signature,
    signature_headers,
    verify,
)

SECRET = "whsec_test-secret"
BODY = b'{"message_id":"0100-abc","status":"delivered"}'
NOW = 1_718_000_000


def test_headers_are_the_documented_hmac_over_timestamp_dot_body():
    headers = signature_headers(SECRET, BODY, NOW)

    # Computed here from the documented recipe, not through the module's helpers.
    mac = hmac.new(SECRET.encode(), b"1718000000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1718000000", SIGNATURE_HEADER: "v1=" + mac}
    assert TIMESTAMP_HEADER == "X-Tracker-Timestamp"
    assert SIGNATURE_HEADER == "X-Tracker-Signature"


def test_verify_accepts_its_own_headers_in_any_header_case():
    headers = signature_headers(SECRET, BODY, NOW)

    assert verify(SECRET, BODY, headers, now=NOW)
    assert verify(SECRET, BODY, {name.lower(): value for name, value in headers.items()}, now=NOW)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda h, b, s: (h, b + b" ", s), id="body"),
        pytest.param(lambda h, b, s: ({**h, TIMESTAMP_HEADER: str(NOW + 1)}, b, s), id="timestamp"),
        pytest.param(lambda h, b, s: (h, b, s + "x"), id="secret"),
        pytest.param(lambda h, b, s: ({**h, SIGNATURE_HEADER: h[SIGNATURE_HEADER].upper()}, b, s), id="hex-case"),
        pytest.param(lambda h, b, s: ({**h, SIGNATURE_HEADER: h[SIGNATURE_HEADER][3:]}, b, s), id="no-version"),
        pytest.param(lambda h, b, s: ({**h, SIGNATURE_HEADER: "v2" + h[SIGNATURE_HEADER][2:]}, b, s),
                     id="other-version"),
        pytest.param(lambda h, b, s: ({TIMESTAMP_HEADER: h[TIMESTAMP_HEADER]}, b, s), id="no-signature"),
        pytest.param(lambda h, b, s: ({SIGNATURE_HEADER: h[SIGNATURE_HEADER]}, b, s), id="no-timestamp"),
        pytest.param(lambda h, b, s: ({**h, SIGNATURE_HEADER: "v1=é"}, b, s), id="non-ascii-signature"),
        pytest.param(lambda h, b, s: ({**h, TIMESTAMP_HEADER: "1718000000.0"}, b, s), id="fractional-timestamp"),
        pytest.param(lambda h, b, s: ({**h, TIMESTAMP_HEADER: "-5"}, b, s), id="negative-timestamp"),
        pytest.param(lambda h, b, s: ({**h, TIMESTAMP_HEADER: "²"}, b, s), id="unicode-digit"),
    ],
)
def test_verify_refuses_anything_changed(change):
    headers, body, secret = change(signature_headers(SECRET, BODY, NOW), BODY, SECRET)

    assert not verify(secret, body, headers, now=NOW)


@pytest.mark.parametrize("skew, accepted", [(-301, False), (-300, True), (0, True), (300, True), (301, False)])
def test_verify_accepts_only_timestamps_within_the_tolerance(skew, accepted):
    headers = signature_headers(SECRET, BODY, NOW + skew)

    assert verify(SECRET, BODY, headers, now=NOW) is accepted


def test_verify_tolerance_is_adjustable():
    headers = signature_headers(SECRET, BODY, NOW - 60)

    assert not verify(SECRET, BODY, headers, now=NOW, tolerance=30)
    assert verify(SECRET, BODY, headers, now=NOW, tolerance=60)


def test_several_signatures_allow_rotating_secrets():
    old, new = "whsec_old", "whsec_new"
    headers = {
        TIMESTAMP_HEADER: str(NOW),
        SIGNATURE_HEADER: f"{signature(old, BODY, NOW)}, {signature(new, BODY, NOW)}",
    }

    assert verify(old, BODY, headers, now=NOW)
    assert verify(new, BODY, headers, now=NOW)
    assert not verify("whsec_other", BODY, headers, now=NOW)


def test_new_secrets_are_prefixed_long_and_unique():
    secrets = {new_secret() for _ in range(50)}

    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(secret) == len("whsec_") + 43  # 32 bytes in unpadded URL-safe base64
        assert set(secret[6:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- the receivers' recipe ----------------------------------------------------------------


@pytest.fixture
def recipe_verify():
    """The recipe's verify(), from executing exactly the text the README quotes."""
    namespace: dict = {}
    exec(compile(RECIPE, "<RECIPE>", "exec"), namespace)  # noqa: S102 (the point: run the README text)
    return namespace["verify"]


def test_recipe_is_short_and_stdlib_only():
    assert len(RECIPE.strip().splitlines()) <= 10
    imported = {
        alias.name
        for node in ast.walk(ast.parse(RECIPE))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported <= {"hmac", "hashlib", "time"}


def test_recipe_accepts_a_fresh_signature(recipe_verify):
    headers = signature_headers(SECRET, BODY, int(time.time()))

    assert recipe_verify(SECRET, BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]) is True


def test_recipe_accepts_either_of_two_signatures(recipe_verify):
    now = int(time.time())
    both = f"{signature('whsec_old', BODY, now)},{signature(SECRET, BODY, now)}"

    assert recipe_verify(SECRET, BODY, str(now), both) is True


@pytest.mark.parametrize(
    "secret, body, timestamp_offset, tamper_timestamp",
    [
        pytest.param(SECRET, BODY + b"x", 0, False, id="tampered-body"),
        pytest.param(SECRET, BODY, 0, True, id="tampered-timestamp"),
        pytest.param("whsec_wrong", BODY, 0, False, id="wrong-secret"),
        pytest.param(SECRET, BODY, -600, False, id="stale"),
        pytest.param(SECRET, BODY, 600, False, id="from-the-future"),
    ],
)
def test_recipe_refuses(recipe_verify, secret, body, timestamp_offset, tamper_timestamp):
    signed_at = int(time.time()) + timestamp_offset
    headers = signature_headers(SECRET, BODY, signed_at)
    timestamp = str(signed_at + 1) if tamper_timestamp else headers[TIMESTAMP_HEADER]

    assert recipe_verify(secret, body, timestamp, headers[SIGNATURE_HEADER]) is False


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5", "-1", "²"])
def test_recipe_refuses_a_timestamp_that_is_no_number_without_raising(recipe_verify, timestamp):
    assert recipe_verify(SECRET, BODY, timestamp, "v1=00") is False


def test_recipe_refuses_a_non_ascii_signature_without_raising(recipe_verify):
    now = str(int(time.time()))

    assert recipe_verify(SECRET, BODY, now, "v1=é") is False


def test_recipe_and_verify_agree(recipe_verify):
    now = int(time.time())
    headers = signature_headers(SECRET, BODY, now)
    for body in (BODY, BODY + b"!"):
        assert recipe_verify(SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]) == verify(
            SECRET, body, headers, now=now
        )


def test_while_a_rotation_overlaps_the_header_holds_a_value_per_secret_newest_first():
    headers = signature_headers("whsec_new", BODY, NOW, also=["whsec_old"])

    values = [hmac.new(key, b"1718000000." + BODY, hashlib.sha256).hexdigest() for key in (b"whsec_new", b"whsec_old")]
    assert headers[SIGNATURE_HEADER] == ",".join("v1=" + value for value in values)
    assert verify("whsec_old", BODY, headers, now=NOW) and verify("whsec_new", BODY, headers, now=NOW)
