"""The terminal UI driven by Textual's pilot on a real engine and store."""

from __future__ import annotations

import gc
import random
import time
from pathlib import Path

from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from tui_monitor.features import ClosedWindow
from tui_monitor.settings import Settings, parse_endpoint
from tui_monitor.store import FeatureStore
from tui_monitor.ui import MonitorApp
from tui_monitor.ui.app import SourcesBar
from tui_monitor.ui.charts import SeriesChart
from tui_monitor.ui.help import HelpScreen
from tui_monitor.ui.notifications import NotificationsScreen


def make_app(tmp_path: Path, log: Path | None = None) -> MonitorApp:
    settings = Settings(
        rules_dir=tmp_path / "rules",
        db_path=tmp_path / "monitor.db",
        window_s=1.0,
        host_interval_s=0.25,
        log_paths=[str(log)] if log else [],
        log_poll_s=0.2,
        log_coalesce_s=0.05,
        warmup_windows=10,
    )
    return MonitorApp(settings, FeatureStore(settings.db_path))


def synthetic_windows(start: float, count: int, spike_from: int) -> list[ClosedWindow]:
    rng = random.Random(11)
    windows = []
    for index in range(count):
        latency = rng.gauss(20.0, 2.0) if index < spike_from else 900.0
        features = {"http.synthetic.latency_ms.mean": latency, "http.synthetic.up.mean": 1.0}
        windows.append(ClosedWindow("http.synthetic", start + index, start + index + 1, features, []))
    return windows


async def test_ui_shows_charts_table_and_new_event(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    app = make_app(tmp_path, log)

    async with app.run_test(size=(100, 30)) as pilot:
        charts = list(app.query(SeriesChart))
        assert {c.id for c in charts} == {"chart-cpu", "chart-mem", "chart-logs", "chart-score"}
        table = app.query_one("#events", DataTable)
        assert table.row_count == 0

        with log.open("a") as f:
            f.write("INFO hello\nERROR boom\n")
        await pilot.pause(2.5)
        assert "log.app" in str(app.query_one("#sources", SourcesBar).render())
        assert app.query_one("#chart-cpu", SeriesChart).redraws >= 1

        app.engine.process_windows(synthetic_windows(time.time() + 5, 40, spike_from=37))
        await pilot.pause()
        assert table.row_count == 1
        row = table.get_row_at(0)
        assert row[1] == "http.synthetic"
        assert "http.synthetic.latency_ms.mean" in str(row[7])

        await pilot.press("q")

    assert app.return_code == 0
    store = FeatureStore(tmp_path / "monitor.db", readonly=True)
    assert store.integrity_check() == "ok"
    [event] = store.events_since(0.0)
    assert event.stream == "http.synthetic"
    assert sum(w.features["log.app.lines"] for w in store.windows_since("log.app", 0.0)) == 2
    store.close()
    app.store.close()


async def test_help_opens_and_closes(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        first = app.screen
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("question_mark")
        assert app.screen is first  # one instance, not a new screen per press
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")

    app.store.close()


def _footer_keys() -> int:
    gc.collect()
    # type() rather than isinstance(): some tracked objects (shap's stand-ins for
    # missing optional modules) raise on any attribute access, __class__ included.
    return sum(1 for obj in gc.get_objects() if issubclass(type(obj), FooterKey))


async def test_help_presses_leave_no_footer_keys(tmp_path: Path) -> None:
    # Textual's own Footer kept every key it replaced, about 0.33 MB per press.
    app = make_app(tmp_path)

    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = _footer_keys()
        for _ in range(10):
            await pilot.press("question_mark")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
        after = _footer_keys()
        keys_shown = len(app.screen.query(FooterKey))
        await pilot.press("q")

    app.store.close()
    assert keys_shown > 0
    assert after <= before


async def test_ui_fits_80_by_24_and_resizes(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#events", DataTable)
        assert table.region.height >= 3
        assert all(c.region.height >= 5 for c in app.query(SeriesChart))
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert table.region.width == 120
        await pilot.press("q")

    app.store.close()


async def test_table_cursor_follows_event_on_refresh(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#events", DataTable)
        start = time.time() + 5
        app.engine.process_windows(synthetic_windows(start, 40, spike_from=37))
        app.engine.process_windows(synthetic_windows(start + 40, 40, spike_from=40))
        app.engine.process_windows(synthetic_windows(start + 80, 40, spike_from=37))
        await pilot.pause()
        rows_before = table.row_count
        assert rows_before >= 2
        table.focus()
        await pilot.press("down")
        chosen = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

        app.engine.process_windows(synthetic_windows(start + 120, 40, spike_from=40))
        app.engine.process_windows(synthetic_windows(start + 160, 40, spike_from=37))
        await pilot.pause()

        assert table.row_count >= rows_before
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == chosen
        await pilot.press("q")

    app.store.close()


async def test_suppressed_event_is_marked_and_notifications_open(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "quiet.yaml").write_text(
        "rules:\n  - name: synthetic noise\n    match:\n      stream: http.synthetic\n    suppress: true\n"
    )
    app = make_app(tmp_path)

    async with app.run_test(size=(100, 30)) as pilot:
        app.engine.process_windows(synthetic_windows(time.time() + 5, 40, spike_from=37))
        await pilot.pause()
        table = app.query_one("#events", DataTable)
        assert table.row_count == 1
        assert "suppressed by rule 'synthetic noise'" in str(table.get_row_at(0)[4])

        await pilot.press("N")
        assert isinstance(app.screen, NotificationsScreen)
        await pilot.press("escape")
        await pilot.press("q")

    app.store.close()


async def test_ui_80_by_24_with_targets(tmp_path: Path, refused_url: str) -> None:
    app = make_app(tmp_path)
    app.settings.endpoints = [parse_endpoint(f"api={refused_url}"), parse_endpoint(f"web={refused_url}")]

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is app.query_one("#events", DataTable)
        assert app.query_one("#events", DataTable).region.height >= 3
        assert all(chart.region.height >= 5 for chart in app.query(SeriesChart))
        await pilot.press("q")

    app.store.close()
