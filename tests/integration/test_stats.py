"""Statistics kept as events are applied: they equal a count over the deliveries, whatever the order."""
from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta, UTC

from sqlalchemy import select

from tests.support.harness import FIXTURES, drain, make_tenant
from tests.support.sns_signing import DEFAULT_TOPIC_ARN, notification
from tracker.db import repository
from tracker.db.models import Delivery, DeliveryStat, Message
from tracker.domain.reputation import Thresholds
from tracker.pipeline import operations

SENT_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def ses_event(kind: str, message_id: str, source: str, destination: list[str], sent_at: datetime = SENT_AT,
              **body) -> dict:
    """An SES event-publishing record of ``kind`` (a fixture file) about one message."""
    event = json.loads((FIXTURES / "ses" / "event" / f"{kind}.json").read_text())
    event["mail"].update(messageId=message_id, source=source, destination=destination,
                         timestamp=sent_at.isoformat().replace("+00:00", "Z"))
    event["mail"].pop("commonHeaders", None)
    event["mail"].pop("headers", None)
    at = (sent_at + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    if kind == "delivery":
        event["delivery"].update(recipients=destination, timestamp=at)
    elif kind == "bounce":
        event["bounce"].update(bounceType=body.get("bounce_type", "Permanent"),
                               bounceSubType=body.get("subtype", "General"), timestamp=at,
                               bouncedRecipients=[{"emailAddress": r, "action": "failed", "status": "5.1.1"}
                                                  for r in destination])
    elif kind == "complaint":
        event["complaint"].update(complainedRecipients=[{"emailAddress": r} for r in destination],
                                  timestamp=(sent_at + timedelta(hours=1)).isoformat().replace("+00:00", "Z"))
    return event


def post(app, tenant, pki, event: dict) -> None:
    body = json.dumps(pki.sign(notification(event)))
    response = app.test_client().post(tenant.hook, data=body)
    assert response.status_code == 200, response.get_data(as_text=True)


def stats(app, account_id=None) -> Counter:
    """The statistics table, zero rows left out."""
    with app.extensions["tracker"].db.session() as session:
        rows = session.scalars(select(DeliveryStat))
        return Counter({(r.account_id, r.hour, r.domain, r.provider, r.status, r.outcome): r.count
                        for r in rows if r.count and (account_id is None or r.account_id == account_id)})


def counted_from_deliveries(app) -> Counter:
    """The same figures counted directly over deliveries and their messages' From."""
    counts = Counter()
    with app.extensions["tracker"].db.session() as session:
        senders = {(m.account_id, m.message_id): m.from_address for m in session.scalars(select(Message))}
        for d in session.scalars(select(Delivery)):
            sender = senders.get((d.account_id, d.message_id)) or ""
            domain = sender.rstrip(">").rsplit("@", 1)[1].lower() if "@" in sender else ""
            sent = (d.submitted_at or d.created_at).replace(minute=0, second=0, microsecond=0)
            shown = (d.failure_status, d.failure_bounce_type, d.failure_bounce_subtype) \
                if d.status == "ACKNOWLEDGED" else (d.status, d.bounce_type, d.bounce_subtype)
            outcome = {"PENDING": "not_sent", "ERROR": "not_sent", "SENT": "in_flight", "RETRY": "in_flight",
                       "DELIVERED": "delivered", "OPENED": "delivered", "COMPLAINT": "complaint"}.get(shown[0])
            if shown[0] == "BOUNCED":
                outcome = "hard_bounce" if shown[1] == "PERMANENT" else "soft_bounce"
            counts[(d.account_id, sent, domain, d.provider, d.status, outcome)] += 1
    return counts


def mixed_history() -> list[dict]:
    """Two sending domains; sends, deliveries, hard and soft bounces, complaints; each recipient its fate."""
    events = []
    for n in range(12):
        domain = "shop.example" if n % 2 else "news.example"
        source = f"Sender {n} <hello@{domain.upper()}>"
        message_id = f"msg-{n}"
        recipients = [f"r{n}-{i}@example.org" for i in range(4)]
        events.append(ses_event("send", message_id, source, recipients))
        events.append(ses_event("delivery", message_id, source, recipients[:3]))
        events.append(ses_event("bounce", message_id, source, recipients[3:],
                                bounce_type="Permanent" if n % 3 else "Transient"))
        if n % 4 == 0:
            events.append(ses_event("complaint", message_id, source, recipients[:1]))
    return events


def test_shuffled_and_duplicated_events_give_the_count_over_deliveries_and_a_rebuild_keeps_it(app, tenant, pki):
    events = mixed_history()
    shuffled = events + random.Random(13).sample(events, len(events) // 2)
    random.Random(7).shuffle(shuffled)
    for start in range(0, len(shuffled), 9):  # several batches, so counts move across transactions
        for event in shuffled[start:start + 9]:
            post(app, tenant, pki, event)
        drain(app)

    expected = counted_from_deliveries(app)
    assert stats(app) == expected
    hour = SENT_AT.replace(minute=0, second=0)
    key = (tenant.account_id, hour, "news.example", "ses")
    # news.example: messages 0, 2, 4, 6, 8, 10; their fourth recipient hard-bounced except 0 and 6.
    assert expected[key + ("BOUNCED", "hard_bounce")] == 4
    assert expected[key + ("BOUNCED", "soft_bounce")] == 2
    assert expected[key + ("COMPLAINT", "complaint")] == 3  # messages 0, 4, 8
    assert sum(expected.values()) == 48

    summary = operations.rebuild(app.extensions["tracker"])
    assert summary.deliveries == 48
    assert stats(app) == counted_from_deliveries(app) == expected


def test_a_delivery_that_bounces_later_moves_one_count(app, tenant, pki):
    source = "news@example.com"
    post(app, tenant, pki, ses_event("delivery", "m-1", source, ["a@example.org"]))
    drain(app)
    hour = SENT_AT.replace(minute=0, second=0)
    base = (tenant.account_id, hour, "example.com", "ses")
    assert stats(app) == {base + ("DELIVERED", "delivered"): 1}

    post(app, tenant, pki, ses_event("bounce", "m-1", source, ["a@example.org"]))
    drain(app)
    # Counted in the hour the message was sent, not the hour it bounced.
    assert stats(app) == {base + ("BOUNCED", "hard_bounce"): 1}


def test_a_complaint_for_an_address_on_the_account_suppression_list_counts_as_not_sent(app, tenant, pki):
    # complaintSubType OnAccountSuppressionList: "SES accepted the message, but didn't attempt
    # to send it" (provider-formats §2.3; SES guide, complaint subtypes), and SES leaves
    # messages to account-suppressed addresses out of its rates. Counted as a delivered
    # message with a complaint, a handful of them would put the complaint rate (0.1% warning)
    # past SES's own figure.
    event = ses_event("complaint-on-account-suppression-list", "m-s", "news@example.com", ["recipient@example.com"])
    event["complaint"]["timestamp"] = (SENT_AT + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    post(app, tenant, pki, event)
    drain(app)

    hour = SENT_AT.replace(minute=0, second=0)
    assert stats(app) == {(tenant.account_id, hour, "example.com", "ses", "COMPLAINT", "suppressed"): 1}
    with app.extensions["tracker"].db.session() as session:
        counts = repository.reputation_counts(session, tenant.account_id, SENT_AT - timedelta(hours=1))
    assert counts.account == {"suppressed": 1}


def test_a_registration_naming_the_sender_later_moves_the_deliveries_to_its_domain(app, tenant):
    from tracker.pipeline import registration

    services = app.extensions["tracker"]
    with services.db.transaction() as session:
        registration.register(session, tenant.account_id, {"message_id": "m-9", "recipients": ["x@example.org"]})
    assert [k[2] for k in stats(app)] == [""]
    with services.db.transaction() as session:
        registration.register(session, tenant.account_id,
                              {"message_id": "m-9", "from": "ops@Mail.Example.net", "recipients": ["x@example.org"]})
    assert stats(app) == counted_from_deliveries(app)
    assert [(k[2], k[4], k[5]) for k in stats(app)] == [("mail.example.net", "PENDING", "not_sent")]


def test_time_series_and_reputation_counts_read_only_the_account(app, tenant, pki):
    other = make_tenant(app, "other", [DEFAULT_TOPIC_ARN])
    for event in mixed_history()[:6]:
        post(app, tenant, pki, event)
    post(app, other, pki, ses_event("bounce", "theirs", "x@theirs.example", ["t@example.org"]))
    drain(app)
    with app.extensions["tracker"].db.session() as session:
        series = repository.time_series(session, tenant.account_id, SENT_AT - timedelta(days=1),
                                        SENT_AT + timedelta(days=1), "day", "domain")
        counts = repository.reputation_counts(session, tenant.account_id, SENT_AT - timedelta(hours=1))
    assert {p.group for p in series} == {"news.example", "shop.example"}
    assert sum(p.count for p in series) == 8
    assert set(counts.domains) == {"news.example", "shop.example"}
    assert counts.account == {"complaint": 1, "delivered": 5, "soft_bounce": 1, "in_flight": 1}


def test_the_embedded_sqlite_default_keeps_the_same_statistics(tmp_path, pki, opener):
    from tests.support.harness import RecordingWaker
    from tracker import create_app
    from tracker.adapters.sns_certificates import DirectoryCertificateStore
    from tracker.adapters.sns_subscriptions import HttpSubscriptionConfirmer
    from tracker.config import Config
    from tracker.db import migrate

    url = f"sqlite:///{tmp_path}/tracker.db"
    config = Config(database_url=url, sns_cert_dir=str(pki.directory), secret_key="test-secret-key")
    app = create_app(config, certificates=DirectoryCertificateStore(pki.directory),
                     confirmer=HttpSubscriptionConfirmer(opener=opener), waker=RecordingWaker())
    migrate.upgrade(app.extensions["tracker"].db.engine)
    tenant = make_tenant(app, "embedded", [DEFAULT_TOPIC_ARN])
    events = mixed_history()
    random.Random(3).shuffle(events)
    for event in events + events[:10]:
        post(app, tenant, pki, event)
    drain(app)
    assert sum(stats(app).values()) == 48
    assert stats(app) == counted_from_deliveries(app)
    operations.rebuild(app.extensions["tracker"])
    assert stats(app) == counted_from_deliveries(app)


def test_the_stats_api_answers_the_series_and_the_reputation_of_the_keys_account(app, tenant, pki):
    for event in mixed_history():
        post(app, tenant, pki, event)
    drain(app)
    client = app.test_client()
    hour = SENT_AT.replace(minute=0, second=0)

    response = client.get("/api/v1/stats", query_string={"group_by": "domain"}, headers=tenant.auth)
    assert response.status_code == 200, response.json
    assert response.json["interval"] == "hour"
    assert response.json["data"] == [{"start": hour.isoformat(), "counts": {"news.example": 24, "shop.example": 24}}]

    daily = client.get("/api/v1/stats", query_string={"interval": "day", "group_by": "status",
                                                      "from": (SENT_AT - timedelta(days=2)).isoformat()},
                       headers=tenant.auth).json["data"]
    assert sum(sum(bucket["counts"].values()) for bucket in daily) == 48
    assert sum(bucket["counts"].get("COMPLAINT", 0) for bucket in daily) == 3

    reputation = client.get("/api/v1/reputation", query_string={"window": "7d"}, headers=tenant.auth).json
    assert reputation["thresholds"] == {"bounce_warning": 0.05, "bounce_at_risk": 0.1, "complaint_warning": 0.001,
                                        "complaint_at_risk": 0.005, "min_sent": 100}
    assert {d["state"] for d in reputation["domains"]} == {"healthy"}  # too few sent to judge, by default
    with app.extensions["tracker"].db.transaction() as session:
        repository.set_thresholds(session, tenant.account_id, Thresholds(min_sent=0))
    reputation = client.get("/api/v1/reputation", query_string={"window": "7d"}, headers=tenant.auth).json
    news = next(d for d in reputation["domains"] if d["domain"] == "news.example")
    # 24 sent; 4 hard bounces (the 2 soft ones do not count), 3 complaints.
    assert (news["sent"], news["hard_bounces"], news["soft_bounces"], news["complaints"]) == (24, 4, 2, 3)
    assert news["bounce_rate"] == 4 / 24 and news["complaint_rate"] == 3 / 24
    assert news["delivered"] == 18  # 15 delivered, 3 of which later complained
    assert news["state"] == news["bounce_state"] == "at_risk"
    assert reputation["account"]["sent"] == 48


def test_the_stats_api_refuses_bad_arguments_in_its_shape(app, tenant):
    client = app.test_client()
    for query in ({"interval": "week"}, {"group_by": "recipient"}, {"from": "yesterday"}, {"limit": "3"},
                  {"interval": ["hour", "day"]}):
        response = client.get("/api/v1/stats", query_string=query, headers=tenant.auth)
        assert response.status_code == 400, query
        assert response.json["error"] == "invalid_request" and response.json["detail"]
    backwards = client.get("/api/v1/stats", query_string={"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
                           headers=tenant.auth)
    assert (backwards.status_code, backwards.json["data"]) == (200, [])
    assert client.get("/api/v1/reputation", query_string={"window": "30d"}, headers=tenant.auth).status_code == 400
    assert client.get("/api/v1/reputation").status_code == 401


def test_the_retention_purge_takes_the_purged_deliveries_out_of_the_statistics(app, tenant, pki):
    from tracker.db.models import utcnow

    services = app.extensions["tracker"]
    for event in mixed_history()[:8]:
        post(app, tenant, pki, event)
    drain(app)
    with services.db.transaction() as session:
        account = repository.account_by_name(session, "acme")
        repository.set_retention(session, account, raw_days=None, delivery_days=1)
    summary = operations.purge(services, dry_run=False, now=utcnow() + timedelta(days=2))
    assert summary.deliveries == {"acme": 12}  # three messages of four recipients
    assert stats(app) == counted_from_deliveries(app) == Counter()

    for event in mixed_history()[8:12]:  # later mail is counted again
        post(app, tenant, pki, event)
    drain(app)
    assert stats(app) == counted_from_deliveries(app) and sum(stats(app).values()) == 8
