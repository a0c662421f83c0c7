"""The command line: bad options and paths exit 2 with a clear message."""

from __future__ import annotations

import ctypes
import json
import os
import stat
import time
from pathlib import Path

import pytest

from tests.clirun import run_cli
from tests.test_store import make_readonly_folder, release_readonly_folder
from tui_monitor.cli import main, parse_duration
from tui_monitor.store import EventRecord, FeatureStore


def test_unknown_option_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--no-such-option"])

    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tui-monitor" in err
    assert "--no-such-option" in err


def test_bad_url_exits_2_naming_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--headless", "--url", "ftp://example"]) == 2
    err = capsys.readouterr().err
    assert "'ftp://example'" in err
    assert "http://" in err


def test_bad_duration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--duration", "soon"])

    assert info.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err


def test_zero_window_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--window", "0"])

    assert info.value.code == 2
    assert "invalid number of seconds '0'" in capsys.readouterr().err


def test_interval_longer_than_window_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--headless", "--window", "2", "--interval", "5"]) == 2
    err = capsys.readouterr().err
    assert "invalid --interval 5.0" in err
    assert "raise --window" in err


def test_readonly_db_folder_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    make_readonly_folder(folder)
    try:
        result = run_cli("--headless", "--db", str(folder / "monitor.db"), "--duration", "1")
    finally:
        release_readonly_folder(folder)

    assert result.returncode == 2
    assert "cannot write to folder" in result.stderr
    assert str(folder) in result.stderr
    assert "--db PATH" in result.stderr


def test_parse_duration_units() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("15m") == 900
    assert parse_duration("1h") == 3600
    assert parse_duration("7d") == 7 * 86400


def test_duration_flag_negative_value_names_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--headless", "--duration", "-5"])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "a duration cannot be negative; write e.g. '5'" in err


def test_events_lists_stored_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "monitor.db"
    store = FeatureStore(db)
    now = time.time()
    store.save_event(EventRecord("host", now - 60, now - 50, 0.995, 0.9, "major", top_features=[{"name": "host.cpu.total_pct.mean", "z": 9.0}]))
    store.save_event(EventRecord("host", now - 7200, now - 7190, 0.99, 0.9, "minor"))
    store.close()

    assert main(["events", "--db", str(db), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["top_features"][0]["name"] == "host.cpu.total_pct.mean"

    assert main(["events", "--db", str(db), "--since", "3h"]) == 0
    out = capsys.readouterr().out
    assert out.count("host ") == 2
    assert "major" in out


def test_events_on_missing_db_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "--db", str(tmp_path / "none.db")]) == 2
    assert "not found" in capsys.readouterr().err


def drop_file_capabilities() -> None:
    """Drop root's right to bypass file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).

    Runs in the child before exec, so the engine stays root but a mode-000
    file is as unreadable to it as to any user.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.slow
def test_unreadable_log_is_reported_and_host_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "secret.log"
    log.write_text("INFO hidden\n")
    log.chmod(0)
    db = tmp_path / "monitor.db"
    extra = {"preexec_fn": drop_file_capabilities} if os.geteuid() == 0 else {}
    try:
        result = run_cli(
            "--headless", "--db", str(db), "--log", str(log), "--window", "1", "--interval", "0.5", "--duration", "3.5",
            **extra,
        )  # fmt: skip
    finally:
        log.chmod(stat.S_IRUSR | stat.S_IWUSR)

    assert result.returncode == 0, result.stderr
    assert str(log) in result.stderr
    assert "Permission denied" in result.stderr
    assert "other sources go on" in result.stderr
    store = FeatureStore(db, readonly=True)
    assert len(store.windows_since("host", 0.0)) >= 2
    store.close()


def test_zero_duration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--duration", "0"])

    assert info.value.code == 2
    assert "expected a time above 0" in capsys.readouterr().err
