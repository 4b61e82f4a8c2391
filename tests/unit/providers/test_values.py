"""The helpers the provider parsers share (tracker.providers.common.values)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone, UTC

import pytest

from tracker.domain import BounceType, EventType
from tracker.providers.common.errors import PayloadError
from tracker.providers.common import values


# --- digest: part of stored event keys, so its exact output is pinned ---------------------


def test_digest_is_stable_under_key_order():
    one = values.digest({"b": 1, "a": [1, {"y": 2, "x": 3}]})
    assert one == values.digest({"a": [1, {"x": 3, "y": 2}], "b": 1})


def test_digest_is_16_hex_digits_of_sha256_of_compact_sorted_json_by_default():
    expected = hashlib.sha256(b'{"a":1,"b":"x"}').hexdigest()[:16]
    assert values.digest({"b": "x", "a": 1}) == expected
    assert values.digest(None) == hashlib.sha256(b"null").hexdigest()[:16]


def test_digest_length_is_a_prefix_of_the_same_hash():
    long = values.digest({"a": 1}, 32)
    assert len(long) == 32 and long.startswith(values.digest({"a": 1}))


def test_digest_hashes_non_ascii_as_escapes_unless_told_otherwise():
    assert values.digest("é", 32) == hashlib.sha256(b'"\\u00e9"').hexdigest()[:32]
    utf8 = hashlib.sha256('"é"'.encode()).hexdigest()[:32]
    assert values.digest("é", 32, ensure_ascii=False) == utf8
    assert values.digest("plain", 32) == values.digest("plain", 32, ensure_ascii=False)


def test_digest_writes_what_json_cannot_hold_as_text():
    moment = datetime(2024, 1, 2, tzinfo=UTC)
    assert values.digest({"at": moment}) == values.digest({"at": str(moment)})


# --- key_time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2018-10-08T14:05:45 +0000",
        "2018-10-08T14:05:45.000Z",
        "2018-10-08T16:05:45+02:00",
        1539007545,
        "1539007545",
        datetime(2018, 10, 8, 14, 5, 45, tzinfo=UTC),
        datetime(2018, 10, 8, 9, 5, 45, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_key_time_writes_every_spelling_of_one_instant_alike(value):
    assert values.key_time(value) == "2018-10-08T14:05:45.000000Z"


@pytest.mark.parametrize("value", [None, "", "yesterday", True, [], {}])
def test_key_time_is_none_for_what_is_no_timestamp(value):
    assert values.key_time(value) is None


# --- error-message helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, kind",
    [
        ([], "a JSON array"),
        ({}, "a JSON object"),
        ("x", "a string"),
        (7, "a number"),
        (1.5, "a number"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
    ],
)
def test_json_kind(value, kind):
    assert values.json_kind(value) == kind


def test_excerpt_keeps_short_text_whole_and_stripped():
    assert values.excerpt("  {bad json  \n") == "'{bad json'"


def test_excerpt_truncates_at_the_limit_with_an_ellipsis():
    assert values.excerpt("x" * 81) == repr("x" * 80 + "…")
    assert values.excerpt("x" * 80) == repr("x" * 80)
    assert values.excerpt("abcdef", limit=3) == repr("abc…")


def test_excerpt_reads_bytes_as_utf8_replacing_bad_bytes():
    assert values.excerpt(b" caf\xc3\xa9 \xff ") == repr("café \ufffd")


def test_excerpt_writes_other_values_as_json():
    assert values.excerpt({"é": [1, None]}) == repr('{"é": [1, null]}')


def test_key_list_shows_ten_sorted_keys_then_an_ellipsis():
    assert values.key_list({}) == "none"
    assert values.key_list({"b": 1, "a": 2}) == "a, b"
    eleven = {f"k{n:02}": n for n in range(11)}
    assert values.key_list(eleven) == ", ".join(f"k{n:02}" for n in range(10)) + ", …"


def test_not_json_names_the_thing_the_position_and_the_start():
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads('{"a": ')
    assert values.not_json("SES message", raised.value, '{"a": ') == (
        "SES message is not JSON (Expecting value at line 1 column 7): '{\"a\":'"
    )


# --- lenient readers ----------------------------------------------------------------------


def test_compact_drops_none_and_empty_text_only():
    assert values.compact(a=None, b="", c=0, d=False, e=[], f={}, g=" ", h="x") == {
        "c": 0, "d": False, "e": [], "f": {}, "g": " ", "h": "x"
    }


def test_compact_keeps_the_order_given():
    assert list(values.compact(z=1, a=2, m=3)) == ["z", "a", "m"]


@pytest.mark.parametrize(
    "value, expected", [("x", "x"), (" ", " "), ("", None), (None, None), (5, None)]
)
def test_text_is_any_non_empty_string(value, expected):
    assert values.text(value) == expected


def test_first_text_skips_blank_strings_and_non_strings_and_returns_as_given():
    assert values.first_text(None, "  ", 5, " reason ", "later") == " reason "
    assert values.first_text("  ", "") is None
    assert values.first_text() is None


def test_parse_time_names_where_the_bad_value_was():
    moment = datetime(2018, 10, 8, 14, 5, 45, tzinfo=UTC)
    assert values.parse_time("2018-10-08T14:05:45Z", "x") == moment
    with pytest.raises(PayloadError, match=r"^bounce\.timestamp: not a timestamp: 'soon'"):
        values.parse_time("soon", "bounce.timestamp")


def test_optional_time_is_none_only_when_missing():
    assert values.optional_time(None, "t") is None
    assert values.optional_time("", "t") is None
    assert values.optional_time(0, "t") == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(PayloadError, match="^t: "):
        values.optional_time("  ", "t")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Jane <Jane@Example.COM>", "jane@example.com"),
        (" jane@example.com ", "jane@example.com"),
        ("x@", None),
        ("@example.com", None),
        ("a b", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_maybe_address(raw, expected):
    assert values.maybe_address(raw) == expected


def test_checked_address_refuses_what_is_no_address_naming_where():
    assert values.checked_address("JANE@example.com", "to") == "jane@example.com"
    refused = r"^mail\.destination\[0\] is not an email address: 'x@'$"
    with pytest.raises(PayloadError, match=refused):
        values.checked_address("x@", "mail.destination[0]")


# --- building events ----------------------------------------------------------------------

_IDENTITY = dict(
    message_id="m-1",
    recipient="jane@example.com",
    occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
    event_key="p:k",
)


def test_normalized_event_takes_everything_the_facts_say():
    facts = values.Facts(
        diagnostic="550 5.1.1 no such user",
        details={"status": "5.1.1"},
        bounce_type=BounceType.PERMANENT,
        bounce_subtype="General",
    )
    event = values.normalized_event("p", EventType.BOUNCED, facts, **_IDENTITY)
    assert (event.provider, event.type, event.message_id, event.recipient, event.event_key) == (
        "p", EventType.BOUNCED, "m-1", "jane@example.com", "p:k"
    )
    assert (event.bounce_type, event.bounce_subtype, event.diagnostic, dict(event.details)) == (
        BounceType.PERMANENT, "General", "550 5.1.1 no such user", {"status": "5.1.1"}
    )


def test_unmapped_event_keeps_the_providers_name_first_in_the_details():
    event = values.unmapped_event("p", "weird", {"id": "e-1"}, **_IDENTITY)
    assert event.type is EventType.UNMAPPED and event.status is None
    assert list(event.details.items()) == [("provider_event", "weird"), ("id", "e-1")]
    assert (event.bounce_type, event.diagnostic) == (None, None)
