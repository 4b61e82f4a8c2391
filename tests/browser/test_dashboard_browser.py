"""The dashboard in headless Chromium (JavaScript off) against the real stack: gunicorn, `tracker worker`,
PostgreSQL and Redis, fed signed SNS messages through the real receiver."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.browser.conftest import screenshot
from tests.support.dashboard_seed import make_account, messages, parked_subscription
from tests.support.processes import find_deliveries, http, poll
from tests.support.ses_events import for_message
from tests.support.sns_signing import notification
from tracker.db.models import InboxEvent, utcnow

pytestmark = pytest.mark.integration

POISON = "{this is not JSON"


@pytest.fixture
def seeded(app, pki, dashboard_stack):
    """acme: 3 delivered, 2 bounced, one unreadable event, a parked webhook; other: 1 delivered, 1 bounced;
    all sent minutes ago."""
    sent_at = utcnow() - timedelta(minutes=10)
    accounts = {}
    for name, delivered, bounced in (("acme", 3, 2), ("other", 1, 1)):
        account_id, operator, application, token = make_account(app, name)
        events, ok, failed = messages(name, delivered, bounced, sent_at=sent_at)
        for event in [*events, POISON]:
            status, body = http("POST", f"{dashboard_stack}/hooks/sns/{token}",
                                json.dumps(pki.sign(notification(event))).encode(), {"Content-Type": "text/plain"})
            assert status == 200, body
        parked_subscription(app, account_id, f"https://{name}.example.com/hook")
        accounts[name] = dict(id=account_id, operator=operator, application=application, ok=ok, failed=failed)
    for name, seeded_account in accounts.items():
        expected = len(seeded_account["ok"]) + len(seeded_account["failed"])
        key = seeded_account["application"]
        assert poll(lambda key=key, expected=expected: len(find_deliveries(dashboard_stack, key, limit=100))
                    == expected or None), f"the worker never applied {name}'s events"
    assert poll(lambda: _failed_rows(app) == 2 or None), "the worker never failed the unreadable events"
    return accounts


def _failed_rows(app) -> int:
    with app.extensions["tracker"].db.session() as session:
        return len(session.scalars(select(InboxEvent.id).where(InboxEvent.state == "failed")).all())


def sign_in(page, base: str, key: str, then: str = "/dashboard") -> None:
    page.goto(base + then)
    assert "/dashboard/signin" in page.url  # not signed in yet: sent to the form
    page.fill("#key", key)
    page.click("main button:has-text('Sign in')")
    page.wait_for_url(f"{base}{then}*")
    page.wait_for_load_state("load")


def test_an_operator_signs_in_and_sees_what_the_events_imply_on_every_page(page, phone, dashboard_stack, seeded):
    base, acme = dashboard_stack, seeded["acme"]
    page.goto(f"{base}/dashboard")
    page.fill("#key", acme["application"])
    page.click("main button:has-text('Sign in')")
    assert "not an operator key" in page.inner_text("main")

    sign_in(page, base, acme["operator"])
    # acme's inbox: 3 x (send, delivery) + 2 x (send, bounce) + 1 unreadable event, all SES, all just now.
    assert [b.inner_text() for b in page.query_selector_all('[data-provider="ses"]')] == ["11", "11"]
    assert page.inner_text('[data-status="DELIVERED"]') == "3"
    assert page.inner_text('[data-status="BOUNCED"]') == "2"
    assert page.inner_text('[data-status-week="BOUNCED"]') == "2"
    assert page.inner_text("#failed-count .value") == "1"
    assert page.inner_text("#parked-count .value") == "1"
    assert page.query_selector_all(".chart svg rect[fill]")  # the bars are drawn
    screenshot(page, "overview")

    page.click("nav >> text=Deliveries")
    page.fill("input[name=recipient]", "acme-bounce-1@example.com")
    page.click("button:has-text('Find')")
    page.click("#found >> text=acme-bounce-1")
    assert page.inner_text("#delivery-status") == "BOUNCED"
    timeline = page.inner_text("#timeline")
    assert len(page.query_selector_all("#timeline li.event")) == 2
    assert "PERMANENT" in timeline and "5.1.1" in timeline and "550 5.1.1 no such user" in timeline
    screenshot(page, "timeline")

    page.click("nav >> text=Suppressions")
    listed = page.inner_text("#suppressions")
    assert "acme-bounce-0@example.com" in listed and "other-bounce-0@example.com" not in listed
    screenshot(page, "suppressions")

    page.click("nav >> text=Webhooks")
    assert "acme.example.com" in page.inner_text("main") and "other.example.com" not in page.inner_text("main")
    assert page.inner_text(".parked") == "1"
    screenshot(page, "webhooks")

    page.click("nav >> text=Failed events")
    assert "not JSON" in page.inner_text("#failed-events .reason")
    page.click("#failed-events summary")  # <details>: opens without JavaScript
    payload = page.inner_text("#failed-events pre")
    assert '"Type": "Notification"' in payload and json.dumps(POISON)[1:-1] in payload  # the stored SNS envelope
    assert len(page.query_selector_all("#failed-events > li")) == 1  # other's failed event is not shown
    screenshot(page, "failed")

    # The same overview on a phone: one column, nothing wider than the screen.
    sign_in(phone, base, acme["operator"])
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "overview-phone")


def test_replaying_a_failed_event_by_clicking_processes_it(page, app, dashboard_stack, seeded):
    base, acme = dashboard_stack, seeded["acme"]
    sign_in(page, base, acme["operator"], "/dashboard/failed")
    [card] = page.query_selector_all("#failed-events > li")
    row_id = int(card.get_attribute("id").removeprefix("event-"))
    assert "parse" in card.inner_text() or "unmapped" in card.inner_text()  # the failure's kind is shown

    # The fix: what a corrected parser would read in that row (the worker's code cannot change under a test).
    _make_readable(app, row_id, "acme-late")

    card.query_selector("text=Replay…").click()
    assert "Replay event #" in page.inner_text("h1")
    page.click("text=Yes, replay")
    flash = page.inner_text(".flash")
    # The replay requeues the row, then applies it in the request; the running worker's sweep may
    # claim it in between (then "processed 0": the worker applies it). Either way once, and not failing.
    assert "replayed 1: now processed" in flash and "still failing 0" in flash, flash
    assert page.query_selector("#no-failed") is not None
    page.click("nav >> text=Overview")
    assert page.inner_text("#failed-count .value") == "0"
    page.click("nav >> text=Deliveries")
    page.fill("input[name=message_id]", "acme-late")

    def found_delivered() -> bool | None:
        page.click("button:has-text('Find')")
        return "DELIVERED" in page.inner_text("#found") or None

    assert poll(found_delivered), page.inner_text("main")


def test_a_forged_post_is_refused_and_changes_nothing(page, app, dashboard_stack, seeded):
    base, acme = dashboard_stack, seeded["acme"]
    sign_in(page, base, acme["operator"], "/dashboard/failed")
    [card] = page.query_selector_all("#failed-events > li")
    row_id = int(card.get_attribute("id").removeprefix("event-"))

    # A POST carrying the signed-in session's cookie, but a token that is not the session's (or none).
    for token in ({"csrf_token": "forged"}, {}):
        forged = page.request.post(f"{base}/dashboard/failed/discard", form={"id": str(row_id), "reason": "forged",
                                                                              **token})
        assert forged.status == 400 and "CSRF" in forged.text()

    # A form on another site, posting to the dashboard: the cookie stays home (SameSite=Strict) and no token.
    page.set_content(f'<form method="post" action="{base}/dashboard/failed/discard">'
                     f'<input name="id" value="{row_id}"><input name="reason" value="forged">'
                     f'<button type="submit">go</button></form>')
    page.click("text=go")
    assert "Refused" in page.inner_text("h1")
    screenshot(page, "refused")

    with app.extensions["tracker"].db.session() as session:
        assert session.get(InboxEvent, row_id).state == "failed"


def _make_readable(app, row_id: int, message_id: str) -> None:
    to = f"{message_id}@example.com"
    body = json.dumps(notification(for_message("event/delivery.json", message_id, [to], delivery={"recipients": [to]})))
    with app.extensions["tracker"].db.transaction() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == row_id).values(body=body))
