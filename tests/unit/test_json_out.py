"""Response bodies written by orjson read back as json.dumps's would, whatever the value."""
from __future__ import annotations

import json
from datetime import date, datetime, time, UTC

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


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_a_time_is_written_in_iso_8601_a_naive_one_as_utc(moment):
    # As isoformat writes it (no fraction when it is zero), whichever writer the body goes to: an
    # integer past 64 bits sends the whole body to json instead of orjson.
    expected = moment.isoformat() + "+00:00"
    aware = moment.replace(tzinfo=UTC)
    assert json.loads(json_out.dumps({"at": moment, "aware": aware})) == {"at": expected, "aware": expected}
    assert json.loads(json_out.dumps({"at": moment, "aware": aware, "big": 2 ** 70})) == {
        "at": expected, "aware": expected, "big": 2 ** 70}


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_times_to_the_second_are_written_as_elevate_writes_them(moment):
    expected = moment.isoformat(timespec="seconds") + "Z"
    aware = moment.replace(tzinfo=UTC)
    for body in ({"at": moment, "aware": aware}, {"at": moment, "aware": aware, "big": 2 ** 70}):
        written = json.loads(json_out.dumps(body, times=json_out.TO_THE_SECOND))
        assert (written["at"], written["aware"]) == (expected, expected)


def test_jsonify_writes_times_and_dates_in_iso_8601(app):
    with app.app_context():
        body = jsonify({"at": datetime(2026, 12, 5, 1, 2, 3), "on": date(2026, 12, 5)}).get_json()
    assert body == {"at": "2026-12-05T01:02:03+00:00", "on": "2026-12-05"}


def test_debug_bodies_stay_indented_and_write_times_as_every_body_does(app):
    app.debug = True
    with app.app_context():
        assert jsonify({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'
        written = jsonify({"at": datetime(2026, 12, 5, 1, 2, 3, 4)}).get_json()
    assert written == {"at": "2026-12-05T01:02:03.000004+00:00"}


def test_a_time_of_day_is_written_by_either_writer():
    for body in ({"at": time(1, 2, 3)}, {"at": time(1, 2, 3), "big": 2 ** 70}):
        assert json.loads(json_out.dumps(body))["at"] == "01:02:03"


def test_a_lone_surrogate_is_written_as_its_escape_not_an_error():
    assert json.loads(json_out.dumps({"a": "x\ud800y"})) == {"a": "x\ud800y"}
