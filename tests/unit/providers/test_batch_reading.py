"""Batch bodies read element by element (tracker.providers.common.batch): an element the parser
cannot read is set aside with its index and reason, the others' events stand; a body that is no
batch still fails whole."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.providers.common.batch import NAMED
from tracker.providers.common.errors import PayloadError
from tracker.providers.infobip import parse as infobip
from tracker.providers.postmark import parse as postmark
from tracker.providers.sendgrid import parse as sendgrid

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _sendgrid_batch() -> list:
    return json.loads((FIXTURES / "sendgrid" / "batch.json").read_text())


@pytest.mark.parametrize(("bad", "reason"), [
    ("not an event", "SendGrid event [3] must be a JSON object, got a string"),
    ({"event": "delivered", "timestamp": 1714557612, "sg_event_id": "x"},
     "SendGrid event [3] (delivered) has no recipient"),
    ({"email": "a@example.com", "timestamp": 1}, "SendGrid event [3] has no event name"),
], ids=["not-an-object", "no-email", "no-event"])
def test_a_sendgrid_element_it_cannot_read_is_set_aside_by_index(bad, reason):
    events = _sendgrid_batch()
    body = json.dumps(events[:3] + [bad] + events[3:]).encode()

    batch = sendgrid.read(body, "application/json", received_at=NOW)

    assert [event.event_key for event in batch.events] == \
        [event.event_key for event in sendgrid.parse(json.dumps(events).encode(), "", received_at=NOW)]
    assert batch.origins == (0, 1, 2, 4, 5, 6)
    [unreadable] = batch.unreadable
    assert unreadable.index == 3 and unreadable.reason.startswith(reason)
    assert (batch.size, batch.readable) == (7, 6)
    assert batch.problem().startswith(f"1 of 7 elements could not be read: [3] {reason}")
    with pytest.raises(PayloadError, match=r"^SendGrid event \[3\]"):
        sendgrid.parse(body, "application/json", received_at=NOW)  # the all-or-nothing reading, as before


def test_a_sendgrid_body_that_is_no_array_still_fails_whole():
    with pytest.raises(PayloadError, match="must be a JSON array"):
        sendgrid.read(b'{"event": "delivered"}', "application/json", received_at=NOW)


def test_an_infobip_report_it_cannot_read_is_set_aside_by_index():
    document = json.loads((FIXTURES / "infobip" / "dlr" / "batch.json").read_text())
    document["results"][1]["status"] = "REJECTED"

    batch = infobip.read(json.dumps(document).encode(), "application/json", received_at=NOW)

    assert len(batch.events) == 2 and batch.origins == (0, 2)
    [unreadable] = batch.unreadable
    assert unreadable.index == 1 and unreadable.reason.startswith("results[1] (messageId")


def test_an_infobip_xml_report_it_cannot_read_is_set_aside_by_index():
    body = (FIXTURES / "infobip" / "dlr" / "batch.xml").read_bytes()
    start = body.index(b"<groupId>", body.index(b"<result>", body.index(b"<result>") + 1))
    broken = body[:start] + b"<groupId>five</groupId><groupName/>" + body[body.index(b"</groupName>", start) + 12:]

    batch = infobip.read(broken, "application/xml", received_at=NOW)

    assert [u.index for u in batch.unreadable] == [1] and batch.origins == (0, 2)
    assert "results[1].status.groupId must be an integer" in batch.unreadable[0].reason


def test_a_postmark_array_sets_a_bad_record_aside_but_one_record_fails_whole():
    records = json.loads((FIXTURES / "postmark" / "batch-array.json").read_text())
    batch = postmark.read(json.dumps([records[0], 7, records[1]]).encode(), "", received_at=NOW)
    assert batch.origins == (0, 2)
    assert [(u.index, u.reason) for u in batch.unreadable] == [(1, "record [1] must be a JSON object, got a number")]

    with pytest.raises(PayloadError):
        postmark.read(json.dumps({"RecordType": "Delivery"}).encode(), "", received_at=NOW)


def test_many_unreadable_elements_are_named_up_to_a_bound_and_counted():
    body = json.dumps(["bad"] * (NAMED + 5) + _sendgrid_batch()[:1]).encode()

    problem = sendgrid.read(body, "", received_at=NOW).problem()

    assert problem.startswith(f"{NAMED + 5} of {NAMED + 6} elements could not be read: [0] SendGrid event [0]")
    assert f"[{NAMED - 1}] SendGrid" in problem and f"[{NAMED}] SendGrid" not in problem
    assert problem.endswith("; and 5 more")
