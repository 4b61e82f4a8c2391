"""Reading every link as it is now: AWS through boto3 (reads only), the tracker through the repository."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC

from botocore.exceptions import ClientError
from sqlalchemy.orm import Session

from tracker.db import repository
from tracker.db.engine import Database
from tracker.providers.ses import parse as ses
from tracker.providers.ses.envelope import EnvelopeError, decode_envelope
from tracker.adapters.ses_setup.clients import AwsClients
from tracker.adapters.ses_setup.links import (
    NOTIFICATION_TYPES,
    PROTOCOL,
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
    hook_url,
    topic_arn,
)

LOOKBACK = timedelta(days=30)  # how far back doctor looks for the last event of each type
HANDSHAKE_LOOKBACK = timedelta(days=3)  # SNS drops a subscription left pending this long


def read_state(request: Request, clients: AwsClients, db: Database, *, now: datetime | None = None) -> State:
    """Every link of ``request``; raises SetupError when the tracker account does not exist."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        account = repository.account_by_name(session, request.account)
        if account is None:
            raise SetupError(f"no account {request.account!r} (create it with `tracker accounts create "
                             f"{request.account}`)")
        account_id = account.id
        sources = tuple(Source(s.id, s.token, tuple(s.topic_arns or ()))
                        for s in repository.sources_of(session, account, "ses"))
    caller = clients.sts.get_caller_identity()
    aws_account, partition = caller["Account"], caller["Arn"].split(":")[1]
    arn = topic_arn(partition, request.region, aws_account, request.topic_name)
    topic = read_topic(clients.sns, arn)
    listed = list_https_subscriptions(clients.sns, arn) if topic else []
    source = choose_source(sources, arn, request.public_url, frozenset(endpoint for endpoint, _ in listed))
    hook = hook_url(request.public_url, source.token) if source else None
    handshake, arrivals = Handshake(), {}
    if source:
        with db.session() as session:
            handshake = read_handshake(session, source.id, arn, now - HANDSHAKE_LOOKBACK)
            by_type = repository.last_arrivals(session, account_id, source.id, now - LOOKBACK)
        arrivals = {t: by_type[ses.TYPE_MAP[t].value] for t in request.event_types
                    if ses.TYPE_MAP[t].value in by_type}
    return State(
        aws_account=aws_account,
        partition=partition,
        topic_arn=arn,
        topic=topic,
        subscriptions=tuple(subscription(clients.sns, endpoint, listed_arn, hook) for endpoint, listed_arn in listed),
        source=source,
        configuration_set=(read_configuration_set(clients.sesv2, request.configuration_set)
                           if request.configuration_set else None),
        identity=read_identity(clients.ses, request.identity) if request.identity else None,
        handshake=handshake,
        last_arrivals=arrivals,
    )


def read_topic(sns, arn: str) -> Topic | None:
    try:
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    except ClientError as error:
        if _code(error) in ("NotFound", "NotFoundException"):
            return None
        raise
    try:
        policy = json.loads(attributes.get("Policy") or "null")
    except ValueError:
        policy = None  # unreadable: judged as not letting SES publish, and replaced by connect
    return Topic(arn, policy if isinstance(policy, dict) else None, attributes.get("KmsMasterKeyId") or None)


def list_https_subscriptions(sns, arn: str) -> list[tuple[str, str | None]]:
    """(endpoint, ARN) of the topic's HTTPS subscriptions; ARN None while one is pending confirmation."""
    found = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for listed in page.get("Subscriptions", []):
            if listed.get("Protocol") != PROTOCOL:
                continue
            # A subscription still pending is listed with "PendingConfirmation" in place of its ARN.
            subscription_arn = listed.get("SubscriptionArn", "")
            if subscription_arn.startswith("arn:") or subscription_arn == "PendingConfirmation":
                found.append((listed.get("Endpoint", ""), subscription_arn if subscription_arn.startswith("arn:")
                              else None))
    return found


def subscription(sns, endpoint: str, arn: str | None, hook: str | None) -> Subscription:
    """One listed subscription; its attributes are read only for this tracker's hook."""
    if endpoint == hook and arn:
        pending, raw = subscription_flags(sns, arn)
        return Subscription(endpoint, arn, pending, raw)
    return Subscription(endpoint, arn, pending=arn is None)


def subscription_flags(sns, subscription_arn: str) -> tuple[bool, bool]:
    """(pending confirmation, raw message delivery) of a subscription."""
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
    return (str(attributes.get("PendingConfirmation", "false")).lower() == "true",
            str(attributes.get("RawMessageDelivery", "false")).lower() == "true")


def read_configuration_set(sesv2, name: str) -> ConfigurationSet:
    try:
        sesv2.get_configuration_set(ConfigurationSetName=name)
    except ClientError as error:
        if _code(error) == "NotFoundException":
            return ConfigurationSet(name, exists=False)
        raise
    listed = sesv2.get_configuration_set_event_destinations(ConfigurationSetName=name)["EventDestinations"]
    return ConfigurationSet(name, True, tuple(
        EventDestination(
            name=destination["Name"],
            enabled=bool(destination.get("Enabled", False)),
            event_types=frozenset(destination.get("MatchingEventTypes", [])),
            topic_arn=(destination.get("SnsDestination") or {}).get("TopicArn"),
        )
        for destination in listed
    ))


def read_identity(ses_client, name: str) -> Identity:
    answered = ses_client.get_identity_notification_attributes(Identities=[name])["NotificationAttributes"]
    # SES leaves out an identity it does not have; it may echo a domain in another case.
    attributes = answered.get(name) or next((v for k, v in answered.items() if k.lower() == name.lower()), None)
    if attributes is None:
        return Identity(name, exists=False)
    return Identity(
        name, True,
        topics={t: attributes.get(f"{t}Topic") or None for t in NOTIFICATION_TYPES},
        headers={t: bool(attributes.get(f"HeadersIn{t}NotificationsEnabled", False)) for t in NOTIFICATION_TYPES},
    )


def read_handshake(session: Session, source_id: int, arn: str, since: datetime) -> Handshake:
    """What the tracker recorded for the topic's subscription, and its newest confirmation since ``since``."""
    record = repository.sns_subscription(session, source_id, arn)
    confirmation = None
    for row in repository.recent_subscription_confirmations(session, source_id, since):
        try:
            if decode_envelope(row.body).topic_arn == arn:
                confirmation = row
                break
        except EnvelopeError:
            continue
    return Handshake(
        recorded=record.state if record else None,
        recorded_at=record.updated_at if record else None,
        received_at=confirmation.received_at if confirmation else None,
        inbox_state=confirmation.state if confirmation else None,
        error=confirmation.error if confirmation else None,
    )


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
