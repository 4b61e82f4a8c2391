"""The native lists render rows with plain functions: each, once written as the API writes its answers
(tracker.http.json_out), is exactly what its marshmallow schema dumps."""
from __future__ import annotations

import json
from datetime import datetime, UTC
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.db.repository.delivery_reads import HISTORY_COLUMNS, LISTED_COLUMNS
from tracker.http import json_out
from tracker.http.api.schemas import DeliverySchema, EventSchema, delivery_item, event_item

moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                       timezones=st.just(UTC))
text = st.text(max_size=40)
counts = st.integers(min_value=0, max_value=2**31)

deliveries = st.fixed_dictionaries({
    "id": st.integers(min_value=1, max_value=2**62), "message_id": text, "recipient": text,
    "provider": st.sampled_from(["ses", "sendgrid", "unknown"]), "submitted_at": st.none() | moments,
    "status": st.sampled_from(["PENDING", "SENT", "DELIVERED", "BOUNCED", "ACKNOWLEDGED"]),
    "status_at": st.none() | moments, "bounce_type": st.none() | text, "bounce_subtype": st.none() | text,
    "diagnostic": st.none() | text, "events_count": counts, "opens_count": counts,
    "first_opened_at": st.none() | moments, "last_opened_at": st.none() | moments, "clicks_count": counts,
    "first_clicked_at": st.none() | moments, "last_clicked_at": st.none() | moments,
    "last_clicked_link": st.none() | text, "created_at": moments, "updated_at": moments,
})


def written(item: dict):
    """What a client reads of ``item`` in an answer."""
    return json.loads(json_out.dumps(item))


def stored(value):
    """As the list query reads a value: times naive UTC (the schema is given them aware, as the ORM loads them)."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


@settings(max_examples=300)
@given(deliveries)
def test_a_delivery_item_is_what_the_schema_dumps(delivery):
    row = tuple(stored(delivery[name]) for name in LISTED_COLUMNS)
    assert written(delivery_item(row)) == DeliverySchema().dump(SimpleNamespace(**delivery))


def test_the_item_renders_every_field_the_schema_describes():
    assert set(delivery_item((None,) * len(LISTED_COLUMNS))) == set(DeliverySchema().fields)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=8)
events = st.fixed_dictionaries({
    "id": st.integers(min_value=1, max_value=2**62), "type": st.sampled_from(["delivered", "bounced", "opened"]),
    "status": st.none() | st.sampled_from(["DELIVERED", "BOUNCED"]), "occurred_at": moments,
    "bounce_type": st.none() | text, "bounce_subtype": st.none() | text, "diagnostic": st.none() | text,
    "details": st.none() | st.dictionaries(text, json_values, max_size=4),
    "inbox_event_id": st.none() | st.integers(min_value=1, max_value=2**62), "recorded_at": moments,
})


@settings(max_examples=300)
@given(events)
def test_an_event_item_is_what_the_schema_dumps(event):
    row = tuple(stored(event[name]) for name in HISTORY_COLUMNS)
    assert written(event_item(row)) == EventSchema().dump(SimpleNamespace(**event))


def test_the_event_item_renders_every_field_the_schema_describes():
    assert set(event_item((None,) * len(HISTORY_COLUMNS))) == set(EventSchema().fields)
