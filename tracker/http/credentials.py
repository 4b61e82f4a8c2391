"""Every API style's credentials resolve to the same key store, through the process's key cache.

Styles: ``Bearer <API key>`` (native), ``Bearer <JWT>`` (HS256 signed with an API key, its
``kid`` header the key id: Elevate), ``App <API key>`` and ``Basic base64(user:API key)``
(Infobip), and an ``apiKey`` parameter (SendCloud). However presented, a key is the same
key: revoking it shuts every style at once (tracker.http.key_cache says how), and every
query is scoped to its account. Keys resolve without an ORM session: cached, else one Core query.
"""
from __future__ import annotations

import jwt

from flask import current_app

from tracker.db import keys, repository
from tracker.db.repository import Caller
from tracker.http.key_cache import KeyCache
from tracker.providers.common.webhook_auth import basic_credentials
from tracker.services import services

__all__ = ["Caller", "caller_from_api_key", "caller_from_authorization", "caller_from_jwt", "jwt_refusal"]

# Seconds a JWT's iat, nbf and exp may be off by. The client stamps them with its own clock
# (Node's jsonwebtoken always sets iat): without a leeway, a client running even a second
# ahead of the tracker made each fresh token "not yet valid", an intermittent 401.
CLOCK_SKEW = 30


def _cache() -> KeyCache:
    return current_app.extensions["tracker.keys"]


def caller_from_api_key(presented: str) -> Caller | None:
    """The caller an API key belongs to, or None (malformed, unknown, revoked)."""
    parts = keys.split(presented.strip())
    if parts is None:
        return None
    key_id, secret = parts
    found = _cache().record(services().db, key_id)
    # Compare against a dummy hash when the id is unknown so both paths cost the same.
    if not keys.matches(secret, found.secret_hash if found else "0" * 64) or found is None:
        return None
    return Caller(found.account_id, key_id, found.role)


def caller_from_jwt(token: str) -> Caller | None:
    """The caller of a JWT signed HS256 with one of its API keys, or None (forged, expired, unknown)."""
    app = services()
    try:
        key_id = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        return None
    if not keys.is_key_id(key_id):  # unsigned yet: only a well-formed id reaches the database
        return None
    found = _cache().record(services().db, key_id)
    if found is None or not found.sealed_key or not app.config.secret_key:
        return None
    secret = _cache().unsealed(found, app.config.secret_key)
    if secret is None:
        return None
    try:
        jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False}, leeway=CLOCK_SKEW)
    except jwt.InvalidTokenError:
        return None
    return Caller(found.account_id, key_id, found.role)


def caller_from_authorization(header: str, *, schemes: tuple[str, ...] = ("bearer",)) -> Caller | None:
    """Resolve an Authorization header in any of the given schemes (bearer, app, basic)."""
    scheme, _, credentials = header.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme not in schemes or not credentials:
        return None
    if scheme == "app":
        return caller_from_api_key(credentials)
    if scheme == "basic":
        _, _, password = (basic_credentials(credentials) or "").partition(":")
        return caller_from_api_key(password) if password else None
    if credentials.startswith(keys.PREFIX):
        return caller_from_api_key(credentials)
    return caller_from_jwt(credentials)


def jwt_refusal(token: str) -> str:
    """Why a JWT was refused, in words that say what is missing (for the 401's detail).

    Only called once a JWT failed; it tells what the caller can act on (no key id, an unknown
    key, a key that cannot verify JWTs and why), never anything about another account's keys.
    """
    app = services()
    try:
        key_id = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        return "the Bearer value is neither an API key (trk_...) nor a JWT"
    if not keys.is_key_id(key_id):
        return "the JWT's kid header must name the API key that signed it (the 16 hex characters after trk_)"
    with app.db.session() as session:
        found = repository.sealed_key(session, key_id)
    if found is None:
        return f"no live API key {key_id} (unknown or revoked)"
    if not app.config.secret_key:
        return ("this tracker has no TRACKER_SECRET_KEY, so it cannot verify JWTs: set it (to the secret the "
                "keys were created under), or send the API key itself as the Bearer value")
    if not found[2]:
        return (f"API key {key_id} was created without TRACKER_SECRET_KEY, so it cannot verify JWTs: create a key "
                "while TRACKER_SECRET_KEY is set (tracker keys create), or send the API key itself")
    if keys.unseal(found[2], app.config.secret_key) is None:
        return (f"API key {key_id} was created under another TRACKER_SECRET_KEY than this tracker's: set the same "
                "secret, or create a key under this one")
    return (f"the JWT is not signed HS256 by API key {key_id}, or it has expired or is not yet valid (its exp, iat "
            f"or nbf more than {CLOCK_SKEW} seconds off the tracker's clock)")
