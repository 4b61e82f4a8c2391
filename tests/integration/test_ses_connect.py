"""`tracker ses connect` and `tracker ses doctor` against moto's server.

With the real database and the tracker's own handshake.

What a user relies on: one command wires every link; running it again changes nothing and
says so; whatever link someone breaks, doctor names it (exit 1) and connect repairs it; and
the SNS subscription is confirmed by the tracker itself, the way AWS requires.

The AWS side is moto's server (SNS, STS, SESv2 configuration sets, SES identity topics),
with two stand-ins (tests/support/aws.py): AwsHandshake, because moto confirms HTTPS
subscriptions on the spot where AWS waits for the endpoint, and RecordedAws for the calls
moto does not implement, answered from AWS's API reference (tests/fixtures/aws).
"""
from __future__ import annotations

import json
import threading
import uuid
from urllib.parse import urlsplit

import boto3
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.support.aws import AwsHandshake, RecordedAws, moto_subscription, reset_moto
from tests.support.harness import drain
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification
from tests.support.sqs import AWS_ENV, moto_sqs
from tracker.db import repository
from tracker.cli.main import main
from tracker.db.models import InboxEvent, SnsSubscription, Source
from tracker.adapters.ses_setup import clients as clients_module
from tracker.adapters.ses_setup.links import EVENT_TYPES
from tracker.adapters.ses_setup.policy import SID

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
AWS_ACCOUNT = "123456789012"  # moto's, and the recorded responses'
TOPIC = f"arn:aws:sns:{REGION}:{AWS_ACCOUNT}:tracker-acme-ses"
PUBLIC = "https://tracker.example.test"
CONFIGURATION_SET = ["--configuration-set", "marketing"]
IDENTITY = ["--identity", "example.com"]
GET_DESTINATIONS = ("sesv2", "GetConfigurationSetEventDestinations")
GET_NOTIFICATIONS = ("ses", "GetIdentityNotificationAttributes")


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_sqs() as url:
        yield url


@pytest.fixture
def handshake(pki) -> AwsHandshake:
    return AwsHandshake(pki)


@pytest.fixture
def opener(handshake):
    """The tracker's confirmer GETs SubscribeURLs from "AWS" (overrides the suite's recording opener)."""
    return handshake.opener


@pytest.fixture
def aws(app, moto_endpoint, handshake, monkeypatch) -> RecordedAws:
    """A fresh moto behind every client the commands make, SNS deliveries going to the tracker (``app``)."""
    reset_moto(moto_endpoint)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    recorded = RecordedAws()
    real = clients_module.aws_clients

    def clients(region, endpoint_url=None):
        made = real(region, endpoint_url)
        for client in (made.sts, made.sns, made.ses, made.sesv2):
            recorded.attach(client)
        return made

    monkeypatch.setattr(clients_module, "aws_clients", clients)
    handshake.install(monkeypatch)
    handshake.deliver = lambda endpoint, envelope: post(app, urlsplit(endpoint).path, envelope)
    yield recorded
    assert recorded.unused() == [], "recorded answers the commands never asked for"


@pytest.fixture
def worker(app):
    """The tracker's worker, running beside the commands: it confirms subscriptions from the inbox."""
    stop, failures = threading.Event(), []

    def run() -> None:
        while not stop.is_set():
            try:
                drain(app)
            except Exception as error:  # surfaced at teardown; a dead worker would only look like a timeout
                failures.append(error)
                return
            stop.wait(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)
    assert failures == []


@pytest.fixture
def account(app):
    with app.extensions["tracker"].db.transaction() as session:
        return repository.create_account(session, "acme").id


@pytest.fixture
def tracker(pg_url, moto_endpoint):
    """Run `tracker ses ...` as a user would; returns (exit code, output)."""
    def run(*args) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["ses", *args], catch_exceptions=False, env={
            "TRACKER_DATABASE_URL": pg_url, "TRACKER_BROKER_URL": "", "TRACKER_AWS_ENDPOINT_URL": moto_endpoint})
        return result.exit_code, result.output

    return run


def connect(tracker, *extra, link=CONFIGURATION_SET) -> tuple[int, str]:
    return tracker("connect", "--account", "acme", "--region", REGION, "--public-url", PUBLIC, *link,
                   "--wait", "30", *extra)


def doctor(tracker, *extra, link=CONFIGURATION_SET) -> tuple[int, str]:
    return tracker("doctor", "--account", "acme", "--region", REGION, "--public-url", PUBLIC, *link, *extra)


def post(app, path: str, envelope: dict):
    return app.test_client().post(path, data=json.dumps(envelope), content_type="text/plain; charset=UTF-8")


def sns(moto_endpoint):
    return boto3.client("sns", endpoint_url=moto_endpoint, region_name=REGION)


def ses_source(app) -> Source:
    with app.extensions["tracker"].db.session() as session:
        (source,) = session.scalars(select(Source).where(Source.provider == "ses"))
        return source


def hook(app) -> str:
    return f"{PUBLIC}/hooks/sns/{ses_source(app).token}"


def our_subscription(moto_endpoint, app) -> dict:
    client = sns(moto_endpoint)
    (listed,) = [s for s in client.list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
                 if s["Endpoint"] == hook(app)]
    return client.get_subscription_attributes(SubscriptionArn=listed["SubscriptionArn"])["Attributes"]


def line(output: str, link: str) -> str:
    """The doctor line of ``link``."""
    return next(text for text in output.splitlines() if text.split(":")[0].split(None, 1)[-1] == link)


def connected_from_nothing(aws, tracker) -> str:
    aws.answer("sesv2", "CreateConfigurationSetEventDestination")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")  # the final check reads it back
    code, output = connect(tracker, "--create-configuration-set")
    assert code == 0, output
    aws.calls.clear()
    return output


# --- connect from nothing, and again -------------------------------------------------------

def test_connect_from_nothing_wires_every_link_and_the_tracker_confirms_the_subscription(
        aws, tracker, app, account, worker, handshake, moto_endpoint):
    aws.answer("sesv2", "CreateConfigurationSetEventDestination")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = connect(tracker, "--create-configuration-set")
    assert code == 0, output
    assert "Every link is in place." in output
    assert f"SES hook: {hook(app)}" in output

    # The source: the account's one SES source, accepting exactly this topic.
    assert ses_source(app).topic_arns == [TOPIC]
    # The topic and its policy: SES may publish for this AWS account; AWS's default statement stays.
    policy = json.loads(sns(moto_endpoint).get_topic_attributes(TopicArn=TOPIC)["Attributes"]["Policy"])
    statements = {statement.get("Sid"): statement for statement in policy["Statement"]}
    assert statements[SID]["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statements[SID]["Condition"] == {"StringEquals": {"AWS:SourceAccount": AWS_ACCOUNT}}
    assert "__default_statement_ID" in statements
    # The subscription: HTTPS to the hook, raw delivery off, confirmed by the tracker itself.
    attributes = our_subscription(moto_endpoint, app)
    assert (attributes["Protocol"], attributes["RawMessageDelivery"], attributes["PendingConfirmation"]) == (
        "https", "false", "false")
    assert handshake.sent == 1
    with app.extensions["tracker"].db.session() as session:
        record = session.scalar(select(SnsSubscription))
        confirmation = session.scalar(select(InboxEvent).where(InboxEvent.kind == "subscription_confirmation"))
    assert (record.topic_arn, record.state, record.subscription_arn) == (TOPIC, "confirmed",
                                                                      attributes["SubscriptionArn"])
    assert confirmation.state == "processed"
    # The configuration set, created, with an SNS destination of all ten event types.
    assert boto3.client("sesv2", endpoint_url=moto_endpoint, region_name=REGION).get_configuration_set(
        ConfigurationSetName="marketing")["ConfigurationSetName"] == "marketing"
    assert aws.made("sesv2", "CreateConfigurationSetEventDestination") == [{
        "ConfigurationSetName": "marketing", "EventDestinationName": "tracker",
        "EventDestination": {"Enabled": True, "MatchingEventTypes": list(EVENT_TYPES),
                             "SnsDestination": {"TopicArn": TOPIC}}}]


def test_a_second_connect_changes_nothing_and_says_so(aws, tracker, app, account, worker, handshake):
    connected_from_nothing(aws, tracker)
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = connect(tracker)
    assert code == 0, output
    assert "Nothing to change: every link is in place." in output
    assert f"SES hook: {hook(app)}" in output
    assert all(operation.startswith(("Get", "List")) for operation in aws.operations()), aws.operations()
    assert handshake.sent == 1


def test_dry_run_prints_the_plan_and_changes_nothing(aws, tracker, app, account, moto_endpoint):
    code, output = connect(tracker, "--create-configuration-set", "--dry-run")
    assert code == 0, output
    assert "Plan (6 changes):" in output and "Dry run: nothing was changed." in output
    assert "subscribe https://tracker.example.test/hooks/sns/<token of the new source>" in output
    assert sns(moto_endpoint).list_topics()["Topics"] == []
    with app.extensions["tracker"].db.session() as session:
        assert session.scalars(select(Source)).all() == []
    assert all(operation.startswith(("Get", "List")) for operation in aws.operations()), aws.operations()


def test_a_missing_configuration_set_stops_connect_before_it_changes_anything(aws, tracker, app, account,
                                                                              moto_endpoint):
    code, output = connect(tracker)
    assert code == 1
    assert "cannot connect: the configuration set marketing does not exist in eu-west-1" in output
    assert sns(moto_endpoint).list_topics()["Topics"] == []


# --- break each link: doctor names it, connect repairs it -----------------------------------

def delete_topic(moto_endpoint, app):
    sns(moto_endpoint).delete_topic(TopicArn=TOPIC)  # its subscriptions go with it, as on AWS


def reset_policy(moto_endpoint, app):
    client = sns(moto_endpoint)
    policy = json.loads(client.get_topic_attributes(TopicArn=TOPIC)["Attributes"]["Policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != SID]
    client.set_topic_attributes(TopicArn=TOPIC, AttributeName="Policy", AttributeValue=json.dumps(policy))


def unsubscribe(moto_endpoint, app):
    sns(moto_endpoint).unsubscribe(SubscriptionArn=our_subscription(moto_endpoint, app)["SubscriptionArn"])


def raw_delivery_on(moto_endpoint, app):
    sns(moto_endpoint).set_subscription_attributes(
        SubscriptionArn=our_subscription(moto_endpoint, app)["SubscriptionArn"],
        AttributeName="RawMessageDelivery", AttributeValue="true")


def left_pending(moto_endpoint, app):
    # E.g. the tracker was unreachable when SNS sent the confirmation (moto has no API for it).
    AwsHandshake.mark_pending(moto_subscription(hook(app)))


def source_forgets_the_topic(moto_endpoint, app):
    with app.extensions["tracker"].db.transaction() as session:
        session.execute(update(Source).values(topic_arns=[f"arn:aws:sns:{REGION}:{AWS_ACCOUNT}:ses-old"]))


def destination_is(fixture):
    def stage(moto_endpoint, app):
        return fixture  # what GetConfigurationSetEventDestinations answers now (recorded)
    return stage


BREAKAGES = {
    # name: (how to break it, doctor's BROKEN links, what connect's plan says)
    "topic deleted": (delete_topic, {"topic", "topic policy", "subscription"},
                      ["create the SNS topic tracker-acme-ses", "let ses.amazonaws.com publish",
                       "subscribe https://tracker.example.test/hooks/sns/"]),
    "topic policy reset": (reset_policy, {"topic policy"}, ["let ses.amazonaws.com publish"]),
    "unsubscribed": (unsubscribe, {"subscription"}, ["subscribe https://tracker.example.test/hooks/sns/"]),
    "raw delivery on": (raw_delivery_on, {"raw delivery"}, ["turn raw message delivery off"]),
    "left pending": (left_pending, {"subscription"}, ["so that SNS resends the confirmation"]),
    "source forgot the topic": (source_forgets_the_topic, {"source"}, ["let the SES source accept"]),
    "destination lost two types": (destination_is("sesv2/event-destinations-eight-types.json"),
                                   {"event destination"}, ["update the event destination tracker of marketing"]),
    "destination disabled": (destination_is("sesv2/event-destinations-disabled.json"), {"event destination"},
                             ["update the event destination tracker of marketing"]),
    "destination to another topic": (destination_is("sesv2/event-destinations-other-topic.json"),
                                     {"event destination"}, ["update the event destination tracker of marketing"]),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_doctor_names_a_broken_link_and_connect_repairs_it(breakage, aws, tracker, app, account, worker,
                                                           handshake, moto_endpoint):
    connected_from_nothing(aws, tracker)
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = doctor(tracker)
    assert code == 0, output

    stage, broken_links, plan = BREAKAGES[breakage]
    destinations = stage(moto_endpoint, app) or "sesv2/event-destinations-complete.json"
    aws.answer(*GET_DESTINATIONS, destinations)
    code, output = doctor(tracker)
    assert code == 1, output
    assert {line.split(":")[0].split(None, 1)[1]
            for line in output.splitlines() if line.startswith("BROKEN")} == broken_links
    assert "fix: tracker ses connect --account acme --region eu-west-1" in output

    aws.answer(*GET_DESTINATIONS, destinations)
    if destinations != "sesv2/event-destinations-complete.json":
        aws.answer("sesv2", "UpdateConfigurationSetEventDestination")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = connect(tracker)
    assert code == 0, output
    planned = output.split("Plan (", 1)[1].split("done:", 1)[0]
    for change in plan:
        assert change in planned
    assert len([line for line in planned.splitlines() if line.startswith("  - ")]) == len(plan)
    assert "Every link is in place." in output

    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = doctor(tracker)
    assert code == 0, output
    assert "BROKEN" not in output
    assert our_subscription(moto_endpoint, app)["PendingConfirmation"] == "false"
    if destinations != "sesv2/event-destinations-complete.json":
        assert aws.made("sesv2", "UpdateConfigurationSetEventDestination")[-1]["EventDestination"] == {
            "Enabled": True, "MatchingEventTypes": list(EVENT_TYPES), "SnsDestination": {"TopicArn": TOPIC}}


# --- the handshake, when it does not complete -----------------------------------------------

def test_connect_says_when_the_confirmation_never_reached_the_tracker(aws, tracker, app, account, worker,
                                                                     handshake, moto_endpoint):
    handshake.deliver = lambda endpoint, envelope: None  # SNS cannot reach the public URL
    aws.answer("sesv2", "CreateConfigurationSetEventDestination")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = tracker("connect", "--account", "acme", "--region", REGION, "--public-url", PUBLIC,
                           *CONFIGURATION_SET, "--create-configuration-set", "--wait", "0")
    assert code == 1, output
    assert ("still pending after 0 s: the tracker has received no SubscriptionConfirmation for the topic; "
            f"SNS must reach {hook(app)} over HTTPS") in output
    assert "BROKEN  subscription: pending confirmation" in output

    # Once the tracker is reachable, connect again has SNS resend the confirmation.
    handshake.deliver = lambda endpoint, envelope: post(app, urlsplit(endpoint).path, envelope)
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = connect(tracker)
    assert code == 0, output
    assert "so that SNS resends the confirmation" in output and "the subscription is confirmed" in output


def test_doctor_says_when_the_confirmation_waits_for_a_worker(aws, tracker, app, account, handshake):
    # No worker: the SubscriptionConfirmation is stored but nobody confirms it.
    aws.answer("sesv2", "CreateConfigurationSetEventDestination")
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = tracker("connect", "--account", "acme", "--region", REGION, "--public-url", PUBLIC,
                           *CONFIGURATION_SET, "--create-configuration-set", "--wait", "0")
    assert code == 1, output
    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = doctor(tracker)
    assert code == 1
    assert "has not processed it yet: is a worker running (`tracker worker`)?" in line(output, "subscription")


# --- identity notifications ----------------------------------------------------------------

def test_connect_an_identity_from_nothing_then_again(aws, tracker, app, account, worker, moto_endpoint):
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-unset.xml")
    for _ in range(3):
        aws.answer("ses", "SetIdentityHeadersInNotificationsEnabled", "ses/set-identity-headers.xml")
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-complete.xml")
    code, output = connect(tracker, link=IDENTITY)
    assert code == 0, output
    assert "Every link is in place." in output
    # SetIdentityNotificationTopic is moto's: its state is what SES would now hold.
    from moto.ses.models import ses_backends
    assert ses_backends[AWS_ACCOUNT][REGION].sns_topics["example.com"] == {
        "Bounce": TOPIC, "Complaint": TOPIC, "Delivery": TOPIC}
    assert aws.made("ses", "SetIdentityHeadersInNotificationsEnabled") == [
        {"Identity": "example.com", "NotificationType": t, "Enabled": True}
        for t in ("Bounce", "Complaint", "Delivery")]

    aws.calls.clear()
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-complete.xml")
    code, output = connect(tracker, link=IDENTITY)
    assert code == 0 and "Nothing to change" in output, output
    assert all(operation.startswith(("Get", "List")) for operation in aws.operations())


def test_doctor_names_an_identity_notification_sent_elsewhere(aws, tracker, app, account, worker):
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-unset.xml")
    for _ in range(3):
        aws.answer("ses", "SetIdentityHeadersInNotificationsEnabled", "ses/set-identity-headers.xml")
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-complete.xml")
    assert connect(tracker, link=IDENTITY)[0] == 0

    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-delivery-elsewhere.xml")
    code, output = doctor(tracker, link=IDENTITY)
    assert code == 1
    assert f"Delivery goes to arn:aws:sns:{REGION}:{AWS_ACCOUNT}:ses-old" in line(output, "notifications")
    assert "not included in Delivery notifications" in line(output, "original headers")


def test_an_identity_ses_does_not_have_stops_connect(aws, tracker, app, account, moto_endpoint):
    aws.answer(*GET_NOTIFICATIONS, "ses/identity-notifications-unknown.xml")
    code, output = connect(tracker, link=IDENTITY)
    assert code == 1
    assert "cannot connect: SES has no identity example.com in eu-west-1" in output
    assert sns(moto_endpoint).list_topics()["Topics"] == []


# --- doctor for scripts, and the events that came through ----------------------------------

def test_doctor_json_from_nothing(aws, tracker, account):
    code, output = doctor(tracker, "--json")
    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False and report["topic_arn"] == TOPIC and report["hook_url"] is None
    assert {link["link"]: link["status"] for link in report["links"]} == {
        "topic": "broken", "topic policy": "broken", "source": "broken", "subscription": "broken",
        "configuration set": "broken"}
    assert report["last_events"] == {t: None for t in EVENT_TYPES.values()}


def test_doctor_says_when_the_last_event_of_each_type_arrived(aws, tracker, app, account, worker, pki):
    connected_from_nothing(aws, tracker)
    message_id = str(uuid.uuid4())
    for event in (for_message("event/delivery.json", message_id, ["jane@example.com"]),
                  bounce(message_id, "jane@example.com", "Permanent", str(uuid.uuid4()), "2026-01-02T03:04:05.000Z")):
        response = post(app, urlsplit(hook(app)).path, pki.sign(notification(event, topic_arn=TOPIC)))
        assert response.status_code == 200, response.get_json()
    drain(app)
    with app.extensions["tracker"].db.session() as session:
        received = session.scalars(select(InboxEvent.received_at).where(InboxEvent.kind == "notification")).all()

    aws.answer(*GET_DESTINATIONS, "sesv2/event-destinations-complete.json")
    code, output = doctor(tracker)
    assert code == 0, output
    lines = {text.split()[0]: text for text in output.splitlines() if text.startswith("  ")}
    assert lines["Delivery"].split(None, 1)[1] == received[0].strftime("%Y-%m-%d %H:%M:%S UTC")
    assert lines["Bounce"].split(None, 1)[1] == received[1].strftime("%Y-%m-%d %H:%M:%S UTC")
    assert lines["Open"].split(None, 1)[1] == "none"


# --- what the operator must do first -------------------------------------------------------

def test_an_unknown_account_is_named_with_the_command_that_creates_it(aws, tracker):
    code, output = connect(tracker)
    assert code == 1
    assert "no account 'acme' (create it with `tracker accounts create acme`)" in output


def test_no_region_anywhere_asks_for_one(aws, tracker, account, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, output = tracker("doctor", "--account", "acme", "--public-url", PUBLIC, *CONFIGURATION_SET)
    assert code == 1
    assert "no AWS region: pass --region or set AWS_DEFAULT_REGION" in output


def test_a_call_aws_refuses_is_reported_not_thrown(aws, tracker, app, account, worker):
    connected_from_nothing(aws, tracker)
    aws.answer(*GET_DESTINATIONS, "sesv2/access-denied.json", status=403,
               headers={"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/"})
    code, output = doctor(tracker)
    assert code == 1
    assert ("AWS refused GetConfigurationSetEventDestinations: AccessDeniedException: User: "
            "arn:aws:iam::123456789012:user/deployer is not authorized") in output
