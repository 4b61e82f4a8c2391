"""Reputation thresholds per account and the last evaluated state of each account and sending domain."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from tracker.db.models import Account, DeliveryStat, ReputationState, ReputationThresholds, utcnow
from tracker.db.repository.dialect import insert_for
from tracker.domain.reputation import SES_DEFAULTS, Thresholds

__all__ = [
    "ACCOUNT_SCOPE",
    "accounts_with_reputation",
    "account_reputations",
    "lock_reputation_states",
    "reputation_states",
    "save_reputation_state",
    "set_thresholds",
    "thresholds_of",
]

# The scope of a whole account's state (a sending domain is never "*").
ACCOUNT_SCOPE = "*"
_FIELDS = ("bounce_warning", "bounce_at_risk", "complaint_warning", "complaint_at_risk", "min_sent")


def thresholds_of(session: Session, account_id: int) -> Thresholds:
    """The account's thresholds, or SES's defaults when it set none."""
    row = session.get(ReputationThresholds, account_id)
    if row is None:
        return SES_DEFAULTS
    return Thresholds(**{name: getattr(row, name) for name in _FIELDS})


def set_thresholds(session: Session, account_id: int, thresholds: Thresholds) -> None:
    """Store (or replace) the account's thresholds; the caller checked Thresholds.problems()."""
    table = ReputationThresholds.__table__
    values = {name: getattr(thresholds, name) for name in _FIELDS}
    statement = insert_for(session, table).values(account_id=account_id, updated_at=utcnow(), **values)
    session.execute(statement.on_conflict_do_update(index_elements=["account_id"],
                                                    set_={**values, "updated_at": statement.excluded.updated_at}))


def lock_reputation_states(session: Session, account_id: int, scopes: Sequence[str],
                           initial: dict[str, str]) -> dict[str, ReputationState]:
    """The account's states for ``scopes`` (made with ``initial`` states where missing), row-locked
    until commit: two workers evaluating one account take turns, so each crossing is told once."""
    found = _locked_states(session, account_id)
    missing = sorted(set(scopes) - set(found))
    if not missing:  # every batch after an account's first: no INSERT
        return found
    table = ReputationState.__table__
    now = utcnow()
    rows = [{"account_id": account_id, "scope": scope, "bounce_state": initial["bounce"],
             "complaint_state": initial["complaint"], "bounce_rate": 0.0, "complaint_rate": 0.0, "sent": 0,
             "changed_at": now, "evaluated_at": now} for scope in missing]
    session.execute(insert_for(session, table).on_conflict_do_nothing(index_elements=["account_id", "scope"]), rows)
    return _locked_states(session, account_id)  # with those just made (or made meanwhile by another worker)


def _locked_states(session: Session, account_id: int) -> dict[str, ReputationState]:
    found = session.scalars(select(ReputationState).where(ReputationState.account_id == account_id)
                            .order_by(ReputationState.scope).with_for_update())
    return {row.scope: row for row in found}


def save_reputation_state(row: ReputationState, *, bounce_state: str, complaint_state: str, bounce_rate: float,
                          complaint_rate: float, sent: int, now: datetime) -> bool:
    """Record an evaluation on a locked row; whether a state changed (a crossing)."""
    crossed = (row.bounce_state, row.complaint_state) != (bounce_state, complaint_state)
    if crossed:
        row.changed_at = now
    row.bounce_state, row.complaint_state = bounce_state, complaint_state
    row.bounce_rate, row.complaint_rate, row.sent, row.evaluated_at = bounce_rate, complaint_rate, sent, now
    return crossed


def reputation_states(session: Session, account_ids: Sequence[int] | None = None) -> list[ReputationState]:
    """The last evaluated states (of these accounts, or all), by account then scope."""
    statement = select(ReputationState).order_by(ReputationState.account_id, ReputationState.scope)
    if account_ids is not None:
        statement = statement.where(ReputationState.account_id.in_(list(account_ids)))
    return list(session.scalars(statement))


def accounts_with_reputation(session: Session, since: datetime) -> list[int]:
    """Accounts with deliveries sent since ``since`` or with an evaluated state."""
    sent = select(DeliveryStat.account_id).where(DeliveryStat.hour >= since.replace(minute=0, second=0,
                                                                                    microsecond=0))
    return sorted(session.scalars(union(sent, select(ReputationState.account_id))))


def account_reputations(session: Session) -> list[tuple[str, ReputationState]]:
    """(account name, its whole-account state) of every evaluated account: the Prometheus gauges."""
    return [(name, state) for name, state in session.execute(
        select(Account.name, ReputationState).join(Account, Account.id == ReputationState.account_id)
        .where(ReputationState.scope == ACCOUNT_SCOPE).order_by(Account.name))]
