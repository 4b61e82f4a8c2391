"""The supervisor behind `tracker worker` and `tracker beat`, around a small child that records its life.

The child appends "start <pid>" when it starts and the name of every signal it receives
to a journal, and crashes (status 3) on its first runs as told, then waits to be stopped.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.processes import ROOT

CHILD = r"""
import os, signal, sys, time
journal, crashes = sys.argv[1], int(sys.argv[2])
def write(line):
    with open(journal, "a") as out:
        out.write(line + "\n")
starts = sum(1 for line in open(journal) if line.startswith("start")) if os.path.exists(journal) else 0
write(f"start {os.getpid()}")
if starts < crashes:
    sys.exit(3)
def stop(number, frame):
    write(signal.Signals(number).name)
    time.sleep(0.2)  # a warm shutdown takes a moment; a second signal meanwhile would be recorded
    sys.exit(0)
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
    signal.signal(number, stop)
while True:
    time.sleep(0.05)
"""

SUPERVISOR = r"""
import logging, sys
from workers.supervisor import Supervisor
logging.basicConfig(level="INFO", format="%(message)s")
sys.exit(Supervisor("test worker", [sys.executable, *sys.argv[1:]], first_delay=0.1, max_delay=0.4).run())
"""


def _supervise(tmp_path: Path, crashes: int) -> tuple[subprocess.Popen, Path]:
    child, journal = tmp_path / "child.py", tmp_path / "journal"
    child.write_text(CHILD)
    process = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(child), str(journal), str(crashes)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return process, journal


def _lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def _wait_for(predicate, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _running_child(journal: Path, starts: int) -> int:
    """The pid of the ``starts``-th child once it is up and waiting (its signal handlers installed)."""
    assert _wait_for(lambda: sum(line.startswith("start") for line in _lines(journal)) == starts), _lines(journal)
    time.sleep(0.3)
    return int([line for line in _lines(journal) if line.startswith("start")][-1].split()[1])


def test_a_child_that_dies_is_started_again_with_growing_delays_and_sigterm_stops_it_once(tmp_path):
    supervisor, journal = _supervise(tmp_path, crashes=3)
    child = _running_child(journal, starts=4)

    supervisor.send_signal(signal.SIGTERM)

    output = supervisor.communicate(timeout=20)[0]
    assert supervisor.returncode == 0, output
    assert _lines(journal)[-1] == "SIGTERM" and _lines(journal).count("SIGTERM") == 1
    assert [line.split("restarting in ")[1] for line in output.splitlines() if "restarting in" in line] == [
        "0.1 s", "0.2 s", "0.4 s"]
    assert "exited with status 3" in output
    assert not os.path.exists(f"/proc/{child}")


def test_ctrl_c_in_a_terminal_reaches_the_child_once(tmp_path):
    """A terminal signals the whole foreground group; a second SIGINT would make Celery drop its tasks."""
    supervisor, journal = _supervise(tmp_path, crashes=0)
    child = _running_child(journal, starts=1)
    # Signals sent close together may merge into one; what guarantees one is that the terminal's
    # reaches the supervisor only, the child being in a process group of its own.
    assert os.getpgid(child) == child != os.getpgid(supervisor.pid)

    os.killpg(supervisor.pid, signal.SIGINT)

    supervisor.communicate(timeout=20)
    assert supervisor.returncode == 0
    assert [line for line in _lines(journal) if not line.startswith("start")] == ["SIGINT"]


def test_a_child_that_exits_cleanly_by_itself_is_not_restarted(tmp_path):
    supervisor, journal = _supervise(tmp_path, crashes=0)
    child = _running_child(journal, starts=1)

    os.kill(child, signal.SIGQUIT)  # as `celery control shutdown` would: the child stops on its own, status 0

    output = supervisor.communicate(timeout=20)[0]
    assert supervisor.returncode == 0, output
    assert sum(line.startswith("start") for line in _lines(journal)) == 1
    assert "not restarting" in output


def test_no_child_outlives_a_killed_supervisor(tmp_path):
    supervisor, journal = _supervise(tmp_path, crashes=0)
    child = _running_child(journal, starts=1)

    supervisor.kill()
    supervisor.communicate(timeout=20)

    assert _wait_for(lambda: "SIGTERM" in _lines(journal)), _lines(journal)
    assert _wait_for(lambda: not os.path.exists(f"/proc/{child}") or "Z" in _proc_state(child))


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
