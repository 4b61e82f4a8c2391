"""A list read on the driver (tracker.db.driver_reads) holds exactly what Core reads: the same rows and
values for every filter and from a cursor, times bound as Core binds them; what Core must finish per
execution is refused; the engine's statement listeners still see each statement."""
from __future__ import annotations

import json
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy import Float, bindparam, event, func, literal, select, tuple_

from tests.support.harness import FIXTURES, drain
from tests.support.sns_signing import notification
from tracker.db import driver_reads, repository
from tracker.db.models import Delivery
from tracker.db.repository.delivery_reads import DeliveryFilter

pytestmark = pytest.mark.integration


def ses(name: str) -> dict:
    return json.loads((FIXTURES / "ses" / name).read_text())


@pytest.fixture
def listed(app, tenant, pki):
    """An account with sent and bounced deliveries: the native list's rows through Core and on the driver."""
    client = app.test_client()
    messages = []
    for n in range(6):
        send = ses("event/send.json")
        send["mail"]["messageId"] = f"m-{n}"
        send["mail"]["destination"] = [f"r{n}@example.com", f"s{n}@example.com"]
        messages.append(send)
    messages.append(ses("notification/bounce-permanent.json"))
    for message in messages:  # each applied alone: the deliveries' update times differ
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
        drain(app)
    db = app.extensions["tracker"].db

    def both(where: DeliveryFilter, after=None, limit: int = 100, zone: str = "UTC") -> tuple[list, list]:
        """Core's rows and the driver's, each read with the session's TimeZone set to ``zone``."""
        with db.reading() as connection:
            connection.exec_driver_sql(f"SET timezone TO '{zone}'")
            core = repository.list_deliveries(connection, tenant.account_id, where, after=after, limit=limit)
            connection.exec_driver_sql("RESET timezone")
        with db.driver_reading() as reader:
            assert isinstance(reader, driver_reads.DriverReader)  # PostgreSQL: the driver's path
            with reader.connection.cursor() as cursor:
                cursor.execute(f"SET timezone TO '{zone}'")
            driver = repository.list_deliveries(reader, tenant.account_id, where, after=after, limit=limit)
            with reader.connection.cursor() as cursor:
                cursor.execute("RESET timezone")
        return core, driver

    return both


def test_every_filter_reads_the_same_rows_with_the_same_values(listed):
    core, driver = listed(DeliveryFilter())
    assert len(core) == 13
    bounced = next(row for row in core if row.status == "BOUNCED")
    middle = core[6].updated_at.replace(tzinfo=UTC)
    for where in (DeliveryFilter(), DeliveryFilter(status="BOUNCED"), DeliveryFilter(message_id="m-2"),
                  DeliveryFilter(recipient="s3@example.com"), DeliveryFilter(message_id=bounced.message_id,
                                                                                 recipient=bounced.recipient),
                  DeliveryFilter(updated_after=middle), DeliveryFilter(updated_before=middle),
                  DeliveryFilter(updated_after=middle - timedelta(days=1), updated_before=middle + timedelta(days=1))):
        core, driver = listed(where)
        assert core, where
        assert [tuple(row) for row in driver] == [tuple(row) for row in core], where
        assert [row.updated_at for row in driver] == [row.updated_at for row in core]  # by name, as views read them


def test_times_are_bound_as_core_binds_them_whatever_the_servers_zone(listed):
    """The keyset's time and the updated_* filters go through UTCDateTime's bind processor on both
    paths (naive UTC, as the column holds), so a server whose TimeZone is not UTC, and a time given in
    another zone, still name the same moment."""
    core, _ = listed(DeliveryFilter())
    last = core[4]
    at = last.updated_at.replace(tzinfo=UTC)
    for moment in (at, at.astimezone(ZoneInfo("Asia/Kolkata"))):
        core_page, driver_page = listed(DeliveryFilter(), after=(moment, last.id), limit=3, zone="America/New_York")
        assert [row.id for row in driver_page] == [row.id for row in core_page] == [row.id for row in core[5:8]]
        core_page, driver_page = listed(DeliveryFilter(updated_after=moment), zone="Asia/Kolkata")
        later = [row.id for row in core if row.updated_at > last.updated_at]  # a message's recipients share a time
        assert [row.id for row in driver_page] == [row.id for row in core_page] == later


def test_an_expanding_in_list_runs_on_the_driver_each_element_bound_as_core_binds_it(app, tenant, listed):
    """A list of ids, of (message, recipient) pairs, of times (each through UTCDateTime's processor,
    with the server's TimeZone not UTC), empty or not: the driver's rows are Core's."""
    core_rows, _ = listed(DeliveryFilter())
    db = app.extensions["tracker"].db
    statements = {
        "ids": select(Delivery.id).where(Delivery.id.in_(bindparam("ids", expanding=True))).order_by(Delivery.id),
        "pairs": select(Delivery.id, Delivery.recipient)
        .where(tuple_(Delivery.message_id, Delivery.recipient).in_(bindparam("pairs", expanding=True)))
        .order_by(Delivery.id),
        "times": select(Delivery.id).where(Delivery.account_id == bindparam("account_id"),
                                           Delivery.updated_at.in_(bindparam("times", expanding=True)))
        .order_by(Delivery.id),
        "my ids": select(Delivery.id).where(Delivery.id.in_(bindparam("my ids", expanding=True))),  # escaped name
    }
    kolkata = ZoneInfo("Asia/Kolkata")
    cases = [
        ("ids", {"ids": [row.id for row in core_rows[:3]]}), ("ids", {"ids": [core_rows[4].id]}), ("ids", {"ids": []}),
        ("pairs", {"pairs": [(row.message_id, row.recipient) for row in core_rows[2:5]]}),
        ("my ids", {"my ids": [row.id for row in core_rows[:2]]}),
        ("times", {"account_id": tenant.account_id,
                   "times": [row.updated_at.replace(tzinfo=UTC).astimezone(kolkata) for row in core_rows[3:6]]}),
    ]
    contexts = []
    listen = lambda conn, cursor, sql, parameters, context, executemany: contexts.append(context)  # noqa: E731
    for name, values in cases:
        with db.reading() as core:
            expected = core.execute(statements[name], values).all()
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            with db.driver_reading() as reader:
                with reader.connection.cursor() as cursor:
                    cursor.execute("SET timezone TO 'America/New_York'")
                got = reader.rows(statements[name], values)
                with reader.connection.cursor() as cursor:
                    cursor.execute("RESET timezone")
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert [tuple(row) for row in got] == [tuple(row) for row in expected], (name, values)
        assert bool(got) == bool(values[name]), name  # found what was asked for: not vacuously equal
    assert contexts and all(context is None for context in contexts)  # every one on the driver


@pytest.mark.parametrize("statement", [
    select(Delivery.id).where(Delivery.id == bindparam("n", callable_=lambda: 1)),  # computed per execution
    select(Delivery.id, Delivery.created_at),  # UTCDateTime: Core makes its times aware
    select(Delivery.id, Delivery.id),  # two columns of one name
    select(Delivery.id, literal(1.5, Float).label("share")),  # psycopg2's Float needs the column's type code
], ids=["callable", "processed column", "same names", "float"])
def test_what_the_driver_cannot_do_as_core_does_core_runs(app, listed, statement):
    """Such a statement runs through Core (its listener call carries Core's execution context) and
    gives Core's rows, values as Core gives them (aware times)."""
    db = app.extensions["tracker"].db
    contexts = []
    listen = lambda conn, cursor, sql, parameters, context, executemany: contexts.append(context)  # noqa: E731
    with db.reading() as core:
        expected = core.execute(statement, {"ids": [1, 2]}).all()
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.driver_reading() as reader:
            got = reader.rows(statement, {"ids": [1, 2]})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert got and [tuple(row) for row in got] == [tuple(row) for row in expected]
    assert contexts and all(context is not None for context in contexts)


def test_a_statement_built_for_one_call_runs_through_core(app, listed):
    db = app.extensions["tracker"].db
    contexts = []
    listen = lambda conn, cursor, sql, parameters, context, executemany: contexts.append(context)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.driver_reading() as reader:
            assert reader.rows(select(Delivery.id).where(Delivery.id == bindparam("id")), {"id": 1}, kept=False)
            assert reader.rows(select(Delivery.id).where(Delivery.id == bindparam("id")), {"id": 1})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert contexts[0] is not None and contexts[1] is None  # Core's call, then the driver's


def test_a_required_value_left_out_is_an_error_not_a_null(app):
    db = app.extensions["tracker"].db
    statement = select(Delivery.id).where(Delivery.message_id == bindparam("message_id"))
    with db.driver_reading() as reader, pytest.raises(ValueError, match="message_id"):
        reader.rows(statement, {"mesage_id": "m-1"})


def test_a_list_after_the_database_dropped_its_connection_is_a_503_then_answers_again(app, tenant, pg_db,
                                                                                      unannounced_deaths):
    """The native list's kept connection killed under it, unannounced (its host lost): that request is
    told 503 database_unavailable, as on Core's path, and the next one reconnects."""
    client = app.test_client()
    assert client.get("/api/v1/deliveries", headers=tenant.auth).status_code == 200
    db = app.extensions["tracker"].db
    with db.driver_reading() as reader:  # the connection the list just used (a test client is one thread)
        [(pid,)] = reader.rows(select(func.pg_backend_pid().label("pid")), {})
    with pg_db.engine.connect() as admin:
        assert admin.execute(select(func.pg_terminate_backend(pid))).scalar()

    refused = client.get("/api/v1/deliveries", headers=tenant.auth)
    assert (refused.status_code, refused.json["error"]) == (503, "database_unavailable")
    assert client.get("/api/v1/deliveries", headers=tenant.auth).status_code == 200


def test_a_read_whose_pooled_connection_died_fails_as_sqlalchemys_error(app, pg_db, unannounced_deaths):
    """reading()'s pooled connection killed under it, unannounced (its host lost): the read raises
    SQLAlchemy's error (the HTTP layer's 503), not the driver's (a 500) from handing the dead
    connection back, and the next read reconnects."""
    db = app.extensions["tracker"].db
    with db.reading() as connection:
        pid = connection.execute(select(func.pg_backend_pid())).scalar()
    with pg_db.engine.connect() as admin:
        assert admin.execute(select(func.pg_terminate_backend(pid))).scalar()

    with pytest.raises(DBAPIError), db.reading() as connection:
        connection.execute(select(func.pg_backend_pid())).scalar()
    with db.reading() as connection:
        assert connection.execute(select(func.pg_backend_pid())).scalar() != pid


def test_the_engines_listeners_see_each_statement_run_on_the_driver(app, listed):
    db = app.extensions["tracker"].db
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM deliveries" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        listed(DeliveryFilter(status="SENT"), limit=2)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    core_call, driver_call = seen
    assert driver_call[0] == core_call[0] and driver_call[1]["status"] == "SENT" and driver_call[1]["limit"] == 2


def test_an_error_of_the_view_between_statements_gives_the_kept_connection_back(app, tenant):
    """Postman's 404 for an email the account does not have is raised after the read: the kept
    connection, idle by then, serves the next request rather than being closed and made again."""
    db = app.extensions["tracker"].db
    client = app.test_client()

    def backend() -> int:
        with db.driver_reading() as reader:  # the connection the last request used (one thread)
            [(pid,)] = reader.rows(select(func.pg_backend_pid().label("pid")), {})
        return pid

    assert client.get("/v1/transactional/email", headers=tenant.auth).status_code == 200
    before = backend()
    for _ in range(2):
        assert client.get("/v1/transactional/email/987654", headers=tenant.auth).status_code == 404
    assert backend() == before
