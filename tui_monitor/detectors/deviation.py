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


class RobustBaseline:
    """Per-feature rolling median and MAD over the last ``size`` normal windows.

    A feature that never moved has a MAD of zero; its scale then falls back
    to 5 % of the median's magnitude, or to ``min_scale``, so that a tiny
    change of a constant feature is not infinitely surprising.

    >>> base = RobustBaseline(size=10)
    >>> for v in (10, 11, 9, 10, 10, 11, 9):
    ...     base.learn_one({"cpu": float(v)})
    >>> round(base.zscores({"cpu": 40.0})["cpu"], 1)
    20.2
    """

    def __init__(self, size: int = 360, min_scale: float = 0.5) -> None:
        self.size = size
        self.min_scale = min_scale
        self._history: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=self.size))

    def learn_one(self, features: dict[str, float]) -> None:
        """Add one normal window's features."""
        for name, value in features.items():
            if math.isfinite(value):
                self._history[name].append(value)

    def usual(self, name: str) -> tuple[float, float] | None:
        """Return (median, scale) of a feature, or None before any history."""
        values = self._history.get(name)
        if not values:
            return None
        median = statistics.median(values)
        mad = statistics.median(abs(v - median) for v in values)
        scale = max(_MAD_TO_SIGMA * mad, 0.05 * abs(median), self.min_scale)
        return median, scale

    def zscores(self, features: dict[str, float]) -> dict[str, float]:
        """Return the robust z-score of each feature that has history."""
        scores: dict[str, float] = {}
        for name, value in features.items():
            usual = self.usual(name)
            if usual is None or not math.isfinite(value):
                continue
            median, scale = usual
            scores[name] = (value - median) / scale
        return scores

    def top(self, features: dict[str, float], k: int = 5) -> list[dict[str, Any]]:
        """Return the ``k`` features with the largest absolute robust z-score."""
        ranked = sorted(self.zscores(features).items(), key=lambda item: abs(item[1]), reverse=True)
        top = []
        for name, z in ranked[:k]:
            usual = self.usual(name)
            median = usual[0] if usual else float("nan")
            top.append({"name": name, "value": features[name], "median": median, "z": round(z, 2)})
        return top
