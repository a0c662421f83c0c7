"""The SQLite feature store: raw samples, windows, anomaly events, annotations."""

from __future__ import annotations

from tui_monitor.store._annotations import (
    Annotation,
    add_annotation,
    annotations_after,
    annotations_between,
    current_user,
)
from tui_monitor.store._alerts import notifications_since, rule_outcomes_for, save_notifications, save_rule_outcome
from tui_monitor.store._db import EventRecord, FeatureStore, LogCheckpoint, WindowRecord
from tui_monitor.store._migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Annotation",
    "EventRecord",
    "FeatureStore",
    "LogCheckpoint",
    "WindowRecord",
    "add_annotation",
    "annotations_after",
    "annotations_between",
    "current_user",
    "notifications_since",
    "rule_outcomes_for",
    "save_notifications",
    "save_rule_outcome",
]
