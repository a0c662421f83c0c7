"""A --log path that is a folder is rejected before the engine starts, with the fix first on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_monitor.cli import main
from tui_monitor.errors import ConfigError
from tui_monitor.settings import Settings


def test_log_folder_is_rejected_with_glob_hint(tmp_path: Path) -> None:
    settings = Settings(log_paths=[str(tmp_path)])

    with pytest.raises(ConfigError, match=r"is a folder; pass a file, or a glob such as '.*/\*\.log'"):
        settings.validate()


@pytest.mark.parametrize("name", ["app.log", "missing.log", "*.log"])
def test_log_file_glob_or_missing_file_is_accepted(tmp_path: Path, name: str) -> None:
    (tmp_path / "app.log").write_text("started\n", encoding="utf-8")

    Settings(log_paths=[str(tmp_path / name)]).validate()


def test_cli_log_folder_error_comes_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--headless", "--duration", "1", "--db", str(tmp_path / "m.db"), "--log", str(tmp_path)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"tui-monitor: error: invalid --log '{tmp_path}': it is a folder")
    assert "usage:" not in err
    assert not (tmp_path / "m.db").exists()
