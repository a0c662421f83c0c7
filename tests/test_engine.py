"""The engine with real sources: files that appear later, bad files, dead endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from tui_monitor.engine import Engine, SourceChanged, Update
from tui_monitor.settings import Settings, parse_endpoint
from tui_monitor.store import FeatureStore


def fast_settings(tmp_path: Path, **overrides: object) -> Settings:
    settings = Settings(
        db_path=tmp_path / "monitor.db",
        window_s=1.0,
        host_interval_s=0.25,
        endpoint_interval_s=0.25,
        endpoint_timeout_s=0.5,
        log_poll_s=0.2,
        log_coalesce_s=0.05,
        warmup_windows=3,
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings


async def wait_for(condition: Callable[[], bool], timeout_s: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


class Recorder:
    def __init__(self) -> None:
        self.updates: list[Update] = []

    def __call__(self, update: Update) -> None:
        self.updates.append(update)

    def states(self, name: str) -> list[str]:
        return [u.state.status for u in self.updates if isinstance(u, SourceChanged) and u.state.name == name]


def feature_total(store: FeatureStore, stream: str, name: str) -> float:
    return sum(w.features.get(name, 0.0) for w in store.windows_since(stream, 0.0))


async def test_log_file_appearing_later_is_followed(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    store = FeatureStore(tmp_path / "monitor.db")
    recorder = Recorder()
    engine = Engine(fast_settings(tmp_path, log_paths=[str(log)]), store, on_update=recorder)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: "waiting" in recorder.states("log.later"))
    log.write_text("INFO one\nERROR two\nWARN three\n")
    assert await wait_for(lambda: feature_total(store, "log.later", "log.later.lines") == 3)

    engine.stop()
    await task
    assert feature_total(store, "log.later", "log.later.level_error") == 1
    assert feature_total(store, "log.later", "log.later.level_warn") == 1
    assert "running" in recorder.states("log.later")
    store.close()


async def test_rename_rotation_keeps_every_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    store = FeatureStore(tmp_path / "monitor.db")
    engine = Engine(fast_settings(tmp_path, log_paths=[str(log)]), store)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.5)

    with log.open("a") as f:
        f.write("INFO before rotation 1\nINFO before rotation 2\n")
    log.rename(tmp_path / "app.log.1")
    with log.open("a") as f:
        f.write("INFO after rotation\n")
    assert await wait_for(lambda: feature_total(store, "log.app", "log.app.lines") == 3)

    engine.stop()
    await task
    store.close()


async def test_log_folder_path_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    store = FeatureStore(tmp_path / "monitor.db")
    recorder = Recorder()
    engine = Engine(fast_settings(tmp_path, log_paths=[str(folder)]), store, on_update=recorder)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: "failed" in recorder.states("log.logs"))
    assert await wait_for(lambda: len(store.windows_since("host", 0.0)) >= 2)

    engine.stop()
    await task
    store.close()


async def test_refused_url_is_marked_down(tmp_path: Path, refused_url: str) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    recorder = Recorder()
    settings = fast_settings(tmp_path, endpoints=[parse_endpoint(f"api={refused_url}")])
    engine = Engine(settings, store, on_update=recorder)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: len(store.windows_since("http.api", 0.0)) >= 2)

    engine.stop()
    await task
    assert engine.sources["http.api"].status == "down"
    assert engine.sources["http.api"].detail == "connection refused"
    windows = store.windows_since("http.api", 0.0)
    assert all(w.features["http.api.up.mean"] == 0.0 for w in windows)
    assert len(store.windows_since("host", 0.0)) >= 2
    store.close()


async def test_hanging_endpoint_times_out_without_blocking(tmp_path: Path, http_server: Callable[..., object]) -> None:
    server = http_server("hang")
    store = FeatureStore(tmp_path / "monitor.db")
    settings = fast_settings(tmp_path, endpoints=[parse_endpoint(f"slow={server.url}")])  # type: ignore[attr-defined]
    engine = Engine(settings, store)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: engine.sources.get("http.slow") is not None and engine.sources["http.slow"].status == "down")
    host_windows = len(store.windows_since("host", 0.0))
    await asyncio.sleep(2.2)

    engine.stop()
    await task
    assert engine.sources["http.slow"].detail == "timed out"
    assert len(store.windows_since("host", 0.0)) >= host_windows + 2
    store.close()


async def test_healthy_endpoint_reports_latency(tmp_path: Path, http_server: Callable[..., object]) -> None:
    server = http_server("ok")
    store = FeatureStore(tmp_path / "monitor.db")
    settings = fast_settings(tmp_path, endpoints=[parse_endpoint(f"api={server.url}")])  # type: ignore[attr-defined]
    engine = Engine(settings, store)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: len(store.windows_since("http.api", 0.0)) >= 2)

    engine.stop()
    await task
    window = store.windows_since("http.api", 0.0)[-1]
    assert window.features["http.api.up.mean"] == 1.0
    assert window.features["http.api.latency_ms.max"] > 0.0
    assert window.features["http.api.status_5xx"] == 0.0
    assert engine.sources["http.api"].status == "running"
    store.close()


async def test_host_windows_have_named_features(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    engine = Engine(fast_settings(tmp_path), store)
    task = asyncio.create_task(engine.run())

    assert await wait_for(lambda: len(store.windows_since("host", 0.0)) >= 3)

    engine.stop()
    await task
    features = store.windows_since("host", 0.0)[-1].features
    for name in (
        "host.cpu.total_pct.mean",
        "host.cpu.total_pct.max",
        "host.cpu.user_pct.mean",
        "host.cpu.system_pct.mean",
        "host.cpu.iowait_pct.mean",
        "host.load.1m.mean",
        "host.mem.used_pct.mean",
        "host.swap.used_pct.mean",
        "host.disk.read_bytes_per_s.mean",
        "host.net.recv_bytes_per_s.mean",
    ):
        assert name in features, name
    store.close()


async def test_log_lines_are_parsed_and_dropped_by_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "drop.yaml").write_text('drop_lines:\n  - stream: "log.access"\n    pattern: "GET /health "\n')
    log = tmp_path / "access.log"
    log.write_text("")
    store = FeatureStore(tmp_path / "monitor.db")
    engine = Engine(fast_settings(tmp_path, log_paths=[str(log)], rules_dir=rules), store)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.5)

    lines = [
        '127.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /health HTTP/1.1" 200 2',
        '127.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /api/items HTTP/1.1" 200 512',
        '127.0.0.1 - - [04/Dec/2026:10:00:01 +0000] "GET /api/items HTTP/1.1" 500 64',
        '127.0.0.1 - - [04/Dec/2026:10:00:01 +0000] "POST /api/items HTTP/1.1" 201 128',
    ]
    with log.open("a") as f:
        f.write("\n".join(lines) + "\n")
    assert await wait_for(lambda: feature_total(store, "log.access", "log.access.lines") == 3)

    engine.stop()
    await task
    assert feature_total(store, "log.access", "log.access.dropped_lines") == 1
    assert feature_total(store, "log.access", "log.access.requests") == 3
    assert feature_total(store, "log.access", "log.access.status_5xx_ratio") > 0
    names = {name for w in store.windows_since("log.access", 0.0) for name in w.features}
    assert any(name.startswith("log.access.template.") for name in names)
    assert store.db.table("miner_state").count == 1
    store.close()
