"""Storage faults: a database locked by another process, a full disk, a corrupt file.

Every fault is real: a second process holding ``BEGIN EXCLUSIVE``, a file that
reached SQLite's ``max_page_count`` (SQLite raises the same ``SQLITE_FULL`` as
for a full disk), a small tmpfs filled to the last byte when this sandbox
allows mounting one, and bytes overwritten in a real database file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clirun import run_cli, start_cli
from seed import seed_store
from tui_monitor.engine import Engine
from tui_monitor.errors import CorruptStoreError
from tui_monitor.settings import Settings
from tui_monitor.store import SCHEMA_VERSION, EventRecord, FeatureStore, WindowRecord

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


class LockHolder:
    """A second process holding the database's write lock until ``release``."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def lock_holders() -> Iterator[list[LockHolder]]:
    holders: list[LockHolder] = []
    yield holders
    for holder in holders:
        holder.close()


def window(stream: str, start: float) -> WindowRecord:
    return WindowRecord(stream, start, start + 1.0, {f"{stream}.lines": 1.0})


def stored_starts(path: Path, stream: str) -> list[float]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT start FROM windows WHERE stream = ? ORDER BY start", (stream,))]
    finally:
        conn.close()


def fill_to_limit(store: FeatureStore) -> None:
    """Let the file grow by no more page: the next write fails with SQLITE_FULL."""
    pages = store.db.conn.execute("PRAGMA page_count").fetchone()[0]
    store.db.conn.execute(f"PRAGMA max_page_count = {pages}")


def lift_limit(store: FeatureStore) -> None:
    store.db.conn.execute("PRAGMA max_page_count = 1073741823")


def engine_settings(tmp_path: Path, **overrides: object) -> Settings:
    # A log stream is declared, so it closes a window every period even when
    # idle: a gap in its stored windows can only come from a lost write.
    log = tmp_path / "app.log"
    log.touch()
    settings = Settings(
        db_path=tmp_path / "monitor.db",
        log_paths=[str(log)],
        window_s=0.5,
        host_interval_s=0.1,
        warmup_windows=3,
        plugin_dirs=[],
        is_entry_point_plugins=False,
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings


# -- locked by another process ------------------------------------------------


def test_locked_write_waits_then_keeps_rows(tmp_path: Path, lock_holders: list[LockHolder], caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path / "m.db", write_timeout_s=0.3)
    lock_holders.append(LockHolder(store.path))

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tui_monitor.store"):
        is_written = store.write_window_batch([(1.0, "host", {"cpu": 1.0})], [window("host", 0.0)])
    waited_s = time.monotonic() - started

    assert not is_written
    assert waited_s >= 0.25
    assert store.health.status == "locked"
    assert "locked by another process" in store.health.detail
    assert len(store.backlog.windows) == 1
    assert "writing stopped" in caplog.text
    store.close()


def test_locked_retry_waits_briefly(tmp_path: Path, lock_holders: list[LockHolder]) -> None:
    store = FeatureStore(tmp_path / "m.db", write_timeout_s=1.0)
    lock_holders.append(LockHolder(store.path))
    store.write_window_batch([], [window("host", 0.0)])

    started = time.monotonic()
    store.write_window_batch([], [window("host", 1.0)])

    assert time.monotonic() - started < 0.5
    assert len(store.backlog.windows) == 2
    store.close()


def test_lock_released_writes_backlog(tmp_path: Path, lock_holders: list[LockHolder], caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path / "m.db", write_timeout_s=0.1)
    holder = LockHolder(store.path)
    lock_holders.append(holder)
    for start in range(3):
        store.write_window_batch([], [window("host", float(start))])
    holder.release()

    with caplog.at_level(logging.WARNING, logger="tui_monitor.store"):
        is_written = store.write_window_batch([], [window("host", 3.0)])

    assert is_written
    assert store.health.is_ok
    assert store.backlog.is_empty
    assert stored_starts(store.path, "host") == [0.0, 1.0, 2.0, 3.0]
    assert "writing resumed" in caplog.text
    store.close()


def test_event_waits_for_lock_and_gets_id(tmp_path: Path, lock_holders: list[LockHolder]) -> None:
    store = FeatureStore(tmp_path / "m.db", write_timeout_s=0.1)
    holder = LockHolder(store.path)
    lock_holders.append(holder)
    event = EventRecord("host", 0.0, 1.0, 0.99, 0.8, "minor")

    assert store.save_event(event) is None
    event.state = "resolved"
    store.save_event(event)
    holder.release()
    store.flush()

    [read] = store.events_since(-1.0)
    assert event.id == read.id
    assert read.state == "resolved"
    store.close()


@pytest.mark.slow
async def test_engine_collects_through_lock(tmp_path: Path, lock_holders: list[LockHolder]) -> None:
    settings = engine_settings(tmp_path)
    store = FeatureStore(settings.db_path, write_timeout_s=0.2)
    engine = Engine(settings, store)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(1.2)

    holder = LockHolder(store.path)
    lock_holders.append(holder)
    await asyncio.sleep(1.5)
    status_while_locked = engine.sources["store"].status
    detail_while_locked = engine.sources["store"].detail
    holder.release()
    await asyncio.sleep(1.2)
    engine.stop()
    await task
    store.close()

    assert status_while_locked == "down"
    assert "locked" in detail_while_locked
    assert engine.sources["store"].status == "running"
    starts = stored_starts(settings.db_path, "log.app")
    steps = {round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)}
    assert steps == {0.5}
    assert len(starts) >= 7


# -- disk full ----------------------------------------------------------------


def test_full_store_keeps_rows_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path / "m.db")
    fill_to_limit(store)

    with caplog.at_level(logging.WARNING, logger="tui_monitor.store"):
        is_written = store.write_window_batch([(0.5, "host", {"cpu": 1.0} | {f"k{i}": float(i) for i in range(400)})], [window("host", 0.0)])

    assert not is_written
    assert store.health.status == "full"
    assert "disk full" in store.health.detail
    assert "disk full" in caplog.text
    assert len(store.backlog.samples) == 1
    store.close()


def test_full_store_resumes_when_space_returns(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    fill_to_limit(store)
    big = {f"k{i}": float(i) for i in range(400)}
    for start in range(5):
        store.write_window_batch([(start + 0.5, "host", big)], [window("host", float(start))])
    lift_limit(store)

    is_written = store.write_window_batch([], [window("host", 5.0)])

    assert is_written
    assert store.health.is_ok
    assert stored_starts(store.path, "host") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert store.db["samples"].count == 5
    store.close()


def test_backlog_bound_drops_oldest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FeatureStore(tmp_path / "m.db", max_pending_windows=4, max_pending_samples=2)
    fill_to_limit(store)
    big = {f"k{i}": float(i) for i in range(400)}
    for start in range(10):
        store.write_window_batch([(start + 0.5, "host", big)], [window("host", float(start))])

    assert len(store.backlog.windows) == 4
    assert store.backlog.dropped_windows == 6
    assert store.backlog.dropped_samples == 8
    assert "dropped so far: 6 windows" in store.backlog.describe()
    lift_limit(store)
    with caplog.at_level(logging.WARNING, logger="tui_monitor.store"):
        store.flush()
    assert stored_starts(store.path, "host") == [6.0, 7.0, 8.0, 9.0]
    assert "dropped so far: 6 windows, 8 samples" in caplog.text
    store.close()


@pytest.mark.slow
async def test_engine_reports_full_disk_state(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    store = FeatureStore(settings.db_path)
    engine = Engine(settings, store)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.8)

    fill_to_limit(store)
    await asyncio.sleep(1.6)
    state_while_full = engine.sources["store"]
    lift_limit(store)
    await asyncio.sleep(1.0)
    engine.stop()
    await task
    store.close()

    assert state_while_full.status == "down"
    assert "disk full" in state_while_full.detail
    assert "windows" in state_while_full.detail
    assert engine.sources["store"].status == "running"
    starts = stored_starts(settings.db_path, "log.app")
    steps = {round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)}
    assert steps == {0.5}


@pytest.mark.slow
async def test_ui_shows_store_fault(tmp_path: Path) -> None:
    from tui_monitor.ui import MonitorApp
    from tui_monitor.ui.app import SourcesBar

    settings = engine_settings(tmp_path)
    store = FeatureStore(settings.db_path)
    app = MonitorApp(settings, store)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.8)
        fill_to_limit(store)
        await pilot.pause(1.4)
        bar = str(app.query_one("#sources", SourcesBar).render())
        titles = [notification.title for notification in app._notifications]
        lift_limit(store)
        await pilot.press("q")
    store.close()

    assert "store" in bar
    assert "down" in bar
    assert "Database not written" in titles


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    if shutil.which("mount") is None:
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return result.returncode == 0


def _fill_disk(folder: Path) -> Path:
    filler = folder / "filler"
    chunk = b"\0" * 4096
    try:
        with filler.open("wb", buffering=0) as out:
            while True:
                out.write(chunk)
    except OSError:
        pass
    return filler


def _wait_for_text(path: Path, text: str, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8"):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_engine_on_full_tmpfs_resumes(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    # Room for the 4 MB WAL that SQLite reuses after each automatic checkpoint.
    if not _mount_tmpfs(disk, "16m"):
        pytest.skip("cannot mount a tmpfs here; the max_page_count tests cover SQLITE_FULL")
    engine_log = tmp_path / "engine.log"
    try:
        db = disk / "monitor.db"
        log = tmp_path / "app.log"
        log.touch()
        process = start_cli(
            "--headless", "--db", str(db), "--log", str(log), "--window", "0.5", "--interval", "0.1", "--log-file", str(engine_log),
            "--plugins", str(tmp_path / "none"), "--no-plugin-entry-points",
        )  # fmt: skip
        try:
            assert _wait_for_text(engine_log, "engine started")
            time.sleep(1.5)
            filler = _fill_disk(disk)
            assert _wait_for_text(engine_log, "disk full", timeout_s=10)
            time.sleep(1.5)
            filler.unlink()
            assert _wait_for_text(engine_log, "writing resumed", timeout_s=10)
            time.sleep(1.0)
        finally:
            process.terminate()
            process.communicate(timeout=20)
        assert process.returncode == 0

        store = FeatureStore(db, readonly=True)
        assert store.integrity_check() == "ok"
        store.close()
        starts = stored_starts(db, "log.app")
        steps = {round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)}
        assert steps == {0.5}
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# -- corrupt file -------------------------------------------------------------


def _corrupt_page_of(db: Path, table: str) -> bytes:
    """Overwrite the root page of ``table`` with noise; return the file's new bytes."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size + 8)
        f.write(bytes(range(256)) * 8)
    return db.read_bytes()


@pytest.fixture
def corrupt_db(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "monitor.db"
    seed_store(db).close()
    data = _corrupt_page_of(db, "windows")
    return db, hashlib.sha256(data).hexdigest()


def test_corrupt_page_raises_naming_file(corrupt_db: tuple[Path, str]) -> None:
    db, digest = corrupt_db

    with pytest.raises(CorruptStoreError) as info:
        FeatureStore(db)

    assert repr(str(db)) in str(info.value)
    assert "--db-reset-corrupt" in str(info.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_corrupt_header_raises(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    seed_store(db).close()
    with db.open("r+b") as f:
        f.write(b"not a database at all")

    with pytest.raises(CorruptStoreError, match="file is not a database"):
        FeatureStore(db)


def test_corrupt_readonly_open_raises(corrupt_db: tuple[Path, str]) -> None:
    db, _ = corrupt_db
    with db.open("r+b") as f:
        f.write(b"not a database at all")

    with pytest.raises(CorruptStoreError, match="--db-reset-corrupt"):
        FeatureStore(db, readonly=True)


def test_reset_corrupt_keeps_old_file(corrupt_db: tuple[Path, str]) -> None:
    db, digest = corrupt_db

    store = FeatureStore(db, reset_corrupt=True)

    assert store.set_aside_path is not None
    assert store.set_aside_path.name.startswith("monitor.db.corrupt-")
    assert hashlib.sha256(store.set_aside_path.read_bytes()).hexdigest() == digest
    assert store.integrity_check() == "ok"
    assert store.schema_version == SCHEMA_VERSION
    assert store.db["windows"].count == 0
    store.close()


def test_reset_corrupt_leaves_sound_file(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    seed_store(db).close()

    store = FeatureStore(db, reset_corrupt=True)

    assert store.set_aside_path is None
    assert store.db["windows"].count > 0
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []
    store.close()


def test_cli_corrupt_db_exits_2(corrupt_db: tuple[Path, str]) -> None:
    db, digest = corrupt_db

    result = run_cli("--headless", "--db", str(db), "--duration", "1", "--no-plugin-entry-points")

    assert result.returncode == 2
    assert "is corrupt" in result.stderr
    assert str(db) in result.stderr
    assert "--db-reset-corrupt" in result.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


@pytest.mark.slow
def test_cli_reset_corrupt_starts_fresh(corrupt_db: tuple[Path, str]) -> None:
    db, digest = corrupt_db

    result = run_cli(
        "--headless", "--db", str(db), "--window", "0.5", "--interval", "0.5", "--duration", "2",
        "--db-reset-corrupt", "--plugins", str(db.parent / "none"), "--no-plugin-entry-points",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "was corrupt: kept as" in result.stderr
    [kept] = [p for p in db.parent.iterdir() if p.name.startswith("monitor.db.corrupt-") and not p.name.endswith(("-wal", "-shm"))]
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    store = FeatureStore(db, readonly=True)
    assert store.integrity_check() == "ok"
    assert store.db["windows"].count >= 1
    store.close()


def test_set_aside_never_overwrites(tmp_path: Path) -> None:
    from tui_monitor.store._faults import set_aside_corrupt

    first = tmp_path / "m.db"
    first.write_bytes(b"one")
    kept_first = set_aside_corrupt(first, now=0.0)
    first.write_bytes(b"two")
    kept_second = set_aside_corrupt(first, now=0.0)

    assert kept_first != kept_second
    assert kept_first.read_bytes() == b"one"
    assert kept_second.read_bytes() == b"two"
    assert not os.path.exists(first)


def test_open_while_locked_names_lock(tmp_path: Path, lock_holders: list[LockHolder], monkeypatch: pytest.MonkeyPatch) -> None:
    from tui_monitor.errors import StoreError
    from tui_monitor.store import _db

    monkeypatch.setattr(_db, "_BUSY_TIMEOUT_S", 0.2)
    db = tmp_path / "m.db"
    sqlite3.connect(db).close()
    lock_holders.append(LockHolder(db))

    with pytest.raises(StoreError, match="locked by another process") as info:
        FeatureStore(db)

    assert "fuser" in str(info.value)
