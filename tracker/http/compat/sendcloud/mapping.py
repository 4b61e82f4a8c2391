"""SendCloud's status vocabulary: the canonical status and subStatus mapping tables (DESIGN section 3).

Pure; the view (tracker.http.compat.sendcloud.views) renders items from these tables and the
repository (tracker.db.repository.compat_sendcloud) builds its SQL filters from these same
tables, so what is shown and what is filtered always agree.
"""
from __future__ import annotations

import re

from tracker.domain import BounceType, Status

# --- the mapping table: canonical status -> SendCloud status (DESIGN section 3) -----------
# Keyed by (status, bounce type); the bounce type matters only for BOUNCED.
STATUS: dict[tuple[Status, BounceType | None], str] = {
    (Status.PENDING, None): "18",  # registered, no provider event yet: still 请求中
    (Status.SENT, None): "18",  # the provider accepted the request, no outcome yet
    (Status.RETRY, None): "18",  # the provider is still trying (deferred, delayed)
    (Status.DELIVERED, None): "1",  # the recipient's server accepted it: 送达
    (Status.OPENED, None): "1",  # SendCloud has no "opened": an opened email was delivered
    (Status.ERROR, None): "4",  # never sent (rejected, rendering failed): 无效邮件, subStatus 40x
    (Status.BOUNCED, BounceType.PERMANENT): "4",  # hard bounce: 无效邮件 + subStatus 40x
    (Status.BOUNCED, BounceType.TRANSIENT): "5",  # soft bounce the provider gave up on: 软退信 + 50x
    (Status.BOUNCED, BounceType.UNDETERMINED): "5",  # not known to be permanent: 软退信 + 50x
    (Status.COMPLAINT, None): "1",  # a complaint proves delivery; SendCloud has no complaint status
}
# ACKNOWLEDGED is rendered as the failure it acknowledged (the delivery row's failure:
# tracker.domain DeliveryState.shown).

LABELS = {"1": "送达", "4": "无效邮件", "5": "软退信", "18": "请求中"}  # seed TIPS 6 / example

# --- subStatus: why an invalid (4) or soft-bounced (5) email failed ------------------------
# A failure's reason decides its code: (invalid 40x, soft bounce 50x). SendCloud defines no
# 501, 502 or 504, so reasons without a soft-bounce code are 509 (软退信-其他) there.
REASONS: dict[str, tuple[str, str]] = {
    "blacklisted": ("401", "509"),  # on a suppression list (SendCloud's blacklist, ours, SES's)
    "unsubscribed": ("402", "509"),  # the recipient unsubscribed
    "unreachable": ("403", "503"),  # the recipient's server could not be reached
    "bad_format": ("404", "509"),  # the address is malformed
    "ip_rejected": ("405", "505"),  # the sending IP or domain was refused
    "no_address": ("406", "506"),  # the mailbox does not exist
    "spam": ("407", "507"),  # refused for its content (spam, virus, attachment)
    "rejected": ("408", "508"),  # the sender or recipient was refused by policy
    "other": ("409", "509"),  # anything else, or nothing more specific is known
}
# The seed's subStatus table. The example answers "subStatDesc": "地址不存在" for 406: the
# part after "无效邮件-" / "软退信-", which is what items carry.
SUB_STATUS_DESC = {
    "401": "SendCloud黑名单中", "402": "取消订阅", "403": "服务器不可达", "404": "地址格式错误",
    "405": "IP、域名被拒", "406": "地址不存在", "407": "垃圾邮件", "408": "发件人/收件人被拒",
    "409": "其他", "503": "服务不可达", "505": "IP、域名被拒", "506": "邮箱地址不存在",
    "507": "反垃圾邮件被拒", "508": "发件人/收件人被拒", "509": "其他",
}

# (provider, bounce_subtype) -> reason. First the subtype; then, when no row names it (SES
# General/Undetermined, Postmark HardBounce, Infobip EC_HARD_BOUNCE ...), the enhanced
# status code in the diagnostic; else "other".
SUBTYPES: dict[tuple[str, str], str] = {
    # SendCloud: the subtype IS the subStat code (tracker.providers.sendcloud.parse); its reason
    # keeps it when the family agrees (406 stays 406) and translates it when not.
    ("sendcloud", "401"): "blacklisted",  # 无效邮件-SendCloud黑名单中
    ("sendcloud", "402"): "unsubscribed",  # 无效邮件-取消订阅
    ("sendcloud", "403"): "unreachable",  # 无效邮件-服务器不可达
    ("sendcloud", "404"): "bad_format",  # 无效邮件-地址格式错误
    ("sendcloud", "405"): "ip_rejected",  # 无效邮件-IP、域名被拒
    ("sendcloud", "406"): "no_address",  # 无效邮件-地址不存在
    ("sendcloud", "407"): "spam",  # 无效邮件-垃圾邮件
    ("sendcloud", "408"): "rejected",  # 无效邮件-发件人/收件人被拒
    ("sendcloud", "409"): "other",  # 无效邮件-其他
    ("sendcloud", "503"): "unreachable",  # 软退信-服务不可达
    ("sendcloud", "505"): "ip_rejected",  # 软退信-IP、域名被拒
    ("sendcloud", "506"): "no_address",  # 软退信-邮箱地址不存在
    ("sendcloud", "507"): "spam",  # 软退信-反垃圾邮件被拒
    ("sendcloud", "508"): "rejected",  # 软退信-发件人/收件人被拒
    ("sendcloud", "509"): "other",  # 软退信-其他
    # SES bounceSubType (provider-formats.md §2.3)
    ("ses", "NoEmail"): "no_address",  # address does not exist: 406 (506 if not permanent)
    ("ses", "Suppressed"): "blacklisted",  # on the SES global suppression list: 401
    ("ses", "OnAccountSuppressionList"): "blacklisted",  # on the account's suppression list: 401
    ("ses", "MailboxFull"): "other",  # no SendCloud code for a full mailbox: 509
    ("ses", "MessageTooLarge"): "other",  # nor for size: 509
    ("ses", "ContentRejected"): "spam",  # refused for content: 507 反垃圾邮件被拒
    ("ses", "AttachmentRejected"): "spam",  # refused for an attachment, a content rule: 507
    # SendGrid bounce_classification
    ("sendgrid", "Invalid Address"): "no_address",  # 406
    ("sendgrid", "Technical"): "unreachable",  # DNS, connection, server errors: 403/503
    ("sendgrid", "Content"): "spam",  # 407/507
    ("sendgrid", "Reputation"): "ip_rejected",  # the sending IP/domain's reputation: 405/505
    ("sendgrid", "Frequency or Volume Too High"): "other",  # rate limited: 509
    ("sendgrid", "Mailbox Unavailable"): "other",  # full or disabled, not "does not exist": 409/509
    # Mailgun reason
    ("mailgun", "suppress-bounce"): "blacklisted",  # on Mailgun's bounce list: 401
    ("mailgun", "suppress-complaint"): "blacklisted",  # on Mailgun's complaint list: 401
    ("mailgun", "suppress-unsubscribe"): "unsubscribed",  # 402
    ("mailgun", "espblock"): "ip_rejected",  # the ESP blocked the sending: 405/505
    # Postmark Type
    ("postmark", "BadEmailAddress"): "bad_format",  # 404
    ("postmark", "ManuallyDeactivated"): "blacklisted",  # deactivated address: 401
    ("postmark", "DnsError"): "unreachable",  # 503
    ("postmark", "SpamNotification"): "spam",  # classified as spam: 507
    ("postmark", "VirusNotification"): "spam",  # refused for its content: 507
    ("postmark", "Blocked"): "ip_rejected",  # ISP block: 505
    ("postmark", "DMARCPolicy"): "rejected",  # the sender's domain refused by policy: 508
    # Infobip error.name (provider-formats.md §3.1)
    ("infobip", "EC_EMAIL_BLACKLISTED"): "blacklisted",  # 401
    ("infobip", "EC_BOUNCED_EMAIL_ADDRESS"): "blacklisted",  # suppressed after earlier bounces: 401
    ("infobip", "EC_SUPPRESSED_BOUNCE"): "blacklisted",  # 401
    ("infobip", "EC_SUPPRESSED_SPAM_COMPLAINT"): "blacklisted",  # 401
    ("infobip", "EC_EMAIL_UNSUBSCRIBED_EMAIL_ADDRESS"): "unsubscribed",  # 402
    ("infobip", "EC_INVALID_EMAIL_ADDRESS"): "bad_format",  # 404
    ("infobip", "EC_EMAIL_SENDER_DOMAIN_BLOCKED"): "ip_rejected",  # 405
    ("infobip", "EC_EMAIL_IP_BLACKLISTED"): "ip_rejected",  # 405
    ("infobip", "EC_MAILBOX_UNAVAILABLE"): "no_address",  # 406
    ("infobip", "EC_EMAILS_SPAM_CONTENT"): "spam",  # 407
}

# Enhanced status codes (RFC 3463) in the diagnostic, or as the subtype (older SendGrid
# payloads): class 4 or 5, then subject.detail. First match wins. The patterns are plain
# POSIX ERE, so PostgreSQL (~) and SQLite (SQLAlchemy's REGEXP) read them as Python does.
DIAGNOSTICS: list[tuple[str, str]] = [
    (r"(^|[^0-9.])[45]\.1\.1([^0-9]|$)", "no_address"),  # bad destination mailbox: 406/506
    (r"(^|[^0-9.])[45]\.1\.3([^0-9]|$)", "bad_format"),  # bad destination address syntax: 404
    (r"(^|[^0-9.])[45]\.1\.2([^0-9]|$)", "unreachable"),  # bad destination system (domain): 403/503
    (r"(^|[^0-9.])[45]\.4\.[0-9]+([^0-9]|$)", "unreachable"),  # network and routing: 403/503
    (r"(^|[^0-9.])[45]\.7\.[0-9]+([^0-9]|$)", "rejected"),  # security or policy refusal: 408/508
]
_DIAGNOSTIC_PATTERNS = [(re.compile(pattern), found) for pattern, found in DIAGNOSTICS]


# (canonical status value, bounce type as stored) -> SendCloud status: STATUS read once per
# pair, not per item (a list page renders up to 100 of them). A bounce of a type not known
# here is UNDETERMINED.
_CODES = {(status.value, kind.value if kind else None): code for (status, kind), code in STATUS.items()}
_BOUNCED, _UNDETERMINED = Status.BOUNCED.value, BounceType.UNDETERMINED.value


def status_code(status: Status | str, bounce_type: str | None) -> str:
    """SendCloud's status for a non-acknowledged canonical status (a Status, or its value as stored)."""
    value = status.value if isinstance(status, Status) else status
    if value == _BOUNCED:
        return _CODES.get((value, bounce_type)) or _CODES[(value, _UNDETERMINED)]
    return _CODES[(value, None)]


def reason(provider: str, subtype: str | None, diagnostic: str | None) -> str:
    """Why a delivery failed, as one of REASONS: by subtype, else by diagnostic, else other."""
    if subtype is not None and (provider, subtype) in SUBTYPES:
        return SUBTYPES[(provider, subtype)]
    for pattern, found in _DIAGNOSTIC_PATTERNS:
        if (subtype and pattern.search(subtype)) or (diagnostic and pattern.search(diagnostic)):
            return found
    return "other"


def sub_status(code: str, provider: str, subtype: str | None, diagnostic: str | None) -> str | None:
    """The subStatus of a delivery with SendCloud status ``code``: 40x for 4, 50x for 5, else None."""
    if code not in ("4", "5"):
        return None
    return REASONS[reason(provider, subtype, diagnostic)][0 if code == "4" else 1]
