"""The event detail screen: why an anomaly was raised and what happened around it.

It shows the SHAP attributions as a signed bar chart, each top feature's
value beside its usual range, small charts of the top features around the
event and the log records of the event's windows. It only reads the store;
the engine computes explanations in a worker and the app forwards them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from tui_monitor.explain import Explanation, format_range, format_value, reasons
from tui_monitor.store import EventRecord, FeatureStore

__all__ = ["AttributionBars", "DetailScreen"]

# How many attributions the bar chart and the usual-range table show.
TOP_ATTRIBUTIONS = 10
# How many top features get a chart, and how many windows before and after the event they span.
CHARTED_FEATURES = 3
CHART_WINDOWS_BEFORE = 30
CHART_WINDOWS_AFTER = 10
# Log records shown from the event's windows and the ones just before them.
LOG_WINDOWS_BEFORE = 2

# Columns of an attribution's number: sign, two significant digits and an exponent, e.g. -4.8e-06.
SHAP_VALUE_WIDTH = 8

NO_LOG_RECORDS_NOTE = (
    "No log lines are stored around this event, so each log stream's line and "
    "level counts per window are shown instead."
)


def format_shap(value: float) -> str:
    """Format an attribution in at most ``SHAP_VALUE_WIDTH`` characters, keeping small values readable.

    Magnitudes of 1e100 or more, far beyond any SHAP value of our models, take one more.

    >>> [format_shap(v) for v in (0.41, -0.0231, 3.2e-05, -4.75e-06, 12345.0, 0.0)]
    ['+0.41', '-0.0231', '+3.2e-05', '-4.8e-06', '+1.2e+04', '0']
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 0.01 <= abs(value) < 1000:
        return f"{value:+.3g}"
    return f"{value:+.1e}"


class AttributionBars(Static):
    """A signed bar chart of SHAP attributions, largest absolute value first.

    Bars to the right of the axis (red) pushed the window towards anomalous,
    bars to the left (blue) pulled it towards normal. The widget is exactly
    as wide as its lines, so each feature's bar and number stay on one line.
    """

    DEFAULT_CSS = """
    AttributionBars {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, bar_width: int = 6, name_width: int = 22, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bar_width = bar_width
        self.name_width = name_width
        self.rows: list[tuple[str, float]] = []
        self.prefix = ""
        # Name, space, two bars around the axis, space, number, and the padding of 1 on each side.
        self.styles.width = name_width + 1 + 2 * bar_width + 1 + 1 + SHAP_VALUE_WIDTH + 2

    def show(self, rows: list[tuple[str, float]], *, prefix: str = "") -> None:
        """Draw ``(feature, attribution)`` rows in the order given, with ``prefix`` left out of the labels."""
        self.rows = rows
        self.prefix = prefix
        self.update(self.render_text())

    def render_text(self) -> Text:
        """Return the chart as Rich text, one line per feature."""
        if not self.rows:
            return Text("no attributions", style="dim")
        largest = max(abs(value) for _, value in self.rows) or 1.0
        text = Text()
        for name, value in self.rows:
            cells = 0
            if math.isfinite(value) and value != 0:
                cells = max(1, round(abs(value) / largest * self.bar_width))
            label = name.removeprefix(self.prefix)
            if len(label) > self.name_width:
                label = "…" + label[-(self.name_width - 1) :]
            text.append(f"{label:>{self.name_width}} ")
            if value < 0:
                text.append(" " * (self.bar_width - cells) + "█" * cells, style="blue")
                text.append("│" + " " * self.bar_width)
            else:
                text.append(" " * self.bar_width + "│")
                text.append("█" * cells + " " * (self.bar_width - cells), style="red")
            text.append(f" {format_shap(value)}\n")
        text.rstrip()
        return text


class DetailScreen(Screen[int]):
    """The explanation, usual ranges, feature charts and log records of one event.

    Args:
        store: the feature store to read from (on the event loop).
        events: the app's events by id.
        order: event ids in the anomaly table's order (newest first).
        index: the position in ``order`` of the event to show first.
        window_s: the window length in seconds.
        errors: why an event has no explanation, by event id.
        pending: ids of events whose explanation the engine is computing.

    Dismissed with the id of the event shown last, so the table can follow.
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "next_event", "Next event"),
        Binding("p", "previous_event", "Previous event"),
    ]
    DEFAULT_CSS = """
    #detail-title {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    #detail-top {
        height: auto;
    }
    #usual {
        width: 1fr;
        height: auto;
        max-height: 12;
    }
    #feature-charts {
        grid-size: 3 1;
        height: 10;
    }
    #logs-note {
        height: auto;
        padding: 0 1;
        color: $warning;
    }
    #logs {
        height: auto;
        max-height: 12;
    }
    """

    def __init__(
        self,
        store: FeatureStore,
        events: dict[int, EventRecord],
        order: list[int],
        index: int,
        *,
        window_s: float,
        errors: dict[int, str] | None = None,
        pending: set[int] | None = None,
        template_of: Callable[[str, int], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        # (stream, template id) -> the template's current text from the engine's miner, or None.
        self.template_of = template_of
        self.events = events
        self.order = order
        self.index = index
        self.window_s = window_s
        self.errors = errors if errors is not None else {}
        self.pending = pending if pending is not None else set()
        self.explanation: Explanation | None = None

    @property
    def event_id(self) -> int:
        """The id of the event on show."""
        return self.order[self.index]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="detail-title")
            with Horizontal(id="detail-top"):
                yield AttributionBars(id="attributions")
                yield DataTable(id="usual", cursor_type="row", zebra_stripes=True)
            with Grid(id="feature-charts"):
                for position in range(CHARTED_FEATURES):
                    yield PlotextPlot(id=f"feature-chart-{position}")
            yield Static(id="logs-note")
            yield DataTable(id="logs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        usual = self.query_one("#usual", DataTable)
        for label in ("feature", "value", "median", "p5-p95"):
            usual.add_column(label, key=label)
        self.load_event()

    # -- loading ------------------------------------------------------------------

    def load_event(self) -> None:
        """Read the shown event's explanation and surroundings from the store and redraw."""
        event = self.events[self.event_id]
        row = self.store.explanation_row(self.event_id)
        self.explanation = Explanation.from_row(row) if row is not None else None
        self._show_title(event)
        self._show_attributions()
        self._show_charts(event)
        self._show_logs(event)

    def explanation_arrived(self, event_id: int) -> None:
        """Redraw when the explanation of the shown event has just been stored."""
        if event_id == self.event_id:
            self.load_event()

    def _show_title(self, event: EventRecord) -> None:
        started = datetime.fromtimestamp(event.window_start).strftime("%Y-%m-%d %H:%M:%S")
        title = Text()
        title.append(f"{event.stream}", style="bold")
        title.append(
            f"  {started}  score {event.score:.3f}  {event.severity}  {event.kind}  {event.state}"
            f"  ({self.index + 1}/{len(self.order)})\n"
        )
        if self.explanation is not None:
            method = self.explanation.method
            title.append(f"why ({method} SHAP, {self.explanation.history_windows} normal windows): ", style="bold")
            title.append("; ".join(reasons(self.explanation)))
        elif self.event_id in self.errors:
            title.append(f"not explained: {self.errors[self.event_id]}", style="yellow")
        elif self.event_id in self.pending:
            title.append("explanation pending…", style="dim")
        else:
            title.append("no explanation stored for this event", style="dim")
        for feature in event.top_features:
            if isinstance(feature.get("template"), str):  # a "new template" event lists each template
                title.append(f"\nnew template {feature['name'].rsplit('.', 1)[-1]}: {feature['template']}")
        self.query_one("#detail-title", Static).update(title)

    def _show_attributions(self) -> None:
        bars = self.query_one("#attributions", AttributionBars)
        usual = self.query_one("#usual", DataTable)
        usual.clear()
        if self.explanation is None:
            bars.show([])
            return
        top = self.explanation.attributions[:TOP_ATTRIBUTIONS]
        bars.show([(a.name, a.shap) for a in top], prefix=self.explanation.stream + ".")
        for attribution in top:
            range_text = format_range(attribution.usual) if attribution.usual.count else "no history"
            is_unusual = math.isfinite(attribution.value) and not attribution.usual.contains(attribution.value)
            style = "bold red" if is_unusual else ""
            usual.add_row(
                attribution.name,
                Text(format_value(attribution.value), style=style),
                format_value(attribution.usual.median),
                range_text,
                key=attribution.name,
            )

    def _charted_features(self, event: EventRecord) -> list[str]:
        if self.explanation is not None:
            return [a.name for a in self.explanation.attributions[:CHARTED_FEATURES]]
        return [f["name"] for f in event.top_features[:CHARTED_FEATURES]]

    def _show_charts(self, event: EventRecord) -> None:
        start = event.window_start - CHART_WINDOWS_BEFORE * self.window_s
        end = event.window_end + CHART_WINDOWS_AFTER * self.window_s
        windows = self.store.windows_between(event.stream, start, end)
        names = self._charted_features(event)
        for position in range(CHARTED_FEATURES):
            plot = self.query_one(f"#feature-chart-{position}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.clear_figure()
            plot.display = position < len(names)
            if position < len(names):
                name = names[position]
                points = [((w.start - event.window_start) / 60.0, w.features[name]) for w in windows if name in w.features]
                plt.title(name)
                plt.xlabel("minutes from event")
                if points:
                    xs, ys = zip(*points, strict=True)
                    plt.plot(list(xs), list(ys), marker="braille")
                plt.vertical_line(0.0, color="red")
            plot.refresh()

    def _show_logs(self, event: EventRecord) -> None:
        start = event.window_start - LOG_WINDOWS_BEFORE * self.window_s
        end = event.window_end
        table = self.query_one("#logs", DataTable)
        table.clear(columns=True)
        note = self.query_one("#logs-note", Static)
        records = self.store.log_records_between(start, end)
        if records:
            note.update(f"{len(records)} log lines around the event, errors first")
            for record in records:
                template_id = record.pop("template_id")
                if self.template_of is not None and template_id is not None:
                    record["template"] = self.template_of(record["stream"], template_id) or record["template"]
            columns = list(records[0]) if records else ["ts"]
            for column in columns:
                table.add_column(column, key=column)
            for record in records:
                table.add_row(*(_cell(column, record[column]) for column in columns))
            return

        note.update(NO_LOG_RECORDS_NOTE)
        counts = ("lines", "level_error", "level_warn", "level_info", "level_debug")
        table.add_column("window", key="window")
        table.add_column("stream", key="stream")
        for name in counts:
            table.add_column(name.removeprefix("level_"), key=name)
        for stream in self.store.streams("log."):
            for window in self.store.windows_between(stream, start, end):
                started = datetime.fromtimestamp(window.start).strftime("%H:%M:%S")
                values = [format_value(window.features.get(f"{stream}.{name}", math.nan)) for name in counts]
                table.add_row(started, stream, *values)
        if table.row_count == 0:
            note.update(NO_LOG_RECORDS_NOTE + " No log stream has windows around this event.")

    # -- actions ------------------------------------------------------------------

    def action_next_event(self) -> None:
        """Show the next event of the anomaly table (the older one)."""
        self._move(+1)

    def action_previous_event(self) -> None:
        """Show the previous event of the anomaly table (the newer one)."""
        self._move(-1)

    def _move(self, step: int) -> None:
        index = self.index + step
        if not 0 <= index < len(self.order):
            self.notify("no more events in this direction", timeout=2)
            return
        self.index = index
        self.load_event()

    def action_back(self) -> None:
        """Return to the anomaly table, on the event shown last."""
        self.dismiss(self.event_id)


def _cell(column: str, value: object) -> str:
    if column == "ts" and isinstance(value, int | float):
        return datetime.fromtimestamp(value).strftime("%H:%M:%S.%f")[:-3]
    return str(value)
