"""Kept page statements (tracker.db.repository.prebuilt): built once per shape, within a bound."""
from __future__ import annotations

import pytest

from tracker.db.repository import prebuilt as kept


@pytest.fixture(autouse=True)
def small_cache(monkeypatch):
    monkeypatch.setattr(kept, "_LIMIT", 4)
    kept.forget()
    yield
    kept.forget()


def builder(log: list):
    def build():
        log.append(1)
        return object()
    return build


def test_a_shape_is_built_once_then_the_same_statement_serves_it():
    builds = []
    first = kept.prebuilt(("a",), builder(builds))
    assert kept.prebuilt(("a",), builder(builds)) is first
    assert len(builds) == 1


def test_a_shape_not_to_be_kept_is_built_for_each_request():
    builds = []
    one = kept.prebuilt(("many senders", 4000), builder(builds), keep=False)
    other = kept.prebuilt(("many senders", 4000), builder(builds), keep=False)
    assert one is not other and len(builds) == 2


def test_past_the_bound_the_older_half_goes_and_the_newest_stay():
    builds = []
    statements = {n: kept.prebuilt((n,), builder(builds)) for n in range(5)}  # the fifth passes the bound of 4
    assert len(builds) == 5
    assert kept.prebuilt((4,), builder(builds)) is statements[4]
    assert kept.prebuilt((3,), builder(builds)) is statements[3]
    assert len(builds) == 5
    assert kept.prebuilt((0,), builder(builds)) is not statements[0]  # dropped, built again
    assert len(builds) == 6
