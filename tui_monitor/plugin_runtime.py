"""Run loaded plugins inside the engine, disabling any that raises.

Each piece wraps one kind of plugin so that the engine calls plain methods:
``PluginSource`` is a source task, ``PluginDetectors`` turns windows into
events, ``PluginNotifiers`` sends opened events from worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from tui_monitor.errors import NotifyError
from tui_monitor.plugins import DetectorPlugin, LoadedPlugins, SourcePlugin
from tui_monitor.sources.base import ObservationSink, SourceState, StateSink
from tui_monitor.store import EventRecord, WindowRecord

__all__ = ["PluginDetectors", "PluginNotifiers", "PluginSource"]

logger = logging.getLogger(__name__)


class PluginSource:
    """A plugin source as an engine source: runs it and disables it if it raises."""

    def __init__(self, plugin: SourcePlugin, plugins: LoadedPlugins, emit: ObservationSink, report: StateSink) -> None:
        self.plugin = plugin
        self.name = f"plugin.{plugin.name}"
        self._plugins = plugins
        self._emit = emit
        self._report = report

    async def run(self) -> None:
        """Run the plugin until cancelled; a plugin that returns or raises stops here."""
        self._report(SourceState(self.name, "running", "plugin"))
        logger.info("plugin source %s started", self.plugin.name)
        try:
            await self.plugin.run(self._emit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._plugins.disable(self.plugin, exc)
            self._report(SourceState(self.name, "failed", f"plugin disabled: {type(exc).__name__}: {exc}"))
            return
        logger.info("plugin source %s returned; it produces nothing more", self.plugin.name)
        self._report(SourceState(self.name, "down", "plugin returned"))


class PluginDetectors:
    """Score closed windows with every detector plugin and track one incident per (detector, stream)."""

    def __init__(self, plugins: LoadedPlugins) -> None:
        self._plugins = plugins
        self.open_events: dict[tuple[str, str], EventRecord] = {}

    def process(self, window: WindowRecord) -> list[tuple[EventRecord, str]]:
        """Score one window with each detector; return the events opened, updated or resolved."""
        changes: list[tuple[EventRecord, str]] = []
        for detector in list(self._plugins.detectors):
            try:
                change = self._process_one(detector, window)
            except Exception as exc:
                self._plugins.disable(detector, exc)
                continue
            if change is not None:
                changes.append(change)
        return changes

    def _process_one(self, detector: DetectorPlugin, window: WindowRecord) -> tuple[EventRecord, str] | None:
        score = float(detector.score_one(window.stream, window.features))
        is_hot = math.isfinite(score) and score >= detector.threshold
        if not is_hot:
            detector.learn_one(window.stream, window.features)

        key = (detector.name, window.stream)
        event = self.open_events.get(key)
        if event is None and not is_hot:
            return None
        if event is None:
            event = EventRecord(
                stream=window.stream,
                window_start=window.start,
                window_end=window.end,
                score=1.0,
                raw_score=score,
                severity="major" if score >= 2 * detector.threshold else "minor",
                top_features=detector.explain_one(window.stream, window.features),
                model_version=f"plugin:{detector.name}",
            )
            self.open_events[key] = event
            return event, "opened"

        event.updated_at = time.time()
        if not is_hot:
            event.state = "resolved"
            del self.open_events[key]
            return event, "resolved"
        event.window_end = window.end
        if score > event.raw_score:
            event.raw_score = score
            event.severity = "major" if score >= 2 * detector.threshold else "minor"
            event.top_features = detector.explain_one(window.stream, window.features)
        return event, "updated"


class PluginNotifiers:
    """Send opened events through every notifier plugin, each in a worker thread."""

    def __init__(self, plugins: LoadedPlugins) -> None:
        self._plugins = plugins
        self.sent = 0
        self.failed = 0

    async def send(self, event: EventRecord) -> None:
        """Send ``event`` through each notifier; failures are logged, a notifier bug disables it."""
        for notifier in list(self._plugins.notifiers):
            try:
                await asyncio.wait_for(asyncio.to_thread(notifier.send, event), timeout=notifier.timeout_s)
            except (NotifyError, TimeoutError) as exc:
                self.failed += 1
                logger.warning("notifier %s failed for event %s: %s", notifier.name, event.id, exc or "timed out")
            except Exception as exc:
                self.failed += 1
                self._plugins.disable(notifier, exc)
            else:
                self.sent += 1
