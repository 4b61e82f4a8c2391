"""A delivery row's columns read back as the DeliveryState that was written to them.

The worker writes a state with outcome_values; every API reads it with state_of. The two
must agree field by field (a column read into the wrong field shows a wrong status or
time in every API), for any state, with or without a failure kept beside it.
"""
from __future__ import annotations

from datetime import datetime, UTC
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from tracker.db.repository.deliveries import OUTCOME_COLUMN_NAMES, outcome_values, state_of
from tracker.domain import BounceType, DeliveryState, EventType, Outcome, Status

_texts = st.none() | st.text(max_size=20)
_outcomes = st.builds(
    Outcome,
    status=st.sampled_from(Status),
    precedence=st.text(min_size=1, max_size=20),
    status_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    type=st.none() | st.sampled_from(EventType),
    bounce_type=st.none() | st.sampled_from(BounceType),
    bounce_subtype=_texts, diagnostic=_texts, smtp_action=_texts, smtp_status=_texts,
)


def _row(state: DeliveryState) -> SimpleNamespace:
    """The delivery row holding ``state``, its enums stored as their values (as the database gives them)."""
    return SimpleNamespace(**outcome_values(state, 0), **outcome_values(state.failure, 1))


@settings(max_examples=300, deadline=None)
@given(_outcomes, st.none() | _outcomes)
def test_a_written_state_reads_back_whole(outcome, failure):
    state = DeliveryState(**vars(outcome), failure=failure)
    row = _row(state)
    assert set(vars(row)) == set(OUTCOME_COLUMN_NAMES)
    read = state_of(row)
    assert read == state
    assert type(read.status) is Status and (read.failure is None or type(read.failure.status) is Status)


def test_a_row_registered_before_any_event_reads_with_an_empty_precedence():
    row = SimpleNamespace(**{**dict.fromkeys(OUTCOME_COLUMN_NAMES), "status": "PENDING"})
    assert state_of(row) == DeliveryState(status=Status.PENDING, precedence="")


def test_a_stored_status_that_is_no_status_is_an_error_not_a_guess():
    row = _row(DeliveryState(status=Status.SENT, precedence="1", status_at=datetime(2026, 1, 1, tzinfo=UTC)))
    row.status = "LOST"
    with pytest.raises(ValueError, match="LOST"):
        state_of(row)
