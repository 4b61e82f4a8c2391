"""The reputation rules: what a delivery counts as, the rates, the states at the thresholds."""
from __future__ import annotations

import pytest

from tracker.domain.reputation import (
    Outcome,
    State,
    Thresholds,
    outcome_of,
    rates,
    sending_domain,
)


@pytest.mark.parametrize("facts, expected", [
    (("BOUNCED", "PERMANENT", "General"), Outcome.HARD_BOUNCE),
    (("BOUNCED", "PERMANENT", "NoEmail"), Outcome.HARD_BOUNCE),
    (("BOUNCED", "PERMANENT", "OnAccountSuppressionList"), Outcome.SUPPRESSED),
    (("BOUNCED", "TRANSIENT", "MailboxFull"), Outcome.SOFT_BOUNCE),
    (("BOUNCED", "UNDETERMINED", None), Outcome.SOFT_BOUNCE),
    (("COMPLAINT", None, None), Outcome.COMPLAINT),
    (("COMPLAINT", None, "OnAccountSuppressionList"), Outcome.SUPPRESSED),
    (("BOUNCED", "PERMANENT", "suppress-bounce"), Outcome.SUPPRESSED),  # Mailgun did not send
    (("BOUNCED", "PERMANENT", "suppress-complaint"), Outcome.SUPPRESSED),
    (("BOUNCED", "PERMANENT", "suppress-unsubscribe"), Outcome.SUPPRESSED),
    (("BOUNCED", "PERMANENT", "bounce"), Outcome.HARD_BOUNCE),
    (("BOUNCED", "PERMANENT", "EC_SUPPRESSED_BOUNCE"), Outcome.SUPPRESSED),  # Infobip did not send
    (("BOUNCED", "PERMANENT", "EC_SUPPRESSED_SPAM_COMPLAINT"), Outcome.SUPPRESSED),
    (("BOUNCED", "PERMANENT", "EC_BOUNCED_EMAIL_ADDRESS"), Outcome.HARD_BOUNCE),
    (("OPENED", None, None), Outcome.DELIVERED),
    (("RETRY", None, None), Outcome.IN_FLIGHT),
    (("ERROR", None, None), Outcome.NOT_SENT),
    (("PENDING", None, None), Outcome.NOT_SENT),
])
def test_what_a_delivery_counts_as(facts, expected):
    assert outcome_of(*facts) is expected


def test_an_acknowledged_delivery_counts_as_the_failure_it_acknowledged():
    assert outcome_of("ACKNOWLEDGED", None, None, "BOUNCED", "PERMANENT", "General") is Outcome.HARD_BOUNCE
    assert outcome_of("ACKNOWLEDGED", None, None, "COMPLAINT") is Outcome.COMPLAINT
    assert outcome_of("ACKNOWLEDGED", None, None, "ERROR") is Outcome.NOT_SENT


def test_rates_count_hard_bounces_and_complaints_over_what_was_sent():
    found = rates({"delivered": 90, "hard_bounce": 5, "soft_bounce": 3, "complaint": 2, "not_sent": 50,
                   "suppressed": 7})
    assert found.sent == 100  # neither the not sent nor the suppressed
    assert (found.bounce_rate, found.complaint_rate) == (0.05, 0.02)
    assert found.delivered == 92
    assert (found.bounce_state, found.complaint_state, found.state) == (State.WARNING, State.AT_RISK, State.AT_RISK)


@pytest.mark.parametrize("hard, state", [(4, State.HEALTHY), (5, State.WARNING), (9, State.WARNING),
                                         (10, State.AT_RISK)])
def test_reaching_a_threshold_is_past_it(hard, state):
    assert rates({"delivered": 100 - hard, "hard_bounce": hard}).bounce_state is state


def test_nothing_sent_or_fewer_than_min_sent_is_healthy():
    assert rates({}).state is State.HEALTHY
    assert rates({"not_sent": 3}).bounce_rate == 0.0
    assert rates({"hard_bounce": 99}).state is State.HEALTHY  # by default, 100 sent before a state is judged
    assert rates({"hard_bounce": 1}, Thresholds(min_sent=0)).state is State.AT_RISK
    assert rates({"hard_bounce": 1}, Thresholds(min_sent=2)).state is State.HEALTHY
    assert rates({"hard_bounce": 2}, Thresholds(min_sent=2)).state is State.AT_RISK


def test_thresholds_say_what_is_wrong_with_them():
    assert Thresholds().problems() == []
    assert Thresholds(bounce_warning=0.2).problems() == ["bounce_warning must not be above bounce_at_risk"]
    assert len(Thresholds(complaint_at_risk=0, min_sent=-1).problems()) == 3


@pytest.mark.parametrize("raw, domain", [("Shop <news@Example.COM>", "example.com"), ("a@b.example", "b.example"),
                                         ('"x@y" <real@mail.example>', "mail.example"), (None, ""),
                                         ("no address", "")])
def test_the_sending_domain_is_the_from_addresses(raw, domain):
    assert sending_domain(raw) == domain
