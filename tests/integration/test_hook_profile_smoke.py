"""bench/hook_profile.py still runs: the receiver stores every request in process, at a tiny size (no timings)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import ROOT


def test_hook_profile_serves_the_receiver_and_the_204_route_and_profiles(redis_url):
    finished = subprocess.run(
        [sys.executable, "bench/hook_profile.py", "-n", "20", "--rounds", "1", "--profile", "5"],
        cwd=ROOT, env={**os.environ, "TRACKER_TEST_REDIS_URL": redis_url}, capture_output=True, text=True,
        timeout=180,
    )
    # The script asserts every request got its 200 (stored) or 204 before it prints a figure.
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "receiver / 204 route" in finished.stdout
    assert "function calls" in finished.stdout  # the cProfile listing
