"""A restart with damaged saved state: the engine starts, stores windows and trains the models afresh.

SIGKILL cannot leave a half-written row, because every model and miner state
is written in one SQLite transaction. The model key is a file of its own,
and a crash while it was being created used to leave it empty. These tests
build the damage directly and start the real headless engine on it.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.clirun import run_cli, start_cli
from tui_monitor.detectors.persist import default_key_path, load_key, sign
from tui_monitor.feedback.registry import register
from tui_monitor.feedback.trainer import TrainedModel
from tui_monitor.store import FeatureStore


class _FailsToLoad:
    """Pickles to a payload whose loading raises ValueError, as after a library upgrade."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (int, ("not a number",))


def _damage(db: Path, log: Path) -> None:
    """Store a signed detector state that fails to load, a promoted model with a cut blob and a broken miner state."""
    key = load_key(default_key_path())
    store = FeatureStore(db)
    try:
        payload = pickle.dumps(_FailsToLoad())
        store.save_model("host", "online", "v1", payload, sign(payload, key), {})
        store.save_model("host", "batch", "v1", payload[:5], sign(payload[:5], key), {})
        model = TrainedModel("host", "iforest", None, ["cpu.percent.mean"], 0.5, 0.0, 1.0, 20)
        register(store.db.conn, model, b"PK\x03\x04 cut short", status="promoted", trigger="schedule", metrics={}, reason="test")
        store.save_miner_state(f"log.{log.stem}", b"\x78\x9c cut short", 10, [])
    finally:
        store.close()


def _lines_counted(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=5.0)
    try:
        row = conn.execute("SELECT sum(json_extract(features, '$.\"log.app.lines\"')) FROM windows").fetchone()
    finally:
        conn.close()
    return int(row[0] or 0)


@pytest.mark.slow
def test_engine_starts_on_damaged_saved_state(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    db = tmp_path / "m.db"
    log = tmp_path / "app.log"
    log.touch()
    _damage(db, log)
    engine_log = tmp_path / "engine.log"

    engine = start_cli(
        "--headless", "--db", str(db), "--log", str(log), "--window", "0.5", "--interval", "0.1",
        "--duration", "60", "--log-file", str(engine_log),
        "--plugins", str(tmp_path / "no-plugins"), "--no-plugin-entry-points",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30.0
        # A file seen for the first time is followed from its end, so the lines
        # are written only once the log source has found the (empty) file.
        while f"source log {log} started" not in (engine_log.read_text() if engine_log.exists() else ""):
            assert engine.poll() is None, engine.communicate()[1]
            assert time.monotonic() < deadline, "the log source did not start within 30 s"
            time.sleep(0.1)
        time.sleep(0.5)
        with log.open("a") as handle:
            handle.write("".join(f"2024-05-01 10:00:{i:02d} INFO app: request {i} served\n" for i in range(20)))
        deadline = time.monotonic() + 15.0
        while _lines_counted(db) < 20 and time.monotonic() < deadline and engine.poll() is None:
            time.sleep(0.1)
        engine.send_signal(signal.SIGTERM)
        _, stderr = engine.communicate(timeout=30.0)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()

    text = engine_log.read_text()
    assert engine.returncode == 0, stderr
    assert _lines_counted(db) == 20
    assert "saved online model not loaded" in text
    assert "promoted model 1 of host not loaded" in text
    assert "template miner state" in text


def test_empty_model_key_is_replaced_at_start(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    key_path = default_key_path()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    engine_log = tmp_path / "engine.log"

    result = run_cli(
        "--headless", "--db", str(tmp_path / "m.db"), "--window", "0.5", "--interval", "0.1",
        "--duration", "2", "--log-file", str(engine_log),
        "--plugins", str(tmp_path / "no-plugins"), "--no-plugin-entry-points",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert len(key_path.read_bytes()) == 32
    assert "cut short while being created" in engine_log.read_text()
