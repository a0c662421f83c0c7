"""Plugins: the bundled examples load from a folder and through an entry point; failures are contained."""

from __future__ import annotations

import asyncio
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from tui_monitor.engine import Engine, EventChanged, Update
from tui_monitor.plugins import DetectorPlugin, PluginContext, load_plugins
from tui_monitor.settings import Settings
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord

EXAMPLES = Path(__file__).resolve().parent.parent / "plugins"
COMMAND_OPTIONS = {"command": {"command": f"{sys.executable} -c \"print('queue=12 workers=3 status=ok')\"", "interval": "0.2"}}


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_examples_load_from_folder() -> None:
    plugins = load_plugins([EXAMPLES], PluginContext(COMMAND_OPTIONS), is_entry_points=False)
    assert plugins.failures == []
    assert [d.name for d in plugins.detectors] == ["robust_z"]
    assert len(plugins.sources) == 1
    assert plugins.sources[0].name.startswith("cmd.python")


def test_command_source_needs_command() -> None:
    plugins = load_plugins([EXAMPLES], PluginContext(), is_entry_points=False)
    assert [p.kind for p in plugins.sources] == []
    assert plugins.failures == []


def _install_package(site: Path, monkeypatch: pytest.MonkeyPatch, package: str, entry_points: str) -> None:
    """Make ``package`` importable from ``site`` with a dist-info that importlib.metadata finds."""
    dist = site / f"{package}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[tui_monitor.plugins]\n{entry_points}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))


def test_examples_load_through_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    package = site / "tm_examples"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    shutil.copy(EXAMPLES / "command_source.py", package / "command_source.py")
    shutil.copy(EXAMPLES / "robust_z.py", package / "robust_z.py")
    _install_package(
        site,
        monkeypatch,
        "tm_examples",
        "command = tm_examples.command_source:create_plugins\nrobust_z = tm_examples.robust_z:create_plugins",
    )
    plugins = load_plugins([], PluginContext(COMMAND_OPTIONS))
    assert plugins.failures == []
    assert type(plugins.detectors[0]).__module__ == "tm_examples.robust_z"
    assert type(plugins.sources[0]).__module__ == "tm_examples.command_source"
    sys.modules.pop("tm_examples", None)


def test_entry_point_import_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_package(tmp_path / "site", monkeypatch, "tm_broken", "broken = tm_broken_missing:create_plugins")
    plugins = load_plugins([], PluginContext())
    assert len(plugins.failures) == 1
    assert "entry point 'broken'" in plugins.failures[0].origin
    assert "ModuleNotFoundError" in plugins.failures[0].message


def test_file_import_error_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, "bad.py", "import not_a_module_anywhere\n")
    _write(tmp_path, "_private.py", "raise RuntimeError('never imported')\n")
    plugins = load_plugins([tmp_path], PluginContext(), is_entry_points=False)
    assert len(plugins.failures) == 1
    assert "bad.py" in plugins.failures[0].origin
    assert "not_a_module_anywhere" in plugins.failures[0].message
    assert any(r.levelname == "ERROR" and "bad.py" in r.getMessage() for r in caplog.records)


def test_file_without_factory_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "empty.py", "X = 1\n")
    plugins = load_plugins([tmp_path], PluginContext(), is_entry_points=False)
    assert "defines no create_plugins" in plugins.failures[0].message


def test_factory_returning_wrong_type_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "odd.py", "def create_plugins(context):\n    return [42]\n")
    plugins = load_plugins([tmp_path], PluginContext(), is_entry_points=False)
    assert "returned 42" in plugins.failures[0].message


def test_factory_raising_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "boom.py", "def create_plugins(context):\n    raise ValueError('no config')\n")
    plugins = load_plugins([tmp_path], PluginContext(), is_entry_points=False)
    assert "ValueError: no config" in plugins.failures[0].message


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "robust_z.py", tmp_path / "a.py")
    shutil.copy(EXAMPLES / "robust_z.py", tmp_path / "b.py")
    plugins = load_plugins([tmp_path], PluginContext(), is_entry_points=False)
    assert len(plugins.detectors) == 1
    assert "already taken" in plugins.failures[0].message


def test_missing_folder_is_skipped(tmp_path: Path) -> None:
    plugins = load_plugins([tmp_path / "absent"], PluginContext(), is_entry_points=False)
    assert plugins.failures == []


async def test_command_source_reads_pairs() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from command_source import CommandSource
    finally:
        sys.path.remove(str(EXAMPLES))
    source = CommandSource([sys.executable, "-c", "print('queue=12 workers=3\\nlatency_ms=4.5 x=oops')"], interval_s=0.1)
    assert await source.run_once() == {"queue": 12.0, "workers": 3.0, "latency_ms": 4.5}


async def test_command_source_failed_runs_return_none() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from command_source import CommandSource
    finally:
        sys.path.remove(str(EXAMPLES))
    assert await CommandSource([sys.executable, "-c", "import sys; sys.exit(3)"]).run_once() is None
    assert await CommandSource(["/nonexistent/program"]).run_once() is None
    slow = CommandSource([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.2)
    assert await slow.run_once() is None


def test_command_source_rejects_bad_interval() -> None:
    from tui_monitor.errors import ConfigError

    options = {"command": {"command": "uptime", "interval": "-1"}}
    plugins = load_plugins([EXAMPLES], PluginContext(options), is_entry_points=False)
    assert "interval='-1'" in plugins.failures[0].message
    assert ConfigError.__name__ in plugins.failures[0].message


def test_robust_z_flags_spike_after_warmup() -> None:
    plugins = load_plugins([EXAMPLES], PluginContext({"robust_z": {"min_history": "20"}}), is_entry_points=False)
    detector = plugins.detectors[0]
    scores = []
    for i in range(40):
        features = {"host.cpu.total_pct.mean": 10.0 + (i % 5)}
        scores.append(detector.score_one("host", features))
        detector.learn_one("host", features)
    spike = detector.score_one("host", {"host.cpu.total_pct.mean": 90.0})
    assert scores[:20] == [0.0] * 20
    assert max(scores[20:]) < detector.threshold
    assert spike >= detector.threshold
    assert detector.explain_one("host", {})[0]["name"] == "host.cpu.total_pct.mean"


class _AlwaysHot(DetectorPlugin):
    name = "always_hot"
    threshold = 1.0

    def score_one(self, stream, features):  # type: ignore[no-untyped-def]
        return 5.0

    def learn_one(self, stream, features):  # type: ignore[no-untyped-def]
        raise AssertionError("hot windows are not learned")


async def test_engine_disables_raising_plugins(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    _write(
        folder,
        "failing.py",
        """
        import time

        from tui_monitor.plugins import DetectorPlugin, SourcePlugin
        from tui_monitor.sources import Observation


        class FailingSource(SourcePlugin):
            name = "failing"

            async def run(self, emit):
                emit(Observation("plugin_stream", time.time(), gauges={"x": 1.0}))
                raise RuntimeError("sensor unplugged")


        class FailingDetector(DetectorPlugin):
            name = "failing_detector"

            def score_one(self, stream, features):
                raise ZeroDivisionError("bad maths")

            def learn_one(self, stream, features):
                pass


        def create_plugins(context):
            return [FailingSource(), FailingDetector()]
        """,
    )
    store = FeatureStore(tmp_path / "m.db")
    engine = Engine(Settings(db_path=store.path, window_s=0.5, plugin_dirs=[folder], is_entry_point_plugins=False), store)
    await engine.run(duration_s=1.6)
    store.close()
    assert engine.plugins.sources == []
    assert engine.plugins.detectors == []
    messages = [f.message for f in engine.plugins.failures]
    assert any("RuntimeError: sensor unplugged" in m for m in messages)
    assert any("ZeroDivisionError: bad maths" in m for m in messages)
    assert engine.sources["plugin.failing"].status == "failed"
    assert engine.windows_closed >= 2


async def test_plugin_detector_events_are_stored(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "m.db")
    engine = Engine(Settings(db_path=store.path, is_entry_point_plugins=False), store)
    engine.plugins.detectors.append(_AlwaysHot())
    updates: list[Update] = []
    engine.subscribe(updates.append)
    for i in range(3):
        window = WindowRecord("host", 100.0 + 10 * i, 110.0 + 10 * i, {"host.cpu.total_pct.mean": 50.0})
        for event, change in engine._plugin_detectors.process(window):
            engine._record_event(event, change)
    changes = [u.change for u in updates if isinstance(u, EventChanged)]
    stored = store.events_since(0)
    store.close()
    assert changes == ["opened", "updated", "updated"]
    assert len(stored) == 1
    assert stored[0].model_version == "plugin:always_hot"
    assert stored[0].window_end == 130.0


async def test_notifier_failures_are_contained(tmp_path: Path) -> None:
    from tui_monitor.errors import NotifyError
    from tui_monitor.plugin_runtime import PluginNotifiers
    from tui_monitor.plugins import LoadedPlugins, NotifierPlugin

    delivered: list[int | None] = []

    class Flaky(NotifierPlugin):
        name = "flaky"

        def send(self, event: EventRecord) -> None:
            raise NotifyError("HTTP 503 from 127.0.0.1")

    class Buggy(NotifierPlugin):
        name = "buggy"

        def send(self, event: EventRecord) -> None:
            raise KeyError("oops")

    class Good(NotifierPlugin):
        name = "good"

        def send(self, event: EventRecord) -> None:
            delivered.append(event.id)

    plugins = LoadedPlugins(notifiers=[Flaky(), Buggy(), Good()])
    notifiers = PluginNotifiers(plugins)
    event = EventRecord("host", 0.0, 10.0, 0.99, 0.5, "minor", id=7)
    await notifiers.send(event)
    await notifiers.send(event)
    assert delivered == [7, 7]
    assert [n.name for n in plugins.notifiers] == ["flaky", "good"]
    assert notifiers.failed == 3
    assert "KeyError" in plugins.failures[0].message


def test_cli_plugin_option_parsing() -> None:
    from tui_monitor.cli import _settings_from, build_parser

    args = build_parser().parse_args(
        ["--plugins", "/tmp/p", "--plugin-option", "command.command=uptime -p", "--plugin-option", "command.interval=5"]
    )
    settings = _settings_from(args)
    assert settings.plugin_dirs == [Path("/tmp/p")]
    assert settings.plugin_options == {"command": {"command": "uptime -p", "interval": "5"}}


def test_cli_rejects_malformed_plugin_option(capsys: pytest.CaptureFixture[str]) -> None:
    from tui_monitor.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--plugin-option", "novalue"])
    assert "expected NAME.KEY=VALUE" in capsys.readouterr().err


async def test_command_source_feeds_engine_windows(tmp_path: Path) -> None:
    options = {"command": {"command": f"{sys.executable} -c \"print('queue=12')\"", "interval": "0.2", "stream": "cmd.queue"}}
    store = FeatureStore(tmp_path / "m.db")
    settings = Settings(db_path=store.path, window_s=0.5, plugin_dirs=[EXAMPLES], plugin_options=options, is_entry_point_plugins=False)
    engine = Engine(settings, store)
    await asyncio.wait_for(engine.run(duration_s=2.2), timeout=10)
    windows = store.windows_since("cmd.queue", 0)
    store.close()
    assert windows
    assert windows[-1].features["cmd.queue.queue.mean"] == 12.0
