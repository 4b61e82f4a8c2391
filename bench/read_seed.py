"""Seeding for bench/read.py: one big account of N deliveries and a smaller neighbour, by COPY.

Rows are written in created_at order, the two accounts interleaved in the heap (as they
would be in production), spread over the last ~40 hours so every API's default window
(Infobip's 48 h, SendCloud's days) covers them. Besides the deliveries:
  messages         for about a third of the messages, with Elevate/Postman-style attributes
                   (billRunType, billRunId, customerId, siteId, contactId, tags)
  delivery_events  the winning failure event of every failed or acknowledged delivery, which
                   the compatible APIs read to word a failure (Postman's error_code, ...)
Then VACUUM ANALYZE: the table as autovacuum would leave it, with planner statistics.

    .venv/bin/python bench/read_seed.py -n 100000     # seed a throwaway database, keep it until Enter
"""
from __future__ import annotations

import io
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-read-secret-key"  # TRACKER_SECRET_KEY of the app under test (seals the key for JWTs)
CHUNK = 100_000
SPAN = timedelta(hours=40)

# (status, weight, rank for precedence): a plausible mix for a transactional sender.
STATUSES = (("DELIVERED", 58, 3), ("OPENED", 14, 4), ("SENT", 9, 1), ("PENDING", 3, 0), ("RETRY", 3, 2),
            ("BOUNCED", 7, 6), ("ERROR", 2, 5), ("COMPLAINT", 1, 7), ("ACKNOWLEDGED", 3, 8))
PROVIDERS = (("ses", 60), ("sendgrid", 15), ("mailgun", 10), ("postmark", 8), ("infobip", 4), ("sendcloud", 3))
BOUNCES = (("PERMANENT", "General", "smtp; 550 5.1.1 user unknown"),
           ("PERMANENT", "NoEmail", "smtp; 550 5.1.1 mailbox does not exist"),
           ("TRANSIENT", "MailboxFull", "smtp; 452 4.2.2 mailbox full"),
           ("UNDETERMINED", "Undetermined", "smtp; 554 5.0.0 unknown"))
FAILED = {"BOUNCED", "ERROR", "COMPLAINT", "ACKNOWLEDGED"}

DELIVERY_COLUMNS = (
    "account_id", "provider", "message_id", "recipient", "status", "precedence", "status_at", "bounce_type",
    "bounce_subtype", "diagnostic", "events_count", "status_sequence", "sent_at", "delivered_at",
    "reported_sequence", "opens_count", "first_opened_at", "last_opened_at", "clicks_count", "first_clicked_at",
    "last_clicked_at", "last_clicked_link", "created_at", "updated_at", "first_event_at", "submitted_at")
MESSAGE_COLUMNS = ("account_id", "message_id", "from_address", "subject", "attributes", "created_at", "updated_at")
EVENT_COLUMNS = ("account_id", "message_id", "recipient", "event_key", "type", "status", "occurred_at",
                 "bounce_type", "bounce_subtype", "diagnostic", "details", "recorded_at")
NULL = r"\N"


@dataclass
class Seeded:
    account_id: int
    other_account_id: int
    api_key: str  # plaintext, sealed under SECRET_KEY
    other_api_key: str
    deliveries: int  # of the big account
    other_deliveries: int
    messages: int
    events: int
    seconds: float


def _stamp(moment: datetime | None) -> str:
    return NULL if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(url: str, n: int, other: int | None = None, *, seed_value: int = 7) -> Seeded:
    """Seed the (migrated, empty) database at ``url``; ``other`` rows for the second account (default n/10)."""
    from tracker.db import repository
    from tracker.db.engine import Database

    other = max(1000, n // 10) if other is None else other
    started = time.perf_counter()
    db = Database(url)
    with db.transaction() as session:
        big = repository.create_account(session, "bench-read")
        small = repository.create_account(session, "bench-read-neighbour")
        key = repository.create_api_key(session, big, "application", secret_key=SECRET_KEY)
        other_key = repository.create_api_key(session, small, "application", secret_key=SECRET_KEY)
        ids = (big.id, small.id)

    raw = db.engine.raw_connection()
    connection = raw.driver_connection
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = now - SPAN
    total = n + other
    counts = {"deliveries": 0, "other": 0, "messages": 0, "events": 0}
    recipients = max(1000, n // 3)
    status_values, status_weights = zip(*[((status, rank), weight) for status, weight, rank in STATUSES], strict=True)
    provider_values, provider_weights = zip(*PROVIDERS, strict=True)
    message_number = 0
    try:
        with connection.cursor() as cursor:
            while counts["deliveries"] + counts["other"] < total:
                deliveries, messages, events = io.StringIO(), io.StringIO(), io.StringIO()
                chunk_end = min(total, counts["deliveries"] + counts["other"] + CHUNK)
                while counts["deliveries"] + counts["other"] < chunk_end:
                    position = counts["deliveries"] + counts["other"]
                    # The neighbour's messages are interleaved in proportion: its share so far trails, it sends.
                    small_turn = other and counts["other"] * n < counts["deliveries"] * other
                    account_id, left = (ids[1], other - counts["other"]) if small_turn or counts["deliveries"] >= n \
                        else (ids[0], n - counts["deliveries"])
                    # One message, one recipient mostly, sometimes 2 or 3: rows of one message are adjacent.
                    fanout = min(1 if rng.random() < 0.85 else rng.randint(2, 3), left, chunk_end - position)
                    created = start + SPAN * (position / total) + timedelta(microseconds=rng.randrange(1000))
                    message_number += 1
                    message_id = f"0100{int(created.timestamp() * 1000):012x}-{message_number:08x}-bench-000000"
                    provider = rng.choices(provider_values, provider_weights)[0]
                    base = rng.randrange(recipients)
                    if rng.random() < 0.33:
                        attributes = {"billRunType": rng.choice(("ANNUAL", "MONTHLY", "SUPPLEMENTARY")),
                                      "billRunId": str(rng.randrange(1, 5000)),
                                      "customerId": str(rng.randrange(1, 200_000)),
                                      "siteId": str(rng.randrange(1, 50)),
                                      "contactId": str(rng.randrange(1, 400_000)),
                                      "tags": {"tag": [rng.choice(("invoice", "reminder", "otp"))]}}
                        messages.write("\t".join((
                            str(account_id), message_id, "billing@example.gov", f"Your bill {message_number}",
                            json.dumps(attributes), _stamp(created), _stamp(created))) + "\n")
                        counts["messages"] += 1
                    for k, (status, rank) in enumerate(rng.choices(status_values, status_weights, k=fanout)):
                        recipient = f"user{base + k}@example{(base + k) % 97}.com"
                        sent_at = delivered_at = first_opened = last_opened = None
                        first_clicked = last_clicked = link = None
                        opens = clicks = 0
                        bounce_type = bounce_subtype = diagnostic = None
                        events_count = 1
                        updated = created
                        if status != "PENDING":
                            sent_at = created + timedelta(milliseconds=rng.randrange(200, 2000))
                            updated = sent_at
                        if (status in ("DELIVERED", "OPENED", "COMPLAINT")
                                or (status == "BOUNCED" and rng.random() < .2)):
                            delivered_at = sent_at + timedelta(milliseconds=rng.randrange(300, 8000))
                            updated = delivered_at
                            events_count += 1
                        if status == "OPENED":
                            first_opened = delivered_at + timedelta(seconds=rng.randrange(5, 6 * 3600))
                            opens = rng.randint(1, 4)
                            last_opened = first_opened + timedelta(seconds=rng.randrange(0, 1800) * (opens > 1))
                            updated = last_opened
                            events_count += opens
                            if rng.random() < 0.3:
                                clicks = rng.randint(1, 3)
                                first_clicked = first_opened + timedelta(seconds=rng.randrange(1, 120))
                                last_clicked = first_clicked + timedelta(seconds=rng.randrange(0, 600) * (clicks > 1))
                                link = "https://example.gov/bill/" + str(message_number)
                                updated = max(updated, last_clicked)
                                events_count += clicks
                        if status == "RETRY":
                            updated = sent_at + timedelta(minutes=rng.randrange(1, 120))
                            events_count += 1
                        if status in ("BOUNCED", "ACKNOWLEDGED") and rng.random() < 0.9:
                            bounce_type, bounce_subtype, diagnostic = rng.choice(BOUNCES)
                        if status in ("BOUNCED", "ERROR", "COMPLAINT", "ACKNOWLEDGED"):
                            updated = (delivered_at or sent_at) + timedelta(seconds=rng.randrange(1, 900))
                            events_count += 1
                        if status == "ERROR":
                            bounce_type = bounce_subtype = None
                            diagnostic = "Email address is on the suppression list"
                        if status == "COMPLAINT":
                            bounce_type = bounce_subtype = diagnostic = None
                        if status == "ACKNOWLEDGED":
                            updated += timedelta(minutes=rng.randrange(1, 240))
                        updated = min(updated, now)
                        first_opened, last_opened, first_clicked, last_clicked = (
                            None if moment is None else min(moment, now)
                            for moment in (first_opened, last_opened, first_clicked, last_clicked))
                        event_key = f"{provider}:{status.lower()}:{message_number}:{k}"
                        precedence = f"{rank:02d}|{updated.strftime('%Y-%m-%dT%H:%M:%S.%f')}|{event_key}"
                        sequence = events_count
                        deliveries.write("\t".join((
                            str(account_id), provider, message_id, recipient, status, precedence, _stamp(updated),
                            bounce_type or NULL, bounce_subtype or NULL, diagnostic or NULL, str(events_count),
                            str(sequence), _stamp(sent_at), _stamp(delivered_at), "0", str(opens),
                            _stamp(first_opened), _stamp(last_opened), str(clicks), _stamp(first_clicked),
                            _stamp(last_clicked), link or NULL, _stamp(created), _stamp(updated),
                            # the send time (tracker.domain.submitted_at): the send event, else registration
                            _stamp(sent_at), _stamp(sent_at or created))) + "\n")
                        counts["other" if account_id == ids[1] else "deliveries"] += 1
                        if status in FAILED:
                            failure = "BOUNCED" if status == "ACKNOWLEDGED" else status
                            kind = {"BOUNCED": "bounced", "ERROR": "rejected", "COMPLAINT": "complained"}[failure]
                            details = {"complaintFeedbackType": "abuse"} if failure == "COMPLAINT" else {}
                            occurred = updated if status != "ACKNOWLEDGED" else (delivered_at or sent_at)
                            events.write("\t".join((
                                str(account_id), message_id, recipient, f"{provider}:{kind}:{message_number}:{k}",
                                kind, failure, _stamp(occurred), bounce_type or NULL, bounce_subtype or NULL,
                                diagnostic or NULL, json.dumps(details), _stamp(occurred))) + "\n")
                            counts["events"] += 1
                for table, columns, buffer in (("deliveries", DELIVERY_COLUMNS, deliveries),
                                               ("messages", MESSAGE_COLUMNS, messages),
                                               ("delivery_events", EVENT_COLUMNS, events)):
                    buffer.seek(0)
                    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
                connection.commit()
                print(f"  seeded {counts['deliveries'] + counts['other']:,}/{total:,} deliveries "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE deliveries")
            cursor.execute("VACUUM ANALYZE messages")
            cursor.execute("VACUUM ANALYZE delivery_events")
    finally:
        raw.close()
        db.dispose()
    return Seeded(account_id=ids[0], other_account_id=ids[1], api_key=key, other_api_key=other_key,
                  deliveries=counts["deliveries"], other_deliveries=counts["other"], messages=counts["messages"],
                  events=counts["events"], seconds=time.perf_counter() - started)


def main() -> None:
    import argparse

    from tests.support.database import throwaway_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--url", help="seed this (migrated, empty) database instead of a new throwaway one")
    options = parser.parse_args()
    if options.url:
        print(seed(options.url, options.n))
        return
    with throwaway_database("tracker_bench_read") as url:
        print(seed(url, options.n))
        input(f"seeded {url}\npress Enter to drop it ... ")


if __name__ == "__main__":
    main()
