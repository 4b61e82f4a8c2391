"""tracker.providers.common.timestamps: lenient parsing to aware UTC datetimes."""
from datetime import datetime, UTC

import pytest
from hypothesis import given, strategies as st

from tracker.providers.common.timestamps import parse_timestamp

MILLIS = datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)
SECONDS = datetime(2016, 1, 27, 14, 59, 38, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2016-01-27T14:59:38.237Z", MILLIS),
        ("2016-01-27T14:59:38Z", SECONDS),
        ("2018-10-08T14:05:45 +0000", datetime(2018, 10, 8, 14, 5, 45, tzinfo=UTC)),
        ("2016-01-27T14:59:38.237+00:00", MILLIS),
        ("2016-01-27T14:59:38.237+0000", MILLIS),
        ("2016-01-27 14:59:38.237z", MILLIS),
        ("  2016-01-27T14:59:38Z\n", SECONDS),
        ("2016-01-27T16:59:38.237+02:00", MILLIS),
        ("2016-01-27T09:59:38-0500", SECONDS),
        ("2016-01-28T00:29:38+09:30", SECONDS),
        ("2016-01-27T14:59:38", SECONDS),  # no zone: UTC, as every provider sends
        ("2016-01-27T14:59:38.237123999Z", MILLIS.replace(microsecond=237123)),  # truncated
        (1453906778, SECONDS),
        (1453906778.237, MILLIS),
        ("1453906778", SECONDS),
        ("1453906778.237", MILLIS),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_accepts_iso_variants_and_epoch_seconds(value, expected):
    parsed = parse_timestamp(value)

    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert parsed.microsecond == expected.microsecond


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "not a timestamp: ''"),
        ("yesterday", "not a timestamp: 'yesterday'"),
        ("2016-01-27", "not a timestamp: '2016-01-27'"),
        ("27/01/2016 14:59:38", "not a timestamp"),
        ("2016-13-01T00:00:00Z", "month must be in 1..12"),
        ("2016-02-30T00:00:00Z", "day is out of range"),
        ("2016-01-27T25:00:00Z", "hour must be in 0..23"),
        ("2016-01-27T14:59:38+2400", "not a valid timestamp"),
        ("2016-01-27T14:59:38+0060", "offset minutes must be below 60"),
        ("2016-01-27T14:59:38Z trailing", "not a timestamp"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
        ("1e400", "not a timestamp"),
        (float("nan"), "not a timestamp: nan"),
        (float("inf"), "not a timestamp: inf"),
        (1e20, "timestamp out of range: 1e+20"),
        (True, "not a timestamp: True"),
        (None, "not a timestamp: None"),
        ([2016, 1, 27], "not a timestamp: [2016, 1, 27]"),
    ],
)
def test_rejects_anything_else_naming_the_value(value, says):
    with pytest.raises(ValueError) as caught:
        parse_timestamp(value)

    assert says in str(caught.value)


def test_rejection_message_shows_the_accepted_forms():
    with pytest.raises(ValueError, match=r"expected ISO 8601 .* or epoch seconds"):
        parse_timestamp("soon")



@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
       st.integers(0, 61), st.integers(0, 999),
       st.one_of(st.none(), st.tuples(st.integers(0, 23), st.sampled_from("-:.TtZz +x\u0663\u00b2"))))
def test_the_common_shape_reads_as_the_pattern_reads_it(year, month, day, hour, minute, second, millis, odd):
    """Times shaped as SES writes them (2016-01-27T14:59:38.237Z) take a faster path; with one
    space after them they take the pattern's. Both read the same moment, or both refuse: out of
    range fields, leap days, hour 24, and any one character changed (a non-ASCII digit too)."""
    value = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    if odd:
        position, character = odd
        value = value[:position] + character + value[position + 1:]
    assert_read_as_the_pattern_reads(value)


@pytest.mark.parametrize("position", range(24))
def test_every_one_character_change_of_the_common_shape_reads_as_the_pattern_reads_it(position):
    """Each place of 2016-01-27T14:59:38.237Z changed to each character that matters there (a digit
    where a separator stands, a separator where a digit stands, a zone letter, a non-ASCII digit):
    the faster path reads what the pattern reads, or refuses what it refuses."""
    base = "2016-01-27T14:59:38.237Z"
    for character in "0123456789-:.TtZz +!x\u0663":
        assert_read_as_the_pattern_reads(base[:position] + character + base[position + 1:])


def assert_read_as_the_pattern_reads(value: str) -> None:
    """``value`` reads as the same aware UTC moment as ``value`` with a space after it (which only the
    pattern reads), or both are refused."""
    try:
        expected = parse_timestamp(value + " ")
    except ValueError:
        with pytest.raises(ValueError):
            parse_timestamp(value)
        return
    parsed = parse_timestamp(value)
    assert parsed == expected and parsed.tzinfo is UTC, value
