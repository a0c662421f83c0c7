"""Rank features by how far they are from their recent median.

The robust z-score of a value is its distance from the median of recent
normal windows in units of the scaled median absolute deviation (MAD). It
names which features make a window unusual until SHAP explanations exist.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict, deque
from typing import Any

__all__ = ["RobustBaseline"]

# 1.4826 * MAD estimates the standard deviation of normally distributed data.
_MAD_TO_SIGMA = 1.4826


def is_heavy_tailed(name: str) -> bool:
    """Whether a feature is a byte count or rate, compared on a log scale.

    Disk and network byte rates jump by orders of magnitude in normal use
    (a cache flush, a download); on a log scale such a burst is a few MADs
    rather than dozens.

    >>> is_heavy_tailed("host.disk.read_bytes_per_s.mean"), is_heavy_tailed("host.cpu.total_pct.mean")
    (True, False)
    """
    return "bytes" in name


def _to_scale(name: str, value: float) -> float:
    return math.log1p(max(value, 0.0)) if is_heavy_tailed(name) else value


def _from_scale(name: str, value: float) -> float:
    return math.expm1(value) if is_heavy_tailed(name) else value


class RobustBaseline:
    """Per-feature rolling median and MAD over the last ``size`` normal windows.

    A feature that never moved has a MAD of zero; its scale then falls back
    to 5 % of the median's magnitude, or to ``min_scale``, so that a tiny
    change of a constant feature is not infinitely surprising. Byte counts
    and rates are compared as ``log1p(value)`` with a scale of at least
    ``log_min_scale`` (3.0 is a factor of about 20); medians are reported in
    the feature's own unit. A feature gets no z-score until it has
    ``min_history`` values, because a median and MAD of a handful of windows
    make any ordinary value look extreme.

    >>> base = RobustBaseline(size=10)
    >>> for v in (10, 11, 9, 10, 10, 11, 9):
    ...     base.learn_one({"cpu": float(v)})
    >>> round(base.zscores({"cpu": 40.0})["cpu"], 1)
    20.2
    """

    def __init__(self, size: int = 360, min_scale: float = 0.5, min_history: int = 5, log_min_scale: float = 3.0) -> None:
        self.size = size
        self.min_scale = min_scale
        self.log_min_scale = log_min_scale
        self.min_history = min_history
        self._history: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=self.size))

    def learn_one(self, features: dict[str, float]) -> None:
        """Add one normal window's features."""
        for name, value in features.items():
            if math.isfinite(value):
                self._history[name].append(_to_scale(name, value))

    def usual(self, name: str) -> tuple[float, float] | None:
        """Return (median, scale) of a feature on its comparison scale, or None without enough history."""
        values = self._history.get(name)
        if not values or len(values) < self.min_history:
            return None
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        floor = self.log_min_scale if is_heavy_tailed(name) else self.min_scale
        scale = max(_MAD_TO_SIGMA * mad, 0.05 * abs(median), floor)
        return median, scale

    def zscores(self, features: dict[str, float]) -> dict[str, float]:
        """Return the robust z-score of each feature that has history."""
        scores: dict[str, float] = {}
        for name, value in features.items():
            usual = self.usual(name)
            if usual is None or not math.isfinite(value):
                continue
            median, scale = usual
            scores[name] = (_to_scale(name, value) - median) / scale
        return scores

    def top(self, features: dict[str, float], k: int = 5) -> list[dict[str, Any]]:
        """Return the ``k`` features with the largest absolute robust z-score."""
        ranked = sorted(self.zscores(features).items(), key=lambda item: abs(item[1]), reverse=True)
        top = []
        for name, z in ranked[:k]:
            usual = self.usual(name)
            median = _from_scale(name, usual[0]) if usual else float("nan")
            top.append({"name": name, "value": features[name], "median": median, "z": round(z, 2)})
        return top
