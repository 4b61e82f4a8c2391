"""Delivery statistics: counts moved in the transaction that changes deliveries, time series, reputation counts.

A delivery is counted once, under its key: account, send hour (the cohort it was sent
in), sending domain (its message's From), provider, status and reputation outcome
(tracker.domain.reputation.outcome_of). Whoever changes deliveries takes a snapshot of
their keys before (with the rows locked) and after, and record_status_change moves the
difference: a delivery going DELIVERED -> BOUNCED is -1 in one row and +1 in another.
"""
from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import datetime, timedelta, UTC
from types import SimpleNamespace
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.orm import Session

from tracker.db.models import Delivery, DeliveryStat, Message
from tracker.db.repository.dialect import insert_for
from tracker.db.repository.prebuilt import prebuilt
from tracker.domain.reputation import outcome_of, sending_domain

__all__ = [
    "GROUPS",
    "INTERVALS",
    "ReputationCounts",
    "SeriesPoint",
    "StatKey",
    "rebuild_stats",
    "record_status_change",
    "reputation_counts",
    "stat_key",
    "message_senders",
    "message_stats_snapshot",
    "stat_keys",
    "messages_learning_sender",
    "record_senders_learnt",
    "time_series",
]

# (account_id, hour, domain, provider, status, outcome): the primary key of delivery_stats.
StatKey = tuple[int, datetime, str, str, str, str]
DeliveryKey = tuple[int, str, str]  # (account_id, message_id, recipient)

GROUPS = ("status", "provider", "domain", "outcome")
INTERVALS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

_KEY_COLUMNS = (Delivery.account_id, Delivery.message_id, Delivery.recipient, Delivery.provider, Delivery.status,
                Delivery.bounce_type, Delivery.bounce_subtype, Delivery.failure_status, Delivery.failure_bounce_type,
                Delivery.failure_bounce_subtype, Delivery.submitted_at, Delivery.created_at)
_SAME_MESSAGE = and_(Message.account_id == Delivery.account_id, Message.message_id == Delivery.message_id)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def stat_key(row, from_address: str | None) -> StatKey:
    """The statistics row a delivery (a row of _KEY_COLUMNS) whose message has this From is counted in."""
    outcome = outcome_of(row.status, row.bounce_type, row.bounce_subtype, row.failure_status,
                         row.failure_bounce_type, row.failure_bounce_subtype)
    # The send hour: rates are per sent cohort, so a bounce days later still counts against
    # the hour its message went out in (created_at when no send time is known at all).
    return (row.account_id, hour_of(row.submitted_at or row.created_at), sending_domain(from_address),
            row.provider, row.status, outcome.value)


def _of_messages(session: Session, account_id: int, message_ids: Sequence[str], lock: bool):
    """The key columns of every delivery of these messages, and the messages' senders.

    Two plain index reads (account_id, message_id IN ...): the planner joins them badly for
    a long list, and row-value IN lists cost several times more.
    """
    rows = session.execute(_LOCKED_KEYS if lock else _KEYS,
                           {"account_id": account_id, "message_ids": sorted(set(message_ids))}).all()
    senders = dict(session.execute(_SENDERS, {"account_id": account_id,
                                              "message_ids": sorted({r.message_id for r in rows})}).all()) \
        if rows else {}
    return rows, senders


# The worker's reads, once a batch or more: built once, each call binding its values
# (tracker.db.repository.prebuilt says why; each of these has one shape).
_KEYS = (select(*_KEY_COLUMNS).where(Delivery.account_id == bindparam("account_id"),
                                     Delivery.message_id.in_(bindparam("message_ids", expanding=True)))
         .order_by(Delivery.id))
_LOCKED_KEYS = _KEYS.with_for_update()
_SENDERS = select(Message.message_id, Message.from_address).where(
    Message.account_id == bindparam("account_id"), Message.message_id.in_(bindparam("message_ids", expanding=True)))
_KNOWN_SENDERS = _SENDERS.with_only_columns(Message.message_id).where(Message.from_address.is_not(None))


def message_senders(session: Session, keys: Sequence[DeliveryKey]) -> dict[tuple[int, str], str | None]:
    """(account id, message id) -> From of these deliveries' messages that have a row: one read per account."""
    by_account: dict[int, set[str]] = defaultdict(set)
    for account_id, message_id, _ in keys:
        by_account[account_id].add(message_id)
    found = {}
    for account_id, message_ids in sorted(by_account.items()):
        for message_id, from_address in session.execute(
                _SENDERS, {"account_id": account_id, "message_ids": sorted(message_ids)}):
            found[(account_id, message_id)] = from_address
    return found


def stat_keys(rows: Iterable, senders: Mapping[tuple[int, str], str | None]) -> dict[DeliveryKey, StatKey]:
    """The statistics keys of delivery rows already read (with the _KEY_COLUMNS, e.g. locked or
    returned by a merge), given their messages' senders (message_senders): no query."""
    return {(r.account_id, r.message_id, r.recipient): stat_key(r, senders.get((r.account_id, r.message_id)))
            for r in rows}


def message_stats_snapshot(session: Session, account_id: int, message_ids: Iterable[str],
                           lock: bool = True) -> dict[DeliveryKey, StatKey]:
    """The statistics keys of every delivery of these messages, row-locked (a registration changes them all)."""
    rows, senders = _of_messages(session, account_id, list(message_ids), lock)
    return {(r.account_id, r.message_id, r.recipient): stat_key(r, senders.get(r.message_id)) for r in rows}


def messages_learning_sender(session: Session, messages: Sequence[tuple[int, object]]) -> dict[int, dict[str, str]]:
    """Account id -> {message id: From} of the given messages (account id, facts) whose sender
    is not stored yet: recording them moves their deliveries to a sending domain."""
    wanted: dict[int, dict[str, str]] = defaultdict(dict)
    for account_id, facts in messages:
        if facts.from_address:
            wanted[account_id].setdefault(facts.message_id, facts.from_address)
    learning = {}
    for account_id, senders in sorted(wanted.items()):
        known = set(session.scalars(_KNOWN_SENDERS, {"account_id": account_id, "message_ids": sorted(senders)}))
        if len(known) < len(senders):
            learning[account_id] = {m: sender for m, sender in senders.items() if m not in known}
    return learning


def record_senders_learnt(session: Session, before: Mapping[DeliveryKey, StatKey], senders: Mapping[str, str]) -> int:
    """Move deliveries counted under no sending domain (``before``, taken locked before their
    messages' From was recorded) to the domain of their message's new From."""
    after = {key: (old[0], old[1], sending_domain(senders[key[1]]), *old[3:]) if not old[2] and key[1] in senders
             else old for key, old in before.items()}
    return record_status_change(session, before, after)


def record_status_change(session: Session, before: Mapping[DeliveryKey, StatKey],
                         after: Mapping[DeliveryKey, StatKey]) -> int:
    """Move the counts of deliveries whose key changed (status, outcome, send hour, domain,
    provider), add new ones, remove gone ones; in the caller's transaction. Rows touched."""
    delta: Counter = Counter()
    for delivery in set(before) | set(after):
        old, new = before.get(delivery), after.get(delivery)
        if old == new:
            continue
        if old is not None:
            delta[old] -= 1
        if new is not None:
            delta[new] += 1
    return _add(session, delta)


def _add(session: Session, delta: Mapping[StatKey, int]) -> int:
    rows = [{"account_id": k[0], "hour": k[1], "domain": k[2], "provider": k[3], "status": k[4], "outcome": k[5],
             "count": n} for k, n in sorted(delta.items()) if n]
    if not rows:
        return 0
    # Sorted, so that concurrent workers lock rows in one order; one multi-row statement, built
    # once per dialect (prebuilt).
    session.execute(prebuilt(("add stats", session.get_bind().dialect.name), lambda: _add_statement(session)), rows)
    return len(rows)


def _add_statement(session: Session):
    table = DeliveryStat.__table__
    statement = insert_for(session, table)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "hour", "domain", "provider", "status", "outcome"],
        set_={"count": table.c.count + statement.excluded.count},
    ).returning(table.c.count)


def rebuild_stats(session: Session, account_id: int | None = None) -> int:
    """Count the deliveries again from scratch (one account or all); the rows written.

    What an operator's rebuild and a retention purge end with: afterwards the statistics
    are a count over the deliveries. The database groups by the columns a key is made of
    (send hour, From, provider, status, bounce facts), stat_key's rules apply to the groups.
    """
    scope = [] if account_id is None else [DeliveryStat.account_id == account_id]
    session.execute(delete(DeliveryStat).where(*scope))
    sent = func.coalesce(Delivery.submitted_at, Delivery.created_at)
    if session.get_bind().dialect.name == "postgresql":
        hour = func.date_trunc("hour", sent)
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00", sent)
    columns = [Delivery.account_id, hour.label("hour"), Message.from_address, Delivery.provider, Delivery.status,
               Delivery.bounce_type, Delivery.bounce_subtype, Delivery.failure_status, Delivery.failure_bounce_type,
               Delivery.failure_bounce_subtype]
    statement = select(*columns, func.count()).outerjoin(Message, _SAME_MESSAGE).group_by(*columns)
    if account_id is not None:
        statement = statement.where(Delivery.account_id == account_id)
    counts: Counter = Counter()
    for row in session.execute(statement):
        moment = datetime.fromisoformat(row.hour) if isinstance(row.hour, str) else row.hour
        found = SimpleNamespace(**row._asdict(), submitted_at=moment.replace(tzinfo=UTC), created_at=None)
        counts[stat_key(found, row.from_address)] += row[-1]
    return _add(session, counts)


@dataclasses.dataclass(frozen=True)
class SeriesPoint:
    start: datetime  # the bucket's start (UTC)
    group: str  # the status, provider, domain or outcome
    count: int


def time_series(session: Session, account_id: int, start: datetime, end: datetime, interval: str,
                group_by: str) -> list[SeriesPoint]:
    """Deliveries sent from ``start`` (rounded down to its hour) to before ``end``, per ``interval``
    bucket (hour or day, UTC) and group, oldest first.

    Only buckets with deliveries appear; read from the statistics table alone.
    """
    if interval not in INTERVALS or group_by not in GROUPS:
        raise ValueError(f"interval {interval!r} or group_by {group_by!r} unknown")
    column = getattr(DeliveryStat, group_by)
    rows = session.execute(
        select(DeliveryStat.hour, column, func.sum(DeliveryStat.count))
        .where(DeliveryStat.account_id == account_id, DeliveryStat.hour >= hour_of(start), DeliveryStat.hour < end)
        .group_by(DeliveryStat.hour, column))
    buckets: Counter = Counter()
    for hour, group, count in rows:
        bucket = hour if interval == "hour" else hour.replace(hour=0)
        buckets[(bucket, group)] += int(count)
    return [SeriesPoint(bucket, group, count) for (bucket, group), count in sorted(buckets.items()) if count]


@dataclasses.dataclass(frozen=True)
class ReputationCounts:
    """Deliveries per reputation outcome value, for the whole account and per sending domain ("" unknown)."""

    account: dict[str, int]
    domains: dict[str, dict[str, int]]


def reputation_counts(session: Session, account_id: int, since: datetime) -> ReputationCounts:
    """Outcome counts of the deliveries sent since ``since`` (by send hour), per domain and overall."""
    rows = session.execute(_COUNTS, {"account_id": account_id, "since": hour_of(since)})
    account: Counter = Counter()
    domains: dict[str, Counter] = defaultdict(Counter)
    for domain, outcome, count in rows:
        account[outcome] += int(count)
        domains[domain][outcome] += int(count)
    return ReputationCounts(dict(account), {domain: dict(counts) for domain, counts in sorted(domains.items())
                                            if any(counts.values())})


_COUNTS = (select(DeliveryStat.domain, DeliveryStat.outcome, func.sum(DeliveryStat.count))
           .where(DeliveryStat.account_id == bindparam("account_id"), DeliveryStat.hour >= bindparam("since"))
           .group_by(DeliveryStat.domain, DeliveryStat.outcome))
