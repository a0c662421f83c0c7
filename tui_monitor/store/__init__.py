"""The SQLite feature store: raw samples, windows, anomaly events, annotations."""

from __future__ import annotations

from tui_monitor.store._annotations import (
    Annotation,
    add_annotation,
    annotations_after,
    annotations_between,
    current_user,
)
from tui_monitor.store._db import EventRecord, FeatureStore, WindowRecord
from tui_monitor.store._migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Annotation",
    "EventRecord",
    "FeatureStore",
    "WindowRecord",
    "add_annotation",
    "annotations_after",
    "annotations_between",
    "current_user",
]
