"""The annotation prompt: one line of text recorded as a marker at the current time."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

__all__ = ["AnnotateScreen"]


class AnnotateScreen(ModalScreen[str | None]):
    """Ask for an annotation's text; dismiss with the text, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AnnotateScreen { align: center middle; }
    AnnotateScreen > Vertical {
        width: 70; height: auto; padding: 1 2;
        border: round $accent; background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Annotation (e.g. deployed v1.4); enter records it, escape cancels:")
            yield Input(placeholder="what happened", id="annotation-text")

    @on(Input.Submitted)
    def _submitted(self, message: Input.Submitted) -> None:
        text = message.value.strip()
        self.dismiss(text or None)

    def action_cancel(self) -> None:
        """Close without recording anything."""
        self.dismiss(None)
