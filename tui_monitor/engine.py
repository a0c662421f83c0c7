"""The engine: sources feed windows, windows feed detectors, detectors raise events.

The engine is plain asyncio and runs the same under the Textual UI and in
``--headless`` mode. Everything it does per window is cheap (milliseconds),
so it runs on the event loop; listeners receive small dataclass updates.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from tui_monitor.detectors import Decision, StreamDetector, severity_for
from tui_monitor.features import ClosedWindow, WindowAggregator
from tui_monitor.plugin_runtime import PluginDetectors, PluginNotifiers, PluginSource
from tui_monitor.plugins import PluginContext, load_plugins
from tui_monitor.retention import RetentionPolicy, run_retention
from tui_monitor.settings import Settings
from tui_monitor.sources import DirectoryWatcher, EndpointSource, HostSource, LogSource, Observation, SourceState
from tui_monitor.sources.logfile import LEVELS
from tui_monitor.store import Annotation, EventRecord, FeatureStore, WindowRecord, annotations_after

__all__ = ["AnnotationAdded", "Engine", "EventChanged", "ObservationMade", "SourceChanged", "Update", "WindowScored"]

logger = logging.getLogger(__name__)

# Windows close this long after their end so that a poll due exactly at the
# boundary still lands in the window it belongs to.
_CLOSE_GRACE_S = 0.3

_LOG_COUNTS = ("lines", *(f"level_{level}" for level in LEVELS))

# How often the engine looks for annotations written by another process (attach, CLI).
_ANNOTATION_POLL_S = 2.0


@dataclass
class WindowScored:
    """A window of ``stream`` closed and was scored."""

    window: WindowRecord
    decision: Decision
    detector_state: str


@dataclass
class EventChanged:
    """An anomaly event was opened, updated or resolved."""

    event: EventRecord
    change: str


@dataclass
class ObservationMade:
    """A source made one observation (for live charts)."""

    observation: Observation


@dataclass
class SourceChanged:
    """A source's state changed."""

    state: SourceState


@dataclass
class AnnotationAdded:
    """An annotation reached the store (from this process, ``attach`` or the CLI)."""

    annotation: Annotation


Update = WindowScored | EventChanged | SourceChanged | ObservationMade | AnnotationAdded


class Engine:
    """Run the sources, close windows, score them and store everything.

    Args:
        settings: what to watch and how.
        store: the open feature store; the engine is its only writer.
        on_update: called on the event loop for every window, event and
            source change; it must return quickly.
    """

    def __init__(
        self,
        settings: Settings,
        store: FeatureStore,
        on_update: Callable[[Update], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._listeners: list[Callable[[Update], None]] = [on_update] if on_update else []
        self.aggregator = WindowAggregator(settings.window_s)
        self.detectors: dict[str, StreamDetector] = {}
        self.sources: dict[str, SourceState] = {}
        self.open_events: dict[str, EventRecord] = {}
        self._watcher = DirectoryWatcher()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0
        self._stopped = asyncio.Event()
        self.windows_closed = 0
        context = PluginContext(settings.plugin_options, settings.window_s)
        self.plugins = load_plugins(settings.plugin_dirs, context, is_entry_points=settings.is_entry_point_plugins)
        self._plugin_detectors = PluginDetectors(self.plugins)
        self._plugin_notifiers = PluginNotifiers(self.plugins)
        self._notify_tasks: set[asyncio.Task[None]] = set()
        self.annotations: list[Annotation] = []
        self._last_annotation_id = 0

    def subscribe(self, listener: Callable[[Update], None]) -> None:
        """Add a listener for engine updates."""
        self._listeners.append(listener)

    def _publish(self, update: Update) -> None:
        for listener in self._listeners:
            try:
                listener(update)
            except Exception:
                logger.exception("engine listener %r failed", listener)

    def _emit(self, obs: Observation) -> None:
        self.aggregator.add(obs)
        self._publish(ObservationMade(obs))

    def _report(self, state: SourceState) -> None:
        previous = self.sources.get(state.name)
        self.sources[state.name] = state
        if previous is None or (previous.status, previous.detail) != (state.status, state.detail):
            self._publish(SourceChanged(state))

    def _build_sources(self) -> list[HostSource | LogSource | EndpointSource | PluginSource]:
        s = self.settings
        sources: list[HostSource | LogSource | EndpointSource | PluginSource] = [HostSource(s.host_interval_s, self._emit, self._report)]
        for pattern in s.log_paths:
            log = LogSource(pattern, self._emit, self._report, self._watcher, poll_s=s.log_poll_s, coalesce_s=s.log_coalesce_s)
            for stream in log.streams():
                self.aggregator.declare(stream, _LOG_COUNTS)
                self._report(SourceState(stream, "starting"))
            sources.append(log)
        for spec in s.endpoints:
            endpoint = EndpointSource(
                spec, self._emit, self._report, interval_s=s.endpoint_interval_s, timeout_s=s.endpoint_timeout_s
            )
            self._report(SourceState(endpoint.stream, "starting"))
            sources.append(endpoint)
        for plugin in self.plugins.sources:
            sources.append(PluginSource(plugin, self.plugins, self._emit, self._report))
        return sources

    def detector_for(self, stream: str) -> StreamDetector:
        """Return the detector of ``stream``, creating it on first use."""
        detector = self.detectors.get(stream)
        if detector is None:
            s = self.settings
            detector = StreamDetector(
                stream,
                warmup_windows=s.warmup_windows,
                threshold=s.threshold,
                min_deviation_z=s.min_deviation_z,
                debounce_n=s.debounce_n,
                debounce_m=s.debounce_m,
                seed=s.seed,
            )
            self.detectors[stream] = detector
        return detector

    async def run(self, duration_s: float | None = None) -> None:
        """Run until ``stop()`` is called, the task is cancelled or ``duration_s`` passes."""
        s = self.settings
        self._started_at = time.time()
        self.aggregator.start(self._started_at)
        self._report(SourceState("host", "starting"))
        sources = self._build_sources()
        self._tasks = [asyncio.create_task(_guard(source.name, source.run()), name=f"source:{source.name}") for source in sources]
        self._tasks.append(asyncio.create_task(self._close_windows_forever(), name="windows"))
        policy = RetentionPolicy(s.samples_retention_days, s.windows_retention_days, s.events_retention_days)
        conn = self.store.db.conn
        self._tasks.append(asyncio.create_task(run_retention(conn, policy, interval_s=s.retention_interval_s), name="retention"))
        self._last_annotation_id = max((a.id or 0 for a in annotations_after(conn, 0)), default=0)
        self._tasks.append(asyncio.create_task(self._watch_annotations(), name="annotations"))
        logger.info("engine started: %d sources, %.3g s windows, store %s", len(sources), self.settings.window_s, self.store.path)
        try:
            if duration_s is None:
                await self._stopped.wait()
            else:
                try:
                    await asyncio.wait_for(self._stopped.wait(), timeout=duration_s)
                except TimeoutError:
                    pass
        finally:
            await self._shutdown()

    def stop(self) -> None:
        """Ask ``run`` to return; safe to call more than once."""
        self._stopped.set()

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._watcher.stop()
        try:
            # Windows that ended since the last timer tick are stored now, not lost.
            self.close_windows(time.time())
        except Exception:
            logger.exception("storing the last windows at shutdown failed")
        if self._notify_tasks:
            await asyncio.wait(self._notify_tasks, timeout=5.0)
        logger.info("engine stopped after %d windows", self.windows_closed)

    async def _close_windows_forever(self) -> None:
        window_s = self.settings.window_s
        while True:
            now = time.time()
            next_close = (now // window_s + 1) * window_s + _CLOSE_GRACE_S
            await asyncio.sleep(next_close - now)
            try:
                self.close_windows(time.time() - _CLOSE_GRACE_S)
            except Exception:
                logger.exception("closing windows failed; the engine goes on with the next window")

    def close_windows(self, now: float) -> list[WindowScored]:
        """Close, score and store every window that ended by ``now``."""
        return self.process_windows(self.aggregator.close_until(now))

    def process_windows(self, closed: list[ClosedWindow]) -> list[WindowScored]:
        """Score and store closed windows, oldest first, and publish the results."""
        scored = [self._score(window) for window in closed]
        samples = [(ts, w.stream, values) for w in closed for ts, values in w.samples]
        self.store.write_window_batch(samples, [s.window for s in scored])
        self._report_store()
        self.windows_closed += len(scored)
        for result in scored:
            self._publish(result)
            self._track_incident(result)
            if result.window.start >= self._started_at:  # the first, partial window is not scored
                for event, change in self._plugin_detectors.process(result.window):
                    self._record_event(event, change)
        return scored

    def _record_event(self, event: EventRecord, change: str) -> None:
        self.store.save_event(event)
        self._report_store()
        self._publish(EventChanged(event, change))
        if change == "opened" and self.plugins.notifiers:
            task = asyncio.get_running_loop().create_task(self._plugin_notifiers.send(event))
            self._notify_tasks.add(task)
            task.add_done_callback(self._notify_tasks.discard)

    def _report_store(self) -> None:
        """Show a storage fault (locked, full, corrupt) as the state of a ``store`` source, and its end."""
        health = self.store.health
        if health.is_ok:
            if "store" in self.sources:
                self._report(SourceState("store", "running", "writing resumed"))
            return
        status = "down" if health.status in ("locked", "full") else "failed"
        self._report(SourceState("store", status, f"{health.detail}; {self.store.backlog.describe()}"))

    async def _watch_annotations(self) -> None:
        last_error = ""
        while True:
            await asyncio.sleep(_ANNOTATION_POLL_S)
            try:
                self.poll_annotations()
            except sqlite3.Error as exc:
                # A broken file must not end this task; the window writes report the fault.
                if str(exc) != last_error:
                    logger.warning("reading annotations failed: %s; retrying every %.0f s", exc, _ANNOTATION_POLL_S)
                    last_error = str(exc)
            else:
                last_error = ""

    def poll_annotations(self) -> list[Annotation]:
        """Read annotations stored since the last poll, log and publish them."""
        new = annotations_after(self.store.db.conn, self._last_annotation_id)
        for annotation in new:
            self._last_annotation_id = max(self._last_annotation_id, annotation.id or 0)
            self.annotations.append(annotation)
            logger.info("annotation by %s (%s): %s", annotation.user, annotation.source, annotation.text)
            self._publish(AnnotationAdded(annotation))
        return new

    def _score(self, window: ClosedWindow) -> WindowScored:
        record = WindowRecord(window.stream, window.start, window.end, window.features)
        detector = self.detector_for(window.stream)
        if window.start < self._started_at:
            # The first window after start is partial: store it, do not learn it.
            decision = Decision(0.0, 0.0, True, False, False)
        else:
            decision = detector.process(window.features)
        record.raw_score = decision.raw_score
        record.score = decision.score
        record.is_warmup = decision.is_warmup
        record.is_anomalous = decision.is_anomalous
        return WindowScored(record, decision, detector.state)

    def _track_incident(self, result: WindowScored) -> None:
        decision = result.decision
        window = result.window
        if decision.incident is None:
            return
        event = self.open_events.get(window.stream)
        if decision.incident == "opened" or event is None:
            event = EventRecord(
                stream=window.stream,
                window_start=window.start,
                window_end=window.end,
                score=decision.score,
                raw_score=decision.raw_score,
                severity=severity_for(decision.score),
                top_features=decision.top_features,
                model_version=self.detector_for(window.stream).model_version,
            )
            self.open_events[window.stream] = event
            change = "opened"
        elif decision.incident == "resolved":
            event.state = "resolved"
            event.updated_at = time.time()
            del self.open_events[window.stream]
            change = "resolved"
        else:
            event.window_end = window.end
            event.updated_at = time.time()
            if decision.score > event.score or (decision.is_hot and decision.raw_score > event.raw_score):
                event.score = max(event.score, decision.score)
                event.raw_score = max(event.raw_score, decision.raw_score)
                event.severity = severity_for(event.score)
                event.top_features = decision.top_features
            change = "updated"
        if change == "opened":
            names = ", ".join(f["name"] for f in event.top_features[:3])
            logger.warning("anomaly on %s (score %.3f): %s", event.stream, event.score, names)
        self._record_event(event, change)


async def _guard(name: str, work: object) -> None:
    """Run a source; log its failure with the traceback instead of ending the engine."""
    try:
        await work  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("source %s failed and stopped; the other sources go on", name)
