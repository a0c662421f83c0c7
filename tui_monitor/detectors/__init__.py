"""Detectors: online and batch models, calibration, ensemble and the per-stream decision.

Every model follows river's vocabulary (``learn_one``, ``score_one``;
batch models ``fit`` and ``score_many``), and a higher score always means
more anomalous.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tui_monitor.detectors.calibration import RollingThreshold, RunningQuantile
from tui_monitor.detectors.config import DetectorConfig
from tui_monitor.detectors.context import anomaly_kind, time_features
from tui_monitor.detectors.decision import Decision, severity_for
from tui_monitor.detectors.deviation import RobustBaseline, RobustModel

if TYPE_CHECKING:
    from tui_monitor.detectors.online import HalfSpaceTreesModel, LodaModel
    from tui_monitor.detectors.stream import StreamDetector

# Names whose modules import river (about a second and 140 MB): loaded on
# first use, so that reading decisions and severities stays light.
_LAZY = {
    "HalfSpaceTreesModel": "tui_monitor.detectors.online",
    "LodaModel": "tui_monitor.detectors.online",
    "StreamDetector": "tui_monitor.detectors.stream",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

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
