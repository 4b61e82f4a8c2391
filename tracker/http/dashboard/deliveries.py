"""Deliveries: find them by message id or recipient, then one delivery's timeline, every event with its details."""
from __future__ import annotations

from datetime import datetime, UTC

from flask import g, request

from tracker.db import repository
from tracker.domain import normalize_address
from tracker.http.dashboard.base import blueprint, db, page

LIMIT = 50
# Events of a timeline per page: a history grows with every open and click (and every unmapped
# event kept), so a page holds a bounded part of it, oldest first, and links to what follows.
HISTORY_PAGE = 200


@blueprint.get("/deliveries")
def deliveries():
    """Find the account's deliveries by message id and/or recipient (the newest LIMIT)."""
    message_id = request.args.get("message_id", "").strip() or None
    recipient = request.args.get("recipient", "").strip() or None
    problem, found = None, None
    if recipient is not None:
        try:
            recipient = normalize_address(recipient)
        except ValueError:
            problem = f"{recipient!r} is not an email address"
    if (message_id or recipient) and problem is None:
        with db().session() as session:
            found = repository.find_deliveries(session, g.account_id, message_id=message_id, recipient=recipient,
                                               limit=LIMIT)
    return page("deliveries.html", found=found, problem=problem, limit=LIMIT,
                message_id=message_id or "", recipient=request.args.get("recipient", ""))


@blueprint.get("/deliveries/<int:delivery_id>")
def timeline(delivery_id: int):
    """One delivery of the account and its history, oldest first, HISTORY_PAGE events a page."""
    after = _cursor(request.args.get("after", ""))
    with db().session() as session:
        delivery = repository.delivery_of_account(session, g.account_id, delivery_id)
        if delivery is None:
            return page("missing.html", 404, what=f"delivery {delivery_id}")
        events = repository.delivery_history(session, delivery, after=after, limit=HISTORY_PAGE + 1)
    last = events[HISTORY_PAGE - 1] if len(events) > HISTORY_PAGE else None
    return page("timeline.html", delivery=delivery, events=events[:HISTORY_PAGE], after=after,
                next_after=f"{last.occurred_at.isoformat()}|{last.event_key}" if last else None)


def _cursor(raw: str) -> tuple[datetime, str] | None:
    """An event's (occurred_at, event_key) from ``after``; anything unreadable starts from the first event."""
    moment, _, key = raw.partition("|")  # an ISO time has no "|"; an event key may
    try:
        occurred = datetime.fromisoformat(moment)
        return (occurred.astimezone(UTC), key) if occurred.tzinfo is not None else None
    except (ValueError, OverflowError):  # not a time, or one whose UTC is past year 9999
        return None
