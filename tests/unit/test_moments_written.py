"""Times written as the compatible APIs show them: what strftime wrote, for any time in any zone."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone, UTC

import pytest
from hypothesis import given, settings, strategies as st

from tracker.http import moments
from tracker.http.compat.sendcloud.views import UTC8, _local as sendcloud_time

_zones = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60))
# Years from 1001 (so that the time is past year 1000 in UTC, where strftime's %Y has 4 digits).
_moments = st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(9998, 12, 31), timezones=_zones)


@settings(max_examples=500, deadline=None)
@given(_moments)
def test_each_form_is_what_strftime_gave(moment):
    utc = moment.astimezone(UTC)
    milliseconds = f"{utc.microsecond // 1000:03d}"
    assert moments.written(moment, "seconds") == utc.strftime("%Y-%m-%dT%H:%M:%SZ")  # Elevate
    assert moments.written(moment, "milliseconds") == utc.strftime("%Y-%m-%dT%H:%M:%S.") + milliseconds + "Z"
    assert moments.written(moment, "milliseconds", "+0000") == (  # Infobip's reports
        utc.strftime("%Y-%m-%dT%H:%M:%S.") + milliseconds + "+0000")


def test_a_utc_time_is_written_as_is():
    assert moments.written(datetime(2024, 9, 2, 1, 34, 37, 342999, tzinfo=UTC), "milliseconds") == \
        "2024-09-02T01:34:37.342Z"


@pytest.fixture
def local_zone_not_utc(monkeypatch):
    """The process's local zone five and a half hours off UTC: a naive time read as local would show it."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@settings(max_examples=300, deadline=None)
@given(_moments)
def test_a_time_as_stored_naive_utc_is_written_as_the_same_time_aware(moment):
    # The list pages read times as stored (tracker.db.repository.stored_times): naive, in UTC.
    aware = moment.astimezone(UTC)
    stored = aware.replace(tzinfo=None)
    for timespec, zone in (("seconds", "Z"), ("milliseconds", "Z"), ("milliseconds", "+0000")):
        assert moments.written(stored, timespec, zone) == moments.written(aware, timespec, zone)
    assert sendcloud_time(stored) == sendcloud_time(aware) == aware.astimezone(UTC8).strftime("%Y-%m-%d %H:%M:%S")


def test_a_time_as_stored_is_utc_whatever_the_local_zone(local_zone_not_utc):
    stored = datetime(2024, 9, 2, 1, 34, 37, 342999)
    assert moments.written(stored, "milliseconds") == "2024-09-02T01:34:37.342Z"
    assert sendcloud_time(stored) == "2024-09-02 09:34:37"  # Beijing, UTC+8


def test_a_time_that_beijing_puts_past_year_9999_is_its_last_second():
    assert sendcloud_time(datetime(9999, 12, 31, 20, 0)) == "9999-12-31 23:59:59"
    assert sendcloud_time(datetime(9999, 12, 31, 20, 0, tzinfo=UTC)) == "9999-12-31 23:59:59"


def test_sendcloud_writes_a_year_before_1000_with_four_digits():
    # As ISO 8601 and SendCloud's yyyy-MM-dd pattern write it (strftime's %Y wrote "999").
    assert sendcloud_time(datetime(999, 5, 1, 3, 0)) == "0999-05-01 11:00:00"
