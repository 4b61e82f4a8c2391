"""tracker.providers.ses.parse: every recorded SES payload (ours and AWS's published examples) -> its exact events."""
import dataclasses
import json
from datetime import datetime

import pytest

from tests.support.ses_parsing import FIXTURES, document, fixture, parse, ses, utc
from tracker.domain import BounceType, EventType, NormalizedEvent
from tracker.providers.ses.parse import PROVIDER

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
            smtp_action="failed",
            smtp_status="5.1.1",
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
            smtp_action="failed",
            smtp_status="5.2.2",
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
            smtp_action="failed",
            smtp_status="5.1.1",
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
    "event/complaint-on-account-suppression-list.json": [
        ses(
            message_id="EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000001",
            recipient="recipient@example.com",
            type=EventType.COMPLAINED,
            occurred_at=utc(2017, 8, 5, 0, 40, 1, ms=823),
            event_key="ses:complained:01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000001",
            bounce_subtype="OnAccountSuppressionList",  # not sent: reputation counts it as suppressed
            details={
                "complaintSubType": "OnAccountSuppressionList",
                "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000001",
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
            smtp_status="4.4.1",
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
            smtp_action="failed",
            smtp_status="5.1.1",
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
            smtp_action="failed",
            smtp_status="5.1.1",
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
            smtp_status="4.4.1",
            details={
                "delayType": "TransientCommunicationFailure",
                "expirationTime": "2020-06-16T00:25:40.914Z",
                "status": "4.4.1",
            },
        )
    ],
}


def expected(name: str) -> list[NormalizedEvent]:
    """EXPECTED[name], each event stating the send time: every SES event carries the payload's
    mail.timestamp ("when the original message was sent"), read here from the file itself."""
    if not EXPECTED[name]:
        return []  # a notice with no event (and no mail)
    stated = datetime.fromisoformat(document(name)["mail"]["timestamp"].replace("Z", "+00:00"))
    return [dataclasses.replace(event, sent_at=stated) for event in EXPECTED[name]]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_payload_gives_exactly_the_expected_events(name):
    assert parse(fixture(name)) == expected(name)


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


# --- the same payloads, varied as SES may send them ------------------------------------


def test_unknown_extra_fields_are_tolerated():
    payload = document("notification/bounce-permanent.json")
    payload["futureTopLevel"] = {"x": 1}
    payload["mail"]["futureMailField"] = [1, 2]
    payload["bounce"]["futureBounceField"] = "y"
    payload["bounce"]["bouncedRecipients"][0]["futureRecipientField"] = None

    assert parse(payload) == expected("notification/bounce-permanent.json")


@pytest.mark.parametrize("truncated", [True, False, "true", "false"])
def test_headers_truncated_as_a_string_or_a_bool_changes_nothing(truncated):
    # The event-publishing contents table calls it a string; every example sends a bool.
    payload = document("aws-docs/event-bounce.json")
    payload["mail"]["headersTruncated"] = truncated

    assert parse(payload) == expected("aws-docs/event-bounce.json")


@pytest.mark.parametrize("name", ["aws-docs/notification-bounce-with-dsn.json", "event/click.json"])
def test_a_mail_object_without_the_optional_headers_gives_the_same_events(name):
    # "Include original headers" off: SES leaves out headersTruncated, headers, commonHeaders.
    payload = document(name)
    for optional in ("headersTruncated", "headers", "commonHeaders", "tags", "sourceIp", "sourceArn"):
        payload["mail"].pop(optional, None)

    assert parse(payload) == expected(name)
