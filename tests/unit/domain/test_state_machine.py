"""The state machine: status is a pure function of the history, whatever the order or repetition."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain import (
    INITIAL,
    BounceType,
    EventType,
    NormalizedEvent,
    Status,
    fold,
    history,
    merge,
    normalize_address,
    transitions,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def event(kind: EventType, seconds: float = 0, key: str | None = None, **extra) -> NormalizedEvent:
    return NormalizedEvent(
        provider="ses", message_id="m", recipient="r@example.com", type=kind,
        occurred_at=T0 + timedelta(seconds=seconds), event_key=key or f"{kind.value}:{seconds}", **extra,
    )


def test_no_event_means_pending():
    assert fold([]).status is Status.PENDING


@pytest.mark.parametrize(
    "kinds, expected",
    [
        ([EventType.SENT, EventType.DELIVERED], Status.DELIVERED),
        ([EventType.DELIVERED, EventType.DELAYED], Status.DELIVERED),  # a late delay never regresses
        ([EventType.DELAYED, EventType.SENT], Status.RETRY),
        ([EventType.DELIVERED, EventType.BOUNCED], Status.BOUNCED),  # asynchronous bounce wins
        ([EventType.BOUNCED, EventType.COMPLAINED], Status.COMPLAINT),
        ([EventType.DELIVERED, EventType.OPENED], Status.OPENED),
        ([EventType.DELIVERED, EventType.CLICKED], Status.OPENED),
        ([EventType.SENT, EventType.REJECTED], Status.ERROR),
        ([EventType.SENT, EventType.RENDERING_FAILED], Status.ERROR),
        ([EventType.DELIVERED, EventType.UNSUBSCRIBED], Status.DELIVERED),  # changes no status
        ([EventType.UNSUBSCRIBED], Status.PENDING),
    ],
)
def test_precedence_of_statuses(kinds, expected):
    forwards = fold(event(kind, n) for n, kind in enumerate(kinds))
    backwards = fold(event(kind, n) for n, kind in reversed(list(enumerate(kinds))))
    assert forwards.status is backwards.status is expected


def test_equal_rank_takes_the_latest_then_the_event_key():
    transient = event(EventType.BOUNCED, 5, "b1", bounce_type=BounceType.TRANSIENT)
    permanent = event(EventType.BOUNCED, 9, "b2", bounce_type=BounceType.PERMANENT)
    assert fold([permanent, transient]).bounce_type is BounceType.PERMANENT
    tie_a = event(EventType.BOUNCED, 5, "a", diagnostic="A")
    tie_b = event(EventType.BOUNCED, 5, "b", diagnostic="B")
    assert fold([tie_b, tie_a]).diagnostic == fold([tie_a, tie_b]).diagnostic == "B"


def test_winner_carries_its_bounce_details():
    state = fold([event(EventType.SENT), event(EventType.BOUNCED, 1, bounce_type=BounceType.PERMANENT,
                                               bounce_subtype="NoEmail", diagnostic="smtp; 550")])
    assert (state.bounce_type, state.bounce_subtype, state.diagnostic) == (BounceType.PERMANENT, "NoEmail", "smtp; 550")


def test_an_acknowledged_delivery_carries_the_failure_it_acknowledged_whatever_the_order():
    bounce = event(EventType.BOUNCED, 1, "b", bounce_type=BounceType.PERMANENT, bounce_subtype="General",
                   diagnostic="smtp; 550 no such user")
    rejected = event(EventType.REJECTED, 2, "r", diagnostic="bad content")
    acknowledged = event(EventType.ACKNOWLEDGED, 3, "a")
    history_ = [event(EventType.SENT, 0, "s"), rejected, bounce, acknowledged]

    for order in (history_, list(reversed(history_))):
        state = fold(order)
        assert state.status is Status.ACKNOWLEDGED
        # BOUNCED outranks ERROR: the acknowledged failure is the bounce, with its facts.
        shown = state.shown
        assert (shown.status, shown.type, shown.bounce_type, shown.bounce_subtype, shown.diagnostic,
                shown.status_at) == (
            Status.BOUNCED, EventType.BOUNCED, BounceType.PERMANENT, "General", "smtp; 550 no such user",
            bounce.occurred_at)


def test_a_delivery_that_never_failed_has_no_failure_and_shows_itself():
    state = fold([event(EventType.SENT, 0), event(EventType.DELIVERED, 1)])
    assert state.failure is None
    assert state.shown is state and state.type is EventType.DELIVERED


def test_a_failed_delivery_shows_itself_and_remembers_its_failure_for_an_acknowledgement():
    state = fold([event(EventType.DELIVERED, 0), event(EventType.COMPLAINED, 1, "c")])
    assert state.shown is state
    assert (state.failure.status, state.failure.precedence) == (Status.COMPLAINT, state.precedence)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        NormalizedEvent("ses", "m", "r", EventType.SENT, datetime(2026, 1, 1), "k")


@pytest.mark.parametrize("raw", ["Jane <Jane@Example.COM>", " jane@example.com ", "JANE@EXAMPLE.COM"])
def test_addresses_normalize_to_one_key(raw):
    assert normalize_address(raw) == "jane@example.com"


# --- the property the whole tracker rests on ----------------------------------------------

kinds = st.sampled_from(list(EventType))
events = st.lists(
    st.builds(
        lambda kind, second, n, bounce: event(
            kind, second, key=f"k{n}",
            bounce_type=bounce if kind is EventType.BOUNCED else None,
            diagnostic=f"d{n}",
        ),
        kinds, st.integers(0, 5), st.integers(0, 6), st.sampled_from(list(BounceType)),
    ),
    min_size=1, max_size=12,
    unique_by=lambda e: e.event_key,  # one key names one event, as parsers guarantee
)


@settings(max_examples=300)
@given(events=events, data=st.data())
def test_any_permutation_and_duplication_gives_the_same_status_and_history(events, data):
    arrivals = data.draw(st.lists(st.sampled_from(events), min_size=len(events), max_size=3 * len(events)))
    arrivals += events  # every event arrives at least once
    arrivals = data.draw(st.permutations(arrivals))

    assert fold(arrivals) == fold(events)
    assert history(arrivals) == history(events)


@settings(max_examples=200)
@given(events=events, split=st.integers(0, 12))
def test_incremental_merge_equals_recomputing_from_the_whole_history(events, split):
    """What the worker does batch by batch (merge onto a stored state) equals a rebuild."""
    stored = fold(events[:split])
    for e in events[split:]:
        stored = merge(stored, e)
    assert stored == fold(events) == fold(events, INITIAL)


# --- the status changes subscribers are sent ---------------------------------------------


def test_each_status_change_of_a_batch_is_a_transition_in_arrival_order():
    """The issue's finding: a Delivery and a Complaint applied together are two changes, not one."""
    delivered, complained = event(EventType.DELIVERED, 1), event(EventType.COMPLAINED, 2)

    changes = transitions(fold([event(EventType.SENT)]), [delivered, complained])

    assert [c.status for c in changes] == [Status.DELIVERED, Status.COMPLAINT]
    assert changes[-1] == fold([complained, delivered])
    # In the other order the complaint outranks the delivery already: one change, as one by one.
    assert [c.status for c in transitions(INITIAL, [complained, delivered])] == [Status.COMPLAINT]


def test_a_new_delivery_changes_even_to_pending_and_events_of_the_same_status_change_nothing():
    unsubscribed = event(EventType.UNSUBSCRIBED, 0)
    first, second = (event(EventType.BOUNCED, n, f"b{n}", bounce_type=BounceType.TRANSIENT) for n in (1, 2))

    assert [c.status for c in transitions(None, [unsubscribed])] == [Status.PENDING]
    assert transitions(INITIAL, [unsubscribed]) == []
    assert [c.status for c in transitions(None, [first, second])] == [Status.BOUNCED]
    assert transitions(fold([first]), [second]) == []
    # Each change carries the facts of the event that made it.
    [change] = transitions(None, [event(EventType.BOUNCED, 3, "b3", bounce_type=BounceType.PERMANENT,
                                        diagnostic="smtp; 550")])
    assert (change.bounce_type, change.diagnostic, change.status_at) == (BounceType.PERMANENT, "smtp; 550",
                                                                         T0 + timedelta(seconds=3))


@settings(max_examples=300)
@given(events=events, cuts=st.lists(st.integers(0, 12), max_size=4), start=st.sampled_from([None, "initial", "sent"]))
def test_any_split_into_batches_gives_the_same_transitions_as_one_by_one(events, cuts, start):
    """Batches chain: applying each batch onto the state the previous ones left gives the same
    changes, in the same order, as the events arriving one at a time."""
    state = {None: None, "initial": INITIAL, "sent": fold([event(EventType.SENT, -1, "s")])}[start]
    one_by_one, running = [], state
    for e in events:
        one_by_one += transitions(running, [e])
        running = merge(running or INITIAL, e)

    batched, running = [], state
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    for low, high in zip(bounds, bounds[1:], strict=False):
        batch = events[low:high]
        batched += transitions(running, batch)
        running = fold(batch, running or INITIAL)

    assert batched == one_by_one == transitions(state, events)
    assert running == fold(events, state or INITIAL)
    assert all(a.status.rank < b.status.rank for a, b in zip(batched, batched[1:], strict=False))  # statuses only climb


@pytest.mark.parametrize("raw", ["not an email address", "<>", "@example.com", "jane@", "", "jane doe@example.com"])
def test_non_addresses_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_address(raw)
