"""Response bodies written by orjson read back as json.dumps's would, whatever the value."""
from __future__ import annotations

import json
from datetime import datetime, UTC

import pytest
from flask import Flask, jsonify
from hypothesis import given, settings, strategies as st

from tracker.http import json_out

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture
def app():
    app = Flask(__name__)
    json_out.install(app)
    return app


@settings(max_examples=300, deadline=None)
@given(_values)
def test_any_json_value_reads_back_as_it_went_in(value):
    # Integers past 64 bits (which orjson refuses) included: those are written by json. (Not NaN or
    # Infinity, which json writes as no JSON parser reads them, orjson as null; input_guard refuses them.)
    assert json.loads(json_out.dumps(value)) == json.loads(json.dumps(value))


def test_jsonify_keeps_the_views_key_order_and_writes_one_compact_line(app):
    with app.app_context():
        body = jsonify({"z": 1, "a": [1, 2], "é": "ü"}).get_data()
        # An integer past 64 bits goes to json: the same value and order, non-ASCII escaped.
        big = jsonify({"z": 1, "é": "ü", "big": 2 ** 70}).get_data()
    assert body == '{"z":1,"a":[1,2],"é":"ü"}\n'.encode()
    assert big == b'{"z":1,"\\u00e9":"\\u00fc","big":1180591620717411303424}\n'


def test_a_datetime_is_written_as_flask_writes_it(app):
    moment = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)
    with app.app_context():
        assert jsonify({"at": moment}).get_json() == {"at": "Sat, 05 Dec 2026 01:02:03 GMT"}


def test_debug_bodies_stay_indented(app):
    app.debug = True
    with app.app_context():
        assert jsonify({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'


def test_a_lone_surrogate_is_written_as_its_escape_not_an_error():
    assert json.loads(json_out.dumps({"a": "x\ud800y"})) == {"a": "x\ud800y"}
