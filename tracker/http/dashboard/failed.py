"""Failed events: why each failed, its raw payload; replay or discard one, or all matching a filter.

Replaying or discarding all matching a filter asks for a confirmation first.

The work is the admin API's: tracker.pipeline.operations replays in this request and records
who discarded what (``key:<key id>``, as the API does). A replay or discard of everything
matching a filter takes MAX_IDS events per confirmation, walking by id as `tracker events
replay --all-failed` does: each confirmation carries the last id done (``after``) and the next
one starts past it, so events that fail again are not taken again in place of the rest.
"""
from __future__ import annotations

import json

from flask import flash, g, redirect, request, url_for

from tracker.db import repository
from tracker.db.repository.operations import EventFilter
from tracker.http.dashboard.base import blueprint, db, page
from tracker.domain import inbox
from tracker.pipeline import operations
from tracker.providers.common import bounded_json
from tracker.services import services

PAGE = 25
MAX_IDS = 1000
SHOWN_BODY = 20_000  # characters of a raw payload shown; the rest stays one replay away


def _filter() -> tuple[EventFilter, dict]:
    """The failed events of the signed-in account matching the request's provider and error text."""
    values = {name: request.values.get(name, "").strip()[:200] for name in ("provider", "error_contains")}
    where = EventFilter(state=inbox.FAILED, account_id=g.account_id, provider=values["provider"] or None,
                        error_contains=values["error_contains"] or None)
    return where, {name: value for name, value in values.items() if value}


@blueprint.get("/failed")
def failed():
    """A page of the account's failed events matching the filter, each with its reason and raw payload."""
    where, shown = _filter()
    after = request.args.get("after", type=int) or 0
    with db().session() as session:
        rows = repository.list_inbox_events(session, where, after_id=after, limit=PAGE + 1)
    events = [(row, _readable(row.body)) for row in rows[:PAGE]]
    return page("failed.html", events=events, filter=shown,
                next_after=rows[PAGE - 1].id if len(rows) > PAGE else None)


@blueprint.get("/failed/confirm")
def confirm_failed():
    """What a replay or discard would touch, and the form that does it."""
    action = request.args.get("action")
    if action not in ("replay", "discard"):
        return page("missing.html", 404, what=f"action {action!r}")
    event_id = request.args.get("id", type=int)
    where, shown = _filter()
    if event_id is not None:
        with db().session() as session:
            row = repository.inbox_event(session, event_id, account_id=g.account_id)
        if row is None or row.state != inbox.FAILED:
            return page("missing.html", 404, what=f"failed event {event_id}")
        return page("confirm_failed.html", action=action, event=row, count=1, filter={})
    after = _after(request.args)
    count = operations.count_failed(services(), where, after_id=after)
    return page("confirm_failed.html", action=action, event=None, count=count, filter=shown,
                batch=min(count, MAX_IDS), after=after)


@blueprint.post("/failed/replay")
def replay_failed():
    """Replay the confirmed event (or the next MAX_IDS matching the filter) now, in this request."""
    ids, where, shown = _chosen()
    summary = operations.replay_ids(services(), ids)
    flash(f"replayed {summary.replayed}: now processed {summary.processed}, still failing {summary.still_failing}")
    return _onwards("replay", ids, where, shown)


@blueprint.post("/failed/discard")
def discard_failed():
    """Discard the confirmed event (or the next MAX_IDS matching the filter), recording the key and reason."""
    reason = request.form.get("reason", "").strip()
    ids, where, shown = _chosen()
    if not reason:
        flash("a discard needs a reason: nothing was discarded", "error")
        return redirect(url_for("dashboard.failed", **shown))
    done = operations.discard(services(), ids, reason=reason[:2000], by=f"key:{g.key_id}", account_id=g.account_id)
    flash(f"discarded {len(done)}")
    return _onwards("discard", ids, where, shown)


def _chosen() -> tuple[list[int], EventFilter | None, dict]:
    """The account's event ids the form names: one ``id``, or the next MAX_IDS matching the filter past ``after``."""
    event_id = request.form.get("id", type=int)
    with db().session() as session:
        if event_id is not None:
            return repository.inbox_ids_of_account(session, [event_id], g.account_id), None, {}
        where, shown = _filter()
        return repository.inbox_ids(session, where, after_id=_after(request.form), limit=MAX_IDS), where, shown


def _onwards(action: str, ids: list[int], where: EventFilter | None, shown: dict):
    """After a batch: the confirmation of the next one when more match past it, else the list (and what is left)."""
    if where is None:
        return redirect(url_for("dashboard.failed", **shown))
    more = operations.count_failed(services(), where, after_id=ids[-1]) if ids else 0
    if more:
        flash(f"{more} more failed event(s) match after #{ids[-1]}: confirm to {action} them too")
        return redirect(url_for("dashboard.confirm_failed", action=action, after=ids[-1], **shown))
    left = operations.count_failed(services(), where)
    if left:  # the ones that failed again in this pass (a replay), or arrived since
        flash(f"{left} failed event(s) still match")
    return redirect(url_for("dashboard.failed", **shown))


def _after(values) -> int:
    """The last event id a walk through everything matching has done (0: from the start)."""
    return max(values.get("after", 0, type=int) or 0, 0)


def _readable(body: str) -> str:
    """The raw payload as an operator reads it: JSON indented (depth bounded), anything else as stored; cut long."""
    try:
        text = json.dumps(bounded_json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = body
    return text if len(text) <= SHOWN_BODY else text[:SHOWN_BODY] + f"\n... ({len(text) - SHOWN_BODY} more characters)"
