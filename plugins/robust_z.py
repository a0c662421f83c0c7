"""Example detector plugin: a robust z-score threshold on every feature.

For each stream and feature it keeps the last ``history`` values of normal
windows and scores a new window by its largest robust z-score,
``|x - median| / (1.4826 * MAD)``, over all features. The factor 1.4826
makes the MAD estimate the standard deviation of normal data. A window
scoring at or above ``threshold`` is anomalous. The score is 0 until a
feature has ``min_history`` values (its warm-up).

Options (``--plugin-option robust_z.KEY=VALUE``): ``threshold`` (default 6),
``history`` (default 360 windows, an hour of 10 s windows) and
``min_history`` (default 30).
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from tui_monitor.errors import ConfigError
from tui_monitor.plugins import DetectorPlugin, PluginContext

_MAD_TO_SIGMA = 1.4826


def robust_z(value: float, history: list[float], *, min_relative_scale: float = 0.05) -> float:
    """Return how many robust standard deviations ``value`` lies from the median of ``history``.

    The scale is at least ``min_relative_scale`` times the median's size
    (and never below that fraction of 1), so a history that never varied
    (MAD 0) still gives a finite score and any real change scores high.

    >>> round(robust_z(20.0, [8.0, 9.0, 10.0, 11.0, 12.0]), 2)
    6.74
    >>> robust_z(1.0, [0.0] * 30)
    20.0
    """
    median = statistics.median(history)
    mad = statistics.median(abs(v - median) for v in history)
    scale = max(_MAD_TO_SIGMA * mad, min_relative_scale * max(1.0, abs(median)))
    return abs(value - median) / scale


class RobustZDetector(DetectorPlugin):
    """Largest robust z-score over a window's features; higher is more anomalous."""

    name = "robust_z"

    def __init__(self, *, threshold: float = 6.0, history: int = 360, min_history: int = 30) -> None:
        self.threshold = threshold
        self.min_history = min_history
        self._history: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=history))
        self._last: list[dict[str, Any]] = []

    def _z_scores(self, stream: str, features: Mapping[str, float]) -> list[dict[str, Any]]:
        scored: list[dict[str, Any]] = []
        for name, value in features.items():
            history = self._history.get((stream, name))
            if history is None or len(history) < self.min_history:
                continue
            values = list(history)
            scored.append({"name": name, "value": value, "median": statistics.median(values), "z": robust_z(value, values)})
        scored.sort(key=lambda f: f["z"], reverse=True)
        return scored

    def score_one(self, stream: str, features: Mapping[str, float]) -> float:
        """Return the largest robust z-score of the window's features (0 during warm-up)."""
        self._last = self._z_scores(stream, features)
        return self._last[0]["z"] if self._last else 0.0

    def learn_one(self, stream: str, features: Mapping[str, float]) -> None:
        """Add the window's values to each feature's history."""
        for name, value in features.items():
            self._history[(stream, name)].append(value)

    def explain_one(self, stream: str, features: Mapping[str, float]) -> list[dict[str, Any]]:
        """Return the five features with the largest z-scores of the last scored window."""
        return self._last[:5]


def create_plugins(context: PluginContext) -> list[RobustZDetector]:
    """Build the detector from ``--plugin-option robust_z.*`` options."""
    options = context.options_for("robust_z")
    try:
        threshold = float(options.get("threshold", "6"))
        history = int(options.get("history", "360"))
        min_history = int(options.get("min_history", "30"))
    except ValueError as exc:
        raise ConfigError(f"invalid robust_z plugin option: {exc}; expected numbers, e.g. robust_z.threshold=6") from exc
    if not (threshold > 0 and 1 <= min_history <= history):
        raise ConfigError(
            f"invalid robust_z options threshold={threshold!r}, history={history!r}, min_history={min_history!r}: "
            "expected threshold > 0 and 1 <= min_history <= history"
        )
    return [RobustZDetector(threshold=threshold, history=history, min_history=min_history)]
