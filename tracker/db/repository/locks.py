"""Locks that serialize writers of one message, or of one address's suppression, until commit.

A delivery row lock cannot serialize writers of a delivery or a message still being made (a
new row is invisible to others until commit): a worker counting a new delivery under "no
sending domain" while another commits the message's From would keep it there for good, and
two workers each applying one soft bounce of an address would each count only its own. So
whoever writes a message's deliveries or sender, or counts an address's soft bounces, first
takes that message's or address's lock. PostgreSQL transaction-level advisory locks, all of
a transaction's in one statement, in one order, before any row lock: writers never wait on
each other in a cycle. SQLite serializes writers anyway.

PostgreSQL keeps every such lock in one shared table, sized for max_locks_per_transaction (64)
times max_connections: a transaction taking thousands (a batch of SendGrid posts, each naming
hundreds of messages) would fill it, and every other session, the receivers' INSERTs included,
would then fail to take any lock ("out of shared memory"). So a transaction takes at most
MOST_EACH of them; one that needs more takes a single lock over everything (_ALL, exclusive),
and every other one holds _ALL shared while it holds its own: the big one waits for them all,
and they for it, and each transaction's locks stay a bounded few.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["MOST_EACH", "lock_messages", "take_locks"]


def take_locks(session: Session, *, messages: Iterable[tuple[int, str]] = (),
               addresses: Iterable[tuple[int, str]] = ()) -> None:
    """Hold these (account id, message id) and (account id, address) until commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # The keys deduplicated before they are hashed: a batch names each message a few times.
    ids = sorted({_lock_id("message", *key) for key in set(messages)}
                 | {_lock_id("address", *key) for key in set(addresses)})
    if len(ids) > MOST_EACH:
        session.execute(_TAKE_ALL, {"all": _ALL})
    elif ids:
        session.execute(_TAKE, {"all": _ALL, "ids": ids})


def lock_messages(session: Session, keys: Iterable[tuple[int, str]]) -> None:
    """Hold these (account id, message id) until commit (take_locks)."""
    take_locks(session, messages=keys)


def _lock_id(kind: str, account_id: int, name: str) -> int:
    """A lock's id: 64 bits of a digest (a collision only makes two writers wait for each other)."""
    digest = hashlib.blake2b(f"{kind}:{account_id}:{name}".encode(), digest_size=8, person=b"tracker-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


MOST_EACH = 512
# The lock over every message and address: a fixed id (a digest landing on it, one chance in
# 2**64, would only make two writers wait for each other).
_ALL = 0x7472616B65722D41  # b"traker-A"

# _ALL shared first, then each in the order given (volatile functions run after the sort: ORDER
# BY fixes the order).
_TAKE = text("SELECT CASE WHEN t.n = 0 THEN pg_advisory_xact_lock_shared(t.id) ELSE pg_advisory_xact_lock(t.id) END"
             " FROM (SELECT CAST(:all AS bigint) AS id, CAST(0 AS bigint) AS n UNION ALL"
             " SELECT id, n FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY AS u(id, n)) AS t ORDER BY t.n")
_TAKE_ALL = text("SELECT pg_advisory_xact_lock(CAST(:all AS bigint))")
