"""The UI attached to a running headless engine: it reads the store and runs no engine.

``tui-monitor attach`` polls the store for new windows, events and
annotations. What a person records here (annotations) is written to the
same file, where the engine reads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from pathlib import Path

from tui_monitor.detectors import Decision
from tui_monitor.engine import EventChanged, WindowScored
from tui_monitor.settings import Settings
from tui_monitor.sources import SourceState
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord
from tui_monitor.ui.app import MonitorApp
from tui_monitor.ui.charts import SeriesChart

__all__ = ["AttachApp"]

logger = logging.getLogger(__name__)

# How often the attached UI reads the store.
POLL_S = 1.0
# Windows read per poll at most; a long-stopped UI catches up over several polls.
_MAX_WINDOWS_PER_POLL = 2000
# A stream with no new window for this many window lengths is shown as stale:
# its engine stopped, or stopped following it.
_STALE_WINDOWS = 3
_EVENT_FIELDS = {f.name for f in dataclasses.fields(EventRecord)}


class AttachApp(MonitorApp):
    """The monitor UI over another process's store, with no engine and no sources of its own."""

    TITLE = "tui-monitor (attached)"

    def __init__(self, store: FeatureStore, *, log_file: Path | None = None) -> None:
        settings = Settings(db_path=store.path, plugin_dirs=[], is_entry_point_plugins=False)
        super().__init__(settings, store, log_file=log_file)
        self._last_window_id = self._max_id("windows") - 500
        # Events up to now are in the table from on_mount; only later changes are polled.
        self._events_seen_at = float(self.store.db.conn.execute("SELECT max(updated_at) FROM events").fetchone()[0] or 0.0)
        self.polls = 0
        # Per stream: the end of its newest window and the window length, in seconds.
        self._last_window: dict[str, tuple[float, float]] = {}

    def _max_id(self, table: str) -> int:
        row = self.store.db.conn.execute(f"SELECT max(id) FROM {table}").fetchone()
        return int(row[0] or 0)

    async def _run_engine(self) -> None:
        # The "engine" of an attached UI is this poll loop; the real engine runs elsewhere.
        while True:
            self.poll_store()
            await asyncio.sleep(POLL_S)

    def poll_store(self) -> None:
        """Read windows, events and annotations written since the last poll."""
        conn = self.store.db.conn
        rows = conn.execute(
            "SELECT id, stream, start, end, features, raw_score, score, is_warmup, is_anomalous "
            "FROM windows WHERE id > ? ORDER BY id LIMIT ?",
            (self._last_window_id, _MAX_WINDOWS_PER_POLL),
        ).fetchall()
        for row in rows:
            self._last_window_id = row[0]
            window = WindowRecord(row[1], row[2], row[3], json.loads(row[4]), row[5], row[6], bool(row[7]), bool(row[8]))
            self._show_window(window)
        self._mark_stale_streams(time.time())

        cursor = conn.execute(
            "SELECT * FROM events WHERE updated_at > ? ORDER BY updated_at LIMIT 500", (self._events_seen_at,)
        )
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            row["top_features"] = json.loads(row["top_features"] or "[]")
            self._events_seen_at = max(self._events_seen_at, row["updated_at"])
            event = EventRecord(**{key: value for key, value in row.items() if key in _EVENT_FIELDS})
            is_new = event.id not in self.events and event.state == "open"
            self.on_engine_update(EventChanged(event, "opened" if is_new else "updated"))
        self.engine.poll_annotations()
        self.polls += 1

    def _show_window(self, window: WindowRecord) -> None:
        self.engine.sources[window.stream] = SourceState(window.stream, "running", "attached")
        self._last_window[window.stream] = (window.end, max(1.0, window.end - window.start))
        decision = Decision(window.raw_score, window.score, window.is_warmup, window.is_anomalous, window.is_anomalous)
        self.on_engine_update(WindowScored(window, decision, "anomalous" if window.is_anomalous else "normal"))
        if window.stream == "host":
            for feature, chart in (("host.cpu.total_pct.mean", "#chart-cpu"), ("host.mem.used_pct.mean", "#chart-mem")):
                if feature in window.features:
                    self.query_one(chart, SeriesChart).add(feature.split(".")[1], window.end, window.features[feature])
        lines = window.features.get(f"{window.stream}.lines")
        if window.stream.startswith("log.") and lines is not None and window.end > window.start:
            self.query_one("#chart-logs", SeriesChart).add(window.stream, window.end, lines / (window.end - window.start))

    def _mark_stale_streams(self, now: float) -> None:
        """Show streams whose engine stopped writing windows as ``stale`` instead of ``running``."""
        for stream, (end, length) in self._last_window.items():
            if now - end > _STALE_WINDOWS * length and self.engine.sources[stream].status != "stale":
                minutes = (now - end) / 60.0
                self.engine.sources[stream] = SourceState(stream, "stale", f"no window for {minutes:.0f} min")
                self._refresh_sources()

    async def action_quit(self) -> None:
        """Leave; the engine elsewhere keeps running."""
        self.exit()
