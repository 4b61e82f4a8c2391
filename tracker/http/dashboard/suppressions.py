"""Suppressions: the account's list newest first, search by address, removal audited as the API audits it."""
from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect, request, url_for

from tracker.db import repository
from tracker.domain import normalize_address
from tracker.http.api.schemas import SuppressionSchema
from tracker.http.dashboard.base import blueprint, db, page

PAGE = 50
_snapshot = SuppressionSchema()


def _address(raw: str) -> str | None:
    try:
        return normalize_address(raw)
    except ValueError:
        return None


@blueprint.get("/suppressions")
def suppressions():
    """The account's suppressions, newest first, or the one of the address searched."""
    raw = request.args.get("address", "").strip()
    address = _address(raw) if raw else None
    before = _cursor(request.args.get("before", ""))
    rows = []
    if not raw or address:
        with db().session() as session:
            rows = repository.recent_suppressions(session, g.account_id, address=address, before=before,
                                                  limit=PAGE + 1)
    last = rows[PAGE - 1] if len(rows) > PAGE else None
    return page("suppressions.html", rows=rows[:PAGE], address=raw,
                problem=f"{raw!r} is not an email address" if raw and not address else None,
                next_before=f"{last.created_at.isoformat()}|{last.id}" if last else None)


@blueprint.get("/suppressions/remove")
def confirm_removal():
    """What removing an address would remove, and the form that does it."""
    address = _address(request.args.get("address", ""))
    with db().session() as session:
        row = repository.suppression_of(session, g.account_id, address) if address else None
    if row is None:
        return page("missing.html", 404, what=f"suppression of {request.args.get('address', '')!r}")
    return page("confirm_removal.html", row=row)


@blueprint.post("/suppressions/remove")
def remove_suppression():
    """Remove a suppression of the account and keep the same audit record as the API."""
    address = _address(request.form.get("address", ""))
    with db().transaction() as session:
        row = repository.suppression_of(session, g.account_id, address) if address else None
        if row is not None:
            # The same audit record as DELETE /api/v1/suppressions/<address>: the key that asked, what was removed.
            repository.remove_suppression(session, row, removed_by=g.key_id, snapshot=_snapshot.dump(row))
    flash(f"removed {address} from the suppression list" if row is not None
          else f"{request.form.get('address', '')} was not on the suppression list", None if row else "error")
    return redirect(url_for("dashboard.suppressions"))


def _cursor(raw: str) -> tuple[datetime, int] | None:
    created, _, row_id = raw.partition("|")
    try:
        moment = datetime.fromisoformat(created)
        return (moment, int(row_id)) if moment.tzinfo is not None else None
    except ValueError:
        return None
