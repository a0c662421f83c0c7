"""A screen with the notification history and the state of the rules.

Targets appear masked: the store only ever holds masked URLs. The screen
reads the store when it opens and when the user presses ``r``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui_monitor.store import notifications_since

if TYPE_CHECKING:
    from tui_monitor.rules import RulesState
    from tui_monitor.store import FeatureStore

__all__ = ["NotificationsScreen"]

_OUTCOME_STYLE = {"sent": "green", "failed": "bold red", "timeout": "bold red", "dropped": "yellow", "abandoned": "yellow"}
_RULES_STYLE = {"ok": "green", "none": "dim", "broken": "bold red"}


class NotificationsScreen(Screen[None]):
    """Notification attempts of the last ``since_s`` seconds, newest first, and the rules state.

    | key | action |
    | --- | --- |
    | r | reload from the store |
    | escape, q | close |
    """

    BINDINGS = [
        Binding("r", "reload", "Reload"),
        Binding("escape,q", "close", "Close"),
    ]
    DEFAULT_CSS = """
    NotificationsScreen #rules-state {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    NotificationsScreen DataTable {
        height: 1fr;
    }
    """

    def __init__(self, store: FeatureStore, rules_state: RulesState | None = None, *, since_s: float = 86400.0) -> None:
        super().__init__()
        self.store = store
        self.rules_state = rules_state
        self.since_s = since_s

    def compose(self) -> ComposeResult:
        yield Static(self._rules_text(), id="rules-state")
        yield DataTable(id="notifications", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#notifications", DataTable)
        for label in ("time", "kind", "outcome", "try", "target", "title", "detail"):
            table.add_column(label, key=label)
        self.action_reload()

    def _rules_text(self) -> Text:
        state = self.rules_state
        if state is None:
            return Text("rules: not loaded")
        text = Text("rules: ")
        text.append(state.status, style=_RULES_STYLE.get(state.status, ""))
        text.append(f" {state.detail}")
        return text

    def action_reload(self) -> None:
        """Read the notification attempts from the store again."""
        table = self.query_one("#notifications", DataTable)
        table.clear()
        rows = notifications_since(self.store, time.time() - self.since_s, limit=500)
        for row in rows:
            style = _OUTCOME_STYLE.get(row["outcome"], "")
            retry_mark = "" if row["is_final"] or row["outcome"] == "sent" else " (retried)"
            # Text cells, not markup: titles such as "[MAJOR] ..." would read as styles.
            table.add_row(
                Text(datetime.fromtimestamp(row["ts"]).strftime("%m-%d %H:%M:%S")),
                Text(row["kind"]),
                Text(row["outcome"] + retry_mark, style=style),
                Text(str(row["attempt"])),
                Text(row["target"]),
                Text(row["title"]),
                Text((row["detail"] or "")[:120]),
                key=str(row["id"]),
            )
        self.query_one("#rules-state", Static).update(self._rules_text())
        self.sub_title = f"{len(rows)} notification attempts"

    def action_close(self) -> None:
        """Close the screen."""
        self.dismiss()
