"""tracker.providers.infobip.parse: every recorded Infobip payload -> its exact events."""
import json

import pytest

from tests.support.infobip_parsing import FIXTURES, RECEIVED, events_of, fixture, infobip, payload_digest, utc
from tracker.domain import BounceType, EventType, NormalizedEvent
from tracker.providers.infobip.parse import PROVIDER

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
            event_key="infobip:CLICKED:" + payload_digest("tracking/clicked-geolocationinfo.json"),
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
        # partial/: batches with an element no parser reads, whole only element by element
        # (tests/integration/test_batch_elements.py)
        if path.is_file() and path.name != "README.md" and path.parts[len(FIXTURES.parts)] != "partial"
    }

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_carry_the_provider_aware_utc_times_and_storable_details(name):
    for event in events_of(fixture(name), content_type_of(name)):
        assert event.provider == PROVIDER == "infobip"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert event.event_key.startswith("infobip:")
        json.dumps(event.details)  # history details must be storable as JSON


# The body decides, not the Content-Type.
@pytest.mark.parametrize(
    ("name", "content_type"),
    [("dlr/batch.json", "application/xml"), ("dlr/batch.xml", "application/json"),
     ("dlr/batch.xml", "text/plain"), ("tracking/opened.json", "")],
)
def test_the_content_type_is_not_trusted(name, content_type):
    assert events_of(fixture(name), content_type) == EXPECTED[name]
