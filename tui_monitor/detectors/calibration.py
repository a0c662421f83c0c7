"""Map raw detector scores to one comparable 0..1 scale.

The calibrated score of a raw score is its mid-rank among the last
``size`` raw scores: 0.5 is typical for this stream, 0.99 means higher than
99 % of recent windows. Scores of different models and streams can then be
compared and combined.
"""

from __future__ import annotations

import bisect
from collections import deque

__all__ = ["RunningQuantile"]


class RunningQuantile:
    """Calibrate raw scores by their rank in a sliding history.

    >>> cal = RunningQuantile(size=4)
    >>> for raw in (0.1, 0.2, 0.3, 0.4):
    ...     cal.learn_one(raw)
    >>> cal.score_one(0.35)
    0.75
    >>> cal.score_one(0.9)
    1.0
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def learn_one(self, raw: float) -> None:
        """Add a raw score to the history, dropping the oldest beyond ``size``."""
        self._order.append(raw)
        bisect.insort(self._sorted, raw)
        if len(self._order) > self.size:
            oldest = self._order.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]

    def score_one(self, raw: float) -> float:
        """Return the mid-rank of ``raw`` in the history, in 0..1 (0.5 when empty)."""
        n = len(self._sorted)
        if n == 0:
            return 0.5
        below = bisect.bisect_left(self._sorted, raw)
        equal = bisect.bisect_right(self._sorted, raw) - below
        return (below + 0.5 * equal) / n
