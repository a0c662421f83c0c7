"""The feature store: one SQLite file in WAL mode, written through sqlite-utils.

One ``FeatureStore`` owns the writing connection; other processes (a second UI,
``tui-monitor events``) open the same file to read while the engine writes.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from tui_monitor.errors import StoreError
from tui_monitor.store._migrations import apply_migrations

__all__ = ["EventRecord", "FeatureStore", "LogCheckpoint", "WindowRecord"]

logger = logging.getLogger(__name__)

# How long a writer waits for a lock held by another process before failing.
_BUSY_TIMEOUT_S = 5.0


@dataclass
class WindowRecord:
    """One closed window of one stream: its feature vector and its scores.

    ``score`` is the calibrated score in 0..1 (higher is more anomalous);
    ``raw_score`` is the detector's own output.
    """

    stream: str
    start: float
    end: float
    features: dict[str, float]
    raw_score: float = 0.0
    score: float = 0.0
    is_warmup: bool = True
    is_anomalous: bool = False


@dataclass
class EventRecord:
    """An anomaly event: one incident of one stream, from open to resolved.

    ``top_features`` lists the features that deviate most, each a dict with
    ``name``, ``value``, ``median`` and ``z`` (robust z-score).
    """

    stream: str
    window_start: float
    window_end: float
    score: float
    raw_score: float
    severity: str
    kind: str = "performance"
    state: str = "open"
    top_features: list[dict[str, Any]] = field(default_factory=list)
    model_version: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict."""
        return {
            "id": self.id,
            "stream": self.stream,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "score": round(self.score, 4),
            "raw_score": round(self.raw_score, 4),
            "severity": self.severity,
            "kind": self.kind,
            "state": self.state,
            "top_features": self.top_features,
            "model_version": self.model_version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class LogCheckpoint:
    """Read positions to persist together with the windows that counted their lines.

    ``positions`` rows are ``(path, device, inode, offset, fingerprint,
    fingerprint_bytes)``; ``offset`` is the byte just past the last line handed
    to the engine. ``dropped`` lists ``(path, device, inode)`` of files read to
    their end and closed. ``last_line_id`` is the highest ``log_lines`` id that
    this checkpoint covers, or None when no line was stored since the last one.
    """

    positions: list[tuple[str, int, int, int, str, int]] = field(default_factory=list)
    dropped: list[tuple[str, int, int]] = field(default_factory=list)
    last_line_id: int | None = None

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to write."""
        return not self.positions and not self.dropped and self.last_line_id is None


class FeatureStore:
    """The SQLite feature store.

    Args:
        path: the database file; its folder is created if missing.
        readonly: open for reading only (no migrations, no writes).

    Raises:
        StoreError: the file cannot be created, opened or migrated; the message
            names the path and what to do.
    """

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._conn = self._connect()
        self.db = sqlite_utils.Database(self._conn)
        if not readonly:
            self._migrate()

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        try:
            if self.readonly:
                if not path.exists():
                    raise StoreError(
                        f"database {str(path)!r} not found: run tui-monitor first, "
                        "or pass the engine's file with --db PATH"
                    )
                conn = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S, check_same_thread=False
                )
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                _check_writable(path)
                conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open database {str(path)!r}: {exc}; choose a writable location with --db PATH"
            ) from exc
        return conn

    def _migrate(self) -> None:
        try:
            applied = apply_migrations(self.db)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate database {str(self.path)!r}: {exc}") from exc
        if applied:
            logger.info("store %s: applied migrations %s", self.path, ", ".join(applied))

    @property
    def schema_version(self) -> int:
        """Number of migrations applied to this file."""
        if "_migrations" not in self.db.table_names():
            return 0
        return self.db.table("_migrations").count

    def close(self) -> None:
        """Checkpoint the WAL (when writing) and close the connection."""
        if not self.readonly:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                logger.warning("store %s: WAL checkpoint failed: %s", self.path, exc)
        self._conn.close()

    # -- writes ---------------------------------------------------------------

    def write_window_batch(
        self,
        samples: Iterable[tuple[float, str, dict[str, float]]],
        windows: Iterable[WindowRecord],
        *,
        log_checkpoint: LogCheckpoint | None = None,
    ) -> None:
        """Write raw samples, closed windows and the log read positions they cover in one transaction."""
        sample_rows = [(ts, stream, json.dumps(values)) for ts, stream, values in samples]
        window_rows = [
            (
                w.stream,
                w.start,
                w.end,
                json.dumps(w.features),
                w.raw_score,
                w.score,
                int(w.is_warmup),
                int(w.is_anomalous),
            )
            for w in windows
        ]
        with self._conn:
            self._conn.executemany("INSERT INTO samples (ts, stream, data) VALUES (?, ?, ?)", sample_rows)
            self._conn.executemany(
                "INSERT OR REPLACE INTO windows "
                "(stream, start, end, features, raw_score, score, is_warmup, is_anomalous) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                window_rows,
            )
            if log_checkpoint is not None:
                self._write_log_checkpoint(log_checkpoint)

    def save_log_checkpoint(self, checkpoint: LogCheckpoint) -> None:
        """Write read positions at once, e.g. the start position of a newly opened file."""
        with self._conn:
            self._write_log_checkpoint(checkpoint)

    def _write_log_checkpoint(self, checkpoint: LogCheckpoint) -> None:
        now = time.time()
        self._conn.executemany(
            "INSERT OR REPLACE INTO log_positions "
            "(path, device, inode, offset, fingerprint, fingerprint_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, now) for row in checkpoint.positions],
        )
        self._conn.executemany("DELETE FROM log_positions WHERE path = ? AND device = ? AND inode = ?", checkpoint.dropped)
        if checkpoint.last_line_id is not None:
            self._conn.execute(
                "INSERT OR REPLACE INTO log_checkpoints (id, last_line_id, ts) VALUES (1, ?, ?)",
                (checkpoint.last_line_id, now),
            )

    def insert_log_lines(self, rows: Iterable[tuple[str, float, str]]) -> int | None:
        """Insert ``(stream, ts, line)`` rows in one transaction; return the last row id, or None for no rows.

        ``discard_uncommitted_log_lines`` deletes the rows again until a
        checkpoint with an equal or higher ``last_line_id`` is written.
        """
        with self._conn:
            cursor = self._conn.executemany("INSERT INTO log_lines (stream, ts, line) VALUES (?, ?, ?)", rows)
            if cursor.rowcount <= 0:
                return None
            row = self._conn.execute("SELECT last_insert_rowid()").fetchone()
        return int(row[0])

    def discard_uncommitted_log_lines(self) -> int:
        """Delete log lines stored after the last checkpoint; return how many.

        Their read positions were never persisted, so the tailer reads those
        lines again and stores them once more.
        """
        with self._conn:
            cursor = self._conn.execute(
                "DELETE FROM log_lines WHERE id > coalesce((SELECT last_line_id FROM log_checkpoints WHERE id = 1), 0)"
            )
        return cursor.rowcount

    def save_event(self, event: EventRecord) -> int:
        """Insert a new event or update an existing one; return its id."""
        row = event.to_json()
        row["top_features"] = json.dumps(event.top_features)
        row.pop("id")
        with self._conn:
            if event.id is None:
                cursor = self._conn.execute(
                    f"INSERT INTO events ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
                )
                event.id = int(cursor.lastrowid or 0)
            else:
                self.db.table("events").update(event.id, row)
        return event.id

    def save_miner_state(
        self, stream: str, state: bytes, lines_seen: int, templates: Iterable[tuple[int, str, int]]
    ) -> None:
        """Store a stream's serialized template miner and its templates in one transaction.

        ``templates`` holds (template id, template text, message count) rows;
        a template keeps the ``first_seen`` time of its first save.
        """
        now = time.time()
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO miner_state (stream, state, lines_seen, saved_at) VALUES (?, ?, ?, ?)",
                (stream, state, lines_seen, now),
            )
            self._conn.executemany(
                "INSERT INTO templates (stream, template_id, template, count, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stream, template_id) DO UPDATE SET "
                "template = excluded.template, count = excluded.count, last_seen = excluded.last_seen",
                [(stream, template_id, text, count, now, now) for template_id, text, count in templates],
            )

    def save_explanation(self, row: dict[str, Any]) -> None:
        """Insert or replace the explanation row of one event (keyed by ``event_id``)."""
        with self._conn:
            self.db.table("explanations").insert(row, pk="event_id", replace=True)

    # -- reads ----------------------------------------------------------------

    def load_miner_state(self, stream: str) -> bytes | None:
        """Return the serialized template miner of ``stream``, or None if never saved."""
        row = self._conn.execute("SELECT state FROM miner_state WHERE stream = ?", (stream,)).fetchone()
        return None if row is None else bytes(row[0])

    def templates(self, stream: str) -> list[dict[str, Any]]:
        """Return the saved templates of ``stream``, most frequent first."""
        return list(
            self.db.query(
                "SELECT template_id, template, count, first_seen, last_seen FROM templates "
                "WHERE stream = ? ORDER BY count DESC, template_id",
                [stream],
            )
        )


    def explanation_row(self, event_id: int) -> dict[str, Any] | None:
        """Return the stored explanation row of an event, or None."""
        rows = list(self.db.query("SELECT * FROM explanations WHERE event_id = ?", [event_id]))
        return rows[0] if rows else None

    def normal_windows(self, stream: str, before_ts: float, *, limit: int, max_score: float = 1.0) -> list[WindowRecord]:
        """Return up to ``limit`` windows of ``stream`` that started before ``before_ts``, oldest first.

        Normal means: not anomalous, scored below ``max_score``, and outside
        every stored event of the stream.
        """
        rows = self.db.query(
            "SELECT * FROM windows AS w WHERE w.stream = ? AND w.start < ? AND w.is_anomalous = 0 AND w.score < ? "
            "AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.stream = w.stream "
            "AND w.start >= e.window_start AND w.start < e.window_end) "
            "ORDER BY w.start DESC LIMIT ?",
            [stream, before_ts, max_score, limit],
        )
        return [_window_from_row(row) for row in rows][::-1]

    def windows_between(self, stream: str, start_ts: float, end_ts: float) -> list[WindowRecord]:
        """Return the windows of ``stream`` that started in ``[start_ts, end_ts)``, oldest first."""
        rows = self.db.query(
            "SELECT * FROM windows WHERE stream = ? AND start >= ? AND start < ? ORDER BY start",
            [stream, start_ts, end_ts],
        )
        return [_window_from_row(row) for row in rows]

    def log_records_between(self, start_ts: float, end_ts: float, *, limit: int = 200) -> list[dict[str, Any]] | None:
        """Return the log lines read in ``[start_ts, end_ts)``, errors first, or None when none are stored.

        Each row has ``time`` (HH:MM:SS), ``stream``, ``level`` (from the
        line's level word, or empty) and ``line``. Errors come first, then
        warnings, then the rest, each oldest first, so the lines that explain
        an anomaly are at the top.

        NOTE: template ids are not stored per line, so the rows carry no
        template; the template miner's state is per stream in ``templates``.
        """
        if "log_lines" not in self.db.table_names():
            return None
        from tui_monitor.sources.logfile import detect_level

        rows = self.db.query(
            "SELECT ts, stream, line FROM log_lines WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
            [start_ts, end_ts, limit * 10],
        )
        records = [
            {
                "time": time.strftime("%H:%M:%S", time.localtime(row["ts"])),
                "stream": row["stream"],
                "level": detect_level(row["line"]) or "",
                "line": row["line"],
            }
            for row in rows
        ]
        rank = {"error": 0, "warn": 1}
        records.sort(key=lambda record: rank.get(record["level"], 2))
        return records[:limit]

    def streams(self, prefix: str = "") -> list[str]:
        """Return the names of the streams with stored windows that start with ``prefix``, sorted."""
        rows = self.db.query("SELECT DISTINCT stream FROM windows WHERE stream LIKE ? ORDER BY stream", [prefix + "%"])
        return [row["stream"] for row in rows]

    def events_since(self, since_ts: float, *, limit: int = 1000) -> list[EventRecord]:
        """Return events whose window started at or after ``since_ts``, newest first."""
        rows = self.db.query(
            "SELECT * FROM events WHERE window_start >= ? ORDER BY window_start DESC, id DESC LIMIT ?",
            [since_ts, limit],
        )
        return [_event_from_row(row) for row in rows]

    def windows_since(self, stream: str, since_ts: float) -> list[WindowRecord]:
        """Return the windows of ``stream`` that started at or after ``since_ts``, oldest first."""
        rows = self.db.query(
            "SELECT * FROM windows WHERE stream = ? AND start >= ? ORDER BY start",
            [stream, since_ts],
        )
        return [_window_from_row(row) for row in rows]

    def log_positions(self, path: str) -> list[dict[str, Any]]:
        """Return the stored read positions of the followed ``path``, one per file identity."""
        return list(self.db.query("SELECT * FROM log_positions WHERE path = ?", [path]))

    def committed_log_lines(self, stream: str | None = None) -> list[str]:
        """Return the text of checkpointed log lines in insertion order, of one stream or all."""
        sql = "SELECT line FROM log_lines WHERE id <= coalesce((SELECT last_line_id FROM log_checkpoints WHERE id = 1), 0)"
        params: list[Any] = []
        if stream is not None:
            sql += " AND stream = ?"
            params.append(stream)
        return [row[0] for row in self._conn.execute(sql + " ORDER BY id", params)]

    def training_windows(self, stream: str, *, limit: int = 10000) -> list[tuple[float, dict[str, float]]]:
        """Return up to ``limit`` of the newest normal windows of ``stream`` as (start, features), oldest first.

        Warm-up and anomalous windows are left out, so a model trained on
        them learns what normal looks like.
        """
        rows = self._conn.execute(
            "SELECT start, features FROM windows WHERE stream = ? AND is_warmup = 0 AND is_anomalous = 0 "
            "ORDER BY start DESC LIMIT ?",
            [stream, limit],
        ).fetchall()
        return [(float(start), json.loads(features)) for start, features in reversed(rows)]

    def window_streams(self) -> list[str]:
        """Return the names of the streams that have stored windows."""
        return [row[0] for row in self._conn.execute("SELECT DISTINCT stream FROM windows ORDER BY stream")]

    def save_model(self, stream: str, kind: str, version: str, payload: bytes, signature: str, metrics: dict[str, Any]) -> None:
        """Store the latest state of a stream's model, replacing the previous one of that kind."""
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO detector_state (stream, kind, version, payload, signature, metrics, saved_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [stream, kind, version, payload, signature, json.dumps(metrics), time.time()],
            )

    def load_models(self) -> list[dict[str, Any]]:
        """Return every stored model row (stream, kind, version, payload, signature, metrics, saved_at)."""
        if "detector_state" not in self.db.table_names():
            return []
        cursor = self._conn.execute("SELECT stream, kind, version, payload, signature, metrics, saved_at FROM detector_state")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def integrity_check(self) -> str:
        """Return SQLite's ``PRAGMA integrity_check`` result ('ok' when sound)."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _window_from_row(row: dict[str, Any]) -> WindowRecord:
    return WindowRecord(
        stream=row["stream"],
        start=row["start"],
        end=row["end"],
        features=json.loads(row["features"]),
        raw_score=row["raw_score"],
        score=row["score"],
        is_warmup=bool(row["is_warmup"]),
        is_anomalous=bool(row["is_anomalous"]),
    )


def _event_from_row(row: dict[str, Any]) -> EventRecord:
    return EventRecord(
        id=row["id"],
        stream=row["stream"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        score=row["score"],
        raw_score=row["raw_score"],
        severity=row["severity"],
        kind=row["kind"],
        state=row["state"],
        top_features=json.loads(row["top_features"] or "[]"),
        model_version=row["model_version"] or "",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _check_writable(path: Path) -> None:
    """Fail early with a clear message when the database cannot be written.

    SQLite itself reports a read-only folder only at the first write, and WAL
    mode also needs to create ``-wal`` and ``-shm`` files beside the database.
    """
    folder = path.parent
    probe = folder / f".{path.name}.write-test-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StoreError(
            f"cannot write to folder {str(folder)!r} for database {str(path)!r}: {exc.strerror}; "
            "choose a writable location with --db PATH"
        ) from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise StoreError(f"database {str(path)!r} is read-only; fix its permissions or choose another --db PATH")

