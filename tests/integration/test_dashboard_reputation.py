"""The dashboard's reputation page.

The rates per sending domain and for the account, their states, the account's own only.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.integration.test_dashboard import signed_in
from tests.support.dashboard_seed import envelope, judged_from_the_first_message, make_account, messages, store
from tests.support.harness import drain
from tracker.db.models import utcnow

pytestmark = pytest.mark.integration


def test_the_rates_and_states_are_the_apis_and_the_accounts_own(app):
    seeded = {}
    for name, delivered, bounced in (("acme", 3, 2), ("other", 30, 0)):
        account_id, operator, application, token = make_account(app, name)
        judged_from_the_first_message(app, account_id)
        events, _, _ = messages(name, delivered, bounced, sent_at=utcnow() - timedelta(minutes=10))
        store(app, account_id, token, [envelope(e) for e in events])
        seeded[name] = (operator, application)
    drain(app)

    for operator, application in seeded.values():
        client = signed_in(app, operator)
        html = client.get("/dashboard/reputation").get_data(as_text=True)
        api = client.get("/api/v1/reputation", headers={"Authorization": f"Bearer {application}"}).json
        state = re.search(r'data-state="([a-z_]+)"', html).group(1)
        assert state == api["account"]["state"]
        assert f'{api["account"]["bounce_rate"] * 100:.2f}%' in html
        for domain in api["domains"]:
            assert f'data-domain="{domain["domain"] or "(unknown sender)"}"' in html
        assert html.count("class=\"threshold") >= 4  # warning and at-risk lines on both charts
    assert state == "healthy"  # other: 30 delivered, no bounce
    acme = signed_in(app, seeded["acme"][0]).get("/dashboard/reputation").get_data(as_text=True)
    assert 'data-state="at_risk"' in acme and "40.00%" in acme  # 2 hard bounces of 5 sent
