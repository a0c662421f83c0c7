"""Sources: host metrics, processes, log files, HTTP endpoints and Prometheus scrapes, each an async task."""

from __future__ import annotations

from tui_monitor.sources.base import Observation, SourceState
from tui_monitor.sources.endpoint import EndpointSource
from tui_monitor.sources.follow import FileFollower
from tui_monitor.sources.host import HostSource, RateTracker
from tui_monitor.sources.logfile import DirectoryWatcher, LogSource, detect_level
from tui_monitor.sources.process import ProcessSource, ProcessSpec
from tui_monitor.sources.prometheus import ScrapeSource, ScrapeSpec

__all__ = [
    "DirectoryWatcher",
    "EndpointSource",
    "FileFollower",
    "HostSource",
    "LogSource",
    "Observation",
    "ProcessSource",
    "ProcessSpec",
    "RateTracker",
    "ScrapeSource",
    "ScrapeSpec",
    "SourceState",
    "detect_level",
]
