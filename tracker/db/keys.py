"""API keys: generated with a public id and a secret; only a hash of the secret is stored.

A key reads ``trk_<16 hex key id>_<secret>``. The secret carries 256 random bits, so a
plain SHA-256 is enough to make a stolen table useless (a slow KDF buys nothing against
a search space that large) and keeps every authenticated request cheap.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets

PREFIX = "trk_"
_KEY_ID_LEN = 16
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SECRET = re.compile(r"[A-Za-z0-9_-]+")  # token_urlsafe's alphabet


@dataclasses.dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: str
    plaintext: str  # shown once, never stored


def generate() -> NewKey:
    key_id = secrets.token_hex(_KEY_ID_LEN // 2)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}{key_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None.

    Well-formed is what generate() makes, so nothing else (a NUL, say, which PostgreSQL
    refuses in a query) goes further than this.
    """
    if not presented.startswith(PREFIX):
        return None
    rest = presented[len(PREFIX):]
    key_id, sep, secret = rest[:_KEY_ID_LEN], rest[_KEY_ID_LEN:_KEY_ID_LEN + 1], rest[_KEY_ID_LEN + 1:]
    if sep != "_" or not is_key_id(key_id) or not _SECRET.fullmatch(secret):
        return None
    return key_id, secret


def is_key_id(value: object) -> bool:
    """A key id as generate() makes them: 16 lowercase hex characters."""
    return isinstance(value, str) and _KEY_ID.fullmatch(value) is not None


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def sealer(secret_key: str):
    """A Fernet keyed by TRACKER_SECRET_KEY, for the one use that needs a key back: JWT verification."""
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()))


def seal(plaintext: str, secret_key: str) -> str:
    return sealer(secret_key).encrypt(plaintext.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str | None:
    from cryptography.fernet import InvalidToken

    try:
        return sealer(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:  # sealed under another TRACKER_SECRET_KEY
        return None
