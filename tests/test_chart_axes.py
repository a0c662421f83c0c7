"""Chart y-axes start at 0: rates, percentages, scores and event counts are never negative."""

from __future__ import annotations

import re
import time

from textual.app import App, ComposeResult

from tui_monitor.ui.charts import SeriesChart

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SeriesChart("Log lines/s", id="chart")


def _y_labels(chart: SeriesChart) -> list[float]:
    """Return the numbers written on the chart's y-axis, top to bottom."""
    lines = _ANSI.sub("", chart.plt.build()).splitlines()
    return [float(match.group(1)) for line in lines if (match := re.match(r"\s*(-?[\d.]+)┤", line))]


async def test_series_chart_axis_starts_at_zero() -> None:
    app = _ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(SeriesChart)
        now = time.time()
        for i in range(20):
            chart.add("lines", now - 100 + 5 * i, 5.0 + i % 3)
        chart.redraw_if_changed(now)
        await pilot.pause()

        labels = _y_labels(chart)

    assert labels[-1] == 0.0
    assert labels[0] >= 7.0


async def test_series_chart_ignores_infinite_values_for_axis() -> None:
    app = _ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(SeriesChart)
        now = time.time()
        chart.add("lines", now - 10, 3.0)
        chart.add("lines", now - 5, float("inf"))
        chart.redraw_if_changed(now)
        await pilot.pause()

        labels = _y_labels(chart)

    assert labels[-1] == 0.0
    assert labels[0] < 10.0
