"""The changes connect can make, one small value each, with the sentence the plan prints for it."""
from __future__ import annotations

import dataclasses
from typing import Any
from collections.abc import Mapping

from tracker.adapters.ses_setup.links import hook_url


@dataclasses.dataclass(frozen=True)
class CreateTopic:
    name: str

    def describe(self) -> str:
        return f"create the SNS topic {self.name}"


@dataclasses.dataclass(frozen=True)
class AllowSesToPublish:
    """Put the statement into the topic policy (read again at apply time: other statements are kept)."""

    topic_arn: str
    statement: Mapping[str, Any]

    def describe(self) -> str:
        account = self.statement["Condition"]["StringEquals"]["AWS:SourceAccount"]
        return f"let ses.amazonaws.com publish to the topic for AWS account {account} (topic policy)"


@dataclasses.dataclass(frozen=True)
class CreateSource:
    topic_arn: str

    def describe(self) -> str:
        return f"create the account's SES source, accepting {self.topic_arn}"


@dataclasses.dataclass(frozen=True)
class AllowTopicOnSource:
    source_id: int
    topic_arn: str

    def describe(self) -> str:
        return f"let the SES source accept {self.topic_arn}"


@dataclasses.dataclass(frozen=True)
class Subscribe:
    """Subscribe the hook over HTTPS (raw delivery off, the default). Token None: the source created above."""

    topic_arn: str
    public_url: str
    token: str | None
    resend: bool = False  # the subscription exists but is pending: subscribing again resends the confirmation

    @property
    def endpoint(self) -> str:
        return hook_url(self.public_url, self.token or "<token of the new source>")

    def describe(self) -> str:
        if self.resend:
            return f"subscribe {self.endpoint} again, so that SNS resends the confirmation"
        return f"subscribe {self.endpoint} to the topic over HTTPS"


@dataclasses.dataclass(frozen=True)
class TurnOffRawDelivery:
    subscription_arn: str

    def describe(self) -> str:
        return "turn raw message delivery off (raw bodies carry no signature; the tracker refuses them)"


@dataclasses.dataclass(frozen=True)
class CreateConfigurationSet:
    name: str

    def describe(self) -> str:
        return f"create the configuration set {self.name}"


@dataclasses.dataclass(frozen=True)
class PutEventDestination:
    """Create or update the SNS event destination: enabled, every event type, to the topic."""

    configuration_set: str
    name: str
    topic_arn: str
    event_types: tuple[str, ...]
    exists: bool

    def describe(self) -> str:
        verb = "update" if self.exists else "add"
        return (f"{verb} the event destination {self.name} of {self.configuration_set}: "
                f"all {len(self.event_types)} event types to the topic, enabled")


@dataclasses.dataclass(frozen=True)
class SetIdentityTopic:
    identity: str
    notification_type: str
    topic_arn: str

    def describe(self) -> str:
        return f"send {self.identity}'s {self.notification_type} notifications to the topic"


@dataclasses.dataclass(frozen=True)
class IncludeOriginalHeaders:
    identity: str
    notification_type: str

    def describe(self) -> str:
        return f"include the original headers in {self.identity}'s {self.notification_type} notifications"


Change = (CreateTopic | AllowSesToPublish | CreateSource | AllowTopicOnSource | Subscribe | TurnOffRawDelivery
          | CreateConfigurationSet | PutEventDestination | SetIdentityTopic | IncludeOriginalHeaders)
