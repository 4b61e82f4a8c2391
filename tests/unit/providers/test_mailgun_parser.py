"""tracker.providers.mailgun.parse: recorded Mailgun webhook bodies -> normalized events."""
import copy
import json
from datetime import datetime, UTC
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold, history
from tracker.domain.engagement import clicked_link
from tracker.providers.mailgun.parse import BOUNCE_TYPES, PROVIDER, TYPE_MAP, parse
from tracker.providers.common.errors import PayloadError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mailgun"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def document(name: str) -> dict:
    return json.loads(fixture(name))


def parse_doc(doc: dict, received_at: datetime = RECEIVED) -> list[NormalizedEvent]:
    return parse(json.dumps(doc).encode("utf-8"), "application/json", received_at=received_at)


def utc(*parts: int, us: int = 0) -> datetime:
    return datetime(*parts, us, tzinfo=UTC)


def mailgun(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="mailgun", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

ORDER_1042 = "20260203192638.1.8F3A2C1D0B9E7F65@mg.example.com"
ALICE_COMMON = {"tags": ["order-confirmation"], "user-variables": {"order_id": "1042"}}
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
SANDBOX = (
    "Sandbox subdomains are for test purposes only. Please add your own domain or add the "
    "address to authorized recipients in Account Settings."
)

EXPECTED = {
    "accepted.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.SENT,
            occurred_at=utc(2026, 2, 3, 19, 26, 37, us=518235),
            event_key="mailgun:accepted:CCXMjJ7nQi2N3BPigGOdgQ:2026-02-03T19:26:37.518235Z",
            details={"id": "CCXMjJ7nQi2N3BPigGOdgQ", "log-level": "info", **ALICE_COMMON},
        )
    ],
    "delivered.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2026, 2, 3, 19, 26, 40, us=153125),
            event_key="mailgun:delivered:hTWCTD81RtiDN-Yq3fQpZw:2026-02-03T19:26:40.153125Z",
            diagnostic="OK",
            details={
                "id": "hTWCTD81RtiDN-Yq3fQpZw", "log-level": "info", **ALICE_COMMON,
                "code": 250, "attempt-no": 1,
            },
        )
    ],
    "delivered-subaccount.json": [
        mailgun(
            message_id="20260203192949.1.5D6E7F8091A2B3C4@mg.sub.example.org",
            recipient="judy@example.org",
            type=EventType.DELIVERED,
            occurred_at=utc(2026, 2, 3, 19, 29, 49, us=600000),
            event_key="mailgun:delivered:Qy3Xt7Ar0DeGbZi5vFc9Qh:2026-02-03T19:29:49.600000Z",
            diagnostic="2.0.0 OK 1770146989 q7-20020a05 - gsmtp",
            # Empty tags and user-variables are left out.
            details={"id": "Qy3Xt7Ar0DeGbZi5vFc9Qh", "log-level": "info", "code": 250, "attempt-no": 1},
        )
    ],
    "failed-temporary.json": [
        mailgun(
            message_id="20260203192640.1.4A7D468E9BC18C5D@mg.example.com",
            recipient="bob@nomx.example.net",
            type=EventType.DELAYED,
            occurred_at=utc(2026, 2, 3, 20, 26, 51, us=659519),
            event_key="mailgun:failed:Ge8yPZ2vR0aSbLx5kQm1Tw:2026-02-03T20:26:51.659519Z",
            diagnostic="No MX for nomx.example.net",
            details={
                "id": "Ge8yPZ2vR0aSbLx5kQm1Tw", "log-level": "warn", "severity": "temporary",
                "reason": "generic", "code": 498, "attempt-no": 3, "retry-seconds": 1800,
            },
        )
    ],
    "failed-permanent.json": [
        mailgun(
            message_id="20260203192841.1.0DF563D0B3597700@mg.example.com",
            recipient="carol@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 3, 19, 28, 44, us=389832),
            event_key="mailgun:failed:Jq3Nn7Qe9TaWcBd2sVm0Kg:2026-02-03T19:28:44.389832Z",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="bounce",
            diagnostic=(
                "5.1.1 The email account that you tried to reach does not exist. Please try\n"
                "5.1.1 double-checking the recipient's email address for typos"
            ),
            details={
                "id": "Jq3Nn7Qe9TaWcBd2sVm0Kg", "log-level": "error",
                "tags": ["order-confirmation"], "user-variables": {"order_id": "1044"},
                "severity": "permanent", "reason": "bounce", "code": 550,
                "enhanced-code": "5.1.1", "attempt-no": 1,
            },
        )
    ],
    "failed-permanent-suppressed.json": [
        mailgun(
            message_id="20260203193029.1.96884DDB70521793@mg.example.com",
            recipient="dave@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 3, 19, 30, 29, us=872114),
            event_key="mailgun:failed:Pw4Xk9Lm2RcTfYb6hNq8Ua:2026-02-03T19:30:29.872114Z",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="suppress-bounce",
            # delivery-status.message is empty: the description is the diagnostic.
            diagnostic="Not delivering to previously bounced address",
            details={
                "id": "Pw4Xk9Lm2RcTfYb6hNq8Ua", "log-level": "error", "severity": "permanent",
                "reason": "suppress-bounce", "code": 605, "attempt-no": 1,
            },
        )
    ],
    # A permanent failure that is no hard bounce (Mailgun: the address is not added to its
    # Bounces list): retries of a soft bounce exhausted ("old"), an ESP block of the sender
    # ("espblock"). Soft, TRANSIENT; the reason stays the subtype.
    "failed-permanent-old.json": [
        mailgun(
            message_id="20260203193410.1.C4E1F0A2B3D49E87@mg.example.com",
            recipient="carol@example.org",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 3, 23, 6, 40, us=250000),
            event_key="mailgun:failed:Kq3Vn7Bx1ZsLw9Hd5Fp2Yc:2026-02-03T23:06:40.250000Z",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="old",
            diagnostic="4.2.2 The email account that you tried to reach is over quota.",
            details={
                "id": "Kq3Vn7Bx1ZsLw9Hd5Fp2Yc", "log-level": "error", "severity": "permanent",
                "reason": "old", "code": 452, "enhanced-code": "4.2.2", "attempt-no": 9,
            },
        )
    ],
    "failed-permanent-espblock.json": [
        mailgun(
            message_id="20260203203320.1.0D9E8F7A6B5C4D3E@mg.example.com",
            recipient="dan@example.net",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 4, 0, 6, 40, us=500000),
            event_key="mailgun:failed:Tz6Mh2Qr8WcNb4Jk0Xv5Ga:2026-02-04T00:06:40.500000Z",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="espblock",
            diagnostic=(
                "5.7.1 Service unavailable; Client host [198.51.100.23] blocked using the receiving "
                "provider's block list"
            ),
            details={
                "id": "Tz6Mh2Qr8WcNb4Jk0Xv5Ga", "log-level": "error", "severity": "permanent",
                "reason": "espblock", "code": 550, "enhanced-code": "5.7.1", "attempt-no": 1,
            },
        )
    ],
    "failed-no-severity.json": [
        mailgun(
            message_id="20260203193201.1.3E5C7A9B1D2F4680@mg.example.com",
            recipient="erin@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 3, 19, 32, 1, us=250000),
            event_key="mailgun:failed:Tz7Hc1Vb5NsQeWk3mLp9Xd:2026-02-03T19:32:01.250000Z",
            bounce_type=BounceType.UNDETERMINED,
            bounce_subtype="generic",
            diagnostic="554 Transaction failed",
            details={
                "id": "Tz7Hc1Vb5NsQeWk3mLp9Xd", "log-level": "error", "reason": "generic",
                "code": 554, "attempt-no": 1,
            },
        )
    ],
    "failed-permanent-utf8.json": [
        mailgun(
            # The <> around the message id are dropped; the address is lower-cased.
            message_id="20260203193356.1.77AB12CD34EF5678@mg.example.com",
            recipient="josé.müller@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2026, 2, 3, 19, 33, 59, us=4711),
            event_key="mailgun:failed:Ub2Kd8Fg4JrYwPx6nCs0Ve:2026-02-03T19:33:59.004711Z",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="bounce",
            diagnostic="5.1.1 <José.Müller@Example.com>: Empfängeradresse unbekannt",
            details={
                "id": "Ub2Kd8Fg4JrYwPx6nCs0Ve", "log-level": "error",
                "tags": ["order-confirmation", "de"], "user-variables": {"customer": "José Müller"},
                "severity": "permanent", "reason": "bounce", "code": 550,
                "enhanced-code": "5.1.1", "attempt-no": 1,
            },
        )
    ],
    "rejected.json": [
        mailgun(
            message_id="20260203193510.1.B31A451A2E5422BB@mg.example.com",
            recipient="frank@example.org",  # from the To header: rejected has no recipient
            type=EventType.REJECTED,
            occurred_at=utc(2026, 2, 3, 19, 35, 10, us=104692),
            event_key="mailgun:rejected:Ra5Qw1Es7DtFyGu3hJi9Ko:2026-02-03T19:35:10.104692Z",
            diagnostic=SANDBOX,
            details={"id": "Ra5Qw1Es7DtFyGu3hJi9Ko", "log-level": "warn"},
        )
    ],
    "rejected-multi-to.json": [
        mailgun(
            message_id="20260203193517.1.C42B562B3F6533CC@mg.example.com",
            recipient=recipient,
            type=EventType.REJECTED,
            occurred_at=utc(2026, 2, 3, 19, 35, 17, us=500000),
            event_key="mailgun:rejected:Sb6Rx2Ft8EuGzHv4iKj0Lp:2026-02-03T19:35:17.500000Z",
            diagnostic=SANDBOX,
            details={"id": "Sb6Rx2Ft8EuGzHv4iKj0Lp", "log-level": "warn"},
        )
        for recipient in ("grace@example.org", "heidi@example.org")
    ],
    "opened.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2026, 2, 3, 20, 3, 20, us=89676),
            event_key="mailgun:opened:Ku9Tp3Wn6ZaCxVe1rBy5Md:2026-02-03T20:03:20.089676Z",
            details={
                "id": "Ku9Tp3Wn6ZaCxVe1rBy5Md", "log-level": "info", **ALICE_COMMON,
                "ip": "203.0.113.7", "user-agent": CHROME,
            },
        )
    ],
    "opened-escaped.json": [
        mailgun(
            message_id="20260203193356.1.77AB12CD34EF5678@mg.example.com",
            recipient="josé.müller@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2026, 2, 3, 20, 4, 22, us=500000),
            event_key="mailgun:opened:Lv0Uq4Xo7AbDyWf2sCz6Ne:2026-02-03T20:04:22.500000Z",
            details={
                "id": "Lv0Uq4Xo7AbDyWf2sCz6Ne", "log-level": "info",
                "tags": ["order-confirmation", "de"], "user-variables": {"customer": "José Müller"},
                "ip": "198.51.100.77",
                "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6",
            },
        )
    ],
    "clicked.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.CLICKED,
            occurred_at=utc(2026, 2, 3, 20, 5, 24, us=711002),
            event_key="mailgun:clicked:Mw1Vr5Yp8BcEzXg3tDa7Of:2026-02-03T20:05:24.711002Z",
            details={
                "id": "Mw1Vr5Yp8BcEzXg3tDa7Of", "log-level": "info", **ALICE_COMMON,
                "url": "https://www.example.com/orders/1042?utm_source=mail",
                "ip": "203.0.113.7", "user-agent": CHROME,
            },
        )
    ],
    "unsubscribed.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.UNSUBSCRIBED,
            occurred_at=utc(2026, 2, 3, 20, 6, 29, us=421473),
            event_key="mailgun:unsubscribed:W3X4JOhFT-OZidZGKKr9iA:2026-02-03T20:06:29.421473Z",
            details={
                "id": "W3X4JOhFT-OZidZGKKr9iA", "log-level": "info", **ALICE_COMMON,
                "ip": "203.0.113.7", "user-agent": CHROME,
            },
        )
    ],
    "complained.json": [
        mailgun(
            message_id=ORDER_1042,
            recipient="alice@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2026, 2, 4, 20, 0, 0, us=49634),
            event_key="mailgun:complained:ncV2XwymRUKbPek_MIM-Gw:2026-02-04T20:00:00.049634Z",
            details={"id": "ncV2XwymRUKbPek_MIM-Gw", "log-level": "warn", **ALICE_COMMON},
        )
    ],
    "unknown-event.json": [
        mailgun(
            message_id="CAF=ExampleInboundMessageId0123@mail.example.net",
            recipient=None,
            type=EventType.UNMAPPED,
            occurred_at=utc(2026, 2, 3, 19, 36, 39, us=250000),
            event_key="mailgun:stored:Nx2Ws6Zq9CdFaYh4uEb8Pg:2026-02-03T19:36:39.250000Z",
            details={"provider_event": "stored", "id": "Nx2Ws6Zq9CdFaYh4uEb8Pg", "log-level": "info"},
        )
    ],
}


def test_every_fixture_has_expectations():
    recorded = {path.name for path in FIXTURES.glob("*.json")}
    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_exactly_the_expected_events(name):
    assert parse(fixture(name), "application/json", received_at=RECEIVED) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_are_storable(name):
    for event in parse(fixture(name), "application/json", received_at=RECEIVED):
        assert event.provider == PROVIDER
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert event.event_key.startswith("mailgun:")
        assert len(event.event_key) <= 400
        json.dumps(dict(event.details))  # history details must be storable as JSON


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_content_type_is_not_trusted(content_type):
    assert parse(fixture("delivered.json"), content_type, received_at=RECEIVED) == EXPECTED["delivered.json"]


def test_a_byte_order_mark_is_tolerated():
    body = b"\xef\xbb\xbf" + fixture("delivered.json")
    assert parse(body, "application/json", received_at=RECEIVED) == EXPECTED["delivered.json"]


# --- the mapping table, row by row -----------------------------------------------------------

# (event, severity) -> (event type, bounce type, status the delivery ends in)
ROWS = {
    "accepted": ("accepted", None, EventType.SENT, None, Status.SENT),
    "delivered": ("delivered", None, EventType.DELIVERED, None, Status.DELIVERED),
    "failed/temporary": ("failed", "temporary", EventType.DELAYED, None, Status.RETRY),
    "failed/permanent": ("failed", "permanent", EventType.BOUNCED, BounceType.PERMANENT, Status.BOUNCED),
    "failed/permanent/soft": ("failed", "permanent", EventType.BOUNCED, BounceType.TRANSIENT, Status.BOUNCED),
    "failed": ("failed", None, EventType.BOUNCED, BounceType.UNDETERMINED, Status.BOUNCED),
    "rejected": ("rejected", None, EventType.REJECTED, None, Status.ERROR),
    "opened": ("opened", None, EventType.OPENED, None, Status.OPENED),
    "clicked": ("clicked", None, EventType.CLICKED, None, Status.OPENED),
    "unsubscribed": ("unsubscribed", None, EventType.UNSUBSCRIBED, None, None),
    "complained": ("complained", None, EventType.COMPLAINED, None, Status.COMPLAINT),
}
# The reason a row needs beside its event and severity.
REASONS = {"failed/permanent/soft": "old"}


def minimal(event: str, **extra) -> dict:
    data = {
        "event": event,
        "id": "AbCdEfGhIjKlMnOpQrStUv",
        "timestamp": 1770146800.5,
        "recipient": "someone@example.com",
        "message": {"headers": {"message-id": "20260203192640.1.ABCDEF@mg.example.com"}},
        **extra,
    }
    signature = {"timestamp": "1770146801", "token": "t" * 50, "signature": "0" * 64}
    return {"signature": signature, "event-data": data}


def test_the_table_has_exactly_the_tested_rows():
    assert set(TYPE_MAP) == set(ROWS)
    assert dict(BOUNCE_TYPES) == {
        "failed/permanent": BounceType.PERMANENT,
        "failed/permanent/soft": BounceType.TRANSIENT,
        "failed": BounceType.UNDETERMINED,
    }


@pytest.mark.parametrize("row", sorted(ROWS))
def test_mapping_row(row):
    event, severity, event_type, bounce_type, status = ROWS[row]
    extra = {"severity": severity} if severity else {}
    if row in REASONS:
        extra["reason"] = REASONS[row]
    [parsed] = parse_doc(minimal(event, **extra))
    assert TYPE_MAP[row] is event_type
    assert parsed.type is event_type
    assert parsed.bounce_type is bounce_type
    assert parsed.status is status
    assert parsed.message_id == "20260203192640.1.ABCDEF@mg.example.com"
    assert parsed.recipient == "someone@example.com"
    assert parsed.occurred_at == utc(2026, 2, 3, 19, 26, 40, us=500000)


@pytest.mark.parametrize("severity", ["soft", "", 3, None])
def test_failed_with_an_unknown_severity_is_an_undetermined_bounce(severity):
    [parsed] = parse_doc(minimal("failed", severity=severity, reason="generic"))
    assert parsed.type is EventType.BOUNCED
    assert parsed.bounce_type is BounceType.UNDETERMINED
    assert parsed.bounce_subtype == "generic"
    if isinstance(severity, str) and severity:
        assert parsed.details["severity"] == severity  # kept for the operator


def test_severity_is_read_case_insensitively():
    [parsed] = parse_doc(minimal("failed", severity="Permanent"))
    assert parsed.bounce_type is BounceType.PERMANENT


def test_event_names_are_read_case_insensitively():
    [parsed] = parse_doc(minimal(" Delivered "))
    assert parsed.type is EventType.DELIVERED
    assert parsed.event_key.startswith("mailgun:delivered:")


def test_a_long_reason_is_cut_to_the_subtype_column_width():
    [parsed] = parse_doc(minimal("failed", severity="permanent", reason="x" * 100))
    assert parsed.bounce_subtype == "x" * 64


def test_a_temporary_failure_is_retry_and_retries_running_out_a_soft_bounce():
    temporary = parse(fixture("failed-temporary.json"), "application/json", received_at=RECEIVED)
    assert fold(temporary).status is Status.RETRY
    # Mailgun posts the end of its retries as severity permanent, reason "old": no hard bounce.
    final = parse_doc(minimal("failed", severity="permanent", reason="old", timestamp=1770160000.0))
    state = fold(final + temporary)
    assert (state.status, state.bounce_type, state.bounce_subtype) == (
        Status.BOUNCED, BounceType.TRANSIENT, "old"
    )


@pytest.mark.parametrize("reason", ["bounce", "suppress-bounce", "generic", "", None])
def test_other_permanent_failures_stay_hard_bounces(reason):
    [parsed] = parse_doc(minimal("failed", severity="permanent", reason=reason))
    assert parsed.bounce_type is BounceType.PERMANENT


def test_alice_s_history_in_any_order_ends_in_complaint():
    names = ["complained.json", "clicked.json", "accepted.json", "opened.json", "delivered.json"]
    events = [event for name in names for event in parse(fixture(name), "", received_at=RECEIVED)]
    assert fold(events).status is Status.COMPLAINT
    assert fold(reversed(events)).status is Status.COMPLAINT
    assert [event.type for event in history(events + events)] == [
        EventType.SENT, EventType.DELIVERED, EventType.OPENED, EventType.CLICKED, EventType.COMPLAINED,
    ]


# --- event keys --------------------------------------------------------------------------

def test_a_redelivery_has_the_same_key_whatever_its_signature_and_arrival():
    first = document("delivered.json")
    again = copy.deepcopy(first)
    again["signature"] = {"timestamp": "1770150000", "token": "u" * 50, "signature": "1" * 64}
    [a] = parse_doc(first, received_at=RECEIVED)
    [b] = parse_doc(again, received_at=datetime(2031, 5, 5, tzinfo=UTC))
    assert a == b


def test_the_same_event_id_on_another_day_is_another_event():
    # Mailgun's event ids are unique only within a day.
    [today] = parse_doc(minimal("opened"))
    [tomorrow] = parse_doc(minimal("opened", timestamp=1770146800.5 + 86400))
    assert today.event_key != tomorrow.event_key
    assert len(history([today, tomorrow])) == 2


def test_without_an_event_id_the_key_is_a_digest_of_the_event():
    doc = minimal("delivered")
    del doc["event-data"]["id"]
    [a] = parse_doc(doc)
    [b] = parse_doc(copy.deepcopy(doc))
    other = copy.deepcopy(doc)
    other["event-data"]["timestamp"] = 1770146900.5
    [c] = parse_doc(other)
    assert a.event_key == b.event_key
    assert a.event_key.startswith("mailgun:delivered:sha256:")
    assert c.event_key != a.event_key


def test_the_key_fits_its_column_whatever_mailgun_sends():
    [parsed] = parse_doc(minimal("x" * 500, id="i" * 500))
    assert len(parsed.event_key) <= 400
    assert parsed.details["provider_event"] == "x" * 500


def test_without_a_timestamp_the_event_happened_when_received():
    doc = minimal("delivered")
    del doc["event-data"]["timestamp"]
    [parsed] = parse_doc(doc, received_at=utc(2026, 2, 3, 20, 0, 0))
    [again] = parse_doc(doc, received_at=utc(2026, 2, 3, 21, 0, 0))
    assert parsed.occurred_at == utc(2026, 2, 3, 20, 0, 0)
    assert parsed.event_key == again.event_key  # the key never depends on arrival time


def test_the_received_time_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse(fixture("delivered.json"), "application/json", received_at=datetime(2030, 1, 1))


# --- details -------------------------------------------------------------------------------

def test_large_user_variables_are_left_out_of_the_details():
    [parsed] = parse_doc(minimal("delivered", **{"user-variables": {"blob": "x" * 5000}, "tags": ["a"]}))
    assert "user-variables" not in parsed.details
    assert parsed.details["tags"] == ["a"]


def test_the_clicked_link_is_where_engagement_looks_for_it():
    [click] = parse(fixture("clicked.json"), "application/json", received_at=RECEIVED)
    assert clicked_link(click) == "https://www.example.com/orders/1042?utm_source=mail"


# --- unknown event types ------------------------------------------------------------------

def test_an_unknown_event_type_is_kept_as_unmapped():
    [parsed] = parse_doc(minimal("list_member_uploaded", severity="info", reason="x"))
    assert parsed.type is EventType.UNMAPPED
    assert parsed.status is None
    assert parsed.message_id == "20260203192640.1.ABCDEF@mg.example.com"
    assert parsed.recipient == "someone@example.com"
    assert parsed.details["provider_event"] == "list_member_uploaded"
    assert parsed.event_key == (
        "mailgun:list_member_uploaded:AbCdEfGhIjKlMnOpQrStUv:2026-02-03T19:26:40.500000Z"
    )


def test_an_unknown_event_without_message_id_or_usable_recipient_is_still_kept():
    doc = minimal("Mystery", recipient="not an address")
    del doc["event-data"]["message"]
    [parsed] = parse_doc(doc)
    assert (parsed.type, parsed.message_id, parsed.recipient) == (EventType.UNMAPPED, "", None)
    assert parsed.details["provider_event"] == "Mystery"


# --- payloads that can never be processed -------------------------------------------------

def without(path: str, *, event: str = "delivered") -> dict:
    doc = minimal(event)
    *parents, last = path.split(".")
    node = doc["event-data"]
    for part in parents:
        node = node[part]
    del node[last]
    return doc


GARBAGE = {
    "not utf-8": (b"\xff\xfe{}", "not UTF-8"),
    "not json": (b"<html>502 Bad Gateway</html>", "not JSON"),
    "json array": (b"[]", "must be a JSON object, got a JSON array"),
    "json string": (b'"delivered"', "must be a JSON object, got a string"),
    "no event-data": (
        b'{"signature": {}, "event": "delivered"}',
        "no event-data object (top-level keys: event, signature)",
    ),
    "event-data not object": (b'{"event-data": "delivered"}', "event-data must be a JSON object, got a string"),
    "event-data null": (b'{"event-data": null}', "no event-data object"),
    "no event": (json.dumps(without("event")).encode(), "event-data.event must name the event, got missing"),
    "event not text": (json.dumps(minimal(7)).encode(), "event must name the event, got a number 7"),
    "blank event": (json.dumps(minimal("  ")).encode(), "event must name the event, got a string '  '"),
    "no message id": (
        json.dumps(without("message.headers.message-id")).encode(),
        "delivered event has no event-data.message.headers.message-id",
    ),
    "empty message id": (
        json.dumps(minimal("opened", message={"headers": {"message-id": "<>"}})).encode(),
        "opened event has no event-data.message.headers.message-id",
    ),
    "no recipient": (
        json.dumps(without("recipient", event="clicked")).encode(),
        "clicked event has no recipient: event-data.recipient is missing",
    ),
    "rejected, no recipient or To": (
        json.dumps(without("recipient", event="rejected")).encode(),
        "rejected event has no recipient: event-data.recipient is missing",
    ),
    "recipient not an address": (
        json.dumps(minimal("delivered", recipient="<>")).encode(),
        "event-data.recipient is not an email address: '<>'",
    ),
    "recipient not text": (
        json.dumps(minimal("delivered", recipient=["a@example.com"])).encode(),
        "delivered event has no recipient: event-data.recipient is ['a@example.com']",
    ),
    "bad timestamp": (
        json.dumps(minimal("delivered", timestamp="yesterday")).encode(),
        "event-data.timestamp: not a timestamp: 'yesterday'",
    ),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_garbage_is_refused_with_a_telling_message(case):
    body, message = GARBAGE[case]
    with pytest.raises(PayloadError) as caught:
        parse(body, "application/json", received_at=RECEIVED)
    assert message in str(caught.value)
    assert "Mailgun" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("legacy-delivered.form", "application/x-www-form-urlencoded"),
        ("legacy-delivered.form", "text/plain"),
        ("legacy-bounced.multipart", "multipart/form-data"),
    ],
)
def test_a_legacy_form_encoded_webhook_is_refused_with_advice(name, content_type):
    advice = "legacy .*retired in 2023.*configure the webhook again in Mailgun so it posts JSON"
    with pytest.raises(PayloadError, match=advice):
        parse(fixture(name), content_type, received_at=RECEIVED)


def test_a_legacy_multipart_body_that_is_not_utf8_still_gets_the_advice():
    body = fixture("legacy-bounced.multipart").replace(b"Subject: Your order 1048", b"\xff\xfe binary")
    with pytest.raises(PayloadError, match="not UTF-8 text.*legacy"):
        parse(body, "multipart/form-data", received_at=RECEIVED)
