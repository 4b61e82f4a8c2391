"""The bounded wait for the subscription handshake, on a fake clock."""
from __future__ import annotations

from tracker.adapters.ses_setup.confirmation import Check, wait_for_confirmation
from tracker.adapters.ses_setup.links import Handshake


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def answers(*confirmed: bool):
    results = iter(confirmed)
    return lambda: Check(next(results), Handshake())


def test_returns_as_soon_as_sns_says_confirmed_and_reports_progress_meanwhile():
    clock, progress = FakeClock(), []
    last = wait_for_confirmation(answers(False, False, False, True), timeout=60, interval=0.5, max_interval=1,
                                 on_progress=lambda elapsed, check: progress.append(elapsed),
                                 clock=clock, sleep=clock.sleep)
    assert last.confirmed
    assert progress == [0.0, 0.5, 1.5]  # checked after 0.5 s, then every second at most
    assert clock.now == 2.5


def test_gives_up_at_the_timeout_with_the_last_check():
    clock = FakeClock()
    last = wait_for_confirmation(lambda: Check(False, Handshake(inbox_state="pending")), timeout=5, interval=2,
                                 max_interval=2, clock=clock, sleep=clock.sleep)
    assert not last.confirmed and last.handshake.inbox_state == "pending"
    assert clock.slept == [2, 2, 1]  # never sleeps past the bound


def test_a_zero_timeout_checks_once():
    clock, calls = FakeClock(), []

    def check():
        calls.append(1)
        return Check(False, Handshake())

    assert not wait_for_confirmation(check, timeout=0, clock=clock, sleep=clock.sleep).confirmed
    assert calls == [1] and clock.slept == []
