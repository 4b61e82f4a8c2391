"""The dashboard through Flask's client on PostgreSQL.

Access, CSRF, what each page shows, and only the account's own data.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.dashboard_seed import envelope, make_account, messages, parked_subscription, store
from tests.support.harness import drain
from tracker.db.models import InboxEvent, SuppressionRemoval

pytestmark = pytest.mark.integration

POISON = "{this is not JSON"


@pytest.fixture
def accounts(app):
    """acme (3 delivered, 2 bounced) and other (1 delivered, 1 bounced), sent minutes ago.

    Each with one poisoned row and a parked webhook.
    """
    from datetime import timedelta

    from tracker.db.models import utcnow

    seeded = {}
    for name, delivered, bounced in (("acme", 3, 2), ("other", 1, 1)):
        account_id, operator, application, token = make_account(app, name)
        events, ok, failed = messages(name, delivered, bounced, sent_at=utcnow() - timedelta(minutes=10))
        [*_, poison] = store(app, account_id, token, [envelope(e) for e in events] + [envelope(POISON)])
        subscription = parked_subscription(app, account_id, f"https://{name}.example.com/hook")
        seeded[name] = dict(id=account_id, operator=operator, application=application, ok=ok, failed=failed,
                            poison=poison, subscription=subscription)
    drain(app)
    return seeded


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, key: str, base_url: str = "http://localhost"):
    client = app.test_client()
    form = client.get("/dashboard/signin", base_url=base_url).get_data(as_text=True)
    response = client.post("/dashboard/signin", data={"key": key, "csrf_token": csrf(form)}, base_url=base_url)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_pages_need_an_operator_key_and_the_cookie_is_httponly_strict_and_secure_over_https(app, accounts):
    client = app.test_client()
    response = client.get("/dashboard/failed")
    assert response.status_code == 302 and "/dashboard/signin" in response.location

    form = client.get("/dashboard/signin").get_data(as_text=True)
    refused = client.post("/dashboard/signin", data={"key": accounts["acme"]["application"], "csrf_token": csrf(form)})
    assert refused.status_code == 401 and "not an operator key" in refused.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302

    accepted = client.post("/dashboard/signin", data={"key": accounts["acme"]["operator"], "csrf_token": csrf(form),
                                                      "next": "/dashboard/failed"})
    assert accepted.status_code == 302 and accepted.location.endswith("/dashboard/failed")
    cookie = accepted.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert accounts["acme"]["operator"] not in cookie
    assert client.get("/dashboard").status_code == 200

    secure = app.test_client()
    form = secure.get("/dashboard/signin", base_url="https://localhost").get_data(as_text=True)
    over_https = secure.post("/dashboard/signin", data={"key": accounts["acme"]["operator"], "csrf_token": csrf(form)},
                             base_url="https://localhost")
    assert "Secure" in over_https.headers["Set-Cookie"]


def test_a_request_without_a_cookie_costs_no_session_signing_and_sets_none(app, accounts, monkeypatch):
    # A request without a cookie (an API call, a provider's event) gets the empty session Flask
    # would make, without building the signing serializer (5% of a one-row list request): it
    # must neither set nor vary on a cookie, and the dashboard still starts its session.
    interface = app.session_interface
    monkeypatch.setattr(interface, "get_signing_serializer", lambda app: pytest.fail("signing work without a cookie"))
    client = app.test_client()
    listed = client.get("/api/v1/deliveries", headers={"Authorization": f"Bearer {accounts['acme']['application']}"})
    assert listed.status_code == 200
    assert "Set-Cookie" not in listed.headers and "Cookie" not in listed.headers.get("Vary", "")
    monkeypatch.undo()
    signin = client.get("/dashboard/signin")
    assert signin.headers["Set-Cookie"].startswith("tracker_dashboard=")  # the CSRF token's session


def test_signing_out_or_revoking_the_key_ends_the_session(app, accounts, cli_revoke):
    client = signed_in(app, accounts["acme"]["operator"])
    page = client.get("/dashboard").get_data(as_text=True)
    assert client.post("/dashboard/signout", data={"csrf_token": csrf(page)}).status_code == 302
    assert client.get("/dashboard").status_code == 302

    client = signed_in(app, accounts["acme"]["operator"])
    cli_revoke(accounts["acme"]["operator"])
    assert client.get("/dashboard").status_code == 302


def test_signing_out_ends_the_session_for_a_copy_of_its_cookie_too(app, accounts):
    """The cookie is the session: a copy taken before signing out (a shared machine, a proxy's log) must not
    still open the dashboard for the rest of its 12 hours; other sessions of the same key go on."""
    client = signed_in(app, accounts["acme"]["operator"])
    elsewhere = signed_in(app, accounts["acme"]["operator"])
    copied = client.get_cookie("tracker_dashboard", path="/dashboard").value
    page = client.get("/dashboard").get_data(as_text=True)
    assert client.post("/dashboard/signout", data={"csrf_token": csrf(page)}).status_code == 302

    thief = app.test_client()
    thief.set_cookie("tracker_dashboard", copied, path="/dashboard")
    response = thief.get("/dashboard")
    assert response.status_code == 302 and "/dashboard/signin" in response.location
    refused = thief.post("/dashboard/failed/discard", data={"id": accounts["acme"]["poison"], "reason": "x",
                                                            "csrf_token": csrf(page)})
    assert refused.status_code == 302 and "/dashboard/signin" in refused.location
    with app.extensions["tracker"].db.session() as session:
        assert session.get(InboxEvent, accounts["acme"]["poison"]).state == "failed"
    assert elsewhere.get("/dashboard").status_code == 200


@pytest.fixture
def cli_revoke(app):
    from tracker.db import keys, repository

    def revoke(key: str) -> None:
        with app.extensions["tracker"].db.transaction() as session:
            assert repository.revoke_key(session, keys.split(key)[0])
    return revoke


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(app, accounts):
    acme = accounts["acme"]
    client = signed_in(app, acme["operator"])
    for token in ("", "forged-token"):
        response = client.post("/dashboard/failed/discard", data={"id": acme["poison"], "reason": "forged",
                                                                   "csrf_token": token})
        assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    # Another session's token is no better.
    other_session = signed_in(app, acme["operator"])
    foreign = csrf(other_session.get("/dashboard").get_data(as_text=True))
    assert client.post("/dashboard/failed/discard", data={"id": acme["poison"], "reason": "x",
                                                          "csrf_token": foreign}).status_code == 400
    with app.extensions["tracker"].db.session() as session:
        assert session.get(InboxEvent, acme["poison"]).state == "failed"


def test_the_overview_shows_the_accounts_own_counts(app, accounts):
    html = signed_in(app, accounts["acme"]["operator"]).get("/dashboard").get_data(as_text=True)
    # acme's inbox: 3 x (send, delivery) + 2 x (send, bounce) + 1 poisoned row, all ses, all just now.
    assert html.count('data-provider="ses">11<') == 2  # the 24-hour and the 30-day chart
    assert 'data-status="DELIVERED">3<' in html and 'data-status="BOUNCED">2<' in html
    assert re.search(r'id="failed-count">.*?<span class="value">1<', html, re.S)
    assert re.search(r'id="parked-count">.*?<span class="value">1<', html, re.S)
    assert "<svg" in html and "http://" not in html.split("<main>")[1]  # nothing fetched from elsewhere


def test_pages_allow_no_script_no_other_origin_and_no_framing(app, accounts):
    client = signed_in(app, accounts["acme"]["operator"])
    for path in ("/dashboard", "/dashboard/signin", "/dashboard/failed", "/dashboard/webhooks"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
        assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Frame-Options"] == "DENY"
        assert "<script" not in response.get_data(as_text=True) and " style=" not in response.get_data(as_text=True)


def test_while_the_database_is_away_pages_say_so_as_a_page_and_a_missing_page_is_a_page_too(app, accounts):
    """The dashboard answers in its own shape, HTML, whatever refuses the request: a database outage is
    a 503 page saying to retry (with Retry-After), signed in or signing in, and a path it does not
    have a 404 page, not the APIs' JSON error shown raw in the operator's browser."""
    from tests.support.harness import RecordingWaker
    from tracker import create_app
    from tracker.config import Config

    up = signed_in(app, accounts["acme"]["operator"])
    down = create_app(Config(database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none",
                             secret_key=app.extensions["tracker"].config.secret_key), waker=RecordingWaker())
    client = down.test_client()
    form = client.get("/dashboard/signin").get_data(as_text=True)
    signing_in = client.post("/dashboard/signin", data={"key": accounts["acme"]["operator"], "csrf_token": csrf(form)})
    client.set_cookie("tracker_dashboard", up.get_cookie("tracker_dashboard", path="/dashboard").value,
                      path="/dashboard")  # the operator's session, from before the outage
    overview = client.get("/dashboard")

    for response in (signing_in, overview):
        assert (response.status_code, response.mimetype) == (503, "text/html"), response.get_data(as_text=True)
        assert "database is unavailable" in response.get_data(as_text=True) and response.headers["Retry-After"]
        assert response.headers["Content-Security-Policy"] == up.get("/dashboard").headers["Content-Security-Policy"]
    missing = up.get("/dashboard/no-such-page")
    assert (missing.status_code, missing.mimetype) == (404, "text/html")


def test_each_page_shows_only_the_signed_in_accounts_data(app, accounts):
    acme, other = accounts["acme"], accounts["other"]
    client = signed_in(app, acme["operator"])

    overview = client.get("/dashboard").get_data(as_text=True)
    assert 'data-status="DELIVERED">3<' in overview  # not 4: other's delivery is not counted

    found = client.get("/dashboard/deliveries", query_string={"message_id": other["ok"][0]}).get_data(as_text=True)
    assert "No delivery of this account matches" in found
    with app.extensions["tracker"].db.session() as session:
        from tracker.db.models import Delivery
        others = session.scalars(select(Delivery.id).where(Delivery.account_id == other["id"])).all()
    assert all(client.get(f"/dashboard/deliveries/{n}").status_code == 404 for n in others)

    failed = client.get("/dashboard/failed").get_data(as_text=True)
    assert f'id="event-{acme["poison"]}"' in failed and f'id="event-{other["poison"]}"' not in failed
    assert client.get("/dashboard/failed/confirm", query_string={"action": "replay", "id": other["poison"]}
                      ).status_code == 404
    token = csrf(failed)
    client.post("/dashboard/failed/discard", data={"id": other["poison"], "reason": "not mine", "csrf_token": token})

    suppressions = client.get("/dashboard/suppressions").get_data(as_text=True)
    assert "acme-bounce-0@example.com" in suppressions and "other-bounce-0@example.com" not in suppressions
    client.post("/dashboard/suppressions/remove", data={"address": "other-bounce-0@example.com", "csrf_token": token})

    webhooks = client.get("/dashboard/webhooks").get_data(as_text=True)
    assert "acme.example.com" in webhooks and "other.example.com" not in webhooks
    assert client.get(f"/dashboard/webhooks/{other['subscription']}/replay").status_code == 404
    assert client.post(f"/dashboard/webhooks/{other['subscription']}/replay",
                       data={"csrf_token": token}).status_code == 404

    # other's data is as it was.
    other_client = signed_in(app, other["operator"])
    assert f'id="event-{other["poison"]}"' in other_client.get("/dashboard/failed").get_data(as_text=True)
    assert "other-bounce-0@example.com" in other_client.get("/dashboard/suppressions").get_data(as_text=True)
    assert 'class="parked">1<' in other_client.get("/dashboard/webhooks").get_data(as_text=True)


def test_a_deliverys_timeline_shows_every_event_with_the_bounce_details(app, accounts):
    client = signed_in(app, accounts["acme"]["operator"])
    found = client.get("/dashboard/deliveries", query_string={"recipient": "ACME-bounce-1@Example.com"})
    link = re.search(r'href="(/dashboard/deliveries/\d+)">acme-bounce-1<', found.get_data(as_text=True)).group(1)
    timeline = client.get(link).get_data(as_text=True)
    assert re.search(r'id="delivery-status">BOUNCED<', timeline)
    events = re.findall(r'<li class="event">', timeline)
    assert len(events) == 2  # the send and the bounce
    assert "PERMANENT" in timeline and "5.1.1" in timeline and "550 5.1.1 no such user" in timeline


def test_a_long_timeline_is_shown_a_page_at_a_time_oldest_first(app, accounts, monkeypatch):
    """A delivery's history grows with every open and click: the page shows HISTORY_PAGE events and a link to
    the next ones, never the whole history at once."""
    from tracker.http.dashboard import deliveries as deliveries_page

    monkeypatch.setattr(deliveries_page, "HISTORY_PAGE", 1)
    client = signed_in(app, accounts["acme"]["operator"])
    found = client.get("/dashboard/deliveries", query_string={"recipient": "acme-bounce-1@example.com"})
    link = re.search(r'href="(/dashboard/deliveries/\d+)">acme-bounce-1<', found.get_data(as_text=True)).group(1)
    first = client.get(link).get_data(as_text=True)
    assert len(re.findall(r'<li class="event">', first)) == 1 and "bounced" not in first.split('id="timeline"')[1]
    assert "2 events in all" in first
    later = re.search(r'<a href="([^"]+)">Later events</a>', first).group(1).replace("&amp;", "&")
    second = client.get(later).get_data(as_text=True)
    assert len(re.findall(r'<li class="event">', second)) == 1 and "bounced" in second.split('id="timeline"')[1]
    assert "Later events" not in second
    # A cursor that is no time (or whose UTC is past year 9999) starts from the first event: never a 500.
    for junk in ("garbage", "9999-12-31T23:59:59-14:00|x"):
        assert 'class="event">' in client.get(link, query_string={"after": junk}).get_data(as_text=True)


def test_replaying_a_failed_event_after_the_fix_processes_it(app, accounts):
    acme = accounts["acme"]
    client = signed_in(app, acme["operator"])
    failed = client.get("/dashboard/failed").get_data(as_text=True)
    assert POISON in failed  # the raw payload is shown
    confirm = client.get("/dashboard/failed/confirm", query_string={"action": "replay", "id": acme["poison"]})
    assert confirm.status_code == 200 and "Yes, replay" in confirm.get_data(as_text=True)
    _fix(app, acme["poison"], "acme-late")

    done = client.post("/dashboard/failed/replay", data={"id": acme["poison"], "csrf_token": csrf(failed)},
                       follow_redirects=True)
    assert "replayed 1: now processed 1, still failing 0" in done.get_data(as_text=True)
    found = client.get("/dashboard/deliveries", query_string={"message_id": "acme-late"}).get_data(as_text=True)
    assert "DELIVERED" in found


def test_discarding_everything_matching_a_filter_records_who_and_why(app, accounts):
    acme = accounts["acme"]
    client = signed_in(app, acme["operator"])
    confirm = client.get("/dashboard/failed/confirm", query_string={"action": "discard", "provider": "ses"})
    assert "1 failed event(s)" in confirm.get_data(as_text=True)
    done = client.post("/dashboard/failed/discard", data={"provider": "ses", "reason": "garbage from a test",
                                                          "csrf_token": csrf(confirm.get_data(as_text=True))},
                       follow_redirects=True)
    assert "discarded 1" in done.get_data(as_text=True)
    with app.extensions["tracker"].db.session() as session:
        row = session.get(InboxEvent, acme["poison"])
        assert (row.state, row.discard_reason) == ("discarded", "garbage from a test")
        assert row.discarded_by.startswith("key:") and row.discarded_by[4:] in acme["operator"]
        assert session.get(InboxEvent, accounts["other"]["poison"]).state == "failed"


def test_removing_a_suppression_is_audited_like_the_api(app, accounts):
    client = signed_in(app, accounts["acme"]["operator"])
    page = client.get("/dashboard/suppressions", query_string={"address": "acme-bounce-0@example.com"})
    assert "acme-bounce-1@example.com" not in page.get_data(as_text=True)  # the search narrows the list
    done = client.post("/dashboard/suppressions/remove", data={"address": "acme-bounce-0@example.com",
                                                               "csrf_token": csrf(page.get_data(as_text=True))},
                       follow_redirects=True)
    assert "removed acme-bounce-0@example.com" in done.get_data(as_text=True)
    with app.extensions["tracker"].db.session() as session:
        [audit] = session.scalars(select(SuppressionRemoval)).all()
    assert audit.address == "acme-bounce-0@example.com" and audit.removed_by in accounts["acme"]["operator"]
    assert audit.suppression["reason"] and audit.suppression["message_id"] == "acme-bounce-0"


def test_parked_webhook_events_are_queued_again(app, accounts):
    acme = accounts["acme"]
    client = signed_in(app, acme["operator"])
    page = client.get(f"/dashboard/webhooks/{acme['subscription']}/replay").get_data(as_text=True)
    done = client.post(f"/dashboard/webhooks/{acme['subscription']}/replay", data={"csrf_token": csrf(page)},
                       follow_redirects=True)
    assert "1 parked event(s)" in done.get_data(as_text=True)
    assert 'class="parked">0<' in done.get_data(as_text=True)


def _fix(app, row_id: int, message_id: str) -> None:
    """What a fixed parser would read in the poisoned row: here the stored body itself is made readable."""
    from tests.support.ses_events import for_message
    from sqlalchemy import update

    to = f"{message_id}@example.com"
    body = envelope(for_message("event/delivery.json", message_id, [to], delivery={"recipients": [to]}))
    with app.extensions["tracker"].db.transaction() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == row_id).values(body=body))


def test_tracker_run_prints_the_dashboard_and_its_operator_key_which_shows_the_demo_bounce(tmp_path):
    """The embedded default (SQLite): the banner's curls, then the dashboard as `tracker run` says to open it."""
    from http.cookiejar import CookieJar
    from pathlib import Path
    import urllib.parse
    import urllib.request

    from tests.support.processes import ROOT, find_deliveries, free_port, http, poll, python, running, \
        wait_for_log, wait_for_port

    port = free_port()
    log = tmp_path / "run.log"
    env = {"TRACKER_DATABASE_URL": f"sqlite:///{tmp_path}/tracker.db", "TRACKER_BROKER_URL": ""}
    with running(python("-m", "tracker.cli.main", "run", "--port", str(port)), env, log, cwd=tmp_path) as process:
        wait_for_port(port, process, log)
        text = wait_for_log(log, "Dashboard", process)
        base = f"http://127.0.0.1:{port}"
        dashboard, operator = re.search(r"Dashboard:\s+(\S+)\s+\(operator key: (\S+)\)", text).groups()
        key = re.search(r"API key \(account \"demo\"\): (\S+)", text).group(1)
        assert dashboard == f"{base}/dashboard"
        hook = re.search(r"SES hook \(any topic\):\s+(\S+)", text).group(1)
        # The banner's curls post the examples as sent now (var/demo/, signed by this folder's key) ...
        posted = re.findall(r"--data-binary @(\S+) ", text)
        assert [Path(p).name for p in posted] == ["ses-bounce.json", "ses-delivery.json"]
        for path in posted:
            assert http("POST", hook, (tmp_path / path).read_bytes(),
                        {"Content-Type": "text/plain; charset=UTF-8"})[0] == 200
        # ... and the repository's example (signed once, sent 2026-11-22) is accepted as well.
        assert http("POST", hook, (ROOT / "examples/ses-bounce.json").read_bytes(),
                    {"Content-Type": "text/plain; charset=UTF-8"})[0] == 200
        assert poll(lambda: len(find_deliveries(base, key, status="BOUNCED")) == 2 or None)
        assert poll(lambda: find_deliveries(base, key, status="DELIVERED"))

        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        form = browser.open(f"{dashboard}/signin").read().decode()
        signed_in = browser.open(f"{dashboard}/signin", urllib.parse.urlencode(
            {"key": operator, "csrf_token": csrf(form)}).encode())
        overview = signed_in.read().decode()
        assert signed_in.url == dashboard
        assert overview.count('data-provider="ses">3<') == 2  # three received now: in both charts
        # Sent now: the banner's two in the statuses; the repository's example was sent weeks ago.
        assert 'data-status="BOUNCED">1<' in overview and 'data-status="DELIVERED">1<' in overview
        reputation = browser.open(f"{dashboard}/reputation").read().decode()
        assert "example.com" in reputation and 'id="bounce-rate">50.00%<' in reputation
        found = browser.open(f"{dashboard}/deliveries?recipient=bounce%40simulator.amazonses.com").read().decode()
        timeline = re.search(r'href="(/dashboard/deliveries/\d+)"', found).group(1)
        assert 'id="delivery-status">BOUNCED<' in browser.open(f"{base}{timeline}").read().decode()


def test_the_charts_count_events_by_the_hour_and_day_they_arrived_closed_hours_remembered(app):
    """Events received now, 3 h, 26 h and 10 days ago: the 24-hour chart has two, the 30-day chart all;
    a later view adds what arrived since (the hours already over are not counted again)."""
    from datetime import timedelta
    from sqlalchemy import update

    from tracker.db.models import utcnow

    account_id, operator, _, token = make_account(app, "acme")
    now = utcnow()
    ids = store(app, account_id, token, [envelope(POISON + str(n)) for n in range(4)])
    with app.extensions["tracker"].db.transaction() as session:
        ages = (timedelta(0), timedelta(hours=3), timedelta(hours=26), timedelta(days=10))
        for row_id, age in zip(ids, ages, strict=True):
            session.execute(update(InboxEvent).where(InboxEvent.id == row_id).values(received_at=now - age))
    client = signed_in(app, operator)

    html = client.get("/dashboard").get_data(as_text=True)
    assert re.findall(r'data-provider="ses">(\d+)<', html) == ["2", "4"]
    three_hours_ago = (now - timedelta(hours=3)).strftime("%H:00")
    assert f"{three_hours_ago}: 1 (ses 1)" in html  # the bar's tooltip names its hour

    store(app, account_id, token, [envelope(POISON + "later")])
    html = client.get("/dashboard").get_data(as_text=True)
    assert re.findall(r'data-provider="ses">(\d+)<', html) == ["3", "5"]


def test_statuses_count_every_delivery_sent_in_the_window_exactly_under_its_status_now(app):
    """From the statistics table: sent 10 min, 3 days and 40 days ago; the 24-hour column has the first,
    the 7-day column the first two (each message counted under its status after its events)."""
    from datetime import timedelta

    from tracker.db.models import utcnow

    account_id, operator, _, token = make_account(app, "acme")
    now = utcnow()
    for prefix, age, delivered, bounced in (("new", timedelta(minutes=10), 4, 1), ("week", timedelta(days=3), 2, 3),
                                            ("old", timedelta(days=40), 5, 5)):
        events, _, _ = messages(prefix, delivered, bounced, sent_at=now - age)
        store(app, account_id, token, [envelope(e) for e in events])
    drain(app)
    html = signed_in(app, operator).get("/dashboard").get_data(as_text=True)
    assert 'data-status="DELIVERED">4<' in html and 'data-status="BOUNCED">1<' in html
    assert 'data-status-week="DELIVERED">6<' in html and 'data-status-week="BOUNCED">4<' in html
    assert 'data-status="SENT">0<' in html and 'data-status-week="COMPLAINT">0<' in html


def _form_fields(html: str) -> dict[str, str]:
    """The named fields of the page's confirmation form, as a browser would send them."""
    form = re.search(r'<form method="post" action="[^"]*" class="confirm">(.*?)</form>', html, re.S).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def test_replaying_everything_matching_past_a_batch_reaches_the_rest_when_the_first_fail_again(app, monkeypatch):
    """With more failed events than one confirmation takes, the next confirmation goes on after the last one
    replayed: rows that failed again are not taken again in place of the rest (as `--all-failed` walks by id)."""
    from tracker.http.dashboard import failed as failed_page

    monkeypatch.setattr(failed_page, "MAX_IDS", 2)
    account_id, operator, _, token = make_account(app, "acme")
    ids = store(app, account_id, token, [envelope(POISON + str(n)) for n in range(3)])
    drain(app)
    client = signed_in(app, operator)

    confirm = client.get("/dashboard/failed/confirm", query_string={"action": "replay"}).get_data(as_text=True)
    assert "3 failed event(s)" in confirm and "takes the first 2" in confirm
    first = client.post("/dashboard/failed/replay", data=_form_fields(confirm), follow_redirects=True)
    page = first.get_data(as_text=True)
    assert "replayed 2: now processed 0, still failing 2" in page
    # Offered the rest at once: the one event after those replayed, not the two that failed again.
    assert "Replay 1 failed event(s)?" in page, page
    second = client.post("/dashboard/failed/replay", data=_form_fields(page), follow_redirects=True)
    assert "replayed 1: now processed 0, still failing 1" in second.get_data(as_text=True)
    with app.extensions["tracker"].db.session() as session:
        assert [session.get(InboxEvent, n).replay_count for n in ids] == [1, 1, 1]
