"""The detector stack of one stream: model, calibration, threshold, debounce, incidents."""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tui_monitor.detectors.calibration import RunningQuantile
from tui_monitor.detectors.deviation import RobustBaseline
from tui_monitor.detectors.online import HalfSpaceTreesModel

__all__ = ["Decision", "StreamDetector", "severity_for"]

logger = logging.getLogger(__name__)


def severity_for(score: float) -> str:
    """Map a calibrated score to a severity.

    >>> severity_for(0.999), severity_for(0.995), severity_for(0.98)
    ('critical', 'major', 'minor')
    """
    if score >= 0.999:
        return "critical"
    if score >= 0.995:
        return "major"
    return "minor"


@dataclass
class Decision:
    """What the detector concluded about one window.

    ``incident`` is ``opened``, ``updated``, ``resolved`` or None.
    """

    raw_score: float
    score: float
    is_warmup: bool
    is_hot: bool
    is_anomalous: bool
    incident: str | None = None
    top_features: list[dict[str, Any]] = field(default_factory=list)


class StreamDetector:
    """Score each closed window of one stream and decide when it is anomalous.

    Two scores are calibrated separately and the larger one is the window's
    score: HalfSpaceTrees' raw score (how isolated the whole vector is) and the
    largest robust z-score of any feature (how far one feature is from its
    median). HalfSpaceTrees alone misses a value far outside the learned
    range, because such a point lands in the edge leaf that holds the largest
    normal values. A window is *hot* when its score reaches ``threshold`` and
    at least one feature is ``min_deviation_z`` robust z-scores from its
    median; the second test keeps a window that is merely the most unusual of
    a calm history from alerting. An incident opens when ``debounce_n`` of the last
    ``debounce_m`` windows are hot and resolves when none of the last
    ``debounce_m`` are. Hot windows are not learned, so an incident does not
    become the new normal, unless it lasts ``relearn_after`` windows: then the
    change is taken as the new normal and learned.

    The first ``warmup_windows`` windows are learned and scored, never alerted.
    """

    def __init__(
        self,
        stream: str,
        *,
        warmup_windows: int = 30,
        threshold: float = 0.98,
        min_deviation_z: float = 6.0,
        debounce_n: int = 2,
        debounce_m: int = 3,
        relearn_after: int = 60,
        seed: int = 42,
    ) -> None:
        self.stream = stream
        self.warmup_windows = warmup_windows
        self.threshold = threshold
        self.min_deviation_z = min_deviation_z
        self.debounce_n = debounce_n
        self.debounce_m = debounce_m
        self.relearn_after = relearn_after
        self.model = HalfSpaceTreesModel(window_size=max(10, warmup_windows), seed=seed)
        self.calibration = RunningQuantile(size=1000)
        self.deviation_calibration = RunningQuantile(size=1000)
        self.baseline = RobustBaseline()
        self.windows_seen = 0
        self._recent_hot: deque[bool] = deque(maxlen=debounce_m)
        self._incident_windows = 0
        self.is_in_incident = False

    @property
    def model_version(self) -> str:
        """The version string of the model stack, stored with each event."""
        return self.model.version

    @property
    def state(self) -> str:
        """``learning``, ``normal`` or ``anomalous``, as the UI shows it."""
        if self.windows_seen < self.warmup_windows:
            return "learning"
        return "anomalous" if self.is_in_incident else "normal"

    def process(self, features: dict[str, float]) -> Decision:
        """Score one closed window, learn from it when normal, and decide."""
        x = {k: v for k, v in features.items() if math.isfinite(v)}
        raw = self.model.score_one(x) if x else 0.0
        top = self.baseline.top(x)
        max_z = max((abs(f["z"]) for f in top), default=0.0)
        score = max(self.calibration.score_one(raw), self.deviation_calibration.score_one(max_z))
        is_warmup = self.windows_seen < self.warmup_windows
        self.windows_seen += 1

        is_hot = (not is_warmup) and score >= self.threshold and max_z >= self.min_deviation_z
        decision = Decision(raw, score, is_warmup, is_hot, False, top_features=top)

        self._recent_hot.append(is_hot)
        hot_count = sum(self._recent_hot)
        if not self.is_in_incident and hot_count >= self.debounce_n:
            self.is_in_incident = True
            self._incident_windows = 0
            decision.incident = "opened"
        elif self.is_in_incident and hot_count == 0:
            self.is_in_incident = False
            decision.incident = "resolved"
        elif self.is_in_incident:
            decision.incident = "updated"
        if self.is_in_incident:
            self._incident_windows += 1
        decision.is_anomalous = self.is_in_incident and is_hot

        is_persistent = self._incident_windows >= self.relearn_after
        if x and (not is_hot or is_persistent):
            self.model.learn_one(x)
            self.baseline.learn_one(x)
        self.calibration.learn_one(raw)
        self.deviation_calibration.learn_one(max_z)
        return decision
