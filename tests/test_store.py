"""The feature store: migrations, WAL, round trips and clear open errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_monitor.errors import StoreError
from tui_monitor.store import MIGRATIONS, SCHEMA_VERSION, EventRecord, FeatureStore, WindowRecord


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStore]:
    opened = FeatureStore(tmp_path / "monitor.db")
    yield opened
    opened.close()


def test_new_store_is_migrated_and_in_wal_mode(store: FeatureStore) -> None:
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert {"samples", "windows", "events"} <= set(store.db.table_names())
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    FeatureStore(tmp_path / "m.db").close()

    again = FeatureStore(tmp_path / "m.db")

    assert again.schema_version == SCHEMA_VERSION
    assert again.db["_migrations"].count == len(MIGRATIONS)
    again.close()


def test_window_batch_round_trip(store: FeatureStore) -> None:
    window = WindowRecord("host", 100.0, 110.0, {"host.cpu.total_pct.mean": 12.5}, 0.2, 0.6, False, False)

    store.write_window_batch([(101.0, "host", {"cpu.total_pct": 12.5})], [window])

    [read] = store.windows_since("host", 0.0)
    assert read.features == {"host.cpu.total_pct.mean": 12.5}
    assert read.score == 0.6
    assert store.db["samples"].count == 1


def test_event_insert_then_update(store: FeatureStore) -> None:
    event = EventRecord("host", 100.0, 110.0, 0.99, 0.8, "minor", top_features=[{"name": "a", "z": 5.0}])

    event_id = store.save_event(event)
    event.state = "resolved"
    event.window_end = 130.0
    store.save_event(event)

    [read] = store.events_since(0.0)
    assert read.id == event_id
    assert read.state == "resolved"
    assert read.window_end == 130.0
    assert read.top_features == [{"name": "a", "z": 5.0}]


def test_readonly_store_sees_writer_data(store: FeatureStore) -> None:
    store.save_event(EventRecord("host", 100.0, 110.0, 0.99, 0.8, "minor"))

    reader = FeatureStore(store.path, readonly=True)

    assert len(reader.events_since(0.0)) == 1
    reader.close()


def test_missing_readonly_store_names_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not found"):
        FeatureStore(tmp_path / "absent.db", readonly=True)


def make_readonly_folder(folder: Path) -> None:
    """Make ``folder`` unwritable, also for root (which ignores mode bits)."""
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr +i: no way to make a folder read-only here")


def release_readonly_folder(folder: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def test_readonly_folder_raises_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    make_readonly_folder(folder)
    try:
        with pytest.raises(StoreError, match="cannot write to folder") as info:
            FeatureStore(folder / "monitor.db")
        assert "--db PATH" in str(info.value)
    finally:
        release_readonly_folder(folder)
