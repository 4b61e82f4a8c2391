"""One drill from start to verdict: a fresh database, the processes, the traffic, the fault, the tally."""
from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path

from bench.drills import check, faults, poison
from bench.drills.monitor import InboxMonitor, longest_stall
from bench.drills.services import PrivatePostgres, flush
from bench.drills.sns_client import Send, Sender
from bench.drills.stack import Exit, Stack
from bench.drills.traffic import TOPICS, make_plan
from tests.support.database import throwaway_database
from tests.support.redis_server import PrivateRedis
from tests.support.sns_signing import SnsTestPki

SNS_HEADERS = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


@dataclasses.dataclass(frozen=True)
class Options:
    n: int = 1000  # unique SNS notifications of genuine traffic
    seed: int = 1
    outage: float = 10.0  # seconds Redis or PostgreSQL stays stopped
    drain_timeout: float = 120.0  # after the traffic and the fault, how long to wait for an empty inbox
    retry_for: float = 300.0  # how long the SNS-like sender retries one notification
    clients: int = 16  # concurrent connections of the sender
    rate: float | None = None  # notifications per second (first attempts); None: as fast as answered
    web_workers: int = 4
    worker_concurrency: int = 2
    restart: str = "always"  # the service manager: "always" (compose's unless-stopped) or "never"
    resend_fraction: float = 0.03
    extra_env: tuple[tuple[str, str], ...] = ()  # e.g. (("TRACKER_SWEEP_INTERVAL", "5"),)


@dataclasses.dataclass
class Report:
    drill: str
    options: Options
    plan: str
    tally: check.Tally
    posting: float  # seconds from the first POST to the last answer
    drained_at: float | None  # seconds since the start when nothing was pending any more
    last_acknowledged: float
    stall: float
    stall_start: float
    timeline: list[tuple[float, str]]
    exits: list[tuple[float, Exit]]
    celery_restarts: int  # Celery deaths inside tracker worker that its own supervisor repaired
    poison_answers: dict[str, Counter] = dataclasses.field(default_factory=dict)
    poison_rows: dict[str, int] = dataclasses.field(default_factory=dict)
    logs: Path | None = None

    @property
    def drain(self) -> float | None:
        """Seconds from the last acknowledgement until nothing was pending."""
        return None if self.drained_at is None else max(0.0, self.drained_at - self.last_acknowledged)

    def problems(self) -> list[str]:
        t = self.tally
        found = [f"{count} {what}" for count, what in (
            (t.lost, "acknowledged events lost (not applied without an operator)"),
            (t.short, "deliveries missing events"),
            (t.applied_twice, "deliveries with an event applied twice"),
            (t.wrong, "deliveries with a wrong status"),
            (t.unexpected, "deliveries nothing sent should have made"),
            (t.refused, "genuine notifications refused with a 4xx"),
            (t.gave_up, "genuine notifications never acknowledged"),
            (self.poison_rows.get("pending", 0), "poison rows still pending"),
        ) if count]
        if self.drained_at is None:
            found.append(f"the inbox did not drain within {self.options.drain_timeout:.0f} s")
        for at, exit in self.exits:
            found.append(f"{exit.service} exited by itself at +{at:.1f} s (code {exit.returncode})")
        if self.celery_restarts:
            found.append(f"Celery died {self.celery_restarts} time(s) inside tracker worker and was restarted")
        for name, answers in sorted(self.poison_answers.items()):
            if any(isinstance(a, int) and a >= 500 or not isinstance(a, int) for a in answers):
                found.append(f"poison {name} answered {dict(answers)}")
        return found


@dataclasses.dataclass
class Tenants:
    """The genuine account (its key and SES source) and, for the poison drill, the poisoner's sources."""

    key: str
    source_id: int
    token: str
    poison_tokens: dict[str, str]
    poison_sources: list[int]


def make_tenants(url: str, with_poisoner: bool) -> Tenants:
    from tracker.db import repository
    from tracker.db.engine import Database

    db = Database(url)
    with db.transaction() as session:
        account = repository.create_account(session, "genuine")
        key = repository.create_api_key(session, account)
        source = repository.create_source(session, account, "ses", TOPICS)
        tenants = Tenants(key, source.id, source.token, {}, [])
        if with_poisoner:
            poisoner = repository.create_account(session, "poisoner")
            for provider, secret in poison.SOURCES.items():
                made = repository.create_source(session, poisoner, provider, ["*"] if provider == "ses" else (),
                                                secret=secret)
                tenants.poison_tokens[provider] = made.token
                tenants.poison_sources.append(made.id)
    db.dispose()
    return tenants


def run_drill(drill: faults.Drill, postgres: PrivatePostgres, redis: PrivateRedis, options: Options,
              workdir: Path) -> Report:
    """A fresh database and processes, the traffic with the drill's fault, then the tally."""
    logs = workdir / drill.name
    (logs / "certs").mkdir(parents=True, exist_ok=True)
    flush(redis)
    pki = SnsTestPki(logs / "certs")
    plan = make_plan(options.n, pki, seed=options.seed, resend_fraction=options.resend_fraction)
    with throwaway_database("drill", postgres.admin_url) as url:
        tenants = make_tenants(url, drill.poison)
        sends = [Send(plan.notifications[i].sns_message_id, f"/hooks/sns/{tenants.token}",
                      plan.notifications[i].body, SNS_HEADERS) for i in plan.sends]
        with Stack(url, redis.url(), pki.directory, logs, web_workers=options.web_workers,
                   worker_concurrency=options.worker_concurrency, restart=options.restart,
                   extra_env=dict(options.extra_env)) as stack:
            started = time.monotonic()
            sender = Sender(stack.port, concurrency=options.clients, retry_for=options.retry_for,
                            seed=options.seed, started=started, rate=options.rate)
            monitor = InboxMonitor(url, started)
            monitor.start()
            scene = faults.Scene(stack, url, postgres, redis, sender, len(sends), started, options.outage,
                                 options.drain_timeout, pki, tenants.poison_tokens)
            try:
                fault = faults.start(drill, scene)
                fates = sender.post_all(sends)
                posting = time.monotonic() - started
                scene.note("traffic posted")
                fault.join()
                # Drained: nothing pending once the traffic is posted (maybe before an outage ends,
                # if the worker drains without Redis). Waited for after the fault, so it is over.
                drained_at = monitor.wait_drained(posting, options.drain_timeout)
                scene.note("inbox drained" if drained_at is not None else "gave up waiting for the drain")
            finally:
                monitor.stop()
            tally = check.tally(plan, fates, url, tenants.source_id, stack.base_url, tenants.key)
            exits = [(exit.at - started, exit) for exit in stack.exits]
            celery_restarts = stack.celery_restarts()
        stall, stall_start = longest_stall(monitor.samples, until=drained_at)
        report = Report(
            drill.name, options, plan.summary(), tally, posting, drained_at,
            max((f.acknowledged_at for f in fates if f.acknowledged_at is not None), default=0.0),
            stall, stall_start, scene.timeline, exits, celery_restarts, logs=logs)
        if drill.poison:
            for fate in scene.poison_fates:
                report.poison_answers.setdefault(fate.key.rsplit("-", 1)[0], Counter()).update(fate.answers)
            report.poison_rows = check.inbox_counts(url, tenants.poison_sources)
    return report
