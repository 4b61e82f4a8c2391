"""POST /hooks/<provider>/<token> on real PostgreSQL: authentic events in, forgeries out, nothing lost."""
from __future__ import annotations

from datetime import datetime, UTC

import pytest
from sqlalchemy import select

from tests.support.harness import drain
from tests.support.webhooks.catalog import PROVIDERS
from tracker.db import repository
from tracker.db.models import DeliveryEvent, InboxEvent
from tracker.providers import registry

by_name = pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)


@pytest.fixture
def source(app):
    """A factory: an account with a key and a source of the given provider."""
    def make(provider, name="acme"):
        with app.extensions["tracker"].db.transaction() as session:
            account = repository.create_account(session, name)
            key = repository.create_api_key(session, account)
            token = repository.create_source(session, account, provider.name, secret=provider.secret).token
        return f"/hooks/{provider.name}/{token}", {"Authorization": f"Bearer {key}"}
    return make


def inbox_rows(app) -> list[InboxEvent]:
    with app.extensions["tracker"].db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def post(app, hook, body, headers):
    return app.test_client().post(hook, data=body, headers=headers)


@by_name
def test_a_signed_bounce_becomes_bounced(app, source, provider):
    hook, auth = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))

    response = post(app, hook, body, headers)
    drain(app)

    assert response.status_code == 200, response.json
    [expected] = [e for e in registry.parse_webhook(provider.name, body, provider.content_type, datetime.now(UTC))
                  if e.type.value == "bounced"]
    items = app.test_client().get("/api/v1/deliveries", query_string={"message_id": expected.message_id},
                                  headers=auth).json["data"]
    assert [(i["recipient"], i["status"]) for i in items] == [(expected.recipient, "BOUNCED")]


@by_name
def test_the_same_push_twice_is_stored_once(app, source, provider):
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))

    first, again = post(app, hook, body, headers), post(app, hook, body, headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json["status"] == "duplicate"
    assert len(inbox_rows(app)) == 1


@by_name
def test_a_request_signed_with_another_secret_is_refused_and_stored_nowhere(app, source, provider):
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture), provider.wrong_secret())

    response = post(app, hook, body, headers)

    assert response.status_code == 403
    assert response.json["error"] == "forbidden" and response.json["detail"]
    assert "WWW-Authenticate" not in response.headers  # a challenge only asks for credentials not sent
    assert inbox_rows(app) == []


@by_name
def test_a_request_without_credentials_is_refused(app, source, provider):
    hook, _ = source(provider)
    body = provider.fixture(provider.bounce_fixture)

    response = post(app, hook, body, {"Content-Type": provider.content_type})

    assert response.status_code in (401, 403)
    assert inbox_rows(app) == []


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.name in ("infobip", "postmark")], ids=lambda p: p.name)
def test_a_sender_that_waits_for_the_basic_challenge_gets_it_and_gets_in(app, source, provider):
    # An HTTP client given https://user:password@host/... may send the credentials only once a 401
    # asks for them (RFC 7235: a 401 carries WWW-Authenticate), as SNS documents its own does.
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
    assert headers["Authorization"].startswith("Basic ")

    challenged = post(app, hook, body, {name: value for name, value in headers.items() if name != "Authorization"})
    scheme, _, parameters = challenged.headers.get("WWW-Authenticate", "").partition(" ")
    answered = post(app, hook, body, headers)

    assert challenged.status_code == 401 and challenged.json["error"] == "unauthenticated"
    assert scheme == "Basic" and 'realm="' in parameters
    assert answered.status_code == 200
    assert len(inbox_rows(app)) == 1


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.name in ("infobip", "postmark")], ids=lambda p: p.name)
def test_basic_credentials_that_cannot_be_read_are_challenged_too(app, source, provider):
    hook, _ = source(provider)
    body = provider.fixture(provider.bounce_fixture)

    response = post(app, hook, body, {"Content-Type": provider.content_type, "Authorization": "Basic !!!"})

    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").startswith("Basic ")
    assert inbox_rows(app) == []


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.name not in ("infobip", "postmark")],
                         ids=lambda p: p.name)
def test_a_signature_scheme_refusal_asks_for_no_basic_credentials(app, source, provider):
    # Their senders sign; a Basic challenge would ask for credentials these sources never take.
    hook, _ = source(provider)

    response = post(app, hook, provider.fixture(provider.bounce_fixture), {"Content-Type": provider.content_type})

    assert response.status_code in (401, 403)
    assert "WWW-Authenticate" not in response.headers


@by_name
def test_an_authentic_payload_that_cannot_be_read_is_kept_and_explained(app, source, provider):
    hook, _ = source(provider)
    body, headers = provider.signed(provider.garbage)

    response = post(app, hook, body, headers)
    drain(app)

    assert response.status_code == provider.unprocessable_status
    assert response.json["error"] == "unprocessable" and response.json["detail"]
    [row] = inbox_rows(app)
    assert row.state == "failed" and row.error


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.unknown_fixture], ids=lambda p: p.name)
def test_an_unknown_event_type_is_recorded_not_dropped(app, source, provider):
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.unknown_fixture))

    response = post(app, hook, body, headers)
    drain(app)

    assert response.status_code == 200
    [row] = inbox_rows(app)
    assert row.state == "processed"
    with app.extensions["tracker"].db.session() as session:
        types = list(session.scalars(select(DeliveryEvent.type)))
    assert types and set(types) == {"unmapped"}


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.one_time_token], ids=lambda p: p.name)
def test_a_reused_token_on_another_body_is_refused(app, source, provider):
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
    assert post(app, hook, body, headers).status_code == 200

    # Someone replays the captured signature fields on a body of their own.
    forged = body.replace(b"@", b"@x", 1)
    response = post(app, hook, forged, headers)

    assert response.status_code == 403
    assert response.json["error"] == "replayed"
    assert len(inbox_rows(app)) == 1


def test_unknown_provider_and_wrong_provider_tokens_are_404(app, source):
    mailgun = next(p for p in PROVIDERS if p.name == "mailgun")
    hook, _ = source(mailgun)
    token = hook.rsplit("/", 1)[1]

    assert app.test_client().post(f"/hooks/telegraph/{token}", data=b"{}").status_code == 404
    assert app.test_client().post(f"/hooks/postmark/{token}", data=b"{}").status_code == 404


# Bytes no genuine sender puts there, refused as the forgeries they are. The checks once let
# them through as a ValueError, which the receiver takes for the source's own unusable secret:
# 503 (so the forger was told to retry) and an error logged against a source that was fine.

@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.name in ("infobip", "postmark")], ids=lambda p: p.name)
def test_basic_credentials_of_non_ascii_characters_are_refused_not_blamed_on_the_source(app, source, provider):
    hook, _ = source(provider)
    body = provider.fixture(provider.bounce_fixture)

    # base64 has only ASCII characters; "é" arrives as the latin-1 character WSGI decodes it to.
    response = post(app, hook, body, {"Content-Type": provider.content_type, "Authorization": "Basic dXNlcjrp"
                                      "é"})

    assert response.status_code == 401, response.json
    assert response.headers.get("WWW-Authenticate", "").startswith("Basic ")
    assert inbox_rows(app) == []


def test_a_sendgrid_signature_of_non_ascii_characters_is_refused_not_blamed_on_the_source(app, source):
    sendgrid = next(p for p in PROVIDERS if p.name == "sendgrid")
    hook, _ = source(sendgrid)
    body, headers = sendgrid.signed(sendgrid.fixture(sendgrid.bounce_fixture))
    headers["X-Twilio-Email-Event-Webhook-Signature"] = "MEUCIQ" + "é" * 8

    response = post(app, hook, body, headers)

    assert response.status_code == 403, response.json
    assert inbox_rows(app) == []


def test_a_mailgun_body_with_an_integer_python_cannot_read_is_refused_not_blamed_on_the_source(app, source):
    mailgun = next(p for p in PROVIDERS if p.name == "mailgun")
    hook, _ = source(mailgun)
    # Valid JSON, but Python (3.11+) reads no integer of more than 4300 digits: json.loads
    # raises a plain ValueError, not the JSONDecodeError every caller catches.
    body = b'{"signature": {"timestamp": ' + b"1" * 5000 + b', "token": "t", "signature": "s"}}'

    response = post(app, hook, body, {"Content-Type": "application/json"})

    assert response.status_code == 401, response.json
    assert inbox_rows(app) == []


def test_an_authentic_body_with_an_integer_python_cannot_read_is_answered_unprocessable(app, source):
    # Authenticated (Basic), so it is stored; but it is unreadable input, not a parser bug: the
    # sender hears why (not a 200 for events that will never exist) and the row fails as unreadable.
    postmark = next(p for p in PROVIDERS if p.name == "postmark")
    hook, _ = source(postmark)
    recorded = postmark.fixture("bounce-hard.json")
    assert b'"ID": 3719297970,' in recorded
    body, headers = postmark.signed(recorded.replace(b'"ID": 3719297970,', b'"ID": ' + b"9" * 5000 + b","))

    response = post(app, hook, body, headers)
    drain(app)

    assert response.status_code == 400, response.json
    assert response.json["error"] == "unprocessable" and "4300" in response.json["detail"]
    [row] = inbox_rows(app)
    assert (row.state, row.failure_kind) == ("failed", "parse"), row.error


# Mailgun posts every failure it gives up on as severity "permanent", hard bounces or not: "soft
# bounced/temporarily failed emails exhausting all (re)delivery attempts" and "ESP blocks due to poor
# sender domain or IP reputation" too, and only invalid recipients go on its Bounces list (help
# article "What is the difference between soft (temporary) and hard (permanent) bounces?").
@pytest.mark.parametrize("name, address, bounce_type, suppressed", [
    ("failed-permanent.json", "carol@example.com", "PERMANENT", 200),  # reason "bounce": no such mailbox
    ("failed-permanent-old.json", "carol@example.org", "TRANSIENT", 404),  # mailbox full until retries ran out
    ("failed-permanent-espblock.json", "dan@example.net", "TRANSIENT", 404),  # the sender's IP blocked
])
def test_only_a_mailgun_hard_bounce_suppresses_its_address_at_once(app, source, name, address, bounce_type,
                                                                  suppressed):
    mailgun = next(p for p in PROVIDERS if p.name == "mailgun")
    hook, auth = source(mailgun)
    body, headers = mailgun.signed(mailgun.fixture(name))

    assert post(app, hook, body, headers).status_code == 200
    drain(app)

    client = app.test_client()
    [item] = client.get("/api/v1/deliveries", query_string={"recipient": address}, headers=auth).json["data"]
    assert (item["status"], item["bounce_type"]) == ("BOUNCED", bounce_type)
    assert client.get(f"/api/v1/suppressions/{address}", headers=auth).status_code == suppressed


def test_a_mailgun_send_its_suppression_list_stopped_counts_as_suppressed_not_as_a_hard_bounce(app, source):
    # A permanent failure with reason "suppress-bounce" (or -complaint, -unsubscribe): Mailgun did
    # not send, the address being on one of its suppression lists, and its Metrics count "Bounced"
    # as permanent failures minus suppressions; as SES's OnAccountSuppressionList, in neither rate.
    from tracker.db.models import Account

    mailgun = next(p for p in PROVIDERS if p.name == "mailgun")
    hook, _ = source(mailgun)
    for name in ("failed-permanent.json", "failed-permanent-suppressed.json"):
        body, headers = mailgun.signed(mailgun.fixture(name))
        assert post(app, hook, body, headers).status_code == 200
    drain(app)

    with app.extensions["tracker"].db.session() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == "acme"))
        counts = repository.reputation_counts(session, account_id, datetime(2026, 1, 1, tzinfo=UTC))
    assert counts.account == {"hard_bounce": 1, "suppressed": 1}


# SendCloud checks a webhook URL before it saves it: "我们会对用户提供的 URL 做检测. 需要此 HTTP 服务能够
# 正确响应 get | post 请求, 并且保证返回的 HTTP 状态码 为 200" (sendcloud2013/sendcloud_docs,
# guide/advance.md "WebHook", and the console's TRY IT -> WebHook page): the hook must answer its
# GET, and a POST that carries no push at all, with a 200, or the URL cannot be configured.
SENDCLOUD = next(p for p in PROVIDERS if p.name == "sendcloud")


def test_sendcloud_url_check_by_get_is_answered_200_and_stores_nothing(app, source):
    hook, _ = source(SENDCLOUD)

    checked = app.test_client().get(hook)
    headed = app.test_client().head(hook)

    assert (checked.status_code, headed.status_code) == (200, 200)
    assert inbox_rows(app) == []


def test_sendcloud_url_check_by_an_empty_post_is_answered_200_and_stores_nothing(app, source):
    hook, _ = source(SENDCLOUD)

    checked = post(app, hook, b"", {"Content-Type": "application/x-www-form-urlencoded"})

    assert checked.status_code == 200
    assert checked.json["events"] == 0
    assert inbox_rows(app) == []


def test_a_url_check_names_a_sendcloud_source_or_is_404(app, source):
    mailgun_hook, _ = source(next(p for p in PROVIDERS if p.name == "mailgun"))
    mailgun_token = mailgun_hook.rsplit("/", 1)[1]

    assert app.test_client().get("/hooks/sendcloud/no-such-token").status_code == 404
    assert app.test_client().get(f"/hooks/sendcloud/{mailgun_token}").status_code == 404
    # Providers that check no URL keep answering only POST.
    assert app.test_client().get(mailgun_hook).status_code == 405


def test_a_sendcloud_post_with_fields_but_no_signature_is_still_refused(app, source):
    hook, _ = source(SENDCLOUD)

    response = post(app, hook, b"event=deliver&emailId=m0%24a%40example.com",
                    {"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 401
    assert inbox_rows(app) == []


@by_name
def test_an_authentic_push_under_an_outlandish_content_type_is_stored_not_answered_503(app, source, provider):
    # The Content-Type is only a hint (provider-formats §7: never trust it) and the inbox keeps
    # 100 characters of it; a longer media type once made the insert fail and the receiver
    # answer 503 "database_unavailable", so the sender retried an event that could never be stored.
    hook, _ = source(provider)
    body, headers = provider.signed(provider.fixture(provider.bounce_fixture))
    headers["Content-Type"] = provider.content_type + "-" + "x" * 200

    response = post(app, hook, body, headers)

    assert response.status_code == 200, response.json
    [row] = inbox_rows(app)
    assert row.content_type.startswith(provider.content_type)


def test_an_infobip_report_dropped_for_the_sender_is_an_error_and_one_for_the_recipient_a_suppressed_bounce(
        app, source):
    # Recorded pushes: UNDELIVERABLE with an error of family 1 (Dropped): one for an invalid
    # *sender* address, one for a recipient Infobip suppresses after an earlier bounce.
    # provider-formats §3.1: key on the error's groupId (1 Dropped, 2 Bounced, 3 System error) +
    # permanent; only what is against the recipient's address may suppress it. Infobip did not
    # send either, so neither counts in the bounce rate.
    from tracker.db.models import Account

    infobip = next(p for p in PROVIDERS if p.name == "infobip")
    hook, auth = source(infobip)
    body, headers = infobip.signed(infobip.fixture("dlr/undeliverable-dropped.json"))

    assert post(app, hook, body, headers).status_code == 200
    drain(app)

    client = app.test_client()
    for message_id, address, status, suppressed in (("vzl7uvqhq7lt1fa66718", "joao@example.com", "ERROR", 404),
                                                    ("1955tld5lqf3mn9ou3tz", "paulo@example.net", "BOUNCED", 200)):
        [item] = client.get("/api/v1/deliveries", query_string={"message_id": message_id}, headers=auth).json["data"]
        assert item["status"] == status
        assert client.get(f"/api/v1/suppressions/{address}", headers=auth).status_code == suppressed
    with app.extensions["tracker"].db.session() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == "acme"))
        counts = repository.reputation_counts(session, account_id, datetime(2024, 1, 1, tzinfo=UTC))
    assert counts.account == {"not_sent": 1, "suppressed": 1}