"""The feature store: one SQLite file in WAL mode, written through sqlite-utils.

One ``FeatureStore`` owns the writing connection; other processes (a second UI,
``tui-monitor events``) open the same file to read while the engine writes.

Writes of windows, samples and events never raise for a storage fault: when
the file is locked, full or broken the rows wait in a bounded in-memory
backlog, ``health`` says why, and the next write tries again. A file found
corrupt at open raises ``CorruptStoreError``; with ``reset_corrupt`` it is
renamed aside (never deleted) and a fresh file is created.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from tui_monitor.errors import CorruptStoreError, StoreError
from tui_monitor.store._backlog import WriteBacklog
from tui_monitor.store._faults import FAULT_CORRUPT, FAULT_FULL, FAULT_LOCKED, classify_error, is_corruption, set_aside_corrupt
from tui_monitor.store._migrations import apply_migrations

__all__ = ["EventRecord", "FeatureStore", "LogCheckpoint", "WindowRecord", "WriteHealth"]

logger = logging.getLogger(__name__)

# How long a reader, or a migration at open, waits for a lock held by another process.
_BUSY_TIMEOUT_S = 5.0

# How long a window write waits for the lock. It runs on the event loop, so
# the UI freezes for this long once when another process holds the lock.
# Retries while the store is already faulty wait only _RETRY_BUSY_TIMEOUT_S.
WRITE_TIMEOUT_S = 2.0
_RETRY_BUSY_TIMEOUT_S = 0.05

# Bounds of the in-memory backlog while writes fail. At 10 s windows with 21
# streams and a 1 s host poll, 10,000 windows cover about 80 minutes and
# 10,000 samples about 2.8 hours. Full, with host-sized rows (40 features per
# window, 20 gauges per sample), the backlog took 25 MB under tracemalloc.
MAX_PENDING_WINDOWS = 10_000
MAX_PENDING_SAMPLES = 10_000
MAX_PENDING_EVENTS = 1_000

# While writes keep failing, the reminder in the log repeats at most this often.
_FAULT_LOG_EVERY_S = 60.0


@dataclass
class WriteHealth:
    """The writer's state as the UI and the log show it.

    ``status`` is ``ok`` or the fault that stops writes: ``locked``, ``full``,
    ``corrupt`` or ``failed``. ``detail`` is one sentence for people, and
    ``since`` the Unix time the fault began (None when ``ok``).
    """

    status: str = "ok"
    detail: str = ""
    since: float | None = None

    @property
    def is_ok(self) -> bool:
        """Whether the last write reached the file."""
        return self.status == "ok"


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
        reset_corrupt: when the file is corrupt, rename it (with its ``-wal``
            and ``-shm``) to ``NAME.corrupt-<UTC time>`` and start a fresh
            one, instead of raising ``CorruptStoreError``.
        write_timeout_s: how long a write waits for another process's lock
            before its rows go to the backlog.
        max_pending_windows: windows kept in memory at most while writes fail
            (``max_pending_samples`` and ``max_pending_events`` likewise).

    Raises:
        CorruptStoreError: the file is corrupt and ``reset_corrupt`` is false;
            the message names the file and how to start afresh.
        StoreError: the file cannot be created, opened or migrated; the message
            names the path and what to do.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        readonly: bool = False,
        reset_corrupt: bool = False,
        write_timeout_s: float = WRITE_TIMEOUT_S,
        max_pending_windows: int = MAX_PENDING_WINDOWS,
        max_pending_samples: int = MAX_PENDING_SAMPLES,
        max_pending_events: int = MAX_PENDING_EVENTS,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.write_timeout_s = write_timeout_s
        self.set_aside_path: Path | None = None
        self.backlog = WriteBacklog(
            max_samples=max_pending_samples, max_windows=max_pending_windows, max_events=max_pending_events
        )
        self.health = WriteHealth()
        # Log read positions waiting to be written with the windows that count their lines.
        self._pending_checkpoints: list[LogCheckpoint] = []
        self._busy_timeout_s = _BUSY_TIMEOUT_S
        self._last_fault_log = 0.0
        try:
            self._open()
        except CorruptStoreError:
            if readonly or not reset_corrupt:
                raise
            self.set_aside_path = set_aside_corrupt(self.path)
            self._open()

    def _open(self) -> None:
        self._conn = self._connect()
        self.db = sqlite_utils.Database(self._conn)
        if self.readonly:
            return
        try:
            self._check_sound()
            self._migrate()
        except StoreError:
            self._conn.close()
            raise

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
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise _corrupt_error(path, str(exc)) from exc
            if classify_error(exc) == FAULT_LOCKED:
                raise StoreError(
                    f"cannot open database {str(path)!r}: locked by another process for over "
                    f"{_BUSY_TIMEOUT_S:g} s; find it with 'fuser {path}' and try again"
                ) from exc
            raise StoreError(
                f"cannot open database {str(path)!r}: {exc}; choose a writable location with --db PATH"
            ) from exc
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open database {str(path)!r}: {exc}; choose a writable location with --db PATH"
            ) from exc
        return conn

    def _check_sound(self) -> None:
        """Run ``PRAGMA quick_check`` so a damaged page is found now, not at some later write.

        It reads every page: about 0.06 s for a 60 MB file in the page cache.
        """
        try:
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise _corrupt_error(self.path, str(exc)) from exc
            raise StoreError(f"cannot check database {str(self.path)!r}: {exc}") from exc
        if problems != ["ok"]:
            raise _corrupt_error(self.path, "; ".join(problems))

    def _migrate(self) -> None:
        try:
            applied = apply_migrations(self.db)
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise _corrupt_error(self.path, str(exc)) from exc
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
        """Write what waits in the backlog if possible, checkpoint the WAL (when writing) and close."""
        if not self.readonly:
            if not self.flush():
                logger.error(
                    "store %s: closing with rows that could not be written (%s): %s",
                    self.path,
                    self.backlog.describe(),
                    self.health.detail,
                )
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
    ) -> bool:
        """Write raw samples, closed windows and the log read positions they cover, with any backlog, in one transaction.

        Returns:
            True when everything is in the file; False when the rows wait in
            the backlog because of a storage fault (see ``health``). Read
            positions wait with them, so lines are never marked read before
            the windows that count them are stored.
        """
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
        self.backlog.add_rows(sample_rows, window_rows)
        if log_checkpoint is not None:
            self._pending_checkpoints.append(log_checkpoint)
        return self.flush()

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

    def insert_log_lines(self, rows: Iterable[tuple[Any, ...]]) -> int | None:
        """Insert log lines in one transaction; return the last row id, or None for no rows.

        Rows are ``(stream, ts, line)`` or ``(stream, ts, line, template_id,
        level)``, all of one kind. ``discard_uncommitted_log_lines`` deletes
        the rows again until a checkpoint with an equal or higher
        ``last_line_id`` is written.
        """
        remaining = iter(rows)
        first = next(remaining, None)
        if first is None:
            return None
        if len(first) == 5:
            sql = "INSERT INTO log_lines (stream, ts, line, template_id, level) VALUES (?, ?, ?, ?, ?)"
        else:
            sql = "INSERT INTO log_lines (stream, ts, line) VALUES (?, ?, ?)"
        with self._conn:
            self._conn.executemany(sql, chain((first,), remaining))
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

    def save_event(self, event: EventRecord) -> int | None:
        """Insert a new event or update an existing one.

        Returns:
            The event's id, or None while a new event waits in the backlog
            (``event.id`` is set when it is written).
        """
        self.backlog.add_event(event)
        self.flush()
        return event.id

    def flush(self) -> bool:
        """Write the backlog in one transaction; return whether it is empty now.

        A storage fault (``sqlite3.Error``) is caught, recorded in ``health``
        and logged; the rows stay in the backlog for the next call.
        """
        if self.backlog.is_empty and not self._pending_checkpoints:
            return True
        self._set_busy_timeout(self.write_timeout_s if self.health.is_ok else _RETRY_BUSY_TIMEOUT_S)
        backlog = self.backlog
        try:
            with self._conn:
                self._conn.executemany("INSERT INTO samples (ts, stream, data) VALUES (?, ?, ?)", backlog.samples)
                self._conn.executemany(
                    "INSERT OR REPLACE INTO windows "
                    "(stream, start, end, features, raw_score, score, is_warmup, is_anomalous) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    backlog.windows,
                )
                new_ids = [(event, self._write_event(event)) for event in backlog.events]
                for checkpoint in self._pending_checkpoints:
                    self._write_log_checkpoint(checkpoint)
        except sqlite3.Error as exc:
            self._record_fault(exc)
            return False
        # Ids are assigned only once the transaction committed, so a rolled-back
        # insert is retried as an insert, not as an update of a missing row.
        for event, event_id in new_ids:
            event.id = event_id
        written = backlog.describe()
        backlog.clear()
        self._pending_checkpoints.clear()
        self._record_recovery(written)
        return True

    def _write_event(self, event: EventRecord) -> int:
        # Plain SQL rather than sqlite-utils' insert, which commits on its own
        # and would split the backlog's single transaction.
        row = event.to_json()
        row["top_features"] = json.dumps(event.top_features)
        row.pop("id")
        columns = list(row)
        if event.id is None:
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            cursor = self._conn.execute(f"INSERT INTO events ({names}) VALUES ({marks})", list(row.values()))
            return int(cursor.lastrowid or 0)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self._conn.execute(f"UPDATE events SET {assignments} WHERE id = ?", [*row.values(), event.id])
        return event.id

    def _set_busy_timeout(self, timeout_s: float) -> None:
        if timeout_s != self._busy_timeout_s:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self._busy_timeout_s = timeout_s

    def _record_fault(self, exc: sqlite3.Error) -> None:
        kind = classify_error(exc)
        now = time.time()
        is_new = self.health.status != kind
        since = now if self.health.is_ok else self.health.since
        self.health = WriteHealth(kind, _fault_detail(kind, self.path, exc, self.write_timeout_s), since)
        if is_new or now - self._last_fault_log >= _FAULT_LOG_EVERY_S:
            self._last_fault_log = now
            level = logging.WARNING if kind in (FAULT_LOCKED, FAULT_FULL) else logging.ERROR
            logger.log(level, "store %s: writing stopped: %s; %s", self.path, self.health.detail, self.backlog.describe())

    def _record_recovery(self, written: str) -> None:
        if self.health.is_ok:
            return
        lasted_s = time.time() - (self.health.since or time.time())
        logger.warning(
            "store %s: writing resumed after %.1f s of %s; written from memory: %s",
            self.path,
            lasted_s,
            self.health.status,
            written,
        )
        self.health = WriteHealth()
        self._last_fault_log = 0.0

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

        Each row has ``time`` (HH:MM:SS), ``stream``, ``level`` (as the log
        pipeline found it, or from the line's level word for lines stored
        before levels were), ``line``, ``template_id`` (or None) and
        ``template``, the template's text as of the miner's last save (or
        empty). Errors come first, then warnings, then the rest, each oldest
        first, so the lines that explain an anomaly are at the top.
        """
        if "log_lines" not in self.db.table_names():
            return None
        from tui_monitor.sources.logfile import detect_level

        # The streams first (one index seek each), then each stream's lines
        # by the (stream, ts) index: a range on ts alone would scan the table.
        rows = self._conn.execute(
            "WITH RECURSIVE s(name) AS (SELECT min(stream) FROM log_lines UNION ALL "
            "SELECT (SELECT min(stream) FROM log_lines WHERE stream > s.name) FROM s WHERE s.name IS NOT NULL) "
            "SELECT l.ts, l.stream, l.line, l.level, l.template_id, t.template FROM s "
            "JOIN log_lines AS l ON l.stream = s.name AND l.ts >= ? AND l.ts < ? "
            "LEFT JOIN templates AS t ON t.stream = l.stream AND t.template_id = l.template_id "
            "ORDER BY l.ts LIMIT ?",
            [start_ts, end_ts, limit * 10],
        )
        records = [
            {
                "time": time.strftime("%H:%M:%S", time.localtime(ts)),
                "stream": stream,
                "level": (level if template_id is not None else detect_level(line)) or "",
                "line": line,
                "template_id": template_id,
                "template": template or "",
            }
            for ts, stream, line, level, template_id, template in rows
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


def _corrupt_error(path: Path, reason: str) -> CorruptStoreError:
    return CorruptStoreError(
        f"database {str(path)!r} is corrupt ({reason}); it was left untouched. "
        f"Start tui-monitor with --db-reset-corrupt to keep it as '{path.name}.corrupt-<time>' and begin a "
        "fresh database, or choose another file with --db PATH"
    )


def _fault_detail(kind: str, path: Path, exc: sqlite3.Error, timeout_s: float) -> str:
    if kind == FAULT_LOCKED:
        return (
            f"database locked by another process for over {timeout_s:g} s ({exc}); "
            f"retrying at each window; find the holder with 'fuser {path}'"
        )
    if kind == FAULT_FULL:
        return f"disk full ({exc}); free space in {str(path.parent)!r}, or lower --keep-samples; writing resumes by itself"
    if kind == FAULT_CORRUPT:
        return f"database corrupt ({exc}); restart with --db-reset-corrupt to keep it aside and start afresh"
    return f"write failed ({exc})"


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

