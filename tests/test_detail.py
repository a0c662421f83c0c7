"""The event detail screen, opened from the anomaly table with Enter."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from textual.pilot import Pilot
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from tui_monitor.detectors.novelty import NewTemplateEvents
from tui_monitor.engine import EventChanged, ExplanationReady
from tui_monitor.explain import Attribution, Explanation, ExplanationRequest, UsualRange, compute_explanation
from tui_monitor.settings import Settings
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord
from tui_monitor.ui import MonitorApp
from tui_monitor.ui.detail import NO_LOG_RECORDS_NOTE, AttributionBars, DetailScreen

WINDOW_S = 10.0
NAMES = ["host.cpu.total_pct.mean", "host.mem.used_pct.mean", "host.load.1m.mean", "host.net.rx_bytes_s.mean"]
# Event window index, planted feature.
EVENTS = [(40, "host.cpu.total_pct.mean"), (50, "host.mem.used_pct.mean"), (55, "host.load.1m.mean")]


def seed_store(path: Path) -> tuple[FeatureStore, list[int]]:
    """Write an hour of host and log windows with three events; explain the first two."""
    store = FeatureStore(path)
    rng = np.random.default_rng(3)
    t0 = (time.time() // WINDOW_S) * WINDOW_S - 3600
    usual = np.array([5.0, 40.0, 0.5, 1000.0])
    spread = np.array([1.0, 0.5, 0.05, 50.0])
    rows = rng.normal(usual, spread, size=(60, 4))
    for index, name in EVENTS:
        rows[index, NAMES.index(name)] += 40 * spread[NAMES.index(name)]

    windows = []
    for i, row in enumerate(rows):
        start = t0 + i * WINDOW_S
        windows.append(WindowRecord("host", start, start + WINDOW_S, dict(zip(NAMES, row, strict=True)), is_warmup=False))
        counts = {"log.app.lines": 20.0 + i % 3, "log.app.level_error": float(i in (40, 41)), "log.app.level_info": 20.0}
        windows.append(WindowRecord("log.app", start, start + WINDOW_S, counts, is_warmup=False))
    store.write_window_batch([], windows)

    forest = IsolationForest(n_estimators=50, random_state=0).fit(np.delete(rows, [i for i, _ in EVENTS], axis=0))
    ids = []
    for position, (index, name) in enumerate(EVENTS):
        start = t0 + index * WINDOW_S
        event = EventRecord("host", start, start + WINDOW_S, 0.99, 0.9, "major", top_features=[{"name": name}])
        event_id = store.save_event(event)
        ids.append(event_id)
        if position == len(EVENTS) - 1:
            continue  # the newest event stays unexplained
        request = ExplanationRequest(
            event_id=event_id, stream="host", window_start=start, features=dict(zip(NAMES, rows[index], strict=True)),
            db_path=path, forest=forest, forest_features=tuple(NAMES),
        )  # fmt: skip
        store.save_explanation(compute_explanation(request).to_row())
    return store, ids


def static_text(screen: DetailScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_detail(app: MonitorApp, pilot: Pilot[None], row: int) -> DetailScreen:
    """Press Enter on ``row`` of the anomaly table and return the detail screen."""
    table = app.query_one("#events", DataTable)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


@pytest.mark.slow
async def test_detail_opens_from_table_and_pages(tmp_path: Path) -> None:
    store, ids = seed_store(tmp_path / "monitor.db")
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#events", DataTable)
        assert table.row_count == 3
        screen = await open_detail(app, pilot, row=1)  # newest first, so row 1 is EVENTS[1]
        assert screen.event_id == ids[1]
        bars = screen.query_one(AttributionBars)
        assert bars.rows[0][0] == "host.mem.used_pct.mean"
        assert bars.rows[0][1] > 0
        assert "█" in str(bars.render())
        usual = screen.query_one("#usual", DataTable)
        assert usual.row_count == len(NAMES)
        assert str(usual.get_row_at(0)[0]) == "host.mem.used_pct.mean"
        assert "host.mem.used_pct.mean = 60.1 (usual 40.1, 39.3-41.0)" in static_text(screen, "#detail-title")
        logs = screen.query_one("#logs", DataTable)
        assert logs.row_count == 3  # two windows before the event and the event's own
        assert static_text(screen, "#logs-note").startswith("No log lines are stored")

        await pilot.press("n")
        await pilot.pause()
        assert screen.event_id == ids[0]
        assert bars.rows[0][0] == "host.cpu.total_pct.mean"
        assert "host.cpu.total_pct.mean = " in static_text(screen, "#detail-title")
        assert logs.get_row_at(2)[3] == "1.0"  # the error line of window 40

        await pilot.press("p", "p")
        await pilot.pause()
        assert screen.event_id == ids[2]
        assert "no explanation stored" in static_text(screen, "#detail-title")
        assert bars.rows == []

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
        assert table.cursor_row == 0
        await app.action_quit()


@pytest.mark.slow
async def test_detail_stops_at_last_event(tmp_path: Path) -> None:
    store, ids = seed_store(tmp_path / "monitor.db")
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_detail(app, pilot, row=2)
        assert screen.event_id == ids[0]
        await pilot.press("n")
        await pilot.pause()
        assert screen.event_id == ids[0]
        await app.action_quit()


@pytest.mark.slow
async def test_detail_redraws_when_explanation_arrives(tmp_path: Path) -> None:
    store, ids = seed_store(tmp_path / "monitor.db")
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one("#events", DataTable)
        screen = await open_detail(app, pilot, row=0)  # the newest event, not explained yet
        assert screen.event_id == ids[2]
        screen.pending.add(ids[2])
        screen.load_event()
        assert "explanation pending" in static_text(screen, "#detail-title")

        event = app.events[ids[2]]
        stored = Explanation.from_row(store.explanation_row(ids[0]) or {})
        stored.event_id = ids[2]
        store.save_explanation(stored.to_row())
        app.on_engine_update(ExplanationReady(event, stored))
        await pilot.pause()
        assert "why (tree SHAP" in static_text(screen, "#detail-title")
        assert screen.query_one(AttributionBars).rows[0][0] == "host.cpu.total_pct.mean"
        features_column = table.get_column_index("features")
        assert str(table.get_row(str(ids[2]))[features_column]).startswith("host.cpu.total_pct.mean")
        await app.action_quit()


@pytest.mark.slow
async def test_detail_shows_why_not_explained(tmp_path: Path) -> None:
    store, ids = seed_store(tmp_path / "monitor.db")
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        app.on_engine_update(ExplanationReady(app.events[ids[2]], None, "too little history"))
        screen = await open_detail(app, pilot, row=0)
        assert "not explained: too little history" in static_text(screen, "#detail-title")
        await app.action_quit()


# Attributions over five orders of magnitude, zero included, with the number
# each row must end in.
SMALL_SHAP = [
    ("host.cpu.total_pct.mean", 0.41, "+0.41"),
    ("host.mem.used_pct.mean", -0.0231, "-0.0231"),
    ("host.load.1m.mean", 3.2e-05, "+3.2e-05"),
    ("host.net.rx_bytes_s.mean", -4.75e-06, "-4.8e-06"),
    ("host.disk.read_bytes_s.mean", 0.0, "0"),
]


@pytest.mark.slow
async def test_detail_small_shap_one_line_at_80_columns(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "monitor.db")
    start = (time.time() // WINDOW_S) * WINDOW_S - 600
    event_id = store.save_event(EventRecord("host", start, start + WINDOW_S, 0.99, 0.9, "major", top_features=[{"name": NAMES[0]}]))
    usual = UsualRange(median=1.0, p5=0.5, p95=1.5, count=30)
    attributions = [Attribution(name, 1.0, shap, usual) for name, shap, _ in SMALL_SHAP]
    store.save_explanation(Explanation(event_id, "host", "tree", "v1", 0.0, 0.39, attributions).to_row())
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, row=0)
        await pilot.pause()
        bars = screen.query_one(AttributionBars)
        lines = [bars.render_line(y).text.rstrip() for y in range(bars.size.height)]
        usual_table = screen.query_one("#usual", DataTable)
        await app.action_quit()

    assert len(lines) == len(SMALL_SHAP)
    for line, (name, _, number) in zip(lines, SMALL_SHAP, strict=True):
        assert line.endswith(f" {number}")
        assert name.removeprefix("host.")[-12:] in line
        assert "│" in line
    assert bars.region.right <= usual_table.region.x  # side by side, nothing pushed below


def test_log_note_names_the_fallback() -> None:
    assert "counts per window are shown instead" in NO_LOG_RECORDS_NOTE


async def test_detail_shows_stored_log_lines_errors_first(tmp_path: Path) -> None:
    store, ids = seed_store(tmp_path / "monitor.db")
    event = store.events_since(0.0)[-1]  # the oldest: window 40
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        # After start-up: the engine discards lines stored after its last
        # read-position checkpoint when it starts.
        await pilot.pause(0.5)
        # Lines as the engine stores them: with the level and template its pipeline found.
        tags = app.engine.log_pipelines.tag("log.app", ["ERROR database timed out", "INFO request served"])
        store.insert_log_lines(
            [
                ("log.app", event.window_start + 1, "INFO request served", tags.template_ids[1], tags.levels[1]),
                ("log.app", event.window_start + 2, "ERROR database timed out", tags.template_ids[0], tags.levels[0]),
            ]
        )
        screen = await open_detail(app, pilot, row=2)
        assert screen.event_id == ids[0]
        logs = screen.query_one("#logs", DataTable)
        assert logs.row_count == 2
        assert "ERROR database timed out" in str(logs.get_row_at(0))
        assert "database timed out" in str(logs.get_cell_at(Coordinate(0, logs.get_column_index("template"))))
        assert static_text(screen, "#logs-note").startswith("2 log lines around the event")
        await app.action_quit()


@pytest.mark.slow
async def test_detail_lists_new_templates(tmp_path: Path) -> None:
    store, _ = seed_store(tmp_path / "monitor.db")
    start = max(w.start for w in store.windows_since("log.app", 0.0))
    event = NewTemplateEvents().process("log.app", start, start + WINDOW_S, [(12, "volume <*> is read-only", 1)])
    assert event is not None
    app = MonitorApp(Settings(db_path=store.path, window_s=WINDOW_S), store)
    async with app.run_test(size=(100, 30)) as pilot:
        store.save_event(event[0])
        app.engine._publish(EventChanged(event[0], "opened"))
        await pilot.pause()
        screen = await open_detail(app, pilot, row=0)
        title = static_text(screen, "#detail-title")
        # No model scored the event, so nothing is pending; the template is named instead.
        assert "not explained: new log templates" in title
        assert "new template t12: volume <*> is read-only" in title
        await app.action_quit()
