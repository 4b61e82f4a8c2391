"""Printing drill reports: one block per drill as it ends, a table at the end, JSON on request."""
from __future__ import annotations

import dataclasses

from bench.drills.run import Report


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def describe(report: Report) -> str:
    t = report.tally
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(t.answers.items(), key=lambda kv: str(kv[0])))
    lines = [
        f"  traffic       {report.plan}",
        f"  posted        {t.posts} requests in {report.posting:.1f} s ({answers})",
        f"  acknowledged  {t.acknowledged}/{t.notifications}   refused {t.refused}   never acknowledged {t.gave_up}",
        f"  applied       {t.applied}   lost {t.lost} (not stored {t.lost_not_stored}, pending {t.lost_pending}, "
        f"failed {t.lost_failed})",
        f"  deliveries    {t.deliveries}   missing events {t.short}   applied twice {t.applied_twice}   "
        f"wrong {t.wrong}   unexpected {t.unexpected}",
        f"  longest stall {report.stall:.1f} s (from +{report.stall_start:.1f} s)   drain {_seconds(report.drain)} "
        f"after the last acknowledgement (+{report.last_acknowledged:.1f} s)",
    ]
    lines += [f"    {example}" for example in t.wrong_examples]
    events = list(report.timeline)
    for at, exit in report.exits:
        events.append((at, f"{exit.service} EXITED by itself (code {exit.returncode}): {_last_error(exit.log_tail)}"))
    lines += [f"  +{at:5.1f} s  {text}" for at, text in sorted(events, key=lambda pair: pair[0])]
    if report.poison_answers:
        lines.append("  poison answers " + "; ".join(
            f"{name} {dict(answers)}" for name, answers in sorted(report.poison_answers.items())))
        lines.append(f"  poison rows   {report.poison_rows}")
    problems = report.problems()
    lines.append("  PASS" if not problems else "  FAIL: " + "; ".join(problems))
    if problems and report.logs:
        lines.append(f"  logs: {report.logs}")
    return "\n".join(lines)


def _last_error(log: str) -> str:
    """The last line of a log that names an error, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if any(word in line for word in ("CRITICAL", "Error", "Exception"))]
    return (errors or lines or [""])[-1][:300]


def table(reports: list[Report]) -> str:
    header = (f"{'drill':<15}{'acked':>8}{'applied':>9}{'lost':>6}{'twice':>7}{'wrong':>7}"
              f"{'stall s':>9}{'drain s':>9}{'exits':>7}  verdict")
    rows = [header, "-" * len(header)]
    for r in reports:
        t = r.tally
        rows.append(f"{r.drill:<15}{t.acknowledged:>8}{t.applied:>9}{t.lost:>6}{t.applied_twice:>7}"
                    f"{t.wrong + t.unexpected:>7}{r.stall:>9.1f}{_seconds(r.drain).replace(' s', ''):>9}"
                    f"{len(r.exits) + r.celery_restarts:>7}  {'PASS' if not r.problems() else 'FAIL'}")
    return "\n".join(rows)


def as_json(reports: list[Report]) -> list[dict]:
    return [{
        "drill": r.drill, "n": r.options.n, "plan": r.plan,
        "tally": {**dataclasses.asdict(r.tally), "answers": {str(k): v for k, v in r.tally.answers.items()},
                  "lost": r.tally.lost},
        "posting_s": r.posting, "last_acknowledged_s": r.last_acknowledged, "drained_at_s": r.drained_at,
        "drain_s": r.drain, "longest_stall_s": r.stall, "longest_stall_start_s": r.stall_start,
        "timeline": r.timeline, "celery_restarts": r.celery_restarts,
        "exits": [{"service": e.service, "at_s": at, "returncode": e.returncode} for at, e in r.exits],
        "poison_answers": {k: {str(a): n for a, n in v.items()} for k, v in r.poison_answers.items()},
        "poison_rows": r.poison_rows, "problems": r.problems(),
    } for r in reports]
