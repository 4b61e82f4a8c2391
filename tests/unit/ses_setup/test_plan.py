"""The planner: from (what is asked, what exists) to the changes connect makes and the lines doctor prints."""
from __future__ import annotations

import dataclasses
from datetime import datetime, UTC

import pytest

from tracker.adapters.ses_setup import changes as c
from tracker.adapters.ses_setup.links import (
    EVENT_TYPES,
    ConfigurationSet,
    EventDestination,
    Handshake,
    Identity,
    Request,
    SetupError,
    Source,
    State,
    Subscription,
    Topic,
    choose_source,
    default_topic_name,
)
from tracker.adapters.ses_setup.plan import BROKEN, NOTE, OK, make_plan
from tracker.adapters.ses_setup.policy import ses_statement

ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:tracker-acme-ses"
PUBLIC = "https://tracker.example.com"
TOKEN = "tok3n"
HOOK = f"{PUBLIC}/hooks/sns/{TOKEN}"
SUBSCRIPTION_ARN = f"{TOPIC}:0b7c4b5e-0000-4000-8000-000000000001"
TEN = frozenset(EVENT_TYPES)
DEFAULT_POLICY = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
    "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
    "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": TOPIC,
    "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}
POLICY = {**DEFAULT_POLICY, "Statement": [*DEFAULT_POLICY["Statement"], ses_statement(TOPIC, ACCOUNT)]}


def request(**overrides) -> Request:
    values = dict(account="acme", region="eu-west-1", public_url=PUBLIC, topic_name=default_topic_name("acme"),
                  configuration_set="marketing")
    values.update(overrides)
    if "identity" in overrides:
        values["configuration_set"] = None
    return Request(**values)


def connected(**overrides) -> State:
    """Every link in place (configuration set flavour)."""
    values = dict(
        aws_account=ACCOUNT, partition="aws", topic_arn=TOPIC,
        topic=Topic(TOPIC, POLICY),
        subscriptions=(Subscription(HOOK, SUBSCRIPTION_ARN, pending=False, raw_delivery=False),),
        source=Source(1, TOKEN, (TOPIC,)),
        configuration_set=ConfigurationSet("marketing", True, (EventDestination("tracker", True, TEN, TOPIC),)),
    )
    values.update(overrides)
    return State(**values)


def statuses(plan) -> dict[str, str]:
    return {f.link: f.status for f in plan.findings if f.status != NOTE}


def test_everything_in_place_plans_nothing_and_every_link_is_ok():
    plan = make_plan(request(), connected())
    assert plan.changes == ()
    assert not plan.broken
    assert statuses(plan) == {"topic": OK, "topic policy": OK, "source": OK, "subscription": OK, "raw delivery": OK,
                              "event destination": OK}


def test_from_nothing_every_link_is_made_in_order():
    nothing = connected(topic=None, subscriptions=(), source=None,
                        configuration_set=ConfigurationSet("marketing", exists=False))
    plan = make_plan(request(create_configuration_set=True), nothing)
    assert [type(change) for change in plan.changes] == [
        c.CreateTopic, c.AllowSesToPublish, c.CreateSource, c.Subscribe, c.CreateConfigurationSet,
        c.PutEventDestination]
    subscribe, destination = plan.changes[3], plan.changes[5]
    assert subscribe.token is None  # the source is created first; its token is known then
    assert destination == c.PutEventDestination("marketing", "tracker", TOPIC, tuple(EVENT_TYPES), exists=False)
    assert plan.changes[1].statement["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}
    assert plan.blockers == ()


def test_a_missing_configuration_set_blocks_connect_unless_it_may_create_it():
    plan = make_plan(request(), connected(configuration_set=ConfigurationSet("marketing", exists=False)))
    assert plan.blockers and "--create-configuration-set" in plan.blockers[0]
    finding = next(f for f in plan.findings if f.link == "configuration set")
    assert finding.status == BROKEN and finding.fix.endswith("--create-configuration-set")
    assert not any(isinstance(change, (c.CreateConfigurationSet, c.PutEventDestination)) for change in plan.changes)


@pytest.mark.parametrize("destination, problem", [
    (EventDestination("tracker", True, TEN - {"DELIVERY_DELAY", "SUBSCRIPTION"}, TOPIC),
     "misses DeliveryDelay, Subscription"),
    (EventDestination("tracker", False, TEN, TOPIC), "is disabled"),
    (EventDestination("tracker", True, TEN, f"arn:aws:sns:eu-west-1:{ACCOUNT}:ses-old"), "sends to"),
    (EventDestination("tracker", True, TEN, None), "something other than SNS"),
])
def test_a_wrong_event_destination_is_named_and_updated_in_place(destination, problem):
    plan = make_plan(request(), connected(configuration_set=ConfigurationSet("marketing", True, (destination,))))
    finding = next(f for f in plan.findings if f.link == "event destination")
    assert finding.status == BROKEN and problem in finding.detail
    assert plan.changes == (c.PutEventDestination("marketing", "tracker", TOPIC, tuple(EVENT_TYPES), exists=True),)


def test_the_destination_to_the_topic_counts_whatever_its_name_and_others_are_left_alone():
    destinations = (EventDestination("metrics", True, frozenset({"SEND"}), None),
                    EventDestination("ses-to-tracker", True, TEN, TOPIC))
    plan = make_plan(request(), connected(configuration_set=ConfigurationSet("marketing", True, destinations)))
    assert plan.changes == () and not plan.broken


def test_a_configuration_set_without_our_destination_gets_one():
    others = (EventDestination("metrics", True, frozenset({"SEND"}), None),)
    plan = make_plan(request(), connected(configuration_set=ConfigurationSet("marketing", True, others)))
    assert plan.changes == (c.PutEventDestination("marketing", "tracker", TOPIC, tuple(EVENT_TYPES), exists=False),)


@pytest.mark.parametrize("policy", [None, DEFAULT_POLICY])
def test_a_policy_that_does_not_let_ses_publish_gets_the_statement(policy):
    plan = make_plan(request(), connected(topic=Topic(TOPIC, policy)))
    assert statuses(plan)["topic policy"] == BROKEN
    assert plan.changes == (c.AllowSesToPublish(TOPIC, ses_statement(TOPIC, ACCOUNT)),)


def test_a_missing_subscription_is_made_to_the_sources_hook():
    plan = make_plan(request(), connected(subscriptions=(Subscription("https://old.example.com/hooks/sns/x",
                                                                      "arn:x", False),)))
    finding = next(f for f in plan.findings if f.link == "subscription")
    assert finding.status == BROKEN and HOOK in finding.detail
    assert plan.changes == (c.Subscribe(TOPIC, PUBLIC, TOKEN),)
    assert any(f.status == NOTE and "old.example.com" in f.detail for f in plan.findings)


def test_a_pending_subscription_is_subscribed_again_and_says_what_the_tracker_saw():
    handshake = Handshake(received_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), inbox_state="pending")
    plan = make_plan(request(), connected(subscriptions=(Subscription(HOOK, None, pending=True),),
                                          handshake=handshake))
    finding = next(f for f in plan.findings if f.link == "subscription")
    assert finding.status == BROKEN
    assert "pending confirmation" in finding.detail and "is a worker running" in finding.detail
    assert plan.changes == (c.Subscribe(TOPIC, PUBLIC, TOKEN, resend=True),)


def test_raw_delivery_is_turned_off():
    plan = make_plan(request(), connected(subscriptions=(Subscription(HOOK, SUBSCRIPTION_ARN, False, True),)))
    assert statuses(plan)["raw delivery"] == BROKEN
    assert plan.changes == (c.TurnOffRawDelivery(SUBSCRIPTION_ARN),)


def test_a_source_that_does_not_accept_the_topic_is_told_to():
    plan = make_plan(request(), connected(source=Source(1, TOKEN, ("arn:aws:sns:eu-west-1:1:other",))))
    assert statuses(plan)["source"] == BROKEN
    assert plan.changes == (c.AllowTopicOnSource(1, TOPIC),)


def test_a_source_accepting_any_topic_is_used_as_it_is():
    plan = make_plan(request(), connected(source=Source(1, TOKEN, ("*",))))
    assert plan.changes == () and "any topic" in next(f.detail for f in plan.findings if f.link == "source")


OTHER = "arn:aws:sns:eu-west-1:1:other"


@pytest.mark.parametrize("sources, subscribed, chosen", [
    ((), (), None),
    ((Source(1, "a", (OTHER,)), Source(2, "b", (OTHER,))), (), 1),  # the oldest, to be told about the topic
    ((Source(1, "a", (OTHER,)), Source(2, "b", ("*",))), (), 2),
    ((Source(1, "a", ("*",)), Source(2, "b", (TOPIC,))), (), 2),  # naming the topic beats taking any
    # A source already subscribed to the topic beats one that only names it (a manual set-up is kept).
    ((Source(1, "a", (TOPIC,)), Source(2, "b", (TOPIC,))), (f"{PUBLIC}/hooks/sns/b",), 2),
    # ...but only if it accepts the topic: a subscribed hook that refuses it is no better than any.
    ((Source(1, "a", (TOPIC,)), Source(2, "b", (OTHER,))), (f"{PUBLIC}/hooks/sns/b",), 1),
])
def test_which_source_connect_uses(sources, subscribed, chosen):
    source = choose_source(sources, TOPIC, PUBLIC, frozenset(subscribed))
    assert (source.id if source else None) == chosen


def test_identity_notifications_from_nothing():
    state = connected(configuration_set=None, identity=Identity("example.com", True))
    plan = make_plan(request(identity="example.com"), state)
    assert plan.changes == (
        *(c.SetIdentityTopic("example.com", t, TOPIC) for t in ("Bounce", "Complaint", "Delivery")),
        *(c.IncludeOriginalHeaders("example.com", t) for t in ("Bounce", "Complaint", "Delivery")),
    )
    assert statuses(plan)["notifications"] == BROKEN and statuses(plan)["original headers"] == BROKEN


def test_identity_notifications_in_place_and_one_type_elsewhere():
    topics = {"Bounce": TOPIC, "Complaint": TOPIC, "Delivery": "arn:aws:sns:eu-west-1:1:old"}
    headers = {"Bounce": True, "Complaint": True, "Delivery": True}
    state = connected(configuration_set=None, identity=Identity("example.com", True, topics, headers))
    plan = make_plan(request(identity="example.com"), state)
    assert plan.changes == (c.SetIdentityTopic("example.com", "Delivery", TOPIC),)
    assert "Delivery goes to arn:aws:sns:eu-west-1:1:old" in next(
        f.detail for f in plan.findings if f.link == "notifications")


def test_an_unknown_identity_blocks_connect():
    state = connected(configuration_set=None, identity=Identity("example.com", exists=False))
    plan = make_plan(request(identity="example.com"), state)
    assert plan.blockers and "no identity example.com in eu-west-1" in plan.blockers[0]


def test_an_encrypted_topic_is_mentioned_without_breaking_anything():
    plan = make_plan(request(), connected(topic=Topic(TOPIC, POLICY, kms_key="alias/sns")))
    assert not plan.broken and any(f.status == NOTE and "alias/sns" in f.detail for f in plan.findings)


def test_the_fix_is_the_connect_command_with_the_same_choices():
    plan = make_plan(request(topic_name="ses-events"), connected(topic=None))
    fix = next(f.fix for f in plan.findings if f.link == "topic")
    assert fix == ("tracker ses connect --account acme --region eu-west-1 --public-url https://tracker.example.com "
                   "--configuration-set marketing --topic-name ses-events")


def test_each_account_gets_its_own_topic_by_default():
    # Two accounts on one topic would both accept every event published to it.
    assert default_topic_name("acme") != default_topic_name("globex")
    assert default_topic_name("a b/c") == "tracker-a-b-c-ses"


@pytest.mark.parametrize("url", ["http://tracker.example.com", "tracker.example.com", "https://", "https://x/?a=1"])
def test_the_public_url_must_be_https(url):
    with pytest.raises(SetupError):
        request(public_url=url)


def test_exactly_one_of_configuration_set_and_identity():
    with pytest.raises(SetupError):
        dataclasses.replace(request(), identity="example.com")
