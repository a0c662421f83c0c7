"""Retention: prune old rows of the feature store in small batches.

Raw samples and log lines are the bulk of the file (about 17 MB a day at
one 20-float row per second, and about 155 bytes per stored 100-byte log
line), and both are kept ``samples_days``. Windows are smaller, and events,
annotations and labels are tiny and worth keeping for a year. Each batch
deletes at most ``batch_rows`` rows in its own transaction, so the writer
lock is held for milliseconds and the event loop runs between batches.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RetentionPolicy", "database_size_bytes", "format_bytes", "prune_once", "prune_table_batch", "run_retention"]

logger = logging.getLogger(__name__)

_DAY_S = 86400.0


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of row is kept (fractions allowed)."""

    samples_days: float = 2.0
    windows_days: float = 30.0
    events_days: float = 365.0
    batch_rows: int = 5000

    def cutoffs(self, now: float) -> list[tuple[str, str, float]]:
        """Return ``(table, time column, cutoff)`` for every pruned table.

        Rows whose time column is below the cutoff are deleted. Tables that
        do not exist in a given file (``labels`` before its migration) are
        skipped by ``prune_once``.

        >>> [t for t, _, _ in RetentionPolicy().cutoffs(now=0.0)]
        ['samples', 'log_lines', 'windows', 'model_scores', 'events', 'annotations', 'labels', 'drift']
        """
        events_cutoff = now - self.events_days * _DAY_S
        return [
            ("samples", "ts", now - self.samples_days * _DAY_S),
            ("log_lines", "ts", now - self.samples_days * _DAY_S),
            ("windows", "start", now - self.windows_days * _DAY_S),
            ("model_scores", "start", now - self.windows_days * _DAY_S),
            ("events", "window_start", events_cutoff),
            ("annotations", "ts", events_cutoff),
            ("labels", "created_at", events_cutoff),
            ("drift", "ts", events_cutoff),
        ]


def prune_table_batch(conn: sqlite3.Connection, table: str, column: str, cutoff: float, batch_rows: int) -> int:
    """Delete up to ``batch_rows`` rows of ``table`` with ``column < cutoff`` in one transaction.

    Returns:
        The number of rows deleted; below ``batch_rows`` means the table is done.
    """
    if table == "log_lines":
        return _prune_log_lines_batch(conn, cutoff, batch_rows)
    # Table and column names come from RetentionPolicy.cutoffs, never from input.
    with conn:
        cursor = conn.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ? LIMIT ?)",
            (cutoff, batch_rows),
        )
    return cursor.rowcount


def _prune_log_lines_batch(conn: sqlite3.Connection, cutoff: float, batch_rows: int) -> int:
    """Delete up to ``batch_rows`` of the oldest log lines read before ``cutoff``; return how many.

    Lines are inserted in reading order, so the lowest ids are the oldest and
    a batch reads only the start of the table, where a scan for ``ts`` would
    read all of it (its index starts with the stream). The row at the
    checkpoint's ``last_line_id`` always stays: ids are rowids, and SQLite
    gives a new row the largest rowid plus one. Were that row deleted, lines
    inserted after the checkpoint could get ids at or below it, and a restart
    after a crash would keep them instead of reading them again.
    """
    with conn:
        cursor = conn.execute(
            "DELETE FROM log_lines WHERE id IN (SELECT id FROM log_lines WHERE id < "
            "coalesce((SELECT last_line_id FROM log_checkpoints WHERE id = 1), 0) ORDER BY id LIMIT ?) AND ts < ?",
            (batch_rows, cutoff),
        )
    return cursor.rowcount


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    return column in columns


async def prune_once(conn: sqlite3.Connection, policy: RetentionPolicy, *, now: float | None = None) -> dict[str, int]:
    """Prune every table down to the policy, yielding to the event loop between batches.

    Runs on the event loop because the engine's connection belongs to it; a
    batch of 5,000 rows takes a few milliseconds.

    Returns:
        Rows deleted per table (tables with nothing to delete are left out).
    """
    now = time.time() if now is None else now
    deleted: dict[str, int] = {}
    for table, column, cutoff in policy.cutoffs(now):
        if not _has_column(conn, table, column):
            continue
        total = 0
        while True:
            count = prune_table_batch(conn, table, column, cutoff, policy.batch_rows)
            total += count
            await asyncio.sleep(0)
            if count < policy.batch_rows:
                break
        if total:
            deleted[table] = total
    return deleted


async def run_retention(conn: sqlite3.Connection, policy: RetentionPolicy, *, interval_s: float = 600.0) -> None:
    """Prune at start and then every ``interval_s`` seconds until cancelled."""
    while True:
        try:
            deleted = await prune_once(conn, policy)
        except sqlite3.Error as exc:
            logger.warning("retention: pruning failed: %s; retrying in %.0f s", exc, interval_s)
        else:
            if deleted:
                summary = ", ".join(f"{count} {table}" for table, count in deleted.items())
                logger.info("retention: pruned %s", summary)
        await asyncio.sleep(interval_s)


def database_size_bytes(path: Path) -> int:
    """Return the size on disk of the database file plus its WAL, in bytes (0 when missing)."""
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            total += candidate.stat().st_size
        except OSError:
            pass
    return total


def format_bytes(size: float) -> str:
    """Format a byte count for people.

    >>> format_bytes(512), format_bytes(1536), format_bytes(25_000_000)
    ('512 B', '1.5 KiB', '23.8 MiB')
    """
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GiB"
