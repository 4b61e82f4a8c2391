"""bench/close_wait.py still runs: clients closing late and a silent connection, at a tiny size (no timings)."""
from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT


def test_close_wait_serves_late_closing_clients_and_answers_behind_a_silent_connection():
    finished = subprocess.run(
        [sys.executable, "bench/close_wait.py", "--clients", "2", "--workers", "1", "--seconds", "0.5",
         "--delays", "0", "5", "--rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    rows = [line.split() for line in finished.stdout.splitlines() if line.strip().startswith(("0 ms", "5 ms"))]
    assert len(rows) == 2 and all(float(row[2].replace(",", "")) > 0 for row in rows)  # requests/s answered
    assert "a request behind a connection that sends nothing (one worker), answered after: new" in finished.stdout
