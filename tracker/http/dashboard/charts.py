"""Server-drawn SVG bar charts: the geometry of stacked bars, one bar per hour or day, one colour per series."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 720, 200, 10, 24, 40
# Distinguishable on screen and in print, and for the common colour blindnesses (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


@dataclasses.dataclass(frozen=True)
class Segment:
    series: str
    count: int
    y: float
    height: float
    colour: str


@dataclasses.dataclass(frozen=True)
class Bar:
    start: datetime
    label: str  # shown under some bars
    title: str  # every bar's tooltip: when, and each series' count
    x: float
    width: float
    segments: tuple[Segment, ...]


@dataclasses.dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str, int], ...]  # series, colour, total
    peak: int  # the y axis' top
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: int = BOTTOM

    @property
    def total(self) -> int:
        return sum(total for _, _, total in self.legend)


def buckets(end: datetime, step: timedelta, count: int) -> list[datetime]:
    """The ``count`` bucket starts up to the one holding ``end``, oldest first (``end`` truncated to ``step``)."""
    last = end.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        last = last.replace(hour=0)
    return [last - step * n for n in range(count - 1, -1, -1)]


def stacked(starts: list[datetime], counts: dict[tuple[str, datetime], int], label_format: str,
            label_every: int) -> Chart:
    """A stacked bar per bucket start; ``counts`` maps (series, bucket start) to a count (missing: 0)."""
    series = sorted({name for name, _ in counts})
    colours = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(series)}
    per_bucket = {start: sum(counts.get((name, start), 0) for name in series) for start in starts}
    peak = max([*per_bucket.values(), 1])
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(starts), 1)
    bars = []
    for n, start in enumerate(starts):
        base, segments = float(HEIGHT - BOTTOM), []
        for name in series:
            value = counts.get((name, start), 0)
            if value:
                height = value / peak * plot_height
                base -= height
                segments.append(Segment(name, value, round(base, 2), round(height, 2), colours[name]))
        parts = ", ".join(f"{s.series} {s.count}" for s in segments) or "none"
        bars.append(Bar(start, start.strftime(label_format) if n % label_every == 0 else "",
                        f"{start.strftime(label_format)}: {per_bucket[start]} ({parts})",
                        round(LEFT + n * slot + slot * 0.1, 2), round(slot * 0.8, 2), tuple(segments)))
    legend = tuple((name, colours[name], sum(counts.get((name, s), 0) for s in starts)) for name in series)
    return Chart(tuple(bars), legend, peak)


STATE_COLOURS = {"healthy": "#1a7f37", "warning": "#9a6700", "at_risk": "#c62828"}


@dataclasses.dataclass(frozen=True)
class RateRow:
    label: str
    rate: float
    state: str
    y: float
    width: float  # the bar's length
    colour: str


@dataclasses.dataclass(frozen=True)
class RateChart:
    """Horizontal bars of rates (one per scope), with the warning and at-risk thresholds as vertical lines."""

    rows: tuple[RateRow, ...]
    warning_x: float
    at_risk_x: float
    warning: float
    at_risk: float
    scale: float  # the rate at the right edge
    width: int
    height: int
    left: int = 190
    row_height: int = 26


def rate_rows(rows: list[tuple[str, float, str]], warning: float, at_risk: float) -> RateChart:
    """Bars for (label, rate, state) rows on a scale that shows both thresholds and the worst rate."""
    left, row_height, width = 190, 26, WIDTH
    scale = max([at_risk * 1.5, *(rate * 1.1 for _, rate, _ in rows)])
    plot = width - left - 10

    def x(rate: float) -> float:
        return round(left + rate / scale * plot, 2)

    drawn = tuple(RateRow(label, rate, state, 20 + n * row_height, round(rate / scale * plot, 2),
                          STATE_COLOURS.get(state, PALETTE[0])) for n, (label, rate, state) in enumerate(rows))
    return RateChart(drawn, x(warning), x(at_risk), warning, at_risk, scale, width,
                     20 + max(len(rows), 1) * row_height + 10, left, row_height)
