"""The ``tui-monitor models`` command: list, promote, roll back, and bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from feedback_seed import STREAM, WindowPlan, seed_settings

from tui_monitor.cli import main
from tui_monitor.engine import Engine
from tui_monitor.feedback import list_versions
from tui_monitor.store import FeatureStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with two promoted-in-turn IsolationForest versions of one stream."""
    settings = seed_settings(tmp_path / "monitor.db")
    engine = Engine(settings, FeatureStore(settings.db_path))
    engine.process_windows(WindowPlan(time.time() + 5).span(0, 80))
    engine.feedback.retrain_now(STREAM)
    engine.feedback.retrain_now(STREAM)
    engine.store.close()
    return settings.db_path


def statuses(db: Path) -> list[str]:
    store = FeatureStore(db, readonly=True)
    try:
        return [v.status for v in list_versions(store.db.conn)]
    finally:
        store.close()


def test_models_lists_versions(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["id", "stream", "kind", "status"]
    assert lines[1].split()[:4] == ["2", STREAM, "iforest", "promoted"]
    assert lines[2].split()[:4] == ["1", STREAM, "iforest", "retired"]
    assert lines[1].endswith("no labelled events to validate on")


def test_models_rollback_then_promote(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db", str(db), "rollback", STREAM]) == 0
    assert "rolled back to 1" in capsys.readouterr().out
    assert statuses(db) == ["rolled_back", "promoted"]
    assert main(["models", "--db", str(db), "promote", "2"]) == 0
    assert statuses(db) == ["promoted", "retired"]


def test_models_promote_unknown_id_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db", str(db), "promote", "42"]) == 2
    assert "model 42 not found" in capsys.readouterr().err


def test_models_rollback_without_model_exits_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db", str(db), "rollback", "host", "--kind", "gbm"]) == 2
    assert "no gbm model of stream 'host' is promoted" in capsys.readouterr().err


def test_models_on_missing_db_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--db", str(tmp_path / "none.db")]) == 2
    assert "not found" in capsys.readouterr().err


def test_models_on_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    FeatureStore(tmp_path / "monitor.db").close()
    assert main(["models", "--db", str(tmp_path / "monitor.db")]) == 0
    assert capsys.readouterr().out.startswith("no models in")


def test_models_promote_id_must_be_number(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "--db", str(db), "promote", "latest"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'latest'" in capsys.readouterr().err


def test_models_action_accepts_db_after_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "monitor.db"
    FeatureStore(db).close()

    status = main(["models", "rollback", "http.api", "--db", str(db)])

    err = capsys.readouterr().err
    assert status == 2
    assert "no iforest model of stream 'http.api' is promoted" in err
