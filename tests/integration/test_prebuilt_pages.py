"""A compatible list's page statement is built once per shape and reused (tracker.db.repository.prebuilt).

What could go wrong: a shape that leaves out something the statement depends on, so that a
request is answered by a statement built for another. So, for random sequences of Elevate,
Postman and SendCloud page requests (filters, orders, marks, offsets) on real PostgreSQL,
each request's rows with every statement kept so far must equal its rows from a statement
built for it alone (the kept ones dropped first).
"""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tracker.db import repository
from tracker.db.models import Delivery, Message
from tracker.db.repository import ElevateFilter, PageSlice, PostmanFilter, SendCloudFilter, Span
from tracker.db.repository import prebuilt as kept_statements
from tracker.db.repository.paging import row_values
from tracker.http.compat.elevate import views as elevate
from tracker.http.compat.postman import views as postman
from tracker.http.compat.sendcloud import views as sendcloud

START = datetime(2026, 11, 20, tzinfo=UTC)
STATUSES = ("SENT", "DELIVERED", "BOUNCED", "COMPLAINT", "RETRY", "ERROR", "OPENED", "ACKNOWLEDGED", "PENDING")
ROWS = 40


@pytest.fixture
def account(pg_db) -> int:
    with pg_db.transaction() as session:
        account_id = repository.create_account(session, "shapes").id
        for n in range(ROWS):
            status = STATUSES[n % len(STATUSES)]
            moment = START + timedelta(hours=n // 3, seconds=n % 2)  # ties: rows sharing a time
            session.add(Delivery(
                account_id=account_id, provider=("ses", "sendcloud")[n % 2], message_id=f"m-{n % 25}",
                recipient=f"r{n}@example.com", status=status, created_at=moment,
                updated_at=moment + timedelta(minutes=n % 7), submitted_at=moment if n % 5 else None,
                status_at=moment + timedelta(minutes=1),
                bounce_type=("PERMANENT", "TRANSIENT")[n % 2] if status == "BOUNCED" else None,
                bounce_subtype="General" if status == "BOUNCED" else None,
                failure_status="BOUNCED" if status == "ACKNOWLEDGED" and n % 3 else None,
                failure_bounce_type="PERMANENT" if status == "ACKNOWLEDGED" and n % 3 else None))
        for n in range(0, 25, 2):
            session.add(Message(account_id=account_id, message_id=f"m-{n}", from_address="news@example.com",
                                attributes={"billRunType": ("A", "B")[n % 4 // 2], "billRunId": str(n % 3),
                                            "tags": {"tag": ("t1", ["t2"])[n % 4 // 2]},
                                            "labelId": str(n % 3), "labelName": f"label {n % 3}"}))
    return account_id


_HOURS = st.integers(0, ROWS // 3 + 1).map(lambda h: START + timedelta(hours=h))
_SPANS = st.builds(Span, start=st.none() | _HOURS, end=st.none() | _HOURS)

# Per API: each field of its filter, the choices a request may make for it (the ordering too).
ELEVATE = {
    "statuses": st.none() | st.sampled_from(sorted(elevate.CANONICAL)).map(lambda word: tuple(elevate.CANONICAL[word])),
    "bounce_type": st.none() | st.sampled_from(("PERMANENT", "TRANSIENT", "UNDETERMINED")),
    "attributes": st.lists(st.sampled_from((("billRunType", "A"), ("billRunType", "B"), ("billRunId", "1"))),
                           max_size=2, unique_by=lambda a: a[0]).map(tuple),
    "spans": st.lists(st.tuples(st.sampled_from(("created_at", "updated_at")), _SPANS), max_size=2).map(tuple),
    "sort": st.sampled_from(("id", "createdDateTime:desc", "status,updatedDateTime:desc", "recipientEmail:desc,id:asc",
                             "updatedDateTime")),
}
POSTMAN = {
    "shown": st.none() | st.lists(st.sampled_from(postman.POSTMAN_STATUSES), min_size=1, max_size=3)
    .map(postman._status_condition),
    "created": st.lists(_SPANS, max_size=2).map(tuple),
    "tag": st.none() | st.sampled_from(("t1", "t2", "t3")),
    "sort": st.sampled_from((("created_at",), ("+updated_at",), ("-updated_at", "+created_at"))),
}
SENDCLOUD = {
    "sent": _SPANS,
    "recipients": st.none() | st.just(()) | st.sampled_from((("r3@example.com",), ("r4@example.com",))),
    "label_id": st.none() | st.sampled_from(("0", "1", "7")),
    "label_name": st.none() | st.sampled_from(("label", "el 2", "%")),
    "status_codes": st.lists(st.sampled_from(sendcloud.STATUS_CODES), max_size=2).map(frozenset),
    "sub_status_codes": st.lists(st.sampled_from(sendcloud.SUB_STATUS_CODES), max_size=2).map(frozenset),
}
# Per API: its choices, its filter, its ordering from the sort it was asked for.
APIS = {"elevate": (ELEVATE, ElevateFilter, elevate._sort),
        "postman": (POSTMAN, PostmanFilter, lambda sort: postman._order(list(sort))),
        "sendcloud": (SENDCLOUD, SendCloudFilter, lambda _sort: repository.SENDCLOUD_ORDERING)}
# How a page is cut: (from a mark?, which row's key is the mark, offset, limit).
PAGES = {"marked": st.booleans(), "which": st.integers(0, ROWS - 1), "offset": st.integers(0, 12),
         "limit": st.integers(1, 9)}


@st.composite
def neighbours(draw):
    """An API and two of its requests that differ in one thing only (a filter field, the order,
    or how the page is cut): the pair a shape leaving that thing out would answer alike."""
    api = draw(st.sampled_from(sorted(APIS)))
    fields = {**APIS[api][0], **PAGES}
    first = {name: draw(strategy) for name, strategy in fields.items()}
    varied = draw(st.sampled_from(sorted(fields)))
    second = {**first, varied: draw(fields[varied].filter(lambda value: value != first[varied]))}
    return api, first, second


def _listed(connection, account_id: int, api: str, where, page: PageSlice) -> tuple[int | None, list]:
    """(SendCloud's capped total, else None; the page's rows)."""
    if api == "elevate":
        return None, repository.elevate_statuses(connection, account_id, where, page, elevate.WORDS)
    if api == "postman":
        return None, repository.postman_emails(connection, account_id, where, page)
    return repository.sendcloud_statuses(connection, account_id, where, sendcloud.CODES, page, count_cap=15)


def _answer(connection, account_id: int, api: str, where, page: PageSlice) -> tuple:
    total, rows = _listed(connection, account_id, api, where, page)
    return total, [tuple(row) for row in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=neighbours())
def test_a_kept_statement_answers_each_request_as_one_built_for_it(pg_db, account, pair):
    api, first, second = pair
    with pg_db.reading() as connection:
        kept_statements.forget()
        _answer(connection, account, api, *_request(connection, account, api, first))
        where, page = _request(connection, account, api, second)
        kept = _answer(connection, account, api, where, page)  # the first request's statement kept, if its shape
        kept_statements.forget()
        assert _answer(connection, account, api, where, page) == kept, (api, first, second)


def _request(connection, account_id: int, api: str, choices: dict) -> tuple:
    """(the filter, the page) ``choices`` make; a mark is where a page ended: one row's sort key."""
    fields, kind, order = APIS[api]
    if api == "sendcloud" and choices["label_id"] is not None:
        choices = {**choices, "label_name": None}  # the view never sends both
    where = kind(**{name: choices[name] for name in fields if name != "sort"})
    ordering, mark = order(choices.get("sort")), None
    if choices["marked"]:
        _, everything = _listed(connection, account_id, api, where, PageSlice(ordering, None, 0, ROWS))
        if everything:
            mark = row_values(everything[choices["which"] % len(everything)], ordering)
    return where, PageSlice(ordering, mark, choices["offset"] if mark is None else 0, choices["limit"])
