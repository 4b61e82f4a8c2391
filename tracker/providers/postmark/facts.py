"""What a Postmark record says beyond its RecordType: the bounce-type table, diagnostics, details.

Postmark classifies every bounce with a ``Type`` name and a numeric ``TypeCode``
(developer docs, Bounce API "Bounce types"; the codes also in the official postmark.js
``BounceTypeCode`` enum [C]). Not every "bounce" is a failed delivery: auto-replies,
subscribe requests and open-relay probes arrive on the same webhook. BOUNCE_TYPES says,
one commented row per documented type, what each one means for the delivery. Pure.
"""
from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping

from tracker.domain import BounceType, EventType
from tracker.providers.common.values import compact, text

JSONObject = Mapping[str, Any]

# Metadata is the sender's own key/value pairs echoed back; it is kept for the operator,
# but history details must stay small whatever a sender attached.
METADATA_LIMIT = 2048  # characters of compact JSON


@dataclasses.dataclass(frozen=True)
class BounceRule:
    """What a Bounce record of one Postmark ``Type`` is."""

    code: int  # Postmark's TypeCode for the Type
    type: EventType
    bounce_type: BounceType | None = None  # set only when ``type`` is BOUNCED


_PERMANENT = BounceType.PERMANENT
_TRANSIENT = BounceType.TRANSIENT
_UNDETERMINED = BounceType.UNDETERMINED

# Postmark Type -> rule. Quotes are Postmark's own one-line descriptions.
BOUNCE_TYPES: Mapping[str, BounceRule] = MappingProxyType({
    # "Hard bounce — unable to deliver (unknown user, mailbox not found)"; Postmark
    # deactivates the address.
    "HardBounce": BounceRule(1, EventType.BOUNCED, _PERMANENT),
    # "Message delayed — could not temporarily deliver (network troubles)". Postmark's UI
    # calls it Undeliverable, and "Soft Bounce or Undeliverable means we have ceased
    # attempting to send that message" (support article 1159): a bounce, not a RETRY.
    "Transient": BounceRule(2, EventType.BOUNCED, _TRANSIENT),
    # "Unsubscribe or Remove request": the message arrived and the reader replied asking
    # to be removed. That is an unsubscribe, not a failed delivery.
    "Unsubscribe": BounceRule(16, EventType.UNSUBSCRIBED),
    # "Subscribe request from someone wanting to get added": a reply, says nothing about
    # delivery; kept in the history only.
    "Subscribe": BounceRule(32, EventType.UNMAPPED),
    # "Automatic email responder (Out of Office, On Vacation)": an auto-reply proves
    # nothing failed, so it changes no status. Postmark's support pages say the class also
    # catches some "nondescript NDRs"; the history keeps Details for an operator to judge.
    "AutoResponder": BounceRule(64, EventType.UNMAPPED),
    # "The recipient has requested an address change": a reply, not a failure.
    "AddressChange": BounceRule(128, EventType.UNMAPPED),
    # "A temporary DNS error".
    "DnsError": BounceRule(256, EventType.BOUNCED, _TRANSIENT),
    # "Delivered, but blocked by the user, or classified as spam/bulk, or had rejected
    # content": it did not reach the inbox, but nothing says the address is bad.
    "SpamNotification": BounceRule(512, EventType.BOUNCED, _UNDETERMINED),
    # "The NDR is actually a test ... to see if the mail server is an open relay": not
    # about this delivery at all.
    "OpenRelayTest": BounceRule(1024, EventType.UNMAPPED),
    # "Unable to classify the NDR".
    "Unknown": BounceRule(2048, EventType.BOUNCED, _UNDETERMINED),
    # "Soft bounce — mailbox full, account disabled, exceeds quota, out of disk space";
    # Postmark has stopped retrying this message.
    "SoftBounce": BounceRule(4096, EventType.BOUNCED, _TRANSIENT),
    # "A virus notification warning about a virus/code infected message": refused for its
    # content; the address may well be fine.
    "VirusNotification": BounceRule(8192, EventType.BOUNCED, _UNDETERMINED),
    # "A challenge asking for verification you actually sent the email" (Spam Arrest,
    # MailFrontier Matador): held until someone answers, which Postmark never does.
    "ChallengeVerification": BounceRule(16384, EventType.BOUNCED, _UNDETERMINED),
    # "The address is not a valid email address".
    "BadEmailAddress": BounceRule(100000, EventType.BOUNCED, _PERMANENT),
    # "The subscriber explicitly marked this message as spam" (older bounce hooks carried
    # complaints too; modular webhooks send RecordType SpamComplaint instead).
    "SpamComplaint": BounceRule(100001, EventType.COMPLAINED),
    # "The email was manually deactivated": Postmark will not send to the address until
    # someone reactivates it, so this message is finally undeliverable.
    "ManuallyDeactivated": BounceRule(100002, EventType.BOUNCED, _PERMANENT),
    # "Registration not confirmed — the subscriber has not clicked the confirmation link".
    "Unconfirmed": BounceRule(100003, EventType.BOUNCED, _UNDETERMINED),
    # "ISP block": refused for content or a blocklisted sender; says nothing about the
    # address, and a later send may pass.
    "Blocked": BounceRule(100006, EventType.BOUNCED, _UNDETERMINED),
    # "An error occurred while accepting an email through the SMTP API": Postmark never
    # took the message, so nothing was sent.
    "SMTPApiError": BounceRule(100007, EventType.REJECTED),
    # "Unable to deliver inbound message to destination inbound hook": about inbound mail,
    # not this delivery.
    "InboundError": BounceRule(100008, EventType.UNMAPPED),
    # "Email rejected due to DMARC policy": the sending domain's setup, not the address.
    "DMARCPolicy": BounceRule(100009, EventType.BOUNCED, _UNDETERMINED),
    # "An error occurred while attempting to render your template": nothing was sent.
    "TemplateRenderingFailed": BounceRule(100010, EventType.RENDERING_FAILED),
})

@dataclasses.dataclass(frozen=True)
class SuppressionRule:
    """What a SubscriptionChange that suppresses an address (SuppressSending true) is."""

    type: EventType
    bounce_type: BounceType | None = None
    # False: the event is kept about the address alone (message id ""), the MessageID in
    # its details. The message's own Bounce or SpamComplaint record reports the delivery;
    # this one only says why the address is refused from now on. Kept on the delivery, it
    # would outrank that record by its later time and hide its diagnostic.
    about_the_message: bool = True


# Postmark SuppressionReason -> rule ("Possible SuppressionReason values are: HardBounce,
# SpamComplaint, or ManualSuppression", Subscription change webhook docs). The suppression
# list keeps the first reason it hears for an address, so the reason must be right on
# whichever record arrives first: the Bounce record or this one.
SUPPRESSION_REASONS: Mapping[str, SuppressionRule] = MappingProxyType({
    # Suppressed after a hard bounce of MessageID: a permanent bounce of the address.
    "HardBounce": SuppressionRule(EventType.BOUNCED, _PERMANENT, about_the_message=False),
    # Suppressed after the recipient marked MessageID as spam: a complaint.
    "SpamComplaint": SuppressionRule(EventType.COMPLAINED, about_the_message=False),
    # "If a recipient unsubscribes, they will be suppressed with the SuppressionReason of
    # ManualSuppression" (with the message they unsubscribed from); also the customer's or
    # an admin's own suppressions (MessageID null). An unsubscribe: it changes no status.
    "ManualSuppression": SuppressionRule(EventType.UNSUBSCRIBED),
})

# Any other or missing reason: the address is refused all the same, which is what an
# unsubscribe records (older examples of the webhook carry no SuppressionReason at all).
_SUPPRESSED = SuppressionRule(EventType.UNSUBSCRIBED)


def suppression_rule(record: JSONObject) -> SuppressionRule:
    """The rule for a suppressing SubscriptionChange record, from its SuppressionReason."""
    return SUPPRESSION_REASONS.get(text(record.get("SuppressionReason")) or "", _SUPPRESSED)


BOUNCE_TYPE_NAMES: Mapping[int, str] = MappingProxyType(
    {rule.code: name for name, rule in BOUNCE_TYPES.items()}
)

# A Bounce record whose Type and TypeCode are both unknown is still a bounce: undetermined,
# with Postmark's word kept as the subtype (as for an unknown SES bounceType).
_UNCLASSIFIED = BounceRule(0, EventType.BOUNCED, _UNDETERMINED)


def bounce_rule(record: JSONObject) -> tuple[str | None, BounceRule]:
    """(Postmark's name for the bounce, its rule), from Type, else from TypeCode.

    Type wins when both are present and disagree: Postmark's own spam-complaint example
    pairs Type "SpamComplaint" with TypeCode 512 (SpamNotification's code).
    """
    name = text(record.get("Type"))
    if name in BOUNCE_TYPES:
        return name, BOUNCE_TYPES[name]
    code = record.get("TypeCode")
    if isinstance(code, int) and not isinstance(code, bool) and code in BOUNCE_TYPE_NAMES:
        known = BOUNCE_TYPE_NAMES[code]
        return name or known, BOUNCE_TYPES[known]
    if name is None and code is not None and not isinstance(code, bool):
        name = str(code)
    return name, _UNCLASSIFIED


def bounce_diagnostic(record: JSONObject) -> str | None:
    """The receiving server's words (Details), else Postmark's description of the type."""
    return text(record.get("Details")) or text(record.get("Description"))


def common_details(record: JSONObject) -> dict[str, Any]:
    """What every record may carry that helps an operator find the message again."""
    return compact(
        Tag=text(record.get("Tag")),
        MessageStream=text(record.get("MessageStream")),
        # The marketing page's delivery example spells it ServerId [D]; the API docs ServerID.
        ServerID=_first(record, "ServerID", "ServerId"),
        Metadata=small_metadata(record.get("Metadata")),
    )


def bounce_details(record: JSONObject) -> dict[str, Any]:
    """Bounce and SpamComplaint records: Postmark's bounce id and the address's state."""
    return compact(
        BounceID=record.get("ID"),
        TypeCode=record.get("TypeCode"),
        Inactive=_boolean(record.get("Inactive")),
        CanActivate=_boolean(record.get("CanActivate")),
        **common_details(record),
    )


def open_details(record: JSONObject) -> dict[str, Any]:
    return compact(
        FirstOpen=_boolean(record.get("FirstOpen")),
        Platform=text(record.get("Platform")),
        UserAgent=text(record.get("UserAgent")),
        **common_details(record),
    )


def click_details(record: JSONObject) -> dict[str, Any]:
    return compact(
        OriginalLink=text(record.get("OriginalLink")),
        ClickLocation=text(record.get("ClickLocation")),
        Platform=text(record.get("Platform")),
        UserAgent=text(record.get("UserAgent")),
        **common_details(record),
    )


def subscription_details(record: JSONObject) -> dict[str, Any]:
    return compact(
        Origin=text(record.get("Origin")),
        SuppressSending=_boolean(record.get("SuppressSending")),
        SuppressionReason=text(record.get("SuppressionReason")),
        **common_details(record),
    )


def identifying_details(record: JSONObject) -> dict[str, Any]:
    """For a record of a type we do not know: the few fields that name it."""
    return compact(ID=record.get("ID"), **common_details(record))


def small_metadata(value: Any) -> Any:
    """The sender's Metadata if it is a small object, else a note of what was left out."""
    if not isinstance(value, Mapping) or not value:
        return None
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if len(encoded) <= METADATA_LIMIT:
        return dict(value)
    return {"omitted": f"{len(value)} keys, {len(encoded)} characters of JSON"}


def _first(record: JSONObject, *names: str) -> Any:
    for name in names:
        if record.get(name) is not None:
            return record[name]
    return None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
