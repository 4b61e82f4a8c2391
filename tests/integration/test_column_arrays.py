"""The worker's batch writes send PostgreSQL one array per column (tracker.db.repository.column_arrays)
and SQLite multi-row VALUES: the same rows must be stored either way, whatever the values hold."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DataError

from tracker.db import migrate, repository
from tracker.db.engine import Database
from tracker.db.models import Delivery, DeliveryEvent, Message
from tracker.db.repository.deliveries import DeliveryChange
from tracker.domain import BounceType, DeliveryState, Engagement, EventType, Milestones, Outcome, Status
from tracker.providers.ses.parse import MessageFacts

pytestmark = pytest.mark.integration

EAST = timezone(timedelta(hours=5, minutes=30))
SENT = datetime(2026, 11, 22, 12, 0, 1, 250000, tzinfo=UTC)


def history_rows(account_id: int) -> list[dict]:
    """History rows whose values an array could mangle: quotes, braces, commas and backslashes (an
    array literal's own syntax), the word NULL, empty strings, NULLs in every nullable column, times
    given in another zone, JSON with nested, non-ASCII and integers past 64 bits."""
    awkward = ['a "quoted" {brace}, comma', "back\\slash", "NULL", "", "ünïcødé ✉", "a'b"]
    rows = []
    for n, value in enumerate(awkward):
        rows.append({
            "account_id": account_id, "message_id": f"m-{n}", "recipient": f"r{n}@example.com",
            "event_key": f"bounce:{value}", "type": "Bounce", "status": None if n % 2 else "BOUNCED",
            "occurred_at": SENT.astimezone(EAST) + timedelta(seconds=n),
            "bounce_type": None if n % 2 else "Permanent", "bounce_subtype": value or None,
            "diagnostic": value, "details": {"value": value, "nested": {"list": [1, None, value]}, "big": 2 ** 70 + n},
            # A JSON value may be a list, first in its array too (tracker.db.repository.column_arrays).
            **({"details": [value, {"list": [1, 2]}]} if n == 0 else {}),
            "sent_at": None if n % 3 else SENT, "smtp_action": None, "smtp_status": value,
            "inbox_event_id": None, "recorded_at": SENT + timedelta(minutes=n),
        })
    return rows


def message_rows(account_id: int) -> list[tuple[int, MessageFacts]]:
    return [(account_id, MessageFacts("m-0", "Sender <s@example.com>", 'subject "1", {x}',
                                      {"campaign": ["a,b", "NULL"]})),
            (account_id, MessageFacts("m-1", None, None, {})),
            (account_id, MessageFacts("m-2", "s@example.com", "\\", {"ключ": "значение"}))]


def later_message_rows(account_id: int) -> list[tuple[int, MessageFacts]]:
    """The same messages learning more: gaps are filled, what was known stays, tags add keys."""
    return [(account_id, MessageFacts("m-1", "late@example.com", "late", {"campaign": "late"})),
            (account_id, MessageFacts("m-0", "other@example.com", None, {"campaign": "other", "new": "1"}))]


def delivery_changes(account_id: int, now: datetime) -> list[list[DeliveryChange]]:
    """Two merges: three new deliveries, then one overtaken by a failure, one by a weaker status
    (kept as it was), one learning its engagement."""
    def change(message_id, recipient, state, **more):
        return DeliveryChange(account_id=account_id, provider="ses", message_id=message_id, recipient=recipient,
                              state=state, new_events=1, **more)
    sent = DeliveryState(Status.SENT, "1", SENT, EventType.SENT)
    bounce = Outcome(Status.BOUNCED, "5", SENT + timedelta(minutes=5), EventType.BOUNCED, BounceType.PERMANENT,
                     "General", 'smtp; 550 "no such user", {x}', "failed", "5.1.1")
    return [
        [change("m-0", "a@example.com", sent, milestones=Milestones(sent_at=SENT.astimezone(EAST))),
         change("m-0", "b@example.com", sent, registered_at=SENT - timedelta(seconds=1)),
         change("m-1", "c@example.com", DeliveryState(Status.DELIVERED, "3", SENT, EventType.DELIVERED))],
        [change("m-0", "a@example.com", DeliveryState(*dataclasses.astuple(bounce), failure=bounce)),
         change("m-1", "c@example.com", sent),
         change("m-0", "b@example.com", DeliveryState(Status.OPENED, "2", SENT, EventType.OPENED),
                engagement=Engagement(opens=2, first_opened_at=SENT, last_opened_at=SENT + timedelta(hours=1)))],
    ]


def stored(db: Database, rows, messages, later_messages, zone: str | None = None) -> tuple[list, ...]:
    """Write the rows (twice: the second time each is already known, and in an order of their own),
    the messages (then more facts of the same messages) and two merges of deliveries, with the
    session's TimeZone set to ``zone``, and read back what the tables hold."""
    with db.transaction() as session:
        account_id = repository.create_account(session, "arrays").id
    order = [3, 0, 5, 1, 4, 2]
    with db.transaction() as session:
        if zone:  # an aware time the driver passed on as such would be stored in this zone's wall time
            session.execute(text(f"SET LOCAL TimeZone TO '{zone}'"))
        first = repository.insert_delivery_events(session, [rows(account_id)[n] for n in order])
        again = repository.insert_delivery_events(session, rows(account_id))
        repository.record_messages(session, messages(account_id), SENT)
        repository.record_messages(session, later_messages(account_id), SENT + timedelta(hours=1))
        merged = [sorted((m.message_id, m.recipient, m.status, m.previous_status, m.status_sequence)
                         for m in repository.merge_deliveries(session, changes, SENT + timedelta(hours=n)))
                  for n, changes in enumerate(delivery_changes(account_id, SENT))]
    assert again == set()  # known already: ON CONFLICT DO NOTHING, none returned
    history_columns = [c for c in DeliveryEvent.__table__.c if c.name not in ("id", "account_id")]
    message_columns = [c for c in Message.__table__.c if c.name not in ("id", "account_id")]
    delivery_columns = [c for c in Delivery.__table__.c if c.name not in ("id", "account_id")]
    with db.transaction() as session:
        history = [tuple(r) for r in session.execute(select(*history_columns).order_by(DeliveryEvent.message_id))]
        inserted_in = list(session.scalars(select(DeliveryEvent.message_id).order_by(DeliveryEvent.id)))
        message = [tuple(r) for r in session.execute(select(*message_columns).order_by(Message.message_id))]
        deliveries = [tuple(r) for r in session.execute(select(*delivery_columns).order_by(Delivery.message_id,
                                                                                           Delivery.recipient))]
    assert inserted_in == [f"m-{n}" for n in order]  # in the order given: concurrent workers lock in one order
    return history, message, {identity[1:] for identity in first}, merged, deliveries


def test_postgresql_stores_what_sqlite_stores(pg_db, tmp_path):
    sqlite = Database(f"sqlite:///{tmp_path}/tracker.db")
    migrate.upgrade(sqlite.engine)
    try:
        on_sqlite = stored(sqlite, history_rows, message_rows, later_message_rows)
    finally:
        sqlite.dispose()
    sent: list[str] = []
    event.listen(pg_db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *_: sent.append(statement) if statement.startswith("INSERT") else None)
    on_postgresql = stored(pg_db, history_rows, message_rows, later_message_rows, zone="America/New_York")

    assert on_postgresql == on_sqlite
    # PostgreSQL was sent one array per column, not VALUES (SQLite's way).
    batch_writes = [s for s in sent if s.split()[2] in ("delivery_events", "messages", "deliveries")]
    assert len(batch_writes) == 6 and all("unnest(" in s and "VALUES" not in s for s in batch_writes)
    history, messages, inserted, merged, deliveries = on_postgresql
    assert len(history) == 6 and len(inserted) == 6
    # Times given in another zone are stored as the same moment (each element went through its
    # column type's bind processor), NULLs stay NULL and the word NULL stays a word.
    assert history[0][5] == SENT and history[1][5] == SENT + timedelta(seconds=1)
    assert [row[6] for row in history] == ["Permanent", None] * 3
    assert history[2][7] == "NULL" and history[3][7] is None and history[3][8] == ""
    assert history[1][9]["big"] == 2 ** 70 + 1 and history[4][9]["value"] == "ünïcødé ✉"
    assert history[0][9] == ['a "quoted" {brace}, comma', {"list": [1, 2]}]
    assert messages[0][:2] == ("m-0", "Sender <s@example.com>")
    assert messages[0][3] == {"campaign": ["a,b", "NULL"], "new": "1"}
    assert messages[1][1:3] == ("late@example.com", "late")
    # (message, recipient, status, before, sequence): a weaker status changes nothing.
    assert merged[1] == [("m-0", "a@example.com", "BOUNCED", "SENT", 2), ("m-0", "b@example.com", "OPENED", "SENT", 2),
                         ("m-1", "c@example.com", "DELIVERED", "DELIVERED", 1)]
    assert [row[3] for row in deliveries] == ["BOUNCED", "OPENED", "DELIVERED"]  # status: the winners


def test_a_value_longer_than_its_column_is_refused_not_cut_short(pg_db):
    """VARCHAR(n)[] in an explicit cast would truncate; the rows' arrays carry no length, so the
    INSERT refuses the value as it refused a VALUES row, and the batch's poison isolation takes over."""
    with pg_db.transaction() as session:
        account_id = repository.create_account(session, "long").id
    row = history_rows(account_id)[0] | {"message_id": "m" * 301}
    with pytest.raises(DataError), pg_db.transaction() as session:
        repository.insert_delivery_events(session, [row])
    with pg_db.transaction() as session:
        assert session.scalar(select(DeliveryEvent.id)) is None
