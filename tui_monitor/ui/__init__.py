"""The Textual terminal UI; the only package that imports Textual."""

from __future__ import annotations

from tui_monitor.ui.app import MonitorApp

__all__ = ["MonitorApp"]
