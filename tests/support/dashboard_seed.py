"""An account for the dashboard's tests: an operator key, SES events stored as the receiver stores them,
a poisoned row, a suppression and a webhook subscription with a parked event."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from tests.support.ses_events import bounce, for_message, recent
from tests.support.sns_signing import notification


@dataclasses.dataclass
class Seeded:
    name: str
    account_id: int
    operator_key: str
    application_key: str
    token: str
    delivered: list[str]  # message ids
    bounced: list[str]
    subscription_id: int


def messages(prefix: str, delivered: int, bounced: int,
             sent_at: datetime | None = None) -> tuple[list[dict], list[str], list[str]]:
    """SES send + delivery or send + permanent bounce, one recipient per message; (events, delivered ids, bounced ids).

    With ``sent_at`` the messages are sent then (their events follow), else at the recordings' times.
    """
    events, ok, failed = [], [], []
    for n in range(delivered):
        message_id, to = f"{prefix}-ok-{n}", f"{prefix}-ok-{n}@example.com"
        events += [for_message("event/send.json", message_id, [to]),
                   for_message("event/delivery.json", message_id, [to], delivery={"recipients": [to]})]
        ok.append(message_id)
    for n in range(bounced):
        message_id, to = f"{prefix}-bounce-{n}", f"{prefix}-bounce-{n}@example.com"
        events += [for_message("event/send.json", message_id, [to]),
                   bounce(message_id, to, "Permanent", f"{prefix}-fb{n}", "2026-11-20T10:00:00.000Z")]
        failed.append(message_id)
    if sent_at is not None:
        events = [recent(event, sent_at) for event in events]
    return events, ok, failed


def make_account(app, name: str) -> tuple[int, str, str, str]:
    """(account id, operator key, application key, SES source token)."""
    from tracker.db import repository

    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        account = repository.create_account(session, name)
        operator = repository.create_api_key(session, account, role="operator", secret_key=services.config.secret_key)
        application = repository.create_api_key(session, account, secret_key=services.config.secret_key)
        token = repository.create_source(session, account, "ses", ["*"]).token
        return account.id, operator, application, token


def store(app, account_id: int, token: str, bodies: list[str]) -> list[int]:
    """Raw SNS bodies put in the inbox exactly as the receiver stores them (after verification); their ids."""
    from tracker.db import repository
    from tracker.db.models import InboxEvent
    from sqlalchemy import select

    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        source = repository.source_by_token(session, token)
        keys = []
        for n, body in enumerate(bodies):
            key = f"{token}-{n}-{len(body)}"
            repository.store_inbox_event(session.connection(), source_id=source.id, account_id=account_id,
                                         provider="ses", kind="notification", dedupe_key=key, body=body)
            keys.append(key)
        return list(session.scalars(select(InboxEvent.id).where(InboxEvent.dedupe_key.in_(keys))
                                    .order_by(InboxEvent.id)))


def envelope(message) -> str:
    return json.dumps(notification(message))


def parked_subscription(app, account_id: int, url: str) -> int:
    """A subscription with one parked status-change event (its subscriber never answered)."""
    from tracker.db import repository
    from tracker.db.models import WebhookEvent, utcnow

    with app.extensions["tracker"].db.transaction() as session:
        subscription = repository.create_subscription(session, account_id=account_id, url=url, secret="whsec_test",
                                                      statuses=[])
        now = utcnow()
        session.add(WebhookEvent(account_id=account_id, subscription_id=subscription.id, delivery_id=None,
                                 type="delivery.status_changed", sequence=1, payload="{}", state="parked",
                                 attempts=8, last_error="connection refused", created_at=now,
                                 retry_window_start=now, parked_at=now))
        return subscription.id


def judged_from_the_first_message(app, account_id: int) -> None:
    """SES's thresholds with no minimum volume: a handful of seeded messages already has a state
    (by default an account is judged only from 100 sent, see tracker/domain/reputation.py)."""
    from tracker.db import repository
    from tracker.domain.reputation import Thresholds

    with app.extensions["tracker"].db.transaction() as session:
        repository.set_thresholds(session, account_id, Thresholds(min_sent=0))
