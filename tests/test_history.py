"""The history screen: ranges, buckets, filters, the feature chart and reports, on a seeded store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Select, Static
from textual_plotext import PlotextPlot

from seed import EVENTS, HOUR, NOW, add_labels_table, seed_store
from tui_monitor.store import FeatureStore, WindowRecord
from tui_monitor.ui.history import HistoryFilters, HistoryScreen, load_history


class _Host(App[None]):
    def __init__(self, db: Path) -> None:
        super().__init__()
        self.screen_under_test = HistoryScreen(db, now=NOW)

    def compose(self) -> ComposeResult:
        yield Static("live view")

    def on_mount(self) -> None:
        self.push_screen(self.screen_under_test)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    seed_store(path, window_hours=24 * 8).close()
    return path


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with local time in UTC, so clock labels are known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _settle(pilot: object, screen: HistoryScreen, loads: int) -> None:
    for _ in range(50):
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        if screen.loads >= loads and not any(w.is_running for w in screen.workers):
            return
    raise AssertionError(f"history screen did not finish loading ({screen.loads} loads)")


def test_load_history_counts_per_hour(db: Path) -> None:
    data = load_history(db, HistoryFilters(span_s=24 * HOUR, bucket_s=HOUR), NOW)
    assert sum(count for _, count in data.buckets) == sum(1 for e in EVENTS if e[0] <= 24)
    assert len(data.events) == 5
    assert data.feature == "host.cpu.total_pct.mean"
    assert len(data.series) == 24 * 6
    assert [a.text for a in data.annotations] == ["deployed v1.4"]
    assert data.labels == []


def test_load_history_filters_combine(db: Path) -> None:
    data = load_history(db, HistoryFilters(span_s=30 * 24 * HOUR, stream="host", severity="major"), NOW)
    assert [(e["stream"], e["severity"]) for e in data.events] == [("host", "major"), ("host", "major")]
    data = load_history(db, HistoryFilters(span_s=30 * 24 * HOUR, text="LEVEL_ERROR"), NOW)
    assert {e["stream"] for e in data.events} == {"log.app"}


def test_load_history_label_filter_needs_table(db: Path) -> None:
    store = FeatureStore(db)
    with store.db.conn:
        # A file written before the feedback migration has no labels table.
        store.db.conn.execute("ALTER TABLE labels RENAME TO labels_hidden")
    store.close()
    unfiltered = load_history(db, HistoryFilters(label="true_anomaly"), NOW)
    assert len(unfiltered.events) == 5
    store = FeatureStore(db)
    with store.db.conn:
        store.db.conn.execute("ALTER TABLE labels_hidden RENAME TO labels")
    add_labels_table(store.db.conn, {1: "true_anomaly", 3: "false_positive"})
    store.close()
    data = load_history(db, HistoryFilters(label="true_anomaly"), NOW)
    assert [e["id"] for e in data.events] == [1]
    assert data.labels == ["false_positive", "true_anomaly"]


async def test_range_keys_change_span(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        assert len(screen.data.events) == 5  # type: ignore[union-attr]
        await pilot.press("1")
        await _settle(pilot, screen, 2)
        assert screen.filters.span_s == HOUR
        assert len(screen.data.events) == 0  # type: ignore[union-attr]
        await pilot.press("4")
        await _settle(pilot, screen, 3)
        assert len(screen.data.events) == 6  # type: ignore[union-attr]
        await pilot.press("5")
        await _settle(pilot, screen, 4)
        assert screen.filters.bucket_s == 86400.0
        assert len(screen.query_one("#history-events", DataTable).rows) == len(EVENTS)


async def test_feature_chart_axis_shows_clock_times(db: Path, utc: None) -> None:
    # NOW is 2026-05-28 20:26:40 UTC, so the default 24 h range spans two dates.
    app = _Host(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        day_chart = screen.query_one("#feature-chart", PlotextPlot).render().plain  # type: ignore[union-attr]
        await pilot.press("1")
        await _settle(pilot, screen, 2)
        hour_chart = screen.query_one("#feature-chart", PlotextPlot).render().plain  # type: ignore[union-attr]

    for label in ("05-28 00:00", "05-28 06:00", "05-28 12:00", "05-28 18:00"):
        assert label in day_chart
    assert re.search(r"-\d+\.\d", day_chart) is None  # no fractional hours before the end
    for label in ("19:30", "19:50", "20:10"):
        assert label in hour_chart
    assert "05-28" not in hour_chart


async def test_bucket_key_switches_hours_and_days(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        hours = len(screen.data.buckets)  # type: ignore[union-attr]
        await pilot.press("b")
        await _settle(pilot, screen, 2)
        assert hours >= 24
        assert len(screen.data.buckets) in (1, 2)  # type: ignore[union-attr]
        assert "per day" in str(screen.query_one("#summary", Static).render())


async def test_text_filter_narrows_table(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        screen.query_one("#filter-text", Input).value = "latency"
        await _settle(pilot, screen, 2)
        table = screen.query_one("#history-events", DataTable)
        assert len(table.rows) == 1
        assert table.get_row_at(0)[1] == "http.api"


async def test_stream_select_filters_events(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        screen.query_one("#filter-stream", Select).value = "log.app"
        await _settle(pilot, screen, 2)
        assert screen.filters.stream == "log.app"
        assert {e["stream"] for e in screen.data.events} == {"log.app"}  # type: ignore[union-attr]


async def test_report_key_writes_html(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = app.screen_under_test
        await _settle(pilot, screen, 1)
        await pilot.press("r")
        for _ in range(40):
            await pilot.pause(0.05)
            if screen.report_paths:
                break
    assert screen.report_paths[0].suffix == ".html"
    assert "<svg" in screen.report_paths[0].read_text(encoding="utf-8")


async def test_escape_returns_to_live_view(db: Path) -> None:
    app = _Host(db)
    async with app.run_test(size=(120, 45)) as pilot:
        await _settle(pilot, app.screen_under_test, 1)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)


async def test_monitor_app_keys_open_history_and_annotate(tmp_path: Path) -> None:
    from tui_monitor.settings import Settings
    from tui_monitor.store import annotations_between
    from tui_monitor.ui import MonitorApp

    store = FeatureStore(tmp_path / "m.db")
    app = MonitorApp(Settings(db_path=store.path, window_s=1.0, is_entry_point_plugins=False), store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("escape")
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"load test", "enter")
        await pilot.pause()
        await pilot.press("q")
    texts = [a.text for a in annotations_between(store.db.conn, 0, 2e9)]
    store.close()
    assert texts == ["load test"]


async def test_attach_marks_old_streams_stale_and_charts_logs(tmp_path: Path) -> None:
    from tui_monitor.ui.attach import AttachApp
    from tui_monitor.ui.charts import SeriesChart

    db = tmp_path / "monitor.db"
    writer = FeatureStore(db)
    end = time.time() - 600
    windows = []
    for i in range(5):
        start = end - (5 - i) * 10.0
        windows.append(WindowRecord("host", start, start + 10.0, {"host.cpu.total_pct.mean": 5.0}, is_warmup=False))
        windows.append(WindowRecord("log.app", start, start + 10.0, {"log.app.lines": 40.0}, is_warmup=False))
    writer.write_window_batch([], windows)
    writer.close()

    app = AttachApp(FeatureStore(db))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        assert app.engine.sources["host"].status == "stale"
        assert app.engine.sources["log.app"].detail == "no window for 10 min"
        assert app.query_one("#chart-logs", SeriesChart).series["log.app"][-1][1] == 4.0
        await pilot.press("q")
    app.store.close()
