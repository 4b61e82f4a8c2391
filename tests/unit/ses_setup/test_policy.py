"""The topic policy: when it lets SES publish for the account, and merging connect's statement into it."""
from __future__ import annotations

import copy

import pytest

from tracker.adapters.ses_setup.policy import SID, lets_ses_publish, ses_statement, with_ses_statement

ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:eu-west-1:{ACCOUNT}:tracker-acme-ses"
CONFIGURATION_SET = f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/marketing"
# AWS's default policy for a new topic (as GetTopicAttributes shows it): account principals only.
DEFAULT = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
    "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
    "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe", "SNS:Publish"], "Resource": TOPIC,
    "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}


def policy(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def statement(**changes) -> dict:
    base = ses_statement(TOPIC, ACCOUNT)
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def allows(document) -> bool:
    return lets_ses_publish(document, TOPIC, ACCOUNT, CONFIGURATION_SET)


def test_connects_own_statement_lets_ses_publish():
    assert allows(policy(ses_statement(TOPIC, ACCOUNT)))


def test_the_default_policy_does_not():
    assert not allows(DEFAULT)
    assert not allows(None)
    assert not allows({})


@pytest.mark.parametrize("document", [
    # The form of AWS's SES developer guide: both account and SourceArn conditions.
    policy(statement(Action="sns:Publish", Condition={"StringEquals": {
        "AWS:SourceAccount": ACCOUNT, "AWS:SourceArn": CONFIGURATION_SET}})),
    policy(statement(Action=["sns:Publish"], Principal={"Service": ["ses.amazonaws.com"]}, Resource="*")),
    policy(statement(Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:ses:*:{ACCOUNT}:*"},
                                "StringEquals": {"aws:SourceAccount": [ACCOUNT]}})),
    policy(statement(Condition={"ArnEquals": {"aws:SourceArn": CONFIGURATION_SET}})),
    {"Version": "2012-10-17", "Statement": statement(Action="SNS:*")},  # a lone statement, not a list
])
def test_other_forms_that_let_ses_publish_for_this_account(document):
    assert allows(document)


@pytest.mark.parametrize("document", [
    policy(statement(Condition=None)),  # any AWS account's SES: a confused deputy
    policy(statement(Condition={"StringEquals": {"AWS:SourceAccount": "999999999999"}})),
    policy(statement(Condition={"StringEquals": {"AWS:SourceAccount": ACCOUNT,
                                                 "AWS:SourceArn": CONFIGURATION_SET + "-other"}})),
    policy(statement(Condition={"StringEquals": {"AWS:SourceAccount": ACCOUNT, "aws:PrincipalOrgID": "o-1"}})),
    policy(statement(Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:ses:*:{ACCOUNT}:*"}})),  # no account pin
    policy(statement(Effect="Deny")),
    policy(statement(Principal={"Service": "sns.amazonaws.com"})),
    policy(statement(Principal="*")),
    policy(statement(Action="sns:Subscribe")),
    policy(statement(Resource=f"arn:aws:sns:eu-west-1:{ACCOUNT}:other-topic")),
    policy("not a statement"),
])
def test_forms_that_do_not(document):
    assert not allows(document)


def test_merging_keeps_every_other_statement_and_replaces_its_own():
    stale = {**ses_statement(TOPIC, "999999999999")}
    before = {**DEFAULT, "Statement": [*DEFAULT["Statement"], stale]}
    original = copy.deepcopy(before)
    merged = with_ses_statement(before, ses_statement(TOPIC, ACCOUNT))
    assert before == original  # not modified in place
    assert merged["Id"] == DEFAULT["Id"] and merged["Version"] == DEFAULT["Version"]
    assert merged["Statement"] == [DEFAULT["Statement"][0], ses_statement(TOPIC, ACCOUNT)]
    assert [s["Sid"] for s in merged["Statement"]].count(SID) == 1
    assert allows(merged)


def test_merging_into_no_policy_makes_one():
    merged = with_ses_statement(None, ses_statement(TOPIC, ACCOUNT))
    assert merged == {"Version": "2012-10-17", "Statement": [ses_statement(TOPIC, ACCOUNT)]}
