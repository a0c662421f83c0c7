"""Headless operation: the systemd unit, log files, a clean stop on SIGTERM, and attaching the UI."""

from __future__ import annotations

import configparser
import logging
import logging.handlers
import math
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_monitor.cli import _settings_from, build_parser
from tui_monitor.logsetup import configure_logging
from tui_monitor.store import EventRecord, FeatureStore, annotations_between

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "docs" / "tui-monitor.service"


def test_unit_execstart_is_valid_command_line() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert Path(argv[0]).name == "tui-monitor"
    args = build_parser().parse_args(argv[1:])
    assert args.headless
    assert args.command is None
    assert args.log_file == Path("/var/log/tui-monitor/tui-monitor.log")
    settings = _settings_from(args)
    assert settings.db_path == Path("/var/lib/tui-monitor/monitor.db")


def test_unit_stops_with_sigterm() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT, encoding="utf-8")
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_log_file_rotates(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "tui-monitor.log"
    logger = logging.getLogger("tui_monitor")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    configure_logging(log_file=log_file)
    try:
        handler = logger.handlers[0]
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        assert handler.maxBytes == 5_000_000
        logging.getLogger("tui_monitor.test").info("written to the file")
        handler.flush()
        assert "written to the file" in log_file.read_text(encoding="utf-8")
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers[:], logger.level, logger.propagate = saved


def _start_engine(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    db = tmp_path / "monitor.db"
    log_file = tmp_path / "engine.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "tui_monitor", "--headless", "--db", str(db), "--window", "1", "--interval", "0.2",
            "--log-file", str(log_file), "--plugins", str(tmp_path / "no-plugins"), "--no-plugin-entry-points", *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    return process, db, log_file


def _wait_for(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {condition!r}")


def _window_count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM windows").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    process, db, log_file = _start_engine(tmp_path)
    yield process, db, log_file
    if process.poll() is None:
        process.kill()
        process.wait()


def _stop_just_after_boundary(process: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM 50 ms after a whole second, before the engine's timer closes that window."""
    now = time.time()
    time.sleep(math.ceil(now) + 0.05 - now)
    sent_at = time.time()
    process.send_signal(signal.SIGTERM)
    return sent_at


@pytest.mark.slow
def test_sigterm_stops_cleanly(engine: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    process, db, log_file = engine
    _wait_for(lambda: _window_count(db) >= 2)
    sent_at = _stop_just_after_boundary(process)
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 0, stderr.decode()
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    store = FeatureStore(db, readonly=True)
    last_end = store.db.conn.execute("SELECT max(end) FROM windows WHERE stream = 'host'").fetchone()[0]
    assert store.integrity_check() == "ok"
    store.close()
    # The window that ended at the last whole second before SIGTERM is stored.
    assert last_end >= math.floor(sent_at)
    text = log_file.read_text(encoding="utf-8")
    assert "received SIGTERM; stopping" in text
    assert "engine stopped after" in text


@pytest.mark.slow
async def test_attached_ui_annotation_reaches_engine(engine: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    from textual.widgets import Static

    from tui_monitor.ui.attach import AttachApp

    process, db, log_file = engine
    _wait_for(lambda: _window_count(db) >= 2)
    store = FeatureStore(db)
    now = time.time()
    event_id = store.save_event(EventRecord("host", now - 20, now - 10, 0.999, 0.9, "critical"))
    app = AttachApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(1.2)
        assert app.polls >= 1
        assert "host" in str(app.query_one("#sources", Static).render())
        await pilot.press("f")  # the only event, selected in the focused anomaly table
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"deployed v1.4", "enter")
        await pilot.pause()
    store.close()

    _wait_for(lambda: "(ui): deployed v1.4" in log_file.read_text(encoding="utf-8"), timeout_s=10)
    # The engine applies the label given in the attached UI (learns it, counts it for retraining).
    _wait_for(lambda: f"label false_positive on event {event_id} " in log_file.read_text(encoding="utf-8"), timeout_s=10)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()

    store = FeatureStore(db, readonly=True)
    annotations = annotations_between(store.db.conn, 0, time.time())
    assert store.integrity_check() == "ok"
    store.close()
    assert [(a.text, a.source) for a in annotations] == [("deployed v1.4", "ui")]


@pytest.mark.slow
def test_cli_annotation_reaches_engine(engine: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    from tui_monitor.cli import main

    process, db, log_file = engine
    _wait_for(lambda: _window_count(db) >= 1)
    assert main(["annotate", "restarted nginx", "--db", str(db), "--user", "ops"]) == 0
    _wait_for(lambda: "annotation by ops (cli): restarted nginx" in log_file.read_text(encoding="utf-8"), timeout_s=10)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    assert process.returncode == 0


def test_annotate_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.cli import main

    assert main(["annotate", "x", "--db", str(tmp_path / "none.db")]) == 2
    assert "not found" in capsys.readouterr().err


def test_annotate_blank_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.cli import main

    FeatureStore(tmp_path / "m.db").close()
    assert main(["annotate", "   ", "--db", str(tmp_path / "m.db")]) == 2
    assert "invalid annotation text '   '" in capsys.readouterr().err


def test_attach_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.cli import main

    assert main(["attach", "--db", str(tmp_path / "none.db")]) == 2
    assert "start the engine first" in capsys.readouterr().err


def test_events_footer_shows_database_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seed import seed_store
    from tui_monitor.cli import main

    seed_store(tmp_path / "m.db").close()
    assert main(["events", "--db", str(tmp_path / "m.db"), "--since", "1h"]) == 0
    assert "database size:" in capsys.readouterr().out
