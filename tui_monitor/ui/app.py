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
from textual.widgets import DataTable, Footer, Header, Static

from tui_monitor.engine import Engine, EventChanged, ObservationMade, SourceChanged, Update, WindowScored
from tui_monitor.settings import Settings
from tui_monitor.errors import StoreError
from tui_monitor.retention import database_size_bytes, format_bytes
from tui_monitor.store import EventRecord, FeatureStore, add_annotation
from tui_monitor.ui.annotate import AnnotateScreen
from tui_monitor.ui.charts import SeriesChart
from tui_monitor.ui.help import HelpScreen
from tui_monitor.ui.history import HistoryScreen

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
        Binding("a", "annotate", "Annotate"),
    ]
    CSS = """
    #charts {
        grid-size: 2 2;
        height: 2fr;
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
        self._log_lines: dict[float, float] = defaultdict(float)
        self._is_table_dirty = False
        self._store_status = "running"

    def compose(self) -> ComposeResult:
        yield Header()
        yield SourcesBar("starting…", id="sources")
        with Grid(id="charts"):
            yield SeriesChart("CPU %", y_max=100, id="chart-cpu")
            yield SeriesChart("Memory used %", y_max=100, id="chart-mem")
            yield SeriesChart("Log lines/s", id="chart-logs")
            yield SeriesChart("Anomaly score by stream", y_max=1, id="chart-score")
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_column("started", key="started")
        table.add_column("stream", key="stream")
        table.add_column("score", key="score")
        table.add_column("severity", key="severity")
        table.add_column("state", key="state")
        table.add_column("top features", key="features")
        for event in self.store.events_since(time.time() - 86400, limit=200):
            if event.id is not None:
                self.events[event.id] = event
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
        if isinstance(update, ObservationMade):
            self._take_observation(update)
        elif isinstance(update, WindowScored):
            if not update.decision.is_warmup:
                self.query_one("#chart-score", SeriesChart).add(
                    update.window.stream, update.window.end, update.decision.score
                )
            self._refresh_sources()
        elif isinstance(update, EventChanged):
            if update.event.id is not None:
                self.events[update.event.id] = update.event
            self._is_table_dirty = True
            self._refresh_table()
            if update.change == "opened":
                names = ", ".join(f["name"] for f in update.event.top_features[:2])
                self.notify(f"{update.event.stream}: {names}", title="Anomaly", severity="warning")
        elif isinstance(update, SourceChanged):
            self._refresh_sources()
            if update.state.name == "store" and update.state.status != self._store_status:
                self._store_status = update.state.status
                is_fault = update.state.status != "running"
                title = "Database not written" if is_fault else "Database written again"
                self.notify(update.state.detail, title=title, severity="error" if is_fault else "information")

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
        table.clear()
        ordered = sorted(self.events.values(), key=lambda e: (e.window_start, e.id or 0), reverse=True)
        for event in ordered[:200]:
            started = datetime.fromtimestamp(event.window_start).strftime("%m-%d %H:%M:%S")
            names = ", ".join(f["name"] for f in event.top_features[:3])
            state_style = "bold red" if event.state == "open" else "dim"
            table.add_row(
                started,
                event.stream,
                f"{event.score:.3f}",
                event.severity,
                f"[{state_style}]{event.state}[/]",
                names,
                key=str(event.id),
            )
        self._is_table_dirty = False

    # -- actions ------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the help screen."""
        self.push_screen(HelpScreen())

    def action_history(self) -> None:
        """Open the history screen on this store."""
        self.push_screen(HistoryScreen(self.store.path))

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

    async def action_quit(self) -> None:
        """Stop the engine (every closed window is already stored), then exit."""
        self.engine.stop()
        for worker in self.workers:
            if worker.group == "engine":
                await worker.wait()
        self.exit()
