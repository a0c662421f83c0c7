"""Detectors: online and batch models, calibration, ensemble and the per-stream decision.

Every model follows river's vocabulary (``learn_one``, ``score_one``;
batch models ``fit`` and ``score_many``), and a higher score always means
more anomalous.
"""

from __future__ import annotations

from tui_monitor.detectors.calibration import RollingThreshold, RunningQuantile
from tui_monitor.detectors.config import DetectorConfig
from tui_monitor.detectors.context import anomaly_kind, time_features
from tui_monitor.detectors.deviation import RobustBaseline, RobustModel
from tui_monitor.detectors.online import HalfSpaceTreesModel, LodaModel
from tui_monitor.detectors.stream import Decision, StreamDetector, severity_for

__all__ = [
    "Decision",
    "DetectorConfig",
    "HalfSpaceTreesModel",
    "LodaModel",
    "RobustBaseline",
    "RobustModel",
    "RollingThreshold",
    "RunningQuantile",
    "StreamDetector",
    "anomaly_kind",
    "severity_for",
    "time_features",
]
