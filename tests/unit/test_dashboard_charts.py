"""The dashboard's SVG bars: one per hour or day, stacked per provider, heights proportional to counts."""
from datetime import datetime, timedelta, UTC

from tracker.http.dashboard import charts
from tracker.http.dashboard.received import by_day

NOW = datetime(2026, 12, 4, 10, 37, 12, tzinfo=UTC)


def test_buckets_end_with_the_hour_or_day_holding_now():
    hours = charts.buckets(NOW, timedelta(hours=1), 24)
    assert (len(hours), hours[-1], hours[0]) == (24, NOW.replace(minute=0, second=0), datetime(
        2026, 12, 3, 11, tzinfo=UTC))
    days = charts.buckets(NOW, timedelta(days=1), 30)
    assert (days[-1], days[0]) == (datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))


def test_bars_stack_providers_and_scale_to_the_busiest_bucket():
    hours = charts.buckets(NOW, timedelta(hours=1), 3)
    chart = charts.stacked(hours, {("ses", hours[0]): 2, ("mailgun", hours[0]): 2, ("ses", hours[2]): 2}, "%H:00", 1)
    full = chart.height - chart.top - chart.bottom
    first, empty, last = chart.bars
    assert chart.peak == 4 and [s.series for s in first.segments] == ["mailgun", "ses"]
    assert [s.height for s in first.segments] == [full / 2, full / 2]
    assert first.segments[1].y + first.segments[1].height == first.segments[0].y  # ses sits on mailgun
    assert first.segments[0].y + first.segments[0].height == chart.height - chart.bottom  # from the axis up
    assert empty.segments == () and empty.title == "09:00: 0 (none)"
    assert last.segments[0].height == full / 2 and last.title == "10:00: 2 (ses 2)"
    assert [(name, total) for name, _, total in chart.legend] == [("mailgun", 2), ("ses", 4)]


def test_days_are_the_sums_of_their_hours():
    day = datetime(2026, 12, 4, tzinfo=UTC)
    hourly = {("ses", day.replace(hour=1)): 2, ("ses", day.replace(hour=23)): 3, ("ses", day - timedelta(hours=1)): 1}
    assert by_day(hourly) == {("ses", day): 5, ("ses", day - timedelta(days=1)): 1}
