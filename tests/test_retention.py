"""Retention: old rows go in small batches, recent rows and the file's integrity stay."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from seed import EVENTS, HOUR, NOW, add_labels_table, seed_store
from tui_monitor.retention import RetentionPolicy, database_size_bytes, prune_once, prune_table_batch, run_retention
from tui_monitor.store import FeatureStore, LogCheckpoint, annotations_between

DAY = 24 * HOUR


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    # Ten days of 10-minute windows and samples: 1,440 of each.
    return seed_store(tmp_path / "monitor.db", window_hours=240)


def _count(store: FeatureStore, sql: str, *params: float) -> int:
    return int(store.db.conn.execute(sql, params).fetchone()[0])


async def test_prune_keeps_recent_rows(store: FeatureStore) -> None:
    policy = RetentionPolicy(samples_days=2, windows_days=5, events_days=7, batch_rows=100)
    deleted = await prune_once(store.db.conn, policy, now=NOW)
    assert _count(store, "SELECT count(*) FROM samples WHERE ts < ?", NOW - 2 * DAY) == 0
    assert _count(store, "SELECT count(*) FROM samples") == 2 * 144
    assert _count(store, "SELECT count(*) FROM windows WHERE start < ?", NOW - 5 * DAY) == 0
    assert _count(store, "SELECT count(*) FROM windows") == 5 * 144
    assert _count(store, "SELECT count(*) FROM events") == sum(1 for e in EVENTS if e[0] <= 7 * 24)
    assert deleted["samples"] == 1440 - 2 * 144
    assert deleted["events"] == 1
    store.close()


async def test_prune_keeps_annotations_with_events(store: FeatureStore) -> None:
    await prune_once(store.db.conn, RetentionPolicy(samples_days=1, windows_days=1, events_days=7), now=NOW)
    assert [a.text for a in annotations_between(store.db.conn, 0, NOW)] == ["deployed v1.4"]
    store.close()


async def test_prune_leaves_database_consistent(store: FeatureStore) -> None:
    await prune_once(store.db.conn, RetentionPolicy(samples_days=0.5, windows_days=1, events_days=2, batch_rows=50), now=NOW)
    assert store.integrity_check() == "ok"
    assert store.db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    store.close()


async def test_prune_labels_when_table_exists(store: FeatureStore) -> None:
    add_labels_table(store.db.conn, {1: "true_anomaly"})
    with store.db.conn:
        store.db.conn.execute("INSERT INTO labels (event_id, label, created_at) VALUES (7, 'noise', ?)", (NOW - 400 * DAY,))
    deleted = await prune_once(store.db.conn, RetentionPolicy(), now=NOW)
    assert deleted["labels"] == 1
    assert _count(store, "SELECT count(*) FROM labels") == 1
    store.close()


def test_batch_deletes_at_most_batch_rows(store: FeatureStore) -> None:
    count = prune_table_batch(store.db.conn, "samples", "ts", NOW, batch_rows=500)
    assert count == 500
    assert _count(store, "SELECT count(*) FROM samples") == 1440 - 500
    store.close()


async def test_prune_yields_between_batches(store: FeatureStore) -> None:
    ticks = 0

    async def count_ticks() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(count_ticks())
    await prune_once(store.db.conn, RetentionPolicy(samples_days=0.1, batch_rows=100), now=NOW)
    ticker.cancel()
    # 1,440 samples in batches of 100: the loop ran the ticker between batches.
    assert ticks >= 14
    store.close()


async def test_run_retention_logs_and_repeats(store: FeatureStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="tui_monitor")
    policy = RetentionPolicy(samples_days=1, windows_days=30, events_days=365)
    task = asyncio.create_task(run_retention(store.db.conn, policy, interval_s=0.05))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any("retention: pruned" in r.getMessage() for r in caplog.records)
    store.close()


async def test_prune_skips_missing_tables(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "bare.db")
    conn.execute("CREATE TABLE samples (ts REAL, stream TEXT, data TEXT)")
    conn.execute("INSERT INTO samples VALUES (1.0, 'host', '{}')")
    deleted = await prune_once(conn, RetentionPolicy(), now=NOW)
    assert deleted == {"samples": 1}
    conn.close()


def test_database_size_counts_wal(tmp_path: Path) -> None:
    store = seed_store(tmp_path / "monitor.db")
    main_size = (tmp_path / "monitor.db").stat().st_size
    assert database_size_bytes(tmp_path / "monitor.db") >= main_size
    store.close()
    assert database_size_bytes(tmp_path / "absent.db") == 0


def test_settings_reject_zero_retention() -> None:
    from tui_monitor.errors import ConfigError
    from tui_monitor.settings import Settings

    with pytest.raises(ConfigError, match="--keep-samples 0"):
        Settings(samples_retention_days=0).validate()


async def test_prune_log_lines_keeps_the_checkpointed_id(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    old = NOW - 5 * DAY
    last = store.insert_log_lines([("log.app", old + i, f"old {i}", 1, "info") for i in range(120)])
    assert last is not None
    store.save_log_checkpoint(LogCheckpoint(last_line_id=last))
    store.insert_log_lines([("log.app", NOW, "read after the checkpoint", 2, None)])

    deleted = await prune_once(store.db.conn, RetentionPolicy(samples_days=1, batch_rows=50), now=NOW)

    # Every old line goes but the checkpointed one, so new ids stay above it
    # and the line read after the checkpoint is still discarded at the next start.
    assert deleted["log_lines"] == 119
    assert [row[0] for row in store.db.conn.execute("SELECT id FROM log_lines ORDER BY id")] == [last, last + 1]
    assert store.discard_uncommitted_log_lines() == 1
    assert store.insert_log_lines([("log.app", NOW, "next", None, None)]) == last + 1
    store.close()


async def test_prune_log_lines_follows_its_own_retention(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    rows = [("log.app", NOW - hours * HOUR, f"line {hours}", None, None) for hours in (30, 20, 10, 1, 0)]
    last = store.insert_log_lines(rows)
    store.save_log_checkpoint(LogCheckpoint(last_line_id=last))

    await prune_once(store.db.conn, RetentionPolicy(samples_days=2, log_lines_days=0.5), now=NOW)

    assert store.committed_log_lines() == ["line 10", "line 1", "line 0"]
    store.close()


async def test_prune_keeps_uncheckpointed_log_lines(tmp_path: Path) -> None:
    # A line no checkpoint covers may still be read again after a crash: it stays whatever its age.
    store = FeatureStore(tmp_path / "logs.db")
    store.insert_log_lines([("log.app", NOW - 5 * DAY, "read, never checkpointed", None, None)])

    await prune_once(store.db.conn, RetentionPolicy(samples_days=2), now=NOW)

    assert store.db.conn.execute("SELECT count(*) FROM log_lines").fetchone()[0] == 1
    store.close()
