"""Group observations into fixed windows and turn each into a feature vector.

Windows are aligned to multiples of ``window_s`` in Unix time, so every
stream's windows share boundaries. Feature names are ``<stream>.<metric>``
for counts (``log.app.lines``) and ``<stream>.<metric>.<agg>`` for gauges
(``host.cpu.total_pct.mean``, ``host.cpu.total_pct.max``,
``host.cpu.total_pct.last``). Latencies, gauges whose name ends in ``_ms``,
also get ``.p95``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from tui_monitor.sources.base import Observation

__all__ = ["ClosedWindow", "WindowAggregator", "percentile", "window_start"]


def window_start(ts: float, window_s: float) -> float:
    """Return the start of the window that contains ``ts``.

    >>> window_start(1234.5, 10.0)
    1230.0
    """
    return math.floor(ts / window_s) * window_s


def percentile(values: list[float], pct: float) -> float:
    """Return the ``pct`` percentile of ``values`` with linear interpolation between ranks.

    >>> percentile([10.0, 20.0, 30.0, 40.0], 95.0)
    38.5
    >>> percentile([7.0], 95.0)
    7.0
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class _OpenWindow:
    gauges: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)


@dataclass
class ClosedWindow:
    """A closed window of one stream with its features and raw samples."""

    stream: str
    start: float
    end: float
    features: dict[str, float]
    samples: list[tuple[float, dict[str, float]]]


class WindowAggregator:
    """Collect observations per stream and close windows as time passes.

    Streams declared with ``declare`` close a window even when nothing
    arrived (a quiet log has zero lines, which is information); other
    streams close only windows that received data. An observation for a
    window that has already closed is counted in the oldest open window so
    that nothing is lost.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._open: dict[str, dict[float, _OpenWindow]] = defaultdict(dict)
        self._declared: dict[str, tuple[str, ...]] = {}
        self._closed_until: float | None = None

    def start(self, now: float) -> None:
        """Start the first window at the one containing ``now``."""
        self._closed_until = window_start(now, self.window_s)

    def declare(self, stream: str, count_names: tuple[str, ...] = ()) -> None:
        """Declare a stream whose windows close even when empty, with zeroed counts."""
        self._declared[stream] = count_names

    def add(self, obs: Observation) -> None:
        """Add one observation to its window."""
        start = window_start(obs.ts, self.window_s)
        if self._closed_until is not None and start < self._closed_until:
            start = self._closed_until
        window = self._open[obs.stream].setdefault(start, _OpenWindow())
        for name, value in obs.gauges.items():
            if value is not None and math.isfinite(value):
                window.gauges[name].append(float(value))
        for name, value in obs.counts.items():
            window.counts[name] += value
        if obs.gauges:
            window.samples.append((obs.ts, dict(obs.gauges)))

    def close_until(self, now: float) -> list[ClosedWindow]:
        """Close every window that ended at or before ``now``, oldest first."""
        boundary = window_start(now, self.window_s)
        first_open = self._closed_until
        closed: list[ClosedWindow] = []

        for stream, count_names in self._declared.items():
            if first_open is None:
                continue
            start = first_open
            while start < boundary:
                self._open[stream].setdefault(start, _OpenWindow())
                start += self.window_s
            for name in count_names:
                for window in self._open[stream].values():
                    window.counts.setdefault(name, 0.0)

        for stream, windows in self._open.items():
            for start in sorted(windows):
                if start + self.window_s > now + 1e-9:
                    continue
                window = windows.pop(start)
                closed.append(
                    ClosedWindow(
                        stream=stream,
                        start=start,
                        end=start + self.window_s,
                        features=_features(stream, window),
                        samples=window.samples,
                    )
                )
        self._closed_until = boundary
        closed.sort(key=lambda w: (w.start, w.stream))
        return closed


def _features(stream: str, window: _OpenWindow) -> dict[str, float]:
    features: dict[str, float] = {}
    for name, values in sorted(window.gauges.items()):
        if not values:
            continue
        features[f"{stream}.{name}.mean"] = sum(values) / len(values)
        features[f"{stream}.{name}.max"] = max(values)
        features[f"{stream}.{name}.last"] = values[-1]
        if name.endswith("_ms"):
            features[f"{stream}.{name}.p95"] = percentile(values, 95.0)
    for name, total in sorted(window.counts.items()):
        features[f"{stream}.{name}"] = total
    return features
