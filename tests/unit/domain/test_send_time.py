"""tracker.domain.submitted_at and milestones: a delivery's send time, from the provider, never after its outcome."""
from datetime import datetime, timedelta, UTC

from hypothesis import given
from hypothesis import strategies as st

from tracker.domain import EventType, NormalizedEvent, milestones, submitted_at

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: EventType, seconds: float, sent: float | None = None, key: str = "k") -> NormalizedEvent:
    return NormalizedEvent(provider="ses", message_id="m", recipient="r@example.com", type=kind,
                           occurred_at=at(seconds), event_key=f"{kind.value}:{key}",
                           sent_at=at(sent) if sent is not None else None)


def test_the_providers_send_time_wins_over_the_registration():
    assert submitted_at(at(5), at(1), at(9)) == at(5)


def test_registration_stands_in_when_no_provider_said_when_it_sent():
    assert submitted_at(None, at(1), at(9)) == at(1)
    assert submitted_at(None, at(1), None) == at(1)  # registered, nothing heard yet


def test_the_first_event_stands_in_when_nothing_else_is_known():
    assert submitted_at(None, None, at(9)) == at(9)
    assert submitted_at(None, None, None) is None


def test_never_after_the_first_event():
    assert submitted_at(at(20), None, at(9)) == at(9)  # a provider clock ahead of its own outcome
    assert submitted_at(None, at(30), at(9)) == at(9)  # registered after the events arrived


def test_milestones_take_the_earliest_stated_send_time_and_the_first_event():
    found = milestones([event(EventType.BOUNCED, 9, sent=2, key="b"), event(EventType.DELIVERED, 4, sent=3, key="d"),
                        event(EventType.ACKNOWLEDGED, 1, key="a")])
    assert found.sent_at == at(2)
    assert found.delivered_at == at(4)
    assert found.first_event_at == at(4)  # an acknowledgement is the application's act, not an outcome


@given(st.lists(st.tuples(st.sampled_from([EventType.SENT, EventType.DELIVERED, EventType.BOUNCED]),
                          st.integers(0, 100), st.none() | st.integers(0, 100)), min_size=1, max_size=6),
       st.none() | st.integers(0, 100), st.randoms())
def test_the_send_time_is_the_same_in_any_order_and_never_after_an_event(raw, registered, random):
    events = [event(kind, seconds, sent, key=str(n)) for n, (kind, seconds, sent) in enumerate(raw)]
    shuffled = events[:]
    random.shuffle(shuffled)
    first, again = milestones(events), milestones(shuffled)
    registration = at(registered) if registered is not None else None
    sent = submitted_at(first.sent_at, registration, first.first_event_at)
    assert sent == submitted_at(again.sent_at, registration, again.first_event_at)
    assert all(sent <= e.occurred_at for e in events)
