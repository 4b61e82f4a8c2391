"""API JSON bodies: read with bounded depth into values PostgreSQL stores, or refused with the reason."""
import json

import pytest
from hypothesis import given, strategies as st

from tracker.http.input_guard import unreadable

storable_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
documents = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                         | storable_text,
                         lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children,
                                                                                           max_size=4),
                         max_leaves=30)


@given(documents)
def test_whatever_postgresql_stores_is_readable(document):
    assert unreadable(json.dumps(document).encode()) is None


@pytest.mark.parametrize("text, reason", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ("[" * 65 + "]" * 65, "nested deeper"),
    ('{"a": "x\\u0000y"}', "NUL"),
    ('{"\\u0000": 1}', "NUL"),
    ('["\\udc00"]', "surrogate"),
    ("[NaN]", "NaN"),
    ('{"a": -Infinity}', "Infinity"),
    ("1" * 5000, "not JSON"),
    ('{"a": ', "not JSON"),
])
def test_refused_with_the_reason(text, reason):
    assert reason in unreadable(text.encode())


def test_invalid_utf8_is_refused_and_64_levels_are_read():
    assert "not JSON" in unreadable(b'"\xff"')
    assert unreadable(("[" * 64 + "]" * 64).encode()) is None


@pytest.mark.parametrize("headers, refused", [
    ({"X-Trace-Note": "a\x01b"}, "X-Trace-Note"),
    ({"User-Agent": "client\x00"}, "User-Agent"),
    ({"Content-Type": "application/json\x0b"}, "Content-Type"),
    ({"X-Trace-Note": "a\tb", "User-Agent": "client/1.0"}, None),  # a tab belongs in a field value
])
def test_a_header_holding_a_control_character_is_refused_by_name(headers, refused):
    from flask import Flask

    from tracker.http.errors import ApiError
    from tracker.http.input_guard import screen

    app = Flask(__name__)
    with app.test_request_context("/api/v1/deliveries?limit=1", headers=headers):
        if refused is None:
            screen()
            return
        with pytest.raises(ApiError) as refusal:
            screen()
    assert refusal.value.status == 400 and refusal.value.parameter == refused and refusal.value.source == "headers"
