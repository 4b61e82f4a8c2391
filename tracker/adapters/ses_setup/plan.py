"""From what is asked and what exists to the changes connect makes and the lines doctor prints (pure)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, UTC

from tracker.domain import inbox
from tracker.adapters.ses_setup import changes as c
from tracker.adapters.ses_setup.links import (
    DESTINATION_NAME,
    EVENT_TYPES,
    NOTIFICATION_TYPES,
    Handshake,
    Request,
    State,
    hook_url,
)
from tracker.adapters.ses_setup.policy import lets_ses_publish, ses_statement

OK, BROKEN, NOTE = "ok", "broken", "note"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One line of doctor: a link, whether it holds, why not, and what fixes it."""

    link: str
    status: str  # OK | BROKEN | NOTE (worth knowing, breaks nothing)
    detail: str
    fix: str | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    changes: tuple[c.Change, ...]
    findings: tuple[Finding, ...]
    blockers: tuple[str, ...]  # what connect cannot do for the operator; it changes nothing while any remain

    @property
    def broken(self) -> bool:
        return any(finding.status == BROKEN for finding in self.findings)


def make_plan(request: Request, state: State) -> Plan:
    """The changes that make every link right, in the order to apply them, and a finding per link."""
    plan = _Planner(request, state)
    plan.topic()
    plan.source()
    plan.subscription()
    if request.configuration_set:
        plan.event_destination()
    else:
        plan.identity_notifications()
    return Plan(tuple(plan.changes), tuple(plan.findings), tuple(plan.blockers))


class _Planner:
    def __init__(self, request: Request, state: State) -> None:
        self.request, self.state = request, state
        self.topic_arn = state.topic_arn
        self.fix = request.connect_command()
        self.changes: list[c.Change] = []
        self.findings: list[Finding] = []
        self.blockers: list[str] = []

    def ok(self, link: str, detail: str) -> None:
        self.findings.append(Finding(link, OK, detail))

    def broken(self, link: str, detail: str, *change: c.Change, fix: str | None = None) -> None:
        self.findings.append(Finding(link, BROKEN, detail, fix or self.fix))
        self.changes.extend(change)

    def note(self, link: str, detail: str) -> None:
        self.findings.append(Finding(link, NOTE, detail))

    def topic(self) -> None:
        request, state = self.request, self.state
        if state.topic is None:
            self.broken("topic", f"no SNS topic {request.topic_name} in {request.region} "
                                 f"(AWS account {state.aws_account})", c.CreateTopic(request.topic_name))
        else:
            self.ok("topic", state.topic.arn)
            if state.topic.kms_key:
                self.note("topic encryption", f"encrypted with {state.topic.kms_key}: that key's policy must let "
                                              "ses.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt)")
        source_arn = request.ses_resource_arn(state.partition, state.aws_account)
        policy = state.topic.policy if state.topic else None
        if lets_ses_publish(policy, self.topic_arn, state.aws_account, source_arn):
            self.ok("topic policy", f"lets ses.amazonaws.com publish for AWS account {state.aws_account}")
        else:
            detail = "no topic yet" if state.topic is None else "does not let ses.amazonaws.com publish"
            self.broken("topic policy", f"{detail} (for AWS account {state.aws_account})",
                        c.AllowSesToPublish(self.topic_arn, ses_statement(self.topic_arn, state.aws_account)))

    def source(self) -> None:
        source = self.state.source
        if source is None:
            self.broken("source", f"account {self.request.account} has no SES source", c.CreateSource(self.topic_arn))
        elif not source.allows(self.topic_arn):
            accepted = ", ".join(source.topic_arns) or "no topic"
            self.broken("source", f"the SES source does not accept this topic (it accepts {accepted})",
                        c.AllowTopicOnSource(source.id, self.topic_arn))
        else:
            what = "any topic (*)" if self.topic_arn not in source.topic_arns else "the topic"
            self.ok("source", f"accepts {what}; hook {hook_url(self.request.public_url, source.token)}")

    def subscription(self) -> None:
        source, public_url = self.state.source, self.request.public_url
        hook = hook_url(public_url, source.token) if source else None
        ours = [s for s in self.state.subscriptions if hook and s.endpoint == hook]
        for other in self.state.subscriptions:
            if other.endpoint != hook:
                self.note("other subscription", f"the topic also delivers to {other.endpoint}")
        handshake = self.state.handshake
        if not ours:
            detail = f"no HTTPS subscription to this tracker's hook {hook or '(no source yet)'}"
            if handshake.recorded == "unsubscribed":
                detail += f"; the tracker recorded an UnsubscribeConfirmation at {when(handshake.recorded_at)}"
            self.broken("subscription", detail,
                        c.Subscribe(self.topic_arn, public_url, source.token if source else None))
            return
        subscription = ours[0]
        if subscription.pending:
            self.broken("subscription", "pending confirmation: " + handshake_summary(handshake, hook),
                        c.Subscribe(self.topic_arn, public_url, source.token, resend=True))
        else:
            confirmed = (f" (the tracker confirmed it at {when(handshake.recorded_at)})"
                         if handshake.recorded == "confirmed" else "")
            self.ok("subscription", f"{hook}, confirmed{confirmed}")
        if subscription.raw_delivery and subscription.arn:
            self.broken("raw delivery", "on: bodies come without the signed envelope and the tracker refuses them "
                                        "(403)", c.TurnOffRawDelivery(subscription.arn))
        elif subscription.arn:
            self.ok("raw delivery", "off (SNS sends the signed envelope)")

    def event_destination(self) -> None:
        request, configuration_set = self.request, self.state.configuration_set
        name = request.configuration_set
        wanted = tuple(EVENT_TYPES)
        if configuration_set is None or not configuration_set.exists:
            if request.create_configuration_set:
                self.broken("configuration set", f"{name} does not exist in {request.region}",
                            c.CreateConfigurationSet(name),
                            c.PutEventDestination(name, DESTINATION_NAME, self.topic_arn, wanted, exists=False))
            else:
                self.blockers.append(f"the configuration set {name} does not exist in {request.region}: "
                                     "create it, or run connect with --create-configuration-set")
                self.broken("configuration set", f"{name} does not exist in {request.region}",
                            fix=f"{self.fix} --create-configuration-set")
            return
        destinations = configuration_set.destinations
        ours = (next((d for d in destinations if d.topic_arn == self.topic_arn), None)
                or next((d for d in destinations if d.name == DESTINATION_NAME), None))
        if ours is None:
            self.broken("event destination", f"{name} has no event destination to the topic",
                        c.PutEventDestination(name, DESTINATION_NAME, self.topic_arn, wanted, exists=False))
            return
        problems = []
        if ours.topic_arn != self.topic_arn:
            problems.append(f"sends to {ours.topic_arn or 'something other than SNS'}, not the topic")
        if not ours.enabled:
            problems.append("is disabled")
        missing = [EVENT_TYPES[t] for t in wanted if t not in ours.event_types]
        if missing:
            problems.append(f"misses {', '.join(missing)}")
        if problems:
            self.broken("event destination", f"{ours.name} of {name} " + "; ".join(problems),
                        c.PutEventDestination(name, ours.name, self.topic_arn, wanted, exists=True))
        else:
            self.ok("event destination", f"{ours.name} of {name}: enabled, all {len(wanted)} event types to the topic")

    def identity_notifications(self) -> None:
        request, identity = self.request, self.state.identity
        name = request.identity
        if identity is None or not identity.exists:
            self.blockers.append(f"SES has no identity {name} in {request.region}: verify it in SES first "
                                 "(or check --region)")
            self.broken("identity", f"SES has no identity {name} in {request.region}",
                        fix=f"verify {name} in SES ({request.region}), then: {self.fix}")
            return
        wrong = {t: identity.topics.get(t) for t in NOTIFICATION_TYPES if identity.topics.get(t) != self.topic_arn}
        if wrong:
            detail = "; ".join(f"{t} {'goes to ' + topic if topic else 'is not sent to any topic'}"
                               for t, topic in wrong.items())
            self.broken("notifications", detail, *(c.SetIdentityTopic(name, t, self.topic_arn) for t in wrong))
        else:
            self.ok("notifications", f"{', '.join(NOTIFICATION_TYPES)} of {name} go to the topic")
        without = [t for t in NOTIFICATION_TYPES if not identity.headers.get(t)]
        if without:
            self.broken("original headers", f"not included in {', '.join(without)} notifications",
                        *(c.IncludeOriginalHeaders(name, t) for t in without))
        else:
            self.ok("original headers", "included in every notification")


def handshake_summary(handshake: Handshake, hook: str | None) -> str:
    """The tracker's side of a pending subscription, in words an operator can act on."""
    if handshake.received_at is None:
        return (f"the tracker has received no SubscriptionConfirmation for the topic; "
                f"SNS must reach {hook or 'the hook'} over HTTPS")
    received = f"the tracker received the SubscriptionConfirmation at {when(handshake.received_at)}"
    if handshake.inbox_state == inbox.PENDING and handshake.error:
        return f"{received}; confirming it failed and will be retried: {handshake.error}"
    if handshake.inbox_state == inbox.PENDING:
        return f"{received} and has not processed it yet: is a worker running (`tracker worker`)?"
    if handshake.inbox_state == inbox.FAILED:
        return (f"{received} and could not confirm it: {handshake.error} "
                "(see `tracker events list --state failed`)")
    if handshake.inbox_state == inbox.DISCARDED:
        return f"{received}, and an operator discarded it"
    # Processed, yet SNS says pending: that confirmation was for an earlier subscription of the
    # topic (or SNS is a moment behind). Only a new confirmation can settle this one.
    return (f"{received} and confirmed it, yet SNS still says pending (an earlier subscription's, or SNS is "
            "a moment behind): connect again to have SNS resend the confirmation")


def when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
