"""Infobip's status and error vocabulary for email (DESIGN section 3, Infobip column). Pure.

The logs and reports views (tracker.http.compat.infobip.views) render every item through these
tables and filter by them, so what is shown and what is filtered agree.
"""
from __future__ import annotations

import dataclasses
import re

from tracker.domain import BounceType, EventType, Outcome, Status
from tracker.domain.status import FINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class StatusCode:
    """An Infobip ``status`` object (provider-formats section 3.1)."""

    group_id: int
    group_name: str  # one of the SDK's MessageGeneralStatus values: clients parse it into that enum
    id: int
    name: str
    description: str
    action: str | None = None


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    """An Infobip ``error`` object. Group names are the SDK's MessageErrorGroup values, no others."""

    group_id: int
    group_name: str
    id: int
    name: str
    description: str
    permanent: bool


# --- the mapping table (DESIGN section 3, Infobip column) ----------------------------------

PENDING_ACCEPTED = StatusCode(1, "PENDING", 26, "PENDING_ACCEPTED",
                              "Message accepted, not yet sent to the next instance")
PENDING_ENROUTE = StatusCode(1, "PENDING", 7, "PENDING_ENROUTE", "Message sent to next instance")
PENDING_WAITING_DELIVERY = StatusCode(1, "PENDING", 3, "PENDING_WAITING_DELIVERY",
                                      "Message sent, waiting for delivery report")
DELIVERED_TO_HANDSET = StatusCode(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET", "Message delivered to handset")
UNDELIVERABLE_NOT_DELIVERED = StatusCode(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED",
                                         "Message sent not delivered", "Check the error for whether to send again")
REJECTED_SYSTEM_ERROR = StatusCode(5, "REJECTED", 21, "REJECTED_SYSTEM_ERROR", "Message rejected before sending",
                                   "Fix the message (content, template) and send it again")

NO_ERROR = ErrorCode(0, "OK", 0, "NO_ERROR", "No Error", False)
DROPPED, BOUNCED, SENDING = (1, "HANDSET_ERRORS"), (2, "USER_ERRORS"), (3, "OPERATOR_ERRORS")
# Permanent: the address stays on the blacklist, so sending again is refused again.
EC_EMAIL_BLACKLISTED = ErrorCode(*DROPPED, 6001, "EC_EMAIL_BLACKLISTED", "Recipient address is blacklisted", True)
EC_EMAILS_SPAM_CONTENT = ErrorCode(*DROPPED, 6002, "EC_EMAILS_SPAM_CONTENT",
                                   "Content refused by the receiving server", False)
EC_EMAIL_DROPPED = ErrorCode(*DROPPED, 6005, "EC_EMAIL_DROPPED", "Email dropped, not sent", False)
EC_EMAIL_HANDLE_BARS_ERROR = ErrorCode(*DROPPED, 6021, "EC_EMAIL_HANDLE_BARS_ERROR",
                                       "Template could not be rendered", False)
EC_SUPPRESSED_BOUNCE = ErrorCode(*DROPPED, 6034, "EC_SUPPRESSED_BOUNCE", "Address suppressed after a bounce", True)
EC_SUPPRESSED_SPAM_COMPLAINT = ErrorCode(*DROPPED, 6035, "EC_SUPPRESSED_SPAM_COMPLAINT",
                                         "The recipient marked the email as spam", True)
EC_INVALID_EMAIL_ADDRESS = ErrorCode(*BOUNCED, 6006, "EC_INVALID_EMAIL_ADDRESS", "The address does not exist", True)
EC_MAILBOX_TEMPORARY_UNAVAILABLE = ErrorCode(*BOUNCED, 6007, "EC_MAILBOX_TEMPORARY_UNAVAILABLE",
                                             "Mailbox temporarily unavailable", False)
EC_MAILBOX_UNAVAILABLE = ErrorCode(*BOUNCED, 6009, "EC_MAILBOX_UNAVAILABLE", "Mailbox unavailable", True)
EC_STORAGE_LIMIT_EXCEEDED = ErrorCode(*BOUNCED, 6010, "EC_STORAGE_LIMIT_EXCEEDED", "Mailbox full", False)
EC_HARD_BOUNCE = ErrorCode(*BOUNCED, 6012, "EC_HARD_BOUNCE", "Hard bounce", True)
EC_TEMPORARY_SENDING_ERROR = ErrorCode(*SENDING, 6013, "EC_TEMPORARY_SENDING_ERROR", "Temporary sending error", False)

# canonical status -> (Infobip status, Infobip error); BOUNCED and ACKNOWLEDGED are derived below.
STATUS: dict[Status, tuple[StatusCode, ErrorCode]] = {
    Status.PENDING: (PENDING_ACCEPTED, NO_ERROR),  # registered by the application, nothing from the provider yet
    Status.SENT: (PENDING_ENROUTE, NO_ERROR),  # the provider took it
    Status.RETRY: (PENDING_WAITING_DELIVERY, NO_ERROR),  # the provider is still trying
    Status.DELIVERED: (DELIVERED_TO_HANDSET, NO_ERROR),  # accepted by the recipient's server ("handset" is SMS talk)
    Status.OPENED: (DELIVERED_TO_HANDSET, NO_ERROR),  # Infobip has no opened status: opened mail was delivered
    # Refused before sending (SES Reject, SendGrid dropped, Mailgun rejected); a rendering
    # failure is 6021 instead (ERROR_BY_EVENT). Not permanent: the message was at fault, not the address.
    Status.ERROR: (REJECTED_SYSTEM_ERROR, EC_EMAIL_DROPPED),
    # Delivered, then reported as spam; the address is now suppressed, hence 6035 and permanent.
    Status.COMPLAINT: (DELIVERED_TO_HANDSET, EC_SUPPRESSED_SPAM_COMPLAINT),
}
ERROR_BY_EVENT = {EventType.RENDERING_FAILED.value: EC_EMAIL_HANDLE_BARS_ERROR}  # SES Rendering Failure
# BOUNCED -> UNDELIVERABLE (9) whatever the bounce type; error.permanent says hard (PERMANENT)
# or soft (TRANSIENT, UNDETERMINED). The error id comes from, in this order:
# 1. the subtype, when it is already an Infobip error name (bounces and rejections Infobip itself
#    reported: its parser keeps error.name as the subtype of both);
BY_INFOBIP_NAME = {e.name: e for e in (EC_EMAIL_BLACKLISTED, EC_EMAILS_SPAM_CONTENT, EC_EMAIL_DROPPED,
                                       EC_SUPPRESSED_BOUNCE, EC_INVALID_EMAIL_ADDRESS,
                                       EC_MAILBOX_TEMPORARY_UNAVAILABLE, EC_MAILBOX_UNAVAILABLE,
                                       EC_STORAGE_LIMIT_EXCEEDED, EC_HARD_BOUNCE, EC_TEMPORARY_SENDING_ERROR)}
# 2. an SES bounce subtype that says more than "General" (provider-formats section 2.3);
BY_SUBTYPE = {
    "noemail": EC_INVALID_EMAIL_ADDRESS,  # the address does not exist
    "suppressed": EC_SUPPRESSED_BOUNCE,  # on SES's suppression list: never attempted
    "onaccountsuppressionlist": EC_SUPPRESSED_BOUNCE,  # on the account's suppression list
    "mailboxfull": EC_STORAGE_LIMIT_EXCEEDED,
    "messagetoolarge": EC_TEMPORARY_SENDING_ERROR,
    "contentrejected": EC_EMAILS_SPAM_CONTENT,  # the receiving server refused the content
    "attachmentrejected": EC_EMAILS_SPAM_CONTENT,
}
# 3. the enhanced SMTP status code in the diagnostic (RFC 3463: X.1.1 bad mailbox, X.2.1
#    mailbox disabled, X.2.2 mailbox full), whichever provider sent it;
BY_ENHANCED_CODE = {"1.1": EC_INVALID_EMAIL_ADDRESS, "1.10": EC_INVALID_EMAIL_ADDRESS,
                    "2.1": EC_MAILBOX_UNAVAILABLE, "2.2": EC_STORAGE_LIMIT_EXCEEDED}
# 4. else the bounce type.
BY_BOUNCE_TYPE = {
    BounceType.PERMANENT.value: EC_HARD_BOUNCE,
    BounceType.TRANSIENT.value: EC_MAILBOX_TEMPORARY_UNAVAILABLE,  # soft: the provider gave up for now
    BounceType.UNDETERMINED.value: EC_TEMPORARY_SENDING_ERROR,  # the bounce said too little to tell
}
# ACKNOWLEDGED renders as the failure it acknowledged (tracker.domain DeliveryState.shown).
GENERAL_STATUSES = ("ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED")
# The reports query lists them as ix_deliveries_account_unreported does, so that index serves it.
FINAL = [s.value for s in FINAL_STATUSES]

_ENHANCED_CODE = re.compile(r"\b[245]\.(\d{1,3}\.\d{1,3})\b")


def infobip_codes(outcome: Outcome) -> tuple[StatusCode, ErrorCode]:
    """The Infobip status and error objects for an outcome (a delivery's shown outcome: never
    ACKNOWLEDGED unless no failure was ever known)."""
    if outcome.status is Status.BOUNCED:
        bounce_type = outcome.bounce_type.value if outcome.bounce_type else BounceType.UNDETERMINED.value
        return UNDELIVERABLE_NOT_DELIVERED, dataclasses.replace(
            _bounce_error(outcome, bounce_type), permanent=bounce_type == BounceType.PERMANENT.value)
    if outcome.status is Status.ACKNOWLEDGED:  # no failure in its history
        return REJECTED_SYSTEM_ERROR, EC_EMAIL_DROPPED
    status, error = STATUS[outcome.status]
    if outcome.status is Status.ERROR:
        event_type = outcome.type.value if outcome.type else ""
        error = BY_INFOBIP_NAME.get(outcome.bounce_subtype or "") or ERROR_BY_EVENT.get(event_type, error)
    return status, error


def _bounce_error(outcome: Outcome, bounce_type: str) -> ErrorCode:
    subtype = outcome.bounce_subtype or ""
    if subtype in BY_INFOBIP_NAME:
        return BY_INFOBIP_NAME[subtype]
    if subtype.lower() in BY_SUBTYPE:
        return BY_SUBTYPE[subtype.lower()]
    code = _ENHANCED_CODE.search(outcome.diagnostic or "")
    if code and code.group(1) in BY_ENHANCED_CODE:
        return BY_ENHANCED_CODE[code.group(1)]
    return BY_BOUNCE_TYPE.get(bounce_type, EC_TEMPORARY_SENDING_ERROR)
