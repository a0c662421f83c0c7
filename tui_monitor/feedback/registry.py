"""The model registry: every trained version of every stream's models, in the ``models`` table.

A version records its training window, features, parameters, validation
metrics on the labelled history, the gate's reason and the serialized model.
Its ``status`` is one of:

- ``promoted``: the version in use for its stream and kind (at most one);
- ``rejected``: the gate found it worse than the current one;
- ``retired``: promoted once, since replaced by a newer version;
- ``rolled_back``: promoted once, then replaced by the version before it.

Models are serialized with skops, whose loader rebuilds only types on an
allow-list and raises on anything else, so a database file from someone else
cannot run code when a model is loaded (pickle would run it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from tui_monitor.errors import DetectorError, StoreError
from tui_monitor.feedback.trainer import TrainedModel

__all__ = ["ModelVersion", "current_version", "dump_model", "list_versions", "load_model", "promote", "register", "rollback"]

logger = logging.getLogger(__name__)

BLOB_FORMAT = "skops"

# Serialized models kept per stream and kind besides the promoted one. A
# 50-tree IsolationForest takes about 1.3 MB, and a schedule of four trainings
# a day would otherwise grow the file by about 2 GB a year per stream.
KEEP_BLOBS = 5

# Types beyond skops' defaults that an IsolationForest or a
# GradientBoostingClassifier needs (scikit-learn 1.4-1.7, skops 0.16).
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]

_COLUMNS = (
    "id, stream, kind, status, trigger, created_at, promoted_at, train_start, train_end, "
    "n_windows, features, params, metrics, reason"
)


@dataclass(frozen=True)
class ModelVersion:
    """One row of the registry, without the serialized model."""

    id: int
    stream: str
    kind: str
    status: str
    trigger: str
    created_at: float
    promoted_at: float | None
    train_start: float
    train_end: float
    n_windows: int
    features: list[str]
    params: dict[str, Any]
    metrics: dict[str, Any]
    reason: str

    @property
    def label(self) -> str:
        """Short name used in event model versions, e.g. ``iforest#3``."""
        return f"{self.kind}#{self.id}"


def dump_model(model: TrainedModel) -> bytes:
    """Serialize the fitted estimator with skops (call off the event loop: it takes ~0.1 s)."""
    import skops.io as sio

    return bytes(sio.dumps(model.model))


def register(
    conn: sqlite3.Connection,
    model: TrainedModel,
    blob: bytes,
    *,
    status: str,
    trigger: str,
    metrics: dict[str, Any],
    reason: str,
    now: float | None = None,
) -> int:
    """Insert a version; when ``status`` is ``promoted``, retire the previous one. Return the new id."""
    now = time.time() if now is None else now
    row = (
        model.stream, model.kind, "candidate", trigger, now, None, model.train_start, model.train_end,
        model.n_windows, json.dumps(model.features), json.dumps({**model.params, "threshold": model.threshold}),
        json.dumps(metrics), reason, BLOB_FORMAT, blob,
    )  # fmt: skip
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO models (stream, kind, status, trigger, created_at, promoted_at, train_start, train_end, "
                "n_windows, features, params, metrics, reason, blob_format, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            model_id = int(cursor.lastrowid or 0)
            if status == "promoted":
                _promote_in(conn, model_id, model.stream, model.kind, now, "retired")
            else:
                conn.execute("UPDATE models SET status = ? WHERE id = ?", (status, model_id))
            _prune_blobs(conn, model.stream, model.kind)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot register {model.kind} model of stream {model.stream!r}: {exc}") from exc
    logger.info("registered %s model %d of %s as %s: %s", model.kind, model_id, model.stream, status, reason)
    return model_id


def _prune_blobs(conn: sqlite3.Connection, stream: str, kind: str) -> None:
    """Drop the serialized model of all but the newest ``KEEP_BLOBS`` versions; the promoted one is always kept."""
    conn.execute(
        "UPDATE models SET blob = NULL, blob_format = 'pruned' WHERE stream = ? AND kind = ? AND status != 'promoted' "
        "AND blob_format = ? AND id NOT IN (SELECT id FROM models WHERE stream = ? AND kind = ? ORDER BY id DESC LIMIT ?)",
        (stream, kind, BLOB_FORMAT, stream, kind, KEEP_BLOBS),
    )


def _promote_in(conn: sqlite3.Connection, model_id: int, stream: str, kind: str, now: float, old_status: str) -> None:
    conn.execute(
        "UPDATE models SET status = ? WHERE stream = ? AND kind = ? AND status = 'promoted' AND id != ?",
        (old_status, stream, kind, model_id),
    )
    conn.execute("UPDATE models SET status = 'promoted', promoted_at = ? WHERE id = ?", (now, model_id))


def list_versions(conn: sqlite3.Connection, stream: str | None = None) -> list[ModelVersion]:
    """Return registered versions, newest first, optionally of one stream only."""
    where, params = ("WHERE stream = ?", (stream,)) if stream else ("", ())
    rows = conn.execute(f"SELECT {_COLUMNS} FROM models {where} ORDER BY id DESC", params).fetchall()
    return [_version(row) for row in rows]


def current_version(conn: sqlite3.Connection, stream: str, kind: str) -> ModelVersion | None:
    """Return the promoted version of ``stream`` and ``kind``, or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM models WHERE stream = ? AND kind = ? AND status = 'promoted' ORDER BY id DESC LIMIT 1",
        (stream, kind),
    ).fetchone()
    return _version(row) if row else None


def _get(conn: sqlite3.Connection, model_id: int) -> ModelVersion:
    row = conn.execute(f"SELECT {_COLUMNS} FROM models WHERE id = ?", (model_id,)).fetchone()
    if row is None:
        raise StoreError(f"model {model_id!r} not found: list the versions with `tui-monitor models`")
    return _version(row)


def promote(conn: sqlite3.Connection, model_id: int, *, now: float | None = None) -> ModelVersion:
    """Make version ``model_id`` the one in use for its stream and kind (a person's override of the gate)."""
    version = _get(conn, model_id)
    (blob_format,) = conn.execute("SELECT blob_format FROM models WHERE id = ?", (model_id,)).fetchone()
    if blob_format != BLOB_FORMAT:
        raise StoreError(
            f"model {model_id} of stream {version.stream!r} cannot be promoted: its serialized model was {blob_format!r}; "
            "promote a newer version or retrain"
        )
    with conn:
        _promote_in(conn, model_id, version.stream, version.kind, time.time() if now is None else now, "retired")
    logger.info("promoted %s model %d of %s by request", version.kind, model_id, version.stream)
    return _get(conn, model_id)


def rollback(conn: sqlite3.Connection, stream: str, kind: str, *, now: float | None = None) -> ModelVersion:
    """Replace the promoted version of ``stream`` and ``kind`` with the one promoted before it.

    Raises:
        StoreError: nothing is promoted, or no earlier version was ever promoted.
    """
    current = current_version(conn, stream, kind)
    if current is None:
        raise StoreError(f"no {kind} model of stream {stream!r} is promoted, so there is nothing to roll back")
    row = conn.execute(
        "SELECT id FROM models WHERE stream = ? AND kind = ? AND status = 'retired' AND id != ? AND blob_format = ? "
        "ORDER BY promoted_at DESC, id DESC LIMIT 1",
        (stream, kind, current.id, BLOB_FORMAT),
    ).fetchone()
    if row is None:
        raise StoreError(
            f"{kind} model {current.id} of stream {stream!r} has no earlier promoted version whose model is still stored; "
            "promote another version by id with `tui-monitor models promote ID`"
        )
    with conn:
        _promote_in(conn, int(row[0]), stream, kind, time.time() if now is None else now, "rolled_back")
    logger.info("rolled back %s model of %s from %d to %d", kind, stream, current.id, row[0])
    return _get(conn, int(row[0]))


def load_model(conn: sqlite3.Connection, model_id: int) -> TrainedModel:
    """Load a version for scoring.

    Raises:
        DetectorError: the blob is not in skops format or contains a type
            outside the allow-list; such a file was not written by
            tui-monitor and is not loaded.
    """
    import skops.io as sio

    version = _get(conn, model_id)
    blob_format, blob = conn.execute("SELECT blob_format, blob FROM models WHERE id = ?", (model_id,)).fetchone()
    if blob_format != BLOB_FORMAT:
        raise DetectorError(
            f"model {model_id} of stream {version.stream!r} is stored as {blob_format!r}, not {BLOB_FORMAT!r}; "
            "tui-monitor loads only skops models: retrain it"
        )
    try:
        estimator = sio.loads(bytes(blob), trusted=TRUSTED_TYPES)
    except Exception as exc:
        # skops raises UntrustedTypesFoundException for unknown types, and
        # zipfile or json errors for a damaged blob.
        raise DetectorError(
            f"model {model_id} of stream {version.stream!r} was not loaded: {exc}; "
            "it contains types tui-monitor does not trust or is damaged: retrain it"
        ) from exc
    threshold = float(version.params.get("threshold", 0.5))
    return TrainedModel(
        version.stream, version.kind, estimator, version.features, threshold,
        version.train_start, version.train_end, version.n_windows, version.params,
    )  # fmt: skip


def _version(row: tuple[Any, ...]) -> ModelVersion:
    return ModelVersion(
        id=int(row[0]),
        stream=str(row[1]),
        kind=str(row[2]),
        status=str(row[3]),
        trigger=str(row[4] or ""),
        created_at=float(row[5]),
        promoted_at=row[6],
        train_start=float(row[7] or 0.0),
        train_end=float(row[8] or 0.0),
        n_windows=int(row[9] or 0),
        features=json.loads(row[10] or "[]"),
        params=json.loads(row[11] or "{}"),
        metrics=json.loads(row[12] or "{}"),
        reason=str(row[13] or ""),
    )
