"""The suppression list: /api/v1/suppressions (list, quick check, removal with an audit record)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from tracker.db import repository
from tracker.http.auth import require_key
from tracker.http.args import load_args, page_of
from tracker.http.api.schemas import SuppressionQuery, SuppressionSchema
from tracker.domain import normalize_address
from tracker.http.errors import ApiError
from tracker.services import services

blueprint = Blueprint("suppressions_api", __name__, url_prefix="/api/v1/suppressions")

_query = SuppressionQuery()
_suppression = SuppressionSchema()


@blueprint.get("")
@require_key
def list_suppressions():
    args = load_args(_query, request.args)
    limit = args["limit"]
    with services().db.session() as session:
        rows = repository.list_suppressions(session, g.account_id, reason=args.get("reason"),
                                            after=args.get("cursor"), limit=limit + 1)
    return jsonify(page_of(rows[:limit], len(rows) > limit, _suppression, lambda row: (row.created_at, row.id)))


@blueprint.get("/<path:address>")
@require_key
def check(address: str):
    """200 with why an address is suppressed; 404 when it may be sent to."""
    with services().db.session() as session:
        row = repository.suppression_of(session, g.account_id, _address(address))
    if row is None:
        raise ApiError(404, "not_suppressed", f"{address} is not on this account's suppression list")
    return jsonify(_suppression.dump(row))


@blueprint.route("/<path:address>", methods=["DELETE"])
@require_key
def remove(address: str):
    with services().db.transaction() as session:
        row = repository.suppression_of(session, g.account_id, _address(address))
        if row is None:
            raise ApiError(404, "not_suppressed", f"{address} is not on this account's suppression list")
        repository.remove_suppression(session, row, removed_by=g.key_id, snapshot=_suppression.dump(row))
    return "", 204


def _address(raw: str) -> str:
    try:
        return normalize_address(raw)
    except ValueError:  # never an address, so never on the list
        raise ApiError(404, "not_suppressed", f"{raw} is not on this account's suppression list") from None
