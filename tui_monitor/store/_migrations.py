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
    db["samples"].create(
        {"ts": float, "stream": str, "data": str},
    )
    db["samples"].create_index(["ts"])
    db["samples"].create_index(["stream", "ts"])

    db["windows"].create(
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
    db["windows"].create_index(["stream", "start"], unique=True)
    db["windows"].create_index(["start"])

    db["events"].create(
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
    db["events"].create_index(["window_start"])
    db["events"].create_index(["stream", "window_start"])


def _annotations(db: sqlite_utils.Database) -> None:
    # Markers a person records ("deployed v1.4"); charts and reports show them.
    db.table("annotations").create({"id": int, "ts": float, "text": str, "user": str, "source": str}, pk="id")
    db.table("annotations").create_index(["ts"])


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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_annotations", _annotations),
    ("0003_feedback", _feedback),
]
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction.

    Returns:
        The names of the migrations applied by this call.
    """
    if "_migrations" not in db.table_names():
        db["_migrations"].create({"name": str, "applied_at": float}, pk="name")
    done = {row["name"] for row in db["_migrations"].rows}

    applied = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        with db.conn:
            migrate(db)
            db["_migrations"].insert({"name": name, "applied_at": time.time()})
        applied.append(name)
    return applied
