"""``tui-monitor replay`` over a CSV and over a feature store."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from tui_monitor.cli import main
from tui_monitor.store import FeatureStore, WindowRecord


def _write_series(path: Path, n: int = 400, spike_at: int = 300) -> None:
    rng = random.Random(9)
    with path.open("w") as handle:
        handle.write("timestamp,value\n")
        for i in range(n):
            value = 100.0 + rng.gauss(0, 3) + (80.0 if spike_at <= i < spike_at + 3 else 0.0)
            handle.write(f"2024-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00,{value:.3f}\n")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_replay_csv_writes_one_row_per_input_row(tmp_path: Path) -> None:
    _write_series(tmp_path / "s.csv")
    assert main(["replay", "--csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o.csv")]) == 0
    assert len(_read(tmp_path / "o.csv")) == 400


def test_replay_csv_flags_the_planted_spike(tmp_path: Path) -> None:
    _write_series(tmp_path / "s.csv")
    main(["replay", "--csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o.csv")])
    rows = _read(tmp_path / "o.csv")
    best = max(range(len(rows)), key=lambda i: float(rows[i]["alert_score"]))
    assert best == 300


def test_replay_csv_keeps_data_timestamps(tmp_path: Path) -> None:
    _write_series(tmp_path / "s.csv")
    main(["replay", "--csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o.csv")])
    assert _read(tmp_path / "o.csv")[13]["timestamp"] == "2024-01-01 01:05:00"


def test_replay_csv_scores_stay_in_unit_range(tmp_path: Path) -> None:
    _write_series(tmp_path / "s.csv")
    main(["replay", "--csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o.csv")])
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in _read(tmp_path / "o.csv"))


def test_replay_csv_with_empty_values_does_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,\n2024-01-01 00:10:00,nan\n")
    assert main(["replay", "--csv", str(path), "--out", str(tmp_path / "o.csv")]) == 0


def test_replay_csv_without_header_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.csv"
    path.write_text("1,2\n")
    assert main(["replay", "--csv", str(path)]) == 2
    assert "timestamp,value" in capsys.readouterr().err


def test_replay_missing_csv_exits_2(tmp_path: Path) -> None:
    assert main(["replay", "--csv", str(tmp_path / "none.csv")]) == 2


def test_replay_db_scores_every_stored_window(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    rng = random.Random(1)
    records = [WindowRecord("host", 1000.0 + 10 * i, 1010.0 + 10 * i, {"cpu": rng.gauss(20, 2)}) for i in range(60)]
    records += [WindowRecord("log.app", 1000.0 + 10 * i, 1010.0 + 10 * i, {"lines": math.nan}) for i in range(5)]
    store.write_window_batch([], records)
    store.close()
    assert main(["replay", "--db", str(tmp_path / "m.db"), "--out", str(tmp_path / "o.csv")]) == 0
    assert len(_read(tmp_path / "o.csv")) == 65
