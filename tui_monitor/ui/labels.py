"""Screens of the feedback layer: the suppression-rule editor and the model registry."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static, TextArea

from tui_monitor.errors import RuleError, StoreError
from tui_monitor.feedback import list_versions, promote, rollback, save_rule

__all__ = ["ModelsScreen", "RuleScreen"]


class RuleScreen(ModalScreen[Path | None]):
    """Edit a proposed suppression rule; ctrl+s saves it to the rules folder, escape cancels.

    Dismisses with the written file, or None when cancelled.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    RuleScreen { align: center middle; }
    RuleScreen > Vertical {
        width: 90%; max-width: 90; height: auto; max-height: 90%; padding: 0 1;
        border: round $accent; background: $surface;
    }
    RuleScreen TextArea { height: 10; }
    RuleScreen #rule-error { color: $error; height: auto; }
    RuleScreen Horizontal { height: auto; }
    """

    def __init__(self, text: str, rules_dir: Path) -> None:
        super().__init__()
        self.text = text
        self.rules_dir = rules_dir

    def compose(self) -> ComposeResult:
        with Vertical():
            # The keys come first: a long rules folder path must not push them out of a narrow screen.
            yield Label("Suppression rule (ctrl+s saves, escape cancels)")
            yield Label(f"saved to {self.rules_dir}", id="rule-folder")
            yield TextArea(self.text, language=None, id="rule-text")
            yield Static("", id="rule-error")
            with Horizontal():
                yield Button("Save", id="rule-save", variant="primary")
                yield Button("Cancel", id="rule-cancel")

    @on(Button.Pressed, "#rule-save")
    def action_save(self) -> None:
        """Validate and write the rule; show the error and stay open when it is invalid."""
        text = self.query_one("#rule-text", TextArea).text
        try:
            path = save_rule(self.rules_dir, text)
        except RuleError as exc:
            self.query_one("#rule-error", Static).update(str(exc))
            return
        self.dismiss(path)

    @on(Button.Pressed, "#rule-cancel")
    def action_cancel(self) -> None:
        """Close without writing anything."""
        self.dismiss(None)


class ModelsScreen(ModalScreen[bool]):
    """The model registry: every version with its status and metrics.

    ``p`` promotes the selected version, ``r`` rolls its stream and kind back
    to the version promoted before. Dismisses with True when something changed.
    """

    BINDINGS = [
        Binding("escape,m", "close", "Close"),
        Binding("p", "promote", "Promote"),
        Binding("r", "rollback", "Roll back"),
    ]
    DEFAULT_CSS = """
    ModelsScreen { align: center middle; }
    ModelsScreen > Vertical {
        width: 95%; height: 80%; border: round $accent; background: $surface;
    }
    ModelsScreen DataTable { height: 1fr; }
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.conn = conn
        self.is_changed = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Models: p promotes the selected version, r rolls back its stream, escape closes")
            yield DataTable(id="models", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#models", DataTable)
        for column in ("id", "stream", "kind", "status", "trigger", "trained", "windows", "precision", "recall", "AP", "reason"):
            table.add_column(column, key=column)
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#models", DataTable)
        table.clear()
        for version in list_versions(self.conn):
            metrics = version.metrics.get("candidate", {})
            table.add_row(
                str(version.id), version.stream, version.kind, version.status, version.trigger,
                datetime.fromtimestamp(version.created_at).strftime("%m-%d %H:%M"), str(version.n_windows),
                _metric(metrics.get("precision")), _metric(metrics.get("recall")), _metric(metrics.get("average_precision")),
                version.reason, key=str(version.id),
            )  # fmt: skip

    def _selected(self) -> int | None:
        table = self.query_one("#models", DataTable)
        if table.row_count == 0:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or 0)

    def action_promote(self) -> None:
        """Promote the selected version."""
        model_id = self._selected()
        if model_id is None:
            return
        try:
            version = promote(self.conn, model_id)
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.is_changed = True
        self.notify(f"{version.kind} model {version.id} of {version.stream} promoted")
        self._fill()

    def action_rollback(self) -> None:
        """Roll the selected version's stream and kind back to the previously promoted version."""
        model_id = self._selected()
        if model_id is None:
            return
        version = next(v for v in list_versions(self.conn) if v.id == model_id)
        try:
            restored = rollback(self.conn, version.stream, version.kind)
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.is_changed = True
        self.notify(f"{restored.kind} model of {restored.stream} rolled back to {restored.id}")
        self._fill()

    def action_close(self) -> None:
        """Close the screen."""
        self.dismiss(self.is_changed)


def _metric(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{float(value):.2f}"
