"""Map raw detector scores to one comparable 0..1 scale.

The calibrated score of a raw score is its mid-rank among the last
``size`` raw scores: 0.5 is typical for this stream, 0.99 means higher than
99 % of recent windows. Above the highest score seen, the scale goes on
towards 1 with an exponential tail whose width is the spread of the top
decile, so "just above the record" and "far above it" stay apart. Scores of
different models and streams can then be compared and combined.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

__all__ = ["RunningQuantile", "RollingThreshold"]


class RunningQuantile:
    """Calibrate raw scores by their rank in a sliding history.

    Scores are in 0..1, higher is more anomalous; a non-finite raw score
    calibrates to 0.5 and is never learned.

    >>> cal = RunningQuantile(size=4)
    >>> for raw in (0.1, 0.2, 0.3, 0.4):
    ...     cal.learn_one(raw)
    >>> cal.score_one(0.35)
    0.75
    >>> cal.score_one(0.4) < cal.score_one(0.45) < cal.score_one(0.9) < 1.0
    True
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def learn_one(self, raw: float) -> None:
        """Add a raw score to the history, dropping the oldest beyond ``size``."""
        if not math.isfinite(raw):
            return
        self._order.append(raw)
        bisect.insort(self._sorted, raw)
        if len(self._order) > self.size:
            oldest = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]

    def score_one(self, raw: float) -> float:
        """Return the calibrated score of ``raw`` in 0..1 (0.5 when the history is empty)."""
        n = len(self._sorted)
        if n == 0 or not math.isfinite(raw):
            return 0.5
        top = self._sorted[-1]
        if raw > top:
            # Continue past the record: 1 - 0.5/n at the record, towards 1 beyond.
            spread = top - self._sorted[int(0.9 * (n - 1))]
            scale = spread if spread > 0 else max(abs(top) * 0.01, 1e-9)
            return 1.0 - (0.5 / n) * math.exp(-(raw - top) / scale)
        below = bisect.bisect_left(self._sorted, raw)
        equal = bisect.bisect_right(self._sorted, raw) - below
        return (below + 0.5 * equal) / n

    def to_state(self) -> dict[str, Any]:
        """Return the history as JSON-ready data."""
        return {"size": self.size, "history": list(self._order)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunningQuantile:
        """Rebuild a calibrator from ``to_state`` data."""
        cal = cls(size=int(state["size"]))
        for raw in state["history"]:
            cal.learn_one(float(raw))
        return cal


class RollingThreshold:
    """A dynamic threshold: a high quantile of the recent calibrated scores.

    The threshold is ``max(floor, quantile q of the last size scores)``, so a
    stream whose scores are noisy alerts less often than a calm one, and
    never below the static floor.

    >>> th = RollingThreshold(q=0.9, floor=0.5, size=10)
    >>> for s in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
    ...     th.learn_one(s)
    >>> th.value()
    0.9
    """

    def __init__(self, q: float = 0.995, floor: float = 0.99, size: int = 2000) -> None:
        self.q = q
        self.floor = floor
        self._quantile = RunningQuantile(size=size)

    def learn_one(self, score: float) -> None:
        """Add one calibrated score."""
        self._quantile.learn_one(score)

    def value(self) -> float:
        """Return the current threshold in 0..1."""
        history = self._quantile._sorted
        if not history:
            return self.floor
        return max(self.floor, history[min(len(history) - 1, int(self.q * (len(history) - 1)))])
