"""Authentication and the rate limit in front of every API view, one decorator for all styles.

Each API style says how it finds its caller (``identify``: a Bearer key, a JWT, App/Basic...)
and how its refusals look (``render``); ``guarded`` does the rest the same way everywhere:
the caller's account, key and role in ``g``, read-only keys held to reading, the style's
per-account rate limit.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request

from tracker.db.repository import Caller
from tracker.http import credentials, key_cache, ratelimit
from tracker.http.errors import ApiError, Renderer
from tracker.http.errors import render as render_by_path

READ_ONLY = "read-only"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tracker"'}
RATE_LIMITED = "rate limit exceeded"


def refuse_writes() -> str | None:
    """The default for read-only keys: they may read (GET, HEAD), nothing else."""
    return None if request.method in ("GET", "HEAD") else "this API key is read-only"


def guarded(style: str, identify: Callable[[], Caller], *, render: Renderer = render_by_path,
            read_only: Callable[[], str | None] = refuse_writes, too_many: str = RATE_LIMITED):
    """A decorator: ``identify()`` the caller (it raises a 401 ApiError saying why not), refuse a
    read-only key where ``read_only()`` gives a reason (403), count the request against
    ``style``'s limit (429 with Retry-After); every refusal in ``render``'s shape."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            keys = current_app.extensions["tracker.keys"]
            try:
                # A cached key is trusted once the revocation counter, read with the rate limit
                # in one Redis round trip, says it still may be (tracker.http.key_cache).
                with keys.deferring() as used:
                    caller = identify()
                g.account_id, g.key_id, g.caller = caller.account_id, caller.key_id, caller
                reason = read_only() if caller.role == READ_ONLY else None
                if reason is not None:
                    if used:
                        identify()  # not counted, so no round trip shared: a key revoked meanwhile is a 401
                    raise ApiError(403, "forbidden", reason)
                retry_after, counter = ratelimit.hit(caller.account_id, style,
                                                     also_get=key_cache.COUNTER if used else None)
                if not keys.holds(used, counter):
                    # The counter moved (a revocation), or was not read (no limit to count, Redis
                    # away): identified again the strict way, its 401 if this key was revoked.
                    identify()
                if retry_after is not None:
                    raise ApiError(429, "too_many_requests", too_many, {"Retry-After": str(int(retry_after) + 1)})
            except ApiError as refusal:
                return render(refusal)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _bearer_key() -> Caller:
    """The native API's caller: ``Authorization: Bearer <API key>``."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <API key>", _CHALLENGE)
    caller = credentials.caller_from_api_key(presented)
    if caller is None:
        raise ApiError(401, "unauthorized", "the API key is unknown or revoked", _CHALLENGE)
    return caller


require_key = guarded("native", _bearer_key)


def require_operator(view):
    """An operator key of the account (tracker keys create --operator); 403 for application keys."""
    @functools.wraps(view)
    @require_key
    def wrapper(*args, **kwargs):
        if not g.caller.is_operator:
            raise ApiError(403, "forbidden", "this API needs an operator key (tracker keys create --operator)")
        return view(*args, **kwargs)

    return wrapper
