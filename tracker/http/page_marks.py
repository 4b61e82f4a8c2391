"""Offset paging served by keyset: where each page ended, remembered for the page after it.

Three compatible APIs page by offset (Elevate page/pageSize, Postman offset, SendCloud
start), and an OFFSET costs time linear in the offset: on 1M deliveries OFFSET 100,000 is
~85x a keyset page (bench/read.py). Their clients page sequentially, so after serving the
rows [o, o+n) of a query we remember the sort key of its last row, under (account, API,
query, o+n); the request for offset o+n then continues after that key with an indexed
keyset condition instead of reading and throwing away o+n rows. Any depth costs what the
first page costs, for as long as a client walks the pages in order.

A mark may carry facts of the walk beside the sort key (``remember(..., total=n)``): SendCloud's
total, counted by the walk's first page and handed on from page to page, so that a walked page
does not count again what its client already has (stored under a key of its own, read and
written in the mark's round trip, naming the mark it goes with: a process of an older version
never sees it, and a mark it writes leaves earlier facts unread).

A mark lives MARK_TTL: 10 minutes, as long as SendCloud's document says it caches a query's
result. A scan started later sees fresh data; within a scan, rows that changed or arrived
meanwhile are neither repeated nor skipped, as they would be by a bare OFFSET. Marks are
shared through Redis when a broker is configured (every web process sees them) and kept in
the process otherwise. Losing one costs speed, never correctness: the page is then served
by OFFSET (within the API's cap).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from datetime import datetime
from collections.abc import Iterable, Mapping, Sequence

from tracker.adapters import redis_clients
from tracker.db.repository.paging import Ordering, PageSlice, row_values, sliced

MARK_TTL = 600  # seconds
_LOCAL_LIMIT = 50_000  # marks kept in process; past it the oldest half goes

def key(account_id: int, api: str, query: Mapping[str, Iterable[str] | str], offset: int) -> str:
    """The mark's name: account, API, the query's parameters but its paging ones, the offset.

    A repeated parameter's values keep their order: a view may read only the first of them
    (SendCloud's ``email``), so email=a&email=b and email=b&email=a are two queries."""
    canonical = json.dumps([account_id, api, sorted((name, list(values) if not isinstance(values, str) else values)
                                                    for name, values in query.items()), offset])
    return "tracker:pagemark:" + hashlib.sha256(canonical.encode()).hexdigest()


def query_identity(args, paging: Iterable[str]) -> dict[str, list[str]]:
    """A request's parameters (a MultiDict) without the paging ones: what one scan has in common."""
    skip = set(paging)
    return {name: args.getlist(name) for name in args if name not in skip}


def _carry_key(name: str) -> str:
    """Where the facts a mark carries are kept (beside its sort key, which older versions read alone)."""
    return name.replace("tracker:pagemark:", "tracker:pagecarry:", 1)


def _encode(values: Sequence) -> str:
    return json.dumps([{"t": value.isoformat()} if isinstance(value, datetime) else value for value in values])


def _decode(raw: str | bytes) -> tuple:
    return tuple(datetime.fromisoformat(value["t"]) if isinstance(value, dict) else value for value in json.loads(raw))


class LocalMarks:
    """The embedded default's marks: in this process, with an expiry."""

    def __init__(self, ttl: float = MARK_TTL) -> None:
        self._ttl = ttl
        self._marks: dict[str, tuple[float, str, dict]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple | None:
        return self.get_carrying(name)[0]

    def get_carrying(self, name: str) -> tuple[tuple | None, dict]:
        """(the mark's sort key, or None; the facts it carries)."""
        entry = self._marks.get(name)
        if entry is None or entry[0] < time.monotonic():
            return None, {}
        return _decode(entry[1]), dict(entry[2])

    def put(self, name: str, values: Sequence, carry: Mapping | None = None) -> None:
        with self._lock:
            if len(self._marks) >= _LOCAL_LIMIT:
                for stale in sorted(self._marks, key=lambda n: self._marks[n][0])[:_LOCAL_LIMIT // 2]:
                    del self._marks[stale]
            self._marks[name] = (time.monotonic() + self._ttl, _encode(values), dict(carry or {}))


class RedisMarks:
    """Marks every web process shares. Redis away: no mark (the page falls back to OFFSET)."""

    def __init__(self, url: str, ttl: int = MARK_TTL) -> None:
        self._url = url
        self._ttl = ttl

    def get(self, name: str) -> tuple | None:
        return self.get_carrying(name)[0]

    def get_carrying(self, name: str) -> tuple[tuple | None, dict]:
        """(the mark's sort key, or None; the facts it carries): one round trip."""
        try:
            raw, carried = redis_clients.client(self._url).mget(name, _carry_key(name))
        except Exception:  # noqa: BLE001 - a lost mark only costs speed
            return None, {}
        if raw is None:
            return None, {}
        return _decode(raw), _carried(carried, raw)

    def put(self, name: str, values: Sequence, carry: Mapping | None = None) -> None:
        with contextlib.suppress(Exception):  # a lost mark only costs speed
            client = redis_clients.client(self._url)
            encoded = _encode(values)
            if not carry:
                client.set(name, encoded, ex=self._ttl)
                return
            # The facts name the mark they go with: a mark written since without them (by this
            # version or an older one) leaves them unread.
            pipe = client.pipeline(transaction=True)  # one round trip
            pipe.set(name, encoded, ex=self._ttl)
            pipe.set(_carry_key(name), json.dumps({"mark": encoded, "facts": dict(carry)}), ex=self._ttl)
            pipe.execute()


def _carried(raw: bytes | str | None, mark: bytes | str) -> dict:
    """The facts stored with ``mark``; anything else (unreadable, or another mark's) carries nothing."""
    try:
        found = json.loads(raw) if raw is not None else {}
    except ValueError:
        return {}
    if not isinstance(found, dict) or not isinstance(found.get("facts"), dict):
        return {}
    return found["facts"] if found.get("mark") == (mark.decode() if isinstance(mark, bytes) else mark) else {}


class OffsetPager:
    """One offset-paged request: find its mark, build its page, remember where it ended."""

    def __init__(self, marks, account_id: int, api: str, identity: Mapping, ordering: Ordering, offset: int) -> None:
        self._marks = marks
        self._account_id = account_id
        self._api = api
        self._identity = identity
        self.ordering = ordering
        self.offset = offset
        mark, carried = marks.get_carrying(key(account_id, api, identity, offset)) if offset else (None, {})
        # A mark holds one value per sort key; any other (left by another version's ordering) is
        # not this query's: the page is served by its offset instead.
        self.mark = mark if mark is not None and len(mark) == len(ordering) else None
        # What the walk's earlier pages handed on (remember's ``carry``); nothing without a mark.
        self.carried: dict = carried if self.mark is not None else {}

    def slice(self, limit: int) -> PageSlice:
        """The page of ``limit`` rows this request asks for, for a repository query to cut."""
        return PageSlice(self.ordering, self.mark, self.offset, limit)

    def page(self, statement, limit: int):
        """``statement`` (filtered, unordered) ordered, from the mark or the offset, ``limit`` rows."""
        return sliced(statement, self.slice(limit))

    def remember(self, rows: Sequence, page_size: int, **carry) -> None:
        """After a full page of ``page_size`` rows, mark where the next page starts; ``carry``: facts of
        the walk the next page is handed (JSON values), as ``carried``."""
        if len(rows) >= page_size > 0:
            self._marks.put(key(self._account_id, self._api, self._identity, self.offset + page_size),
                            row_values(rows[page_size - 1], self.ordering), carry or None)
