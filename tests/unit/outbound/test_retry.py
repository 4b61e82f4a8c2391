"""The retry policy: what each answer means, how long to wait, when to give up."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tracker.outbound.http import Response
from tracker.outbound.retry import (
    Outcome,
    classify,
    next_delay,
    should_disable,
    should_park,
)


def answer(status: int | None, error: str | None = None) -> Response:
    return Response(status=status, latency_ms=12.5, error=error, body_excerpt=b"")


@pytest.mark.parametrize(
    "status, error, outcome",
    [
        (200, None, Outcome.DELIVERED),
        (201, None, Outcome.DELIVERED),
        (202, None, Outcome.DELIVERED),
        (204, None, Outcome.DELIVERED),
        (299, None, Outcome.DELIVERED),
        (200, "timed out", Outcome.DELIVERED),  # the body read failed, but the answer was yes
        (None, "timed out", Outcome.RETRY),
        (None, "connection refused", Outcome.RETRY),
        (None, "TLS certificate verification failed: Hostname mismatch", Outcome.RETRY),
        (408, None, Outcome.RETRY),
        (429, None, Outcome.RETRY),
        (500, None, Outcome.RETRY),
        (502, None, Outcome.RETRY),
        (503, None, Outcome.RETRY),
        (504, None, Outcome.RETRY),
        (599, None, Outcome.RETRY),
        (301, None, Outcome.PARK),
        (302, None, Outcome.PARK),
        (307, None, Outcome.PARK),
        (400, None, Outcome.PARK),
        (401, None, Outcome.PARK),
        (403, None, Outcome.PARK),
        (404, None, Outcome.PARK),
        (410, None, Outcome.PARK),
        (413, None, Outcome.PARK),
        (422, None, Outcome.PARK),
        (101, None, Outcome.PARK),
        (600, None, Outcome.PARK),
    ],
)
def test_classify(status, error, outcome):
    assert classify(answer(status, error)) is outcome


@pytest.mark.parametrize(
    "attempt, base_seconds",
    [(1, 10), (2, 20), (3, 40), (4, 80), (8, 1280), (9, 2560), (10, 3600), (11, 3600), (500, 3600)],
)
def test_delay_doubles_up_to_an_hour_with_half_to_one_and_a_half_jitter(attempt, base_seconds):
    rng = random.Random(1234)
    delays = [next_delay(attempt, rng) for _ in range(200)]

    assert all(timedelta(seconds=base_seconds * 0.5) <= d <= timedelta(seconds=base_seconds * 1.5) for d in delays)
    # Jitter really spreads them: both halves of the range are used.
    assert min(delays) < timedelta(seconds=base_seconds * 0.75)
    assert max(delays) > timedelta(seconds=base_seconds * 1.25)


def test_delay_is_reproducible_with_a_seeded_rng():
    first = [next_delay(n, random.Random(7)) for n in range(1, 6)]
    second = [next_delay(n, random.Random(7)) for n in range(1, 6)]

    assert first == second


def test_delay_extremes_of_the_jitter():
    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def uniform(self, a: float, b: float) -> float:
            return a + (b - a) * self.value

    assert next_delay(1, Fixed(0.0)) == timedelta(seconds=5)
    assert next_delay(1, Fixed(1.0)) == timedelta(seconds=15)
    assert next_delay(20, Fixed(1.0)) == timedelta(minutes=90)


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt):
    with pytest.raises(ValueError, match="start at 1"):
        next_delay(attempt, random.Random(0))


T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "age, max_age, park",
    [
        (timedelta(0), None, False),
        (timedelta(hours=23, minutes=59), None, False),
        (timedelta(hours=24), None, True),
        (timedelta(days=3), None, True),
        (timedelta(hours=2), timedelta(hours=1), True),
        (timedelta(minutes=30), timedelta(hours=1), False),
    ],
)
def test_should_park(age, max_age, park):
    kwargs = {} if max_age is None else {"max_age": max_age}

    assert should_park(T0, T0 + age, **kwargs) is park


@pytest.mark.parametrize(
    "failing_since, now, park",
    [
        (None, T0, False),
        (T0, T0, False),
        (T0, T0 + timedelta(hours=71, minutes=59), False),
        (T0, T0 + timedelta(hours=72), True),
        (T0, T0 + timedelta(days=10), True),
    ],
)
def test_should_disable(failing_since, now, park):
    assert should_disable(failing_since, now, disable_after=timedelta(hours=72)) is park
