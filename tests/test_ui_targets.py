"""The targets table: current values and state of processes, endpoints and scrapes."""

from __future__ import annotations

import asyncio
import doctest
from pathlib import Path

from textual.app import App, ComposeResult

import tui_monitor.ui.targets as targets_module
from metrics_helpers import SLEEPER, Route, ScriptedServer, spawn, stop
from tui_monitor.settings import EndpointSpec, Settings
from tui_monitor.sources.base import Observation, SourceState
from tui_monitor.sources.process import ProcessSpec
from tui_monitor.store import FeatureStore
from tui_monitor.ui import MonitorApp
from tui_monitor.ui.targets import TargetsTable


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TargetsTable(id="targets")


def test_targets_doctests() -> None:
    assert doctest.testmod(targets_module).failed == 0


async def test_table_rows_and_states() -> None:
    async with _TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(TargetsTable)
        table.take_observation(Observation("proc.api", 1.0, gauges={"cpu_pct": 12.0, "rss_bytes": 50 * (1 << 20)}, counts={"restarts": 1.0}))
        table.take_observation(Observation("host", 1.0, gauges={"cpu.total_pct": 5.0}))
        table.take_state(SourceState("proc.api", "running", "pid 42"))
        table.take_state(SourceState("http.web", "down", "timed out"))
        table.take_detector_state("proc.api", "anomalous")
        table.redraw()
        await pilot.pause()
        assert table.row_count == 2
        assert table.state_of("proc.api") == "anomalous"
        assert table.state_of("http.web") == "down"
        row = table.get_row("proc.api")
        assert row[2] == "cpu 12 %, rss 50 MiB, 1 restarts"
        assert row[3] == "pid 42"


async def test_monitor_app_shows_targets(tmp_path: Path) -> None:
    proc, marker = spawn(SLEEPER)
    server = ScriptedServer().start()
    server.routes["/health"] = Route()
    settings = Settings(
        db_path=tmp_path / "monitor.db",
        window_s=1.0,
        host_interval_s=0.5,
        process_interval_s=0.2,
        endpoint_interval_s=0.2,
        processes=[ProcessSpec("sleeper", match_cmdline=marker)],
        endpoints=[EndpointSpec("api", server.url("/health"))],
    )
    store = FeatureStore(settings.db_path)
    try:
        app = MonitorApp(settings, store)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(TargetsTable)
            for _ in range(60):
                await asyncio.sleep(0.1)
                if table.row_count == 2 and "rss" in str(table.get_row("proc.sleeper")[2]):
                    break
            table.redraw()
            await pilot.pause()
            assert table.row_count == 2
            assert table.state_of("proc.sleeper") in ("up", "learning")
            assert table.state_of("http.api") in ("up", "learning")
            assert "rss" in str(table.get_row("proc.sleeper")[2])
            await pilot.press("q")
    finally:
        stop(proc)
        server.close()
        store.close()


async def test_no_targets_no_table(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    try:
        app = MonitorApp(Settings(db_path=tmp_path / "monitor.db"), store)
        async with app.run_test(size=(100, 30)) as pilot:
            assert not app.query(TargetsTable)
            await pilot.press("q")
    finally:
        store.close()
