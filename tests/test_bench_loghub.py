"""The loghub benchmark script runs end to end on a small data set made here."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "loghub.py"

LINES = [
    ("2024-05-01 12:00:00 INFO app: user 1 logged in", "user 1 logged in", "user <*> logged in"),
    ("2024-05-01 12:00:01 INFO app: user 22 logged in", "user 22 logged in", "user <*> logged in"),
    ("2024-05-01 12:00:02 WARN app: disk 3 full", "disk 3 full", "disk <*> full"),
    ("2024-05-01 12:00:03 INFO app: user 7 logged in", "user 7 logged in", "user <*> logged in"),
]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_loghub", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_data(root: Path) -> None:
    (root / "App").mkdir(parents=True)
    (root / "App" / "App_2k.log").write_text("\r\n".join(line for line, _, _ in LINES), encoding="utf-8")
    truth_dir = root / "loghub-2.0" / "App"
    truth_dir.mkdir(parents=True)
    with (truth_dir / "App_2k.log_structured_corrected.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", "Content", "EventId", "EventTemplate"])
        for number, (_, content, template) in enumerate(LINES, 1):
            writer.writerow([number, content, "E1", template])


def test_bench_reports_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _make_data(tmp_path)
    assert _load_script().main(["--data", str(tmp_path), "--repeat", "1"]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "GA generic 1.000" in last_line
    assert "GA per-system 1.000" in last_line
    assert "PA per-system 1.000" in last_line


def test_bench_missing_data_exits(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--data"):
        _load_script().main(["--data", str(tmp_path / "nowhere")])


def test_bench_line_count_mismatch_exits(tmp_path: Path) -> None:
    _make_data(tmp_path)
    (tmp_path / "App" / "App_2k.log").write_text("one line only", encoding="utf-8")
    with pytest.raises(SystemExit, match="1 log lines but 4"):
        _load_script().main(["--data", str(tmp_path), "--repeat", "1"])
