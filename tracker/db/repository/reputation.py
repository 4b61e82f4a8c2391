"""Reputation thresholds per account and the last evaluated state of each account and sending domain."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from collections.abc import Sequence

from sqlalchemy import bindparam, select, union, update
from sqlalchemy.orm import Session

from tracker.db.models import Account, DeliveryStat, ReputationState, ReputationThresholds, utcnow
from tracker.db.repository.dialect import insert_for
from tracker.domain.reputation import SES_DEFAULTS, Thresholds

__all__ = [
    "ACCOUNT_SCOPE",
    "accounts_with_reputation",
    "account_reputations",
    "LockedReputation",
    "lock_reputation_states",
    "reputation_states",
    "save_reputation_states",
    "set_thresholds",
    "thresholds_of",
]

# The scope of a whole account's state (a sending domain is never "*").
ACCOUNT_SCOPE = "*"
_FIELDS = ("bounce_warning", "bounce_at_risk", "complaint_warning", "complaint_at_risk", "min_sent")


def thresholds_of(session: Session, account_id: int) -> Thresholds:
    """The account's thresholds, or SES's defaults when it set none."""
    row = session.execute(_THRESHOLDS, {"account_id": account_id}).first()
    return SES_DEFAULTS if row is None else Thresholds(**row._mapping)


_THRESHOLDS = (select(*(ReputationThresholds.__table__.c[name] for name in _FIELDS))
               .where(ReputationThresholds.account_id == bindparam("account_id")))


def set_thresholds(session: Session, account_id: int, thresholds: Thresholds) -> None:
    """Store (or replace) the account's thresholds; the caller checked Thresholds.problems()."""
    table = ReputationThresholds.__table__
    values = {name: getattr(thresholds, name) for name in _FIELDS}
    statement = insert_for(session, table).values(account_id=account_id, updated_at=utcnow(), **values)
    session.execute(statement.on_conflict_do_update(index_elements=["account_id"],
                                                    set_={**values, "updated_at": statement.excluded.updated_at}))


@dataclasses.dataclass(frozen=True)
class LockedReputation:
    """An account's or a domain's last evaluated state, row-locked until commit."""

    scope: str
    bounce_state: str
    complaint_state: str
    bounce_rate: float
    complaint_rate: float
    sent: int
    changed_at: datetime


def lock_reputation_states(session: Session, account_id: int, scopes: Sequence[str],
                           initial: dict[str, str], now: datetime) -> dict[str, LockedReputation]:
    """The account's states for ``scopes`` (made with ``initial`` states where missing), row-locked
    until commit: two workers evaluating one account take turns, so each crossing is told once.

    Core rows, not ORM objects: every applied batch evaluates its accounts, and loading,
    tracking and flushing objects cost the worker more than the batch's statuses did."""
    found = _locked_states(session, account_id)
    missing = sorted(set(scopes) - set(found))
    if not missing:  # every batch after an account's first: no INSERT
        return found
    table = ReputationState.__table__
    rows = [{"account_id": account_id, "scope": scope, "bounce_state": initial["bounce"],
             "complaint_state": initial["complaint"], "bounce_rate": 0.0, "complaint_rate": 0.0, "sent": 0,
             "changed_at": now, "evaluated_at": now} for scope in missing]
    session.execute(insert_for(session, table).on_conflict_do_nothing(index_elements=["account_id", "scope"]), rows)
    return _locked_states(session, account_id)  # with those just made (or made meanwhile by another worker)


_LOCKED = (select(*(ReputationState.__table__.c[field.name] for field in dataclasses.fields(LockedReputation)))
           .where(ReputationState.account_id == bindparam("account_id")).order_by(ReputationState.scope)
           .with_for_update())


def _locked_states(session: Session, account_id: int) -> dict[str, LockedReputation]:
    return {row.scope: LockedReputation(*row)
            for row in session.execute(_LOCKED, {"account_id": account_id})}


def save_reputation_states(session: Session, account_id: int, changed: Sequence[LockedReputation],
                           now: datetime) -> None:
    """Record the evaluations of locked states that found new values, as one executemany (nothing
    when there is none). A state whose evaluation found what it holds is not written again, so
    evaluated_at is when a state last took new values."""
    if changed:
        session.execute(_SAVE, [{"key_account": account_id, "key_scope": state.scope, "evaluated_at": now,
                                 **{field: getattr(state, field) for field in _SAVED}} for state in changed])


_SAVED = ("bounce_state", "complaint_state", "bounce_rate", "complaint_rate", "sent", "changed_at")
_SAVE = (update(ReputationState.__table__)
         .where(ReputationState.account_id == bindparam("key_account"), ReputationState.scope == bindparam("key_scope"))
         .values(**{name: bindparam(name) for name in (*_SAVED, "evaluated_at")}))


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
