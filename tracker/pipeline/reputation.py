"""Threshold alerts: evaluate accounts' reputation from the statistics and tell subscribers of each crossing.

Evaluated at the end of every applied batch, in its transaction, for the accounts the batch
touched (a grouped read of the statistics table: no delivery is scanned), and by the beat
schedule for every account with a state (rates also move as deliveries leave the window).
The account's (and each domain's) state rows are locked while evaluated, so two workers
take turns and each crossing is queued exactly once.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from collections.abc import Iterable

from sqlalchemy.orm import Session

from tracker.db import repository
from tracker.db.models import utcnow
from tracker.domain import reputation
from tracker.outbound import outbox

log = logging.getLogger(__name__)

# The window alerts look at: deliveries sent in the last 24 hours (by send hour), the same
# figures as GET /api/v1/reputation?window=24h.
ALERT_WINDOW = timedelta(hours=24)
METRICS = ("bounce", "complaint")


@dataclasses.dataclass(frozen=True)
class Crossing:
    """One rate of one scope moved to another state."""

    account_id: int
    domain: str | None  # None: the whole account; "" the deliveries whose From is unknown
    metric: str  # bounce_rate | complaint_rate
    previous: str
    state: str
    rate: float
    sent: int
    warning: float
    at_risk: float


def evaluate(session: Session, account_ids: Iterable[int], now: datetime | None = None) -> list[Crossing]:
    """Evaluate these accounts; queue a reputation.threshold_crossed event per crossing; the crossings."""
    now = now or utcnow()
    crossings = []
    for account_id in sorted(set(account_ids)):
        crossings.extend(_evaluate_account(session, account_id, now))
    if crossings:
        outbox.enqueue_reputation_crossings(session, [_payload(c) for c in crossings], now)
    return crossings


def evaluate_all(session: Session, now: datetime | None = None) -> list[Crossing]:
    """Evaluate every account that has sent within the window or has a state (the beat's sweep)."""
    now = now or utcnow()
    return evaluate(session, repository.accounts_with_reputation(session, now - ALERT_WINDOW), now)


def _evaluate_account(session: Session, account_id: int, now: datetime) -> list[Crossing]:
    thresholds = repository.thresholds_of(session, account_id)
    healthy = {"bounce": reputation.State.HEALTHY.value, "complaint": reputation.State.HEALTHY.value}
    # Lock first, then read the counts: what this reads includes every batch committed before.
    states = repository.lock_reputation_states(session, account_id, [repository.ACCOUNT_SCOPE], healthy, now)
    counts = repository.reputation_counts(session, account_id, now - ALERT_WINDOW)
    scopes = {repository.ACCOUNT_SCOPE: counts.account, **counts.domains}
    missing = [scope for scope in scopes if scope not in states]
    if missing:
        states = repository.lock_reputation_states(session, account_id, missing, healthy, now)
    crossings, changed = [], []
    # A domain that sent nothing in the window any more is evaluated too: it is healthy again.
    for scope, row in sorted(states.items()):
        found = reputation.rates(scopes.get(scope, {}), thresholds)
        previous = {"bounce": row.bounce_state, "complaint": row.complaint_state}
        now_states = {"bounce": found.bounce_state.value, "complaint": found.complaint_state.value}
        evaluated = dataclasses.replace(
            row, bounce_state=now_states["bounce"], complaint_state=now_states["complaint"],
            bounce_rate=found.bounce_rate, complaint_rate=found.complaint_rate, sent=found.sent,
            changed_at=now if now_states != previous else row.changed_at)
        if evaluated != row:
            changed.append(evaluated)
        for metric in METRICS:
            if now_states[metric] != previous[metric]:
                crossings.append(Crossing(
                    account_id=account_id, domain=None if scope == repository.ACCOUNT_SCOPE else scope,
                    metric=f"{metric}_rate", previous=previous[metric], state=now_states[metric],
                    rate=getattr(found, f"{metric}_rate"), sent=found.sent,
                    warning=getattr(thresholds, f"{metric}_warning"), at_risk=getattr(thresholds, f"{metric}_at_risk")))
    repository.save_reputation_states(session, account_id, changed, now)
    return crossings


def _payload(crossing: Crossing) -> tuple[int, dict]:
    return crossing.account_id, {
        "scope": "account" if crossing.domain is None else "domain",
        "domain": crossing.domain or None,
        "metric": crossing.metric,
        "previous_state": crossing.previous,
        "state": crossing.state,
        "rate": crossing.rate,
        "sent": crossing.sent,
        "thresholds": {"warning": crossing.warning, "at_risk": crossing.at_risk},
        "window": "24h",
    }
