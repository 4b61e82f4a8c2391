"""The reputation page in Chromium against the real stack: bounces arrive, a threshold is crossed, the state changes."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_dashboard_browser import sign_in
from tests.support.dashboard_seed import judged_from_the_first_message, make_account, messages
from tests.support.processes import find_deliveries, http, poll
from tests.support.sns_signing import notification
from tracker.db.models import utcnow

pytestmark = pytest.mark.integration


def test_crossing_the_bounce_thresholds_changes_the_state_on_the_page(page, app, pki, dashboard_stack):
    base = dashboard_stack
    account_id, operator, application, token = make_account(app, "acme")
    judged_from_the_first_message(app, account_id)
    sent_at = utcnow() - timedelta(minutes=10)

    def post(events, expected):
        for event in events:
            status, body = http("POST", f"{base}/hooks/sns/{token}", json.dumps(pki.sign(notification(event))).encode(),
                                {"Content-Type": "text/plain"})
            assert status == 200, body
        assert poll(lambda: len(find_deliveries(base, application, limit=100)) == expected or None)

    def state() -> str:
        page.reload()
        return page.get_attribute("[data-state]", "data-state")

    delivered, _, _ = messages("acme", 20, 0, sent_at=sent_at)
    post(delivered, 20)
    sign_in(page, base, operator, "/dashboard/reputation")
    assert page.get_attribute("[data-state]", "data-state") == "healthy"

    # 2 hard bounces of 22 sent: 9.09%, past SES's 5% warning.
    bounced, _, _ = messages("acme-b", 0, 2, sent_at=sent_at)
    post(bounced, 22)
    assert poll(lambda: state() == "warning" or None), page.inner_text("main")
    assert page.inner_text("#bounce-rate") == "9.09%"

    # A third: 3 of 23, 13.04%, past the 10% at which SES pauses sending.
    more, _, _ = messages("acme-c", 0, 1, sent_at=sent_at)
    post(more, 23)
    assert poll(lambda: state() == "at_risk" or None), page.inner_text("main")
    assert page.inner_text("#bounce-rate") == "13.04%"
    screenshot(page, "reputation")
