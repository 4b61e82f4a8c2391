"""The wheel is the product: it carries its migrations and demo, and an installed tracker runs.

The wheel is built from this checkout and installed into a new virtualenv that sees the
suite's dependencies (a .pth line, no network) but not its editable checkout; then, from an
empty folder, `tracker db upgrade` and `tracker run` must work as the README says.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.processes import ROOT, free_port, http, poll, running, wait_for_log, wait_for_port


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and egg-info into the tree it builds.
    source = out / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "var", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, cwd=out)
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_carries_the_migrations_and_the_demo_but_no_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {path.name for path in (ROOT / "migrations" / "versions").glob("0*.py")}
    assert {name.rsplit("/", 1)[1] for name in names if name.startswith("tracker/migrations/versions/")} >= migrations
    assert {"tracker/migrations/env.py", "tracker/migrations/script.py.mako", "tracker/examples/ses-bounce.json",
            "tracker/examples/ses-delivery.json", "workers/celery_app.py",
            "tracker/http/dashboard/templates/dashboard/overview.html",
            "tracker/http/dashboard/static/dashboard.css"} <= names
    templates = {path.name for path in (ROOT / "tracker/http/dashboard/templates/dashboard").glob("*.html")}
    assert {name.rsplit("/", 1)[1] for name in names
            if name.startswith("tracker/http/dashboard/templates/dashboard/")} == templates
    assert any(re.fullmatch(r"tracker/examples/sns-demo-cert/.+\.pem", name) for name in names)
    assert not [name for name in names if name.startswith(("tests/", "bench/", "var/"))]


def test_an_installed_wheel_migrates_and_runs_the_demo_from_an_empty_folder(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    [site] = environment.glob("lib/python*/site-packages")
    site.joinpath("suite-dependencies.pth").write_text(
        "\n".join(path for path in sys.path if path.endswith("site-packages")) + "\n")
    # PYTHONPATH (a checkout's, say) would put another copy before the installed one; Python ignores it empty.
    unset = {**os.environ, "PYTHONPATH": ""}
    subprocess.run([environment / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], env=unset, check=True)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {"TRACKER_DATABASE_URL": f"sqlite:///{empty}/tracker.db", "TRACKER_BROKER_URL": "", "PYTHONPATH": ""}
    where = subprocess.run([environment / "bin" / "python", "-c", "import tracker; print(tracker.__file__)"],
                           cwd=empty, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), where  # the installed copy, not this checkout

    upgraded = subprocess.run([environment / "bin" / "tracker", "db", "upgrade"], cwd=empty,
                              env={**os.environ, **env}, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]

    port = free_port()
    log = tmp_path / "run.log"
    with running([str(environment / "bin" / "tracker"), "run", "--port", str(port)], env, log, cwd=empty) as process:
        wait_for_port(port, process, log)
        text = wait_for_log(log, "SES hook", process)
        key = re.search(r"API key \(account \"demo\"\): (\S+)", text).group(1)
        hook = re.search(r"SES hook \(any topic\):\s+(\S+)", text).group(1)
        # The demo's example as sent now, written into the run's folder from the installed package's copy.
        example = empty / re.search(r"--data-binary @(\S+)", text).group(1)
        assert example.is_file() and (site / "tracker/examples/ses-bounce.json").is_file(), example

        status, _ = http("POST", hook, Path(example).read_bytes(), {"Content-Type": "text/plain; charset=UTF-8"})
        assert status == 200
        base = f"http://127.0.0.1:{port}"
        found = poll(lambda: http("GET", f"{base}/api/v1/deliveries?status=BOUNCED",
                                  headers={"Authorization": f"Bearer {key}"})[1]["data"])
        assert [item["recipient"] for item in found or []] == ["bounce@simulator.amazonses.com"]
