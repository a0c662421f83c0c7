"""Annotations: markers a person records ("deployed v1.4") that charts and reports show."""

from __future__ import annotations

import getpass
import logging
import sqlite3
import time
from dataclasses import dataclass

from tui_monitor.errors import StoreError

__all__ = ["Annotation", "add_annotation", "annotations_between", "annotations_after", "current_user"]

logger = logging.getLogger(__name__)

# Longer text is cut: an annotation is a short marker, not a note file.
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class Annotation:
    """A marker at Unix time ``ts`` (seconds) with its text, who made it and from where."""

    ts: float
    text: str
    user: str
    source: str = "cli"
    id: int | None = None


def current_user() -> str:
    """Return the login name of this process's user, or ``unknown``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def add_annotation(
    conn: sqlite3.Connection,
    text: str,
    *,
    user: str | None = None,
    ts: float | None = None,
    source: str = "cli",
) -> Annotation:
    """Store an annotation and return it with its id.

    Raises:
        StoreError: the text is blank, or the database cannot be written
            (another process held the lock past the busy timeout).
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise StoreError(f"invalid annotation text {text!r}: expected a few words, e.g. 'deployed v1.4'")
    annotation = Annotation(
        ts=time.time() if ts is None else ts,
        text=cleaned[:MAX_TEXT_CHARS],
        user=user or current_user(),
        source=source,
    )
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO annotations (ts, text, user, source) VALUES (?, ?, ?, ?)",
                (annotation.ts, annotation.text, annotation.user, annotation.source),
            )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot store annotation {cleaned!r}: {exc}; retry when the engine is less busy") from exc
    logger.info("annotation by %s: %s", annotation.user, annotation.text)
    return Annotation(annotation.ts, annotation.text, annotation.user, annotation.source, cursor.lastrowid)


def annotations_between(conn: sqlite3.Connection, start_ts: float, end_ts: float) -> list[Annotation]:
    """Return the annotations with ``start_ts <= ts < end_ts``, oldest first (none before the migration)."""
    return _select(conn, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start_ts, end_ts))


def annotations_after(conn: sqlite3.Connection, last_id: int) -> list[Annotation]:
    """Return the annotations with an id above ``last_id``, in id order."""
    return _select(conn, "WHERE id > ? ORDER BY id", (last_id,))


def _select(conn: sqlite3.Connection, where: str, params: tuple[float, ...]) -> list[Annotation]:
    try:
        rows = conn.execute(f"SELECT ts, text, user, source, id FROM annotations {where}", params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [Annotation(*row) for row in rows]
