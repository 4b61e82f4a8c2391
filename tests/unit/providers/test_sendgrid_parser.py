"""tracker.providers.sendgrid.parse: recorded Event Webhook batches -> normalized events."""
import json
from datetime import datetime, UTC
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold
from tracker.providers.common.errors import PayloadError
from tracker.providers.sendgrid.parse import PROVIDER, TYPE_MAP, parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sendgrid"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(payload: bytes | list, received_at: datetime = RECEIVED, content_type: str = "application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return parse(body, content_type, received_at=received_at)


def at(hour: int, minute: int, second: int) -> datetime:
    return datetime(2024, 5, 1, hour, minute, second, tzinfo=UTC)


def sendgrid(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="sendgrid", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

JANE_MESSAGE = "q3wZs1XHSmyb2bt4dTXHpA"
JANE_ACCEPTED = f"{JANE_MESSAGE}.recvd-7d8c9b6f5d-x2k9p-1-6632127A-3.0"
JANE_RELAYED = f"{JANE_MESSAGE}.filterdrecv-5bd9c8d6c7-4tq8n-1-6632127A-19.0"
BOB_MESSAGE = "Zx81Hq0kTbWc7mN4pQr2sA"
BOB_RELAYED = f"{BOB_MESSAGE}.filterdrecv-5bd9c8d6c7-9hj2m-1-66321278-7.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
NO_SUCH_ACCOUNT = "550 5.1.1 The email account that you tried to reach does not exist."
JANE = dict(message_id=JANE_MESSAGE, recipient="jane@example.com")
BOB_BOUNCE = dict(
    message_id=BOB_MESSAGE,
    recipient="bob@example.net",
    type=EventType.BOUNCED,
    occurred_at=at(10, 0, 9),
    bounce_type=BounceType.PERMANENT,
    bounce_subtype="Invalid Address",
    diagnostic=NO_SUCH_ACCOUNT,
    smtp_status="5.1.1",
    details={
        "type": "bounce",
        "status": "5.1.1",
        "bounce_classification": "Invalid Address",
        "sg_message_id": BOB_RELAYED,
    },
)
MSIE = "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)"
DOCS = dict(message_id="sg_message_id", recipient="example@example.com", occurred_at=at(10, 0, 0))
DOCS_ID = {"sg_message_id": "sg_message_id"}
KIM = dict(message_id="18f3a07b2c4.e1a.7c02d9", recipient="kim@example.com")
KIM_ID = {"sg_message_id": "18f3a07b2c4.e1a.7c02d9.filter0001.16648.6632127A.0"}
RENEE_MESSAGE = "Uv4bN7mKQ2wEr5Ty8Ui1Oa"
RENEE_RELAYED = f"{RENEE_MESSAGE}.filterdrecv-5bd9c8d6c7-6pl3z-1-663212E4-2.0"

EXPECTED: dict[str, list[NormalizedEvent]] = {
    "processed.json": [
        sendgrid(
            **JANE, type=EventType.SENT, occurred_at=at(10, 0, 0),
            event_key="sendgrid:processed:rT6pLq0xS2ePz9kW1vBn4g",
            details={"sg_message_id": JANE_ACCEPTED},
        )
    ],
    "deferred.json": [
        sendgrid(
            **JANE, type=EventType.DELAYED, occurred_at=at(10, 0, 5),
            event_key="sendgrid:deferred:Hk3mQz8vTtyA0wXc5nR7Ug",
            diagnostic="451 4.7.1 Greylisted, please try again later",
            details={"attempt": "1", "sg_message_id": JANE_RELAYED},
        )
    ],
    "delivered.json": [
        sendgrid(
            **JANE, type=EventType.DELIVERED, occurred_at=at(10, 0, 12),
            event_key="sendgrid:delivered:ZmL2pQw9RcuBt5yHd0sXkA",
            diagnostic="250 2.0.0 OK 1714557612 x7si2881537qkd.112 - gsmtp",
            details={"sg_message_id": JANE_RELAYED},
        )
    ],
    "bounce.json": [sendgrid(**BOB_BOUNCE, event_key="sendgrid:bounce:Yk4tW2nLQxOe8rVb3mJs6w")],
    "bounce-blocked.json": [
        sendgrid(
            message_id="Pm5vC2rTQ9aYw7Ls1KdN0g",
            recipient="carol@example.org",
            type=EventType.BOUNCED,
            occurred_at=at(10, 0, 41),
            event_key="sendgrid:bounce:Ew9nB4sKRv2Uq6dZj1cT8h",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="Reputation",
            diagnostic=(
                "554 5.7.1 Service unavailable; Client host [198.51.100.20] "
                "blocked using bl.example.org"
            ),
            smtp_status="5.7.1",
            details={
                "type": "blocked",
                "status": "5.7.1",
                "bounce_classification": "Reputation",
                "sg_message_id": "Pm5vC2rTQ9aYw7Ls1KdN0g.filterdrecv-5bd9c8d6c7-2kq7w-1-66321299-4.0",
            },
        )
    ],
    "bounce-unclassified.json": [
        sendgrid(
            message_id="Tg7hR1mXS0eKv3Nw9bQa5c",
            recipient="dave@example.net",
            type=EventType.BOUNCED,
            occurred_at=at(10, 0, 50),
            event_key="sendgrid:bounce:Lq2wE8rTYu4Io6Pa0sDf3g",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="5.0.0",
            diagnostic="500 unknown recipient",
            smtp_status="5.0.0",
            details={
                "type": "bounce",
                "status": "5.0.0",
                "sg_message_id": "Tg7hR1mXS0eKv3Nw9bQa5c.filterdrecv-5bd9c8d6c7-8wn3x-1-663212A2-11.0",
            },
        )
    ],
    # No `type` (SendGrid's "Test Your Integration" batch): RFC 3463's class digit decides.
    "bounce-no-type.json": [
        sendgrid(
            message_id="Hn4kP8sWQ2cVz6Lm0tRb7x",
            recipient="fran@example.com",
            type=EventType.BOUNCED,
            occurred_at=at(10, 1, 0),
            event_key="sendgrid:bounce:Nt5yU1iOPa7Sd3Fg9hJk2l",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="5.0.0",
            diagnostic="500 unknown recipient",
            smtp_status="5.0.0",
            details={"status": "5.0.0", "sg_message_id": "Hn4kP8sWQ2cVz6Lm0tRb7x.filter0001.16648.5515E0B88.0"},
        ),
        sendgrid(
            message_id="Hn4kP8sWQ2cVz6Lm0tRb7x",
            recipient="gus@example.org",
            type=EventType.BOUNCED,
            occurred_at=at(10, 1, 10),
            event_key="sendgrid:bounce:Qw8eR2tYUi4Op6As1dFg3h",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="4.2.2",
            diagnostic="452 4.2.2 mailbox full",
            smtp_status="4.2.2",
            details={"status": "4.2.2", "sg_message_id": "Hn4kP8sWQ2cVz6Lm0tRb7x.filter0001.16648.5515E0B88.1"},
        ),
    ],
    "dropped.json": [
        sendgrid(
            message_id="Wc3dF6gHT1jKl8Zx0vBn2m",
            recipient="erin@example.com",
            type=EventType.REJECTED,
            occurred_at=at(10, 0, 1),
            event_key="sendgrid:dropped:Nb5vC7xZQa1Sd3Fg9Hj2Kl",
            diagnostic="Bounced Address",
            details={
                "status": "5.0.0",
                "sg_message_id": "Wc3dF6gHT1jKl8Zx0vBn2m.recvd-7d8c9b6f5d-x2k9p-1-66321279-8.0",
            },
        )
    ],
    "dropped-without-ids.json": [
        sendgrid(
            # No sg_message_id: the smtp-id (the message's Message-ID header) stands in.
            message_id="20240501100002.4242@app.example.com",
            recipient="frank@example.com",
            type=EventType.REJECTED,
            occurred_at=at(10, 0, 2),
            # No sg_event_id: sha256 of the canonical JSON of the event object, 32 hex digits.
            event_key="sendgrid:dropped:sha256:88a2c5fdc9492076957a0f49d9b31430",
            diagnostic="Unsubscribed Address",
            details={},
        )
    ],
    "open.json": [
        sendgrid(
            **JANE, type=EventType.OPENED, occurred_at=at(10, 15, 0),
            event_key="sendgrid:open:Op3nEv3ntJaneA1b2C3d4E",
            details={
                "useragent": CHROME,
                "ip": "203.0.113.44",
                "sg_machine_open": False,
                "sg_message_id": JANE_RELAYED,
            },
        )
    ],
    "click.json": [
        sendgrid(
            **JANE, type=EventType.CLICKED, occurred_at=at(10, 15, 30),
            event_key="sendgrid:click:C1ickEvJaneF5g6H7i8J9kQ",
            details={
                "url": "https://shop.example.com/orders/8841?utm_source=receipt",
                "useragent": CHROME,
                "ip": "203.0.113.44",
                "sg_message_id": JANE_RELAYED,
            },
        )
    ],
    "spamreport.json": [
        sendgrid(
            **JANE, type=EventType.COMPLAINED, occurred_at=at(11, 20, 0),
            event_key="sendgrid:spamreport:SpAmRpT0xJ4k5L6m7N8o9p",
            details={"sg_message_id": JANE_RELAYED},
        )
    ],
    "unsubscribe.json": [
        sendgrid(
            **JANE, type=EventType.UNSUBSCRIBED, occurred_at=at(11, 21, 0),
            event_key="sendgrid:unsubscribe:UnSuB5cr1b3Qr7s8T9u0vW",
            details={"sg_message_id": JANE_RELAYED},
        )
    ],
    "group-unsubscribe.json": [
        sendgrid(
            **JANE, type=EventType.UNSUBSCRIBED, occurred_at=at(11, 22, 0),
            event_key="sendgrid:group_unsubscribe:GrpUnSubXy1z2A3b4C5d6E",
            details={"asm_group_id": 42, "sg_message_id": JANE_RELAYED},
        )
    ],
    "group-resubscribe.json": [
        sendgrid(
            **JANE, type=EventType.UNMAPPED, occurred_at=at(12, 20, 0),
            event_key="sendgrid:group_resubscribe:GrpReSubFg7h8I9j0K1l2M",
            details={
                "provider_event": "group_resubscribe",
                "asm_group_id": 42,
                "sg_message_id": JANE_RELAYED,
            },
        )
    ],
    "account-status-change.json": [
        sendgrid(
            message_id="",
            recipient=None,
            type=EventType.UNMAPPED,
            occurred_at=at(21, 46, 40),
            event_key="sendgrid:account_status_change:QWNjdFN0YXR1c0NoYW5nZS0xNzE0NjAwMDAw",
            details={"provider_event": "account_status_change", "type": "compliance_suspend"},
        )
    ],
    "batch.json": [
        sendgrid(
            **JANE, type=EventType.DELIVERED, occurred_at=at(10, 0, 12),
            event_key="sendgrid:delivered:bT1aDlvJane0000000000a",
            diagnostic="250 2.0.0 OK",
            details={"sg_message_id": JANE_RELAYED},
        ),
        sendgrid(
            **JANE, type=EventType.SENT, occurred_at=at(10, 0, 0),
            event_key="sendgrid:processed:bT1aPrcJane0000000000b",
            details={"sg_message_id": JANE_ACCEPTED},
        ),
        sendgrid(
            message_id=JANE_MESSAGE, recipient="mary.major@example.com",
            type=EventType.SENT, occurred_at=at(10, 0, 0),
            event_key="sendgrid:processed:bT1aPrcMary0000000000c",
            details={"sg_message_id": f"{JANE_MESSAGE}.recvd-7d8c9b6f5d-x2k9p-1-6632127A-3.1"},
        ),
        sendgrid(
            message_id=JANE_MESSAGE, recipient="mary.major@example.com",
            type=EventType.DELAYED, occurred_at=at(10, 0, 6),
            event_key="sendgrid:deferred:bT1aDfrMary0000000000d",
            diagnostic="421 4.7.0 Try again later, closing connection.",
            details={
                "attempt": "2",
                "sg_message_id": f"{JANE_MESSAGE}.filterdrecv-5bd9c8d6c7-4tq8n-1-6632127A-20.1",
            },
        ),
        sendgrid(**BOB_BOUNCE, event_key="sendgrid:bounce:bT1aBncBob00000000000e"),
        sendgrid(
            **JANE, type=EventType.OPENED, occurred_at=at(10, 15, 0),
            event_key="sendgrid:open:bT1aOpnJane0000000000f",
            details={
                "useragent": (
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) "
                    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
                ),
                "ip": "203.0.113.45",
                "sg_machine_open": True,
                "sg_message_id": JANE_RELAYED,
            },
        ),
    ],
    "batch-unicode.json": [
        sendgrid(
            message_id=RENEE_MESSAGE, recipient="renée@exämple.com",
            type=EventType.DELIVERED, occurred_at=at(10, 1, 40),
            event_key="sendgrid:delivered:Un1c0deDlv00000000000a",
            diagnostic="250 2.0.0 Nachricht angenommen – vielen Dank",
            details={"sg_message_id": RENEE_RELAYED},
        ),
        sendgrid(
            message_id=RENEE_MESSAGE, recipient="renée@exämple.com",
            type=EventType.CLICKED, occurred_at=at(10, 30, 0),
            event_key="sendgrid:click:Un1c0deClk00000000000b",
            details={
                "url": "https://shop.example.com/café/menü?q=crème brûlée",
                "useragent": (
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
                ),
                "ip": "203.0.113.46",
                "sg_message_id": RENEE_RELAYED,
            },
        ),
    ],
    # SendGrid's example batch: every event carries the placeholders "sg_event_id" and
    # "sg_message_id". The event name in the key keeps them eleven events, not one.
    "docs-example-placeholders.json": [
        sendgrid(**DOCS, type=EventType.SENT, event_key="sendgrid:processed:sg_event_id",
                 details=DOCS_ID),
        sendgrid(**DOCS, type=EventType.DELAYED, event_key="sendgrid:deferred:sg_event_id",
                 diagnostic="400 try again later", details={"attempt": "5", **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.DELIVERED, event_key="sendgrid:delivered:sg_event_id",
                 diagnostic="250 OK", details=DOCS_ID),
        sendgrid(**DOCS, type=EventType.OPENED, event_key="sendgrid:open:sg_event_id",
                 details={"useragent": MSIE, "ip": "203.0.113.255", **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.CLICKED, event_key="sendgrid:click:sg_event_id",
                 details={"url": "http://www.example.com/", "useragent": MSIE, "ip": "203.0.113.255", **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.BOUNCED, event_key="sendgrid:bounce:sg_event_id",
                 bounce_type=BounceType.PERMANENT, bounce_subtype="Invalid Address",
                 diagnostic="500 unknown recipient",
                 smtp_status="5.0.0",
                 details={"type": "bounce", "status": "5.0.0", "bounce_classification": "Invalid Address", **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.REJECTED, event_key="sendgrid:dropped:sg_event_id",
                 diagnostic="Bounced Address", details={"status": "5.0.0", **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.COMPLAINED, event_key="sendgrid:spamreport:sg_event_id",
                 details=DOCS_ID),
        sendgrid(**DOCS, type=EventType.UNSUBSCRIBED, event_key="sendgrid:unsubscribe:sg_event_id",
                 details=DOCS_ID),
        sendgrid(**DOCS, type=EventType.UNSUBSCRIBED, event_key="sendgrid:group_unsubscribe:sg_event_id",
                 details={"asm_group_id": 10, **DOCS_ID}),
        sendgrid(**DOCS, type=EventType.UNMAPPED, event_key="sendgrid:group_resubscribe:sg_event_id",
                 details={"provider_event": "group_resubscribe", "asm_group_id": 10, **DOCS_ID}),
    ],
    # Ids of the older form, with dots: the X-Message-Id is everything before ".filter…",
    # as smtp-id's local part confirms (and the open, which has no smtp-id, agrees).
    "legacy-dotted-ids.json": [
        sendgrid(**KIM, type=EventType.SENT, occurred_at=at(10, 0, 0),
                 event_key="sendgrid:processed:k3Jq0sVd2RtZx8bNwq1AeA==", details=KIM_ID),
        sendgrid(**KIM, type=EventType.DELAYED, occurred_at=at(10, 0, 5),
                 event_key="sendgrid:deferred:p8Lm2Wc5Yt0Rq7Hs3Kd9Fw==",
                 diagnostic="400 try again later", details={"attempt": "5", **KIM_ID}),
        sendgrid(**KIM, type=EventType.DELIVERED, occurred_at=at(10, 0, 12),
                 event_key="sendgrid:delivered:Zt4Nv9Qa1Xe6Bc2Mu8Jr0g==",
                 diagnostic="250 OK", details=KIM_ID),
        sendgrid(**KIM, type=EventType.OPENED, occurred_at=at(10, 15, 0),
                 event_key="sendgrid:open:Hc7Rk1Vz5Ew3Pn9Ty2Lb6Q==",
                 details={"useragent": MSIE, "ip": "203.0.113.250", **KIM_ID}),
    ],
    # SendGrid: a delayed bounce comes without the message id [D]. It is kept about the
    # address (message id ""), and the batch's other event is not lost with it.
    "bounce-delayed-no-message-id.json": [
        sendgrid(
            message_id="Rk2pW8nVT5qYc1Xe7Ud4Bg", recipient="liam@example.org",
            type=EventType.DELIVERED, occurred_at=at(10, 1, 40),
            event_key="sendgrid:delivered:DlyDlvLiam000000000000a",
            diagnostic="250 2.6.0 Queued mail for delivery",
            details={"sg_message_id": "Rk2pW8nVT5qYc1Xe7Ud4Bg.filterdrecv-5bd9c8d6c7-7mz2q-1-66321304-3.0"},
        ),
        sendgrid(
            message_id="", recipient="liam@example.org",
            type=EventType.BOUNCED, occurred_at=at(11, 1, 40),
            event_key="sendgrid:bounce:DlyBncLiam000000000000b",
            bounce_type=BounceType.PERMANENT, bounce_subtype="Invalid Address",
            diagnostic="550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            smtp_status="5.1.10",
            details={"type": "bounce", "status": "5.1.10", "bounce_classification": "Invalid Address"},
        ),
    ],
    # A send to a string SendGrid (rightly) calls invalid: the drop is kept on the message,
    # attributed to nobody; olga's event in the same batch is not lost with it.
    "dropped-invalid-address.json": [
        sendgrid(
            message_id="Nq4tR7yUI0oPa3Sd6Fg9Hj", recipient="olga@example.com",
            type=EventType.SENT, occurred_at=at(10, 0, 0),
            event_key="sendgrid:processed:InvPrcOlga000000000000a",
            details={"sg_message_id": "Nq4tR7yUI0oPa3Sd6Fg9Hj.recvd-7d8c9b6f5d-x2k9p-1-6632127A-4.0"},
        ),
        sendgrid(
            message_id="Nq4tR7yUI0oPa3Sd6Fg9Hj", recipient=None,
            type=EventType.REJECTED, occurred_at=at(10, 0, 0),
            event_key="sendgrid:dropped:InvDrpPaul000000000000b",
            diagnostic="Invalid",
            details={
                "sg_message_id": "Nq4tR7yUI0oPa3Sd6Fg9Hj.recvd-7d8c9b6f5d-x2k9p-1-6632127A-4.1",
                "email": "paul.example.com",
            },
        ),
    ],
    # sg_message_id holds only SendGrid's suffix; the SendGrid-made smtp-id names the message.
    "dropped-suffix-only-id.json": [
        sendgrid(
            message_id="Ht6yU2iOP9aSd4Fg7Jk1Lz", recipient="mallory@invalid",
            type=EventType.REJECTED, occurred_at=at(10, 0, 3),
            event_key="sendgrid:dropped:Qz8xW3ecR4vT7bY1uN6mKp",
            diagnostic="Invalid",
            details={"sg_message_id": "filter0093p1las1.9128.6632127B3.0"},
        )
    ],
    # A domain without MX: "blocked", Unclassified, no status; the application set its own
    # Message-ID, so the message id comes from sg_message_id (whose id has "--" in it).
    "bounce-blocked-no-status.json": [
        sendgrid(
            message_id="Vb3n--Xc8QeRt5Ya1Ui7Og", recipient="nobody@no-such-domain.example",
            type=EventType.BOUNCED, occurred_at=at(10, 2, 40),
            event_key="sendgrid:bounce:Ym91bmNlLTQtTm9NeERvbWFpbi0wMDAwMDAwMDAw",
            bounce_type=BounceType.TRANSIENT, bounce_subtype="Unclassified",
            diagnostic=(
                "unable to get mx info: failed to get IPs from PTR record: lookup <nil>: "
                "unrecognized address"
            ),
            details={
                "type": "blocked",
                "bounce_classification": "Unclassified",
                "sg_message_id": "Vb3n--Xc8QeRt5Ya1Ui7Og.recvd-5f54b5d587-pczjm-1-663213A0-6.0",
            },
        )
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert run(fixture(name)) == EXPECTED[name]


def test_every_recorded_payload_has_expectations():
    recorded = {path.name for path in FIXTURES.iterdir() if path.is_file() and path.name != "README.md"}

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_carry_the_provider_aware_times_and_small_storable_details(name):
    for event in run(fixture(name)):
        assert event.provider == PROVIDER == "sendgrid"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        # Categories, custom args and the dedupe id stay in the raw payload, not the history;
        # the address is the event's recipient (details only keep one that is no address).
        assert not {"category", "order_id", "sg_event_id", "smtp-id"} & set(event.details)
        assert ("email" in event.details) is (event.recipient is None and event.type is not EventType.UNMAPPED)
        json.dumps(event.details)


def test_a_batch_folds_into_each_delivery_s_status():
    events = run(fixture("batch.json"))
    by_delivery: dict[tuple, list[NormalizedEvent]] = {}
    for event in events:
        by_delivery.setdefault((event.message_id, event.recipient), []).append(event)

    statuses = {key: fold(history).status for key, history in by_delivery.items()}

    assert statuses == {
        (JANE_MESSAGE, "jane@example.com"): Status.OPENED,
        (JANE_MESSAGE, "mary.major@example.com"): Status.RETRY,
        (BOB_MESSAGE, "bob@example.net"): Status.BOUNCED,
    }


def test_content_type_is_not_trusted():
    body = fixture("batch.json")

    assert run(body, content_type="text/plain") == run(body, content_type="application/json")


def test_an_empty_batch_has_no_events():
    assert run(b"[]") == []


def test_a_utf8_byte_order_mark_is_tolerated():
    body = fixture("processed.json")

    assert run(b"\xef\xbb\xbf" + body) == run(body)


def test_escaped_and_raw_utf8_spell_the_same_recipient():
    delivered, clicked = run(fixture("batch-unicode.json"))

    assert delivered.recipient == clicked.recipient == "renée@exämple.com"


# --- the mapping table, row by row --------------------------------------------------------


def minimal(kind: str, **extra) -> dict:
    """The smallest well-formed event of a type (a unit-rule probe, not a recording)."""
    return {
        "email": "a@example.com",
        "timestamp": 1714557600,
        "event": kind,
        "sg_event_id": "evt-1",
        "sg_message_id": "msg1.filterdrecv-1-2-3.0",
        **extra,
    }


MAPPING = [
    # (SendGrid event, extra fields, normalized type, status, bounce type)
    ("processed", {}, EventType.SENT, Status.SENT, None),
    ("deferred", {"response": "421 later", "attempt": "1"}, EventType.DELAYED, Status.RETRY, None),
    ("delivered", {"response": "250 OK"}, EventType.DELIVERED, Status.DELIVERED, None),
    ("bounce", {"type": "bounce"}, EventType.BOUNCED, Status.BOUNCED, BounceType.PERMANENT),
    ("dropped", {"reason": "Bounced Address"}, EventType.REJECTED, Status.ERROR, None),
    ("open", {}, EventType.OPENED, Status.OPENED, None),
    ("click", {"url": "https://example.com/"}, EventType.CLICKED, Status.OPENED, None),
    ("spamreport", {}, EventType.COMPLAINED, Status.COMPLAINT, None),
    ("unsubscribe", {}, EventType.UNSUBSCRIBED, None, None),
    ("group_unsubscribe", {"asm_group_id": 7}, EventType.UNSUBSCRIBED, None, None),
    ("group_resubscribe", {"asm_group_id": 7}, EventType.UNMAPPED, None, None),
    ("account_status_change", {"type": "compliance_suspend"}, EventType.UNMAPPED, None, None),
]


@pytest.mark.parametrize(("name", "extra", "event_type", "status", "bounce_type"), MAPPING)
def test_mapping_row(name, extra, event_type, status, bounce_type):
    [event] = run([minimal(name, **extra)])

    assert TYPE_MAP[name] is event_type
    assert event.type is event_type
    assert event.status is status
    assert event.bounce_type is bounce_type
    assert event.message_id == "msg1"
    assert event.recipient == "a@example.com"
    assert event.event_key == f"sendgrid:{name}:evt-1"
    assert event.occurred_at == at(10, 0, 0)


def test_mapping_covers_exactly_the_documented_events():
    assert set(TYPE_MAP) == {row[0] for row in MAPPING}


@pytest.mark.parametrize("name", ["group_resubscribe", "account_status_change"])
def test_kept_events_without_a_status_name_themselves(name):
    [event] = run([minimal(name, asm_group_id=7)])

    assert event.details["provider_event"] == name


def test_unsubscribes_keep_the_group():
    [event] = run([minimal("group_unsubscribe", asm_group_id=7)])

    assert event.details["asm_group_id"] == 7


# --- bounces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounce_type", "expected"),
    [("bounce", BounceType.PERMANENT), ("blocked", BounceType.TRANSIENT)],
)
def test_bounce_types(bounce_type, expected):
    [event] = run([minimal("bounce", type=bounce_type, status="5.1.1")])

    assert event.bounce_type is expected
    assert event.details["type"] == bounce_type


@pytest.mark.parametrize("extra", [{"type": "expired"}, {}, {"type": 3}])
def test_a_bounce_of_unknown_or_missing_type_and_no_status_is_an_undetermined_bounce(extra):
    [event] = run([minimal("bounce", **extra)])

    assert event.type is EventType.BOUNCED
    assert event.bounce_type is BounceType.UNDETERMINED
    assert event.details.get("type") == extra.get("type")


@pytest.mark.parametrize(
    ("extra", "subtype"),
    [
        ({"bounce_classification": "Mailbox Unavailable", "status": "5.2.1"}, "Mailbox Unavailable"),
        ({"status": "5.2.1"}, "5.2.1"),
        ({"bounce_classification": "", "status": "5.2.1"}, "5.2.1"),
        ({}, None),
    ],
)
def test_bounce_subtype_is_the_classification_else_the_enhanced_code(extra, subtype):
    [event] = run([minimal("bounce", type="bounce", **extra)])

    assert event.bounce_subtype == subtype


@pytest.mark.parametrize(
    ("extra", "diagnostic"),
    [
        ({"reason": "550 no such user", "response": "550 5.1.1"}, "550 no such user"),
        ({"response": "550 5.1.1 no such user"}, "550 5.1.1 no such user"),
        ({"reason": ""}, None),
        ({}, None),
    ],
)
def test_diagnostic_is_the_reason_else_the_smtp_response(extra, diagnostic):
    [event] = run([minimal("bounce", type="bounce", **extra)])

    assert event.diagnostic == diagnostic


# --- identity: message id, recipient, event key, time ------------------------------------


def test_every_event_of_a_message_gets_the_x_message_id_despite_differing_suffixes():
    events = run(fixture("batch.json"))
    jane_and_mary = [e for e in events if e.recipient != "bob@example.net"]

    assert {e.message_id for e in jane_and_mary} == {JANE_MESSAGE}
    assert len({e.details["sg_message_id"] for e in jane_and_mary}) == 4


def test_sg_message_id_wins_over_smtp_id():
    [event] = run([minimal("dropped", **{"smtp-id": "<other@host>"})])

    assert event.message_id == "msg1"


@pytest.mark.parametrize("smtp_id", ["<abc@mx.example.com>", " <abc@mx.example.com> ", "abc@mx.example.com"])
def test_without_sg_message_id_the_smtp_id_stands_in_without_brackets(smtp_id):
    payload = minimal("dropped", **{"smtp-id": smtp_id})
    del payload["sg_message_id"]

    [event] = run([payload])

    assert event.message_id == "abc@mx.example.com"
    assert "sg_message_id" not in event.details


@pytest.mark.parametrize(
    "smtp_id",
    [
        "<abc123XYZ_-abc123XYZ_-@ismtpd-555>",
        "<abc123XYZ_-abc123XYZ_-@ismtpd0006p1sjc2.sendgrid.net>",
        "<abc123XYZ_-abc123XYZ_-@geopod-ismtpd-3>",
    ],
)
def test_a_sendgrid_made_smtp_id_names_the_x_message_id_when_sg_message_id_cannot(smtp_id):
    missing = minimal("bounce", type="bounce", **{"smtp-id": smtp_id})
    del missing["sg_message_id"]
    suffix_only = minimal("dropped", **{"smtp-id": smtp_id, "sg_message_id": "filter0093p1las1.9128.5717FB8127.0"})

    assert [e.message_id for e in run([missing, suffix_only])] == ["abc123XYZ_-abc123XYZ_-"] * 2


@pytest.mark.parametrize(
    ("sg_message_id", "expected"),
    [
        ("wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0", "wrfRRvF7Q0GgwUo2CvDmEA"),
        ("euo2iKxdSayPF4YE4--I7A.recvd-5f54b5d587-pczjm-1-67BADEEA-6.0", "euo2iKxdSayPF4YE4--I7A"),
        ("A6FilwaAR_Wm_VTCEFql_w.filterdrecv-66949dbc98-fvstg-1-648215A4-1D.0", "A6FilwaAR_Wm_VTCEFql_w"),
        ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"),
        ("q3wZs1XHSmyb2bt4dTXHpA.0", "q3wZs1XHSmyb2bt4dTXHpA"),  # an unknown suffix: the first "."
        ("q3wZs1XHSmyb2bt4dTXHpA", "q3wZs1XHSmyb2bt4dTXHpA"),
    ],
)
def test_the_x_message_id_ends_where_sendgrid_s_suffix_starts(sg_message_id, expected):
    # The application's own Message-ID in smtp-id says nothing about the X-Message-Id.
    [event] = run([minimal("delivered", sg_message_id=sg_message_id, **{"smtp-id": "<1.2@app.example.com>"})])

    assert event.message_id == expected


def test_a_delivery_event_naming_no_message_is_kept_about_its_address():
    payload = minimal("bounce", type="bounce", reason="550 5.1.1 unknown user")
    del payload["sg_message_id"]

    [event] = run([payload])

    assert (event.message_id, event.recipient) == ("", "a@example.com")
    assert (event.type, event.bounce_type) == (EventType.BOUNCED, BounceType.PERMANENT)


def test_sendgrid_s_example_batch_keeps_every_event_and_ends_in_complaint():
    events = run(fixture("docs-example-placeholders.json"))

    assert len({e.event_key for e in events}) == len(events) == 11
    assert fold(events).status is Status.COMPLAINT


def test_a_long_classification_is_cut_to_the_subtype_column_width():
    [event] = run([minimal("bounce", type="bounce", bounce_classification="x" * 300)])

    assert event.bounce_subtype == "x" * 64


def test_the_key_fits_its_column_whatever_sendgrid_sends():
    long_name, long_id = run([minimal("e" * 1000), minimal("open", sg_event_id="i" * 1000)])

    assert len(long_name.event_key) <= 400
    assert len(long_id.event_key) <= 400
    assert long_id.event_key.startswith("sendgrid:open:sha256:")


def test_the_recipient_is_normalized():
    [event] = run([minimal("delivered", email="Jane Doe <Jane.Doe@EXAMPLE.com>")])

    assert event.recipient == "jane.doe@example.com"


def test_without_sg_event_id_the_key_is_a_digest_stable_across_redeliveries():
    payload = minimal("dropped", reason="Invalid")
    del payload["sg_event_id"]
    reordered_and_pretty = json.dumps(dict(reversed(list(payload.items()))), indent=4).encode()

    [first] = run([payload])
    [again] = run(b"[" + reordered_and_pretty + b"]")
    [other] = run([{**payload, "timestamp": 1714557601}])

    assert first.event_key == again.event_key
    assert first.event_key.startswith("sendgrid:dropped:sha256:")
    assert other.event_key != first.event_key


def test_a_duplicate_in_a_batch_is_the_same_event():
    first, second = run([minimal("delivered"), minimal("delivered")])

    assert first == second


def test_event_time_is_the_unix_timestamp():
    [event] = run([minimal("delivered", timestamp=1714557612)])

    assert event.occurred_at == at(10, 0, 12)


def test_without_timestamp_the_event_time_is_when_it_was_received():
    payload = minimal("delivered")
    del payload["timestamp"]

    [event] = run([payload])

    assert event.occurred_at == RECEIVED


def test_received_at_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        parse(b"[]", "application/json", received_at=datetime(2030, 1, 1))


# --- unknown types: kept, never dropped ---------------------------------------------------


def test_an_unknown_event_is_kept_as_unmapped_with_its_identity():
    [event] = run([minimal("machine_learning_insight", reason="something new")])

    assert event.type is EventType.UNMAPPED
    assert event.status is None
    assert event.message_id == "msg1"
    assert event.recipient == "a@example.com"
    assert event.event_key == "sendgrid:machine_learning_insight:evt-1"
    assert event.diagnostic == "something new"
    assert event.details == {"provider_event": "machine_learning_insight", "sg_message_id": "msg1.filterdrecv-1-2-3.0"}


def test_an_unknown_event_about_no_message_is_kept_about_its_address():
    [event] = run([{"event": "account_review", "timestamp": 1714557600, "email": "Ops@Example.com"}])

    # message id "": the ingest keeps it in the address's history, makes no delivery of it.
    assert (event.message_id, event.recipient) == ("", "ops@example.com")
    assert event.details == {"provider_event": "account_review"}
    assert event.event_key.startswith("sendgrid:account_review:sha256:")


def test_an_unknown_event_in_a_batch_does_not_disturb_the_others():
    events = run([minimal("delivered"), {"event": "brand_new"}, minimal("open", sg_event_id="evt-2")])

    assert [e.type for e in events] == [EventType.DELIVERED, EventType.UNMAPPED, EventType.OPENED]


# --- payloads that can never be processed -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b"event=delivered&email=a@example.com", "not JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b'{"event": "delivered", "email": "a@example.com"}', "must be a JSON array of events, got a JSON object"),
        (b'"[]"', "must be a JSON array of events, got a string"),
        (b"null", "must be a JSON array of events, got null"),
        (b'[{"event": "processed", "email": "a@example.com", "sg_message_id": "m"}, "delivered"]',
         "SendGrid event [1] must be a JSON object, got a string"),
        (b"[[]]", "SendGrid event [0] must be a JSON object, got a JSON array"),
    ],
)
def test_bodies_that_are_not_a_batch_of_objects_are_refused(body, message):
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run(body)


def test_an_element_without_event_is_refused_by_index():
    payload = [minimal("processed"), {"email": "a@example.com", "timestamp": 1714557600}]

    with pytest.raises(PayloadError) as caught:
        run(payload)

    assert str(caught.value) == (
        "SendGrid event [1] has no event name: 'event' is missing (keys: email, timestamp)"
    )


@pytest.mark.parametrize("name", [5, "", None, ["open"]])
def test_an_unreadable_event_name_is_refused(name):
    with pytest.raises(PayloadError, match=r"SendGrid event \[0\] has no event name"):
        run([minimal("processed", event=name)])


@pytest.mark.parametrize("email", [None, "", "  ", 42])
def test_a_delivery_event_without_email_text_is_refused_by_index_and_field(email):
    payload = [minimal("processed"), minimal("delivered", email=email)]
    if email is None:
        del payload[1]["email"]

    with pytest.raises(PayloadError, match=r"SendGrid event \[1\] \(delivered\) has no recipient: 'email' is"):
        run(payload)




@pytest.mark.parametrize("email", ["frank.example.com", "frank@", "frank@@example.com x"])
def test_a_dropped_invalid_address_is_kept_on_its_message_and_the_batch_goes_on(email):
    delivered = minimal("delivered")
    dropped = minimal("dropped", email=email, reason="Invalid", sg_event_id="evt-2")

    good, invalid = run([delivered, dropped])

    assert (good.recipient, good.type) == ("a@example.com", EventType.DELIVERED)
    assert (invalid.message_id, invalid.recipient, invalid.type) == ("msg1", None, EventType.REJECTED)
    assert (invalid.diagnostic, invalid.details["email"]) == ("Invalid", email)


def test_a_message_id_that_is_not_text_is_refused():
    with pytest.raises(PayloadError, match=r"\[0\] \(open\): 'sg_message_id' must be a string, got a number: 12"):
        run([minimal("open", sg_message_id=12)])


@pytest.mark.parametrize("timestamp", ["yesterday", True, 1e300])
def test_an_unreadable_timestamp_is_refused_by_index(timestamp):
    with pytest.raises(PayloadError, match=r"SendGrid event \[0\] \(delivered\): 'timestamp'"):
        run([minimal("delivered", timestamp=timestamp)])


@pytest.mark.parametrize(("extra", "bounce_type"), [
    ({"status": "5.0.0"}, BounceType.PERMANENT),  # RFC 3463 class 5: permanent failure
    ({"status": "5.1.1"}, BounceType.PERMANENT),
    ({"status": "4.4.7"}, BounceType.TRANSIENT),  # class 4: persistent transient failure
    ({"status": " 4.2.2 "}, BounceType.TRANSIENT),
    ({"status": "2.0.0"}, BounceType.UNDETERMINED),  # success is no bounce class: cannot tell
    ({"status": "550"}, BounceType.UNDETERMINED),  # a basic SMTP code, not an enhanced one
    ({}, BounceType.UNDETERMINED),  # nothing to read
    ({"type": "blocked", "status": "5.7.1"}, BounceType.TRANSIENT),  # the type, when given, decides
    ({"type": "bounce", "status": "4.2.2"}, BounceType.PERMANENT),
    ({"type": "expired", "status": "5.0.0"}, BounceType.PERMANENT),  # an unknown type: as if none
])
def test_a_bounce_without_a_type_is_classed_by_its_status(extra, bounce_type):
    [event] = run([minimal("bounce", reason="x", **extra)])

    assert event.bounce_type is bounce_type
