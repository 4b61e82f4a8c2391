"""docker-compose.yml, the shipped production stack: every long-running process comes back by itself."""
from __future__ import annotations

import re

import yaml

from tests.support.processes import ROOT
from workers.tasks import TIME_BUDGET

SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
ONE_SHOT = {name for name, service in SERVICES.items() if service.get("restart") == "no"}


def test_every_long_running_service_is_restarted_when_it_dies():
    assert {"migrate"} == ONE_SHOT
    for name, service in SERVICES.items():
        if name not in ONE_SHOT:
            assert service.get("restart") in ("always", "unless-stopped"), name


def test_tracker_processes_run_under_an_init_that_reaps_orphans():
    for name, service in SERVICES.items():
        if service.get("image") == "delivery-status-tracker" and name not in ONE_SHOT:
            assert service.get("init") is True, name


def test_celery_runs_supervised_and_is_given_time_to_finish_a_drain_when_stopped():
    celery = {name: service for name, service in SERVICES.items()
              if re.match(r"tracker (worker|beat)\b", service.get("command", ""))}
    assert set(celery) == {"worker", "webhook-worker", "beat"}
    for name, service in celery.items():
        grace = re.fullmatch(r"(\d+)s", service.get("stop_grace_period", "10s"))
        assert int(grace.group(1)) > TIME_BUDGET, name  # Docker's default 10 s would cut a drain short
    assert "--no-beat" in celery["worker"]["command"]  # beat runs once, as its own service


def test_every_long_running_service_has_a_healthcheck_and_web_checks_readiness():
    for name, service in SERVICES.items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), name
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_the_shared_environment_carries_the_secret_key_the_metrics_directory_and_json_logs():
    for name, service in SERVICES.items():
        if service.get("image") == "delivery-status-tracker":
            environment = service["environment"]
            assert "TRACKER_SECRET_KEY" in environment, name
            assert environment.get("TRACKER_LOG_FORMAT") == "json", name
            assert "PROMETHEUS_MULTIPROC_DIR" in environment, name
            mounts = [volume for volume in service.get("volumes", []) if isinstance(volume, dict)]
            assert any(m["type"] == "tmpfs" and m["target"] == environment["PROMETHEUS_MULTIPROC_DIR"]
                       for m in mounts), name


def test_the_image_runs_as_an_unprivileged_user_and_its_context_leaves_secrets_out():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    for private in (".venv/", ".git/", "var/"):
        assert private in ignored
