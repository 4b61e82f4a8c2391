"""One timed row of bench/read.py: a page's (or a baseline query's) samples and what it shows."""
from __future__ import annotations

import dataclasses
import math
import statistics


@dataclasses.dataclass
class Result:
    api: str
    page: str
    samples: list[float] = dataclasses.field(default_factory=list)  # seconds
    items: int | None = None
    note: str = ""
    skipped: str = ""
    plans: list[str] = dataclasses.field(default_factory=list)
    baseline: str = ""  # the baseline row whose p50 this one is compared with
    pair: str = ""  # a deep page: its first page's label
    cpu: list[float] = dataclasses.field(default_factory=list)  # gunicorn CPU seconds of each timed request

    @property
    def p50(self) -> float:
        return 1000 * statistics.median(self.samples)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples)  # nearest rank
        return 1000 * ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]

    @property
    def cpu_ms(self) -> float | None:
        return 1000 * statistics.fmean(self.cpu) if self.cpu else None
