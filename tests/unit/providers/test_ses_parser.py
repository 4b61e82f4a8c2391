"""tracker.providers.ses.parse: the mapping table, who an event is about, time, keys, notices and garbage.

What each recorded payload gives, exactly, is in test_ses_recorded_payloads.py."""
import copy
import dataclasses
import json
from datetime import datetime, UTC

import pytest

from tests.support.harness import FIXTURES
from tests.support.ses_parsing import FALLBACK, document, fixture, parse, utc
from tracker.domain import BounceType, EventType, Status, fold, history
from tracker.providers.ses.parse import TYPE_MAP, PayloadError, parse_message

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

    [event] = parse(payload, fallback_time=datetime(2031, 2, 3, tzinfo=UTC))

    assert event.occurred_at == datetime(2031, 2, 3, tzinfo=UTC)


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


# --- one read for the worker -----------------------------------------------------------------

SES_FIXTURES = sorted(path for path in (FIXTURES / "ses").rglob("*") if path.suffix in (".json", ".txt"))


@pytest.mark.parametrize("path", SES_FIXTURES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_read_message_says_what_parse_message_and_message_facts_say(path):
    from tracker.providers.ses.parse import message_facts, read_message

    message = path.read_text()
    try:
        expected = (parse_message(message, fallback_time=FALLBACK), message_facts(message))
    except PayloadError as error:
        with pytest.raises(type(error)):
            read_message(message, fallback_time=FALLBACK)
        return
    assert read_message(message, fallback_time=FALLBACK) == expected
