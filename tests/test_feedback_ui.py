"""Labelling keys, the queue, rule proposals and the models screen, driven by Textual's pilot."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from feedback_seed import STREAM, WindowPlan, seed_settings
from textual.coordinate import Coordinate
from textual.widgets import DataTable, TextArea

from tui_monitor.feedback import latest_labels, list_versions
from tui_monitor.store import FeatureStore
from tui_monitor.ui import MonitorApp
from tui_monitor.ui.labels import ModelsScreen, RuleScreen


def make_app(tmp_path: Path) -> MonitorApp:
    settings = seed_settings(tmp_path / "monitor.db", host_interval_s=0.25, rules_dir=tmp_path / "rules")
    return MonitorApp(settings, FeatureStore(settings.db_path))


def selected_id(app: MonitorApp) -> int:
    event = app._selected_event()
    assert event is not None
    assert event.id is not None
    return event.id


async def test_keys_label_undo_walk_queue_and_propose_rule(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        plan = WindowPlan(time.time() + 5)
        app.engine.process_windows(plan.span(0, 200, benign=[50, 90, 130, 170], true=[110]))
        detector_version = app.engine.detector_for(STREAM).model_version
        await pilot.pause()
        table = app.query_one("#events", DataTable)
        assert table.row_count == 5
        table.focus()
        table.move_cursor(row=0)  # the selection follows its event as newer rows arrive above it
        ids = [int(table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value or 0) for row in range(5)]

        await pilot.press("f")
        await pilot.press("down", "t")
        await pilot.press("down", "i")
        await pilot.pause()
        assert table.get_row_at(2)[5] == "investigate"
        await pilot.press("u")
        await pilot.pause()
        assert table.get_row_at(0)[5] == "false_positive"
        assert table.get_row_at(1)[5] == "true_anomaly"
        assert table.get_row_at(2)[5] == ""
        assert len(app.queue) == 3

        assert selected_id(app) == ids[2]  # undo selects the event it unlabelled
        queue = list(app.queue)
        await pilot.press("n")
        assert selected_id(app) == queue[(queue.index(ids[2]) + 1) % 3]
        await pilot.press("n")
        assert selected_id(app) == queue[(queue.index(ids[2]) + 2) % 3]
        rank = table.get_row_at(table.cursor_row)[6]
        assert rank == str(queue.index(selected_id(app)) + 1)

        await pilot.press("s")  # not a false positive: nothing opens
        assert not isinstance(app.screen, RuleScreen)
        table.move_cursor(row=0)
        await pilot.press("s")
        assert isinstance(app.screen, RuleScreen)
        editor = app.screen.query_one("#rule-text", TextArea)
        editor.text = editor.text.replace("suppress-", "nightly-job-")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, RuleScreen)

        await pilot.press("m")
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press("escape")
        await pilot.press("q")

    conn = FeatureStore(tmp_path / "monitor.db", readonly=True)
    labels = latest_labels(conn.db.conn)
    assert {event_id: label.label for event_id, label in labels.items()} == {ids[0]: "false_positive", ids[1]: "true_anomaly"}
    assert all(label.user and label.score > 0.9 and label.model_version.startswith(detector_version) for label in labels.values())
    [rule_file] = (tmp_path / "rules").iterdir()
    rule = yaml.safe_load(rule_file.read_text())["rules"][0]
    assert rule["name"].startswith("nightly-job-")
    assert rule["match"]["stream"] == STREAM
    assert rule["suppress"] is True
    conn.close()
    app.store.close()


async def test_models_screen_promotes_selected_version(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        plan = WindowPlan(time.time() + 5)
        app.engine.process_windows(plan.span(0, 80))
        first, second = app.engine.feedback.retrain_now(STREAM)[0], app.engine.feedback.retrain_now(STREAM)[0]
        await pilot.press("m")
        table = app.screen.query_one("#models", DataTable)
        assert table.row_count == 2
        await pilot.press("down", "p")
        await pilot.press("escape")
        await pilot.pause()
        assert app.engine.feedback.versions_of(STREAM) == [f"iforest#{first.id}"]
        await pilot.press("q")
    statuses = {v.id: v.status for v in list_versions(app.store.db.conn)}
    assert statuses == {first.id: "promoted", second.id: "retired"}
    app.store.close()
