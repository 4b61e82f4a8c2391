"""What each SES event object says beyond its type and time: diagnostic, bounce type, details.

One function per event type, each (event section, recipient entry) -> Facts; the mapping
table in tracker.providers.ses.parse names which one each SES type uses. Pure.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from tracker.domain import BounceType
from tracker.providers.common.values import Facts, compact, text

JSONObject = Mapping[str, Any]


def no_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts()


def delivery_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        diagnostic=text(section.get("smtpResponse")),
        details=compact(
            smtpResponse=section.get("smtpResponse"),
            reportingMTA=section.get("reportingMTA"),
            remoteMtaIp=section.get("remoteMtaIp"),
            processingTimeMillis=section.get("processingTimeMillis"),
        ),
    )


def delay_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        diagnostic=text(entry.get("diagnosticCode")),
        smtp_status=text(entry.get("status")),
        details=compact(
            delayType=section.get("delayType"),
            expirationTime=section.get("expirationTime"),
            status=entry.get("status"),
            reportingMTA=section.get("reportingMTA"),
        ),
    )


_BOUNCE_TYPES = {
    "permanent": BounceType.PERMANENT,
    "transient": BounceType.TRANSIENT,
    "undetermined": BounceType.UNDETERMINED,
}


def bounce_facts(section: JSONObject, entry: JSONObject) -> Facts:
    raw_type = section.get("bounceType")
    bounce_type = _BOUNCE_TYPES.get(raw_type.lower()) if isinstance(raw_type, str) else None
    return Facts(
        diagnostic=text(entry.get("diagnosticCode")),
        smtp_action=text(entry.get("action")),
        smtp_status=text(entry.get("status")),
        details=compact(
            feedbackId=section.get("feedbackId"),
            action=entry.get("action"),
            status=entry.get("status"),
            reportingMTA=section.get("reportingMTA"),
            remoteMtaIp=section.get("remoteMtaIp"),
            # A bounce is a bounce even if SES ever sends a type we don't know: it counts as
            # undetermined, and the unknown word is kept for the operator.
            bounceType=raw_type if bounce_type is None else None,
        ),
        bounce_type=bounce_type or BounceType.UNDETERMINED,
        bounce_subtype=text(section.get("bounceSubType")),
    )


def complaint_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        # The failure's subtype, as bounceSubType is for a bounce: OnAccountSuppressionList
        # says SES did not send the message at all, which reputation must know (it counts
        # such a delivery as suppressed, as SES does, not as a complaint).
        bounce_subtype=text(section.get("complaintSubType")),
        details=compact(
            complaintFeedbackType=section.get("complaintFeedbackType"),
            complaintSubType=section.get("complaintSubType"),
            userAgent=section.get("userAgent"),
            feedbackId=section.get("feedbackId"),
        )
    )


def reject_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(diagnostic=text(section.get("reason")))


def rendering_failure_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        diagnostic=text(section.get("errorMessage")),
        details=compact(templateName=section.get("templateName")),
    )


def open_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        details=compact(ipAddress=section.get("ipAddress"), userAgent=section.get("userAgent"))
    )


def click_facts(section: JSONObject, entry: JSONObject) -> Facts:
    return Facts(
        details=compact(
            link=section.get("link"),
            linkTags=section.get("linkTags") or None,
            userAgent=section.get("userAgent"),
            ipAddress=section.get("ipAddress"),
        )
    )


def subscription_facts(section: JSONObject, entry: JSONObject) -> Facts:
    preferences = _preferences(section)
    return Facts(
        details=compact(
            contactList=section.get("contactList"),
            source=section.get("source"),
            unsubscribeAll=True if preferences.get("unsubscribeAll") is True else None,
            optedOutTopics=_opted_out_topics(preferences) or None,
        )
    )


def opts_out(section: JSONObject) -> bool:
    """Whether a Subscription event leaves the contact opted out of something."""
    preferences = _preferences(section)
    return preferences.get("unsubscribeAll") is True or bool(_opted_out_topics(preferences))


def _preferences(section: JSONObject) -> JSONObject:
    preferences = section.get("newTopicPreferences")
    return preferences if isinstance(preferences, Mapping) else {}


def _opted_out_topics(preferences: JSONObject) -> list[str]:
    statuses = preferences.get("topicSubscriptionStatus")
    if not isinstance(statuses, list):
        return []
    return [
        str(status.get("topicName"))
        for status in statuses
        if isinstance(status, Mapping)
        and str(status.get("subscriptionStatus", "")).lower() == "optout"
    ]

