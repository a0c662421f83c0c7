"""Named schema migrations of the feature store, applied in order.

A migration is never edited once released: a schema change is a new entry
at the end of ``MIGRATIONS``. The ``_migrations`` table records which ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlite_utils

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "apply_migrations"]


def _initial(db: sqlite_utils.Database) -> None:
    db.table("samples").create(
        {"ts": float, "stream": str, "data": str},
    )
    db.table("samples").create_index(["ts"])
    db.table("samples").create_index(["stream", "ts"])

    db.table("windows").create(
        {
            "id": int,
            "stream": str,
            "start": float,
            "end": float,
            "features": str,
            "raw_score": float,
            "score": float,
            "is_warmup": int,
            "is_anomalous": int,
        },
        pk="id",
    )
    db.table("windows").create_index(["stream", "start"], unique=True)
    db.table("windows").create_index(["start"])

    db.table("events").create(
        {
            "id": int,
            "stream": str,
            "window_start": float,
            "window_end": float,
            "score": float,
            "raw_score": float,
            "severity": str,
            "kind": str,
            "state": str,
            "top_features": str,
            "model_version": str,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
    )
    db.table("events").create_index(["window_start"])
    db.table("events").create_index(["stream", "window_start"])


def _annotations(db: sqlite_utils.Database) -> None:
    # Markers a person records ("deployed v1.4"); charts and reports show them.
    db.table("annotations").create({"id": int, "ts": float, "text": str, "user": str, "source": str}, pk="id")
    db.table("annotations").create_index(["ts"])


def _explanations(db: sqlite_utils.Database) -> None:
    # One explanation per event: SHAP attributions (JSON list, largest
    # absolute value first) with each feature's value and usual range.
    db.table("explanations").create(
        {
            "event_id": int,
            "stream": str,
            "method": str,
            "model_version": str,
            "expected_value": float,
            "output": float,
            "attributions": str,
            "history_windows": int,
            "elapsed_ms": float,
            "created_at": float,
        },
        pk="event_id",
    )


def _notifications(db: sqlite_utils.Database) -> None:
    # One row per delivery attempt of one message to one target; target is the masked URL.
    db.table("notifications").create(
        {
            "id": int,
            "ts": float,
            "event_id": int,
            "incident": str,
            "kind": str,
            "severity": str,
            "title": str,
            "target": str,
            "attempt": int,
            "outcome": str,
            "is_final": int,
            "detail": str,
            "duration_ms": float,
        },
        pk="id",
    )
    db.table("notifications").create_index(["ts"])
    db.table("notifications").create_index(["event_id"])


def _rule_outcomes(db: sqlite_utils.Database) -> None:
    # The latest rules decision for each event: severity after rules, tags, suppression, gates.
    db.table("rule_outcomes").create(
        {
            "event_id": int,
            "ts": float,
            "change": str,
            "severity": str,
            "base_severity": str,
            "tags": str,
            "rules": str,
            "suppressed_by": str,
            "held_by": str,
        },
        pk="event_id",
    )


def _log_templates(db: sqlite_utils.Database) -> None:
    # One Drain3 miner per log stream, serialized, so template ids survive restarts.
    db.table("miner_state").create(
        {"stream": str, "state": bytes, "lines_seen": int, "saved_at": float},
        pk="stream",
    )
    # The templates of each stream as of the last save, for people and reports.
    db.table("templates").create(
        {"stream": str, "template_id": int, "template": str, "count": int, "first_seen": float, "last_seen": float},
        pk=("stream", "template_id"),
    )


def _log_positions(db: sqlite_utils.Database) -> None:
    # One row per followed file: the path as configured and the file's
    # identity, so a rotated-away file keeps its own row until it is drained.
    db.table("log_positions").create(
        {
            "path": str,
            "device": int,
            "inode": int,
            "offset": int,
            "fingerprint": str,
            "fingerprint_bytes": int,
            "updated_at": float,
        },
        pk=("path", "device", "inode"),
    )
    db.table("log_lines").create({"id": int, "stream": str, "ts": float, "line": str}, pk="id")
    db.table("log_lines").create_index(["stream", "ts"])
    # A single row (id 1): log_lines rows above last_line_id were inserted
    # after the last checkpoint and are discarded when the engine starts.
    db.table("log_checkpoints").create({"id": int, "last_line_id": int, "ts": float}, pk="id")


def _detector_state(db: sqlite_utils.Database) -> None:
    # One row per stream and model kind ("online", "batch"): the latest saved
    # detector state, signed. The model registry is a separate table.
    db.table("detector_state").create(
        {
            "stream": str,
            "kind": str,
            "version": str,
            "payload": bytes,
            "signature": str,
            "metrics": str,
            "saved_at": float,
        },
        pk=("stream", "kind"),
    )


def _feedback(db: sqlite_utils.Database) -> None:
    # Labels a person gives to events; the latest row of an event is its label.
    db.table("labels").create(
        {
            "id": int,
            "event_id": int,
            "label": str,
            "user": str,
            "created_at": float,
            "score": float,
            "model_version": str,
            "stream": str,
            "window_start": float,
            "window_end": float,
        },
        pk="id",
    )
    db.table("labels").create_index(["event_id"])
    db.table("labels").create_index(["stream", "window_start"])

    # The model registry: every trained version, its data, metrics and the serialized model.
    db.table("models").create(
        {
            "id": int,
            "stream": str,
            "kind": str,
            "status": str,
            "trigger": str,
            "created_at": float,
            "promoted_at": float,
            "train_start": float,
            "train_end": float,
            "n_windows": int,
            "features": str,
            "params": str,
            "metrics": str,
            "reason": str,
            "blob_format": str,
            "blob": bytes,
        },
        pk="id",
    )
    db.table("models").create_index(["stream", "kind", "status"])

    # Drift found by the drift detectors on a stream's features or scores.
    db.table("drift").create({"id": int, "ts": float, "stream": str, "name": str, "detail": str}, pk="id")
    db.table("drift").create_index(["ts"])

    # Scores of registered batch and supervised models per window (higher is more anomalous).
    db.table("model_scores").create({"stream": str, "start": float, "model_id": int, "score": float})
    db.table("model_scores").create_index(["stream", "start"])


def _log_line_templates(db: sqlite_utils.Database) -> None:
    # Each stored line with the template of the record it belongs to and the
    # level of the record it starts (NULL for continuation lines), as the
    # log pipeline found them when the line was read.
    db.execute("ALTER TABLE log_lines ADD COLUMN template_id INTEGER")
    db.execute("ALTER TABLE log_lines ADD COLUMN level TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_annotations", _annotations),
    ("0003_explanations", _explanations),
    ("0004_notifications", _notifications),
    ("0005_rule_outcomes", _rule_outcomes),
    ("0006_log_templates", _log_templates),
    ("0007_log_positions", _log_positions),
    ("0008_detector_state", _detector_state),
    ("0009_feedback", _feedback),
    ("0010_log_line_templates", _log_line_templates),
]
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction.

    Returns:
        The names of the migrations applied by this call.
    """
    if "_migrations" not in db.table_names():
        db.table("_migrations").create({"name": str, "applied_at": float}, pk="name")
    done = {row["name"] for row in db.table("_migrations").rows}

    applied = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        with db.conn:
            migrate(db)
            db.table("_migrations").insert({"name": name, "applied_at": time.time()})
        applied.append(name)
    return applied
