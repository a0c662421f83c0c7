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


def _models(db: sqlite_utils.Database) -> None:
    # One row per stream and model kind ("online", "batch"): the latest state.
    db.table("models").create(
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


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0007_models", _models),
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
