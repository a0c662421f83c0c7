"""Anomaly likelihood: how unusual the recent level of a raw score is against its own history.

A detector's raw score measures how far one window is from usual. Some
streams score high often (a spike that recurs every few hours) and others
almost never, and a modest rise that lasts is more telling than one high
window.

The likelihood compares the short-term mean of the raw score (the last
``short_windows`` windows) with the distribution of the same mean over the
last ``history`` windows. Its result is the number of standard deviations
by which the short-term mean exceeds its long-term mean. A stream whose
raw scores are high all the time stays near 0, while a change in how
surprising the stream is becomes visible even when no single window is
extreme.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["AnomalyLikelihood"]

# The smallest standard deviation of the short-term mean, in raw-score units
# (robust z-scores for the robust model), so that a stream whose raw score
# hardly moved does not turn a tiny wobble into a huge value. On NAB, floors
# from 0.04 to 0.07 gave 65.1-66.4 against 64.8 for 0.001-0.02 (the false
# alarms of near-constant CPU series) and 61.8 for 0.2.
_MIN_STD = 0.05


class AnomalyLikelihood:
    """Standardized short-term mean of a raw score against its long-term distribution.

    ``update(raw)`` takes each window's raw score in order and returns the
    window's likelihood value: 0 until ``min_history`` windows were seen,
    then ``(short mean - long-term mean) / long-term std``, where the
    short-term mean includes ``raw`` and the long-term statistics come from
    earlier windows only (causal). Higher is more anomalous; 3 means the
    recent level is 3 standard deviations above its usual one.

    Args:
        short_windows: windows in the short-term mean.
        history: short-term means kept for the long-term distribution.
        min_history: short-term means needed before values are reported.

    >>> lik = AnomalyLikelihood(short_windows=2, history=100, min_history=10)
    >>> [lik.update(1.0 + 0.1 * (i % 2)) for i in range(12)][-1] < 1.5
    True
    >>> lik.update(5.0) > 10
    True
    """

    def __init__(self, short_windows: int = 20, history: int = 2000, min_history: int = 100) -> None:
        self.short_windows = short_windows
        self.history = history
        self.min_history = min_history
        self._recent: deque[float] = deque(maxlen=short_windows)
        self._recent_sum = 0.0
        self._means: deque[float] = deque(maxlen=history)
        self._sum = 0.0
        self._sum_sq = 0.0
        self._updates = 0

    def __len__(self) -> int:
        return len(self._means)

    def update(self, raw: float) -> float:
        """Add one window's raw score and return its likelihood value (0 or more is typical, higher is rarer)."""
        if not math.isfinite(raw):
            return 0.0
        if len(self._recent) == self.short_windows:
            self._recent_sum -= self._recent[0]
        self._recent.append(raw)
        self._recent_sum += raw
        mean = self._recent_sum / len(self._recent)

        value = 0.0
        n = len(self._means)
        if n >= self.min_history:
            long_mean = self._sum / n
            variance = max(self._sum_sq / n - long_mean * long_mean, 0.0)
            value = (mean - long_mean) / max(math.sqrt(variance), _MIN_STD)

        if n == self.history:
            oldest = self._means[0]
            self._sum -= oldest
            self._sum_sq -= oldest * oldest
        self._means.append(mean)
        self._sum += mean
        self._sum_sq += mean * mean
        self._updates += 1
        if self._updates % self.history == 0:
            # Running sums drift by rounding over millions of windows, so they are summed afresh.
            self._recent_sum = sum(self._recent)
            self._sum = sum(self._means)
            self._sum_sq = sum(m * m for m in self._means)
        return value
