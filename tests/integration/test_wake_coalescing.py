"""Receivers' wake-ups on real Redis: at most one round trip per process per interval, and none lost."""
from __future__ import annotations

import time

import redis

from tracker.adapters.wakeup import PROCESS_TASK, WAKE_FLAG, CeleryWaker


class Broker:
    """Celery's send_task, recorded (the broker is not what is under test)."""

    def __init__(self):
        self.sent: list[str] = []

    def send_task(self, name):
        self.sent.append(name)


class CountingWaker(CeleryWaker):
    """Counts the round trips to Redis the waker makes."""

    asked = 0

    @property
    def redis(self):
        self.asked += 1
        return super().redis


def settle(broker: Broker, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while len(broker.sent) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_burst_of_wake_ups_costs_two_round_trips_to_redis(redis_url):
    broker = Broker()
    waker = CountingWaker(broker, redis_url, every=0.2)

    results = [waker.wake() for _ in range(200)]
    time.sleep(0.5)  # past the interval: the deferred wake-up found the flag held, as a live drain holds it

    assert results[0] is True and not any(results[1:])
    assert waker.asked == 2  # the first call's, and one at the end of the interval for the other 199
    assert broker.sent == [PROCESS_TASK]


def test_an_event_committed_as_the_drain_ends_still_wakes_one(redis_url):
    broker = Broker()
    waker = CeleryWaker(broker, redis_url, every=0.2)
    assert waker.wake() is True

    redis.Redis.from_url(redis_url).delete(WAKE_FLAG)  # the drain found the inbox empty and let go
    assert waker.wake() is False  # inside the interval: deferred, not dropped
    settle(broker, 2)

    assert broker.sent == [PROCESS_TASK, PROCESS_TASK]


def test_wake_ups_further_apart_than_the_interval_each_ask_redis(redis_url):
    broker = Broker()
    waker = CeleryWaker(broker, redis_url, every=0.05)
    flag = redis.Redis.from_url(redis_url)

    for _ in range(3):
        flag.delete(WAKE_FLAG)
        assert waker.wake() is True
        time.sleep(0.06)

    assert broker.sent == [PROCESS_TASK] * 3
