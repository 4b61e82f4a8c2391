"""Offset pages continued from a mark hold exactly the rows OFFSET would give, in every ordering."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, UTC

import pytest
from sqlalchemy import select

from tracker.db import repository
from tracker.http.page_marks import LocalMarks, OffsetPager, RedisMarks, key, query_identity
from tracker.db.models import Delivery

ORDERINGS = {
    "id": [(Delivery.id, False)],
    "created desc": [(Delivery.created_at, True), (Delivery.id, True)],
    "updated asc": [(Delivery.updated_at, False), (Delivery.id, False)],
    "recipient asc, created desc": [(Delivery.recipient, False), (Delivery.created_at, True), (Delivery.id, False)],
    "status desc, updated asc": [(Delivery.status, True), (Delivery.updated_at, False), (Delivery.id, False)],
}


@pytest.fixture
def account_with_ties(pg_db):
    """57 deliveries whose sort columns repeat a lot, so ties decide page boundaries; a neighbour's too."""
    rng = random.Random(5)
    base = datetime(2026, 11, 20, tzinfo=UTC)
    with pg_db.transaction() as session:
        account, other = repository.create_account(session, "a"), repository.create_account(session, "b")
        for n in range(57 + 9):
            moment = base + timedelta(seconds=rng.randrange(6))
            session.add(Delivery(account_id=account.id if n < 57 else other.id, provider="ses", message_id=f"m{n}",
                                 recipient=f"r{rng.randrange(4)}@example.com", status=rng.choice(["SENT", "BOUNCED"]),
                                 created_at=moment, updated_at=moment + timedelta(seconds=rng.randrange(3))))
        return account.id


@pytest.mark.parametrize("name", ORDERINGS)
@pytest.mark.parametrize("page_size", [1, 7, 10])
def test_walking_the_pages_by_marks_gives_the_offset_pages(pg_db, account_with_ties, name, page_size):
    ordering, marks = ORDERINGS[name], LocalMarks()
    statement = select(Delivery).where(Delivery.account_id == account_with_ties)
    with pg_db.session() as session:
        expected = [d.id for d in session.scalars(statement.order_by(*[c.desc() if d else c.asc()
                                                                         for c, d in ordering]))]
        walked, offset, continued = [], 0, 0
        while True:
            pager = OffsetPager(marks, account_with_ties, "test", {"q": ["x"]}, ordering, offset)
            continued += pager.mark is not None
            rows = session.execute(pager.page(statement, page_size)).all()
            pager.remember(rows, page_size)
            walked += [row[0].id for row in rows]
            if len(rows) < page_size:
                break
            offset += page_size
    assert walked == expected
    assert continued == len(expected) // page_size  # every page after the first came from a mark


def test_a_mark_belongs_to_one_account_query_and_offset(pg_db, account_with_ties):
    marks, ordering = LocalMarks(), ORDERINGS["id"]
    statement = select(Delivery).where(Delivery.account_id == account_with_ties)
    with pg_db.session() as session:
        first = OffsetPager(marks, account_with_ties, "test", {"status": ["SENT"]}, ordering, 0)
        first.remember(session.execute(first.page(statement, 10)).all(), 10)
    assert OffsetPager(marks, account_with_ties, "test", {"status": ["SENT"]}, ordering, 10).mark is not None
    assert OffsetPager(marks, account_with_ties, "test", {"status": ["SENT"]}, ordering, 20).mark is None
    assert OffsetPager(marks, account_with_ties, "test", {"status": ["BOUNCED"]}, ordering, 10).mark is None
    assert OffsetPager(marks, account_with_ties, "other", {"status": ["SENT"]}, ordering, 10).mark is None
    assert OffsetPager(marks, account_with_ties + 1, "test", {"status": ["SENT"]}, ordering, 10).mark is None


def test_marks_expire(monkeypatch):
    marks = LocalMarks(ttl=60)
    clock = [1000.0]
    monkeypatch.setattr("tracker.http.page_marks.time.monotonic", lambda: clock[0])
    marks.put("k", (1, datetime(2026, 1, 1, tzinfo=UTC)))
    assert marks.get("k") == (1, datetime(2026, 1, 1, tzinfo=UTC))
    clock[0] += 61
    assert marks.get("k") is None


def test_the_identity_of_a_query_leaves_out_its_paging_parameters():
    from werkzeug.datastructures import MultiDict

    args = MultiDict([("status", "SENT"), ("status", "OPENED"), ("offset", "20"), ("limit", "10")])
    assert query_identity(args, ("offset", "limit")) == {"status": ["SENT", "OPENED"]}


def test_a_mark_of_another_ordering_is_not_used_the_page_comes_by_offset(pg_db, account_with_ties):
    # A mark left under this page's name by an ordering of other keys (another version of the
    # tracker, say): not this query's. The page is served by its offset, never refused.
    marks, ordering = LocalMarks(), ORDERINGS["created desc"]
    statement = select(Delivery).where(Delivery.account_id == account_with_ties)
    other = OffsetPager(marks, account_with_ties, "test", {}, ORDERINGS["id"], 0)
    with pg_db.session() as session:
        other.remember(session.execute(other.page(statement, 10)).all(), 10)
        pager = OffsetPager(marks, account_with_ties, "test", {}, ordering, 10)
        rows = [row[0].id for row in session.execute(pager.page(statement, 10)).all()]
        by_offset = [d.id for d in session.scalars(statement.order_by(Delivery.created_at.desc(), Delivery.id.desc())
                                                   .offset(10).limit(10))]
    assert pager.mark is None
    assert rows == by_offset


def test_a_repeated_parameters_order_is_part_of_the_query():
    """A view may read only a repeated parameter's first value (SendCloud's email): two orders, two queries."""
    assert key(1, "sendcloud", {"email": ["a@x", "b@x"]}, 4) != key(1, "sendcloud", {"email": ["b@x", "a@x"]}, 4)


def test_facts_are_read_only_with_the_mark_they_were_written_with(redis_url):
    """A mark written again without facts (by an older version, say) leaves the earlier facts unread."""
    import redis

    marks = RedisMarks(redis_url)
    name = key(1, "test", {"q": ["facts"]}, 10)
    marks.put(name, (5, "x"), {"total": 7})
    assert marks.get_carrying(name) == ((5, "x"), {"total": 7})
    redis.Redis.from_url(redis_url).set(name, json.dumps([6, "y"]))  # the mark alone, as an older version writes it
    assert marks.get_carrying(name) == ((6, "y"), {})
