"""bench/ingest.py still runs: every phase, the tracker and the django-ses peer, at a tiny size (no timings)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

pytest.importorskip("django_ses", reason="the bench extra (pip install -e '.[bench]') is not installed")


def test_ingest_bench_measures_every_phase_of_a_round(tmp_path, redis_url):
    figures = tmp_path / "rounds.json"
    finished = subprocess.run(
        [sys.executable, "bench/ingest.py", "-n", "20", "--rounds", "1", "--clients", "2", "--web-workers", "1",
         "--worker-concurrency", "1", "--warm", "10", "--json", str(figures)],
        cwd=ROOT, env={**os.environ, "TRACKER_TEST_REDIS_URL": redis_url}, capture_output=True, text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (round_,) = json.loads(figures.read_text())
    assert set(round_) == {"noop", "receiver", "worker", "end_to_end", "peer"}
    for phase in round_.values():
        assert phase["rate"] > 0
    assert "receiver vs the django-ses peer" in finished.stdout
