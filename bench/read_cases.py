"""The pages bench/read.py times: each API's first and deep pages (Case), as a client asks for them.

build_cases gives every page with its request (path, parameters, credentials), how many items a
good answer holds, the raw SQL page it is compared with, and for the pages reached in order the
walk before them; consume_reports prepares the Infobip reports queue for the deep pulls.
bench/compat_cpu.py times the same pages in process.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, UTC

PAGE = 100
DEEP_PAGE = 1000  # the native API's deep page, by cursor


@dataclasses.dataclass
class Case:
    api: str
    page: str
    path: str
    params: dict
    headers: dict
    items: Callable[[dict | list], int | None]  # how many items a (good) answer holds; None: an error answer
    depth: str = "first"  # which baseline page it is compared with: first, deep, or first-1000
    note: str = ""
    consumes: bool = False  # each request consumes what it returns: timed on its own, in order
    pair: str = ""  # a deep page: the label of the same API's first page (deep p50 / first p50)
    prepare: Callable | None = None  # (psycopg2 connection) -> a note; run just before a consuming page is timed
    walk: Callable[[int], tuple[dict, int]] | None = None  # page n -> (params, offset): the pages read before it
    method: str = "GET"
    expect: int = 200  # the status of a good answer


def build_cases(connection, seeded, position: tuple, deep_page: int, repeat: int) -> tuple[list[Case], dict]:
    import jwt

    from tracker.db import keys
    from tracker.http.compat.elevate import views as compat_elevate
    from tracker.http.compat.infobip import views as compat_infobip
    from tracker.http.compat.postman import views as compat_postman
    from tracker.http.compat.sendcloud import views as compat_sendcloud
    from tracker.http.api.schemas import Cursor

    key = seeded.api_key
    key_id = keys.split(key)[0]
    bearer = {"Authorization": f"Bearer {key}"}
    token = jwt.encode({"iat": int(time.time()), "exp": int(time.time()) + 24 * 3600}, key, algorithm="HS256",
                       headers={"kid": key_id})
    updated_at, last_id = position
    cursor = Cursor()._serialize((updated_at.replace(tzinfo=UTC), last_id), None, None)

    def listed(*names: str) -> Callable:
        """Items of a list answer: the answer itself, or the list under the first of ``names`` present."""
        def count(body) -> int | None:
            if isinstance(body, list):
                return len(body)
            for name in names:
                body_part = body
                for part in name.split("."):
                    body_part = body_part.get(part) if isinstance(body_part, dict) else None
                if isinstance(body_part, list):
                    return len(body_part)
            return None
        return count

    def sendcloud_items(body) -> int | None:
        return body["info"]["voListSize"] if isinstance(body, dict) and body.get("result") is True else None

    facts = {}
    cases = [
        Case("http", "204 route (POST /bench/noop)", "/bench/noop", {}, {}, lambda body: 0, method="POST",
             expect=204, note="the floor: gunicorn, Flask, loopback HTTP; no auth, no query"),
        Case("http", "list floor (GET /bench/floor-list)", "/bench/floor-list",
             {"account": seeded.account_id, "limit": PAGE}, {}, listed("data"),
             note="the native first page's query through psycopg2, rows by orjson, in a Flask route: no key, "
                  "no rate limit, no SQLAlchemy"),
        Case("http", "bare list floor (in front of Flask)", "/bench/bare-list",
             {"account": seeded.account_id, "limit": PAGE}, {}, listed("data"),
             note="the list floor's query and JSON in a bare WSGI callable before Flask: without Flask"),
        Case("native", "first", "/api/v1/deliveries", {"limit": PAGE}, bearer, listed("data")),
        Case("native", "first, limit 1", "/api/v1/deliveries", {"limit": 1}, bearer, listed("data"),
             note="1 row: the per-request cost (auth, Flask, session) without the page's rows"),
        Case("native", f"page {deep_page:,} (cursor)", "/api/v1/deliveries", {"limit": PAGE, "cursor": cursor},
             bearer, listed("data"), "deep", pair="first"),
    ]

    elevate_cap = getattr(compat_elevate, "MAX_OFFSET", None)
    elevate = {"Authorization": f"Bearer {token}"}
    cases.append(Case("elevate", "page 1 (JWT)", "/v1/email-status", {"page": 1, "pageSize": PAGE}, elevate,
                      listed()))
    if elevate_cap is not None:
        last = elevate_cap // PAGE + 1  # (page - 1) * pageSize may not pass MAX_OFFSET
        facts["elevate_cap"] = f"MAX_OFFSET {elevate_cap:,}: deepest page {last} at pageSize {PAGE}"
        cases.append(Case("elevate", f"page {last} = cap (offset {(last - 1) * PAGE:,})", "/v1/email-status",
                          {"page": last, "pageSize": PAGE}, elevate, listed(), "deep", pair="page 1 (JWT)",
                          note="a jump: OFFSET"))
    # The walks spell their query differently from the jumps (the same rows, in the same order),
    # so that the marks a walk leaves never serve a jump.
    walked = {"sort": "id"}
    cases.append(Case("elevate", f"page {deep_page:,} (walked)", "/v1/email-status",
                      {**walked, "page": deep_page, "pageSize": PAGE}, elevate, listed(), "deep", pair="page 1 (JWT)",
                      walk=walker(lambda page: ({**walked, "page": page + 1, "pageSize": PAGE}, page * PAGE),
                                  deep_page)))

    postman_cap = getattr(compat_postman, "MAX_OFFSET", None)
    cases.append(Case("postman", "offset 0", "/v1/transactional/email", {"limit": PAGE}, bearer,
                      listed("data")))
    if postman_cap is not None:
        facts["postman_cap"] = f"MAX_OFFSET {postman_cap:,}"
        cases.append(Case("postman", f"offset {postman_cap:,} = cap", "/v1/transactional/email",
                          {"limit": PAGE, "offset": postman_cap}, bearer, listed("data"), "deep", pair="offset 0",
                          note="a jump: OFFSET"))
    newest = {"sort_by": "-created_at"}  # the default order, spelt out
    cases.append(Case("postman", f"offset {(deep_page - 1) * PAGE:,} (walked)", "/v1/transactional/email",
                      {**newest, "limit": PAGE, "offset": (deep_page - 1) * PAGE}, bearer, listed("data"), "deep",
                      pair="offset 0",
                      walk=walker(lambda page: ({**newest, "limit": PAGE, "offset": page * PAGE}, page * PAGE),
                                  deep_page)))

    sendcloud_cap = getattr(compat_sendcloud, "MAX_START", None)
    sendcloud = {"apiUser": "bench", "apiKey": key, "days": 3, "limit": PAGE}
    cases.append(Case("sendcloud", "start 0 (days=3)", "/apiv2/data/emailStatus", {**sendcloud, "start": 0}, {},
                      sendcloud_items))
    if sendcloud_cap is not None:
        facts["sendcloud_cap"] = f"MAX_START {sendcloud_cap:,}"
        cases.append(Case("sendcloud", f"start {sendcloud_cap:,} = cap", "/apiv2/data/emailStatus",
                          {**sendcloud, "start": sendcloud_cap}, {}, sendcloud_items, "deep",
                          pair="start 0 (days=3)", note="a jump: OFFSET"))
        # days=3 as dates (UTC+8 calendar days, SendCloud's)
        today = datetime.now(timezone(timedelta(hours=8))).date()
        dated = {**sendcloud, "startDate": str(today - timedelta(days=2)), "endDate": str(today)}
        del dated["days"]
        cases.append(Case("sendcloud", f"start {sendcloud_cap:,} (walked)", "/apiv2/data/emailStatus",
                          {**dated, "start": sendcloud_cap}, {}, sendcloud_items, "deep",
                          pair="start 0 (days=3)",
                          walk=walker(lambda page: ({**dated, "start": page * PAGE}, page * PAGE),
                                      sendcloud_cap // PAGE + 1)))

    infobip = {"Authorization": f"App {key}"}
    wide = min(1000, getattr(compat_infobip, "MAX_LIMIT", 1000) or 1000)
    cases.append(Case("infobip", f"logs, limit {wide}", "/email/1/logs", {"limit": wide}, infobip,
                      listed("results"), "first-1000", note=f"{wide} rows a page"))
    # Logs are newest first; a client pages on with sentUntil=<the last sentAt seen> (inclusive).
    logs_deep = min(DEEP_PAGE * PAGE // wide, seeded.deliveries // wide)
    with connection.cursor() as cursor:
        cursor.execute("SELECT submitted_at FROM deliveries WHERE account_id = %s ORDER BY submitted_at DESC, id DESC "
                       "OFFSET %s LIMIT 1", (seeded.account_id, (logs_deep - 1) * wide - 1))
        (until,) = cursor.fetchone()
    cases.append(Case("infobip", f"logs, page {logs_deep} (sentUntil)", "/email/1/logs",
                      {"limit": wide, "sentUntil": until.replace(tzinfo=UTC).isoformat()}, infobip,
                      listed("results"), "first-1000", pair=f"logs, limit {wide}",
                      note=f"rows {(logs_deep - 1) * wide:,}+ newest first; vs the 1000-row first page"))
    cases.append(Case("infobip", f"reports, limit {PAGE}, fresh", "/email/1/reports", {"limit": PAGE}, infobip,
                      listed("results"), note="each pull consumes its batch: successive pulls from the start",
                      consumes=True))
    cases.append(Case("infobip", f"reports, limit {PAGE}, deep", "/email/1/reports", {"limit": PAGE},
                      infobip, listed("results"), "deep", consumes=True, pair=f"reports, limit {PAGE}, fresh",
                      prepare=lambda connection: consume_reports(connection, seeded.account_id,
                                                                 (deep_page - 1) * PAGE, keep=(repeat + 20) * PAGE)))
    return cases, facts


def walker(params_of: Callable[[int], tuple[dict, int]], target_page: int) -> Callable[[int], tuple[dict, int]]:
    """Case.walk: page n's (params, offset); page -1 gives the target page's, where the walk stops."""
    return lambda page: params_of(target_page - 1 if page < 0 else page)


def consume_reports(connection, account_id: int, count: int, keep: int) -> str:
    """Mark reports as pulled, in pull order: where 999 pulls of 100 leave the queue (``keep`` left to pull)."""
    from datetime import datetime

    from tracker.http.compat.infobip import views as compat_infobip

    final = getattr(compat_infobip, "FINAL", ["DELIVERED", "OPENED", "ERROR", "BOUNCED", "COMPLAINT", "ACKNOWLEDGED"])
    window = getattr(compat_infobip, "WINDOW", timedelta(hours=48))
    floor = datetime.now(UTC).replace(tzinfo=None) - window
    reportable = ("FROM deliveries WHERE account_id = %s AND status = ANY(%s) AND updated_at >= %s"
                  " AND reported_sequence < status_sequence")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {reportable}", (account_id, list(final), floor))
        (left,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM deliveries WHERE account_id = %s AND reported_sequence > 0", (account_id,))
        (pulled,) = cursor.fetchone()
        more = max(0, min(count - pulled, left - keep))
        cursor.execute(f"UPDATE deliveries SET reported_sequence = status_sequence WHERE id IN (SELECT id {reportable}"
                       " ORDER BY updated_at, id LIMIT %s)", (account_id, list(final), floor, more))
        cursor.execute("VACUUM deliveries")  # as autovacuum would, after such an update
    return f"after {pulled + more:,} reports pulled (the rest set by SQL, then VACUUM)"
