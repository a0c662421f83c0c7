"""Labels a person gives to anomaly events, stored in the ``labels`` table.

Each row records the event, the label, the operating-system user, the time,
the event's calibrated score and the model versions that raised it. An event
may be labelled more than once; its latest row (highest id) is its label, and
undo deletes the latest row, so the one before it applies again. The reports
read the same table and the same rule.
"""

from __future__ import annotations

import getpass
import sqlite3
import time
from dataclasses import dataclass

from tui_monitor.errors import StoreError
from tui_monitor.store import EventRecord

__all__ = [
    "FALSE_POSITIVE",
    "INVESTIGATE",
    "LABEL_VALUES",
    "TRUE_ANOMALY",
    "Label",
    "add_label",
    "labels_after",
    "latest_labels",
    "labels_of_stream",
    "undo_last_label",
]

TRUE_ANOMALY = "true_anomaly"
FALSE_POSITIVE = "false_positive"
INVESTIGATE = "investigate"
LABEL_VALUES = (TRUE_ANOMALY, FALSE_POSITIVE, INVESTIGATE)


@dataclass(frozen=True)
class Label:
    """One label of one event and the window span of that event (Unix seconds)."""

    event_id: int
    label: str
    user: str
    created_at: float
    score: float
    model_version: str
    stream: str
    window_start: float
    window_end: float
    id: int | None = None

    def covers(self, stream: str, start: float) -> bool:
        """Whether the window of ``stream`` starting at ``start`` belongs to the labelled event."""
        return stream == self.stream and self.window_start <= start < self.window_end


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # getuser() raises when neither LOGNAME/USER nor the password database name the user.
        return "unknown"


def add_label(
    conn: sqlite3.Connection,
    event: EventRecord,
    label: str,
    *,
    user: str | None = None,
    now: float | None = None,
) -> Label:
    """Store ``label`` for ``event`` and return the stored row.

    Raises:
        StoreError: the label is not one of ``LABEL_VALUES``, the event has no
            id yet, or the write failed.
    """
    if label not in LABEL_VALUES:
        raise StoreError(f"invalid label {label!r}: expected one of {', '.join(LABEL_VALUES)}")
    if event.id is None:
        raise StoreError(f"event of stream {event.stream!r} has no id: save it to the store before labelling it")
    row = Label(
        event_id=event.id,
        label=label,
        user=user or _user(),
        created_at=time.time() if now is None else now,
        score=event.score,
        model_version=event.model_version,
        stream=event.stream,
        window_start=event.window_start,
        window_end=event.window_end,
    )
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO labels (event_id, label, user, created_at, score, model_version, stream, window_start, window_end) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.event_id, row.label, row.user, row.created_at, row.score, row.model_version, row.stream, row.window_start, row.window_end),
            )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot store label {label!r} of event {event.id!r}: {exc}") from exc
    return Label(**{**row.__dict__, "id": cursor.lastrowid})


def undo_last_label(conn: sqlite3.Connection, *, user: str | None = None) -> Label | None:
    """Delete the most recent label of ``user`` (default: this login) and return it, or None when there is none."""
    rows = _query(conn, "WHERE user = ? ORDER BY id DESC LIMIT 1", (user or _user(),))
    if not rows:
        return None
    with conn:
        conn.execute("DELETE FROM labels WHERE id = ?", (rows[0].id,))
    return rows[0]


def latest_labels(conn: sqlite3.Connection) -> dict[int, Label]:
    """Return the latest label of every labelled event, keyed by event id."""
    return {row.event_id: row for row in _query(conn, "ORDER BY id", ())}


def labels_after(conn: sqlite3.Connection, label_id: int) -> list[Label]:
    """Return the labels stored after row ``label_id``, oldest first."""
    return _query(conn, "WHERE id > ? ORDER BY id", (label_id,))


def labels_of_stream(conn: sqlite3.Connection, stream: str) -> list[Label]:
    """Return the latest label of each labelled event of ``stream``, oldest event first."""
    latest = [row for row in latest_labels(conn).values() if row.stream == stream]
    return sorted(latest, key=lambda row: row.window_start)


def _query(conn: sqlite3.Connection, tail: str, params: tuple[object, ...]) -> list[Label]:
    cursor = conn.execute(
        "SELECT id, event_id, label, user, created_at, score, model_version, stream, window_start, window_end "
        f"FROM labels {tail}",
        params,
    )
    return [
        Label(
            id=row[0],
            event_id=int(row[1]),
            label=str(row[2]),
            user=str(row[3] or ""),
            created_at=float(row[4] or 0.0),
            score=float(row[5] or 0.0),
            model_version=str(row[6] or ""),
            stream=str(row[7] or ""),
            window_start=float(row[8] or 0.0),
            window_end=float(row[9] or 0.0),
        )
        for row in cursor
    ]
