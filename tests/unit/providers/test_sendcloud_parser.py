"""tracker.providers.sendcloud.parse: recorded SendCloud pushes -> normalized events."""
import json
from datetime import datetime, UTC
from urllib.parse import urlencode

import pytest

from tests.support.webhooks.sendcloud import EXAMPLE_SECRET, FIXTURES, fixture, signed_request
from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold, history
from tracker.providers.sendcloud.parse import IGNORED_EVENTS, PROVIDER, TYPE_MAP, PayloadError, parse
from tracker.providers.sendcloud.facts import FORM, SUB_STAT_MEANINGS

JSON = "application/json"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def parse_fixture(name: str, content_type: str | None = None) -> list[NormalizedEvent]:
    if content_type is None:
        content_type = JSON if name.endswith(".json") else FORM
    return parse(fixture(name), content_type, received_at=RECEIVED)


def form(**fields) -> bytes:
    return urlencode(fields).encode()


def parse_form(received_at: datetime = RECEIVED, **fields) -> list[NormalizedEvent]:
    return parse(form(**fields), FORM, received_at=received_at)


def utc(*parts: int, ms: int = 0) -> datetime:
    return datetime(*parts, ms * 1000, tzinfo=UTC)


def sendcloud(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="sendcloud", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

M1 = "1717235999870_94121_1733_1251.sc-10_9_13_213-inbound"
M2 = "1717236100456_94121_1733_1252.sc-10_9_13_214-inbound"
M3 = "1717236000001_94121_1733_1253.sc-10_9_13_215-inbound"
ALICE = f"{M1}0$alice@example.com"
BOB = f"{M1}1$bob@example.net"
CAROL = f"{M1}2$Carol@Example.NET"
DAVE = f"{M2}0$dave@example.org"
ERIN = f"{M2}1$erin@example.org"
FRANK = f"{M3}0$frank@example.com"
NOTICE = "通知"
ORDER = {"SC-Custom-order": "A-1001"}
LABEL_1 = {"labelId": "12345", "labelName": NOTICE, "apiUser": "acme_trigger"}
LABEL_2 = {"labelId": "12346", "labelName": "receipts", "apiUser": "acme_trigger"}
CHROME = {
    "ip": "198.51.100.23",
    "explorerName": "Chrome",
    "explorerVer": "125.0.0.0",
    "oSName": "Windows",
    "oSVer": "10",
}
USER_UNKNOWN = "550 5.1.1 <carol@example.net>: Recipient address rejected: User unknown"


def request_1(email_id: str, recipient: str) -> NormalizedEvent:
    return sendcloud(
        message_id=email_id,
        recipient=recipient,
        type=EventType.SENT,
        occurred_at=utc(2024, 6, 1, 10, 0, 0, ms=123),
        event_key=f"sendcloud:request:{email_id}:2024-06-01T10:00:00.123000Z",
        details={"messageId": M1, **LABEL_1, "userHeaders": ORDER},
    )


def request_2(email_id: str, recipient: str) -> NormalizedEvent:
    return sendcloud(
        message_id=email_id,
        recipient=recipient,
        type=EventType.SENT,
        occurred_at=utc(2024, 6, 1, 10, 1, 40, ms=456),
        event_key=f"sendcloud:request:{email_id}:2024-06-01T10:01:40.456000Z",
        details={"messageId": M2, **LABEL_2},
    )


REQUEST_1 = [
    request_1(ALICE, "alice@example.com"),
    request_1(BOB, "bob@example.net"),
    request_1(CAROL, "carol@example.net"),
]
DELIVER_ALICE = [
    sendcloud(
        message_id=ALICE,
        recipient="alice@example.com",
        type=EventType.DELIVERED,
        occurred_at=utc(2024, 6, 1, 10, 0, 2, ms=456),
        event_key=f"sendcloud:deliver:{ALICE}:2024-06-01T10:00:02.456000Z",
        details={**LABEL_1, "userHeaders": ORDER, "outIp": "203.0.113.17"},
    )
]
SPAM_ALICE = [
    sendcloud(
        message_id=ALICE,
        recipient="alice@example.com",
        type=EventType.COMPLAINED,
        occurred_at=utc(2024, 6, 1, 10, 8, 20),
        event_key=f"sendcloud:report_spam:{ALICE}:2024-06-01T10:08:20.000000Z",
        details=LABEL_1,
    )
]
INVALID_CAROL = [
    sendcloud(
        message_id=CAROL,
        recipient="carol@example.net",
        type=EventType.BOUNCED,
        occurred_at=utc(2024, 6, 1, 10, 0, 3, ms=500),
        event_key=f"sendcloud:invalid:{CAROL}:2024-06-01T10:00:03.500000Z",
        bounce_type=BounceType.PERMANENT,
        bounce_subtype="406",
        diagnostic=USER_UNKNOWN,
        details={
            **LABEL_1,
            "subStat": "406",
            "subStatDesc": USER_UNKNOWN,
            "outIp": "203.0.113.17",
        },
    )
]

EXPECTED: dict[str, list[NormalizedEvent]] = {
    "form/request.txt": REQUEST_1,
    "form/request-repeated-keys.txt": REQUEST_1,
    "form/request-single.txt": [
        sendcloud(
            message_id=FRANK,
            recipient="frank@example.com",
            type=EventType.SENT,
            occurred_at=utc(2024, 6, 1, 10, 0, 0, ms=123),
            event_key=f"sendcloud:request:{FRANK}:2024-06-01T10:00:00.123000Z",
            details={"messageId": M3, "labelId": "12345", "apiUser": "acme_trigger"},
        )
    ],
    "json/request.json": [
        request_2(DAVE, "dave@example.org"),
        request_2(ERIN, "erin@example.org"),
    ],
    "form/deliver.txt": DELIVER_ALICE,
    "json/delivered.json": DELIVER_ALICE,
    "form/deliver-timestamp-seconds.txt": [
        sendcloud(
            message_id=BOB,
            recipient="bob@example.net",
            type=EventType.DELIVERED,
            occurred_at=utc(2024, 6, 1, 10, 0, 2),
            event_key=f"sendcloud:deliver:{BOB}:2024-06-01T10:00:02.000000Z",
            details={"labelId": "12345", "apiUser": "acme_trigger", "outIp": "203.0.113.18"},
        )
    ],
    "form/open.txt": [
        sendcloud(
            message_id=ALICE,
            recipient="alice@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2024, 6, 1, 10, 5, 5),
            event_key=f"sendcloud:open:{ALICE}:2024-06-01T10:05:05.000000Z",
            details={**LABEL_1, **CHROME},
        )
    ],
    "form/click.txt": [
        sendcloud(
            message_id=ALICE,
            recipient="alice@example.com",
            type=EventType.CLICKED,
            occurred_at=utc(2024, 6, 1, 10, 5, 12, ms=789),
            # The tail is the first 16 hex digits of sha256 of the URL as a JSON string,
            # checked against `printf '"%s"' URL | sha256sum`.
            event_key=f"sendcloud:click:{ALICE}:2024-06-01T10:05:12.789000Z:9afa2e684542c3be",
            details={
                **LABEL_1,
                "url": "https://example.com/offer?utm_source=sendcloud&id=7",
                **CHROME,
            },
        )
    ],
    "form/unsubscribe.txt": [
        sendcloud(
            message_id=BOB,
            recipient="bob@example.net",
            type=EventType.UNSUBSCRIBED,
            occurred_at=utc(2024, 6, 1, 10, 6, 40, ms=1),
            event_key=f"sendcloud:unsubscribe:{BOB}:2024-06-01T10:06:40.001000Z",
            details={
                "labelId": "12345",
                "apiUser": "acme_trigger",
                "ip": "203.0.113.99",
                "explorerName": "Safari",
                "explorerVer": "17.4",
                "oSName": "iOS",
                "oSVer": "17.4.1",
            },
        )
    ],
    "form/report_spam.txt": SPAM_ALICE,
    "json/spam-report.json": SPAM_ALICE,
    "form/invalid.txt": INVALID_CAROL,
    "json/invalid_email.json": INVALID_CAROL,
    "form/soft_bounce.txt": [
        sendcloud(
            message_id=DAVE,
            recipient="dave@example.org",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 6, 1, 10, 1, 44),
            event_key=f"sendcloud:soft_bounce:{DAVE}:2024-06-01T10:01:44.000000Z",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="503",
            diagnostic="服务不可用",
            details={
                **LABEL_2,
                "subStat": "503",
                "subStatDesc": "服务不可用",
                "cause": "421 4.7.0 Try again later, closing connection.",
                "outIp": "203.0.113.17",
            },
        )
    ],
    "form/bounce.txt": [
        sendcloud(
            message_id=FRANK,
            recipient="frank@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 6, 1, 10, 0, 5, ms=321),
            event_key=f"sendcloud:bounce:{FRANK}:2024-06-01T10:00:05.321000Z",
            bounce_type=BounceType.UNDETERMINED,
            diagnostic="550 5.7.1 Message rejected by the recipient server",
            details={
                "labelId": "12345",
                "category": "acme_trigger",
                "reason": "550 5.7.1 Message rejected by the recipient server",
            },
        )
    ],
    "form/route.txt": [],
    "json/unknown-event.json": [
        sendcloud(
            message_id=ERIN,
            recipient="erin@example.org",
            type=EventType.UNMAPPED,
            occurred_at=utc(2024, 6, 1, 10, 11, 40),
            event_key=f"sendcloud:defer:{ERIN}:2024-06-01T10:11:40.000000Z",
            details={"provider_event": "defer", **LABEL_2},
        )
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert parse_fixture(name) == EXPECTED[name]


def test_every_recorded_payload_has_expectations():
    recorded = {
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name != "README.md"
    }

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_are_provider_tagged_utc_and_storable(name):
    for event in parse_fixture(name):
        assert event.provider == PROVIDER == "sendcloud"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert event.event_key.startswith("sendcloud:")
        assert not {"token", "signature", "timestamp", "event"} & set(event.details)
        json.dumps(event.details)  # history details must be storable as JSON


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("content_type", [FORM, JSON, "text/plain", ""])
def test_the_body_not_the_content_type_decides_the_encoding(name, content_type):
    # A JSON body starts with "{" and a form body cannot; SendCloud's docs disagree on
    # which it sends, and relays relabel bodies.
    assert parse_fixture(name, content_type) == EXPECTED[name]


@pytest.mark.parametrize(
    ("classic", "newer"),
    [
        ("form/deliver.txt", "json/delivered.json"),
        ("form/report_spam.txt", "json/spam-report.json"),
        ("form/invalid.txt", "json/invalid_email.json"),
    ],
)
def test_both_spellings_and_encodings_of_one_event_are_one_event_in_the_history(classic, newer):
    events = parse_fixture(classic) + parse_fixture(newer)

    assert len(history(events)) == 1


def test_a_redelivery_with_a_new_token_is_the_same_event():
    original = fixture("form/deliver.txt")
    # SendCloud signs each push with a fresh token; the event itself is unchanged.
    resent = original.replace(b"token=Mn5Qw8", b"token=Zz9Yy8").replace(b"signature=f899", b"signature=0000")

    assert parse(resent, FORM, received_at=RECEIVED) == parse(original, FORM, received_at=RECEIVED)


def test_a_re_signed_fixture_is_still_the_same_event_at_the_new_time():
    now = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    body, headers = signed_request(fixture("json/delivered.json"), EXAMPLE_SECRET, now=now)

    [event] = parse(body, headers["Content-Type"], received_at=RECEIVED)

    assert event.occurred_at == now
    assert (event.message_id, event.type) == (ALICE, EventType.DELIVERED)


def test_the_recorded_life_of_each_recipient_ends_in_the_right_status():
    events = [event for name in sorted(EXPECTED) for event in parse_fixture(name)]

    def state(email_id: str):
        return fold(e for e in events if e.message_id == email_id)

    assert state(ALICE).status is Status.COMPLAINT  # sent, delivered, opened, clicked, reported
    assert state(BOB).status is Status.DELIVERED  # the unsubscribe changes no status
    assert (state(CAROL).status, state(CAROL).bounce_type, state(CAROL).bounce_subtype) == (
        Status.BOUNCED, BounceType.PERMANENT, "406"
    )
    assert (state(DAVE).status, state(DAVE).bounce_type) == (Status.BOUNCED, BounceType.TRANSIENT)
    assert state(ERIN).status is Status.SENT  # the unknown "defer" changes nothing
    assert (state(FRANK).status, state(FRANK).bounce_type) == (Status.BOUNCED, BounceType.UNDETERMINED)


# --- the mapping table, row by row --------------------------------------------------------

EMAIL_ID = "m-10$a@example.com"
T1 = "1717236000000"

MAPPING = [
    # (SendCloud event, normalized type, status asserted, bounce type, code in the key)
    ("request", EventType.SENT, Status.SENT, None, "request"),
    ("deliver", EventType.DELIVERED, Status.DELIVERED, None, "deliver"),
    ("delivered", EventType.DELIVERED, Status.DELIVERED, None, "deliver"),
    ("open", EventType.OPENED, Status.OPENED, None, "open"),
    ("click", EventType.CLICKED, Status.OPENED, None, "click"),
    ("unsubscribe", EventType.UNSUBSCRIBED, None, None, "unsubscribe"),
    ("report_spam", EventType.COMPLAINED, Status.COMPLAINT, None, "report_spam"),
    ("spam-report", EventType.COMPLAINED, Status.COMPLAINT, None, "report_spam"),
    ("invalid", EventType.BOUNCED, Status.BOUNCED, BounceType.PERMANENT, "invalid"),
    ("invalid_email", EventType.BOUNCED, Status.BOUNCED, BounceType.PERMANENT, "invalid"),
    ("soft_bounce", EventType.BOUNCED, Status.BOUNCED, BounceType.TRANSIENT, "soft_bounce"),
    ("bounce", EventType.BOUNCED, Status.BOUNCED, BounceType.UNDETERMINED, "bounce"),
]


@pytest.mark.parametrize(("code", "event_type", "status", "bounce_type", "key_code"), MAPPING)
def test_mapping_row(code, event_type, status, bounce_type, key_code):
    [event] = parse_form(
        event=code, emailId=EMAIL_ID, recipient="A@Example.com", timestamp=T1, url="https://e.x/"
    )

    assert TYPE_MAP[code] is event_type
    assert event.type is event_type
    assert event.status is status
    assert event.bounce_type is bounce_type
    assert (event.message_id, event.recipient) == (EMAIL_ID, "a@example.com")
    assert event.occurred_at == utc(2024, 6, 1, 10, 0, 0)
    assert event.event_key.startswith(f"sendcloud:{key_code}:{EMAIL_ID}:2024-06-01T10:00:00.000000Z")


def test_mapping_covers_exactly_the_documented_codes():
    assert set(TYPE_MAP) == {row[0] for row in MAPPING}
    assert {"route"} == IGNORED_EVENTS


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_route_is_inbound_mail_and_gives_no_event(encoding):
    fields = {"event": "route", "emailId": EMAIL_ID, "from": "a@example.com", "timestamp": T1}
    body = form(**fields) if encoding == "form" else json.dumps(fields).encode()

    assert parse(body, FORM, received_at=RECEIVED) == []


def test_event_codes_are_read_regardless_of_case_and_spaces():
    [event] = parse_form(event=" Deliver ", emailId=EMAIL_ID, timestamp=T1)

    assert event.type is EventType.DELIVERED
    assert event.event_key.startswith("sendcloud:deliver:")


# --- unknown event types ------------------------------------------------------------------


def test_an_unknown_event_is_recorded_unmapped_with_its_name():
    [event] = parse_form(event="auto_reply", emailId=EMAIL_ID, recipient="a@example.com",
                         timestamp=T1, labelId="9")

    assert event.type is EventType.UNMAPPED
    assert event.status is None
    assert (event.message_id, event.recipient) == (EMAIL_ID, "a@example.com")
    assert event.details == {"provider_event": "auto_reply", "labelId": "9"}
    assert event.event_key == f"sendcloud:auto_reply:{EMAIL_ID}:2024-06-01T10:00:00.000000Z"


def test_an_unknown_event_without_ids_is_still_recorded():
    [event] = parse_form(event="mystery", recipient="not an address", timestamp=T1)

    assert (event.type, event.message_id, event.recipient) == (EventType.UNMAPPED, "", None)
    assert event.details == {"provider_event": "mystery", "recipient": "not an address"}


def test_an_unknown_request_level_event_falls_back_to_the_message_id():
    [event] = parse_form(event="queued", messageId="m-1", timestamp=T1)

    assert (event.message_id, event.recipient) == ("m-1", None)


# --- request: one event per recipient -----------------------------------------------------


def test_request_arrays_in_php_bracket_form():
    body = (
        b"event=request&messageId=m-1&timestamp=1717236000000"
        b"&emailIds[]=m-10%24a%40example.com&emailIds[]=m-11%24b%40example.com"
        b"&recipientArray[]=a%40example.com&recipientArray[]=b%40example.com"
    )

    events = parse(body, FORM, received_at=RECEIVED)

    assert [(e.message_id, e.recipient) for e in events] == [
        ("m-10$a@example.com", "a@example.com"),
        ("m-11$b@example.com", "b@example.com"),
    ]


def test_request_without_recipient_array_takes_the_address_inside_each_email_id():
    [a, b] = parse_form(event="request", timestamp=T1,
                        emailIds=json.dumps(["m-10$A@example.com", "m-11$b@example.com"]))

    assert [(a.message_id, a.recipient), (b.message_id, b.recipient)] == [
        ("m-10$A@example.com", "a@example.com"),
        ("m-11$b@example.com", "b@example.com"),
    ]


def test_request_with_arrays_of_different_lengths_trusts_the_email_ids():
    events = parse_form(event="request", timestamp=T1,
                        emailIds=json.dumps(["m-10$a@example.com", "m-11$b@example.com"]),
                        recipientArray=json.dumps(["a@example.com"]))

    assert [e.recipient for e in events] == ["a@example.com", "b@example.com"]


def test_request_without_email_ids_builds_them_by_the_documented_id_model():
    events = parse_form(event="request", timestamp=T1, messageId="m-",
                        recipientArray=json.dumps(["a@example.com", "b@example.com"]))

    assert [(e.message_id, e.recipient) for e in events] == [
        ("m-0$a@example.com", "a@example.com"),
        ("m-1$b@example.com", "b@example.com"),
    ]


def test_request_email_id_without_an_address_and_no_matching_recipient_is_refused():
    with pytest.raises(PayloadError, match=r"emailIds\[1\] 'opaque'.*1 entries for 2 emailIds"):
        parse_form(event="request", timestamp=T1,
                   emailIds=json.dumps(["m-10$a@example.com", "opaque"]),
                   recipientArray=json.dumps(["a@example.com"]))


def test_request_naming_nobody_is_refused():
    with pytest.raises(PayloadError, match="request event names no recipient"):
        parse_form(event="request", timestamp=T1, messageId="m-1")


# --- bounces ------------------------------------------------------------------------------


def test_bounce_fields_in_the_lowercase_spelling_of_the_field_tables():
    [event] = parse_form(event="invalid", emailId=EMAIL_ID, timestamp=T1,
                         substat="404", substatdesc="bad address")

    assert (event.bounce_subtype, event.diagnostic) == ("404", "bad address")
    assert event.details == {"subStat": "404", "subStatDesc": "bad address"}


def test_a_soft_bounce_without_a_description_is_diagnosed_by_its_cause():
    [event] = parse_form(event="soft_bounce", emailId=EMAIL_ID, timestamp=T1,
                         subStat="507", cause="554 rejected by policy")

    assert event.diagnostic == "554 rejected by policy"


def test_a_bounce_with_only_a_code_is_diagnosed_by_the_documented_meaning():
    [event] = parse_form(event="invalid", emailId=EMAIL_ID, timestamp=T1, subStat="406")

    assert (event.bounce_subtype, event.diagnostic) == ("406", "address does not exist")


SUB_STATS = [
    # (event, subStat, the meaning SendCloud's table gives it) [§4.2, D]
    ("invalid", "401", "address is in the SendCloud blacklist"),
    ("invalid", "402", "recipient unsubscribed"),
    ("invalid", "403", "recipient server unreachable"),
    ("invalid", "404", "bad address format"),
    ("invalid", "405", "IP or domain rejected"),
    ("invalid", "406", "address does not exist"),
    ("invalid", "407", "rejected as spam"),
    ("invalid", "408", "sender or recipient rejected"),
    ("invalid", "409", "other"),
    ("soft_bounce", "503", "service unavailable"),
    ("soft_bounce", "505", "IP or domain rejected"),
    ("soft_bounce", "506", "address does not exist"),
    ("soft_bounce", "507", "anti-spam reject"),
    ("soft_bounce", "508", "sender or recipient rejected"),
    ("soft_bounce", "509", "other"),
]


@pytest.mark.parametrize(("code", "sub_stat", "meaning"), SUB_STATS)
def test_sub_stat_row(code, sub_stat, meaning):
    [event] = parse_form(event=code, emailId=EMAIL_ID, timestamp=T1, subStat=sub_stat)

    assert (event.bounce_subtype, event.diagnostic) == (sub_stat, meaning)


def test_the_sub_stat_table_covers_exactly_the_documented_codes():
    assert set(SUB_STAT_MEANINGS) == {row[1] for row in SUB_STATS}


def test_the_classic_bounce_event_is_diagnosed_by_its_reason():
    [event] = parse_form(event="bounce", emailId=EMAIL_ID, timestamp=T1, reason="552 mailbox full")

    assert (event.type, event.bounce_type, event.diagnostic) == (
        EventType.BOUNCED, BounceType.UNDETERMINED, "552 mailbox full"
    )
    assert event.details == {"reason": "552 mailbox full"}


def test_a_bounce_without_a_code_is_still_a_bounce():
    [event] = parse_form(event="soft_bounce", emailId=EMAIL_ID, timestamp=T1)

    assert (event.type, event.bounce_type, event.bounce_subtype) == (
        EventType.BOUNCED, BounceType.TRANSIENT, None
    )


# --- keys and times -----------------------------------------------------------------------


def test_two_links_clicked_at_the_same_time_are_two_events():
    [one] = parse_form(event="click", emailId=EMAIL_ID, timestamp=T1, url="https://e.x/a")
    [two] = parse_form(event="click", emailId=EMAIL_ID, timestamp=T1, url="https://e.x/b")

    assert one.event_key != two.event_key
    assert len(history([one, two])) == 2


def test_opens_at_different_times_are_different_events():
    [one] = parse_form(event="open", emailId=EMAIL_ID, timestamp="1717236000000")
    [two] = parse_form(event="open", emailId=EMAIL_ID, timestamp="1717236000001")

    assert one.event_key != two.event_key


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1717236000", utc(2024, 6, 1, 10, 0, 0)),  # seconds
        ("1717236000123", utc(2024, 6, 1, 10, 0, 0, ms=123)),  # milliseconds
        ("1717236000.5", datetime(2024, 6, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-06-01T10:00:00Z", utc(2024, 6, 1, 10, 0, 0)),
    ],
)
def test_timestamp_units(timestamp, expected):
    [event] = parse_form(event="deliver", emailId=EMAIL_ID, timestamp=timestamp)

    assert event.occurred_at == expected


def test_the_same_instant_in_seconds_and_milliseconds_has_one_key():
    [seconds] = parse_form(event="deliver", emailId=EMAIL_ID, timestamp="1717236000")
    [millis] = parse(json.dumps({"event": "deliver", "emailId": EMAIL_ID, "timestamp": 1717236000000}).encode(),
                     JSON, received_at=RECEIVED)

    assert seconds.event_key == millis.event_key


def test_without_a_timestamp_the_event_happens_on_arrival_with_a_key_that_survives_redelivery():
    first = parse_form(received_at=utc(2024, 6, 1, 11), event="deliver", emailId=EMAIL_ID,
                       outIp="203.0.113.1", token="t1", signature="s1")
    again = parse_form(received_at=utc(2024, 6, 1, 12), event="deliver", emailId=EMAIL_ID,
                       outIp="203.0.113.1", token="t2", signature="s2")
    other = parse_form(received_at=utc(2024, 6, 1, 12), event="deliver", emailId=EMAIL_ID,
                       outIp="203.0.113.2", token="t3", signature="s3")

    assert first[0].occurred_at == utc(2024, 6, 1, 11)
    assert first[0].event_key == again[0].event_key != other[0].event_key


def test_received_at_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        parse(form(event="deliver", emailId=EMAIL_ID), FORM, received_at=datetime(2030, 1, 1))


# --- details ------------------------------------------------------------------------------


def test_user_headers_are_kept_when_small_and_dropped_when_large():
    [small] = parse_form(event="open", emailId=EMAIL_ID, timestamp=T1,
                         userHeaders=json.dumps({"SC-Custom-id": "42"}))
    [large] = parse_form(event="open", emailId=EMAIL_ID, timestamp=T1,
                         userHeaders=json.dumps({"SC-Custom-blob": "x" * 5000}))

    assert small.details["userHeaders"] == {"SC-Custom-id": "42"}
    assert "userHeaders" not in large.details


def test_the_old_mail_list_task_id_spelling_is_kept_under_one_name():
    [event] = parse_form(event="open", emailId=EMAIL_ID, timestamp=T1, mail_list_task_id="77")

    assert event.details == {"maillistTaskId": "77"}


# --- garbage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is empty"),
        (b"  \n", "body is empty"),
        (b"\xff\xfe event=deliver", "not UTF-8"),
        (b"event=deliver&emailId=%FF", "not UTF-8 once percent-decoded"),
        (b'{"event": "deliver",', "not JSON"),
        (b'[{"event": "deliver"}]', "must be an object"),
        (b"hello world", r"no event field \(fields: hello world\)"),
        (b'{"emailId": "x$a@example.com"}', r"no event field \(fields: emailId\)"),
        (b'{"event": 5}', "event must be a string, got 5"),
        (b"event=deliver&recipient=a%40example.com", "deliver event has no emailId"),
        (b"event=open&emailId=opaque-id", "open event names no recipient.*'opaque-id'"),
        (b"event=open&emailId=x&recipient=nobody", r"recipient is not an email address: 'nobody'"),
        (b"event=open&emailId=m-10%24a%40example.com&timestamp=soon", "timestamp: not a timestamp: 'soon'"),
        (b"event=open&emailId=m-10%24a%40example.com&timestamp=1e999999", "timestamp out of range"),
        (b"event=request&emailIds=%5Bnot+json", "emailIds looks like a JSON array but is not one"),
        (b'{"event": "request", "emailIds": [{"id": 1}]}', r"emailIds\[0\] is not a string"),
        (b'{"event": "request", "emailIds": ["m-10"], "recipientArray": ["no-at"]}',
         r"recipientArray\[0\] is not an email address: 'no-at'"),
    ],
)
def test_garbage_is_refused_with_a_message_naming_the_field(body, message):
    with pytest.raises(PayloadError, match=message):
        parse(body, FORM, received_at=RECEIVED)


def test_a_body_labelled_json_that_is_neither_json_nor_a_form_gets_the_json_complaint():
    with pytest.raises(PayloadError, match="must be an object"):
        parse(b'"deliver"', JSON, received_at=RECEIVED)


def test_a_byte_order_mark_before_json_is_tolerated():
    body = "\ufeff".encode() + fixture("json/delivered.json")

    assert parse(body, JSON, received_at=RECEIVED) == DELIVER_ALICE
