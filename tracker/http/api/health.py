"""/healthz (the process is up), /readyz (database, broker, migrations at head), /metrics (Prometheus)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import DBAPIError

from tracker.adapters import metrics, redis_clients
from tracker.db import migrate, repository
from tracker.services import services

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz():
    app = services()
    checks = {"database": _check(lambda: _ping_database(app.db.engine))}
    checks["migrations"] = _check(lambda: _at_head(app))
    if app.config.broker_url:
        checks["broker"] = _check(lambda: _ping_redis(app.config.broker_url))
    ready = all(result == "ok" for result in checks.values())
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503


@blueprint.get("/metrics")
def prometheus():
    return Response(metrics.exposition(_inbox_figures, _outbox_figures, _reputation_figures),
                    mimetype="text/plain; version=0.0.4; charset=utf-8")


def _inbox_figures():
    return metrics.inbox_figures(services().db)


def _outbox_figures() -> dict[str, int]:
    with services().db.session() as session:
        return repository.webhook_event_counts(session)


def _reputation_figures() -> list[tuple]:
    with services().db.session() as session:
        return [(name, state.bounce_state, state.complaint_state, state.bounce_rate, state.complaint_rate)
                for name, state in repository.account_reputations(session)]


def _ping_database(engine) -> None:
    """A round trip, not just a connection from the pool (which may have died with a database restart).

    A pooled connection found dead is dropped with the rest of the pool and the ping tried
    once more on a fresh one, as pool_pre_ping would: only a database that is really away fails.
    """
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                repository.round_trip(connection)
            return
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise


def _at_head(app) -> None:
    current, head = migrate.current_revision(app.db.engine), migrate.head_revision()
    if current != head:
        raise RuntimeError(f"database at {current}, code expects {head}: run tracker db upgrade")


def _ping_redis(url: str) -> None:
    redis_clients.client(url).ping()


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as error:  # a readiness probe reports every failure, whatever it is
        return f"failed: {type(error).__name__}: {error}"[:300]
