"""Read-only queries over the feature store, shared by reports and the history screen.

Every function takes a ``sqlite3.Connection`` and only reads, so it can run
on a reader's own connection in a worker thread while the engine writes.
Tables that another migration adds (``labels``, ``notifications``) are used
only when they exist with the columns these queries need.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_FILTERS",
    "LabelSummary",
    "NotificationSummary",
    "bucket_edges",
    "event_counts_by",
    "events_per_bucket",
    "feature_names",
    "feature_series",
    "filtered_events",
    "label_summary",
    "notification_summary",
    "score_per_bucket",
    "stream_names",
    "table_columns",
    "top_features",
]

# Label values counted as confirmed anomalies and as false positives for precision.
_CONFIRMED = {"true", "true_anomaly", "anomaly", "confirmed", "tp", "true_positive"}
_FALSE_POSITIVE = {"false", "false_positive", "fp", "not_anomaly", "noise"}
_SENT = {"sent", "ok", "success", "delivered", "1"}

EVENT_FILTERS = ("stream", "kind", "severity")


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """Return the column names of ``table``, empty when it does not exist."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def bucket_edges(start_ts: float, end_ts: float, bucket_s: float) -> list[float]:
    """Return bucket starts covering ``[start_ts, end_ts)``, aligned to local clock hours or days.

    >>> len(bucket_edges(0.0, 7200.0, 3600.0)) in (2, 3)
    True
    """
    offset = datetime.fromtimestamp(start_ts).astimezone().utcoffset()
    offset_s = offset.total_seconds() if offset is not None else 0.0
    first = ((start_ts + offset_s) // bucket_s) * bucket_s - offset_s
    edges = []
    edge = first
    while edge < end_ts:
        edges.append(edge)
        edge += bucket_s
    return edges


def _bucket_index(ts: float, edges: list[float], bucket_s: float) -> int | None:
    if not edges or ts < edges[0]:
        return None
    index = int((ts - edges[0]) // bucket_s)
    return index if index < len(edges) else None


def events_per_bucket(conn: sqlite3.Connection, start_ts: float, end_ts: float, bucket_s: float) -> list[tuple[float, int]]:
    """Count events per bucket by the start of their first window; empty buckets count 0."""
    edges = bucket_edges(start_ts, end_ts, bucket_s)
    counts = [0] * len(edges)
    rows = conn.execute("SELECT window_start FROM events WHERE window_start >= ? AND window_start < ?", (start_ts, end_ts))
    for (ts,) in rows:
        index = _bucket_index(ts, edges, bucket_s)
        if index is not None:
            counts[index] += 1
    return list(zip(edges, counts, strict=True))


def score_per_bucket(conn: sqlite3.Connection, start_ts: float, end_ts: float, bucket_s: float) -> list[tuple[float, float, float]]:
    """Return ``(bucket start, mean score, max score)`` of scored windows (warm-up excluded), non-empty buckets only."""
    edges = bucket_edges(start_ts, end_ts, bucket_s)
    if not edges:
        return []
    rows = conn.execute(
        "SELECT CAST((start - ?) / ? AS INTEGER) AS bucket, avg(score), max(score) FROM windows "
        "WHERE start >= ? AND start < ? AND is_warmup = 0 GROUP BY bucket ORDER BY bucket",
        (edges[0], bucket_s, start_ts, end_ts),
    )
    return [(edges[0] + bucket * bucket_s, mean, peak) for bucket, mean, peak in rows if 0 <= bucket < len(edges)]


def event_counts_by(conn: sqlite3.Connection, column: str, start_ts: float, end_ts: float) -> list[tuple[str, int]]:
    """Count events per value of ``column`` (one of ``EVENT_FILTERS``), largest first."""
    if column not in EVENT_FILTERS:
        raise ValueError(f"invalid event column {column!r}: expected one of {EVENT_FILTERS}")
    rows = conn.execute(
        f"SELECT {column}, count(*) AS n FROM events WHERE window_start >= ? AND window_start < ? "
        f"GROUP BY {column} ORDER BY n DESC, {column}",
        (start_ts, end_ts),
    )
    return [(str(value), int(count)) for value, count in rows]


def _latest_labels(conn: sqlite3.Connection) -> dict[int, str] | None:
    """Return each labelled event's latest label, or None when no usable labels table exists."""
    columns = table_columns(conn, "labels")
    if not {"event_id", "label"} <= columns:
        return None
    rows = conn.execute("SELECT event_id, label FROM labels ORDER BY rowid")
    return {int(event_id): str(label) for event_id, label in rows}


def filtered_events(
    conn: sqlite3.Connection,
    start_ts: float,
    end_ts: float,
    *,
    stream: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    label: str | None = None,
    text: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Return events in the range matching every given filter, newest first.

    ``text`` matches the stream or a top feature's name, case-insensitively.
    ``label`` filters only when a labels table exists; each row carries its
    latest ``label`` (None when unlabelled or when labels do not exist).
    """
    clauses = ["window_start >= ?", "window_start < ?"]
    params: list[Any] = [start_ts, end_ts]
    for column, value in (("stream", stream), ("kind", kind), ("severity", severity)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if text:
        clauses.append("(lower(stream) LIKE ? OR lower(top_features) LIKE ?)")
        params += [f"%{text.lower()}%"] * 2
    query = f"SELECT * FROM events WHERE {' AND '.join(clauses)} ORDER BY window_start DESC, id DESC"
    cursor = conn.execute(query, params)
    names = [d[0] for d in cursor.description]
    labels = _latest_labels(conn)

    events = []
    for row in cursor:
        event = dict(zip(names, row, strict=True))
        event["top_features"] = json.loads(event.get("top_features") or "[]")
        event["label"] = labels.get(event["id"]) if labels is not None else None
        if label and labels is not None and event["label"] != label:
            continue
        events.append(event)
        if len(events) >= limit:
            break
    return events


def top_features(events: list[dict[str, Any]], *, per_event: int = 3, limit: int = 10) -> list[tuple[str, int]]:
    """Count how often each feature is among the first ``per_event`` reasons of an event."""
    counter: Counter[str] = Counter()
    for event in events:
        for feature in event["top_features"][:per_event]:
            counter[feature["name"]] += 1
    return counter.most_common(limit)


def stream_names(conn: sqlite3.Connection, start_ts: float, end_ts: float) -> list[str]:
    """Return the streams with windows or events in the range, sorted."""
    rows = conn.execute(
        "SELECT DISTINCT stream FROM windows WHERE start >= ? AND start < ? "
        "UNION SELECT DISTINCT stream FROM events WHERE window_start >= ? AND window_start < ? ORDER BY 1",
        (start_ts, end_ts, start_ts, end_ts),
    )
    return [row[0] for row in rows]


def feature_names(conn: sqlite3.Connection, stream: str, start_ts: float, end_ts: float) -> list[str]:
    """Return the feature names of ``stream``'s latest window in the range, sorted."""
    row = conn.execute(
        "SELECT features FROM windows WHERE stream = ? AND start >= ? AND start < ? ORDER BY start DESC LIMIT 1",
        (stream, start_ts, end_ts),
    ).fetchone()
    return sorted(json.loads(row[0])) if row else []


def feature_series(conn: sqlite3.Connection, stream: str, feature: str, start_ts: float, end_ts: float) -> list[tuple[float, float]]:
    """Return ``(window end, value)`` of one feature of one stream over the range, oldest first."""
    path = '$."' + feature.replace('"', '\\"') + '"'
    rows = conn.execute(
        "SELECT end, json_extract(features, ?) FROM windows WHERE stream = ? AND start >= ? AND start < ? ORDER BY start",
        (path, stream, start_ts, end_ts),
    )
    return [(end, float(value)) for end, value in rows if value is not None]


@dataclass(frozen=True)
class LabelSummary:
    """Labels of the events in a period and the precision they imply.

    ``precision`` is confirmed / (confirmed + false positives), None when
    neither was given.
    """

    counts: dict[str, int]
    labelled: int
    unlabelled: int
    precision: float | None


def label_summary(conn: sqlite3.Connection, start_ts: float, end_ts: float) -> LabelSummary | None:
    """Summarise the latest label of each event in the range; None when no labels table exists."""
    labels = _latest_labels(conn)
    if labels is None:
        return None
    ids = [row[0] for row in conn.execute("SELECT id FROM events WHERE window_start >= ? AND window_start < ?", (start_ts, end_ts))]
    counts: Counter[str] = Counter(labels[i] for i in ids if i in labels)
    normalised = Counter(value.lower().replace(" ", "_").replace("-", "_") for value in counts.elements())
    confirmed = sum(n for value, n in normalised.items() if value in _CONFIRMED)
    false_positives = sum(n for value, n in normalised.items() if value in _FALSE_POSITIVE)
    judged = confirmed + false_positives
    labelled = sum(counts.values())
    return LabelSummary(dict(counts.most_common()), labelled, len(ids) - labelled, confirmed / judged if judged else None)


@dataclass(frozen=True)
class NotificationSummary:
    """Notifications in a period: how many were sent and how many failed."""

    sent: int
    failed: int


def notification_summary(conn: sqlite3.Connection, start_ts: float, end_ts: float) -> NotificationSummary | None:
    """Count sent and failed notifications; None when no usable notifications table exists."""
    columns = table_columns(conn, "notifications")
    time_column = next((c for c in ("sent_at", "ts", "created_at") if c in columns), None)
    status_column = next((c for c in ("status", "outcome", "ok", "success") if c in columns), None)
    if time_column is None or status_column is None:
        return None
    rows = conn.execute(
        f"SELECT {status_column} FROM notifications WHERE {time_column} >= ? AND {time_column} < ?",
        (start_ts, end_ts),
    )
    sent = failed = 0
    for (status,) in rows:
        if str(status).lower() in _SENT:
            sent += 1
        else:
            failed += 1
    return NotificationSummary(sent, failed)
