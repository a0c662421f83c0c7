"""Detectors: online models, calibration, deviation ranking and the per-stream decision."""

from __future__ import annotations

from tui_monitor.detectors.calibration import RunningQuantile
from tui_monitor.detectors.deviation import RobustBaseline
from tui_monitor.detectors.online import HalfSpaceTreesModel
from tui_monitor.detectors.stream import Decision, StreamDetector, severity_for

__all__ = [
    "Decision",
    "HalfSpaceTreesModel",
    "RobustBaseline",
    "RunningQuantile",
    "StreamDetector",
    "severity_for",
]
