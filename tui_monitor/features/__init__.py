"""Windows: observations of each stream become one named feature vector per window."""

from __future__ import annotations

from tui_monitor.features.windows import ClosedWindow, WindowAggregator

__all__ = ["ClosedWindow", "WindowAggregator"]
