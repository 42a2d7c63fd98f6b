"""A bar chart as plain SVG geometry, drawn by the template: no JavaScript, works everywhere.

The numbers are also in a table next to the chart, for screen readers and
for anyone who wants the exact values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    ticks: list[tuple[int, float]]  # (value, y) for the horizontal grid lines
    peak: int


def bar_chart(
    days: list[tuple[date, int]], *, width: int = 600, height: int = 200, margin: int = 28
) -> BarChart:
    """Bars for (day, count) pairs, scaled to a round top value, in a width x height box."""
    peak = max((count for _, count in days), default=0)
    top = _round_up(peak)
    plot_top, plot_bottom = 8, height - margin
    plot_height = plot_bottom - plot_top
    slot = (width - margin) / max(len(days), 1)
    bars = []
    for i, (day, count) in enumerate(days):
        bar_height = plot_height * count / top
        bars.append(
            Bar(
                day=day,
                count=count,
                x=round(margin + i * slot + slot * 0.1, 1),
                y=round(plot_bottom - bar_height, 1),
                width=round(slot * 0.8, 1),
                height=round(bar_height, 1),
            )
        )
    # Every possible top is even, so the middle line is a whole number too.
    ticks = [(v, round(plot_bottom - plot_height * v / top, 1)) for v in (0, top // 2, top)]
    return BarChart(width, height, plot_top, plot_bottom, bars, ticks, peak)


def _round_up(peak: int) -> int:
    """The axis top: 4, 10, 20, 50, 100, 200, ... at or above the peak (never 0)."""
    for nice in (4, 10, 20, 50):
        if peak <= nice:
            return nice
    scale = 100
    while True:
        for step in (1, 2, 5):
            if peak <= step * scale:
                return step * scale
        scale *= 10
