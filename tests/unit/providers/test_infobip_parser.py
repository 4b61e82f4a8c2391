"""tracker.providers.infobip.parse: its mapping tables, bounce rules, times, ids and encodings, case by case."""
import copy
from datetime import datetime

import pytest

from tests.support.infobip_parsing import RECEIVED, document, events_of, fixture, utc
from tracker.domain import BounceType, EventType, Status, fold, history
from tracker.providers.common.errors import PayloadError
from tracker.providers.infobip.parse import STATUS_GROUPS, TYPE_MAP, parse


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

