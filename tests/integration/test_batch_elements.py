"""One bad element of a batch POST fails alone: the batch's other events are applied.

SendGrid posts an array of events, Infobip ``{"results": [...]}`` (provider-formats §6.1, §3.1):
one element the parser cannot read (an unreadable timestamp here) must not hold up the others.
The row is applied in part and kept failed, naming the element; a replay after a parser fix
applies the element and doubles nothing (history, statistics, outbound webhook events).
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.support.harness import drain
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository
from tracker.db.models import Delivery, DeliveryEvent, DeliveryStat, InboxEvent, WebhookEvent
from tracker.domain import inbox
from tracker.pipeline import operations
from tracker.providers.common.values import optional_time
from tracker.providers.infobip import parse as infobip_parse
from tracker.providers.sendgrid import parse as sendgrid_parse

BY_NAME = {provider.name: provider for provider in PROVIDERS}

# Per provider: the recorded batch with one bad element, that element's index, the message ids of
# its readable elements (with the status each must reach) and of the bad one (with its status once
# read), and how a "parser fix" reads the bad element's time.
SENDGRID = ("sendgrid", "partial/batch-one-bad-element.json", 2,
            {"Ab3dEf6hIj9kLm2nOp5qRs": "DELIVERED", "Ef5gHi8jKl1mNo4pQr7sTu": "DELIVERED"},
            ("Cd4eFg7hIj0kLm3nOp6qRt", "BOUNCED"))
INFOBIP = ("infobip", "partial/batch-one-bad-report.json", 1,
           {"3b4c5d6e-7f80-4912-a3b4-c5d6e7f80912": "DELIVERED", "5d6e7f80-91a2-4b34-c5d6-e7f8091a2b34": "DELIVERED"},
           ("4c5d6e7f-8091-4a23-b4c5-d6e7f8091a23", "BOUNCED"))
CASES = {"sendgrid": SENDGRID, "infobip": INFOBIP}


def _fix_parser(monkeypatch, provider: str) -> None:
    """A parser release that reads the bad element's time ("2024-05-01 10:00:09 UTC", "06/01/2024 09:30:02")."""
    if provider == "sendgrid":
        original = sendgrid_parse._occurred_at

        def occurred_at(raw, where):
            if isinstance(raw, str) and raw.endswith(" UTC"):
                raw = raw.removesuffix(" UTC")
            return original(raw, where)

        monkeypatch.setattr(sendgrid_parse, "_occurred_at", occurred_at)
    else:
        def lenient(raw, where):
            if isinstance(raw, str) and raw[2:3] == "/":
                return datetime.strptime(raw + " +0000", "%d/%m/%Y %H:%M:%S %z")
            return optional_time(raw, where)

        monkeypatch.setattr(infobip_parse, "optional_time", lenient)


@pytest.fixture
def hook(app):
    """A factory: an account with a source of ``provider`` and an outbound webhook subscription; the hook path."""
    def make(provider_name: str) -> str:
        provider = BY_NAME[provider_name]
        with app.extensions["tracker"].db.transaction() as session:
            account = repository.create_account(session, "acme")
            token = repository.create_source(session, account, provider.name, secret=provider.secret).token
            repository.create_subscription(session, account_id=account.id, url="https://app.example.com/hook",
                                           secret="whsec_test", statuses=[])
        return f"/hooks/{provider.name}/{token}"
    return make


def _post(app, provider_name: str, path: str, body: bytes):
    signed_body, headers = BY_NAME[provider_name].signed(body)
    return app.test_client().post(path, data=signed_body, headers=headers)


def _state(app) -> dict:
    """What a replay must not double: statuses, history, statistics, queued webhook events, and the row."""
    with app.extensions["tracker"].db.session() as session:
        [row] = session.scalars(select(InboxEvent)).all()
        return {
            "statuses": {d.message_id: (d.status, d.status_sequence) for d in session.scalars(select(Delivery))},
            "history": session.scalar(select(func.count()).select_from(DeliveryEvent)),
            "stats": {(s.status, s.provider): s.count for s in session.scalars(select(DeliveryStat)) if s.count},
            "webhook_events": sorted(session.execute(
                select(WebhookEvent.delivery_id, WebhookEvent.type, WebhookEvent.sequence))),
            "row": (row.id, row.state, row.failure_kind, row.error),
        }


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_batch_with_one_bad_element_applies_the_others_and_fails_naming_it(app, hook, monkeypatch, case):
    provider_name, fixture, bad_index, readable, (bad_message, bad_status) = CASES[case]
    body = BY_NAME[provider_name].fixture(fixture)
    size = len(json.loads(body) if provider_name == "sendgrid" else json.loads(body)["results"])
    path = hook(provider_name)

    response = _post(app, provider_name, path, body)

    # Stored, and the provider has nothing to retry: its readable events are taken.
    assert response.status_code == 200, response.json
    assert response.json["status"] == "stored"
    assert (response.json["events"], response.json["unreadable"]) == (size - 1, 1)
    assert f"[{bad_index}]" in response.json["detail"]

    drain(app)

    first = _state(app)
    assert {message: status for message, (status, _) in first["statuses"].items()} == readable
    _, state, kind, error = first["row"]
    assert (state, kind) == (inbox.FAILED, inbox.UNMAPPED_SHAPE)
    assert error.startswith(f"1 of {size} elements could not be read: [{bad_index}] "), error
    assert "timestamp" in error or "doneAt" in error, error
    assert f"the other {size - 1} were applied" in error
    assert first["webhook_events"], "the readable events' status changes go to subscribers"

    # Replayed before any fix: fails again the same way, and nothing is counted twice.
    summary = operations.replay_ids(app.extensions["tracker"], [first["row"][0]])
    assert (summary.replayed, summary.still_failing) == (1, 1)
    again = _state(app)
    assert {name: again[name] for name in ("statuses", "history", "stats", "webhook_events")} == \
        {name: first[name] for name in ("statuses", "history", "stats", "webhook_events")}
    assert again["row"][1:3] == (inbox.FAILED, inbox.UNMAPPED_SHAPE)

    # After a parser fix, a replay applies the missing element and only it.
    _fix_parser(monkeypatch, provider_name)
    summary = operations.replay_ids(app.extensions["tracker"], [first["row"][0]])
    assert (summary.processed, summary.still_failing) == (1, 0)
    fixed = _state(app)
    assert fixed["row"][1] == inbox.PROCESSED
    assert {message: status for message, (status, _) in fixed["statuses"].items()} == \
        {**readable, bad_message: bad_status}
    assert {m: fixed["statuses"][m] for m in readable} == {m: first["statuses"][m] for m in readable}
    assert fixed["history"] == first["history"] + 1
    assert sum(fixed["stats"].values()) == sum(first["stats"].values()) + 1
    new_webhooks = [event for event in fixed["webhook_events"] if event not in first["webhook_events"]]
    assert len(new_webhooks) == 1 and set(first["webhook_events"]) <= set(fixed["webhook_events"])


def test_a_partly_applied_batch_keeps_its_history_through_a_rebuild(app, hook):
    provider_name, fixture, _, readable, _ = SENDGRID
    assert _post(app, provider_name, hook(provider_name), BY_NAME[provider_name].fixture(fixture)).status_code == 200
    drain(app)
    before = _state(app)

    operations.rebuild(app.extensions["tracker"])
    operations.rebuild(app.extensions["tracker"], since=datetime(2000, 1, 1).astimezone())

    after = _state(app)
    assert {message: status for message, (status, _) in after["statuses"].items()} == readable
    assert {name: after[name] for name in ("statuses", "history", "stats")} == \
        {name: before[name] for name in ("statuses", "history", "stats")}
    assert after["row"][1] == inbox.FAILED


@pytest.mark.parametrize("body", [
    b'{"not": "an array"}',  # no batch at all
    b'["not an event"]',  # a batch with no readable element
    b'["not an event", {"event": "delivered"}]',
], ids=["not-a-batch", "one-bad-element", "every-element-bad"])
def test_a_sendgrid_body_with_nothing_readable_is_answered_and_fails_as_before(app, hook, body):
    response = _post(app, "sendgrid", hook("sendgrid"), body)

    assert response.status_code == 400, response.json
    assert response.json["error"] == "unprocessable"
    drain(app)
    state = _state(app)
    assert state["statuses"] == {} and state["history"] == 0
    _, row_state, kind, error = state["row"]
    assert (row_state, kind) == (inbox.FAILED, inbox.UNMAPPED_SHAPE)
    assert error in response.json["detail"]


def test_an_element_whose_id_the_database_cannot_hold_fails_alone_as_unstorable(app, hook):
    events = json.loads(BY_NAME["sendgrid"].fixture("batch.json"))
    events[4]["sg_message_id"] = "poison\u0000id.filterdrecv-1"  # bob's bounce: a NUL in its message id
    events[4]["smtp-id"] = "<poison@example.com>"
    response = _post(app, "sendgrid", hook("sendgrid"), json.dumps(events).encode())
    assert response.status_code == 200, response.json

    drain(app)

    state = _state(app)
    assert set(state["statuses"]) == {"q3wZs1XHSmyb2bt4dTXHpA"}  # jane's and Mary's message, bob's left out
    _, row_state, kind, error = state["row"]
    assert (row_state, kind) == (inbox.FAILED, inbox.UNSTORABLE)
    assert error.startswith(f"1 of {len(events)} elements could not be read: [4] ") and "NUL" in error, error


def test_a_partly_applied_batch_says_so_however_long_its_elements_reasons_are(app, hook):
    # Twelve elements without "event", each with ten long keys: a reason lists the keys (5,000 characters
    # each), which the row's error (cut at 4,000 characters) must not let push out that the rest was applied.
    events = json.loads(BY_NAME["sendgrid"].fixture("batch.json"))
    keyless = {f"k{i}" + "x" * 500: 1 for i in range(10)}
    size = len(events) + 12
    response = _post(app, "sendgrid", hook("sendgrid"), json.dumps(events + [keyless] * 12).encode())
    assert response.status_code == 200, response.json

    drain(app)

    _, row_state, kind, error = _state(app)["row"]
    assert (row_state, kind) == (inbox.FAILED, inbox.UNMAPPED_SHAPE)
    assert error.startswith(f"12 of {size} elements could not be read: [{len(events)}] SendGrid event"), error[:200]
    assert error.endswith(f"(the other {len(events)} were applied; a replay after a fix applies the rest)"), \
        error[-200:]
    assert "; and 2 more" in error


def test_a_rebuild_counts_a_processed_batch_of_which_the_parser_now_refuses_an_element(app, hook, monkeypatch):
    # Processed whole by one parser release; the next refuses bob's bounce (element [4]). The rebuild drops
    # the row's history and re-applies what is readable now: the element it leaves out must be counted as
    # unreadable, as a row refused whole is, not vanish from the history with the summary saying nothing.
    assert _post(app, "sendgrid", hook("sendgrid"), BY_NAME["sendgrid"].fixture("batch.json")).status_code == 200
    drain(app)
    assert _state(app)["row"][1] == inbox.PROCESSED
    original = sendgrid_parse._occurred_at

    def stricter(raw, where):
        if "[4]" in where:
            raise sendgrid_parse.PayloadError(f"{where} has a timestamp this release refuses: {raw!r}")
        return original(raw, where)

    monkeypatch.setattr(sendgrid_parse, "_occurred_at", stricter)
    summary = operations.rebuild(app.extensions["tracker"])

    assert (summary.rows, summary.unreadable) == (1, 1)
    assert set(_state(app)["statuses"]) == {"q3wZs1XHSmyb2bt4dTXHpA"}  # bob's delivery had only that event
