"""The detector's decision about one window, and the severity of a calibrated score.

Kept apart from the models so that code reading stored decisions (the rules,
an attached UI) does not import river.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Decision", "severity_for"]


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

    ``score`` is the calibrated ensemble score in 0..1 (higher is more
    anomalous). ``alert_score`` is the same score, halved when the window
    cannot start a new alert: during warm-up, with no feature far from usual,
    or within the cooldown of the previous alert. Replays and benchmarks rank
    windows by it. ``incident`` is ``opened``, ``updated``, ``resolved`` or None;
    ``kind`` is ``performance``, ``functional`` or ``behavioural``.
    """

    raw_score: float
    score: float
    is_warmup: bool
    is_hot: bool
    is_anomalous: bool
    incident: str | None = None
    top_features: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "performance"
    alert_score: float = 0.0
    model_scores: dict[str, float] = field(default_factory=dict)
