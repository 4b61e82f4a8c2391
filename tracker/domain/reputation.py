"""Sending reputation: what a delivery counts as, bounce and complaint rates, thresholds and states.

Follows what Amazon SES documents for its own reputation metrics: the bounce rate counts
only hard bounces (permanent failures such as "address does not exist"; not temporary
ones such as "mailbox full", nor a send SES itself suppressed because the address is on
the account's suppression list, nor Mailgun's like it), the complaint rate counts complaints, and both are
divided by the messages sent. SES pauses sending at a 10% bounce rate or a 0.5%
complaint rate and warns at 5% and 0.1%: those are the default thresholds here.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from tracker.domain.status import BounceType, Status


class Outcome(str, enum.Enum):
    """What one delivery counts as for reputation (kept in the statistics beside its status)."""

    NOT_SENT = "not_sent"  # registered but no provider word yet, or refused before sending (ERROR)
    IN_FLIGHT = "in_flight"  # sent, nothing final yet (SENT, RETRY)
    DELIVERED = "delivered"  # DELIVERED or OPENED
    HARD_BOUNCE = "hard_bounce"  # counts in the bounce rate
    SOFT_BOUNCE = "soft_bounce"  # transient or undetermined: does not count, as in SES
    SUPPRESSED = "suppressed"  # the provider did not send: the address was on the account's suppression list
    COMPLAINT = "complaint"  # delivered, then marked as spam


# SES's subtype (bounceSubType, or complaintSubType of a complaint) for a message it did not
# send because the address is on the account-level suppression list: SES counts these in
# neither rate.
ACCOUNT_SUPPRESSED = "onaccountsuppressionlist"
# Every subtype (lower case, no spaces) that says the provider did not send because the
# address was on one of its suppression lists. Mailgun's: a permanent failure's reason
# "suppress-bounce", "suppress-complaint" or "suppress-unsubscribe" (its Metrics count
# "Bounced" as permanent failures minus suppressions). Infobip's: an UNDELIVERABLE report's
# error 6034 EC_SUPPRESSED_BOUNCE or 6035 EC_SUPPRESSED_SPAM_COMPLAINT, its names for SES's case.
PROVIDER_SUPPRESSED = frozenset({ACCOUNT_SUPPRESSED, "suppress-bounce", "suppress-complaint", "suppress-unsubscribe",
                                 "ec_suppressed_bounce", "ec_suppressed_spam_complaint"})

_BY_STATUS = {
    Status.PENDING: Outcome.NOT_SENT,
    Status.ERROR: Outcome.NOT_SENT,
    Status.SENT: Outcome.IN_FLIGHT,
    Status.RETRY: Outcome.IN_FLIGHT,
    Status.DELIVERED: Outcome.DELIVERED,
    Status.OPENED: Outcome.DELIVERED,
    Status.COMPLAINT: Outcome.COMPLAINT,
}


def outcome_of(status: str, bounce_type: str | None, bounce_subtype: str | None,
               failure_status: str | None = None, failure_bounce_type: str | None = None,
               failure_bounce_subtype: str | None = None) -> Outcome:
    """A delivery's Outcome from its status (an ACKNOWLEDGED one: from the failure it acknowledged)."""
    if status == Status.ACKNOWLEDGED.value:
        if failure_status is None:
            return Outcome.DELIVERED  # acknowledged with no failure known: nothing against the sender
        status, bounce_type, bounce_subtype = failure_status, failure_bounce_type, failure_bounce_subtype
    suppressed = (bounce_subtype or "").replace(" ", "").lower() in PROVIDER_SUPPRESSED
    if status == Status.BOUNCED.value:
        if bounce_type != BounceType.PERMANENT.value:
            return Outcome.SOFT_BOUNCE
        return Outcome.SUPPRESSED if suppressed else Outcome.HARD_BOUNCE
    if status == Status.COMPLAINT.value and suppressed:
        return Outcome.SUPPRESSED
    return _BY_STATUS[Status(status)]


class State(str, enum.Enum):
    HEALTHY = "healthy"
    WARNING = "warning"
    AT_RISK = "at_risk"

    @property
    def level(self) -> int:
        return list(State).index(self)


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Rates (fractions, 0.05 is 5%) at which a state begins; ``min_sent``: fewer sent, always healthy.

    SES judges a "representative volume", not a fixed count; with none at all, one complaint
    on an account's first message would put it at risk. 100 sent before a state is judged
    is this tracker's choice (not SES's figure): an account can set its own, 0 included.
    """

    bounce_warning: float = 0.05
    bounce_at_risk: float = 0.10
    complaint_warning: float = 0.001
    complaint_at_risk: float = 0.005
    min_sent: int = 100

    def problems(self) -> list[str]:
        """What makes these thresholds unusable (empty: fine)."""
        found = []
        for name in ("bounce_warning", "bounce_at_risk", "complaint_warning", "complaint_at_risk"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                found.append(f"{name} must be a fraction above 0 and at most 1 (0.05 is 5%), not {value}")
        if self.bounce_warning > self.bounce_at_risk:
            found.append("bounce_warning must not be above bounce_at_risk")
        if self.complaint_warning > self.complaint_at_risk:
            found.append("complaint_warning must not be above complaint_at_risk")
        if self.min_sent < 0:
            found.append("min_sent must not be negative")
        return found


SES_DEFAULTS = Thresholds()


@dataclasses.dataclass(frozen=True)
class Reputation:
    """Counts and rates of one scope (an account, or one of its sending domains) over a window."""

    sent: int
    delivered: int
    hard_bounces: int
    soft_bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    bounce_state: State
    complaint_state: State
    state: State  # the worse of the two


def rates(counts: Mapping[str, int], thresholds: Thresholds = SES_DEFAULTS) -> Reputation:
    """Reputation from deliveries counted per Outcome value (missing outcomes count 0).

    Denominator: messages sent, i.e. every delivery the provider took on (all but NOT_SENT;
    a SUPPRESSED one was refused by the provider, so it is not sent either). Bounce rate:
    hard bounces / sent. Complaint rate: complaints / sent. Delivered includes those that
    later drew a complaint (they were delivered first).
    """
    total = sum(counts.values())
    sent = total - counts.get(Outcome.NOT_SENT.value, 0) - counts.get(Outcome.SUPPRESSED.value, 0)
    hard = counts.get(Outcome.HARD_BOUNCE.value, 0)
    complaints = counts.get(Outcome.COMPLAINT.value, 0)
    bounce_rate = hard / sent if sent > 0 else 0.0
    complaint_rate = complaints / sent if sent > 0 else 0.0
    bounce_state = state_for(bounce_rate, thresholds.bounce_warning, thresholds.bounce_at_risk, sent, thresholds)
    complaint_state = state_for(complaint_rate, thresholds.complaint_warning, thresholds.complaint_at_risk, sent,
                                thresholds)
    return Reputation(
        sent=sent, delivered=counts.get(Outcome.DELIVERED.value, 0) + complaints, hard_bounces=hard,
        soft_bounces=counts.get(Outcome.SOFT_BOUNCE.value, 0), complaints=complaints,
        bounce_rate=bounce_rate, complaint_rate=complaint_rate, bounce_state=bounce_state,
        complaint_state=complaint_state, state=max(bounce_state, complaint_state, key=lambda s: s.level),
    )


def state_for(rate: float, warning: float, at_risk: float, sent: int, thresholds: Thresholds) -> State:
    """The state a rate puts its scope in: at or above a threshold is past it, as SES's "reaches 10%"."""
    if sent == 0 or sent < thresholds.min_sent:
        return State.HEALTHY
    if rate >= at_risk:
        return State.AT_RISK
    if rate >= warning:
        return State.WARNING
    return State.HEALTHY


def sending_domain(from_address: str | None) -> str:
    """The domain of a From address ("Shop <news@Example.com>" -> "example.com"); "" when unknown."""
    if not from_address:
        return ""
    address = from_address.strip()
    if "<" in address and ">" in address:
        address = address[address.rfind("<") + 1:address.rfind(">")]
    if "@" not in address:
        return ""
    return address.rsplit("@", 1)[1].strip().strip(">").lower()[:253]
