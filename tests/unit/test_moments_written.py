"""Times written as the compatible APIs show them: what strftime wrote, for any time in any zone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, UTC

from hypothesis import given, settings, strategies as st

from tracker.http import moments

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
