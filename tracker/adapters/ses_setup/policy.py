"""The SNS topic policy that lets SES publish for one AWS account: the statement, the check, the merge."""
from __future__ import annotations

import fnmatch
from typing import Any
from collections.abc import Iterable, Mapping

SID = "TrackerSesPublish"  # the statement connect owns; IAM allows only letters and digits in a Sid
SES_PRINCIPAL = "ses.amazonaws.com"
_PUBLISH = ("sns:publish", "sns:*", "*")


def ses_statement(topic_arn: str, aws_account: str) -> dict[str, Any]:
    """Allow SES to publish to the topic, but only on behalf of this AWS account (no confused deputy)."""
    return {
        "Sid": SID,
        "Effect": "Allow",
        "Principal": {"Service": SES_PRINCIPAL},
        "Action": "SNS:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"AWS:SourceAccount": aws_account}},
    }


def lets_ses_publish(policy: Mapping[str, Any] | None, topic_arn: str, aws_account: str, source_arn: str) -> bool:
    """Does some Allow statement let SES publish to the topic for this account's ``source_arn``?

    Counts a statement only if all its conditions can be judged and hold: aws:SourceAccount
    and aws:SourceArn (each with its String/Arn operators); any other condition key makes the
    statement unknown, so it does not count. Deny statements are not evaluated.
    """
    if not isinstance(policy, Mapping):
        return False
    return any(_allows(statement, topic_arn, aws_account, source_arn) for statement in _statements(policy))


def with_ses_statement(policy: Mapping[str, Any] | None, statement: Mapping[str, Any]) -> dict[str, Any]:
    """The policy with ``statement`` in place of any statement of the same Sid; every other one is kept."""
    base = dict(policy) if isinstance(policy, Mapping) else {"Version": "2012-10-17"}
    kept = [s for s in _statements(base) if not (isinstance(s, Mapping) and s.get("Sid") == statement["Sid"])]
    base["Statement"] = [*kept, dict(statement)]
    return base


def _statements(policy: Mapping[str, Any]) -> list:
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements or [])


def _allows(statement: Any, topic_arn: str, aws_account: str, source_arn: str) -> bool:
    if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
        return False
    return (_names_ses(statement.get("Principal"))
            and any(action.lower() in _PUBLISH for action in _strings(statement.get("Action")))
            and any(fnmatch.fnmatchcase(topic_arn, resource) for resource in _strings(statement.get("Resource")))
            and _conditions_hold(statement.get("Condition") or {}, aws_account, source_arn))


def _names_ses(principal: Any) -> bool:
    if principal == "*":
        return False  # anyone, with no account condition we could rely on: not a grant made for SES
    return isinstance(principal, Mapping) and SES_PRINCIPAL in _strings(principal.get("Service"))


def _conditions_hold(conditions: Any, aws_account: str, source_arn: str) -> bool:
    """True when the conditions pin aws:SourceAccount to this account and every one of them holds."""
    if not isinstance(conditions, Mapping):
        return False
    pinned = False
    for operator, tests in conditions.items():
        if not isinstance(tests, Mapping):
            return False
        wildcard = operator in ("StringLike", "ArnLike")
        if operator not in ("StringEquals", "ArnEquals", "StringLike", "ArnLike"):
            return False
        for key, values in tests.items():
            actual = {"aws:sourceaccount": aws_account, "aws:sourcearn": source_arn}.get(key.lower())
            if actual is None:
                return False
            matches = any(fnmatch.fnmatchcase(actual, v) if wildcard else actual == v for v in _strings(values))
            if not matches:
                return False
            pinned = pinned or key.lower() == "aws:sourceaccount" or not wildcard
    return pinned


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, str))
    return ()
