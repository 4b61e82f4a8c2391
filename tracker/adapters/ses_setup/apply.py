"""Applying a plan: each change is one boto3 call (or one repository write), in the plan's order."""
from __future__ import annotations

import json

from tracker.db import repository
from tracker.db.engine import Database
from tracker.adapters.ses_setup import changes as c
from tracker.adapters.ses_setup.clients import AwsClients
from tracker.adapters.ses_setup.links import PROTOCOL, SetupError, hook_url
from tracker.adapters.ses_setup.policy import with_ses_statement


class Applier:
    """Applies changes one by one, keeping what a later change needs: the new source's token, the subscription."""

    def __init__(self, clients: AwsClients, db: Database, account: str) -> None:
        self.clients, self.db, self.account = clients, db, account
        self.token: str | None = None  # of the source connect created, or subscribed
        self.subscription_arn: str | None = None  # of the subscription connect (re)made: the one to wait for
        self._handlers = {
            c.CreateTopic: self._create_topic,
            c.AllowSesToPublish: self._allow_ses_to_publish,
            c.CreateSource: self._create_source,
            c.AllowTopicOnSource: self._allow_topic_on_source,
            c.Subscribe: self._subscribe,
            c.TurnOffRawDelivery: self._turn_off_raw_delivery,
            c.CreateConfigurationSet: self._create_configuration_set,
            c.PutEventDestination: self._put_event_destination,
            c.SetIdentityTopic: self._set_identity_topic,
            c.IncludeOriginalHeaders: self._include_original_headers,
        }

    def apply(self, change: c.Change) -> str:
        """Make one change; the sentence that says what was done."""
        return self._handlers[type(change)](change)

    def _create_topic(self, change: c.CreateTopic) -> str:
        arn = self.clients.sns.create_topic(Name=change.name)["TopicArn"]
        return f"created the SNS topic {arn}"

    def _allow_ses_to_publish(self, change: c.AllowSesToPublish) -> str:
        # Read the policy now, not at planning time: a new topic has AWS's default policy,
        # and statements someone added meanwhile must survive.
        attributes = self.clients.sns.get_topic_attributes(TopicArn=change.topic_arn)["Attributes"]
        try:
            current = json.loads(attributes.get("Policy") or "null")
        except ValueError:
            current = None
        policy = with_ses_statement(current, change.statement)
        self.clients.sns.set_topic_attributes(TopicArn=change.topic_arn, AttributeName="Policy",
                                              AttributeValue=json.dumps(policy))
        return f"topic policy: statement {change.statement['Sid']} lets ses.amazonaws.com publish"

    def _create_source(self, change: c.CreateSource) -> str:
        with self.db.transaction() as session:
            account = repository.account_by_name(session, self.account)
            if account is None:
                raise SetupError(f"no account {self.account!r}")
            self.token = repository.create_source(session, account, "ses", [change.topic_arn]).token
        return f"created the SES source of {self.account}, accepting the topic"

    def _allow_topic_on_source(self, change: c.AllowTopicOnSource) -> str:
        with self.db.transaction() as session:
            repository.allow_topic(session, change.source_id, change.topic_arn)
        return "the SES source now accepts the topic"

    def _subscribe(self, change: c.Subscribe) -> str:
        token = change.token or self.token
        if token is None:
            raise SetupError("no SES source to subscribe (its creation must come first)")
        self.token = token
        endpoint = hook_url(change.public_url, token)
        # No attributes: RawMessageDelivery defaults to off, and SNS refuses a Subscribe whose
        # attributes differ from an existing subscription's (raw delivery is fixed on its own).
        self.subscription_arn = self.clients.sns.subscribe(
            TopicArn=change.topic_arn, Protocol=PROTOCOL, Endpoint=endpoint, ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return f"subscribed {endpoint} ({self.subscription_arn})"

    def _turn_off_raw_delivery(self, change: c.TurnOffRawDelivery) -> str:
        self.clients.sns.set_subscription_attributes(SubscriptionArn=change.subscription_arn,
                                                     AttributeName="RawMessageDelivery", AttributeValue="false")
        return "raw message delivery is off"

    def _create_configuration_set(self, change: c.CreateConfigurationSet) -> str:
        self.clients.sesv2.create_configuration_set(ConfigurationSetName=change.name)
        return f"created the configuration set {change.name}"

    def _put_event_destination(self, change: c.PutEventDestination) -> str:
        definition = {
            "Enabled": True,
            "MatchingEventTypes": list(change.event_types),
            "SnsDestination": {"TopicArn": change.topic_arn},
        }
        call = (self.clients.sesv2.update_configuration_set_event_destination if change.exists
                else self.clients.sesv2.create_configuration_set_event_destination)
        call(ConfigurationSetName=change.configuration_set, EventDestinationName=change.name,
             EventDestination=definition)
        verb = "updated" if change.exists else "added"
        return f"{verb} the event destination {change.name} of {change.configuration_set}"

    def _set_identity_topic(self, change: c.SetIdentityTopic) -> str:
        self.clients.ses.set_identity_notification_topic(Identity=change.identity,
                                                         NotificationType=change.notification_type,
                                                         SnsTopic=change.topic_arn)
        return f"{change.identity}: {change.notification_type} notifications go to the topic"

    def _include_original_headers(self, change: c.IncludeOriginalHeaders) -> str:
        self.clients.ses.set_identity_headers_in_notifications_enabled(
            Identity=change.identity, NotificationType=change.notification_type, Enabled=True)
        return f"{change.identity}: {change.notification_type} notifications include the original headers"
