"""The SQLite feature store: raw samples, windows, anomaly events."""

from __future__ import annotations

from tui_monitor.store._db import EventRecord, FeatureStore, LogCheckpoint, WindowRecord
from tui_monitor.store._migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "EventRecord", "FeatureStore", "LogCheckpoint", "WindowRecord"]
