"""The help screen: what the UI shows and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

__all__ = ["HelpScreen"]

HELP_TEXT = """\
# tui-monitor

Each stream (the host, each log file, each endpoint) becomes one feature
vector per window. A detector learns each stream during its warm-up
(**learning**), then scores every window from 0 to 1. A window scoring above
the threshold, with a feature far from its usual value, is *hot*; enough hot
windows in a row open an **anomaly**.

| key | action |
|-----|--------|
| `?` | show or close this help |
| `q` | quit, with everything written to the database |
| `tab` | move focus between the table and other widgets |
| `↑` `↓` | move in the anomaly table |
| `h` | history: anomalies per hour or day, filtered events, any stored feature |
| `l` | log pane: recent lines of a log stream by level, with their templates |
| `N` | notifications sent, their outcomes, and the state of the rules |
| `a` | record an annotation (e.g. "deployed v1.4") that charts and reports show |
| `enter` | open the chosen anomaly: why it was raised, its features and logs |
| `n` `p` | in an anomaly's page: the next (older) or previous (newer) anomaly |
| `escape` | close this help, or go back from an anomaly's page |
| `t` `f` `i` | label the selected anomaly: true anomaly, false positive, needs investigation |
| `u` | undo your last label |
| `n` | next unlabelled anomaly in labelling order (the "queue" column; 1 teaches the models most) |
| `s` | from a false positive: propose a suppression rule to edit and save (ctrl+s) |
| `m` | model versions: `p` promotes, `r` rolls back |

In the history screen: `1` to `5` pick the last 1 h, 6 h, 24 h, 7 d or
30 d; `b` switches hours and days; `r` and `m` write an HTML or Markdown
report next to the database; `escape` or `h` goes back.

In the log pane: `[` and `]` switch log streams; type in the filter box to
keep lines containing that text (`enter` returns to the lines); `e` shows
errors only, `w` warnings and errors, `a` every line; `r` reads the lines
again (they also refresh every 2 s); `escape` or `l` goes back.

An anomaly's page shows SHAP attributions: how much each feature pushed the
detector's score towards anomalous (red, right) or normal (blue, left),
beside the feature's usual range over recent normal windows (median and
5th-95th percentile).
"""


class HelpScreen(ModalScreen[None]):
    """A modal page with the key table."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss_help", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 80%;
        max-width: 90;
        height: 80%;
        border: round $accent;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP_TEXT)

    def action_dismiss_help(self) -> None:
        """Close the help screen."""
        self.dismiss()
