"""Locks that serialize writers of one message, or of one address's suppression, until commit.

A delivery row lock cannot serialize writers of a delivery or a message still being made (a
new row is invisible to others until commit): a worker counting a new delivery under "no
sending domain" while another commits the message's From would keep it there for good, and
two workers each applying one soft bounce of an address would each count only its own. So
whoever writes a message's deliveries or sender, or counts an address's soft bounces, first
takes that message's or address's lock. PostgreSQL transaction-level advisory locks, all of
a transaction's in one statement, in one order, before any row lock: writers never wait on
each other in a cycle. SQLite serializes writers anyway.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["lock_messages", "take_locks"]


def take_locks(session: Session, *, messages: Iterable[tuple[int, str]] = (),
               addresses: Iterable[tuple[int, str]] = ()) -> None:
    """Hold these (account id, message id) and (account id, address) until commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({_lock_id("message", *key) for key in messages} | {_lock_id("address", *key) for key in addresses})
    if ids:
        session.execute(_TAKE, {"ids": ids})


def lock_messages(session: Session, keys: Iterable[tuple[int, str]]) -> None:
    """Hold these (account id, message id) until commit (take_locks)."""
    take_locks(session, messages=keys)


def _lock_id(kind: str, account_id: int, name: str) -> int:
    """A lock's id: 64 bits of a digest (a collision only makes two writers wait for each other)."""
    digest = hashlib.blake2b(f"{kind}:{account_id}:{name}".encode(), digest_size=8, person=b"tracker-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


# Taken in the order given (volatile functions run after the sort: ORDER BY fixes the order).
_TAKE = text("SELECT pg_advisory_xact_lock(id) FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS t(id, n)"
             " ORDER BY n")
