"""tracker.providers.postmark.parse: recorded Postmark webhook bodies -> normalized events."""
import json
from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold, history
from tracker.providers.common.errors import PayloadError
from tracker.providers.postmark.parse import PROVIDER, TYPE_MAP
from tracker.providers.postmark.parse import parse as parse_body
from tracker.domain.suppression import Reason, immediate_reason
from tracker.providers.postmark.facts import BOUNCE_TYPES, SUPPRESSION_REASONS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "postmark"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def document(name: str):
    return json.loads(fixture(name))


def parse(payload, received_at: datetime = RECEIVED, content_type: str = "application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return parse_body(body, content_type, received_at=received_at)


def only(payload, **kwargs) -> NormalizedEvent:
    events = parse(payload, **kwargs)
    assert len(events) == 1, events
    return events[0]


def utc(*parts: int, us: int = 0) -> datetime:
    return datetime(*parts, us, tzinfo=UTC)


def pm(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="postmark", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

WELCOME = "883953f4-6105-42a2-a16a-77a8eac79483"
WELCOME_DETAILS = {
    "Tag": "welcome-email",
    "MessageStream": "outbound",
    "ServerID": 23,
    "Metadata": {"user_id": "43", "plan": "trial"},
}
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/35.0.1916.153 Safari/537.36"
)
RESET = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"

EXPECTED = {
    "delivery.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.DELIVERED,
            # 13:28:10.2735393-05:00; the seventh fractional digit is truncated.
            occurred_at=utc(2024, 3, 5, 18, 28, 10, us=273539),
            event_key=f"postmark:Delivery:{WELCOME}:john@example.com:2024-03-05T18:28:10.273539Z",
            diagnostic="smtp;250 2.0.0 OK 1709663290 d9443c01a7336-1dd1a9a2b3c.42 - gsmtp",
            details=WELCOME_DETAILS,
        )
    ],
    "delivery-utf8.json": [
        pm(
            message_id="0b7c4c1e-2f0d-4a55-9a51-6f1d3c2e8b90",
            recipient="mixed.case@example.net",
            type=EventType.DELIVERED,
            occurred_at=utc(2024, 3, 5, 18, 2, 41),
            event_key=(
                "postmark:Delivery:0b7c4c1e-2f0d-4a55-9a51-6f1d3c2e8b90:"
                "mixed.case@example.net:2024-03-05T18:02:41.000000Z"
            ),
            diagnostic="smtp;250 2.0.0 Ok: queued as 4Tq9Xz — Nachricht angenommen, Grüße",
            details={
                "Tag": "rechnung",
                "MessageStream": "outbound",
                "ServerID": 23,
                "Metadata": {"customer": "Zoë Ångström", "city": "東京"},
            },
        )
    ],
    "legacy-delivery-no-recordtype.json": [
        pm(
            message_id="a94dfe84-8ab9-43cf-8a1c-ac234c296e25",
            recipient="recipient@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2016, 12, 1, 20, 41, 45),
            event_key=(
                "postmark:Delivery:a94dfe84-8ab9-43cf-8a1c-ac234c296e25:"
                "recipient@example.com:2016-12-01T20:41:45.000000Z"
            ),
            diagnostic="smtp;250 2.0.0 OK 1480624905 l186si10190883ite.73 - gsmtp",
            details={"Tag": "Your Tag"},
        )
    ],
    "bounce-hard.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 3, 5, 18, 29, 2, us=552134),
            event_key="postmark:Bounce:3719297970",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="HardBounce",
            diagnostic="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            details={
                "BounceID": 3719297970,
                "TypeCode": 1,
                "Inactive": True,
                "CanActivate": True,
                **WELCOME_DETAILS,
            },
        )
    ],
    "bounce-soft.json": [
        pm(
            message_id="c2a0f4a1-9d6e-4b7c-8e2f-1a3b5c7d9e0f",
            recipient="full.mailbox@example.net",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 3, 5, 21, 10, 0),
            event_key="postmark:Bounce:3719298412",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="SoftBounce",
            diagnostic="smtp;452 4.2.2 The email account that you tried to reach is over quota.",
            details={
                "BounceID": 3719298412,
                "TypeCode": 4096,
                "Inactive": False,
                "CanActivate": True,
                "MessageStream": "outbound",
                "ServerID": 23,
            },
        )
    ],
    "bounce-autoresponder.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.UNMAPPED,
            occurred_at=utc(2024, 3, 5, 18, 29, 40),
            event_key="postmark:Bounce:3719299001",
            diagnostic="Auto-Submitted: auto-replied; I am out of the office until 11 March.",
            details={
                "provider_event": "Bounce:AutoResponder",
                "BounceID": 3719299001,
                "TypeCode": 64,
                "Inactive": False,
                "CanActivate": True,
                "Tag": "welcome-email",
                "MessageStream": "outbound",
                "ServerID": 23,
            },
        )
    ],
    "spam-complaint.json": [
        pm(
            message_id="5c1e9a3b-7d2f-4e8a-b6c4-0f1e2d3c4b5a",
            recipient="jane@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2024, 3, 6, 9, 15, 44, us=907025),
            event_key="postmark:SpamComplaint:3719305112",
            details={
                "BounceID": 3719305112,
                "TypeCode": 512,
                "Inactive": True,
                "CanActivate": False,
                "Tag": "newsletter",
                "MessageStream": "outbound",
                "ServerID": 23,
                "Metadata": {"a_key": "a_value"},
            },
        )
    ],
    "legacy-spam-complaint-no-recordtype.json": [
        pm(
            message_id="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            recipient="sam@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2024, 3, 6, 15, 2, 3, us=100000),
            event_key="postmark:SpamComplaint:3719305377",
            diagnostic="Complaint via feedback loop",
            details={
                "BounceID": 3719305377,
                "TypeCode": 100001,
                "Inactive": True,
                "CanActivate": False,
                "Tag": "newsletter",
            },
        )
    ],
    "open.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2024, 3, 5, 18, 31, 0, us=123456),
            event_key="postmark:Open:2024-03-05T18:31:00.123456Z",
            details={
                "FirstOpen": True,
                "Platform": "WebMail",
                "UserAgent": CHROME,
                "Tag": "welcome-email",
                "MessageStream": "outbound",
                "Metadata": {"user_id": "43", "plan": "trial"},
            },
        )
    ],
    "open-repeat.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2024, 3, 6, 8, 0, 12, us=500000),
            event_key="postmark:Open:2024-03-06T08:00:12.500000Z",
            details={
                "FirstOpen": False,
                "Platform": "Mobile",
                "UserAgent": (
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) "
                    "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
                ),
                "Tag": "welcome-email",
                "MessageStream": "outbound",
                "Metadata": {"user_id": "43", "plan": "trial"},
            },
        )
    ],
    "click.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.CLICKED,
            occurred_at=utc(2024, 3, 5, 18, 32, 15, us=456789),
            # The tail is sha256 of the JSON-encoded OriginalLink, first 16 hex digits.
            event_key="postmark:Click:2024-03-05T18:32:15.456789Z:32321af8f9317dcd",
            details={
                "OriginalLink": "https://example.com/account/confirm?token=abc123",
                "ClickLocation": "HTML",
                "Platform": "Desktop",
                "UserAgent": CHROME,
                "Tag": "welcome-email",
                "MessageStream": "outbound",
                "Metadata": {"user_id": "43", "plan": "trial"},
            },
        )
    ],
    "subscription-change-hard-bounce.json": [
        pm(
            # About the address: the Bounce record reports the delivery of WELCOME.
            message_id="",
            recipient="john@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 3, 5, 18, 29, 3, us=416071),
            event_key="postmark:SubscriptionChange:2024-03-05T18:29:03.416071Z",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="HardBounce",
            details={
                "MessageID": WELCOME,
                "Origin": "Recipient",
                "SuppressSending": True,
                "SuppressionReason": "HardBounce",
                **WELCOME_DETAILS,
            },
        )
    ],
    "subscription-change-spam-complaint.json": [
        pm(
            message_id="",
            recipient="jane@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2024, 3, 6, 14, 15, 45, us=102030),
            event_key="postmark:SubscriptionChange:2024-03-06T14:15:45.102030Z",
            details={
                "MessageID": "5c1e9a3b-7d2f-4e8a-b6c4-0f1e2d3c4b5a",
                "Origin": "Recipient",
                "SuppressSending": True,
                "SuppressionReason": "SpamComplaint",
                "Tag": "newsletter",
                "MessageStream": "outbound",
                "ServerID": 23,
                "Metadata": {"a_key": "a_value"},
            },
        )
    ],
    "subscription-change-unsubscribe.json": [
        pm(
            message_id="7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928",
            recipient="reader@example.com",
            type=EventType.UNSUBSCRIBED,
            occurred_at=utc(2024, 3, 7, 12, 0, 0, us=500000),
            event_key="postmark:SubscriptionChange:2024-03-07T12:00:00.500000Z",
            details={
                "Origin": "Recipient",
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
                "Tag": "newsletter",
                "MessageStream": "broadcast",
                "ServerID": 23,
            },
        )
    ],
    "subscription-change-customer-suppression.json": [
        pm(
            message_id="",  # Postmark sends MessageID null for a customer's own suppression
            recipient="former.customer@example.com",
            type=EventType.UNSUBSCRIBED,
            occurred_at=utc(2024, 3, 8, 9, 30, 0),
            event_key="postmark:SubscriptionChange:2024-03-08T09:30:00.000000Z",
            details={
                "Origin": "Customer",
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
                "MessageStream": "outbound",
                "ServerID": 23,
            },
        )
    ],
    "subscription-change-reactivated.json": [
        pm(
            message_id="",
            recipient="john@example.com",
            type=EventType.UNMAPPED,
            occurred_at=utc(2024, 3, 9, 16, 45, 10, us=250000),
            event_key="postmark:SubscriptionChange:2024-03-09T16:45:10.250000Z",
            details={
                "provider_event": "SubscriptionChange:reactivated",
                "Origin": "Customer",
                "SuppressSending": False,
                "MessageStream": "outbound",
                "ServerID": 23,
            },
        )
    ],
    "unknown-record-type.json": [
        pm(
            message_id=WELCOME,
            recipient="john@example.com",
            type=EventType.UNMAPPED,
            occurred_at=utc(2024, 3, 5, 13, 30, 0),
            event_key="postmark:LinkPreview:918273",
            details={
                "provider_event": "LinkPreview",
                "ID": 918273,
                "Tag": "welcome-email",
                "MessageStream": "outbound",
                "ServerID": 23,
            },
        )
    ],
    "batch-array.json": [
        pm(
            message_id=RESET,
            recipient="ann@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2024, 3, 10, 7, 0, 1, us=500000),
            event_key=f"postmark:Delivery:{RESET}:ann@example.com:2024-03-10T07:00:01.500000Z",
            diagnostic="smtp;250 2.0.0 OK",
            details={"Tag": "reset-password", "MessageStream": "outbound", "ServerID": 23},
        ),
        pm(
            message_id=RESET,
            recipient="ann@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2024, 3, 10, 7, 3, 30),
            event_key="postmark:Open:2024-03-10T07:03:30.000000Z",
            details={
                "FirstOpen": True,
                "Platform": "Desktop",
                "UserAgent": "Mozilla/5.0",
                "Tag": "reset-password",
                "MessageStream": "outbound",
            },
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert parse(fixture(name)) == EXPECTED[name]


def test_every_recorded_payload_has_expectations():
    recorded = {path.name for path in FIXTURES.iterdir() if path.name != "README.md"}

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_are_postmark_events_with_utc_times_and_small_storable_details(name):
    for event in parse(fixture(name)):
        assert event.provider == PROVIDER == "postmark"
        assert event.event_key.startswith("postmark:")
        assert event.occurred_at.utcoffset() == timedelta(0)
        # The bounce dump, geo data and client fingerprint stay out of the history.
        assert not {"Content", "Geo", "Client", "OS", "From", "Subject"} & set(event.details)
        assert len(json.dumps(event.details)) < 1500


def test_the_content_type_header_is_not_trusted():
    body = fixture("delivery.json")

    assert parse(body, content_type="text/plain") == parse(body, content_type="") == EXPECTED[
        "delivery.json"
    ]


def test_a_byte_order_mark_before_the_json_is_ignored():
    assert parse(b"\xef\xbb\xbf" + fixture("bounce-hard.json")) == EXPECTED["bounce-hard.json"]


# --- what the statuses become, as a user sees them ----------------------------------------


def status_after(*names: str):
    return fold(event for name in names for event in parse(fixture(name)))


def test_a_bounce_after_the_delivery_leaves_the_delivery_bounced_permanently():
    state = status_after("delivery.json", "open.json", "bounce-hard.json")

    assert (state.status, state.bounce_type) == (Status.BOUNCED, BounceType.PERMANENT)
    assert state.diagnostic.startswith("smtp;550 5.1.1")


def test_an_out_of_office_reply_does_not_turn_a_delivered_message_into_a_failure():
    state = status_after("bounce-autoresponder.json", "delivery.json")

    assert state.status is Status.DELIVERED


@pytest.mark.parametrize("name", ["subscription-change-hard-bounce.json",
                                  "subscription-change-unsubscribe.json",
                                  "subscription-change-reactivated.json"])
def test_suppression_list_changes_keep_the_status(name):
    welcome = [e for n in ("delivery.json", name) for e in parse(fixture(n))
               if (e.message_id, e.recipient) == (WELCOME, "john@example.com")]

    assert fold(welcome).status is Status.DELIVERED


@pytest.mark.parametrize("order", [("bounce-hard.json", "subscription-change-hard-bounce.json"),
                                   ("subscription-change-hard-bounce.json", "bounce-hard.json")])
def test_a_hard_bounce_suppresses_for_a_hard_bounce_whichever_record_comes_first(order):
    first = parse(fixture(order[0]))[0]

    # The suppression list keeps the first reason it hears for an address.
    assert immediate_reason(first) is Reason.HARD_BOUNCE
    delivery = [e for n in order for e in parse(fixture(n)) if e.message_id == WELCOME]
    assert fold(delivery).diagnostic.startswith("smtp;550 5.1.1")


def test_opens_and_clicks_count_as_opened_and_every_open_is_kept():
    events = [e for n in ("delivery.json", "open.json", "open-repeat.json", "click.json")
              for e in parse(fixture(n))]

    assert fold(events).status is Status.OPENED
    assert len(history(events)) == 4


def test_a_complaint_outranks_everything_before_it():
    delivery = pm(
        message_id="5c1e9a3b-7d2f-4e8a-b6c4-0f1e2d3c4b5a",
        recipient="jane@example.com",
        type=EventType.DELIVERED,
        occurred_at=utc(2024, 3, 6, 9, 0, 0),
        event_key="postmark:Delivery:x",
    )

    assert fold([*parse(fixture("spam-complaint.json")), delivery]).status is Status.COMPLAINT


# --- the mapping tables, row by row ---------------------------------------------------------

T = "2024-05-01T10:00:05.25-04:00"


def minimal(record_type: str) -> dict:
    """The smallest well-formed record of each type (not a recording: a unit-rule probe)."""
    base = {"RecordType": record_type, "MessageID": "m-1"}
    return {
        "Delivery": {**base, "Recipient": "a@example.com", "DeliveredAt": T},
        "Bounce": {**base, "ID": 7, "Type": "HardBounce", "TypeCode": 1,
                   "Email": "a@example.com", "BouncedAt": T},
        "SpamComplaint": {**base, "ID": 8, "Type": "SpamComplaint", "TypeCode": 100001,
                          "Email": "a@example.com", "BouncedAt": T},
        "Open": {**base, "Recipient": "a@example.com", "ReceivedAt": T, "FirstOpen": True},
        "Click": {**base, "Recipient": "a@example.com", "ReceivedAt": T,
                  "OriginalLink": "https://example.com/"},
        "SubscriptionChange": {**base, "Recipient": "a@example.com", "ChangedAt": T,
                               "SuppressSending": True, "SuppressionReason": "ManualSuppression"},
    }[record_type]


RECORD_TYPES = [
    ("Delivery", EventType.DELIVERED, Status.DELIVERED),
    ("Bounce", EventType.BOUNCED, Status.BOUNCED),
    ("SpamComplaint", EventType.COMPLAINED, Status.COMPLAINT),
    ("Open", EventType.OPENED, Status.OPENED),
    ("Click", EventType.CLICKED, Status.OPENED),
    ("SubscriptionChange", EventType.UNSUBSCRIBED, None),  # SuppressionReason ManualSuppression
]


@pytest.mark.parametrize(("record_type", "event_type", "status"), RECORD_TYPES)
def test_record_type_row(record_type, event_type, status):
    event = only(minimal(record_type))

    assert TYPE_MAP[record_type] is event_type
    assert (event.type, event.status) == (event_type, status)
    assert event.recipient == "a@example.com"
    assert event.message_id == "m-1"
    assert event.occurred_at == utc(2024, 5, 1, 14, 0, 5, us=250000)
    assert event.event_key.startswith(f"postmark:{record_type}:")


def test_the_record_type_table_covers_exactly_the_documented_types():
    assert set(TYPE_MAP) == {row[0] for row in RECORD_TYPES}


# Postmark's SuppressionReason values and what a suppression for each one is.
SUPPRESSION_ROWS = [
    # (SuppressionReason, event type, bounce type, kept on the message's delivery)
    ("HardBounce", EventType.BOUNCED, BounceType.PERMANENT, False),
    ("SpamComplaint", EventType.COMPLAINED, None, False),
    ("ManualSuppression", EventType.UNSUBSCRIBED, None, True),
]


@pytest.mark.parametrize(("reason", "event_type", "bounce_type", "on_the_delivery"), SUPPRESSION_ROWS)
def test_suppression_reason_row(reason, event_type, bounce_type, on_the_delivery):
    event = only({**minimal("SubscriptionChange"), "SuppressionReason": reason})

    assert SUPPRESSION_REASONS[reason].type is event_type
    assert (event.type, event.bounce_type) == (event_type, bounce_type)
    assert event.recipient == "a@example.com"
    assert event.message_id == ("m-1" if on_the_delivery else "")
    assert event.details.get("MessageID") == (None if on_the_delivery else "m-1")


def test_the_suppression_table_covers_exactly_the_documented_reasons():
    assert set(SUPPRESSION_REASONS) == {row[0] for row in SUPPRESSION_ROWS}


@pytest.mark.parametrize("reason", [None, "", "SomethingNew", 7])
def test_a_suppression_for_an_unknown_or_missing_reason_is_an_unsubscribe(reason):
    record = {**minimal("SubscriptionChange"), "SuppressionReason": reason}
    if reason is None:
        del record["SuppressionReason"]

    event = only(record)

    assert (event.type, event.message_id) == (EventType.UNSUBSCRIBED, "m-1")


# Postmark's bounce-type table (Bounce API, "Bounce types") and what each means here.
BOUNCE_ROWS = [
    ("HardBounce", 1, EventType.BOUNCED, BounceType.PERMANENT),
    ("Transient", 2, EventType.BOUNCED, BounceType.TRANSIENT),
    ("Unsubscribe", 16, EventType.UNSUBSCRIBED, None),
    ("Subscribe", 32, EventType.UNMAPPED, None),
    ("AutoResponder", 64, EventType.UNMAPPED, None),
    ("AddressChange", 128, EventType.UNMAPPED, None),
    ("DnsError", 256, EventType.BOUNCED, BounceType.TRANSIENT),
    ("SpamNotification", 512, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("OpenRelayTest", 1024, EventType.UNMAPPED, None),
    ("Unknown", 2048, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("SoftBounce", 4096, EventType.BOUNCED, BounceType.TRANSIENT),
    ("VirusNotification", 8192, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("ChallengeVerification", 16384, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("BadEmailAddress", 100000, EventType.BOUNCED, BounceType.PERMANENT),
    ("SpamComplaint", 100001, EventType.COMPLAINED, None),
    ("ManuallyDeactivated", 100002, EventType.BOUNCED, BounceType.PERMANENT),
    ("Unconfirmed", 100003, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("Blocked", 100006, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("SMTPApiError", 100007, EventType.REJECTED, None),
    ("InboundError", 100008, EventType.UNMAPPED, None),
    ("DMARCPolicy", 100009, EventType.BOUNCED, BounceType.UNDETERMINED),
    ("TemplateRenderingFailed", 100010, EventType.RENDERING_FAILED, None),
]


def bounce(**fields) -> dict:
    record = {"RecordType": "Bounce", "ID": 99, "MessageID": "m-1", "Email": "a@example.com",
              "BouncedAt": T, "Details": "smtp;5xx words", **fields}
    return {name: value for name, value in record.items() if value is not None}


@pytest.mark.parametrize(("name", "code", "event_type", "bounce_type"), BOUNCE_ROWS)
def test_bounce_type_row(name, code, event_type, bounce_type):
    event = only(bounce(Type=name, TypeCode=code))

    assert (event.type, event.bounce_type) == (event_type, bounce_type)
    assert event.event_key == "postmark:Bounce:99"
    assert event.diagnostic == "smtp;5xx words"
    if event_type is EventType.BOUNCED:
        assert event.bounce_subtype == name
    elif event_type is EventType.UNMAPPED:
        assert event.details["provider_event"] == f"Bounce:{name}"
    else:
        assert event.details["Type"] == name


@pytest.mark.parametrize(("name", "code", "event_type", "bounce_type"), BOUNCE_ROWS)
def test_a_bounce_without_a_type_name_is_classified_by_its_code(name, code, event_type,
                                                               bounce_type):
    event = only(bounce(TypeCode=code))

    assert (event.type, event.bounce_type) == (event_type, bounce_type)


def test_the_bounce_table_covers_exactly_the_documented_types():
    assert {name: rule.code for name, rule in BOUNCE_TYPES.items()} == {
        name: code for name, code, _, _ in BOUNCE_ROWS
    }


def test_the_type_name_wins_when_the_code_disagrees():
    # Postmark's own complaint example pairs Type SpamComplaint with SpamNotification's 512.
    assert only(bounce(Type="SpamComplaint", TypeCode=512)).type is EventType.COMPLAINED
    assert only(bounce(Type="SoftBounce", TypeCode=1)).bounce_type is BounceType.TRANSIENT


def test_an_unknown_bounce_type_is_an_undetermined_bounce_that_keeps_the_word():
    event = only(bounce(Type="QuantumBounce", TypeCode=777))

    assert (event.type, event.bounce_type, event.bounce_subtype) == (
        EventType.BOUNCED, BounceType.UNDETERMINED, "QuantumBounce")
    assert event.details["TypeCode"] == 777


def test_an_unknown_bounce_type_is_cut_to_the_subtype_column_width():
    event = only({**minimal("Bounce"), "Type": "X" * 300, "TypeCode": 999999})

    assert (event.bounce_type, event.bounce_subtype) == (BounceType.UNDETERMINED, "X" * 64)


@pytest.mark.parametrize("record", [
    {"RecordType": "R" * 1000, "ID": 5, "Recipient": "a@example.com"},
    {"RecordType": "Delivery", "MessageID": "m" * 290, "Recipient": "a" * 250 + "@example.com",
     "DeliveredAt": T},
])
def test_the_key_fits_its_column_whatever_postmark_sends(record):
    again = only(record)

    assert len(again.event_key) <= 400
    assert again.event_key == only(record).event_key


def test_a_bounce_without_details_falls_back_to_postmarks_description():
    event = only(bounce(Type="DnsError", Details="", Description="A temporary DNS error."))

    assert event.diagnostic == "A temporary DNS error."


def test_a_complaint_arriving_on_the_bounce_hook_is_a_complaint():
    event = only(bounce(Type="SpamComplaint", TypeCode=100001))

    assert (event.type, event.status, event.bounce_type) == (
        EventType.COMPLAINED, Status.COMPLAINT, None)


def test_a_reactivation_changes_no_status_and_says_what_it_was():
    record = {**minimal("SubscriptionChange"), "SuppressSending": False,
              "SuppressionReason": None, "MessageID": None}
    event = only(record)

    assert (event.type, event.status, event.message_id) == (EventType.UNMAPPED, None, "")
    assert event.details["provider_event"] == "SubscriptionChange:reactivated"


# --- event keys: the same event always, different events never ----------------------------


def test_a_reposted_record_has_the_same_key_whatever_the_arrival_time():
    later = RECEIVED + timedelta(hours=10)
    for name in EXPECTED:
        first = [e.event_key for e in parse(fixture(name))]
        assert [e.event_key for e in parse(fixture(name), received_at=later)] == first


def test_the_same_instant_spelled_in_another_zone_gives_the_same_key():
    record = document("delivery.json")
    respelled = {**record, "DeliveredAt": "2024-03-05T18:28:10.2735393Z"}

    assert only(respelled).event_key == only(record).event_key


def test_deliveries_to_two_recipients_of_one_message_have_different_keys():
    record = document("delivery.json")
    other = {**record, "Recipient": "jane@example.com"}

    assert only(other).event_key != only(record).event_key


def test_two_links_clicked_in_the_same_instant_are_two_events():
    record = document("click.json")
    other = {**record, "OriginalLink": "https://example.com/unsubscribe"}

    assert only(other).event_key != only(record).event_key


def test_a_record_without_its_time_takes_the_arrival_time_but_keeps_a_stable_key():
    record = {k: v for k, v in document("open.json").items() if k != "ReceivedAt"}
    first = only(record)
    again = only(record, received_at=RECEIVED + timedelta(days=1))

    assert first.occurred_at == RECEIVED
    assert again.event_key == first.event_key
    assert first.event_key != only(document("open.json")).event_key


def test_a_bounce_without_an_id_is_keyed_by_message_recipient_and_time():
    record = {k: v for k, v in document("bounce-hard.json").items() if k != "ID"}

    assert only(record).event_key == (
        f"postmark:Bounce:{WELCOME}:john@example.com:2024-03-05T18:29:02.552134Z")


# --- tolerated spellings and shapes ------------------------------------------------------


def test_older_spellings_of_message_and_server_ids_are_read():
    record = document("delivery.json")
    record["MessageId"] = record.pop("MessageID")
    record["ServerId"] = record.pop("ServerID")

    event = only(record)
    assert event.message_id == WELCOME
    assert event.details["ServerID"] == 23


def test_large_metadata_is_left_out_of_the_history_with_a_note():
    record = document("delivery.json")
    record["Metadata"] = {f"key{i}": "x" * 100 for i in range(40)}

    assert only(record).details["Metadata"] == {"omitted": "40 keys, 4431 characters of JSON"}


@pytest.mark.parametrize(("fields", "record_type"), [
    ({"DeliveredAt": T, "Recipient": "a@example.com"}, "Delivery"),
    ({"BouncedAt": T, "Email": "a@example.com", "Type": "HardBounce", "ID": 1}, "Bounce"),
    ({"BouncedAt": T, "Email": "a@example.com", "Type": "SpamComplaint", "ID": 1},
     "SpamComplaint"),
    ({"ReceivedAt": T, "Recipient": "a@example.com", "FirstOpen": True}, "Open"),
    ({"ReceivedAt": T, "Recipient": "a@example.com", "OriginalLink": "https://e.com/"}, "Click"),
    ({"ChangedAt": T, "Recipient": "a@example.com", "SuppressSending": True},
     "SubscriptionChange"),
])
def test_a_record_without_record_type_is_read_by_its_fields(fields, record_type):
    event = only({"MessageID": "m-1", **fields})

    assert event.event_key.startswith(f"postmark:{record_type}:")
    assert event.type is TYPE_MAP[record_type]


# --- unknown record types: stored, never dropped ------------------------------------------


def test_an_unknown_record_type_without_id_or_time_is_still_kept():
    event = only({"RecordType": "Mystery", "Recipient": "Someone@Example.com"})

    assert (event.type, event.status) == (EventType.UNMAPPED, None)
    assert (event.message_id, event.recipient, event.occurred_at) == (
        "", "someone@example.com", RECEIVED)
    assert event.details == {"provider_event": "Mystery"}
    assert event.event_key.startswith("postmark:Mystery:")
    assert only({"RecordType": "Mystery", "Recipient": "Someone@Example.com"}) == event


def test_an_unknown_record_type_with_unreadable_fields_is_kept_anyway():
    event = only({"RecordType": "Mystery", "MessageID": "m-9", "Email": "not an address",
                  "ReceivedAt": "yesterday"})

    assert (event.type, event.message_id, event.recipient, event.occurred_at) == (
        EventType.UNMAPPED, "m-9", None, RECEIVED)


# --- garbage: refused, with a message that names what is wrong ---------------------------

GARBAGE = [
    (b"<html>hello</html>", "not JSON"),
    (b'{"RecordType": "Delivery",', "not JSON"),
    ("Zoë".encode("latin-1"), "not UTF-8"),
    (b"[]", "empty JSON array"),
    (b'"Delivery"', "must be a JSON object, got a string"),
    (b"42", "must be a JSON object, got a number"),
    (b'[{"RecordType": "Open"}, 7]', r"record \[1\] must be a JSON object, got a number"),
    (b'{"RecordType": 5}', "RecordType must be a string"),
    (b'{"From": "x@example.com", "Subject": "hi"}', "no RecordType"),
    (b"{}", "top-level keys: none"),
]


@pytest.mark.parametrize(("body", "message"), GARBAGE)
def test_garbage_is_refused_with_a_telling_message(body, message):
    with pytest.raises(PayloadError, match=message):
        parse(body)


BROKEN_RECORDS = [
    ("delivery.json", {"MessageID": None}, "Delivery record has no MessageID"),
    ("bounce-hard.json", {"MessageID": ""}, "Bounce record has no MessageID"),
    ("open.json", {"Recipient": None}, "Open record has no Recipient"),
    ("bounce-hard.json", {"Email": "   "}, "Bounce record has no Email"),
    ("click.json", {"Recipient": "@"}, "Click Recipient is not an email address: '@'"),
    ("delivery.json", {"DeliveredAt": "last Tuesday"}, "Delivery DeliveredAt: not a timestamp"),
    ("subscription-change-hard-bounce.json", {"SuppressSending": "yes"},
     "needs SuppressSending true or false, got 'yes'"),
]


@pytest.mark.parametrize(("name", "changes", "message"), BROKEN_RECORDS)
def test_a_record_missing_what_identifies_the_event_is_refused(name, changes, message):
    record = {**document(name), **changes}

    with pytest.raises(PayloadError, match=message):
        parse(record)


def test_the_broken_record_of_a_batch_is_named():
    records = [document("delivery.json"), {**document("open.json"), "MessageID": None}]

    with pytest.raises(PayloadError, match=r"Open record \[1\] has no MessageID"):
        parse(records)


def test_a_naive_arrival_time_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse(fixture("delivery.json"), received_at=datetime(2030, 1, 1))
