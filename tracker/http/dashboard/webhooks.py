"""Webhooks: each subscription's state and backlog, its recent attempts, and replay of its parked events."""
from __future__ import annotations

import contextlib

from flask import current_app, flash, g, redirect, url_for

from tracker.db import repository
from tracker.http.dashboard.base import blueprint, db, page
from tracker.services import services

ATTEMPTS = 10


@blueprint.get("/webhooks")
def webhooks():
    """Each subscription of the account: its state, its events by state, its last attempts."""
    with db().session() as session:
        subscriptions = repository.list_subscriptions(session, g.account_id)
        counts = repository.webhook_state_counts(session, g.account_id)
        attempts = {s.id: repository.recent_attempts(session, s.id, ATTEMPTS) for s in subscriptions}
    return page("webhooks.html", subscriptions=subscriptions, counts=counts, attempts=attempts)


@blueprint.get("/webhooks/<int:subscription_id>/replay")
def confirm_parked(subscription_id: int):
    """How many parked events a replay would send again, and the form that does it."""
    with db().session() as session:
        subscription = repository.subscription_of(session, g.account_id, subscription_id)
        parked = repository.webhook_state_counts(session, g.account_id).get(subscription_id, {}).get("parked", 0)
    if subscription is None:
        return page("missing.html", 404, what=f"webhook subscription {subscription_id}")
    return page("confirm_webhooks.html", subscription=subscription, parked=parked)


@blueprint.post("/webhooks/<int:subscription_id>/replay")
def replay_parked(subscription_id: int):
    """Queue the subscription's parked events again with a fresh retry window, and wake a sender."""
    with db().transaction() as session:
        if repository.subscription_of(session, g.account_id, subscription_id) is None:
            return page("missing.html", 404, what=f"webhook subscription {subscription_id}")
        replayed = repository.replay_parked(session, subscription_id=subscription_id, account_id=g.account_id)
    _wake_senders()
    flash(f"{len(replayed)} parked event(s) of subscription {subscription_id} queued to be sent again")
    return redirect(url_for("dashboard.webhooks"))


def _wake_senders() -> None:
    """Ask a sender to go now, as the admin API does (the beat schedule would within seconds anyway)."""
    app = services()
    if app.webhook_waker is not None:
        app.webhook_waker.wake()
    elif app.config.broker_url and "celery" in current_app.extensions:
        with contextlib.suppress(Exception):  # a broker hiccup: the schedule still sends them
            current_app.extensions["celery"].send_task("workers.tasks.send_webhooks", queue="webhooks")
