"""tracker.providers.infobip.parse: recorded Infobip payloads -> normalized events."""
import copy
import hashlib
import json
from datetime import datetime, UTC
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold, history
from tracker.providers.common.errors import PayloadError
from tracker.providers.infobip.parse import PROVIDER, STATUS_GROUPS, TYPE_MAP, parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "infobip"
RECEIVED = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def document(name: str) -> dict:
    return json.loads(fixture(name))


def events_of(payload: bytes | str | dict, content_type: str = "application/json",
              received_at: datetime = RECEIVED) -> list[NormalizedEvent]:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return parse(payload, content_type, received_at=received_at)


def utc(*parts: int, ms: int = 0) -> datetime:
    return datetime(*parts, ms * 1000, tzinfo=UTC)


def _payload_digest(name: str) -> str:
    """The first 16 hex digits of sha256 over the payload as canonical JSON (sorted keys, no spaces,
    ASCII escapes): the key of a tracking event that carries no eventId."""
    canonical = json.dumps(document(name), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def infobip(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="infobip", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

JANE_MESSAGE = "8b3f61c2-7d4e-4a1b-9c0f-2e5d6a7b8c91"
JANE_IDS = {
    "bulkId": "cb1x9wq3h0ze7pt2mfa6",
    "callbackData": "order-4711",
    "campaignReferenceId": "spring-sale",
    "applicationId": "checkout",
    "entityId": "shop-eu",
}
JANE_TRACKING = {**JANE_IDS, "domain": "mail.example.com", "sentAt": "2024-01-01T12:00:00.123Z"}
EUR_0 = {"pricePerMessage": 0, "currency": "EUR"}
EUR_12 = {"pricePerMessage": 0.0012, "currency": "EUR"}
UNDELIVERABLE_9 = {
    "groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED",
}
HARD_BOUNCE = infobip(
    message_id="f04a9d3e-5c21-4b7a-8e6f-1a2b3c4d5e6f",
    recipient="no-such-user@example.net",
    type=EventType.BOUNCED,
    occurred_at=utc(2024, 1, 2, 8, 15, 33, ms=250),
    event_key="infobip:dlr:f04a9d3e-5c21-4b7a-8e6f-1a2b3c4d5e6f:9",
    sent_at=utc(2024, 1, 2, 8, 15, 30),  # the report's sentAt
    bounce_type=BounceType.PERMANENT,
    bounce_subtype="EC_HARD_BOUNCE",
    diagnostic="550 5.1.1 The email account that you tried to reach does not exist",
    details={
        "bulkId": "q7n2d5vk0s8hx1jw4rce",
        "callbackData": "welcome-mail",
        "price": EUR_12,
        "status": UNDELIVERABLE_9,
        "error": {
            "groupId": 2, "groupName": "USER_ERRORS", "id": 6012, "name": "EC_HARD_BOUNCE",
            "permanent": True,
        },
    },
)
BATCH_IDS = {"bulkId": "k5p0x8c3v6n1b4m9q2wd", "callbackData": "Grüße aus Köln"}
BATCH = [
    infobip(
        message_id="0e1d2c3b-4a59-4687-b7a6-958473625140",
        recipient="ana@example.com",
        type=EventType.DELIVERED,
        occurred_at=utc(2024, 1, 6, 9, 30, 1, ms=750),
        event_key="infobip:dlr:0e1d2c3b-4a59-4687-b7a6-958473625140:2",
        sent_at=utc(2024, 1, 6, 9, 30),  # the report's sentAt
        details={
            **BATCH_IDS,
            "price": EUR_12,
            "status": {"groupId": 3, "groupName": "DELIVERED", "id": 2, "name": "DELIVERED_TO_OPERATOR"},
        },
    ),
    infobip(
        message_id="1f2e3d4c-5b6a-4798-a8b7-a69584736251",
        recipient="bob@example.com",
        type=EventType.REJECTED,
        occurred_at=utc(2024, 1, 6, 9, 30, 0, ms=50),
        event_key="infobip:dlr:1f2e3d4c-5b6a-4798-a8b7-a69584736251:12",
        sent_at=utc(2024, 1, 6, 9, 30),  # the report's sentAt
        bounce_subtype="REJECTED_NOT_ENOUGH_CREDITS",  # the NO_ERROR error names nothing: the status does
        diagnostic="Not enough credits",
        details={
            **BATCH_IDS,
            "price": EUR_0,
            "status": {
                "groupId": 5, "groupName": "REJECTED", "id": 12, "name": "REJECTED_NOT_ENOUGH_CREDITS",
            },
        },
    ),
    infobip(
        message_id="2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b",
        recipient="carol@example.net",
        type=EventType.BOUNCED,
        occurred_at=utc(2024, 1, 8, 9, 30),
        event_key="infobip:dlr:2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b:29",
        sent_at=utc(2024, 1, 6, 9, 30),  # the report's sentAt
        bounce_type=BounceType.TRANSIENT,
        bounce_subtype="EXPIRED_DLR_UNKNOWN",
        diagnostic="Message expired, delivery status unknown",
        details={
            **BATCH_IDS,
            "price": EUR_12,
            "status": {"groupId": 4, "groupName": "EXPIRED", "id": 29, "name": "EXPIRED_DLR_UNKNOWN"},
        },
    ),
]

EXPECTED: dict[str, list[NormalizedEvent]] = {
    "dlr/delivered.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2024, 1, 1, 12, 0, 4, ms=567),
            event_key=f"infobip:dlr:{JANE_MESSAGE}:5",
            sent_at=utc(2024, 1, 1, 12, 0, 0, ms=123),  # the report's sentAt
            details={
                **JANE_IDS,
                "price": EUR_0,
                "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
            },
        )
    ],
    "dlr/pending.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.SENT,
            occurred_at=utc(2024, 1, 1, 12, 0, 0, ms=123),  # no doneAt yet: sentAt
            event_key=f"infobip:dlr:{JANE_MESSAGE}:7",
            sent_at=utc(2024, 1, 1, 12, 0, 0, ms=123),  # the report's sentAt
            details={
                "bulkId": "cb1x9wq3h0ze7pt2mfa6",
                "callbackData": "order-4711",
                "price": EUR_0,
                "status": {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE"},
            },
        )
    ],
    "dlr/undeliverable-permanent.json": [HARD_BOUNCE],
    "dlr/undeliverable-permanent.xml": [HARD_BOUNCE],
    "dlr/undeliverable-transient.json": [
        infobip(
            message_id="2c7e5b18-9a0d-4f3c-b6e1-7d8c9b0a1f2e",
            recipient="full.mailbox@example.org",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 1, 3, 8, 20),
            event_key="infobip:dlr:2c7e5b18-9a0d-4f3c-b6e1-7d8c9b0a1f2e:9",
            sent_at=utc(2024, 1, 2, 8, 15, 30),  # the report's sentAt
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="EC_MAILBOX_TEMPORARY_UNAVAILABLE",
            diagnostic="452 4.2.2 Mailbox full",
            details={
                "bulkId": "q7n2d5vk0s8hx1jw4rce",
                "callbackData": "welcome-mail",
                "price": EUR_12,
                "status": UNDELIVERABLE_9,
                "error": {
                    "groupId": 2,
                    "groupName": "USER_ERRORS",
                    "id": 6007,
                    "name": "EC_MAILBOX_TEMPORARY_UNAVAILABLE",
                    "permanent": False,
                },
            },
        )
    ],
    "dlr/expired.json": [
        infobip(
            message_id="6d1f0e2a-3b4c-4d5e-8f9a-0b1c2d3e4f5a",
            recipient="slow.server@example.org",
            type=EventType.BOUNCED,
            occurred_at=utc(2024, 1, 4, 8, 15, 30),
            event_key="infobip:dlr:6d1f0e2a-3b4c-4d5e-8f9a-0b1c2d3e4f5a:15",
            sent_at=utc(2024, 1, 2, 8, 15, 30),  # the report's sentAt
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="EC_TEMPORARY_SENDING_ERROR",
            diagnostic="421 4.4.1 Connection timed out",
            details={
                "bulkId": "q7n2d5vk0s8hx1jw4rce",
                "price": EUR_12,
                "status": {"groupId": 4, "groupName": "EXPIRED", "id": 15, "name": "EXPIRED_EXPIRED"},
                "error": {
                    "groupId": 3,
                    "groupName": "OPERATOR_ERRORS",
                    "id": 6013,
                    "name": "EC_TEMPORARY_SENDING_ERROR",
                    "permanent": False,
                },
            },
        )
    ],
    "dlr/rejected.json": [
        infobip(
            message_id="a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d",
            recipient="blocked@example.com",
            type=EventType.REJECTED,
            occurred_at=utc(2024, 1, 5, 10, 0, 0, ms=412),
            event_key="infobip:dlr:a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d:52",
            sent_at=utc(2024, 1, 5, 10, 0),  # the report's sentAt
            bounce_subtype="EC_EMAIL_BLACKLISTED",
            diagnostic="Recipient address is blacklisted",
            details={
                "bulkId": "z3m8r1t6y0b5u9k2w7pa",
                "callbackData": "newsletter-2024-01",
                "campaignReferenceId": "newsletter",
                "price": EUR_0,
                "status": {"groupId": 5, "groupName": "REJECTED", "id": 52, "name": "REJECTED_DESTINATION"},
                "error": {
                    "groupId": 1,
                    "groupName": "HANDSET_ERRORS",
                    "id": 6001,
                    "name": "EC_EMAIL_BLACKLISTED",
                    "permanent": True,
                },
            },
        )
    ],
    # UNDELIVERABLE whose error is of family 1 (Dropped: Infobip never handed the message to
    # the recipient's server): for the sender's address, no bounce but an error that neither
    # suppresses the address nor counts as a bounce; for the recipient's address (6034, suppressed
    # for an earlier bounce), still a bounce. Recorded pushes, -0300 offsets.
    "dlr/undeliverable-dropped.json": [
        infobip(
            message_id="vzl7uvqhq7lt1fa66718",
            recipient="joao@example.com",
            type=EventType.REJECTED,
            occurred_at=utc(2024, 7, 16, 20, 15, 21, ms=288),
            event_key="infobip:dlr:vzl7uvqhq7lt1fa66718:4",
            sent_at=utc(2024, 7, 16, 20, 15, 21, ms=286),
            bounce_subtype="EC_SENDER_ADDRESS_INVALID",
            diagnostic="Sending address invalid, possible syntax error",
            details={
                "bulkId": "u38ifa6y5hsjyacodpyn",
                "callbackData": '{"contact_id": 3}',
                "price": {"pricePerMessage": 0.0, "currency": "BRL"},
                "status": {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 4,
                           "name": "UNDELIVERABLE_REJECTED_OPERATOR"},
                "error": {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 6012,
                          "name": "EC_SENDER_ADDRESS_INVALID", "permanent": True},
            },
        ),
        infobip(
            message_id="1955tld5lqf3mn9ou3tz",
            recipient="paulo@example.net",
            type=EventType.BOUNCED,
            bounce_type=BounceType.PERMANENT,
            occurred_at=utc(2024, 9, 3, 18, 10, 44, ms=395),
            event_key="infobip:dlr:1955tld5lqf3mn9ou3tz:4",
            sent_at=utc(2024, 9, 3, 18, 10, 44, ms=294),
            bounce_subtype="EC_SUPPRESSED_BOUNCE",
            diagnostic="Recipient address suppressed due to bounce",
            details={
                "bulkId": "svulxb6rjqajapkmvyvy",
                "callbackData": '{"contact_id": "310372388"}',
                "price": {"pricePerMessage": 0.0025, "currency": "BRL"},
                "status": {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 4,
                           "name": "UNDELIVERABLE_REJECTED_OPERATOR"},
                "error": {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 6034,
                          "name": "EC_SUPPRESSED_BOUNCE", "permanent": True},
            },
        ),
    ],
    "dlr/batch.json": BATCH,
    "dlr/batch.xml": BATCH,
    # Tracking payloads carry no event time (sendDateTime is when the email was sent), so
    # the event happened when it arrived.
    "tracking/opened.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.OPENED,
            occurred_at=RECEIVED,
            event_key="infobip:OPENED:3f2c9a7e-1b4d-4e8f-a6c5-0d9e8f7a6b5c",
            details={
                **JANE_TRACKING,
                "recipientInfo": {"deviceType": "Phone", "os": "iOS 17", "deviceName": "iPhone"},
                "geoLocation": {"countryName": "Poland", "city": "Kraków"},
            },
        )
    ],
    "tracking/opened-numeric-ids.json": [
        infobip(
            message_id="31415926535897932",
            recipient="mike@example.org",
            type=EventType.OPENED,
            occurred_at=RECEIVED,
            event_key="infobip:OPENED:9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            details={
                "bulkId": "cb1x9wq3h0ze7pt2mfa6",
                "domain": "mail.example.com",
                "sentAt": "2024-01-01T12:00:00.123Z",
                "recipientInfo": {"deviceType": "Desktop", "os": "Windows 11"},
            },
        )
    ],
    "tracking/clicked.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.CLICKED,
            occurred_at=RECEIVED,
            event_key="infobip:CLICKED:7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
            details={
                **JANE_TRACKING,
                "url": "https://shop.example.com/spring?utm_source=email",
                "recipientInfo": {"deviceType": "Desktop", "os": "macOS"},
                "geoLocation": {"countryName": "Croatia", "city": "Zagreb"},
            },
        )
    ],
    # Recorded pushes name the place geoLocationInfo (the SDK model: geoLocation); no eventId,
    # so the key is the digest of the payload (tracker.providers.common.values.digest).
    "tracking/clicked-geolocationinfo.json": [
        infobip(
            message_id="yfkgy9xol5kpl33u384n",
            recipient="joao@example.com",
            type=EventType.CLICKED,
            occurred_at=RECEIVED,
            event_key="infobip:CLICKED:" + _payload_digest("tracking/clicked-geolocationinfo.json"),
            details={
                "bulkId": "7dy3rajfsn3en76hsztl",
                "callbackData": '{"contact_id": 3}',
                "domain": "mail.example.com",
                "sentAt": "2024-07-16T20:27:20.510Z",
                "url": "www.example.com?utm_medium=email",
                "recipientInfo": {"deviceType": "Desktop", "os": "Unknown", "deviceName": "PC"},
                "geoLocation": {"countryName": "Brazil", "city": "Sao Paulo"},
            },
        )
    ],
    "tracking/complained.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.COMPLAINED,
            occurred_at=RECEIVED,
            event_key="infobip:COMPLAINED:c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
            details={**JANE_TRACKING, "sender": "news@mail.example.com"},
        )
    ],
    "tracking/late-bounce.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.BOUNCED,
            occurred_at=RECEIVED,
            event_key="infobip:LATE_BOUNCE:e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9",
            bounce_type=BounceType.PERMANENT,
            details={**JANE_TRACKING, "sender": "news@mail.example.com"},
        )
    ],
    "tracking/unsubscribed.json": [
        infobip(
            message_id=JANE_MESSAGE,
            recipient="jane.doe@example.com",
            type=EventType.UNSUBSCRIBED,
            occurred_at=RECEIVED,
            event_key="infobip:UNSUBSCRIBED:0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e",
            details={
                **JANE_TRACKING,
                "recipientInfo": {"deviceType": "Phone", "os": "Android 14", "deviceName": "Pixel 8"},
                "geoLocation": {"countryName": "Croatia", "city": "Split"},
            },
        )
    ],
}


# The same report as delivered.json in the layout and element names of the pull API's
# documented XML answer (<ReportsResponse>, messageCount, channel).
EXPECTED["dlr/delivered.xml"] = EXPECTED["dlr/delivered.json"]


def content_type_of(name: str) -> str:
    return "application/xml" if name.endswith(".xml") else "application/json"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert events_of(fixture(name), content_type_of(name)) == EXPECTED[name]


def test_every_recorded_payload_has_expectations():
    recorded = {
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name != "README.md"
    }

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_carry_the_provider_aware_utc_times_and_storable_details(name):
    for event in events_of(fixture(name), content_type_of(name)):
        assert event.provider == PROVIDER == "infobip"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert event.event_key.startswith("infobip:")
        json.dumps(event.details)  # history details must be storable as JSON


# --- the mapping tables, row by row -------------------------------------------------------


def report(group_id, status_id, *, error=None, **fields) -> dict:
    """The smallest well-formed delivery report (not a recording: a unit-rule probe)."""
    entry = {
        "messageId": "msg-1",
        "to": "a@example.com",
        "doneAt": "2024-05-01T10:00:05.000+0000",
        "status": {"groupId": group_id, "groupName": STATUS_GROUPS.get(group_id, "NEW"),
                   "id": status_id, "name": f"STATUS_{status_id}",
                   "description": f"status {status_id} text"},
        **fields,
    }
    if error is not None:
        entry["error"] = error
    return {"results": [entry]}


def error(permanent, *, group_id=2, error_id=6004, name="EC_BOUNCED_EMAIL_ADDRESS") -> dict:
    return {"groupId": group_id, "groupName": "USER_ERRORS", "id": error_id, "name": name,
            "description": f"{name} text", "permanent": permanent}


NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
            "description": "No Error", "permanent": False}


def tracking(notification_type: str, **fields) -> dict:
    return {
        "notificationType": notification_type,
        "eventId": "evt-1",
        "recipient": "a@example.com",
        "messageId": "msg-1",
        "sendDateTime": 1714557600000,
        **fields,
    }


REPORT_MAPPING = [
    # (status.groupId, a status id of the group, error, type, status, bounce type)
    (1, 7, NO_ERROR, EventType.SENT, Status.SENT, None),
    (2, 9, error(True), EventType.BOUNCED, Status.BOUNCED, BounceType.PERMANENT),
    (2, 4, error(False), EventType.BOUNCED, Status.BOUNCED, BounceType.TRANSIENT),
    (3, 5, NO_ERROR, EventType.DELIVERED, Status.DELIVERED, None),
    (3, 2, NO_ERROR, EventType.DELIVERED, Status.DELIVERED, None),  # DELIVERED_TO_OPERATOR
    (4, 15, NO_ERROR, EventType.BOUNCED, Status.BOUNCED, BounceType.TRANSIENT),
    (5, 12, NO_ERROR, EventType.REJECTED, Status.ERROR, None),
]


@pytest.mark.parametrize(("group_id", "status_id", "err", "event_type", "status", "bounce_type"),
                         REPORT_MAPPING)
def test_report_mapping_row(group_id, status_id, err, event_type, status, bounce_type):
    [event] = events_of(report(group_id, status_id, error=err))

    assert TYPE_MAP[STATUS_GROUPS[group_id]] is event_type
    assert event.type is event_type
    assert event.status is status
    assert event.bounce_type is bounce_type
    assert (event.message_id, event.recipient) == ("msg-1", "a@example.com")
    assert event.event_key == f"infobip:dlr:msg-1:{status_id}"
    assert event.occurred_at == utc(2024, 5, 1, 10, 0, 5)


TRACKING_MAPPING = [
    ("OPENED", EventType.OPENED, Status.OPENED, None),
    ("CLICKED", EventType.CLICKED, Status.OPENED, None),
    ("COMPLAINED", EventType.COMPLAINED, Status.COMPLAINT, None),
    ("LATE_BOUNCE", EventType.BOUNCED, Status.BOUNCED, BounceType.PERMANENT),
    ("UNSUBSCRIBED", EventType.UNSUBSCRIBED, None, None),
]


@pytest.mark.parametrize(("notification_type", "event_type", "status", "bounce_type"),
                         TRACKING_MAPPING)
def test_tracking_mapping_row(notification_type, event_type, status, bounce_type):
    [event] = events_of(tracking(notification_type))

    assert TYPE_MAP[notification_type] is event_type
    assert event.type is event_type
    assert event.status is status
    assert event.bounce_type is bounce_type
    assert (event.message_id, event.recipient) == ("msg-1", "a@example.com")
    assert event.event_key == f"infobip:{notification_type}:evt-1"


DOCUMENTED_STATUS_IDS = [
    # (status.groupId, status.id) for every status id provider-formats §3.1 lists
    *((1, status_id) for status_id in (3, 7, 26)),
    *((2, status_id) for status_id in (4, 9)),
    *((3, status_id) for status_id in (2, 5)),
    *((4, status_id) for status_id in (15, 29)),
    *((5, status_id) for status_id in (6, 8, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 23, 24, 25,
                                       51, 52)),
]
GROUP_STATUS = {1: Status.SENT, 2: Status.BOUNCED, 3: Status.DELIVERED, 4: Status.BOUNCED,
                5: Status.ERROR}


@pytest.mark.parametrize(("group_id", "status_id"), DOCUMENTED_STATUS_IDS)
def test_every_documented_status_id_takes_its_groups_status(group_id, status_id):
    [event] = events_of(report(group_id, status_id, error=NO_ERROR))

    assert event.status is GROUP_STATUS[group_id]
    assert event.event_key == f"infobip:dlr:msg-1:{status_id}"


def test_the_tables_cover_exactly_the_documented_codes():
    assert dict(STATUS_GROUPS) == {
        1: "PENDING", 2: "UNDELIVERABLE", 3: "DELIVERED", 4: "EXPIRED", 5: "REJECTED",
    }
    assert set(TYPE_MAP) == set(STATUS_GROUPS.values()) | {row[0] for row in TRACKING_MAPPING}


def test_the_group_id_decides_not_the_group_name():
    payload = report(3, 5, error=NO_ERROR)
    payload["results"][0]["status"]["groupName"] = "REJECTED"

    assert [e.type for e in events_of(payload)] == [EventType.DELIVERED]


@pytest.mark.parametrize("notification_type", ["opened", " Clicked "])
def test_notification_types_are_read_whatever_their_case(notification_type):
    [event] = events_of(tracking(notification_type))

    assert event.type is TYPE_MAP[notification_type.strip().upper()]
    assert event.event_key == f"infobip:{notification_type.strip().upper()}:evt-1"


# --- bounces, rejections: type, subtype, diagnostic ---------------------------------------


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (error(True), BounceType.PERMANENT),
        (error(False), BounceType.TRANSIENT),
        (error("true"), BounceType.PERMANENT),  # XML-style text
        (error("FALSE"), BounceType.TRANSIENT),
        (error(None), BounceType.UNDETERMINED),
        (error("maybe"), BounceType.UNDETERMINED),
        (NO_ERROR, BounceType.UNDETERMINED),
        (None, BounceType.UNDETERMINED),
    ],
)
def test_undeliverable_bounce_type_follows_error_permanent(err, expected):
    [event] = events_of(report(2, 9, error=err))

    assert event.bounce_type is expected


@pytest.mark.parametrize(("family", "code", "name", "event_type", "bounce_type"), [
    # Dropped (Infobip never handed it to the recipient's server) for the recipient's address
    # itself: blacklisted, unsubscribed, bounced before, suppressed for a bounce or a complaint.
    (1, 6001, "EC_EMAIL_BLACKLISTED", EventType.BOUNCED, BounceType.PERMANENT),
    (1, 6003, "EC_EMAIL_UNSUBSCRIBED_EMAIL_ADDRESS", EventType.BOUNCED, BounceType.PERMANENT),
    (1, 6004, "EC_BOUNCED_EMAIL_ADDRESS", EventType.BOUNCED, BounceType.PERMANENT),
    (1, 6034, "EC_SUPPRESSED_BOUNCE", EventType.BOUNCED, BounceType.PERMANENT),
    (1, 6035, "EC_SUPPRESSED_SPAM_COMPLAINT", EventType.BOUNCED, BounceType.PERMANENT),
    # Dropped for anything else: the sender's address or domain, the IP, the content, a generic drop.
    (1, 6012, "EC_SENDER_ADDRESS_INVALID", EventType.REJECTED, None),
    (1, 6016, "EC_EMAIL_SENDER_DOMAIN_BLOCKED", EventType.REJECTED, None),
    (1, 6002, "EC_EMAILS_SPAM_CONTENT", EventType.REJECTED, None),
    (1, 6005, "EC_EMAIL_DROPPED", EventType.REJECTED, None),
    (2, 6004, "EC_BOUNCED_EMAIL_ADDRESS", EventType.BOUNCED, BounceType.PERMANENT),  # a bounce came back
    (3, 6014, "EC_PERMANENT_SENDING_ERROR", EventType.REJECTED, None),  # System error: Infobip's own failure
])
def test_undeliverable_is_a_bounce_only_when_its_error_is_against_the_recipients_address(family, code, name,
                                                                                         event_type, bounce_type):
    [event] = events_of(report(2, 9, error=error(True, group_id=family, error_id=code, name=name)))

    assert (event.type, event.bounce_type) == (event_type, bounce_type)
    assert event.bounce_subtype == name


def test_undeliverable_names_the_error():
    [event] = events_of(report(2, 9, error=error(True, name="EC_INVALID_EMAIL_ADDRESS")))

    assert event.bounce_subtype == "EC_INVALID_EMAIL_ADDRESS"
    assert event.diagnostic == "EC_INVALID_EMAIL_ADDRESS text"


def test_a_failure_without_an_error_is_explained_by_its_status():
    [event] = events_of(report(2, 9, error=NO_ERROR))

    assert event.bounce_subtype == "STATUS_9"
    assert event.diagnostic == "status 9 text"
    assert "error" not in event.details


def test_expired_is_a_transient_bounce_even_with_a_permanent_error():
    [event] = events_of(report(4, 15, error=error(True, group_id=3, error_id=6014,
                                                  name="EC_PERMANENT_SENDING_ERROR")))

    assert event.type is EventType.BOUNCED
    assert event.bounce_type is BounceType.TRANSIENT
    assert event.bounce_subtype == "EC_PERMANENT_SENDING_ERROR"


@pytest.mark.parametrize(
    ("err", "subtype", "diagnostic"),
    [(error(True, group_id=1, error_id=6001, name="EC_EMAIL_BLACKLISTED"), "EC_EMAIL_BLACKLISTED",
      "EC_EMAIL_BLACKLISTED text"),
     (NO_ERROR, "STATUS_12", "status 12 text")],
)
def test_rejected_is_an_error_naming_infobips_error(err, subtype, diagnostic):
    # The subtype carries Infobip's error name to the read APIs, which derive their codes from it
    # (Infobip's error id and permanent flag, SendCloud's subStatus 401 for a blacklisted address).
    [event] = events_of(report(5, 12, error=err))

    assert event.status is Status.ERROR
    assert (event.bounce_type, event.bounce_subtype) == (None, subtype)
    assert event.diagnostic == diagnostic


def test_a_failure_name_longer_than_a_subtype_holds_is_cut_not_refused():
    # bounce_subtype is 64 characters wide: a longer name would make the whole POST's row unstorable.
    long_name = "EC_" + "X" * 70
    for payload in (report(5, 12, error=error(True, name=long_name)), report(2, 9, error=error(True, name=long_name)),
                    tracking("LATE_BOUNCE", error=error(True, name=long_name))):
        [event] = events_of(payload)
        assert event.bounce_subtype == long_name[:64]


def test_delivered_and_pending_reports_carry_no_diagnostic():
    for group_id, status_id in ((1, 7), (3, 5)):
        [event] = events_of(report(group_id, status_id, error=NO_ERROR))
        assert (event.diagnostic, event.bounce_type, event.bounce_subtype) == (None, None, None)


def test_a_late_bounce_is_transient_only_when_the_payload_says_so():
    payload = tracking("LATE_BOUNCE", error=error(False, error_id=6007,
                                                   name="EC_MAILBOX_TEMPORARY_UNAVAILABLE"))

    [event] = events_of(payload)

    assert event.bounce_type is BounceType.TRANSIENT
    assert event.bounce_subtype == "EC_MAILBOX_TEMPORARY_UNAVAILABLE"
    assert event.diagnostic == "EC_MAILBOX_TEMPORARY_UNAVAILABLE text"


# --- the state machine over Infobip histories ---------------------------------------------


def test_a_late_bounce_overrides_the_delivery_in_either_order():
    [delivered] = events_of(fixture("dlr/delivered.json"))
    [late_bounce] = events_of(fixture("tracking/late-bounce.json"))

    for history_ in ([delivered, late_bounce], [late_bounce, delivered]):
        state = fold(history_)
        assert state.status is Status.BOUNCED
        assert state.bounce_type is BounceType.PERMANENT


def test_a_pending_report_arriving_after_the_delivery_does_not_downgrade_it():
    [pending] = events_of(fixture("dlr/pending.json"))
    [delivered] = events_of(fixture("dlr/delivered.json"))

    assert fold([delivered, pending]).status is Status.DELIVERED


def test_a_repeated_final_report_is_the_same_event():
    first = events_of(fixture("dlr/delivered.json"))
    again = document("dlr/delivered.json")
    again["results"][0]["doneAt"] = "2024-01-01T12:05:00.000+0000"  # Infobip resent it later
    again["results"][0]["attemptCount"] = 2

    [a], [b] = first, events_of(again)

    assert a.event_key == b.event_key
    assert len(history([a, b, a])) == 1


def test_two_statuses_of_one_message_are_two_events():
    operator = events_of(report(3, 2, error=NO_ERROR))
    handset = events_of(report(3, 5, error=NO_ERROR))

    assert len(history(operator + handset)) == 2


def test_a_redelivered_tracking_event_keeps_its_key():
    payload = document("tracking/opened.json")
    [first] = events_of(payload, received_at=RECEIVED)
    [again] = events_of(payload, received_at=utc(2030, 1, 1, 9, 0))

    assert first.event_key == again.event_key


def test_a_tracking_event_without_event_id_gets_a_key_stable_across_redeliveries():
    payload = tracking("OPENED")
    del payload["eventId"]
    other = tracking("OPENED", sendDateTime=1714557600001)
    del other["eventId"]

    [a], [b], [c] = events_of(payload), events_of(copy.deepcopy(payload)), events_of(other)

    assert a.event_key == b.event_key
    assert a.event_key.startswith("infobip:OPENED:")
    assert a.event_key != c.event_key


# --- times, ids, recipients ---------------------------------------------------------------


def test_report_time_is_done_at_else_sent_at_else_arrival():
    payload = report(3, 5, sentAt="2024-05-01T10:00:00.000+0000")
    [done] = events_of(payload)
    del payload["results"][0]["doneAt"]
    [sent] = events_of(payload)
    del payload["results"][0]["sentAt"]
    [arrived] = events_of(payload)

    assert (done.occurred_at, sent.occurred_at, arrived.occurred_at) == (
        utc(2024, 5, 1, 10, 0, 5), utc(2024, 5, 1, 10, 0), RECEIVED,
    )


def test_a_non_utc_offset_is_converted_to_utc():
    [event] = events_of(report(3, 5, doneAt="2024-05-01T12:00:05.000+0200"))

    assert event.occurred_at == utc(2024, 5, 1, 10, 0, 5)


def test_tracking_keeps_the_send_time_and_happens_on_arrival():
    [event] = events_of(tracking("CLICKED", url="https://example.com/x"))

    assert event.occurred_at == RECEIVED
    assert event.details["sentAt"] == "2024-05-01T10:00:00.000Z"
    assert event.details["url"] == "https://example.com/x"


def test_an_unreadable_send_time_is_kept_as_sent_and_does_not_fail_the_event():
    [event] = events_of(tracking("OPENED", sendDateTime="yesterday"))

    assert event.details["sendDateTime"] == "yesterday"
    assert "sentAt" not in event.details


def test_a_numeric_message_id_is_the_same_id_as_its_text():
    [number] = events_of(tracking("OPENED", messageId=1234567890123))
    [text] = events_of(tracking("OPENED", messageId="1234567890123"))

    assert number.message_id == text.message_id == "1234567890123"


def test_a_numeric_message_id_in_a_delivery_report_is_the_same_id_as_its_text():
    [number] = events_of(report(3, 5, messageId=1234567890123))
    [text] = events_of(report(3, 5, messageId="1234567890123"))

    assert number.message_id == text.message_id == "1234567890123"
    assert number.event_key == text.event_key


def test_an_event_naming_no_recipient_is_message_level():
    payload = tracking("OPENED")
    del payload["recipient"]
    dlr = report(3, 5)
    del dlr["results"][0]["to"]

    assert [e.recipient for e in events_of(payload) + events_of(dlr)] == [None, None]


def test_an_empty_batch_has_no_events():
    assert events_of({"results": []}) == []


def test_received_at_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse(fixture("dlr/delivered.json"), "application/json", received_at=datetime(2030, 1, 1))


# --- unknown types are kept, never dropped ------------------------------------------------


def test_an_unknown_status_group_is_an_unmapped_event():
    [event] = events_of(report(0, 1, error=NO_ERROR, bulkId="b-1"))

    assert event.type is EventType.UNMAPPED
    assert event.status is None
    assert (event.message_id, event.recipient) == ("msg-1", "a@example.com")
    assert event.event_key == "infobip:dlr:msg-1:1"
    assert event.details["provider_event"] == "NEW"
    assert event.details["status"] == {"groupId": 0, "groupName": "NEW", "id": 1, "name": "STATUS_1"}
    assert event.details["bulkId"] == "b-1"


def test_a_report_with_only_a_group_name_is_kept_as_unmapped():
    payload = report(3, 5)
    del payload["results"][0]["status"]["groupId"]

    [event] = events_of(payload)

    assert event.type is EventType.UNMAPPED
    assert event.details["provider_event"] == "DELIVERED"


def test_an_unknown_notification_type_is_an_unmapped_event():
    [event] = events_of(tracking("FORWARDED", bulkId="b-1"))

    assert event.type is EventType.UNMAPPED
    assert event.status is None
    assert (event.message_id, event.recipient) == ("msg-1", "a@example.com")
    assert event.event_key == "infobip:FORWARDED:evt-1"
    assert event.details["provider_event"] == "FORWARDED"
    assert event.details["bulkId"] == "b-1"


def test_an_unknown_type_without_message_id_is_still_kept():
    payload = tracking("FORWARDED")
    del payload["messageId"]
    dlr = report(9, 99)
    del dlr["results"][0]["messageId"]

    events = events_of(payload) + events_of(dlr)

    assert [(e.type, e.message_id) for e in events] == [(EventType.UNMAPPED, "")] * 2


def test_an_unknown_report_does_not_hide_the_known_ones_beside_it():
    payload = document("dlr/batch.json")
    payload["results"].insert(1, report(0, 1)["results"][0])

    events = events_of(payload)

    assert [e.type for e in events] == [
        EventType.DELIVERED, EventType.UNMAPPED, EventType.REJECTED, EventType.BOUNCED,
    ]


# --- encodings: the body decides, not the Content-Type ------------------------------------


@pytest.mark.parametrize("name", ["dlr/batch.json", "dlr/undeliverable-permanent.json",
                                  "dlr/delivered.json"])
def test_xml_and_json_of_the_same_reports_give_the_same_events(name):
    xml_name = name.replace(".json", ".xml")

    assert events_of(fixture(xml_name), "application/xml") == events_of(fixture(name))


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("dlr/batch.json", "application/xml"), ("dlr/batch.xml", "application/json"),
     ("dlr/batch.xml", "text/plain"), ("tracking/opened.json", "")],
)
def test_the_content_type_is_not_trusted(name, content_type):
    assert events_of(fixture(name), content_type) == EXPECTED[name]


XML_REPORT = (
    "<result><messageId>m-1</messageId><to>a@example.com</to>"
    "<doneAt>2024-05-01T10:00:05.000+0000</doneAt>"
    "<status><groupId>3</groupId><groupName>DELIVERED</groupName><id>5</id>"
    "<name>DELIVERED_TO_HANDSET</name></status></result>"
)


@pytest.mark.parametrize(
    "xml",
    [
        f"<results>{XML_REPORT}</results>",
        f"<reportResponse><results>{XML_REPORT}</results></reportResponse>",
        f"<ReportsResponse><results>{XML_REPORT}</results></ReportsResponse>",  # the pull API's
        f"<reportResponse>{XML_REPORT}</reportResponse>",
        f"<results>{XML_REPORT.replace('result>', 'message>')}</results>",
        # Jackson's default XML for a list property repeats its name for every item.
        f"<reportResponse><results>{XML_REPORT.replace('result>', 'results>')}</results></reportResponse>",
        f"<results>{XML_REPORT.replace('result>', 'report>')}</results>",
        f'<r:results xmlns:r="urn:example">{XML_REPORT}</r:results>',
        f"\ufeff  \n<?xml version='1.0' encoding='UTF-8'?>\n<results>{XML_REPORT}</results>",
    ],
    ids=["results-root", "reportResponse", "ReportsResponse", "no-results-level", "message-items",
         "results-items", "report-items", "namespaced", "bom-and-whitespace"],
)
def test_xml_layouts_accepted(xml):
    [event] = events_of(xml, "application/xml")

    assert (event.type, event.message_id, event.recipient, event.event_key) == (
        EventType.DELIVERED, "m-1", "a@example.com", "infobip:dlr:m-1:5",
    )


def test_an_empty_xml_batch_has_no_events():
    assert events_of("<reportResponse><results/></reportResponse>", "application/xml") == []


def test_xml_in_a_declared_single_byte_encoding_is_decoded():
    xml = ("<?xml version='1.0' encoding='ISO-8859-1'?><results><result><messageId>m-1</messageId>"
           "<to>a@example.com</to><callbackData>Köln</callbackData>"
           "<status><groupId>3</groupId><id>5</id></status></result></results>")

    [event] = events_of(xml.encode("iso-8859-1"), "application/xml")

    assert event.details["callbackData"] == "Köln"


# --- garbage: refused with a message that names the problem -------------------------------

GARBAGE = [
    (b"", "the body is empty"),
    (b"   \n", "the body is empty"),
    (b"results=1", "not JSON"),
    (b'{"results": [', "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[1, 2]", "must be a JSON object, got a list"),
    (b'{"foo": 1, "bar": 2}', "top-level keys: bar, foo"),
    (b'{"results": {"messageId": "m"}}', "results must be a list of delivery reports, got an object"),
    (b'{"results": ["m-1"]}', "results[0] must be a delivery report object, got a string"),
    (b'{"results": [{"messageId": "m-1"}]}', "results[0] (messageId 'm-1') has no status object"),
    (b'{"results": [{"messageId": "m-1", "status": {"id": 5}}]}',
     "results[0].status.groupId is missing and there is no groupName"),
    (b'{"results": [{"messageId": "m-1", "status": {"groupId": "three"}}]}',
     "results[0].status.groupId must be an integer, got 'three'"),
    (b'{"results": [{"to": "a@example.com", "status": {"groupId": 3, "id": 5}}]}',
     "results[0].messageId is missing"),
    (b'{"results": [{"messageId": {"id": 1}, "status": {"groupId": 3, "id": 5}}]}',
     "results[0].messageId must be a string or an integer, got an object"),
    (b'{"results": [{"messageId": "m", "to": "not an address@", "status": {"groupId": 3}}]}',
     "results[0].to is not an email address: 'not an address@'"),
    (b'{"results": [{"messageId": "m", "to": "Jane Doe", "status": {"groupId": 3}}]}',
     "results[0].to is not an email address: 'Jane Doe'"),
    (b'{"notificationType": "OPENED", "messageId": "m", "recipient": "  "}',
     "recipient is not an email address: '  '"),
    (b'{"results": [{"messageId": "m", "to": ["a@example.com"], "status": {"groupId": 3}}]}',
     "results[0].to must be an email address, got a list"),
    (b'{"results": [{"messageId": "m", "doneAt": "soon", "status": {"groupId": 3}}]}',
     "results[0].doneAt: not a timestamp: 'soon'"),
    (b'{"notificationType": 7, "messageId": "m"}', "notificationType must be a non-empty string, got 7"),
    (b'{"notificationType": "", "messageId": "m"}', "notificationType must be a non-empty string"),
    (b'{"notificationType": "OPENED", "eventId": "e"}', "messageId is missing"),
    (b'{"notificationType": "OPENED", "messageId": true}',
     "messageId must be a string or an integer, got true"),
    (b'{"notificationType": "OPENED", "messageId": "m", "eventId": [1]}',
     "eventId must be a string or an integer, got a list"),
    (b"<results><result>", "not well-formed XML"),
    (b"<foo><bar/></foo>", "no <results> element (root <foo>, children: bar)"),
    (b"<results><report/></results>", "results[0] must be a delivery report object, got a string"),
    (b"<results><result><messageId>m</messageId></result></results>",
     "results[0] (messageId 'm') has no status object"),
]


@pytest.mark.parametrize(("body", "message"), GARBAGE, ids=[m for _, m in GARBAGE])
def test_garbage_is_refused_with_a_telling_message(body, message):
    with pytest.raises(PayloadError) as raised:
        parse(body, "application/json", received_at=RECEIVED)

    assert message in str(raised.value)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<results><result><messageId>&lol2;</messageId><status><groupId>3</groupId></status></result></results>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<results><result><messageId>&secret;</messageId><status><groupId>3</groupId></status></result></results>"""
DOCTYPE_ONLY = b"""<?xml version="1.0"?><!DOCTYPE results SYSTEM "http://example.com/x.dtd">
<results/>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE_ONLY],
                         ids=["entity-expansion", "external-entity", "external-dtd"])
def test_xml_with_a_dtd_or_entities_is_refused_unexpanded(body):
    with pytest.raises(PayloadError, match="DTDs and entities are not accepted"):
        parse(body, "application/xml", received_at=RECEIVED)


def test_one_broken_report_refuses_the_whole_post_and_names_it():
    payload = document("dlr/batch.json")
    del payload["results"][2]["messageId"]

    with pytest.raises(PayloadError, match=r"results\[2\]\.messageId is missing"):
        events_of(payload)

