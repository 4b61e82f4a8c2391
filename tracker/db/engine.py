"""The database handle and the Celery wiring, bound to an app by create_app()."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import driver_reads, kept_connections, liveness

# A bounded connect: a database host that stops answering fails a request (503, the sender
# retries) and /readyz in seconds, rather than hanging a worker on TCP's timeout.
_POSTGRESQL_CONNECT_ARGS = {"connect_timeout": 5}
_RECYCLE = 3600  # seconds a connection lives, pooled or kept


class Database:
    """An engine and a session factory, created lazily once per process.

    Lazily, because gunicorn and Celery's prefork pool fork after the app is created and
    a connection pool must never be shared across a fork.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # Called after a transaction that revoked an API key commits (tracker.http.credentials
        # tells every process's key cache); see repository.revoke_key.
        self.key_revocation_hooks: list[Callable[[], None]] = []
        self._kept = kept_connections.KeptConnections(_POSTGRESQL_CONNECT_ARGS, _RECYCLE)

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    if self._engine is not None:
                        # Inherited through fork: drop the parent's connections without
                        # closing them under the parent's feet.
                        self._engine.dispose(close=False)
                    self._engine = _make_engine(self.url)
                    self._sessions = sessionmaker(self._engine, expire_on_commit=False)
                    event.listen(self._sessions, "after_commit", _after_commit(self.key_revocation_hooks))
                    event.listen(self._sessions, "after_rollback", _after_rollback)
                    self._pid = os.getpid()
        return self._engine

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads only: each statement its own transaction (autocommit).

        No BEGIN before the first query and no ROLLBACK when the connection goes back to the
        pool (psycopg2 sends nothing for a rollback outside a transaction): a read page costs its
        query's round trip and nothing more. Never write through it: each statement commits alone.
        """
        with self.engine.connect() as connection:
            if self.is_sqlite:  # its rollback is no round trip anyway
                yield connection
                return
            driver = connection.connection.driver_connection
            # Only psycopg2's autocommit flag, set and unset client-side: asking SQLAlchemy for an
            # AUTOCOMMIT isolation level instead makes psycopg2 send a SET when it is reset.
            driver.autocommit = True
            try:
                yield connection
            finally:
                # Not on a connection found dead (Core closed it): psycopg2 would raise its own error
                # there, in place of Core's that the HTTP layer answers 503.
                if not driver.closed:
                    driver.autocommit = False

    @contextmanager
    def driver_writing(self) -> Iterator:
        """One transaction, as writing(), whose statements run on the driver where they can
        (tracker.db.driver_reads.within): a request's few statements that must commit together."""
        with self.writing() as core, driver_reads.within(core, self) as connection:
            yield connection

    def driver_reading(self):
        """For a request's reads, each run on the driver where it can be (tracker.db.driver_reads): a kept
        connection in autocommit on PostgreSQL, reading()'s connection elsewhere."""
        return driver_reads.reading(self)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def session(self) -> Session:
        self.engine  # noqa: B018  (creates the factory in this process)
        assert self._sessions is not None
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self.session() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in one transaction, without an ORM session: commits on success, rolls back
        on any error. For a request's few Core statements (an ORM session would wrap each result)."""
        with self.engine.begin() as connection:
            yield connection

    def statement(self):
        """A kept connection in autocommit on PostgreSQL (tracker.db.kept_connections): for ONE write, each
        statement its own transaction, or for a request's reads (driver_reading)."""
        return self._kept.statement(self.engine)

    def dispose(self) -> None:
        self._kept.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _after_commit(hooks: list[Callable[[], None]]) -> Callable[[Session], None]:
    """The listener that runs ``hooks`` after a commit that revoked an API key.

    It holds the hook list, not the Database: no reference cycle, so a dropped Database (and
    its pooled connections) goes at once rather than at the next garbage collection.
    """
    def listener(session: Session) -> None:
        if session.info.pop("api_keys_revoked", False):
            for hook in hooks:
                hook()

    return listener


def _after_rollback(session: Session) -> None:
    session.info.pop("api_keys_revoked", None)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            # WAL lets the API read while the in-process worker writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No pre-ping: it would cost a round trip per request. A connection the server ended while it
    # was idle (a database restart) is replaced at checkout instead, for one poll() of its socket
    # (tracker.db.liveness); one that died without a word fails one request (503, the sender
    # retries) and SQLAlchemy then invalidates the pool, so the next request reconnects. (The
    # receivers' single INSERT runs on a kept connection, tracker.db.kept_connections, which
    # checks, fails and reconnects alike.)
    if not url.startswith("postgresql"):
        return create_engine(url, pool_size=5, max_overflow=5, pool_recycle=_RECYCLE)
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_recycle=_RECYCLE,
                           connect_args=_POSTGRESQL_CONNECT_ARGS)
    event.listen(engine, "checkout", liveness.replace_if_ended)
    return engine


WEBHOOK_QUEUE = "webhooks"


def celery_init_app(app, broker_url: str):
    """A Celery app whose tasks run inside this Flask app's context (pallets' recipe)."""
    from celery import Celery, Task

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker_url,
        # kombu's Redis transport with a teardown that survives Redis going away under a busy
        # worker (see tracker.adapters.broker); other brokers keep their own transport.
        broker_transport=("tracker.adapters.broker:Transport" if broker_url.split("://", 1)[0] in ("redis", "rediss")
                          else None),
        # A worker waits for its broker as long as it takes (Celery's default gives up after 100
        # attempts, about 45 minutes) ...
        broker_connection_max_retries=None,
        # ... and keeps draining meanwhile: the inbox is in PostgreSQL, and a drain cut short would
        # only be redone (Celery 6 changes this default to cancelling acks_late tasks).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=True,
        # Messages are wake-ups, not data (the inbox is durable), so a task lost with a
        # dying worker costs only latency; acking late still redelivers it sooner.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        imports=("workers.tasks",),
        # Webhook sending has its own queue (and its own workers: `tracker worker --webhooks`),
        # so subscribers that hang cannot take the processes that ingest events.
        task_routes={
            "workers.tasks.send_webhooks": {"queue": WEBHOOK_QUEUE},
            "workers.tasks.deliver_webhook": {"queue": WEBHOOK_QUEUE},
        },
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
