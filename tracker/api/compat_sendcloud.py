"""SendCloud's email status query (shared/seeds/003): GET|POST /apiv2/data/emailStatus.

A client written for SendCloud works unchanged once its apiKey is one of the account's API
keys: same path, parameters (query string for GET, form fields for POST), envelope, status
labels and subStatus codes. apiUser must be present but may hold any value: it is
SendCloud's sub-account name, which means nothing here (the key alone names the account),
and it is echoed in each item's ``apiUser``. apiUserList is accepted and ignored for the
same reason. Like SendCloud, every answer is HTTP 200; failures say ``"result": false``.

Choices where the seed is silent or ambiguous:
- Dates are UTC+8 (provider-formats.md §4.3): days, startDate and endDate name UTC+8
  calendar days, requestTime and modifiedTime are written in UTC+8.
- The window: days=N is today and the N-1 days before it, N in 1..30; startDate/endDate
  both inclusive whole days, endDate - startDate at most 30 days (the parameter table's
  limit; TIPS 2 says "3 months": the stricter 30 days is kept). One of the two forms is
  required; both at once is an error rather than a guess.
- requestTime is when the tracker first knew the delivery (registration or first event),
  which is also what the window filters on (index (account_id, created_at, id));
  modifiedTime is when the current status happened (status_at).
- emailId is the delivery's message_id for SendCloud deliveries (already per recipient:
  messageId + index + "$" + recipient); for other providers, whose message ids cover every
  recipient, it is message_id + "$" + recipient. emailIds accepts both forms.
- labelId/labelName filter the message's registered attributes (POST /api/v1/messages or
  SES tags); labelId wins when both are given, labelName alone matches as a substring.
- Items are in requestTime order; start is capped at MAX_START and total is counted up to
  one row past what start/limit can reach, so neither costs a deep scan.
- Results are live: SendCloud's 10-minute cache of query results is not reproduced.
"""
from __future__ import annotations

import json
import re
from collections import namedtuple
from datetime import date, datetime, time, timedelta, timezone

from flask import Blueprint, Response, request
from sqlalchemy import and_, case, false, func, literal, null, or_, select

from tracker.api import credentials, ratelimit
from tracker.domain import BounceType, Status, normalize_address
from tracker.models import Delivery, DeliveryEvent, Message
from tracker.services import services

blueprint = Blueprint("compat_sendcloud", __name__)

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
# ACKNOWLEDGED is rendered as the failure it acknowledged: the highest-ranked ERROR, BOUNCED
# or COMPLAINT event of the delivery's history (see _acknowledged_failures).
FAILURES = (Status.ERROR, Status.BOUNCED, Status.COMPLAINT)

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
    # SendCloud: the subtype IS the subStat code (tracker.providers.sendcloud); its reason
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

STATUS_CODES = tuple(LABELS)
SUB_STATUS_CODES = tuple(SUB_STATUS_DESC)
DEFAULT_LIMIT, MAX_LIMIT = 100, 100
MAX_DAYS = 30
# start is an OFFSET; past this many rows a client should narrow the window (startDate/
# endDate, status, email) instead, as large offsets cost linear time.
MAX_START = 10_000
# total is counted up to one row past the last row start/limit can reach: exact below that,
# and a total of COUNT_CAP tells a client paging on that it must narrow the query.
COUNT_CAP = MAX_START + MAX_LIMIT + 1
MAX_EMAIL_IDS = 1000
UTC8 = timezone(timedelta(hours=8))
OK_MESSAGE = "请求成功"
RATE_LIMITED = {"result": False, "statuscode": 50000, "message": "interface frequency is limited", "info": {}}

# Error codes. 40005 认证失败 is SendCloud's own (seen in public SendCloud clients); SendCloud
# documents none for this query's parameters, so the 402xx ones are ours.
AUTH_FAILED = 40005
BAD_SPAN, BAD_DAYS, BAD_DATE, BAD_RANGE, BAD_START, BAD_LIMIT, BAD_STATUS, BAD_SUB_STATUS, BAD_EMAIL_IDS = range(
    40201, 40210)


class SendCloudError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def status_code(status: Status, bounce_type: str | None) -> str:
    """SendCloud's status for a non-acknowledged canonical status."""
    if status is Status.BOUNCED:
        kind = BounceType(bounce_type) if bounce_type in BounceType.__members__ else BounceType.UNDETERMINED
        return STATUS[(status, kind)]
    return STATUS[(status, None)]


def reason(provider: str, subtype: str | None, diagnostic: str | None) -> str:
    """Why a delivery failed, as one of REASONS: by subtype, else by diagnostic, else other."""
    if subtype is not None and (provider, subtype) in SUBTYPES:
        return SUBTYPES[(provider, subtype)]
    for pattern, found in DIAGNOSTICS:
        if any(text and re.search(pattern, text) for text in (subtype, diagnostic)):
            return found
    return "other"


def sub_status(code: str, provider: str, subtype: str | None, diagnostic: str | None) -> str | None:
    """The subStatus of a delivery with SendCloud status ``code``: 40x for 4, 50x for 5, else None."""
    if code not in ("4", "5"):
        return None
    return REASONS[reason(provider, subtype, diagnostic)][0 if code == "4" else 1]


# --- the view -----------------------------------------------------------------------------

@blueprint.route("/apiv2/data/emailStatus", methods=["GET", "POST"])
def email_status():
    params = request.values
    try:
        account_id, api_user = _authenticate(params)
        if ratelimit.hit(account_id, "sendcloud") is not None:
            return _json(RATE_LIMITED)
        start = _integer(params, "start", 0, BAD_START, maximum=MAX_START)
        limit = _integer(params, "limit", DEFAULT_LIMIT, BAD_LIMIT, maximum=MAX_LIMIT)
        statement = _filtered(account_id, params)
    except SendCloudError as error:
        return _json({"result": False, "statusCode": error.code, "message": error.message, "info": {}})
    with services().db.session() as session:
        counted = statement.with_only_columns(Delivery.id).order_by(None).limit(COUNT_CAP)
        total = session.scalar(select(func.count()).select_from(counted.subquery()))
        rows = session.execute(statement.order_by(Delivery.created_at, Delivery.id).offset(start).limit(limit)).all()
        acked = [delivery for delivery, _ in rows if delivery.status == Status.ACKNOWLEDGED.value]
        acknowledged = _acknowledged_failures(session, account_id, acked)
    items = [_item(delivery, api_user, acknowledged) for delivery, _ in rows]
    return _json({"result": True, "statusCode": 200, "message": OK_MESSAGE,
                  "info": {"total": str(total), "voListSize": len(items), "voList": items}})


def _authenticate(params) -> tuple[int, str]:
    api_user, api_key = (params.get("apiUser") or "").strip(), (params.get("apiKey") or "").strip()
    caller = credentials.caller_from_api_key(api_key) if api_user and api_key else None
    if caller is None:
        raise SendCloudError(AUTH_FAILED, "认证失败")
    return caller.account_id, api_user


def _filtered(account_id: int, params):
    """The deliveries the parameters select (unordered), with their messages."""
    low, high = _window(params)
    statement = (select(Delivery, Message)
                 .outerjoin(Message, and_(Message.account_id == Delivery.account_id,
                                          Message.message_id == Delivery.message_id))
                 .where(Delivery.account_id == account_id, Delivery.created_at >= low, Delivery.created_at < high))
    if params.get("email"):
        try:
            statement = statement.where(Delivery.recipient == normalize_address(params["email"]))
        except ValueError:
            statement = statement.where(false())
    if params.get("emailIds"):
        statement = statement.where(_email_ids(params["emailIds"]))
    if params.get("labelId"):  # preferred when both are given (seed TIPS 7)
        statement = statement.where(Message.attributes["labelId"].as_string() == params["labelId"].strip())
    elif params.get("labelName"):
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", params["labelName"].strip()) + "%"
        statement = statement.where(Message.attributes["labelName"].as_string().ilike(pattern, escape="\\"))
    wanted = _codes(params.get("status"), STATUS_CODES, BAD_STATUS, "status")
    if wanted:
        statement = statement.where(_status_condition(wanted))
    sub_wanted = _codes(params.get("subStatus", params.get("substatus")), SUB_STATUS_CODES, BAD_SUB_STATUS,
                        "subStatus")
    if sub_wanted:
        statement = statement.where(_sub_status_condition(sub_wanted))
    return statement


def _window(params) -> tuple[datetime, datetime]:
    """[low, high) in UTC from days, or from startDate and endDate (UTC+8 calendar days)."""
    days, start_date, end_date = (params.get(n, "").strip() or None for n in ("days", "startDate", "endDate"))
    if days is not None and (start_date is not None or end_date is not None):
        raise SendCloudError(BAD_SPAN, "give days, or startDate and endDate, not both")
    today = datetime.now(UTC8).date()
    if days is not None:
        count = _integer(params, "days", 0, BAD_DAYS, minimum=1, maximum=MAX_DAYS)
        first, last = today - timedelta(days=count - 1), today
    elif start_date is not None and end_date is not None:
        first, last = _date("startDate", start_date), _date("endDate", end_date)
        if last < first:
            raise SendCloudError(BAD_RANGE, "endDate is before startDate")
        if (last - first).days > MAX_DAYS:
            raise SendCloudError(BAD_RANGE, f"startDate to endDate may span at most {MAX_DAYS} days")
    else:
        raise SendCloudError(BAD_SPAN, "days, or startDate and endDate, is required")
    return _utc(first), _utc(last + timedelta(days=1))


def _date(name: str, raw: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        raise SendCloudError(BAD_DATE, f"{name} must be yyyy-MM-dd")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise SendCloudError(BAD_DATE, f"{name}: {raw!r} is not a date") from None


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), UTC8).astimezone(timezone.utc)


def _integer(params, name: str, default: int, error: int, *, minimum: int = 0, maximum: int) -> int:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not re.fullmatch(r"[0-9]+", raw.strip()) or not minimum <= int(raw) <= maximum:
        raise SendCloudError(error, f"{name} must be a whole number from {minimum} to {maximum}")
    return int(raw)


def _codes(raw: str | None, allowed: tuple[str, ...], error: int, name: str) -> set[str]:
    """A `;`-separated list of codes (`,` accepted too); an unknown one is an error."""
    codes = {c.strip() for c in re.split(r"[;,]", raw or "") if c.strip()}
    unknown = sorted(codes - set(allowed))
    if unknown:
        raise SendCloudError(error, f"{name}: unknown {', '.join(unknown)}; use {', '.join(allowed)}")
    return codes


def _email_ids(raw: str):
    """emailIds: a SendCloud delivery's message_id, or another provider's message_id$recipient."""
    ids = [i.strip() for i in raw.split(";") if i.strip()]
    if len(ids) > MAX_EMAIL_IDS:
        raise SendCloudError(BAD_EMAIL_IDS, f"emailIds: at most {MAX_EMAIL_IDS}")
    conditions = []
    for email_id in ids:
        conditions.append(Delivery.message_id == email_id)
        message_id, dollar, recipient = email_id.partition("$")
        if dollar and message_id and recipient:
            try:
                address = normalize_address(recipient)
            except ValueError:
                continue
            conditions.append(and_(Delivery.message_id == message_id, Delivery.recipient == address))
    return or_(*conditions) if conditions else false()


# --- the mapping in SQL (filters), built from the same tables -----------------------------

_Columns = namedtuple("_Columns", "status bounce_type subtype diagnostic provider")


def _status_sql(c: _Columns):
    whens = []
    for (status, kind), code in STATUS.items():
        if kind is None:
            whens.append((c.status == status.value, code))
        elif kind is not BounceType.UNDETERMINED:
            whens.append((and_(c.status == status.value, c.bounce_type == kind.value), code))
    # a bounce of no or an unknown type counts as UNDETERMINED, as in status_code()
    whens.append((c.status == Status.BOUNCED.value, STATUS[(Status.BOUNCED, BounceType.UNDETERMINED)]))
    return case(*whens)


def _reason_sql(c: _Columns):
    whens = [(and_(c.provider == provider, c.subtype == subtype), found)
             for (provider, subtype), found in SUBTYPES.items()]
    whens += [(or_(c.subtype.regexp_match(pattern), c.diagnostic.regexp_match(pattern)), found)
              for pattern, found in DIAGNOSTICS]
    return case(*whens, else_="other")


def _effective(expression):
    """expression over the delivery, or over the failure it acknowledged when ACKNOWLEDGED.

    An acknowledgement with no failure in its history (which can_acknowledge never allows)
    counts as an undetermined bounce with nothing known, as _item renders it.
    """
    event = DeliveryEvent
    acknowledged = (select(expression(_Columns(event.status, event.bounce_type, event.bounce_subtype,
                                               event.diagnostic, Delivery.provider)))
                    .where(event.account_id == Delivery.account_id, event.message_id == Delivery.message_id,
                           event.recipient == Delivery.recipient,
                           event.status.in_([s.value for s in FAILURES]))
                    .order_by(case(*[(event.status == s.value, s.rank) for s in FAILURES]).desc(),
                              event.occurred_at.desc(), event.event_key.desc())
                    .limit(1).scalar_subquery())
    own = expression(_Columns(Delivery.status, Delivery.bounce_type, Delivery.bounce_subtype,
                              Delivery.diagnostic, Delivery.provider))
    nothing_known = expression(_Columns(literal(Status.BOUNCED.value), null(), null(), null(), Delivery.provider))
    return case((Delivery.status == Status.ACKNOWLEDGED.value, func.coalesce(acknowledged, nothing_known)),
                else_=own)


def _candidates(codes: set[str]) -> list[str]:
    """The canonical statuses that can render as any of ``codes``: narrows by an index first."""
    found = {status.value for (status, _), code in STATUS.items() if code in codes}
    return sorted(found | {Status.ACKNOWLEDGED.value} if found & {s.value for s in FAILURES} else found)


def _status_condition(codes: set[str]):
    return and_(Delivery.status.in_(_candidates(codes)), _effective(_status_sql).in_(sorted(codes)))


def _sub_status_condition(codes: set[str]):
    """The derived subStatus is one of ``codes``: its (status, reason) pair is one that renders so."""
    pairs = sorted(f"{family}:{found}" for family, position in (("4", 0), ("5", 1))
                   for found, pair in REASONS.items() if pair[position] in codes)
    derived = _effective(lambda c: _status_sql(c).concat(":").concat(_reason_sql(c)))
    return and_(Delivery.status.in_(_candidates({"4", "5"})), derived.in_(pairs))


# --- items --------------------------------------------------------------------------------

def _acknowledged_failures(session, account_id: int, deliveries: list[Delivery]) -> dict:
    """(message_id, recipient) -> the failure event each ACKNOWLEDGED delivery acknowledged."""
    if not deliveries:
        return {}
    events = session.scalars(select(DeliveryEvent).where(
        DeliveryEvent.account_id == account_id,
        DeliveryEvent.status.in_([s.value for s in FAILURES]),
        or_(*[and_(DeliveryEvent.message_id == d.message_id, DeliveryEvent.recipient == d.recipient)
              for d in deliveries])))
    failures: dict = {}
    for event in events:
        key = (event.message_id, event.recipient)
        order = (Status(event.status).rank, event.occurred_at, event.event_key)
        if key not in failures or order > failures[key][0]:
            failures[key] = (order, event)
    return {key: event for key, (_, event) in failures.items()}


def _item(delivery: Delivery, api_user: str, acknowledged: dict) -> dict:
    source = delivery
    if delivery.status == Status.ACKNOWLEDGED.value:
        # An acknowledgement without a failure in the history cannot be (can_acknowledge);
        # should one appear, it renders as the delivery's own fields (an undetermined bounce).
        source = acknowledged.get((delivery.message_id, delivery.recipient), delivery)
    status = Status(source.status) if source.status != Status.ACKNOWLEDGED.value else Status.BOUNCED
    code = status_code(status, source.bounce_type)
    sub = sub_status(code, delivery.provider, source.bounce_subtype, source.diagnostic)
    email_id = delivery.message_id
    if delivery.provider != "sendcloud":
        email_id = f"{delivery.message_id}${delivery.recipient}"
    item = {"emailId": email_id, "status": LABELS[code], "subStatus": sub}
    # The seed's example spells the description "subStatusDesc" (null) where there is no
    # subStatus and "subStatDesc" (as its field table does) where there is one: both kept.
    item.update({"subStatDesc": SUB_STATUS_DESC[sub]} if sub else {"subStatusDesc": None})
    item.update({
        "apiUser": api_user,
        "recipients": delivery.recipient,
        "requestTime": _local(delivery.created_at),
        "modifiedTime": _local(delivery.status_at or delivery.created_at),
        "sendLog": source.diagnostic or _send_log(status, sub),
    })
    return item


def _send_log(status: Status, sub: str | None) -> str:
    """What happened, in SendCloud's log words, when the provider said nothing more."""
    if sub:
        return f"{LABELS[sub[0]]}-{SUB_STATUS_DESC[sub]}"
    return {Status.PENDING: "registered, not yet requested", Status.SENT: "successfully request",
            Status.RETRY: "delivery deferred, retrying", Status.COMPLAINT: "successfully delivered, reported as spam",
            }.get(status, "successfully delivered")


def _local(moment: datetime) -> str:
    return moment.astimezone(UTC8).strftime("%Y-%m-%d %H:%M:%S")


def _json(body: dict) -> Response:
    """Always HTTP 200, as SendCloud answers; JSON in the seed's field order, UTF-8 unescaped."""
    return Response(json.dumps(body, ensure_ascii=False), status=200, mimetype="application/json")
