"""Plugin interfaces (source, detector, notifier) and their loading.

A plugin is a Python file in a plugins folder, or an installed package that
declares an entry point in the group ``tui_monitor.plugins``. Either way it
provides a factory, a callable that takes a ``PluginContext`` and returns
plugin objects (one or an iterable)::

    # ~/.config/tui-monitor/plugins/disk_temp.py
    from tui_monitor.plugins import PluginContext, SourcePlugin

    class DiskTemperature(SourcePlugin):
        name = "disk_temp"
        async def run(self, emit):
            ...

    def create_plugins(context: PluginContext):
        return [DiskTemperature()]

A file names its factory ``create_plugins``; an entry point names it in its
value (``my_package.module:create_plugins``). Options given on the command
line as ``--plugin-option NAME.KEY=VALUE`` reach the factory through
``context.options_for(NAME)``.

A plugin that fails to load (import error, missing factory, wrong type) is
skipped; one that raises while running is disabled. Both are logged at
ERROR level and listed in ``LoadedPlugins.failures``; the engine goes on.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from tui_monitor.sources.base import ObservationSink
from tui_monitor.store import EventRecord

__all__ = [
    "ENTRY_POINT_GROUP",
    "DetectorPlugin",
    "LoadedPlugins",
    "NotifierPlugin",
    "Plugin",
    "PluginContext",
    "PluginFailure",
    "SourcePlugin",
    "default_plugin_dir",
    "load_plugins",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tui_monitor.plugins"
FACTORY_NAME = "create_plugins"


def default_plugin_dir() -> Path:
    """Return the plugins folder in the user's config folder (``.../tui-monitor/plugins``)."""
    return Path(platformdirs.user_config_dir("tui-monitor")) / "plugins"


@dataclass(frozen=True)
class PluginContext:
    """The input of a plugin factory: per-plugin options and the window length in seconds."""

    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    window_s: float = 10.0

    def options_for(self, name: str) -> Mapping[str, str]:
        """Return the ``--plugin-option NAME.KEY=VALUE`` pairs given for plugin ``name``."""
        return self.options.get(name, {})


class SourcePlugin(ABC):
    """A source: an async task that emits observations until cancelled.

    ``run`` runs on the engine's event loop, so it must await rather than
    block (use ``asyncio.create_subprocess_exec``, ``asyncio.to_thread``).
    Each ``Observation`` names its stream; its ``gauges`` become ``.mean``
    and ``.max`` features of the window and its ``counts`` are summed.
    Raising from ``run`` disables the plugin.
    """

    kind = "source"
    name: str = "source"

    @abstractmethod
    async def run(self, emit: ObservationSink) -> None:
        """Emit observations with ``emit`` until cancelled."""


class DetectorPlugin(ABC):
    """A detector that scores every closed window of every stream.

    ``score_one`` returns a score where higher means more anomalous. A window
    scoring at or above ``threshold`` is anomalous and opens (or extends) an
    event of that stream. The event resolves at the first window below it. The
    engine calls ``learn_one`` only for windows below the threshold. Both run
    on the event loop and must take well under a millisecond per call. The
    score's scale is the plugin's own and is stored as the event's raw score.
    """

    kind = "detector"
    name: str = "detector"
    threshold: float = 1.0

    @abstractmethod
    def score_one(self, stream: str, features: Mapping[str, float]) -> float:
        """Return the anomaly score of one window's features (higher is more anomalous)."""

    @abstractmethod
    def learn_one(self, stream: str, features: Mapping[str, float]) -> None:
        """Learn one normal window."""

    def explain_one(self, stream: str, features: Mapping[str, float]) -> list[dict[str, Any]]:
        """Return the features behind the last score, as dicts with ``name`` and ``value`` at least."""
        return []


class NotifierPlugin(ABC):
    """A notifier: sends each newly opened event somewhere.

    ``send`` runs in a worker thread with a timeout, so it may block on the
    network. It raises ``NotifyError`` for a failed delivery, which is
    logged and retried with the next event; any other exception disables
    the plugin.
    """

    kind = "notifier"
    name: str = "notifier"
    timeout_s: float = 10.0

    @abstractmethod
    def send(self, event: EventRecord) -> None:
        """Deliver one event."""


Plugin = SourcePlugin | DetectorPlugin | NotifierPlugin


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load or was disabled: where it came from and why."""

    origin: str
    message: str


@dataclass
class LoadedPlugins:
    """The plugins that loaded, by kind, and every failure so far."""

    sources: list[SourcePlugin] = field(default_factory=list)
    detectors: list[DetectorPlugin] = field(default_factory=list)
    notifiers: list[NotifierPlugin] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def fail(self, origin: str, message: str) -> None:
        """Record and log a failure."""
        self.failures.append(PluginFailure(origin, message))
        logger.error("plugin %s: %s", origin, message)

    def disable(self, plugin: Plugin, exc: BaseException) -> None:
        """Remove a plugin that raised while running and record why."""
        for group in (self.sources, self.detectors, self.notifiers):
            if plugin in group:
                group.remove(plugin)  # type: ignore[arg-type]
        self.fail(
            f"{plugin.kind} {plugin.name!r}",
            f"disabled after it raised {type(exc).__name__}: {exc}; fix the plugin and restart",
        )
        logger.debug("plugin %r traceback", plugin.name, exc_info=exc)

    @property
    def names(self) -> list[str]:
        """The loaded plugins as ``kind:name``."""
        every: list[Plugin] = [*self.sources, *self.detectors, *self.notifiers]
        return [f"{plugin.kind}:{plugin.name}" for plugin in every]

    def _add(self, origin: str, produced: object) -> None:
        items = produced if isinstance(produced, Iterable) else [produced]
        taken = set(self.names)
        for item in items:
            if isinstance(item, SourcePlugin):
                group: list[Any] = self.sources
            elif isinstance(item, DetectorPlugin):
                group = self.detectors
            elif isinstance(item, NotifierPlugin):
                group = self.notifiers
            else:
                self.fail(origin, f"returned {item!r}, expected a SourcePlugin, DetectorPlugin or NotifierPlugin")
                continue
            if f"{item.kind}:{item.name}" in taken:
                self.fail(origin, f"{item.kind} name {item.name!r} is already taken; give the plugin another name")
                continue
            taken.add(f"{item.kind}:{item.name}")
            group.append(item)
            logger.info("plugin %s: loaded %s %r", origin, item.kind, item.name)


def _run_factory(plugins: LoadedPlugins, origin: str, factory: object, context: PluginContext) -> None:
    if not callable(factory):
        plugins.fail(origin, f"{factory!r} is not callable; expected a factory taking a PluginContext")
        return
    try:
        produced = factory(context)
        if isinstance(produced, Iterator):
            # A generator factory runs its body, and may raise, only when iterated.
            produced = list(produced)
    except Exception as exc:
        plugins.fail(origin, f"factory raised {type(exc).__name__}: {exc}; fix the plugin or remove it")
        return
    plugins._add(origin, produced)


def _load_file(plugins: LoadedPlugins, path: Path, context: PluginContext) -> None:
    origin = f"file {str(path)!r}"
    module_name = f"tui_monitor_plugin_{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a loadable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        plugins.fail(origin, f"import failed with {type(exc).__name__}: {exc}; fix the file or move it out of the folder")
        return
    factory = getattr(module, FACTORY_NAME, None)
    if factory is None:
        plugins.fail(origin, f"defines no {FACTORY_NAME}(context) function; add one that returns the plugins")
        return
    _run_factory(plugins, origin, factory, context)


def load_plugins(
    dirs: Iterable[Path],
    context: PluginContext,
    *,
    is_entry_points: bool = True,
    entry_points: Callable[[], Iterable[importlib.metadata.EntryPoint]] | None = None,
) -> LoadedPlugins:
    """Load plugins from every ``*.py`` file in ``dirs`` (names starting with ``_`` skipped) and from entry points.

    A missing folder is skipped quietly (the default folder usually does not
    exist). Nothing raises: every failure is recorded in the result.
    """
    plugins = LoadedPlugins()
    for folder in dirs:
        if not folder.is_dir():
            logger.debug("plugin folder %s does not exist; skipped", folder)
            continue
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                _load_file(plugins, path, context)

    if is_entry_points:
        found = entry_points() if entry_points else importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in found:
            origin = f"entry point {entry_point.name!r} ({entry_point.value})"
            try:
                factory = entry_point.load()
            except Exception as exc:
                plugins.fail(origin, f"import failed with {type(exc).__name__}: {exc}; reinstall or uninstall its package")
                continue
            _run_factory(plugins, origin, factory, context)
    return plugins
