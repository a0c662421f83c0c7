"""The history screen: anomaly counts over a chosen range, filtered events and any stored feature.

Every query runs in a worker thread on its own read-only connection, so the
engine keeps writing while a person browses weeks of data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Select, Static
from textual_plotext import PlotextPlot

from tui_monitor.errors import TuiMonitorError
from tui_monitor.reports import render_report
from tui_monitor.reports.queries import (
    event_counts_by,
    events_per_bucket,
    feature_names,
    feature_series,
    filtered_events,
    stream_names,
    table_columns,
)
from tui_monitor.retention import database_size_bytes, format_bytes
from tui_monitor.store import Annotation, FeatureStore, annotations_between
from tui_monitor.ui.time_axis import time_ticks

__all__ = ["RANGES", "HistoryData", "HistoryFilters", "HistoryScreen", "load_history"]

logger = logging.getLogger(__name__)

# Key -> (label, seconds) of the time-range picker.
RANGES = {"1": ("1h", 3600.0), "2": ("6h", 21600.0), "3": ("24h", 86400.0), "4": ("7d", 604800.0), "5": ("30d", 2592000.0)}
_HOUR_S = 3600.0
_DAY_S = 86400.0
# Columns assumed for the feature chart before the layout has given it a size.
_DEFAULT_CHART_WIDTH = 80


@dataclass(frozen=True)
class HistoryFilters:
    """The screen's range, bucket, event filters and charted feature."""

    span_s: float = 86400.0
    bucket_s: float = _HOUR_S
    stream: str | None = None
    kind: str | None = None
    severity: str | None = None
    label: str | None = None
    text: str = ""
    feature_stream: str | None = None
    feature: str | None = None


@dataclass
class HistoryData:
    """The result of one load, read in a worker thread."""

    start_ts: float
    end_ts: float
    buckets: list[tuple[float, int]]
    events: list[dict[str, Any]]
    streams: list[str]
    kinds: list[str]
    severities: list[str]
    labels: list[str] | None
    feature_stream: str | None
    features: list[str]
    feature: str | None
    series: list[tuple[float, float]]
    annotations: list[Annotation] = field(default_factory=list)
    db_size_bytes: int = 0


def load_history(db_path: Path, filters: HistoryFilters, now: float) -> HistoryData:
    """Read everything the screen shows; runs in a worker thread on its own connection."""
    store = FeatureStore(db_path, readonly=True)
    try:
        conn = store.db.conn
        start_ts, end_ts = now - filters.span_s, now
        streams = stream_names(conn, start_ts, end_ts)
        has_labels = {"event_id", "label"} <= table_columns(conn, "labels")
        labels = [row[0] for row in conn.execute("SELECT DISTINCT label FROM labels ORDER BY 1")] if has_labels else None

        feature_stream = filters.feature_stream if filters.feature_stream in streams else None
        if feature_stream is None and streams:
            feature_stream = "host" if "host" in streams else streams[0]
        features = feature_names(conn, feature_stream, start_ts, end_ts) if feature_stream else []
        feature = filters.feature if filters.feature in features else _default_feature(features)
        series = feature_series(conn, feature_stream, feature, start_ts, end_ts) if feature_stream and feature else []

        return HistoryData(
            start_ts=start_ts,
            end_ts=end_ts,
            buckets=events_per_bucket(conn, start_ts, end_ts, filters.bucket_s),
            events=filtered_events(
                conn,
                start_ts,
                end_ts,
                stream=filters.stream,
                kind=filters.kind,
                severity=filters.severity,
                label=filters.label,
                text=filters.text or None,
            ),
            streams=streams,
            kinds=[key for key, _ in event_counts_by(conn, "kind", start_ts, end_ts)],
            severities=[key for key, _ in event_counts_by(conn, "severity", start_ts, end_ts)],
            labels=labels,
            feature_stream=feature_stream,
            features=features,
            feature=feature,
            series=series,
            annotations=annotations_between(conn, start_ts, end_ts),
            db_size_bytes=database_size_bytes(db_path),
        )
    finally:
        store.close()


def _default_feature(features: list[str]) -> str | None:
    preferred = [name for name in features if name.endswith(("cpu.total_pct.mean", ".lines", "latency_ms.mean"))]
    candidates = preferred or features
    return candidates[0] if candidates else None


def _options(values: list[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class HistoryScreen(Screen[None]):
    """Anomaly counts per hour or day, filtered events and a chart of any feature.

    Args:
        db_path: the feature store to read.
        now: the end of the range in Unix seconds (default: the clock at each load).
    """

    BINDINGS = [
        Binding("escape,h", "close", "Back"),
        *(Binding(key, f"range({seconds})", f"{label}", show=key in ("1", "5")) for key, (label, seconds) in RANGES.items()),
        Binding("b", "toggle_bucket", "Hour/day"),
        Binding("r", "report('html')", "HTML report"),
        Binding("m", "report('md')", "MD report"),
    ]
    DEFAULT_CSS = """
    HistoryScreen #summary { height: 1; padding: 0 1; background: $boost; }
    HistoryScreen #histogram { height: 1fr; min-height: 8; }
    HistoryScreen #filters, HistoryScreen #feature-bar { height: auto; }
    HistoryScreen Select { width: 1fr; }
    HistoryScreen Input { width: 2fr; }
    HistoryScreen #feature-chart { height: 1fr; min-height: 8; }
    HistoryScreen #history-events { height: 1fr; min-height: 5; }
    """

    def __init__(self, db_path: Path, *, now: float | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.fixed_now = now
        self.filters = HistoryFilters()
        self.data: HistoryData | None = None
        self.loads = 0
        self.report_paths: list[Path] = []
        self._is_updating_selects = False

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="summary")
        yield PlotextPlot(id="histogram")
        with Horizontal(id="filters"):
            yield Select[str]([], prompt="stream", id="filter-stream")
            yield Select[str]([], prompt="kind", id="filter-kind")
            yield Select[str]([], prompt="severity", id="filter-severity")
            yield Select[str]([], prompt="label", id="filter-label")
            yield Input(placeholder="text in stream or feature", id="filter-text")
        with Horizontal(id="feature-bar"):
            yield Select[str]([], prompt="chart stream", id="feature-stream", allow_blank=True)
            yield Select[str]([], prompt="feature", id="feature-name", allow_blank=True)
        yield PlotextPlot(id="feature-chart")
        yield DataTable(id="history-events", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#history-events", DataTable)
        for column in ("started", "stream", "kind", "severity", "score", "label", "top features"):
            table.add_column(column, key=column)
        self.query_one("#filter-label", Select).display = False
        self.reload()

    # -- loading ------------------------------------------------------------------

    def reload(self) -> None:
        """Load the data for the current filters in a worker thread."""
        now = self.fixed_now if self.fixed_now is not None else time.time()
        self._load(self.filters, now)

    @work(thread=True, exclusive=True, group="history")
    def _load(self, filters: HistoryFilters, now: float) -> None:
        data = load_history(self.db_path, filters, now)
        self.app.call_from_thread(self._show, data)

    def _show(self, data: HistoryData) -> None:
        self.data = data
        self.loads += 1
        self._is_updating_selects = True
        try:
            self._set_options("#filter-stream", data.streams, self.filters.stream)
            self._set_options("#filter-kind", data.kinds, self.filters.kind)
            self._set_options("#filter-severity", data.severities, self.filters.severity)
            label_select = self.query_one("#filter-label", Select)
            label_select.display = data.labels is not None
            self._set_options("#filter-label", data.labels or [], self.filters.label)
            self._set_options("#feature-stream", data.streams, data.feature_stream)
            self._set_options("#feature-name", data.features, data.feature)
        finally:
            self.call_after_refresh(self._end_select_update)
        self._draw_summary(data)
        self._draw_histogram(data)
        self._draw_feature(data)
        self._fill_table(data)

    def _end_select_update(self) -> None:
        self._is_updating_selects = False

    def _set_options(self, selector: str, values: list[str], current: str | None) -> None:
        select = self.query_one(selector, Select)
        select.set_options(_options(values))
        if current in values:
            select.value = current

    def _draw_summary(self, data: HistoryData) -> None:
        label = next((name for name, seconds in RANGES.values() if seconds == self.filters.span_s), f"{self.filters.span_s:g} s")
        bucket = "hour" if self.filters.bucket_s < _DAY_S else "day"
        total = sum(count for _, count in data.buckets)
        self.query_one("#summary", Static).update(
            f"last {label} │ {total} events, {len(data.events)} shown │ per {bucket} │ "
            f"{len(data.annotations)} annotations │ database {format_bytes(data.db_size_bytes)}"
        )

    def _draw_histogram(self, data: HistoryData) -> None:
        plot = self.query_one("#histogram", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"Anomaly events per {'hour' if self.filters.bucket_s < _DAY_S else 'day'}")
        date_format = "%m-%d %H:%M" if self.filters.bucket_s < _DAY_S else "%m-%d"
        labels = [datetime.fromtimestamp(start).strftime(date_format) for start, _ in data.buckets]
        counts = [count for _, count in data.buckets]
        if labels:
            plt.bar(labels, counts, marker="sd")
        # Counts start at 0; without events plotext would centre the axis on 0 (-1 to 1).
        plt.ylim(0, max(1, *counts) if counts else 1)
        plot.refresh()

    def _draw_feature(self, data: HistoryData) -> None:
        plot = self.query_one("#feature-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(data.feature or "no feature")
        if data.series:
            # x is seconds since the start of the range; the ticks label it with clock times.
            xs = [ts - data.start_ts for ts, _ in data.series]
            ys = [value for _, value in data.series]
            plt.plot(xs, ys, marker="braille")
            plt.xlim(0.0, data.end_ts - data.start_ts)
            ticks = time_ticks(data.start_ts, data.end_ts, plot.size.width or _DEFAULT_CHART_WIDTH)
            plt.xticks([ts - data.start_ts for ts, _ in ticks], [label for _, label in ticks])
            top = max(ys)
            for annotation in data.annotations:
                x = annotation.ts - data.start_ts
                plt.vline(x, "orange")
                plt.text(annotation.text[:20], x, top, color="orange")
        plot.refresh()

    def _fill_table(self, data: HistoryData) -> None:
        table = self.query_one("#history-events", DataTable)
        table.clear()
        for event in data.events:
            names = ", ".join(f["name"] for f in event["top_features"][:3])
            table.add_row(
                datetime.fromtimestamp(event["window_start"]).strftime("%m-%d %H:%M:%S"),
                event["stream"],
                event["kind"],
                event["severity"],
                f"{event['score']:.3f}",
                event["label"] or "",
                names,
                key=str(event["id"]),
            )

    # -- filters and actions ----------------------------------------------------------

    def set_filters(self, **changes: Any) -> None:
        """Change some filters and reload."""
        values = {**self.filters.__dict__, **changes}
        self.filters = HistoryFilters(**values)
        self.reload()

    @on(Select.Changed)
    def _select_changed(self, message: Select.Changed) -> None:
        if self._is_updating_selects:
            return
        value = None if message.value == Select.NULL else str(message.value)
        key = {
            "filter-stream": "stream",
            "filter-kind": "kind",
            "filter-severity": "severity",
            "filter-label": "label",
            "feature-stream": "feature_stream",
            "feature-name": "feature",
        }.get(message.select.id or "")
        if key is not None and getattr(self.filters, key) != value:
            self.set_filters(**{key: value})

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, message: Input.Changed) -> None:
        self.set_filters(text=message.value.strip())

    def action_range(self, seconds: float) -> None:
        """Show the last ``seconds``: hours up to 7 days, days for longer ranges."""
        self.set_filters(span_s=seconds, bucket_s=_HOUR_S if seconds <= 7 * _DAY_S else _DAY_S)

    def action_toggle_bucket(self) -> None:
        """Switch the histogram between hours and days."""
        self.set_filters(bucket_s=_DAY_S if self.filters.bucket_s < _DAY_S else _HOUR_S)

    def action_report(self, fmt: str) -> None:
        """Write a report of the shown range next to the database, off the event loop."""
        now = self.fixed_now if self.fixed_now is not None else time.time()
        self._write_report(fmt, self.filters.span_s, now)

    @work(thread=True, group="report", exit_on_error=False)
    def _write_report(self, fmt: str, span_s: float, now: float) -> None:
        folder = self.db_path.parent / "reports"
        path = folder / f"report-{datetime.fromtimestamp(now):%Y%m%d-%H%M%S}.{fmt}"
        try:
            text = render_report(self.db_path, since_s=span_s, fmt=fmt, now=now)
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except (OSError, TuiMonitorError) as exc:
            logger.error("report %s failed: %s", path, exc)
            self.app.call_from_thread(self.notify, f"failed: {exc}", title="Report", severity="error")
            return
        self.report_paths.append(path)
        self.app.call_from_thread(self.notify, f"written to {path}", title="Report")

    def action_close(self) -> None:
        """Return to the live view."""
        self.dismiss()
