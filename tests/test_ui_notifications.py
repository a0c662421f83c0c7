"""The notification history screen: rows from the store, rules state, no secrets on screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _receiver import TOP, Receiver
from textual.app import App
from textual.widgets import DataTable, Static

from tui_monitor.alerts import Notifier, targets_from
from tui_monitor.rules import RuleEvaluator, RuleSet, RulesState
from tui_monitor.store import EventRecord, FeatureStore, save_notifications
from tui_monitor.ui.notifications import NotificationsScreen

SECRETS = ["Passw0rdSecret", "Tok3nPathSecret99", "HeaderSecret123"]


class _HistoryApp(App[None]):
    def __init__(self, screen: NotificationsScreen) -> None:
        super().__init__()
        self._history = screen

    def on_mount(self) -> None:
        self.push_screen(self._history)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeatureStore]:
    receiver = Receiver()
    receiver.statuses = [500]
    port = receiver.server_address[1]
    url = f"json://alice:{SECRETS[0]}@127.0.0.1:{port}/hooks/{SECRETS[1]}?+X-Api-Key={SECRETS[2]}"
    notifier = Notifier(targets_from([url]), backoff_s=0.05)
    record = EventRecord("host", 1_780_000_000.0, 1_780_000_010.0, 0.996, 0.9, "major", top_features=list(TOP))
    outcome = RuleEvaluator(RuleSet()).evaluate(record, "opened", record.window_end)
    notifier.on_event(record, outcome, record.window_end)
    assert notifier.sender.wait_idle(10.0)
    notifier.close()
    feature_store = FeatureStore(tmp_path / "m.db")
    save_notifications(feature_store, notifier.drain())
    receiver.stop()
    yield feature_store
    feature_store.close()


async def test_history_lists_attempts(store: FeatureStore) -> None:
    screen = NotificationsScreen(store, RulesState("broken", "1 error(s), keeping the last good rules"), since_s=10 * 365 * 86400.0)
    app = _HistoryApp(screen)
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        table = screen.query_one("#notifications", DataTable)
        outcomes = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        state = str(screen.query_one("#rules-state", Static).render())
        assert outcomes == ["sent", "failed (retried)"]
        assert "broken" in state
        assert "keeping the last good rules" in state


async def test_history_shows_no_secret(store: FeatureStore) -> None:
    screen = NotificationsScreen(store, since_s=10 * 365 * 86400.0)
    app = _HistoryApp(screen)
    async with app.run_test(size=(200, 20)) as pilot:
        await pilot.pause()
        table = screen.query_one("#notifications", DataTable)
        cells = " ".join(str(cell) for i in range(table.row_count) for cell in table.get_row_at(i))
        rendered = app.export_screenshot()
        assert "alice:****@127.0.0.1" in cells
        for secret in SECRETS:
            assert secret not in cells
            assert secret not in rendered
