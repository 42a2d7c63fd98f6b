"""The dashboard's chart geometry and duration texts: what the operator's eye reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from board.operator.bar_chart import bar_chart

DAYS = [date(2026, 6, 1) + timedelta(days=n) for n in range(30)]


@pytest.mark.parametrize(
    ("peak", "top"),
    [(0, 4), (3, 4), (7, 10), (10, 10), (11, 20), (51, 100), (180, 200), (4321, 5000)],
)
def test_the_axis_ends_at_a_round_number_at_or_above_the_peak(peak, top):
    chart = bar_chart([(DAYS[0], peak)])
    assert chart.ticks[-1][0] == top
    assert [value for value, _ in chart.ticks] == [0, top // 2, top]


def test_bars_are_in_proportion_and_stand_on_the_baseline():
    chart = bar_chart([(DAYS[0], 5), (DAYS[1], 10), (DAYS[2], 0)])
    full = chart.plot_bottom - chart.plot_top
    heights = [bar.height for bar in chart.bars]
    assert heights == [full / 2, full, 0]
    assert all(round(bar.y + bar.height, 1) == chart.plot_bottom for bar in chart.bars)
    assert chart.peak == 10


def test_thirty_bars_fit_side_by_side_in_the_box():
    chart = bar_chart([(day, n) for n, day in enumerate(DAYS)])
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs)
    assert all(a.x + a.width < b.x for a, b in zip(chart.bars, chart.bars[1:], strict=False))
    assert chart.bars[-1].x + chart.bars[-1].width <= chart.width


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (None, "–"),
        (timedelta(seconds=20), "0 min"),
        (timedelta(minutes=42, seconds=31), "43 min"),
        (timedelta(hours=1, minutes=5), "1 h 05 min"),
        (timedelta(days=1, hours=2), "26 h 00 min"),
    ],
)
def test_durations_read_in_hours_and_minutes(app, duration, text):
    from board.operator.views import hours_minutes

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert hours_minutes(duration) == text
