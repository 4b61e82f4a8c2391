"""normalize_address: a bare address is read without parseaddr, and reads exactly as parseaddr would read it."""
from email.utils import parseaddr

import pytest
from hypothesis import given, settings, strategies as st

from tracker.domain.events import _PLAIN_ADDRESS, normalize_address


def by_parseaddr(raw: str) -> str:
    """What normalize_address gave for every address before the plain ones skipped parseaddr."""
    _, address = parseaddr(raw)
    return (address or raw).strip().lower()


@settings(max_examples=500, deadline=None)
@given(st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_reads_as_parseaddr_reads_it(raw):
    assert normalize_address(raw) == by_parseaddr(raw)


@pytest.mark.parametrize("raw, expected", [
    ("Bob@Example.COM", "bob@example.com"),
    ("a..b+tag@x-y.example", "a..b+tag@x-y.example"),
    ('"Bob Smith" <Bob@Example.com>', "bob@example.com"),
    ("Bob <bob@example.com>", "bob@example.com"),
    ("  bob@example.com  ", "bob@example.com"),
    ("bob@example.com (Bob)", "bob@example.com"),
])
def test_spellings_of_one_address_give_one_key(raw, expected):
    assert normalize_address(raw) == expected


@pytest.mark.parametrize("raw", ["", "bob", "@example.com", "bob@", "b ob@example.com"])
def test_what_is_no_address_is_refused(raw):
    with pytest.raises(ValueError):
        normalize_address(raw)
