"""Fault drills at a small size, on private PostgreSQL and Redis: one fault each, while signed SES
traffic flows. Whatever the fault, nothing acknowledged is lost or applied twice, no delivery
shows a wrong status, no process exits by itself, and the inbox drains without an operator.

The same drills at full size, with their figures: `.venv/bin/python bench/drills -n 10000`.
"""
from __future__ import annotations

import pytest

from bench.drills.faults import DRILLS
from bench.drills.report import describe
from bench.drills.run import Options, run_drill
from bench.drills.services import private_services

pytestmark = pytest.mark.integration

# Paced so that each fault lands while traffic still flows; the drain timeout covers the
# beat sweep's period (30 s) twice over. No figure is asserted: the report carries them.
OPTIONS = Options(n=800, rate=150, drain_timeout=90)


@pytest.fixture(scope="module")
def private():
    with private_services() as services:
        yield services


@pytest.mark.parametrize("name", [name for name in DRILLS if name != "baseline"])
def test_drill(name, private, tmp_path):
    postgres, redis = private
    report = run_drill(DRILLS[name], postgres, redis, OPTIONS, tmp_path)
    assert report.problems() == [], describe(report)
