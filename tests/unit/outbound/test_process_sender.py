"""One webhook sender per process, handing over to its successor (the loop itself is faked)."""
from __future__ import annotations

import pytest

from tracker.outbound import sender


@pytest.fixture
def runs(monkeypatch):
    """sender.run replaced by one that stops at once (calling on_stop, as the real one does)."""
    calls = []

    def run(services, settings, *, budget, stop, on_stop):
        calls.append(budget)
        on_stop()
        return 1

    monkeypatch.setattr(sender, "run", run)
    return calls


def test_the_successor_queued_at_hand_over_may_start_in_this_very_process(runs):
    started = []

    def hand_over():  # Celery may give the queued task to another thread of this process at once
        started.append(sender.run_as_process_sender(None, None, budget=1, hand_over=lambda: None))

    assert sender.run_as_process_sender(None, None, budget=10, hand_over=hand_over) == 1
    assert started == [1]  # it ran: the lock was free when it was queued
    assert not sender._ACTIVE.locked()


def test_a_second_sender_in_the_same_process_returns_at_once(runs):
    with sender._ACTIVE:
        assert sender.run_as_process_sender(None, None, budget=10, hand_over=lambda: None) == 0
    assert runs == []


def test_when_the_successor_cannot_be_queued_the_sender_carries_on(runs):
    def broker_away():
        raise ConnectionError("redis is away")

    stops = iter([False, False, True])
    sent = sender.run_as_process_sender(None, None, budget=10, hand_over=broker_away, stop=lambda: next(stops))

    assert (sent, len(runs)) == (3, 3)
    assert not sender._ACTIVE.locked()
