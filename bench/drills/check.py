"""Comparing what the tracker shows with what was sent: acknowledged, applied, lost, applied twice, wrong."""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from bench.drills.sns_client import Fate
from bench.drills.traffic import Expected, Plan
from tests.support.processes import http


@dataclasses.dataclass
class Tally:
    """The figures of one drill's genuine traffic."""

    notifications: int = 0  # unique MessageIds sent
    posts: int = 0  # HTTP requests made, retries and re-sent MessageIds included
    answers: Counter = dataclasses.field(default_factory=Counter)
    acknowledged: int = 0  # unique MessageIds answered 2xx at least once
    refused: int = 0  # answered 4xx: SNS would drop them
    gave_up: int = 0  # never acknowledged within the retry policy
    applied: int = 0  # acknowledged, and their inbox row is processed
    lost_not_stored: int = 0  # acknowledged, yet no inbox row
    lost_pending: int = 0  # acknowledged, still pending at the end
    lost_failed: int = 0  # acknowledged, but their row failed
    deliveries: int = 0  # expected deliveries
    short: int = 0  # deliveries missing or with fewer history events than were acknowledged
    applied_twice: int = 0  # deliveries with more history events, opens or clicks than were sent
    wrong: int = 0  # complete deliveries whose status or bounce type is not the expected one
    unexpected: int = 0  # deliveries that nothing sent should have made
    wrong_examples: list = dataclasses.field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.lost_not_stored + self.lost_pending + self.lost_failed


def tally(plan: Plan, fates: Iterable[Fate], database_url: str, source_id: int, base_url: str,
          api_key: str) -> Tally:
    fates = list(fates)
    result = Tally(notifications=len(plan.notifications))
    acknowledged: set[str] = set()
    refused: set[str] = set()
    for fate in fates:
        result.posts += fate.attempts
        result.answers.update(fate.answers)
        if fate.acknowledged_at is not None:
            acknowledged.add(fate.key)
        elif fate.refused is not None:
            refused.add(fate.key)
    result.acknowledged = len(acknowledged)
    result.refused = len(refused - acknowledged)
    result.gave_up = len({f.key for f in fates if f.gave_up} - acknowledged)

    states = inbox_states(database_url, source_id)
    for key in acknowledged:
        state = states.get(key)
        if state == "processed":
            result.applied += 1
        elif state is None:
            result.lost_not_stored += 1
        elif state == "pending":
            result.lost_pending += 1
        else:
            result.lost_failed += 1

    expected = plan.expected(acknowledged)
    shown = deliveries(base_url, api_key)
    result.deliveries = len(expected)
    for key, want in expected.items():
        got = shown.get(key)
        if got is None or got["events_count"] < want.events:
            result.short += 1
        elif (got["events_count"] > want.events or got["engagement"]["opens"] > want.opens
              or got["engagement"]["clicks"] > want.clicks):
            result.applied_twice += 1
        elif (got["status"], got["bounce_type"]) != (want.status, want.bounce_type):
            result.wrong += 1
            if len(result.wrong_examples) < 5:
                result.wrong_examples.append(_example(key, want, got))
    result.unexpected = len(set(shown) - set(expected))
    return result


def _example(key: tuple[str, str], want: Expected, got: dict) -> str:
    return (f"{key[0]} {key[1]}: expected {want.status}/{want.bounce_type}, "
            f"shown {got['status']}/{got['bounce_type']} ({got['events_count']} events)")


def inbox_states(database_url: str, source_id: int) -> dict[str, str]:
    """dedupe key (the SNS MessageId) -> state, for one source's inbox rows."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT dedupe_key, state FROM inbox_events WHERE source_id = :s"),
                                      {"s": source_id})
            return dict(rows.all())
    finally:
        engine.dispose()


def deliveries(base_url: str, api_key: str) -> dict[tuple[str, str], dict]:
    """Every delivery of the key's account, through the native API (keyset pages of 1,000)."""
    found: dict[tuple[str, str], dict] = {}
    cursor = None
    while True:
        query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
        status, body = http("GET", f"{base_url}/api/v1/deliveries?{query}",
                            headers={"Authorization": f"Bearer {api_key}"})
        if status != 200:
            raise RuntimeError(f"GET /api/v1/deliveries answered {status}: {body}")
        for item in body["data"]:
            found[(item["message_id"], item["recipient"])] = item
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def inbox_counts(database_url: str, source_ids: Iterable[int]) -> dict[str, int]:
    """state -> rows, over the given sources."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT state, count(*) FROM inbox_events WHERE source_id = ANY(:s) "
                                              "GROUP BY state"), {"s": list(source_ids)})
            return dict(rows.all())
    finally:
        engine.dispose()
