"""tui-monitor: watch one machine and its app, learn normal, explain anomalies.

The engine (sources, windows, feature store, detectors) is plain Python and
runs without a terminal; only :mod:`tui_monitor.ui` imports Textual.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
