"""Store notification attempts and rule outcomes beside the events they belong to."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_monitor.alerts import NotificationAttempt
    from tui_monitor.rules import RuleOutcome
    from tui_monitor.store._db import FeatureStore

__all__ = ["notifications_since", "rule_outcomes_for", "save_notifications", "save_rule_outcome"]

_COLUMNS = ("ts", "event_id", "incident", "kind", "severity", "title", "target", "attempt", "outcome", "is_final", "detail", "duration_ms")


def save_notifications(store: FeatureStore, attempts: Iterable[NotificationAttempt]) -> int:
    """Insert notification attempts in one transaction; return how many were written.

    Targets must already be masked (``NotificationAttempt.target`` is).
    """
    rows = [
        (a.ts, a.event_id, a.incident, a.kind, a.severity, a.title, a.target, a.attempt, a.outcome, int(a.is_final), a.detail, a.duration_ms)
        for a in attempts
    ]
    if rows:
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with store.db.conn:
            store.db.conn.executemany(f"INSERT INTO notifications ({', '.join(_COLUMNS)}) VALUES ({placeholders})", rows)
    return len(rows)


def notifications_since(store: FeatureStore, since_ts: float, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Return notification attempts made at or after ``since_ts``, newest first."""
    if "notifications" not in store.db.table_names():
        return []
    return list(store.db.query("SELECT * FROM notifications WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?", [since_ts, limit]))


def save_rule_outcome(store: FeatureStore, event_id: int, outcome: RuleOutcome, ts: float) -> None:
    """Record the rules' latest decision about event ``event_id``."""
    row = outcome.to_json()
    row.update(event_id=event_id, ts=ts, tags=json.dumps(row["tags"]), rules=json.dumps(row["rules"]))
    with store.db.conn:
        store.db.table("rule_outcomes").upsert(row, pk="event_id")


def rule_outcomes_for(store: FeatureStore, event_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Return the stored rule outcomes of these events by event id."""
    ids = list(event_ids)
    if not ids or "rule_outcomes" not in store.db.table_names():
        return {}
    placeholders = ", ".join("?" for _ in ids)
    rows = store.db.query(f"SELECT * FROM rule_outcomes WHERE event_id IN ({placeholders})", ids)
    return {row["event_id"]: {**row, "tags": json.loads(row["tags"] or "[]"), "rules": json.loads(row["rules"] or "[]")} for row in rows}
