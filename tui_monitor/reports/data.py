"""Gather what a report shows from the feature store."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from tui_monitor.reports.queries import (
    LabelSummary,
    NotificationSummary,
    event_counts_by,
    events_per_bucket,
    filtered_events,
    label_summary,
    notification_summary,
    score_per_bucket,
    top_features,
)
from tui_monitor.retention import database_size_bytes
from tui_monitor.store import Annotation, annotations_between

__all__ = ["ReportData", "bucket_for", "collect_report"]

_HOUR_S = 3600.0
_DAY_S = 86400.0


def bucket_for(span_s: float) -> float:
    """Return the trend bucket for a period: hours up to two days, days beyond.

    >>> bucket_for(86400.0), bucket_for(7 * 86400.0)
    (3600.0, 86400.0)
    """
    return _HOUR_S if span_s <= 2 * _DAY_S else _DAY_S


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows; times are Unix seconds, the period is ``[start_ts, end_ts)``."""

    db_path: Path
    db_size_bytes: int
    start_ts: float
    end_ts: float
    bucket_s: float
    event_count: int
    window_count: int
    by_kind: list[tuple[str, int]]
    by_severity: list[tuple[str, int]]
    by_stream: list[tuple[str, int]]
    top_features: list[tuple[str, int]]
    labels: LabelSummary | None
    notifications: NotificationSummary | None
    events_trend: list[tuple[float, int]]
    score_trend: list[tuple[float, float, float]]
    annotations: list[Annotation]


def collect_report(conn: sqlite3.Connection, db_path: Path, *, since_s: float, now: float | None = None) -> ReportData:
    """Read the data of a report covering the last ``since_s`` seconds before ``now``."""
    end_ts = time.time() if now is None else now
    start_ts = end_ts - since_s
    bucket_s = bucket_for(since_s)
    events = filtered_events(conn, start_ts, end_ts, limit=1_000_000)
    window_count = conn.execute("SELECT count(*) FROM windows WHERE start >= ? AND start < ?", (start_ts, end_ts)).fetchone()[0]
    return ReportData(
        db_path=db_path,
        db_size_bytes=database_size_bytes(db_path),
        start_ts=start_ts,
        end_ts=end_ts,
        bucket_s=bucket_s,
        event_count=len(events),
        window_count=int(window_count),
        by_kind=event_counts_by(conn, "kind", start_ts, end_ts),
        by_severity=event_counts_by(conn, "severity", start_ts, end_ts),
        by_stream=event_counts_by(conn, "stream", start_ts, end_ts),
        top_features=top_features(events),
        labels=label_summary(conn, start_ts, end_ts),
        notifications=notification_summary(conn, start_ts, end_ts),
        events_trend=events_per_bucket(conn, start_ts, end_ts, bucket_s),
        score_trend=score_per_bucket(conn, start_ts, end_ts, bucket_s),
        annotations=annotations_between(conn, start_ts, end_ts),
    )
