"""Untrusted JSON: bounded depth, and nothing PostgreSQL would refuse later."""
import json

import pytest
from hypothesis import given, strategies as st

from tracker import bounded_json

storable_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
documents = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                         | storable_text,
                         lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children,
                                                                                           max_size=4),
                         max_leaves=30)


@given(documents)
def test_what_json_dumps_writes_reads_back_the_same(document):
    assert bounded_json.loads(json.dumps(document).encode()) == document


@pytest.mark.parametrize("text, reason", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ("[" * 65 + "]" * 65, "nested deeper"),
    ('{"a": "x\\u0000y"}', "NUL"),
    ('{"\\u0000": 1}', "NUL"),
    ('["\\udc00"]', "surrogate"),
    ('[NaN]', "NaN"),
    ('{"a": -Infinity}', "Infinity"),
    ("1" * 5000, "not JSON"),
    ('{"a": ', "not JSON"),
])
def test_refused_with_the_reason(text, reason):
    with pytest.raises(bounded_json.Refused, match=reason):
        bounded_json.loads(text.encode())


def test_invalid_utf8_is_refused_and_64_levels_are_read():
    with pytest.raises(bounded_json.Refused, match="not JSON"):
        bounded_json.loads(b'"\xff"')
    assert bounded_json.loads(("[" * 64 + "]" * 64).encode()) == json.loads("[" * 64 + "]" * 64)
