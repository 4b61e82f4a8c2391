"""Bearer API-key authentication; every view gets the caller's account id and nothing more."""
from __future__ import annotations

import functools

from flask import g, request

from tracker.http import credentials, ratelimit
from tracker.http.errors import ApiError

READ_ONLY = "read-only"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tracker"'}


def require_key(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <API key>", _CHALLENGE)
        caller = credentials.caller_from_api_key(presented)
        if caller is None:
            raise ApiError(401, "unauthorized", "the API key is unknown or revoked", _CHALLENGE)
        g.account_id, g.key_id, g.caller = caller.account_id, caller.key_id, caller
        if caller.role == READ_ONLY and request.method not in ("GET", "HEAD"):
            raise ApiError(403, "forbidden", "this API key is read-only")
        retry_after = ratelimit.hit(caller.account_id, "native")
        if retry_after is not None:
            raise ApiError(429, "too_many_requests", "rate limit exceeded",
                           {"Retry-After": str(int(retry_after) + 1)})
        return view(*args, **kwargs)

    return wrapper


def require_operator(view):
    """An operator key of the account (tracker keys create --operator); 403 for application keys."""
    @functools.wraps(view)
    @require_key
    def wrapper(*args, **kwargs):
        if not g.caller.is_operator:
            raise ApiError(403, "forbidden", "this API needs an operator key (tracker keys create --operator)")
        return view(*args, **kwargs)

    return wrapper
