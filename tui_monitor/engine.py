"""The engine: sources feed windows, windows feed detectors, detectors raise events.

The engine is plain asyncio and runs the same under the Textual UI and in
``--headless`` mode. Everything it does per window is cheap (milliseconds),
so it runs on the event loop; listeners receive small dataclass updates.
The SHAP explanation of each new event is the exception: it runs in a
worker thread, and ``explain.dispatch`` stores it and publishes ``ExplanationReady``.
The updates listeners receive are defined in ``tui_monitor.updates``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from tui_monitor.alerts import Notifier, NotifyPolicy, targets_from
from tui_monitor.detectors import Decision, StreamDetector, severity_for
from tui_monitor.detectors.batch import BatchTrainer
from tui_monitor.detectors.context import time_features
from tui_monitor.detectors.novelty import NewTemplateEvents
from tui_monitor.detectors.persist import load_key, restore_detectors, save_detectors
from tui_monitor.errors import TuiMonitorError
from tui_monitor.explain.dispatch import ExplanationDispatcher
from tui_monitor.feedback import DriftDetected, Feedback, LabelChanged, ModelChanged
from tui_monitor.features import ClosedWindow, WindowAggregator
from tui_monitor.plugin_runtime import PluginDetectors, PluginNotifiers, PluginSource
from tui_monitor.plugins import PluginContext, load_plugins
from tui_monitor.retention import RetentionPolicy, run_retention
from tui_monitor.rules import RuleOutcome, RulesWatcher
from tui_monitor.features.windows import window_start
from tui_monitor.parsing import LogPipelines
from tui_monitor.settings import Settings
from tui_monitor.sources import DirectoryWatcher, EndpointSource, HostSource, LogSource, Observation, SourceState
from tui_monitor.sources.logfile import LEVELS
from tui_monitor.sources.positions import PositionLedger
from tui_monitor.sources.process import ProcessSource
from tui_monitor.sources.prometheus import ScrapeSource
from tui_monitor.updates import (
    AnnotationAdded,
    EventChanged,
    ExplanationReady,
    ObservationMade,
    SourceChanged,
    Update,
    WindowScored,
)
from tui_monitor.store import (
    Annotation,
    EventRecord,
    FeatureStore,
    LogCheckpoint,
    WindowRecord,
    annotations_after,
    save_notifications,
    save_rule_outcome,
)

__all__ = [
    "AnnotationAdded",
    "DriftDetected",
    "Engine",
    "EventChanged",
    "ExplanationReady",
    "LabelChanged",
    "ModelChanged",
    "ObservationMade",
    "SourceChanged",
    "Update",
    "WindowScored",
]

logger = logging.getLogger(__name__)

# Windows close this long after their end so that a poll due exactly at the
# boundary still lands in the window it belongs to.
_CLOSE_GRACE_S = 0.3

# Bytes each log file is read per pass. The log pipeline (parsing, joining,
# template mining, features) runs on the event loop: lines of a shape seen
# before cost about 6 µs, first-seen shapes 40-60 µs, and storing a line
# about 3 µs more. A quarter MiB (about 2,200 lines of the mixed benchmark
# log) therefore takes about 13 ms of pipeline time per pass. The p99 was
# 30 ms and the worst 58 ms, while every shape was new (bench/ingest.py's
# log, 2-core machine at load 5). That is short enough to stay on the loop
# while a backlog is read, and the rest waits on disk.
_LOG_BUDGET_BYTES = 256 * 1024

_LOG_COUNTS = ("lines", *(f"level_{level}" for level in LEVELS))

# How often the engine looks for annotations written by another process (attach, CLI).
_ANNOTATION_POLL_S = 2.0
# On shutdown, explanations still running get this long to finish and be stored.
_EXPLAIN_GRACE_S = 2.0
# Detector state is saved this often (in closed windows) besides at shutdown.
_SAVE_EVERY_WINDOWS = 3600


def wall_clock(ts: float) -> float:
    """Return Unix time ``ts`` shifted by the local UTC offset, for time-of-day context."""
    return ts + time.localtime(ts).tm_gmtoff


class Engine:
    """Run the sources, close windows, score them and store everything.

    Args:
        settings: what to watch and how.
        store: the open feature store; the engine is its main writer (an
            attached UI or the CLI adds labels and annotations).
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
        self.ledger = PositionLedger(store)
        self.log_pipelines = LogPipelines(store=store)
        self.new_templates = NewTemplateEvents()

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

        self.explanations = ExplanationDispatcher(store, self._publish, settings.threshold)

        self.rules = RulesWatcher(settings.rules_dir)
        policy = NotifyPolicy(settings.notify_repeat_s, settings.notify_rate_limit, settings.notify_rate_window_s)
        self.notifier = Notifier(
            targets_from(settings.notify_urls, read_timeout_s=settings.notify_timeout_s),
            policy=policy,
            retries=settings.notify_retries,
            backoff_s=settings.notify_backoff_s,
            attempt_timeout_s=settings.notify_timeout_s + 1.0,
        )

        self._trainer: BatchTrainer | None = None
        self._model_key: bytes | None = None
        self.feedback = Feedback(settings, store, self.detector_for, self._publish)
        # Streams whose current incident a learned model silenced; cleared when the detector resolves it.
        self._silenced: set[str] = set()

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

    def _build_sources(self) -> list[HostSource | LogSource | EndpointSource | ProcessSource | ScrapeSource | PluginSource]:
        s = self.settings
        host = HostSource(
            s.host_interval_s, self._emit, self._report,
            filesystems=s.host_filesystems, per_disk=s.host_per_disk,
            per_interface=s.host_per_interface, sensors=s.host_sensors,
        )  # fmt: skip
        sources: list[HostSource | LogSource | EndpointSource | ProcessSource | ScrapeSource | PluginSource] = [host]
        for pattern in s.log_paths:
            log = LogSource(
                pattern, self._emit, self._report, self._watcher,
                poll_s=s.log_poll_s, coalesce_s=s.log_coalesce_s, ledger=self.ledger,
                on_lines=self.log_pipelines.tag, line_filter=self.rules.filter_lines,
                budget_bytes=_LOG_BUDGET_BYTES,
            )  # fmt: skip
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
        if s.processes:
            processes = ProcessSource(s.processes, self._emit, self._report, interval_s=s.process_interval_s)
            for watched in processes.watched:
                self._report(SourceState(watched.stream, "starting"))
            sources.append(processes)
        for scrape_spec in s.scrapes:
            scrape = ScrapeSource(
                scrape_spec, self._emit, self._report, interval_s=s.scrape_interval_s, timeout_s=s.endpoint_timeout_s
            )
            self._report(SourceState(scrape.stream, "starting"))
            sources.append(scrape)
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
                config=s.detector_config().for_stream(stream, s.detector_overrides),
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
        self.ledger.recover()
        self._report(SourceState("host", "starting"))
        sources = self._build_sources()
        self._tasks = [asyncio.create_task(_guard(source.name, source.run()), name=f"source:{source.name}") for source in sources]
        self._tasks.append(asyncio.create_task(self._close_windows_forever(), name="windows"))
        policy = RetentionPolicy(s.samples_retention_days, s.windows_retention_days, s.events_retention_days)
        conn = self.store.db.conn
        self._tasks.append(asyncio.create_task(run_retention(conn, policy, interval_s=s.retention_interval_s), name="retention"))
        self._last_annotation_id = max((a.id or 0 for a in annotations_after(conn, 0)), default=0)
        self._tasks.append(asyncio.create_task(self._watch_annotations(), name="annotations"))
        self._start_models()
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
        if self.feedback.tasks:
            # A retraining thread cannot be cancelled; wait so that its result reaches the store.
            await asyncio.wait(self.feedback.tasks, timeout=60.0)
        await self.explanations.close(_EXPLAIN_GRACE_S)
        await asyncio.to_thread(self.notifier.close)
        self._save_notifications()
        # Lines read in the window still open were never checkpointed: drop
        # them here; the next run reads them again from the stored positions.
        self.ledger.recover(is_shutdown=True)
        self.log_pipelines.save()
        self._stop_models()
        logger.info("engine stopped after %d windows", self.windows_closed)

    def _start_models(self) -> None:
        """Restore saved detectors and start the batch trainer's worker thread."""
        s = self.settings
        if s.persist_models:
            try:
                self._model_key = load_key(s.model_key_path)
                restored = restore_detectors(self.store, self._model_key, lambda stream: self.detector_for(stream).config)
                self.detectors.update(restored)
            except TuiMonitorError as exc:
                logger.warning("saved models not restored: %s", exc)
        if s.batch_interval_s > 0:
            loop = asyncio.get_running_loop()

            def on_fitted(stream: str, _model: object) -> None:
                loop.call_soon_threadsafe(self._save_fitted, stream)

            self._trainer = BatchTrainer(
                self.detectors, self._load_training_windows, interval_s=s.batch_interval_s, min_windows=s.batch_min_windows,
                on_fitted=on_fitted,
            )  # fmt: skip
            self._trainer.start()

    def _save_fitted(self, stream: str) -> None:
        """Save one stream's detector right after a batch fit, on the event loop (the store's writer).

        Without it a crash would lose every fit since the last periodic save,
        and the restarted engine would score without the batch model until
        its next training pass.
        """
        detector = self.detectors.get(stream)
        if self._model_key is None or detector is None:
            return
        try:
            save_detectors(self.store, {stream: detector}, self._model_key)
        except Exception:
            logger.exception("stream %s: saving the detector after its batch fit failed; the next save retries", stream)

    def _stop_models(self) -> None:
        if self._trainer is not None:
            self._trainer.stop()
            self._trainer = None
        self.save_models()

    def save_models(self) -> None:
        """Save every detector's state to the store (online models and batch models)."""
        if self._model_key is None or not self.detectors:
            return
        try:
            count = save_detectors(self.store, self.detectors, self._model_key)
            logger.info("saved %d detector states to %s", count, self.store.path)
        except Exception:
            logger.exception("saving detector state failed; it is retried at the next save")

    def _load_training_windows(self, stream: str) -> list[dict[str, float]]:
        """Read a stream's normal windows on the trainer's thread, with its own connection."""
        reader = FeatureStore(self.store.path, readonly=True)
        try:
            windows = reader.training_windows(stream)
        finally:
            reader.close()
        detector = self.detectors.get(stream)
        if detector is not None and detector.config.time_features:
            return [{**features, **time_features(wall_clock(start))} for start, features in windows]
        return [features for _, features in windows]

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
        self.rules.check()
        closed = self.aggregator.close_until(now)
        news = self._add_log_features(closed)
        # Log lines read before the first window still open are counted in the
        # windows closed now: their read positions are stored with them.
        checkpoint = self.ledger.take_before(window_start(now, self.settings.window_s))
        scored = self.process_windows(closed, log_checkpoint=checkpoint)
        for window, templates in news:
            found = self.new_templates.process(window.stream, window.start, window.end, templates)
            if found is not None:
                self._raise(found[0], found[1], window.end, is_hot=found[1] != "resolved")
        return scored

    def _add_log_features(self, closed: list[ClosedWindow]) -> list[tuple[ClosedWindow, list[tuple[int, str, int]]]]:
        """Add each log stream's parsed features (templates, error ratio, access-log figures).

        The pipeline counts since its last window, so when several windows of
        a stream close at once (after a stall) the latest one gets them. The
        source's own line and level counts, which follow the windows exactly,
        win over the pipeline's where both exist.

        Returns:
            Each log stream's latest closed window with the templates first
            seen in it (id, text, records).
        """
        latest = {w.stream: w for w in closed if w.stream in self.log_pipelines.pipelines}
        news = []
        for stream, window in latest.items():
            pipeline = self.log_pipelines.pipeline(stream)
            for name, value in pipeline.window_features().items():
                window.features.setdefault(name, value)
            news.append((window, pipeline.new_templates()))
        return news

    def process_windows(self, closed: list[ClosedWindow], *, log_checkpoint: LogCheckpoint | None = None) -> list[WindowScored]:
        """Score and store closed windows, oldest first, and publish the results."""
        scored = [self._score(window) for window in closed]
        samples = [(ts, w.stream, values) for w in closed for ts, values in w.samples]
        self.store.write_window_batch(samples, [s.window for s in scored], log_checkpoint=log_checkpoint)
        before = self.windows_closed
        self._report_store()
        self.windows_closed += len(scored)
        if before // _SAVE_EVERY_WINDOWS != self.windows_closed // _SAVE_EVERY_WINDOWS:
            self.save_models()
        for result in scored:
            self._publish(result)
            self._track_incident(result)
            if result.window.start >= self._started_at:  # the first, partial window is not scored
                for event, change in self._plugin_detectors.process(result.window):
                    self._record_event(event, change)
        self.notifier.tick(time.time())
        self._save_notifications()
        self.feedback.schedule_due()
        return scored

    def _save_notifications(self) -> None:
        attempts = self.notifier.drain()
        if attempts:
            save_notifications(self.store, attempts)

    def _record_event(self, event: EventRecord, change: str, outcome: RuleOutcome | None = None) -> None:
        self.store.save_event(event)
        self._report_store()
        self._publish(EventChanged(event, change, outcome))
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
                # Labels given in an attached UI reach the online detector and the retraining trigger.
                self.feedback.poll_labels()
            except sqlite3.Error as exc:
                # A broken file must not end this task; the window writes report the fault.
                if str(exc) != last_error:
                    logger.warning("reading annotations and labels failed: %s; retrying every %.0f s", exc, _ANNOTATION_POLL_S)
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
            decision = detector.process(window.features, ts=wall_clock(window.start))
        record.raw_score = decision.raw_score
        record.score = decision.score
        record.is_warmup = decision.is_warmup
        review = self.feedback.review(record, decision)
        if review.is_vetoed:
            decision.is_anomalous = False
        record.is_anomalous = decision.is_anomalous
        return WindowScored(record, decision, detector.state, review.is_vetoed)

    def _track_incident(self, result: WindowScored) -> None:
        """Open, update or resolve the stream's incident event, apply the rules, notify and explain."""
        decision = result.decision
        window = result.window
        if decision.incident is None or self._check_silenced(result):
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
                kind=decision.kind,
                top_features=decision.top_features,
                model_version="+".join([self.detector_for(window.stream).model_version, *self.feedback.versions_of(window.stream)]),
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
                event.kind = decision.kind
                event.top_features = decision.top_features
            change = "updated"

        self._raise(event, change, window.end, is_hot=decision.is_hot)
        if change == "opened":
            self.explanations.request(event, window, self.detector_for(window.stream))

    def _raise(self, event: EventRecord, change: str, ts: float, *, is_hot: bool) -> None:
        """Apply the rules to an event's change at ``ts``, store it, publish it and notify."""
        outcome = self.rules.evaluator.evaluate(event, change, ts, is_hot=is_hot)
        event.severity = outcome.severity
        if change == "opened":
            names = ", ".join(f["name"] for f in event.top_features[:3])
            quiet = f" (suppressed by {outcome.suppressed_by})" if outcome.suppressed_by else ""
            logger.warning("anomaly on %s (score %.3f): %s%s", event.stream, event.score, names, quiet)
        self._record_event(event, change, outcome)
        if event.id is not None:
            save_rule_outcome(self.store, event.id, outcome, ts)
        self.notifier.on_event(event, outcome, ts)

    async def wait_for_explanations(self, timeout_s: float | None = None) -> None:
        """Wait until every requested explanation is stored (or ``timeout_s`` passes)."""
        await self.explanations.wait(timeout_s)

    def _check_silenced(self, result: WindowScored) -> bool:
        """Return whether a learned model silences this incident; resolve an open event it now calls normal."""
        stream = result.window.stream
        incident = result.decision.incident
        if stream in self._silenced:
            if incident == "resolved":
                self._silenced.discard(stream)
                return True
            if result.decision.is_hot and not result.is_vetoed:
                # A window the learned models also call anomalous: report the incident after all.
                self._silenced.discard(stream)
                result.decision.incident = "opened"
                return False
            return True
        if not result.is_vetoed:
            return False
        self._silenced.add(stream)
        event = self.open_events.pop(stream, None)
        if event is not None:
            event.state = "resolved"
            event.updated_at = time.time()
            logger.info("event %s on %s resolved: the learned models call its windows normal", event.id, stream)
            self._record_event(event, "resolved")
        return True


async def _guard(name: str, work: object) -> None:
    """Run a source; log its failure with the traceback instead of ending the engine."""
    try:
        await work  # type: ignore[misc]
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("source %s failed and stopped; the other sources go on", name)
