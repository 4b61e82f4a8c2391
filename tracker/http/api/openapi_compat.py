"""The compatible APIs' part of the OpenAPI document: Elevate, Infobip, SendCloud, Postman.

Their parameters and bodies are the seeds' (shared/seeds/), typed as tightly as each view
reads them; their errors are in each style's own shape (the *Error schemas below).
"""
from __future__ import annotations

from apispec import APISpec

from tracker.http.api.openapi_parts import errors, ok, operation, path_id, query, ref
from tracker.http.api.schemas import any_case

NULLABLE_TEXT = {"type": "string", "nullable": True}
ANY = {}  # a registered attribute: whatever JSON the application registered (or an SES tag's text)
TIME = {"type": "string", "format": "date-time"}


def or_blank(schema: dict) -> dict:
    """Infobip reads a blank parameter as absent (spaces: other white space is a control character)."""
    return {"anyOf": [schema, {"type": "string", "pattern": "^ *$"}]}
# Elevate's sortable and returned fields, as the seed names them (tracker.http.compat.elevate.views).
ELEVATE_SORTABLE = ("id", "recipientEmail", "createdDateTime", "updatedDateTime", "status")
ELEVATE_FIELDS = ("id", "recipientEmail", "createdDateTime", "updatedDateTime", "status", "message", "bounceType",
                  "billRunType", "billRunId", "customerId", "siteId", "contactId")


# An Elevate time filter: T, lt:T or gt:T, comma- (or "|"-) separated; empty parts are skipped.
_YEAR = r"([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_MOMENT = (_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
           r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?")
_FILTER = rf"(lt:|gt:)?{_MOMENT}"
ELEVATE_TIME = {"type": "string", "pattern": rf"^[\s,|]*({_FILTER}(\s*[,|][\s,|]*{_FILTER})*)?[\s,|]*$"}


def _comma_list(word_pattern: str) -> str:
    """``^(a|b)$`` as a comma-separated list of one or more, spaces around each allowed."""
    word = word_pattern[1:-1]
    return rf"^\s*{word}\s*(,\s*{word}\s*)*$"


def _elevate_list(names: tuple[str, ...], suffix: str = "") -> dict:
    """Names separated by "," or "|" (the seed writes both), at least one of ``names``; others are skipped."""
    any_token, known = f"[^,|:]*{suffix}", rf"\s*({'|'.join(names)})\s*{suffix}"
    # One pair of anchors around the alternation: generators pad a pattern anchored per branch.
    return {"type": "string", "pattern": rf"^(?:[\s,|]*|({any_token}[,|])*{known}([,|]{any_token})*)$"}


def paths() -> dict:
    direction = r"(:\s*([aA][sS][cC]|[dD][eE][sS][cC])?\s*)?"
    elevate_time = "`T`, `lt:T` or `gt:T` (yyyy-MM-ddTHH:mm:ssZ), comma-separated"
    infobip = {"tag": "infobip", "security": "infobip"}
    sendcloud_parameters = [
        query("apiUser", "SendCloud's API_USER (any value; the key names the account)", required=True),
        query("apiKey", "an API key of the account", required=True),
        query("email", "recipient address"), query("emailIds", "emailIds separated by ;"),
        query("labelId", "label id"), query("labelName", "label name (a substring)"),
        query("days", "the past N days (1 = today, UTC+8), 1-30; or startDate and endDate",
              {"type": "integer", "minimum": 1, "maximum": 30}),
        query("startDate", "yyyy-MM-dd (UTC+8)", {"type": "string", "format": "date"}),
        query("endDate", "yyyy-MM-dd (UTC+8), at most 30 days after startDate", {"type": "string", "format": "date"}),
        query("apiUserList", "accepted and ignored"),
        query("start", "offset, 0-10000", {"type": "integer", "minimum": 0, "maximum": 10_000}),
        query("limit", "0-100, default 100", {"type": "integer", "minimum": 0, "maximum": 100}),
        query("status", "1, 4, 5 or 18, several separated by ; or ,"),
        query("subStatus", "401-409, 503-509, several separated by ;")]
    postman_time = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    return {
        "/v1/email-status": {"get": operation("Elevate email status (seed 000)", [
            query("page", "1-based; (page - 1) * pageSize past 10000 only when the pages before it were read",
                  {"type": "integer", "minimum": 1}),
            query("pageSize", "1-1000, default 100", {"type": "integer", "minimum": 1, "maximum": 1000}),
            query("sort", "fields, each with an optional :desc", _elevate_list(ELEVATE_SORTABLE, direction)),
            query("fields", "subset of item fields", _elevate_list(ELEVATE_FIELDS)),
            query("createdDateTime", elevate_time, ELEVATE_TIME), query("updatedDateTime", elevate_time, ELEVATE_TIME),
            query("status", "any case", {"type": "string", "pattern": any_case(
                ["SENT", "DELIVERED", "BOUNCED", "COMPLAINT", "ERROR", "ACKNOWLEDGED", "RETRY"])}),
            query("bounceType", "any case", {"type": "string", "pattern": any_case(
                ["PERMANENT", "TRANSIENT", "UNDETERMINED"])}),
            query("billRunType", ""), query("billRunId", "")],
            {**ok("email statuses", {"type": "array", "items": ref("ElevateEmailStatus")}),
             **errors("elevate", "400", "401", "429")}, tag="elevate")},
        "/email/1/logs": {"get": operation("Infobip email logs (seed 001)", [
            *(query(name, name) for name in ("messageId", "from", "to", "bulkId", "campaignReferenceId",
                                             "applicationId", "entityId")),
            query("generalStatus", "any case", or_blank({"type": "string", "pattern": any_case(
                ["ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED"])})),
            query("sentSince", "clamped to the last 48 hours", or_blank(TIME)),
            query("sentUntil", "inclusive", or_blank(TIME)),
            query("limit", "1-1000, default 50", or_blank({"type": "integer", "minimum": 1, "maximum": 1000}))],
            {**ok("{results: [...]}", "InfobipLogs"), **errors("infobip", "400", "401", "429")}, **infobip)},
        "/email/1/reports": {"get": operation("Infobip delivery reports, each returned once (seed 002)", [
            query("bulkId", ""), query("messageId", ""),
            query("limit", "1-1000, default 50", or_blank({"type": "integer", "minimum": 1, "maximum": 1000}))],
            {**ok("{results: [...]}", "InfobipReports", xml=True),
             **errors("infobip", "400", "401", "403", "429", xml=True)}, **infobip)},
        "/email/4/logs": {"get": operation(
            "Infobip email logs as its official SDK reads them (EmailApi.get_email_logs)", [
            *({**query(name, "repeated or comma-separated: any of them",
                       {"type": "array", "items": {"type": "string"}}),
               "style": "form", "explode": True} for name in ("bulkId", "messageId", "campaignReferenceId")),
            *(query(name, name) for name in ("sender", "destination", "applicationId", "entityId")),
            query("cursor", "the nextCursor of the page before", {"type": "string", "format": "cursor"}),
            query("generalStatus", "any case", or_blank({"type": "string", "pattern": any_case(
                ["ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED"])})),
            query("sentSince", "inclusive, to the millisecond", or_blank(TIME)),
            query("sentUntil", "inclusive, to the millisecond", or_blank(TIME)),
            query("limit", "1-1000, default 50", or_blank({"type": "integer", "minimum": 1, "maximum": 1000})),
            query("useCursor", "true: answer a cursor with nextCursor", {"type": "boolean"})],
            {**ok("{results: [...], cursor}", "InfobipLogsV4"), **errors("infobip4", "400", "401", "429")}, **infobip)},
        "/email/4/reports": {"get": operation("Infobip delivery reports as its SDK reads them, each returned once", [
            *(query(name, name)
              for name in ("bulkId", "messageId", "applicationId", "entityId", "campaignReferenceId")),
            query("limit", "1-1000, default 50", or_blank({"type": "integer", "minimum": 1, "maximum": 1000}))],
            {**ok("{results: [...]}", "InfobipReportsV4"), **errors("infobip4", "400", "401", "403", "429")},
            **infobip)},
        "/apiv2/data/emailStatus": {method: operation(
            "SendCloud email status (seed 003); every answer about the parameters is HTTP 200", sendcloud_parameters,
            {**ok("{result, statusCode, message, info}: result false for a refusal", "SendCloudResponse"),
             **errors("sendcloud")}, tag="sendcloud", security="sendcloud") for method in ("get", "post")},
        "/v1/transactional/email": {"get": operation("Postman transactional emails (seed 004)", [
            query("limit", "1-1000, default 10", {"type": "integer", "minimum": 1, "maximum": 1000}),
            query("offset", "at most 10000, unless the pages before it were read in order (then any depth)",
                  {"type": "integer", "minimum": 0, "maximum": 10_000}),
            {**query("status", "one or several (repeated, or comma-separated), any case", {
                "type": "array", "items": {"type": "string", "pattern": _comma_list(any_case(
                    ["UNSENT", "ACCEPTED", "SENT", "BOUNCED", "DELIVERED", "OPENED", "COMPLAINT"]))}}),
             "style": "form", "explode": True},
            *(query(f"created_at[{operator}]", "ISO 8601 date or time (UTC when no zone)", postman_time)
              for operator in ("gt", "gte", "lt", "lte")),
            {**query("sort_by", "created_at or updated_at, + ascending, - or none descending", {
                "type": "array", "items": {"type": "string", "pattern": r"^[+ -]?(created_at|updated_at)$"}}),
             "style": "form", "explode": True},
            query("exclude_params", "true to leave params out", {"type": "boolean"}),
            query("tag", "the message's tag")],
            {**ok("{has_more, data}", "PostmanEmails"), **errors("postman", "400", "401", "429")}, tag="postman")},
        "/v1/transactional/email/{email_id}": {"get": operation(
            "One Postman transactional email", [path_id("email_id")],
            {**ok("the email", "PostmanEmail"), **errors("postman", "400", "401", "404", "429")}, tag="postman")},
    }


def components(spec: APISpec) -> None:
    infobip_code = {"type": "object", "properties": {
        "groupId": {"type": "integer"}, "groupName": {"type": "string"}, "id": {"type": "integer"},
        "name": {"type": "string"}, "description": {"type": "string"}, "action": {"type": "string"},
        "permanent": {"type": "boolean"}}}
    infobip_item = {"messageId": {"type": "string"}, "to": {"type": "string"}, "bulkId": {"type": "string"},
                    "sentAt": {"type": "string"}, "doneAt": {"type": "string"}, "messageCount": {"type": "integer"},
                    "price": {"type": "object", "properties": {"pricePerMessage": {"type": "number"},
                                                               "currency": {"type": "string"}}},
                    "status": infobip_code, "error": infobip_code}
    postman_time = {"type": "string", "nullable": True}
    for name, schema in {
        "ElevateEmailStatus": {"type": "object", "additionalProperties": False, "properties": {
            "id": {"type": "integer"}, "recipientEmail": {"type": "string"}, "createdDateTime": {"type": "string"},
            "updatedDateTime": {"type": "string"}, "status": {"type": "string"}, "message": NULLABLE_TEXT,
            "bounceType": NULLABLE_TEXT, "billRunType": ANY, "billRunId": ANY, "customerId": ANY, "siteId": ANY,
            "contactId": ANY}},
        "InfobipError": {"type": "object", "required": ["requestError"], "properties": {"requestError": {
            "type": "object", "required": ["serviceException"], "properties": {"serviceException": {
                "type": "object", "required": ["messageId", "text"], "properties": {
                    "messageId": {"type": "string"}, "text": {"type": "string"},
                    "validationErrors": {"type": "object"}}}}}}},
        "InfobipLogs": {"type": "object", "required": ["results"], "properties": {"results": {
            "type": "array", "items": {"type": "object", "required": ["messageId", "to", "sentAt", "status"],
                                       "properties": {**infobip_item, "applicationId": ANY, "entityId": ANY,
                                                      "from": {"type": "string"}, "text": {"type": "string"}}}}}},
        "InfobipReports": {"type": "object", "required": ["results"], "properties": {"results": {
            "type": "array", "items": {"type": "object", "required": ["messageId", "to", "sentAt", "status"],
                                       "properties": {**infobip_item, "channel": {"type": "string"}}}}}},
        "InfobipApiError": {"type": "object", "required": ["errorCode", "description", "action", "violations",
                                                          "resources"], "properties": {
            "errorCode": {"type": "string"}, "description": {"type": "string"}, "action": {"type": "string"},
            "violations": {"type": "array", "items": {"type": "object", "properties": {
                "property": {"type": "string"}, "violation": {"type": "string"}}}},
            "resources": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "url": {"type": "string"}}}}}},
        "InfobipLogsV4": {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "items": {"type": "object", "required": [
                "messageId", "destination", "sentAt", "status"], "properties": {
                **{k: v for k, v in infobip_item.items() if k != "to"}, "destination": {"type": "string"},
                "sender": {"type": "string"}, "text": {"type": "string"}, "campaignReferenceId": ANY,
                "platform": {"type": "object"}}}},
            "cursor": {"type": "object", "properties": {"limit": {"type": "integer"},
                                                        "nextCursor": {"type": "string"}}}}},
        "InfobipReportsV4": {"type": "object", "required": ["results"], "properties": {"results": {
            "type": "array", "items": {"type": "object", "required": ["messageId", "to", "sentAt", "status"],
                                       "properties": {**infobip_item, "sender": {"type": "string"},
                                                      "campaignReferenceId": ANY, "platform": {"type": "object"}}}}}},
        "SendCloudResponse": {"type": "object", "required": ["result", "message", "info"], "properties": {
            "result": {"type": "boolean"}, "statusCode": {"type": "integer"},
            "statuscode": {"type": "integer", "description": "the documented rate-limit answer's spelling"},
            "message": {"type": "string"},
            "info": {"type": "object", "properties": {
                "total": {"type": "string"}, "voListSize": {"type": "integer"},
                "voList": {"type": "array", "items": {"type": "object", "properties": {
                    name: NULLABLE_TEXT for name in ("emailId", "status", "subStatus", "subStatDesc", "subStatusDesc",
                                                     "apiUser", "recipients", "requestTime", "modifiedTime",
                                                     "sendLog")}}}}}}},
        "PostmanError": {"type": "object", "required": ["message"], "properties": {
            "message": {"type": "string"}, "statusCode": {"type": "integer"}, "status": {"type": "integer"},
            "error": {"type": "string"}, "validation": {"type": "object", "properties": {
                "source": {"type": "string"}, "keys": {"type": "array", "items": {"type": "string"}}}}}},
        "PostmanEmail": {"type": "object", "required": ["id", "recipient", "status", "created_at", "updated_at"],
                         "additionalProperties": False, "properties": {
            "id": {"type": "integer"}, "from": NULLABLE_TEXT, "recipient": {"type": "string"},
            "params": {"type": "object", "nullable": True},
            "attachments_metadata": {"type": "array", "nullable": True, "items": {}},
            "status": {"type": "string", "enum": ["UNSENT", "ACCEPTED", "SENT", "BOUNCED", "DELIVERED", "OPENED",
                                                  "COMPLAINT"]},
            "error_code": NULLABLE_TEXT, "error_sub_type": NULLABLE_TEXT, "created_at": {"type": "string"},
            "updated_at": {"type": "string"}, "accepted_at": postman_time, "sent_at": postman_time,
            "delivered_at": postman_time, "opened_at": postman_time, "classification": NULLABLE_TEXT,
            "tag": NULLABLE_TEXT, "cc": {"type": "array", "nullable": True, "items": {"type": "string"}},
            "bcc": {"type": "array", "nullable": True, "items": {"type": "string"}}}},
        "PostmanEmails": {"type": "object", "required": ["has_more", "data"], "properties": {
            "has_more": {"type": "boolean"}, "data": {"type": "array", "items": ref("PostmanEmail")}}},
    }.items():
        spec.components.schema(name, schema)
