"""On a database whose collation is not C (ICU's en-US here, a common default), a delivery keeps the
outcome the domain's fold picks. Two events of one rank at the same instant are ordered by their
event keys, which Python compares by code point; en-US orders "a" before "B", code points after.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support.database import throwaway_database
from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tracker.domain import state
from tracker.providers.ses import parse

pytestmark = pytest.mark.integration

AT = "2026-11-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def pg_url():
    """This module's database: ICU en-US collation instead of the server's C."""
    with throwaway_database("tracker_icu", create_options="TEMPLATE template0 LOCALE_PROVIDER icu "
                                                          "ICU_LOCALE 'en-US'") as url:
        yield url


@pytest.mark.parametrize("order", ["lower-first", "upper-first"])
def test_a_tie_at_one_instant_goes_to_the_event_the_fold_picks_whatever_the_collation(make_app, pki, order):
    app = make_app()
    tenant = make_tenant(app, "acme", ["*"])
    soft = bounce("m1", "r@example.com", "Transient", "a-feedback", AT)
    hard = bounce("m1", "r@example.com", "Permanent", "B-feedback", AT)
    first, then = (soft, hard) if order == "lower-first" else (hard, soft)
    client = app.test_client()
    for message in (first, then):  # one batch each: the second is merged onto the stored first
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
        drain(app)

    events = [event for message in (soft, hard)
              for event in parse.parse_message(json.dumps(message), fallback_time=datetime.now(UTC))]
    expected = state.fold(events)
    [shown] = client.get("/api/v1/deliveries", query_string={"message_id": "m1"}, headers=tenant.auth).json["data"]
    assert (shown["status"], shown["bounce_type"]) == (expected.status.value, expected.bounce_type.value)
    assert expected.bounce_type.value == "TRANSIENT"  # "ses:bounced:a-..." > "ses:bounced:B-..." by code point


def test_while_a_rebuild_is_unfinished_a_lower_ranked_event_does_not_move_a_delivery_it_holds(
        make_app, pki, monkeypatch):
    from tracker.pipeline import operations

    app = make_app()
    tenant = make_tenant(app, "acme", ["*"])
    client = app.test_client()

    def post(message) -> None:
        assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
        drain(app)

    post(bounce("m1", "r@example.com", "Permanent", "fb-1", AT))
    post(bounce("m2", "s@example.com", "Permanent", "fb-2", AT))
    monkeypatch.setattr(operations, "CHUNK", 1)

    def crash(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        operations.rebuild(app.extensions["tracker"], progress=crash)  # m1's raw event re-applied, m2's not yet
    post(for_message("event/delivery.json", "m2", ["s@example.com"],
                     delivery={"recipients": ["s@example.com"]}))  # ranks below its bounce
    shown = client.get("/api/v1/deliveries", query_string={"message_id": "m2"}, headers=tenant.auth).json["data"]
    assert [d["status"] for d in shown] == ["BOUNCED"]
