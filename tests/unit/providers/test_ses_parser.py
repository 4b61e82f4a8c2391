"""tracker.providers.ses: recorded SES payloads -> normalized events."""
import copy
import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tracker.domain import BounceType, EventType, NormalizedEvent, Status, fold, history
from tracker.providers.ses import PROVIDER, TYPE_MAP, PayloadError, parse_message

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"
FALLBACK = datetime(2030, 1, 1, tzinfo=timezone.utc)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def document(name: str) -> dict:
    return json.loads(fixture(name))


def parse(payload: str | dict, fallback_time: datetime = FALLBACK) -> list[NormalizedEvent]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return parse_message(text, fallback_time=fallback_time)


def utc(*parts: int, ms: int = 0) -> datetime:
    return datetime(*parts, ms * 1000, tzinfo=timezone.utc)


def ses(**fields) -> NormalizedEvent:
    return NormalizedEvent(provider="ses", **fields)


# --- every recorded payload, with the exact events it must produce ------------------------

BOUNCE_FEEDBACK_ID = "0100016654ab1c2d-8f3e2a71-5b6c-4d9e-a0f1-3c2b1a098765-000000"
BOUNCED_MESSAGE = "0100016654ab0e1f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"
JANE_UNKNOWN = "smtp; 550 5.1.1 <jane@example.com>... User unknown"
AWS_EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/60.0.3112.90 Safari/537.36"
)
NO_DSN_BOUNCE = dict(
    message_id="00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
    type=EventType.BOUNCED,
    occurred_at=utc(2016, 1, 27, 14, 59, 38, ms=237),
    event_key="ses:bounced:00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
    bounce_type=BounceType.PERMANENT,
    bounce_subtype="General",
    diagnostic=None,
    details={
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
        "remoteMtaIp": "127.0.2.0",
    },
)
MULTI_DELIVERY = dict(
    message_id="0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
    type=EventType.DELIVERED,
    occurred_at=utc(2016, 1, 27, 14, 59, 38, ms=237),
    event_key="ses:delivered:2016-01-27T14:59:38.237000Z",
    diagnostic="250 ok:  Message 64111812 accepted",
    details={
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "remoteMtaIp": "127.0.2.0",
        "processingTimeMillis": 546,
    },
)
SEND = dict(
    message_id="EXAMPLE0f3c1a9d2-5b7e4c11-0a2d-4f3b-9e8c-6d5a4b3c2d1e-000000",
    type=EventType.SENT,
    occurred_at=utc(2016, 10, 14, 5, 2, 16, ms=645),
    event_key="ses:sent:2016-10-14T05:02:16.645000Z",
)

EXPECTED: dict[str, list[NormalizedEvent]] = {
    "notification/bounce-permanent.json": [
        ses(
            message_id=BOUNCED_MESSAGE,
            recipient="jane@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2018, 10, 8, 14, 5, 46, ms=153),
            event_key=f"ses:bounced:{BOUNCE_FEEDBACK_ID}",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="General",
            diagnostic=JANE_UNKNOWN,
            details={
                "feedbackId": BOUNCE_FEEDBACK_ID,
                "action": "failed",
                "status": "5.1.1",
                "reportingMTA": "dsn; email.example.com",
                "remoteMtaIp": "127.0.2.0",
            },
        )
    ],
    "notification/bounce-transient.json": [
        ses(
            message_id="0000014a8e1c7d3e-2f6b9a01-8c4d-4e5f-b6a7-1d2c3b4a5e6f-000000",
            recipient="carlos@example.net",
            type=EventType.BOUNCED,
            occurred_at=utc(2016, 1, 28, 9, 12, 7, ms=512),
            event_key="ses:bounced:0000014a8e2f1b6c-44d0c3a9-6e1f-4b7a-9c2d-5f0e1a2b3c4d-000000",
            bounce_type=BounceType.TRANSIENT,
            bounce_subtype="MailboxFull",
            diagnostic="smtp; 552 5.2.2 Mailbox full",
            details={
                "feedbackId": "0000014a8e2f1b6c-44d0c3a9-6e1f-4b7a-9c2d-5f0e1a2b3c4d-000000",
                "action": "failed",
                "status": "5.2.2",
                "reportingMTA": "dsn; mx1.example.net",
                "remoteMtaIp": "198.51.100.25",
            },
        )
    ],
    "notification/bounce-multi-recipient.json": [
        ses(recipient="jane@example.com", **NO_DSN_BOUNCE),
        ses(recipient="richard@example.com", **NO_DSN_BOUNCE),
    ],
    "notification/complaint.json": [
        ses(
            message_id="000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
            recipient="richard@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2016, 1, 27, 14, 59, 38, ms=237),
            event_key="ses:complained:000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
            details={
                "complaintFeedbackType": "abuse",
                "userAgent": "AnyCompany Feedback Loop (V0.01)",
                "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
            },
        )
    ],
    "notification/delivery.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2016, 10, 19, 23, 21, 4, ms=133),
            event_key="ses:delivered:2016-10-19T23:21:04.133000Z",
            diagnostic="250 2.6.0 Message received",
            details={
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "remoteMtaIp": "203.0.113.10",
                "processingTimeMillis": 11893,
            },
        )
    ],
    "notification/delivery-multi-recipient.json": [
        ses(recipient="jane@example.com", **MULTI_DELIVERY),
        ses(recipient="richard@example.com", **MULTI_DELIVERY),
    ],
    "notification/subscription-succeeded.json": [],
    "event/send.json": [
        ses(recipient="jane@example.com", **SEND),
        ses(recipient="mary@example.com", **SEND),
        ses(recipient="richard@example.com", **SEND),
    ],
    "event/reject.json": [
        ses(
            message_id="EXAMPLE3b8d6e2f1-0c9a7b5d-3e1f-4a2b-8c6d-9e0f1a2b3c4d-000000",
            recipient="recipient@example.com",
            type=EventType.REJECTED,
            occurred_at=utc(2016, 10, 14, 17, 38, 15, ms=211),
            event_key="ses:rejected:2016-10-14T17:38:15.211000Z",
            diagnostic="Bad content",
        )
    ],
    "event/bounce.json": [
        ses(
            message_id=BOUNCED_MESSAGE,
            recipient="jane@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2018, 10, 8, 14, 5, 46, ms=153),
            event_key=f"ses:bounced:{BOUNCE_FEEDBACK_ID}",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="General",
            diagnostic=JANE_UNKNOWN,
            details={
                "feedbackId": BOUNCE_FEEDBACK_ID,
                "action": "failed",
                "status": "5.1.1",
                "reportingMTA": "dsn; email.example.com",
            },
        )
    ],
    "event/complaint.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2017, 8, 5, 0, 41, 2, ms=669),
            event_key="ses:complained:01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            details={
                "complaintFeedbackType": "abuse",
                "userAgent": CHROME,
                "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            },
        )
    ],
    "event/delivery.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2016, 10, 19, 23, 21, 4, ms=133),
            event_key="ses:delivered:2016-10-19T23:21:04.133000Z",
            diagnostic="250 2.6.0 Message received",
            details={
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
                "processingTimeMillis": 11893,
            },
        )
    ],
    "event/delivery-delay.json": [
        ses(
            message_id="EXAMPLE5d4c3b2a1-9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a-000000",
            recipient="recipient@example.com",
            type=EventType.DELAYED,
            occurred_at=utc(2020, 6, 16, 0, 25, 40, ms=95),
            event_key="ses:delayed:2020-06-16T00:25:40.095000Z",
            diagnostic="smtp; 421 4.4.1 Unable to connect to remote host",
            details={
                "delayType": "TransientCommunicationFailure",
                "expirationTime": "2020-06-16T00:25:40.914Z",
                "status": "4.4.1",
            },
        )
    ],
    "event/open.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.OPENED,
            occurred_at=utc(2017, 8, 9, 22, 0, 19, ms=652),
            event_key="ses:opened:2017-08-09T22:00:19.652000Z",
            details={
                "ipAddress": "192.0.2.1",
                "userAgent": (
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) "
                    "AppleWebKit/603.3.8 (KHTML, like Gecko) Mobile/14G60"
                ),
            },
        )
    ],
    "event/open-multi-recipient.json": [
        ses(
            message_id="EXAMPLE9e8d7c6b5-a4f3e2d1-c0b9-4a87-9654-3210fedcba98-000000",
            recipient=None,
            type=EventType.OPENED,
            occurred_at=utc(2017, 8, 9, 22, 14, 3, ms=118),
            event_key="ses:opened:2017-08-09T22:14:03.118000Z",
            details={"ipAddress": "198.51.100.7", "userAgent": CHROME},
        )
    ],
    "event/click.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.CLICKED,
            occurred_at=utc(2017, 8, 9, 23, 51, 25, ms=570),
            # The tail is sha256 of the JSON-encoded link, first 16 hex digits.
            event_key="ses:clicked:2017-08-09T23:51:25.570000Z:b9cc664c4220f052",
            details={
                "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
                "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
                "userAgent": CHROME,
                "ipAddress": "192.0.2.1",
            },
        )
    ],
    "event/rendering-failure.json": [
        ses(
            message_id="EXAMPLE1a2b3c4d5-e6f7a8b9-c0d1-4e2f-a3b4-c5d6e7f8a9b0-000000",
            recipient="recipient@example.com",
            type=EventType.RENDERING_FAILED,
            occurred_at=utc(2018, 1, 22, 18, 43, 6, ms=197),
            event_key="ses:rendering_failed:2018-01-22T18:43:06.197000Z",
            diagnostic="Attribute 'attributeName' is not present in the rendering data.",
            details={"templateName": "MyTemplate"},
        )
    ],
    "event/subscription.json": [
        ses(
            message_id="EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000",
            recipient="recipient@example.com",
            type=EventType.UNSUBSCRIBED,
            occurred_at=utc(2022, 1, 12, 1, 0, 17, ms=910),
            event_key="ses:unsubscribed:2022-01-12T01:00:17.910000Z",
            details={
                "contactList": "ContactListName",
                "source": "UnsubscribeHeader",
                "unsubscribeAll": True,
                "optedOutTopics": ["ExampleTopicName"],
            },
        )
    ],
    "event/topic-validated.txt": [],
    # --- aws-docs/: the AWS Developer Guide examples exactly as published -----------------
    "aws-docs/notification-bounce-with-dsn.json": [
        ses(
            message_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            recipient="jane@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2016, 1, 27, 14, 59, 38, ms=237),
            event_key="ses:bounced:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="General",
            diagnostic="smtp; 550 5.1.1 <jane@example.com>... User",
            details={
                "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
                "action": "failed",
                "status": "5.1.1",
                "reportingMTA": "dns; email.example.com",
                "remoteMtaIp": "127.0.2.0",
            },
        )
    ],
    # Two of three destinations bounced: Mary gets nothing.
    "aws-docs/notification-bounce-without-dsn.json": [
        ses(recipient="jane@example.com", **NO_DSN_BOUNCE),
        ses(recipient="richard@example.com", **NO_DSN_BOUNCE),
    ],
    "aws-docs/notification-complaint-without-feedback-report.json": [
        ses(
            message_id="0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000",
            recipient="richard@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2016, 1, 27, 14, 59, 38, ms=237),
            event_key="ses:complained:0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
            details={"feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000"},
        )
    ],
    "aws-docs/notification-delivery.json": [
        ses(recipient="jane@example.com", **MULTI_DELIVERY),
    ],
    "aws-docs/event-bounce.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.BOUNCED,
            occurred_at=utc(2017, 8, 5, 0, 41, 2, ms=669),
            event_key="ses:bounced:01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            bounce_type=BounceType.PERMANENT,
            bounce_subtype="General",
            diagnostic="smtp; 550 5.1.1 user unknown",
            details={
                "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
                "action": "failed",
                "status": "5.1.1",
                "reportingMTA": "dsn; mta.example.com",
            },
        )
    ],
    "aws-docs/event-delivery.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.DELIVERED,
            occurred_at=utc(2016, 10, 19, 23, 21, 4, ms=133),
            event_key="ses:delivered:2016-10-19T23:21:04.133000Z",
            diagnostic="250 2.6.0 Message received",
            details={
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "mta.example.com",
                "processingTimeMillis": 11893,
            },
        )
    ],
    "aws-docs/event-send.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.SENT,
            occurred_at=utc(2016, 10, 14, 5, 2, 16, ms=645),
            event_key="ses:sent:2016-10-14T05:02:16.645000Z",
        )
    ],
    # AWS's example rejects a message whose only destination is the sender's own address
    # (the To header says otherwise): the envelope destination is what counts.
    "aws-docs/event-reject.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="sender@example.com",
            type=EventType.REJECTED,
            occurred_at=utc(2016, 10, 14, 17, 38, 15, ms=211),
            event_key="ses:rejected:2016-10-14T17:38:15.211000Z",
            diagnostic="Bad content",
        )
    ],
    "aws-docs/event-rendering-failure.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.RENDERING_FAILED,
            occurred_at=utc(2018, 1, 22, 18, 43, 6, ms=197),
            event_key="ses:rendering_failed:2018-01-22T18:43:06.197000Z",
            diagnostic="Attribute 'attributeName' is not present in the rendering data.",
            details={"templateName": "MyTemplate"},
        )
    ],
    "aws-docs/event-delivery-delay.json": [
        ses(
            message_id=AWS_EXAMPLE_ID,
            recipient="recipient@example.com",
            type=EventType.DELAYED,
            occurred_at=utc(2020, 6, 16, 0, 25, 40, ms=95),
            event_key="ses:delayed:2020-06-16T00:25:40.095000Z",
            diagnostic="smtp; 421 4.4.1 Unable to connect to remote host",
            details={
                "delayType": "TransientCommunicationFailure",
                "expirationTime": "2020-06-16T00:25:40.914Z",
                "status": "4.4.1",
            },
        )
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert parse(fixture(name)) == EXPECTED[name]


def test_every_recorded_payload_has_expectations():
    recorded = {
        path.relative_to(FIXTURES).as_posix()
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name != "README.md"
    }

    assert recorded == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_events_carry_provider_statuses_and_aware_times(name):
    for event in parse(fixture(name)):
        assert event.provider == PROVIDER == "ses"
        assert event.occurred_at.utcoffset().total_seconds() == 0
        assert not {"mail", "headers", "commonHeaders", "tags"} & set(event.details)
        json.dumps(event.details)  # history details must be storable as JSON


# --- the mapping table, row by row --------------------------------------------------------

T1 = "2024-05-01T10:00:05.000Z"


def minimal(ses_type: str, family: str = "eventType", destination=("a@example.com",)) -> dict:
    """The smallest well-formed payload of each type (not a recording: a unit-rule probe)."""
    sections = {
        "Send": ("send", {}),
        "Reject": ("reject", {"reason": "Bad content"}),
        "Rendering Failure": ("failure", {"errorMessage": "no name", "templateName": "T"}),
        "Delivery": (
            "delivery",
            {"timestamp": T1, "recipients": ["a@example.com"], "smtpResponse": "250 ok"},
        ),
        "DeliveryDelay": (
            "deliveryDelay",
            {
                "timestamp": T1,
                "delayType": "MailboxFull",
                "expirationTime": "2024-05-02T10:00:00.000Z",
                "delayedRecipients": [{"emailAddress": "a@example.com", "status": "4.2.2"}],
            },
        ),
        "Bounce": (
            "bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": "NoEmail",
                "timestamp": T1,
                "feedbackId": "fb-1",
                "bouncedRecipients": [{"emailAddress": "a@example.com"}],
            },
        ),
        "Complaint": (
            "complaint",
            {
                "timestamp": T1,
                "feedbackId": "fb-2",
                "complainedRecipients": [{"emailAddress": "a@example.com"}],
            },
        ),
        "Open": ("open", {"timestamp": T1}),
        "Click": ("click", {"timestamp": T1, "link": "https://example.com/"}),
        "Subscription": (
            "subscription",
            {"timestamp": T1, "newTopicPreferences": {"unsubscribeAll": True}},
        ),
    }
    key, section = sections[ses_type]
    mail = {
        "timestamp": "2024-05-01T10:00:00.000Z",
        "messageId": "msg-1",
        "destination": list(destination),
    }
    return {family: ses_type, "mail": mail, key: section}


MAPPING = [
    # (SES type, normalized type, the status it asserts)
    ("Send", EventType.SENT, Status.SENT),
    ("Reject", EventType.REJECTED, Status.ERROR),
    ("Rendering Failure", EventType.RENDERING_FAILED, Status.ERROR),
    ("Delivery", EventType.DELIVERED, Status.DELIVERED),
    ("DeliveryDelay", EventType.DELAYED, Status.RETRY),
    ("Bounce", EventType.BOUNCED, Status.BOUNCED),
    ("Complaint", EventType.COMPLAINED, Status.COMPLAINT),
    ("Open", EventType.OPENED, Status.OPENED),
    ("Click", EventType.CLICKED, Status.OPENED),
    ("Subscription", EventType.UNSUBSCRIBED, None),
]


@pytest.mark.parametrize(("ses_type", "event_type", "status"), MAPPING)
def test_mapping_row(ses_type, event_type, status):
    [event] = parse(minimal(ses_type))

    assert TYPE_MAP[ses_type] is event_type
    assert event.type is event_type
    assert event.status is status
    assert event.message_id == "msg-1"
    assert event.recipient == "a@example.com"
    assert event.event_key.startswith(f"ses:{event_type.value}:")


def test_mapping_covers_exactly_the_documented_types():
    assert set(TYPE_MAP) == {row[0] for row in MAPPING}


@pytest.mark.parametrize("ses_type", ["Bounce", "Complaint", "Delivery"])
def test_feedback_notifications_parse_like_published_events(ses_type):
    assert parse(minimal(ses_type, family="notificationType")) == parse(minimal(ses_type))


def test_event_type_wins_over_notification_type():
    payload = minimal("Open")
    payload["notificationType"] = "Bounce"

    assert [e.type for e in parse(payload)] == [EventType.OPENED]


@pytest.mark.parametrize(
    ("bounce_type", "expected"),
    [
        ("Permanent", BounceType.PERMANENT),
        ("Transient", BounceType.TRANSIENT),
        ("Undetermined", BounceType.UNDETERMINED),
    ],
)
def test_bounce_types(bounce_type, expected):
    payload = minimal("Bounce")
    payload["bounce"]["bounceType"] = bounce_type

    [event] = parse(payload)

    assert event.bounce_type is expected
    assert event.bounce_subtype == "NoEmail"
    assert "bounceType" not in event.details


def test_an_unknown_bounce_type_is_an_undetermined_bounce_that_keeps_the_word():
    payload = minimal("Bounce")
    payload["bounce"]["bounceType"] = "Sideways"

    [event] = parse(payload)

    assert event.type is EventType.BOUNCED
    assert event.bounce_type is BounceType.UNDETERMINED
    assert event.details["bounceType"] == "Sideways"


def test_delivery_delay_keeps_when_ses_gives_up():
    [event] = parse(minimal("DeliveryDelay"))

    assert event.details == {
        "delayType": "MailboxFull",
        "expirationTime": "2024-05-02T10:00:00.000Z",
        "status": "4.2.2",
    }
    assert event.diagnostic is None


# --- who an event is about ----------------------------------------------------------------


def test_a_bounce_naming_one_of_three_destinations_yields_one_event():
    payload = document("notification/bounce-permanent.json")
    assert len(payload["mail"]["destination"]) == 3

    assert [e.recipient for e in parse(payload)] == ["jane@example.com"]


def test_send_yields_one_event_per_destination_in_normalized_form():
    assert [e.recipient for e in parse(fixture("event/send.json"))] == [
        "jane@example.com",
        "mary@example.com",
        "richard@example.com",
    ]


@pytest.mark.parametrize("ses_type", ["Send", "Reject", "Rendering Failure"])
def test_message_level_failures_apply_to_every_destination(ses_type):
    payload = minimal(ses_type, destination=["a@example.com", "B <b@example.com>"])

    assert [e.recipient for e in parse(payload)] == ["a@example.com", "b@example.com"]


def test_delivery_names_its_recipients_and_no_others():
    events = parse(fixture("notification/delivery-multi-recipient.json"))

    assert [e.recipient for e in events] == ["jane@example.com", "richard@example.com"]


def test_a_recipient_echoed_in_another_case_is_the_same_address():
    events = parse(fixture("notification/bounce-multi-recipient.json"))

    assert [e.recipient for e in events] == ["jane@example.com", "richard@example.com"]


@pytest.mark.parametrize("ses_type", ["Open", "Click", "Subscription"])
def test_unattributable_events_go_to_the_only_destination(ses_type):
    [event] = parse(minimal(ses_type, destination=["Ann <Ann@Example.com>"]))

    assert event.recipient == "ann@example.com"


@pytest.mark.parametrize("ses_type", ["Open", "Click", "Subscription"])
def test_unattributable_events_of_a_multi_recipient_message_are_message_level(ses_type):
    events = parse(minimal(ses_type, destination=["a@example.com", "b@example.com"]))

    assert [e.recipient for e in events] == [None]


def test_open_without_destination_is_message_level():
    payload = minimal("Open")
    del payload["mail"]["destination"]

    assert [e.recipient for e in parse(payload)] == [None]


def test_destinations_that_are_one_address_count_as_one():
    events = parse(
        minimal("Open", destination=["ann@example.com", "Ann <ANN@example.com>"])
    )

    assert [e.recipient for e in events] == ["ann@example.com"]


def test_duplicate_destinations_collapse():
    payload = minimal(
        "Send", destination=["a@example.com", "A@EXAMPLE.COM", "b@example.com", "X <a@example.com>"]
    )

    assert [e.recipient for e in parse(payload)] == ["a@example.com", "b@example.com"]


def test_a_recipient_listed_twice_in_a_bounce_gets_one_event_from_its_first_entry():
    payload = minimal("Bounce")
    payload["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "a@example.com", "diagnosticCode": "smtp; 550 first"},
        {"emailAddress": "A@example.com", "diagnosticCode": "smtp; 550 second"},
    ]

    assert [(e.recipient, e.diagnostic) for e in parse(payload)] == [
        ("a@example.com", "smtp; 550 first")
    ]


def test_each_bounced_recipient_keeps_its_own_diagnostic():
    payload = minimal("Bounce", destination=["a@example.com", "b@example.com"])
    payload["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "a@example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 a"},
        {"emailAddress": "b@example.com", "status": "5.2.1", "diagnosticCode": "smtp; 550 b"},
    ]

    events = parse(payload)

    assert [(e.recipient, e.diagnostic, e.details["status"]) for e in events] == [
        ("a@example.com", "smtp; 550 a", "5.1.1"),
        ("b@example.com", "smtp; 550 b", "5.2.1"),
    ]


# --- subscriptions: only opt-outs are events ----------------------------------------------


def test_an_opt_in_is_no_event():
    payload = document("event/subscription.json")
    payload["subscription"]["newTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [
            {"topicName": "ExampleTopicName", "subscriptionStatus": "OptIn"}
        ],
    }

    assert parse(payload) == []


def test_a_subscription_without_new_preferences_is_no_event():
    payload = document("event/subscription.json")
    del payload["subscription"]["newTopicPreferences"]

    assert parse(payload) == []


def test_opting_out_of_one_topic_is_an_unsubscribe():
    payload = document("event/subscription.json")
    payload["subscription"]["newTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [
            {"topicName": "News", "subscriptionStatus": "OptIn"},
            {"topicName": "Offers", "subscriptionStatus": "OptOut"},
        ],
    }

    [event] = parse(payload)

    assert event.type is EventType.UNSUBSCRIBED
    assert event.details["optedOutTopics"] == ["Offers"]
    assert "unsubscribeAll" not in event.details


# --- time ---------------------------------------------------------------------------------


def test_the_lenient_mail_timestamp_is_parsed():
    payload = document("notification/bounce-permanent.json")
    assert payload["mail"]["timestamp"] == "2018-10-08T14:05:45 +0000"
    del payload["bounce"]["timestamp"]

    [event] = parse(payload)

    assert event.occurred_at == utc(2018, 10, 8, 14, 5, 45)


def test_an_event_without_its_own_time_takes_the_mail_time():
    payload = document("event/open.json")
    del payload["open"]["timestamp"]

    [event] = parse(payload)

    assert event.occurred_at == utc(2017, 8, 9, 21, 59, 49, ms=927)


def test_an_event_without_any_time_takes_the_fallback():
    payload = document("event/open.json")
    del payload["open"]["timestamp"]
    del payload["mail"]["timestamp"]

    [event] = parse(payload, fallback_time=datetime(2031, 2, 3, tzinfo=timezone.utc))

    assert event.occurred_at == datetime(2031, 2, 3, tzinfo=timezone.utc)


def test_the_fallback_time_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_message(fixture("event/open.json"), fallback_time=datetime(2030, 1, 1))


# --- event keys: the same SES event always has the same key -------------------------------


def test_the_same_bounce_through_both_families_is_one_event_in_the_history():
    via_feedback = parse(fixture("notification/bounce-permanent.json"))
    via_publishing = parse(fixture("event/bounce.json"))

    assert [e.event_key for e in via_feedback] == [e.event_key for e in via_publishing]
    assert len(history(via_feedback + via_publishing)) == 1


def test_the_same_delivery_through_both_families_has_the_same_key():
    via_feedback = parse(fixture("notification/delivery.json"))
    via_publishing = parse(fixture("event/delivery.json"))

    assert [e.event_key for e in via_feedback] == [e.event_key for e in via_publishing]


def test_a_redelivered_payload_gives_equal_events_whatever_its_layout():
    text = fixture("event/click.json")
    reformatted = json.dumps(json.loads(text), sort_keys=True)

    assert parse(text) == parse(reformatted) == parse(text, fallback_time=utc(2040, 1, 1))


def test_timestamp_spelling_does_not_change_the_key():
    z_form = minimal("Send")
    lenient = copy.deepcopy(z_form)
    lenient["mail"]["timestamp"] = "2024-05-01T10:00:00 +0000"

    assert parse(z_form)[0].event_key == parse(lenient)[0].event_key


def test_distinct_bounces_of_one_message_have_distinct_keys():
    first = minimal("Bounce")
    second = copy.deepcopy(first)
    second["bounce"]["feedbackId"] = "fb-other"

    assert parse(first)[0].event_key != parse(second)[0].event_key


def test_two_links_clicked_at_once_are_two_events_with_short_keys():
    short = minimal("Click")
    long = copy.deepcopy(short)
    long["click"]["link"] = "https://example.com/?q=" + "x" * 4000

    short_key, long_key = parse(short)[0].event_key, parse(long)[0].event_key

    assert short_key != long_key
    assert len(long_key) == len(short_key) < 80


def test_successive_delays_are_distinct_events():
    first = minimal("DeliveryDelay")
    later = copy.deepcopy(first)
    later["deliveryDelay"]["timestamp"] = "2024-05-01T11:00:05.000Z"

    assert parse(first)[0].event_key != parse(later)[0].event_key


def test_a_key_never_depends_on_arrival_time_even_without_timestamps():
    payload = document("event/open.json")
    del payload["open"]["timestamp"]
    del payload["mail"]["timestamp"]

    early = parse(payload, fallback_time=utc(2030, 1, 1))
    late = parse(payload, fallback_time=utc(2031, 1, 1))

    assert early[0].event_key == late[0].event_key


def test_a_bounce_after_delivery_wins_whatever_the_arrival_order():
    delivered = parse(fixture("notification/delivery-multi-recipient.json"))
    jane_delivered = [e for e in delivered if e.recipient == "jane@example.com"]
    # The recorded bounce is of another message; re-home it onto the delivered one.
    bounced = [
        dataclasses.replace(e, message_id=jane_delivered[0].message_id)
        for e in parse(fixture("notification/bounce-multi-recipient.json"))
        if e.recipient == "jane@example.com"
    ]

    assert fold(jane_delivered + bounced).status is Status.BOUNCED
    assert fold(bounced + jane_delivered).status is Status.BOUNCED


# --- notices that are not events ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Successfully validated SNS topic for Amazon SES event publishing.",
        "Successfully validated SNS topic for Amazon SES event publishing.\n",
        '"Successfully validated SNS topic for Amazon SES event publishing."',
        '{"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have ..."}',
    ],
)
def test_setup_notices_yield_nothing(text):
    assert parse(text) == []


def test_unknown_extra_fields_are_tolerated():
    payload = document("notification/bounce-permanent.json")
    payload["futureTopLevel"] = {"x": 1}
    payload["mail"]["futureMailField"] = [1, 2]
    payload["bounce"]["futureBounceField"] = "y"
    payload["bounce"]["bouncedRecipients"][0]["futureRecipientField"] = None

    assert parse(payload) == EXPECTED["notification/bounce-permanent.json"]


@pytest.mark.parametrize("truncated", [True, False, "true", "false"])
def test_headers_truncated_as_a_string_or_a_bool_changes_nothing(truncated):
    # The event-publishing contents table calls it a string; every example sends a bool.
    payload = document("aws-docs/event-bounce.json")
    payload["mail"]["headersTruncated"] = truncated

    assert parse(payload) == EXPECTED["aws-docs/event-bounce.json"]


@pytest.mark.parametrize("name", ["aws-docs/notification-bounce-with-dsn.json", "event/click.json"])
def test_a_mail_object_without_the_optional_headers_gives_the_same_events(name):
    # "Include original headers" off: SES leaves out headersTruncated, headers, commonHeaders.
    payload = document(name)
    for optional in ("headersTruncated", "headers", "commonHeaders", "tags", "sourceIp", "sourceArn"):
        payload["mail"].pop(optional, None)

    assert parse(payload) == EXPECTED[name]


# --- garbage: PayloadError saying what was wrong ------------------------------------------


def without(path: str, ses_type: str = "Bounce") -> dict:
    payload = minimal(ses_type)
    *parents, leaf = path.split(".")
    target = payload
    for name in parents:
        target = target[name]
    del target[leaf]
    return payload


def replaced(path: str, value, ses_type: str = "Bounce") -> dict:
    payload = minimal(ses_type)
    *parents, leaf = path.split(".")
    target = payload
    for name in parents:
        target = target[name]
    target[leaf] = value
    return payload


GARBAGE = [
    ("not json", "Hello, world", "SES message is not JSON"),
    ("truncated json", '{"eventType": "Send", "mail": {', "SES message is not JSON"),
    ("json array", '[{"eventType": "Send"}]', "must be a JSON object, got a JSON array"),
    ("json string", '"Bounce"', "must be a JSON object, got a string"),
    ("json number", "42", "must be a JSON object, got a number"),
    ("json null", "null", "must be a JSON object, got null"),
    ("no type", '{"mail": {"messageId": "m"}}',
     "neither eventType nor notificationType (top-level keys: mail)"),
    ("empty object", "{}", "neither eventType nor notificationType"),
    ("unknown eventType", replaced("eventType", "Received"), "unknown SES eventType 'Received'"),
    ("unknown notificationType", {"notificationType": "Bogus"},
     "unknown SES notificationType 'Bogus'"),
    ("type not a string", replaced("eventType", 7), "eventType must be a string, got a number: 7"),
    ("no mail", without("mail"), "Bounce event has no mail object"),
    ("mail not an object", replaced("mail", "m"), "Bounce event has no mail object"),
    ("no messageId", without("mail.messageId"), "Bounce event has no mail.messageId"),
    ("blank messageId", replaced("mail.messageId", " "), "Bounce event has no mail.messageId"),
    ("no bounce object", without("bounce"), "Bounce event has no bounce object"),
    ("no bouncedRecipients", without("bounce.bouncedRecipients"),
     "Bounce event names no recipient: bounce.bouncedRecipients is missing or empty"),
    ("empty bouncedRecipients", replaced("bounce.bouncedRecipients", []),
     "bounce.bouncedRecipients is missing or empty"),
    ("bounced entry without address", replaced("bounce.bouncedRecipients", [{"status": "5.1.1"}]),
     "bounce.bouncedRecipients[0] has no email address"),
    ("blank bounced address", replaced("bounce.bouncedRecipients", [{"emailAddress": " "}]),
     "bounce.bouncedRecipients[0] is not an email address: ' '"),
    ("no complainedRecipients", without("complaint.complainedRecipients", "Complaint"),
     "complaint.complainedRecipients is missing or empty"),
    ("no delivery recipients", without("delivery.recipients", "Delivery"),
     "delivery.recipients is missing or empty"),
    ("no delayedRecipients", without("deliveryDelay.delayedRecipients", "DeliveryDelay"),
     "deliveryDelay.delayedRecipients is missing or empty"),
    ("send without destination", without("mail.destination", "Send"),
     "Send event has no address in mail.destination"),
    ("destination not a list", replaced("mail.destination", "a@example.com", "Send"),
     "mail.destination must be a list, got a string"),
    ("destination entry not a string", replaced("mail.destination", [{"a": 1}], "Send"),
     "mail.destination[0] is not an address"),
    ("bad event timestamp", replaced("bounce.timestamp", "last tuesday"),
     "bounce.timestamp: not a timestamp: 'last tuesday'"),
    ("bad mail timestamp", replaced("mail.timestamp", "soon", "Send"),
     "mail.timestamp: not a timestamp: 'soon'"),
    ("open object missing", without("open", "Open"), "Open event has no open object"),
    ("not utf-8", b"\xff\xfe{", "SES message is not UTF-8"),
]


@pytest.mark.parametrize(
    ("payload", "says"), [(p, s) for _, p, s in GARBAGE], ids=[name for name, _, _ in GARBAGE]
)
def test_garbage_raises_a_payload_error_that_says_what_is_wrong(payload, says):
    text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)

    with pytest.raises(PayloadError) as caught:
        parse_message(text, fallback_time=FALLBACK)

    assert says in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_long_non_json_payload_is_quoted_briefly():
    with pytest.raises(PayloadError) as caught:
        parse("<html>" + "x" * 5000)

    assert "'<html>xxx" in str(caught.value)
    assert len(str(caught.value)) < 200
