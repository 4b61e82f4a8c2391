"""The drills' own reckoning: the expected status of a delivery, and the longest stall."""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

from bench.drills.monitor import Sample, longest_stall
from bench.drills.traffic import Event, Notification, Plan

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def plan_of(*events: Event, twice: tuple[int, ...] = ()) -> Plan:
    notifications = [Notification(f"sns-{e.id}", e.id, "events", b"") for e in events]
    notifications += [Notification(f"sns-{i}-again", i, "feedback", b"") for i in twice]
    return Plan({e.id: e for e in events}, notifications, list(range(len(notifications))))


def event(id: int, ses_type: str, seconds: int, recipients=("a@example.com",), **facts) -> Event:
    return Event(id, ses_type, "m1", ("a@example.com", "b@example.com"), T0, T0 + timedelta(seconds=seconds),
                 tuple(recipients), **facts)


def test_the_highest_rank_wins_whatever_the_order():
    plan = plan_of(event(0, "Send", 0, ("a@example.com", "b@example.com")), event(1, "Delivery", 5),
                   event(2, "DeliveryDelay", 9), event(3, "Bounce", 3, ("b@example.com",), bounce_type="Transient"))
    expected = plan.expected([n.sns_message_id for n in plan.notifications])
    assert expected[("m1", "a@example.com")].status == "DELIVERED"  # a later delay does not undo it
    assert (expected[("m1", "b@example.com")].status, expected[("m1", "b@example.com")].bounce_type) == \
        ("BOUNCED", "TRANSIENT")
    assert expected[("m1", "a@example.com")].events == 3


def test_among_bounces_the_latest_decides_the_type():
    soft_then_hard = plan_of(event(0, "Bounce", 6, bounce_type="Transient"), event(1, "Bounce", 120,
                                                                                  bounce_type="Permanent"))
    hard_then_soft = plan_of(event(0, "Bounce", 120, bounce_type="Transient"), event(1, "Bounce", 6,
                                                                                    bounce_type="Permanent"))
    for plan, bounce_type in ((soft_then_hard, "PERMANENT"), (hard_then_soft, "TRANSIENT")):
        [only] = plan.expected([n.sns_message_id for n in plan.notifications]).values()
        assert (only.status, only.bounce_type) == ("BOUNCED", bounce_type)


def test_an_event_published_through_both_families_counts_once_and_unacknowledged_ones_not_at_all():
    plan = plan_of(event(0, "Delivery", 5), event(1, "Complaint", 60), twice=(0,))
    [only] = plan.expected(["sns-0", "sns-0-again"]).values()
    assert (only.status, only.events) == ("DELIVERED", 1)


def test_message_level_opens_change_no_delivery():
    plan = plan_of(event(0, "Delivery", 5), event(1, "Open", 300, ()))
    [only] = plan.expected(["sns-0", "sns-1"]).values()
    assert (only.status, only.opens) == ("DELIVERED", 0)


def test_the_longest_stall_is_the_longest_time_with_work_pending_and_none_settled():
    samples = [Sample(0.0, 5, 0), Sample(1.0, 3, 2), Sample(2.0, 3, 2), Sample(3.0, None, None),
               Sample(6.0, 3, 2), Sample(7.0, 0, 5), Sample(9.0, 0, 5), Sample(10.0, 1, 5), Sample(11.0, 0, 6)]
    assert longest_stall(samples) == (6.0, 1.0)  # from the last progress at 1.0 to the drain at 7.0
    assert longest_stall(samples, until=4.0) == (3.0, 1.0)
