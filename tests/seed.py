"""A seeded feature store with known counts, shared by report, history and retention tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui_monitor.store import EventRecord, FeatureStore, WindowRecord, add_annotation

NOW = 1_780_000_000.0
HOUR = 3600.0

# (hours ago, stream, kind, severity, top feature)
EVENTS = [
    (1.5, "host", "performance", "minor", "host.cpu.total_pct.mean"),
    (2.5, "host", "performance", "major", "host.cpu.total_pct.mean"),
    (3.5, "log.app", "functional", "critical", "log.app.level_error"),
    (5.5, "log.app", "functional", "minor", "log.app.level_error"),
    (10.5, "http.api", "performance", "minor", "http.api.latency_ms.max"),
    (30.0, "host", "behavioural", "major", "host.mem.used_pct.max"),
    (200.0, "host", "performance", "minor", "host.load.1m.mean"),
]


def seed_store(path: Path, *, window_hours: float = 48.0) -> FeatureStore:
    """Create a store with ``EVENTS``, one host window per 10 minutes and one annotation."""
    store = FeatureStore(path)
    for hours_ago, stream, kind, severity, feature in EVENTS:
        start = NOW - hours_ago * HOUR
        store.save_event(
            EventRecord(
                stream=stream,
                window_start=start,
                window_end=start + 10,
                score=0.99,
                raw_score=0.8,
                severity=severity,
                kind=kind,
                top_features=[{"name": feature, "value": 90.0, "median": 10.0, "z": 8.0}],
                created_at=start,
                updated_at=start,
            )
        )
    windows = []
    samples = []
    start = NOW - window_hours * HOUR
    while start < NOW:
        hot = any(abs(start - (NOW - e[0] * HOUR)) < 300 for e in EVENTS if e[1] == "host")
        cpu = 95.0 if hot else 10.0
        windows.append(
            WindowRecord("host", start, start + 600, {"host.cpu.total_pct.mean": cpu}, 0.5, 0.99 if hot else 0.3, False, hot)
        )
        samples.append((start, "host", {"cpu.total_pct": cpu}))
        start += 600
    store.write_window_batch(samples, windows)
    add_annotation(store.db.conn, "deployed v1.4", user="ada", ts=NOW - 4 * HOUR)
    return store


def add_labels_table(conn: sqlite3.Connection, labels: dict[int, str]) -> None:
    """Insert ``{event id: label}`` rows into the labels table that the feedback migration creates."""
    with conn:
        conn.executemany(
            "INSERT INTO labels (event_id, label, user, created_at) VALUES (?, ?, 'ada', ?)",
            [(event_id, label, NOW) for event_id, label in labels.items()],
        )
