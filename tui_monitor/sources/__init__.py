"""Sources: host metrics, log files and HTTP endpoints, each an async task."""

from __future__ import annotations

from tui_monitor.sources.base import Observation, SourceState
from tui_monitor.sources.endpoint import EndpointSource
from tui_monitor.sources.follow import FileFollower
from tui_monitor.sources.host import HostSource, RateTracker
from tui_monitor.sources.logfile import DirectoryWatcher, LogSource, detect_level

__all__ = [
    "DirectoryWatcher",
    "EndpointSource",
    "FileFollower",
    "HostSource",
    "LogSource",
    "Observation",
    "RateTracker",
    "SourceState",
    "detect_level",
]
