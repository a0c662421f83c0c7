"""The store's explanations table and the normal-history query behind explanations."""

from __future__ import annotations

from pathlib import Path

from tui_monitor.store import EventRecord, FeatureStore, WindowRecord


def window(start: float, *, score: float = 0.5, is_anomalous: bool = False) -> WindowRecord:
    return WindowRecord("host", start, start + 10, {"cpu": start}, score=score, is_warmup=False, is_anomalous=is_anomalous)


def test_migration_creates_explanations_table(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    assert "explanations" in store.db.table_names()
    assert store.db["explanations"].pks == ["event_id"]


def test_migration_upgrades_existing_file(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    store.db.execute("DROP TABLE explanations")
    store.db.execute("DELETE FROM _migrations WHERE name = '0003_explanations'")
    store.close()
    reopened = FeatureStore(tmp_path / "m.db")
    assert "explanations" in reopened.db.table_names()


def test_save_explanation_replaces_row(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    row = {"event_id": 7, "stream": "host", "method": "tree", "model_version": "v", "expected_value": 0.0,
           "output": 1.0, "attributions": "[]", "history_windows": 3, "elapsed_ms": 1.0, "created_at": 1.0}  # fmt: skip
    store.save_explanation(row)
    store.save_explanation({**row, "output": 2.0})
    assert store.db["explanations"].count == 1
    assert (store.explanation_row(7) or {})["output"] == 2.0


def test_explanation_row_missing_is_none(tmp_path: Path) -> None:
    assert FeatureStore(tmp_path / "m.db").explanation_row(1) is None


def test_normal_windows_exclude_incidents_and_high_scores(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    windows = [window(10.0 * i) for i in range(10)]
    windows[2] = window(20.0, score=0.99)
    windows[3] = window(30.0, is_anomalous=True)
    store.write_window_batch([], windows)
    store.save_event(EventRecord("host", 50.0, 70.0, 0.99, 0.9, "major"))
    starts = [w.start for w in store.normal_windows("host", 90.0, limit=100, max_score=0.98)]
    assert starts == [0.0, 10.0, 40.0, 70.0, 80.0]


def test_normal_windows_keep_latest_within_limit(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    store.write_window_batch([], [window(10.0 * i) for i in range(10)])
    starts = [w.start for w in store.normal_windows("host", 1000.0, limit=3)]
    assert starts == [70.0, 80.0, 90.0]


def test_log_records_empty_without_lines(tmp_path: Path) -> None:
    assert FeatureStore(tmp_path / "m.db").log_records_between(0.0, 10.0) == []


def test_log_records_errors_first_in_range(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    store.db.table("log_lines").insert_all(
        [
            {"stream": "log.app", "ts": 1.0, "line": "INFO started"},
            {"stream": "log.app", "ts": 2.0, "line": "WARN slow"},
            {"stream": "log.app", "ts": 3.0, "line": "ERROR failed"},
            {"stream": "log.app", "ts": 12.0, "line": "ERROR later"},
        ]
    )
    rows = store.log_records_between(0.0, 10.0) or []
    assert [row["line"] for row in rows] == ["ERROR failed", "WARN slow", "INFO started"]
    assert [row["level"] for row in rows] == ["error", "warn", "info"]
    store.close()


def test_log_records_carry_stored_level_and_saved_template(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    store.insert_log_lines([("log.app", 1.0, "disk full on <sda>", 4, "error"), ("log.app", 2.0, "disk ok", 5, "info")])
    store.save_miner_state("log.app", b"state", 2, [(4, "disk full on <*>", 1)])
    rows = store.log_records_between(0.0, 10.0) or []
    assert [(row["level"], row["template_id"], row["template"]) for row in rows] == [
        ("error", 4, "disk full on <*>"),
        ("info", 5, ""),
    ]
    store.close()
