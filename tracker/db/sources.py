"""A source as the receivers use it: the row's parts, detached from any session."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SourceInfo:
    """The parts of a Source a receiver needs, detached from any session."""

    id: int
    account_id: int
    provider: str
    topic_arns: tuple[str, ...]
    secret: str | None = None
    token: str | None = None  # the hook token it was found by (the inbox insert checks it still holds)

    def allows_topic(self, topic_arn: str) -> bool:
        """Whether SNS messages of ``topic_arn`` may come through this source ("*": any topic)."""
        return "*" in self.topic_arns or topic_arn in self.topic_arns
