"""The terminal UI: sources and their state, live charts, and the anomaly table.

The app runs the engine on its own event loop and only reads engine state;
every engine update arrives as a small dataclass through ``on_engine_update``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import DataTable, Header, Static

from tui_monitor.engine import (
    DriftDetected,
    Engine,
    EventChanged,
    ExplanationReady,
    LabelChanged,
    ModelChanged,
    ObservationMade,
    SourceChanged,
    Update,
    WindowScored,
)
from tui_monitor.feedback import FALSE_POSITIVE, Label, labelling_order, propose_rule
from tui_monitor.explain import Explanation, reasons
from tui_monitor.detectors.novelty import MODEL_VERSION as NEW_TEMPLATES
from tui_monitor.settings import Settings
from tui_monitor.errors import StoreError
from tui_monitor.retention import database_size_bytes, format_bytes
from tui_monitor.store import EventRecord, FeatureStore, add_annotation
from tui_monitor.ui.annotate import AnnotateScreen
from tui_monitor.ui.charts import SeriesChart
from tui_monitor.ui.detail import DetailScreen
from tui_monitor.ui.footer import PrunedFooter
from tui_monitor.ui.help import HelpScreen
from tui_monitor.ui.notifications import NotificationsScreen
from tui_monitor.ui.history import HistoryScreen
from tui_monitor.ui.logs import LogScreen
from tui_monitor.ui.targets import TargetsTable
from tui_monitor.ui.labels import ModelsScreen, RuleScreen

__all__ = ["MonitorApp"]

# Charts redraw at most this often; a plotext redraw costs a few % of a core.
CHART_REFRESH_S = 2.0

_STATUS_STYLE = {
    "running": "green",
    "learning": "yellow",
    "normal": "green",
    "anomalous": "bold red",
    "waiting": "yellow",
    "starting": "dim",
    "down": "bold red",
    "failed": "bold red",
    "stale": "yellow",
}


class SourcesBar(Static):
    """One line per few sources: each stream, its source state and its detector state."""

    DEFAULT_CSS = """
    SourcesBar {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $boost;
    }
    """


class MonitorApp(App[None]):
    """Watch this machine: sources, live charts and anomalies."""

    TITLE = "tui-monitor"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("h", "history", "History"),
        Binding("l", "logs", "Logs"),
        Binding("a", "annotate", "Annotate"),
        Binding("N", "notifications", "Notifications"),
        Binding("t", "label('true_anomaly')", "True"),
        Binding("f", "label('false_positive')", "False +"),
        Binding("i", "label('investigate')", "Investigate", show=False),
        Binding("u", "undo_label", "Undo", show=False),
        Binding("n", "next_unlabelled", "Next"),
        Binding("s", "suppress", "Rule", show=False),
        Binding("m", "models", "Models", show=False),
    ]
    CSS = """
    #charts {
        grid-size: 2 2;
        height: 3fr;
        min-height: 10;
    }
    #events {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(
        self,
        settings: Settings,
        store: FeatureStore,
        *,
        duration_s: float | None = None,
        log_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.duration_s = duration_s
        self.log_file = log_file
        self.engine = Engine(settings, store, on_update=self.on_engine_update)
        self.events: dict[int, EventRecord] = {}
        # Feature names of each explained event, largest attribution first,
        # and why an event has no explanation.
        self.explained_features: dict[int, list[str]] = {}
        self.explain_errors: dict[int, str] = {}
        self.explain_pending: set[int] = set()
        # Which rule or maintenance window suppressed each event, when one did.
        self.suppressed_by: dict[int, str] = {}
        self._log_lines: dict[float, float] = defaultdict(float)
        self._is_table_dirty = False
        self.labels: dict[int, Label] = {}
        self.queue: list[int] = []
        self._store_status = "running"

    def compose(self) -> ComposeResult:
        yield Header()
        yield SourcesBar("starting…", id="sources")
        if self.settings.processes or self.settings.endpoints or self.settings.scrapes:
            yield TargetsTable(id="targets")
        with Grid(id="charts"):
            yield SeriesChart("CPU %", y_max=100, id="chart-cpu")
            yield SeriesChart("Memory used %", y_max=100, id="chart-mem")
            yield SeriesChart("Log lines/s", id="chart-logs")
            yield SeriesChart("Anomaly score by stream", y_max=1, id="chart-score")
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield PrunedFooter()

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        # The anomaly table gets the keys first (enter, labels), not the targets table above it.
        table.focus()
        table.add_column("started", key="started")
        table.add_column("stream", key="stream")
        table.add_column("score", key="score")
        table.add_column("severity", key="severity")
        table.add_column("state", key="state")
        table.add_column("label", key="label")
        table.add_column("queue", key="queue")
        table.add_column("top features", key="features")
        self.labels = self.engine.feedback.labels()
        for event in self.store.events_since(time.time() - 86400, limit=200):
            if event.id is not None:
                self.events[event.id] = event
                row = self.store.explanation_row(event.id)
                if row is not None:
                    self._remember_explanation(Explanation.from_row(row))
        self._refresh_table()
        self.sub_title = str(self.store.path)
        self.set_interval(CHART_REFRESH_S, self._redraw)
        for failure in self.engine.plugins.failures:
            self.notify(f"{failure.origin}: {failure.message}", title="Plugin disabled", severity="error", timeout=15)
        self.run_worker(self._run_engine(), name="engine", group="engine", exclusive=True)

    async def _run_engine(self) -> None:
        await self.engine.run(duration_s=self.duration_s)
        if self.duration_s is not None:
            self.exit()

    # -- engine updates (called on the event loop) ------------------------------

    def on_engine_update(self, update: Update) -> None:
        """Record an engine update; widgets redraw on the next timer tick."""
        targets = self.query(TargetsTable)
        if isinstance(update, ObservationMade):
            self._take_observation(update)
            for table in targets:
                table.take_observation(update.observation)
        elif isinstance(update, WindowScored):
            for table in targets:
                table.take_detector_state(update.window.stream, update.detector_state)
            if not update.decision.is_warmup:
                self.query_one("#chart-score", SeriesChart).add(
                    update.window.stream, update.window.end, update.decision.score
                )
            self._refresh_sources()
        elif isinstance(update, EventChanged):
            if update.event.id is not None:
                self.events[update.event.id] = update.event
                if update.change == "opened" and update.event.model_version == NEW_TEMPLATES:
                    # No model scored it, so the engine explains nothing: its top features list the templates.
                    self.explain_errors[update.event.id] = "new log templates, listed among the top features"
                elif update.change == "opened":
                    self.explain_pending.add(update.event.id)
                if update.outcome is not None and update.outcome.suppressed_by:
                    self.suppressed_by[update.event.id] = update.outcome.suppressed_by
            self._is_table_dirty = True
            self._refresh_table()
        elif isinstance(update, ExplanationReady):
            self._take_explanation(update)
        elif isinstance(update, SourceChanged):
            for table in targets:
                table.take_state(update.state)
            self._refresh_sources()
            if update.state.name == "store" and update.state.status != self._store_status:
                self._store_status = update.state.status
                is_fault = update.state.status != "running"
                title = "Database not written" if is_fault else "Database written again"
                self.notify(update.state.detail, title=title, severity="error" if is_fault else "information")
        elif isinstance(update, DriftDetected):
            names = ", ".join(update.drift.names[:3])
            self.notify(f"{update.drift.stream}: {names}; retraining", title="Drift", severity="warning")
        elif isinstance(update, ModelChanged):
            version = update.version
            self.notify(f"{version.kind} model {version.id} of {version.stream}: {version.status} ({version.reason})", title="Model")
        elif isinstance(update, LabelChanged):
            self.labels = self.engine.feedback.labels()
            self._refresh_table()

    def _remember_explanation(self, explanation: Explanation) -> None:
        chosen = explanation.top(3) or explanation.top(3, is_positive_only=False)
        self.explained_features[explanation.event_id] = [a.name for a in chosen]

    def _take_explanation(self, update: ExplanationReady) -> None:
        """Notify the anomaly with its reasons once its explanation exists (or failed)."""
        event = update.event
        if event.id is None:
            return
        self.events[event.id] = event
        self.explain_pending.discard(event.id)
        if update.explanation is not None:
            self._remember_explanation(update.explanation)
            text = "\n".join(reasons(update.explanation))
        else:
            self.explain_errors[event.id] = update.error
            text = ", ".join(f["name"] for f in event.top_features[:2])
        self._refresh_table()
        if event.id in self.suppressed_by:
            return  # stored and listed, but a rule silenced it
        self.notify(f"{event.stream}: {text}", title=f"Anomaly ({event.kind})", severity="warning")
        if isinstance(self.screen, DetailScreen):
            self.screen.explanation_arrived(event.id)

    def _take_observation(self, update: ObservationMade) -> None:
        obs = update.observation
        if obs.stream == "host":
            if "cpu.total_pct" in obs.gauges:
                self.query_one("#chart-cpu", SeriesChart).add("cpu", obs.ts, obs.gauges["cpu.total_pct"])
            if "mem.used_pct" in obs.gauges:
                self.query_one("#chart-mem", SeriesChart).add("mem", obs.ts, obs.gauges["mem.used_pct"])
        elif obs.stream.startswith("log.") and "lines" in obs.counts:
            second = float(int(obs.ts))
            self._log_lines[second] += obs.counts["lines"]

    def _redraw(self) -> None:
        now = time.time()
        logs = self.query_one("#chart-logs", SeriesChart)
        complete = [second for second in self._log_lines if second < int(now)]
        for second in sorted(complete):
            logs.add("lines", second, self._log_lines.pop(second))
        for chart in self.query(SeriesChart):
            chart.redraw_if_changed(now)
        for table in self.query(TargetsTable):
            table.redraw()

    def _refresh_sources(self) -> None:
        parts = []
        for name, state in sorted(self.engine.sources.items(), key=lambda item: (item[0] != "host", item[0])):
            style = _STATUS_STYLE.get(state.status, "")
            text = f"[b]{name}[/b] [{style}]{state.status}[/]"
            detector = self.engine.detectors.get(name)
            if detector is not None:
                dstyle = _STATUS_STYLE.get(detector.state, "")
                if detector.state == "learning":
                    text += f" [{dstyle}]learning {detector.windows_seen}/{detector.warmup_windows}[/]"
                else:
                    text += f" [{dstyle}]{detector.state}[/]"
            parts.append(text)
        parts.append(f"db {format_bytes(database_size_bytes(self.store.path))}")
        self.query_one("#sources", SourcesBar).update("  │  ".join(parts))

    def _refresh_table(self) -> None:
        table = self.query_one("#events", DataTable)
        selected = self._selected_event()
        table.clear()
        ordered = sorted(self.events.values(), key=lambda e: (e.window_start, e.id or 0), reverse=True)[:200]
        scores = self.engine.feedback.model_scores_of(ordered)
        self.queue = labelling_order(ordered, self.labels, self.settings.threshold, scores)
        rank = {event_id: index + 1 for index, event_id in enumerate(self.queue)}
        for event in ordered:
            started = datetime.fromtimestamp(event.window_start).strftime("%m-%d %H:%M:%S")
            explained = self.explained_features.get(event.id or -1)
            names = ", ".join(explained or [f["name"] for f in event.top_features[:3]])
            state_style = "bold red" if event.state == "open" else "dim"
            state_text = event.state
            rule = self.suppressed_by.get(event.id or -1)
            if rule:
                state_style = "dim"
                state_text = f"{event.state}, suppressed by {rule}"
            table.add_row(
                started,
                event.stream,
                f"{event.score:.3f}",
                event.severity,
                f"[{state_style}]{state_text}[/]",
                self.labels[event.id].label if event.id in self.labels else "",
                str(rank.get(event.id or 0, "")),
                names,
                key=str(event.id),
            )
        self._is_table_dirty = False
        if selected is not None and selected.id is not None:
            self._move_to(selected.id)

    def _selected_event(self) -> EventRecord | None:
        table = self.query_one("#events", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.events.get(int(key)) if key is not None else None

    def _move_to(self, event_id: int) -> None:
        table = self.query_one("#events", DataTable)
        try:
            table.move_cursor(row=table.get_row_index(str(event_id)))
        except KeyError:
            pass

    # -- actions ------------------------------------------------------------------

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Open the detail screen of the anomaly chosen with Enter."""
        if message.data_table.id != "events" or message.row_key.value is None:
            return
        table = message.data_table
        order = [int(str(row_key.value)) for row_key in table.rows]
        event_id = int(message.row_key.value)
        screen = DetailScreen(
            self.store,
            self.events,
            order,
            order.index(event_id),
            window_s=self.settings.window_s,
            errors=self.explain_errors,
            pending=self.explain_pending,
            template_of=self._template_of,
        )
        self.push_screen(screen, self._follow_detail)

    def _template_of(self, stream: str, template_id: int) -> str | None:
        """Return the current text of a template stored with a line, from the engine's miner, or None."""
        pipeline = self.engine.log_pipelines.pipelines.get(stream)
        if pipeline is None:
            return None
        return pipeline.miner.template(pipeline.miner.resolve(template_id))

    def _follow_detail(self, event_id: int | None) -> None:
        table = self.query_one("#events", DataTable)
        if event_id is not None and str(event_id) in {str(key.value) for key in table.rows}:
            table.move_cursor(row=table.get_row_index(str(event_id)))

    def action_help(self) -> None:
        """Show the help screen.

        One installed instance is shown each time: a new screen per press
        left about 0.2 MB of widgets behind (bench/load.py, tracemalloc).
        """
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(), name="help")
        self.push_screen("help")

    def action_history(self) -> None:
        """Open the history screen on this store."""
        self.push_screen(HistoryScreen(self.store.path))

    def action_logs(self) -> None:
        """Open the log pane: recent lines of each log stream."""
        self.push_screen(LogScreen(self.store.path, self.engine))

    def action_notifications(self) -> None:
        """Show notification attempts and the state of the rules."""
        self.push_screen(NotificationsScreen(self.store, self.engine.rules.state))

    def action_annotate(self) -> None:
        """Ask for an annotation and record it in the store."""
        self.push_screen(AnnotateScreen(), self._record_annotation)

    def _record_annotation(self, text: str | None) -> None:
        if not text:
            return
        try:
            annotation = add_annotation(self.store.db.conn, text, source="ui")
        except StoreError as exc:
            self.notify(str(exc), title="Annotation not recorded", severity="error")
            return
        self.notify(f"{annotation.text} ({annotation.user})", title="Annotation recorded")

    def action_label(self, value: str) -> None:
        """Label the selected event (``true_anomaly``, ``false_positive`` or ``investigate``)."""
        event = self._selected_event()
        if event is None:
            self.notify("no event selected", severity="warning")
            return
        try:
            self.engine.feedback.label(event, value)
        except StoreError as exc:
            self.notify(str(exc), title="Label not stored", severity="error")
            return
        self.notify(f"event {event.id} on {event.stream}: {value}", title="Labelled")

    def action_undo_label(self) -> None:
        """Remove this user's most recent label."""
        label = self.engine.feedback.undo()
        if label is None:
            self.notify("no label of yours to undo", severity="warning")
            return
        self._move_to(label.event_id)
        self.notify(f"event {label.event_id}: {label.label} removed", title="Label undone")

    def action_next_unlabelled(self) -> None:
        """Move to the next unlabelled event in labelling order (most informative first)."""
        if not self.queue:
            self.notify("every event is labelled")
            return
        selected = self._selected_event()
        position = self.queue.index(selected.id) + 1 if selected is not None and selected.id in self.queue else 0
        self._move_to(self.queue[position % len(self.queue)])

    def action_suppress(self) -> None:
        """Propose a suppression rule from the selected false positive and open it for editing."""
        event = self._selected_event()
        if event is None or event.id is None:
            self.notify("no event selected", severity="warning")
            return
        label = self.labels.get(event.id)
        if label is None or label.label != FALSE_POSITIVE:
            self.notify("label the event a false positive (f) before proposing a rule", severity="warning")
            return
        self.push_screen(RuleScreen(propose_rule(event), self.settings.rules_dir), self._rule_saved)

    def _rule_saved(self, path: Path | None) -> None:
        if path is not None:
            self.notify(f"written to {path}", title="Rule saved")

    def action_models(self) -> None:
        """Show the model registry."""
        self.push_screen(ModelsScreen(self.store.db.conn), self._models_closed)

    def _models_closed(self, is_changed: bool | None) -> None:
        if is_changed:
            self.engine.feedback.reload_models()

    async def action_quit(self) -> None:
        """Stop the engine (every closed window is already stored), then exit."""
        self.engine.stop()
        for worker in self.workers:
            if worker.group == "engine":
                await worker.wait()
        self.exit()
