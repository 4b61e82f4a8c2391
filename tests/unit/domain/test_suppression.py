"""Which soft bounce puts an address on the suppression list: the earliest that reaches the limit in its window."""
from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, UTC

from tracker.domain.suppression import SoftBouncePolicy, suppressing_soft_bounce

DAY = timedelta(days=1)
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Bounce:
    occurred_at: datetime
    event_key: str


def _at(days: float, key: str = "k") -> Bounce:
    return Bounce(START + days * DAY, key)


def test_the_bounce_that_reaches_the_limit_within_the_window_suppresses():
    policy = SoftBouncePolicy(limit=2, window=30 * DAY)
    assert suppressing_soft_bounce([_at(0, "a")], policy) is None
    assert suppressing_soft_bounce([_at(0, "a"), _at(31, "b")], policy) is None
    assert suppressing_soft_bounce([_at(0, "a"), _at(30, "b")], policy) == _at(30, "b")  # the window's start counts
    assert suppressing_soft_bounce([_at(0, "a"), _at(31, "b"), _at(40, "c")], policy) == _at(40, "c")


def test_the_earliest_such_bounce_whatever_the_order_given():
    policy = SoftBouncePolicy(limit=3, window=10 * DAY)
    bounces = [_at(0, "a"), _at(20, "b"), _at(21, "c"), _at(22, "d"), _at(23, "e"), _at(23, "f")]
    for order in itertools.permutations(bounces):
        assert suppressing_soft_bounce(order, policy) == _at(22, "d")


def test_a_limit_of_zero_never_suppresses():
    assert suppressing_soft_bounce([_at(0), _at(0, "j")], SoftBouncePolicy(limit=0)) is None
