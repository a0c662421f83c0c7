"""Live charts: a plotext line chart that redraws only when its data changed."""

from __future__ import annotations

import math
import time
from collections import deque

from textual_plotext import PlotextPlot

__all__ = ["SeriesChart"]

# Below this many rows the x-axis label would take a row the data needs.
_MIN_HEIGHT_FOR_LABEL = 10


class SeriesChart(PlotextPlot):
    """A line chart of the last ``span_s`` seconds of one or more series.

    ``add`` only stores points; ``redraw_if_changed`` rebuilds the plot, and
    the app calls it on a timer so that a burst of points costs one redraw.
    """

    DEFAULT_CSS = """
    SeriesChart {
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, title: str, *, span_s: float = 300.0, y_max: float | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.span_s = span_s
        self.y_max = y_max
        self.series: dict[str, deque[tuple[float, float]]] = {}
        self._is_dirty = True
        self.redraws = 0

    def add(self, label: str, ts: float, value: float) -> None:
        """Append one point to series ``label``."""
        points = self.series.setdefault(label, deque(maxlen=4096))
        points.append((ts, value))
        self._is_dirty = True

    def redraw_if_changed(self, now: float | None = None) -> bool:
        """Rebuild the plot when points arrived since the last redraw; return whether it did."""
        if not self._is_dirty:
            return False
        now = time.time() if now is None else now
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        if self.size.height >= _MIN_HEIGHT_FOR_LABEL:
            plt.xlabel("seconds ago")
        plt.xlim(-self.span_s, 0)
        highest = 0.0
        for label, points in self.series.items():
            # plotext cannot place NaN or an infinity (it raises), so they are left out.
            recent = [(ts - now, value) for ts, value in points if ts >= now - self.span_s and math.isfinite(value)]
            if recent:
                xs, ys = zip(*recent, strict=True)
                highest = max(highest, *ys)
                plt.plot(list(xs), list(ys), label=label if len(self.series) > 1 else None, marker="braille")
        # Every chart here shows a rate, a percentage or a score: the axis starts at 0,
        # so a steady 5 lines/s does not look like a line at the bottom of the chart.
        plt.ylim(0, self.y_max if self.y_max is not None else max(1.0, highest * 1.1))
        self._is_dirty = False
        self.redraws += 1
        self.refresh()
        return True
