"""A compatible list's page statement is built once per shape and reused (tracker.db.repository.prebuilt).

What could go wrong: a shape that leaves out something the statement depends on, or a value
left in a statement that should have been bound, so that a request is answered by a statement
built for another (another filter, another account). So, for pairs of page requests of each
list (Elevate, Postman, SendCloud, Infobip's logs and reports) that differ in one thing, the
first one account's and the second its neighbour's, on PostgreSQL and on SQLite, the second's
rows with the first's statement kept must equal its rows from a statement built for it alone.
"""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tracker.db import migrate, repository
from tracker.db.engine import Database
from tracker.db.models import Delivery, Message
from tracker.db.repository import ElevateFilter, InfobipFilter, PageSlice, PostmanFilter, SendCloudFilter, Span
from tracker.db.repository import prebuilt as kept_statements
from tracker.db.repository.paging import row_values
from tracker.http.compat.elevate import views as elevate
from tracker.http.compat.infobip import views as infobip
from tracker.http.compat.infobip.mapping import FINAL
from tracker.http.compat.postman import views as postman
from tracker.http.compat.sendcloud import views as sendcloud

START = datetime(2026, 11, 20, tzinfo=UTC)
STATUSES = ("SENT", "DELIVERED", "BOUNCED", "COMPLAINT", "RETRY", "ERROR", "OPENED", "ACKNOWLEDGED", "PENDING")
ROWS = 40


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, tmp_path):
    """PostgreSQL, and SQLite (the embedded default), each with the schema at head."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_db")
    db = Database(f"sqlite:///{tmp_path}/shapes.db")
    migrate.upgrade(db.engine)
    request.addfinalizer(db.dispose)
    return db


@pytest.fixture
def accounts(database) -> tuple[int, int]:
    """Two accounts with deliveries and messages alike in kind, different in detail."""
    with database.transaction() as session:
        created = [repository.create_account(session, name).id for name in ("shapes", "neighbour")]
        for shift, account_id in enumerate(created):
            _add_rows(session, account_id, shift * 4)
    return created[0], created[1]


def _add_rows(session, account_id: int, shift: int) -> None:
    for n in range(ROWS):
        k = n + shift
        status = STATUSES[k % len(STATUSES)]
        moment = START + timedelta(hours=n // 3, seconds=k % 2)  # ties: rows sharing a time
        session.add(Delivery(
            account_id=account_id, provider=("ses", "sendcloud")[k % 2], message_id=f"m-{k % 25}",
            recipient=f"r{k}@example.com", status=status, created_at=moment,
            updated_at=moment + timedelta(minutes=k % 7), submitted_at=moment if k % 5 else None,
            status_at=moment + timedelta(minutes=1), status_sequence=1 + k % 3, reported_sequence=k % 2,
            bounce_type=("PERMANENT", "TRANSIENT")[k % 2] if status == "BOUNCED" else None,
            bounce_subtype="General" if status == "BOUNCED" else None,
            failure_status="BOUNCED" if status == "ACKNOWLEDGED" and k % 3 else None,
            failure_bounce_type="PERMANENT" if status == "ACKNOWLEDGED" and k % 3 else None))
    for n in range(shift % 2, 25, 2):
        session.add(Message(account_id=account_id, message_id=f"m-{n}",
                            from_address=("news@example.com", "News <NEWS@example.com>")[n % 4 // 2],
                            attributes={"billRunType": ("A", "B")[n % 4 // 2], "billRunId": str(n % 3),
                                        "tags": {"tag": ("t1", ["t2"])[n % 4 // 2]},
                                        "labelId": str(n % 3), "labelName": f"label {n % 3}",
                                        "bulkId": f"b{n % 3}"}))


def _at(hours: int) -> datetime:
    return START + timedelta(hours=hours)


_SPANS = (Span(_at(2), None), Span(None, _at(5)), Span(_at(1), _at(9)))
_SPAN_LISTS = ((), _SPANS[:1], _SPANS[1:2], _SPANS[1:])  # the two of one span: one start, one end

# Per API: each field of its filter (and the sort asked for), the values a request may give it,
# the first one filtering nothing (or the API's default).
ELEVATE = {
    "statuses": (None, *(tuple(elevate.CANONICAL[word]) for word in ("DELIVERED", "BOUNCED", "SENT"))),
    "bounce_type": (None, "PERMANENT", "TRANSIENT", "UNDETERMINED"),
    "attributes": ((), (("billRunType", "A"),), (("billRunType", "B"), ("billRunId", "1"))),
    "spans": ((), (("created_at", _SPANS[0]),), (("updated_at", _SPANS[1]), ("created_at", _SPANS[2]))),
    "sort": ("id", "createdDateTime:desc", "status,updatedDateTime:desc", "recipientEmail:desc,id:asc",
             "updatedDateTime"),
}
POSTMAN = {
    "shown": (None, *(postman._status_condition(words) for words in (["DELIVERED"], ["BOUNCED", "SENT"],
                                                                     ["COMPLAINT", "OPENED", "UNSENT"]))),
    "created": _SPAN_LISTS,
    "tag": (None, "t1", "t2", "t3"),
    "sort": (("created_at",), ("+updated_at",), ("-updated_at", "+created_at")),
}
SENDCLOUD = {
    "sent": (Span(_at(0), _at(20)), *_SPANS),
    "recipients": (None, (), ("r3@example.com",), ("r4@example.com",)),
    "label_id": (None, "0", "1", "7"),
    "label_name": (None, "label", "el 2", "%"),
    "status_codes": (frozenset(), *(frozenset(codes) for codes in (sendcloud.STATUS_CODES[:1],
                                                                   sendcloud.STATUS_CODES[1:3]))),
    "sub_status_codes": (frozenset(), *(frozenset(codes) for codes in (sendcloud.SUB_STATUS_CODES[:1],
                                                                       sendcloud.SUB_STATUS_CODES[1:4]))),
}
INFOBIP = {
    "sent": _SPAN_LISTS,
    "recipients": (None, (), ("r3@example.com",), ("r3@example.com", "r4@example.com")),
    "senders": ((), ("news@example.com",), ("NEWS@example.com", "x@example.com")),
    "shown": (None, *(infobip._general_status_is(word) for word in ("PENDING", "UNDELIVERABLE", "DELIVERED"))),
    "message_ids": ((), ("m-2",), ("m-2", "m-4", "m-5")),
    "attributes": ((), (("bulkId", ("b1",)),), (("bulkId", ("b0", "b2")), ("entityId", ("e1",)))),
}
# Per API: its choices, its filter, its ordering from the sort it was asked for.
APIS = {"elevate": (ELEVATE, ElevateFilter, elevate._sort),
        "postman": (POSTMAN, PostmanFilter, lambda sort: postman._order(list(sort))),
        "sendcloud": (SENDCLOUD, SendCloudFilter, lambda _sort: repository.SENDCLOUD_ORDERING),
        # Infobip's logs and its report queue: newest first, or before a row's (submitted_at, id).
        "infobip logs": (INFOBIP, InfobipFilter, lambda _sort: None),
        "infobip reports": (INFOBIP, InfobipFilter, lambda _sort: None)}
# How a page is cut: from a mark (the sort key of the row ``which``) or at ``offset``; ``limit`` rows.
PAGES = {"marked": (False, True), "which": (0, 7), "offset": (0, 5), "limit": (9, 3)}


def _choices(api: str) -> dict:
    return {**APIS[api][0], **PAGES}


@st.composite
def neighbours(draw):
    """An API and two of its requests that differ in one thing only (a filter field, the order,
    or how the page is cut): the pair a shape leaving that thing out would answer alike."""
    api = draw(st.sampled_from(sorted(APIS)))
    choices = _choices(api)
    first = {name: draw(st.sampled_from(values)) for name, values in choices.items()}
    varied = draw(st.sampled_from(sorted(choices)))
    second = {**first, varied: draw(st.sampled_from(choices[varied]).filter(lambda value: value != first[varied]))}
    return api, first, second


def _one_thing_at_a_time() -> list:
    """Every API's pairs of requests that filter on nothing else and differ in one thing: each
    value of each field after each other value."""
    pairs = []
    for api in APIS:
        choices = _choices(api)
        plain = {name: values[0] for name, values in choices.items()}
        for name, values in choices.items():
            pairs += [(api, {**plain, name: a}, {**plain, name: b}) for a in values for b in values if a != b]
    return pairs


def _listed(db, account_id: int, api: str, where, page) -> tuple[int | None, list]:
    """(SendCloud's capped total, else None; the page's rows), in a transaction rolled back after:
    a pull of Infobip's reports claims what it reads, and must be asked for again."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            if api == "elevate":
                return None, repository.elevate_statuses(connection, account_id, where, page, elevate.WORDS)
            if api == "postman":
                return None, repository.postman_emails(connection, account_id, where, page)
            if api == "sendcloud":
                return repository.sendcloud_statuses(connection, account_id, where, sendcloud.CODES, page,
                                                     count_cap=15)
            before, limit = page
            if api == "infobip logs":
                return None, repository.infobip_logs(connection, account_id, where, before=before, limit=limit)
            return None, repository.claim_infobip_reports(connection, account_id, where, final=FINAL, limit=limit,
                                                          changed_since=START + timedelta(hours=4 + limit))
        finally:
            transaction.rollback()


def _answer(db, account_id: int, api: str, where, page) -> tuple:
    total, rows = _listed(db, account_id, api, where, page)
    return total, [tuple(row) for row in rows]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=neighbours())
def test_a_kept_statement_answers_each_request_as_one_built_for_it(database, accounts, pair):
    _check(database, accounts, *pair)


def test_each_thing_a_statement_depends_on_is_in_its_shape(database, accounts):
    for api, first, second in _one_thing_at_a_time():
        _check(database, accounts, api, first, second)


def _check(db, accounts: tuple[int, int], api: str, first: dict, second: dict) -> None:
    """``second``'s answer with ``first``'s statement kept is its answer from a statement built for it.
    The first is one account's request, the second its neighbour's: nothing of one may stay in a
    statement the other is answered with."""
    one, other = accounts
    kept_statements.forget()
    _answer(db, one, api, *_request(db, one, api, first))
    where, page = _request(db, other, api, second)
    kept = _answer(db, other, api, where, page)  # first's statement, if of the same shape
    kept_statements.forget()
    assert _answer(db, other, api, where, page) == kept, (api, first, second)


def _request(db, account_id: int, api: str, choices: dict) -> tuple:
    """(the filter, the page) ``choices`` make; a mark is where a page ended: one row's sort key."""
    fields, kind, order = APIS[api]
    if api == "sendcloud" and choices["label_id"] is not None:
        choices = {**choices, "label_name": None}  # the view never sends both
    where = kind(**{name: choices[name] for name in fields if name != "sort"})
    if api.startswith("infobip"):  # (before: the (submitted_at, id) of one of the logs, limit)
        before = None
        if choices["marked"]:
            _, everything = _listed(db, account_id, "infobip logs", where, (None, ROWS))
            dated = [row for row in everything if row.submitted_at is not None]
            if dated:
                row = dated[choices["which"] % len(dated)]
                before = (row.submitted_at.replace(tzinfo=UTC), row.id)  # rows hold naive UTC; a cursor is aware
        return where, (before, choices["limit"])
    ordering, mark = order(choices.get("sort")), None
    if choices["marked"]:
        _, everything = _listed(db, account_id, api, where, PageSlice(ordering, None, 0, ROWS))
        if everything:
            mark = row_values(everything[choices["which"] % len(everything)], ordering)
    return where, PageSlice(ordering, mark, choices["offset"] if mark is None else 0, choices["limit"])
