"""The ``tui-monitor`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from tui_monitor import __version__
from tui_monitor.config import apply_config, check_notify_urls, duration_seconds, find_config, load_config
from tui_monitor.errors import ConfigError, TuiMonitorError
from tui_monitor.alerts import targets_from
from tui_monitor.alerts._commands import print_notifications
from tui_monitor.logsetup import configure_logging
from tui_monitor.plugins import default_plugin_dir
from tui_monitor.retention import database_size_bytes, format_bytes
from tui_monitor.rules._commands import add_rules_commands, run_rules_command
from tui_monitor.settings import Settings, default_db_path, default_rules_dir, parse_endpoint
from tui_monitor.store import FeatureStore, add_annotation
from tui_monitor.sources.process import parse_process
from tui_monitor.sources.prometheus import parse_scrape

__all__ = ["build_parser", "main", "parse_duration"]

logger = logging.getLogger(__name__)

def parse_duration(text: str) -> float:
    """Parse ``90``, ``30s``, ``15m``, ``1h``, ``7d`` or ``2w`` into seconds.

    >>> parse_duration("1h"), parse_duration("90")
    (3600.0, 90.0)
    """
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected e.g. 10 or 0.5") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected a finite value above 0")
    return value


def _positive_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: expected e.g. 2 or 0.5") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: expected a finite value above 0")
    return value


def _plugin_option(text: str) -> tuple[str, str, str]:
    name, dot, rest = text.partition(".")
    key, equals, value = rest.partition("=")
    if not (name and dot and key and equals):
        raise argparse.ArgumentTypeError(
            f"invalid --plugin-option {text!r}: expected NAME.KEY=VALUE, e.g. command.command='uptime'"
        )
    return name, key, value


def _add_db_option(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument("--db", type=Path, default=None, metavar="PATH", dest=dest, help="feature store file (default: the engine's default)")


def _add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="summarise a period of the store in Markdown or HTML")
    _add_db_option(report, "report_db")
    report.add_argument("--since", type=parse_duration, default=parse_duration("1d"), metavar="TIME", help="period to cover, e.g. 1d, 7d, 30d (default: 1d)")
    report.add_argument(
        "--format", choices=("md", "html"), default=None,
        help="md (text charts) or html (inline SVG charts); default: html when -o ends in .html or .htm, else md",
    )  # fmt: skip
    report.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write the report to FILE (default: stdout)")

    annotate = sub.add_parser("annotate", help="record a marker, e.g. a deployment, that charts and reports show")
    _add_db_option(annotate, "annotate_db")
    annotate.add_argument("text", help='what happened, e.g. "deployed v1.4"')
    annotate.add_argument("--user", default=None, help="who made it (default: the login name)")

    models = sub.add_parser("models", help="list model versions; promote one or roll a stream back")
    _add_db_option(models, "models_db")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    promote = models_sub.add_parser("promote", help="use version ID for its stream and kind, overriding the validation gate")
    promote.add_argument("model_id", type=int, metavar="ID", help="version id from `tui-monitor models`")
    _add_db_option(promote, "models_action_db")
    rollback = models_sub.add_parser("rollback", help="go back to the version of STREAM promoted before the current one")
    rollback.add_argument("stream", metavar="STREAM", help="stream name, e.g. host or http.api")
    rollback.add_argument("--kind", choices=("iforest", "gbm"), default="iforest", help="model kind (default: iforest)")
    _add_db_option(rollback, "models_action_db")

    attach = sub.add_parser("attach", help="open the UI on the store of a running headless engine (no engine of its own)")
    _add_db_option(attach, "attach_db")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``tui-monitor`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="tui-monitor",
        description="Watch this machine, its logs and endpoints; learn what is normal and show what is not.",
    )
    parser.add_argument("--version", action="version", version=f"tui-monitor {__version__}")
    parser.add_argument(
        "--config", type=Path, default=None, metavar="PATH",
        help="config file, TOML or YAML (default: ./tui-monitor.toml|yaml, then the user's config folder); options override it",
    )  # fmt: skip
    parser.add_argument("--db", type=Path, default=None, metavar="PATH", help=f"feature store file (default: {default_db_path()})")
    parser.add_argument(
        "--log", action="append", default=[], metavar="PATH",
        help="log file to follow; repeatable; globs allowed (quote them); a missing file is picked up when it appears",
    )  # fmt: skip
    parser.add_argument(
        "--url", action="append", default=[], metavar="[NAME=]URL",
        help="HTTP endpoint to check with GET; repeatable; NAME names the stream (default: host and port)",
    )  # fmt: skip
    parser.add_argument(
        "--proc", action="append", default=[], metavar="[STREAM=]NAME|~REGEX|@PIDFILE",
        help="process to watch by name, command-line regex (~) or pid file (@); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--scrape", action="append", default=[], metavar="[NAME=]URL",
        help="Prometheus metrics page to scrape; repeatable; NAME names the stream (default: host and port)",
    )  # fmt: skip
    parser.add_argument("--window", type=_positive_seconds, default=None, metavar="SECONDS", help="window length in seconds (default: 10)")
    parser.add_argument("--interval", type=_positive_seconds, default=None, metavar="SECONDS", help="host poll interval in seconds (default: 1, or the window if shorter)")
    parser.add_argument("--url-interval", type=_positive_seconds, default=None, metavar="SECONDS", help="endpoint check interval in seconds (default: 5)")
    parser.add_argument("--url-timeout", type=_positive_seconds, default=None, metavar="SECONDS", help="endpoint check timeout in seconds (default: 5)")
    parser.add_argument("--warmup", type=int, default=None, metavar="WINDOWS", help="windows each detector learns before it may alert (default: 30)")
    parser.add_argument("--threshold", type=float, default=None, help="calibrated score (0..1) at which a window counts as anomalous (default: 0.995)")
    parser.add_argument("--headless", action="store_true", help="run without the terminal UI; print one JSON line per anomaly on stdout")
    parser.add_argument("--duration", type=parse_duration, default=None, metavar="TIME", help="stop after this time, e.g. 60, 10m, 1h (default: run until stopped)")
    parser.add_argument(
        "--log-file", type=Path, default=None, metavar="PATH",
        help="write the app's own log to PATH, rotated at 5 MB with 3 old files kept "
        f"(default: stderr with --headless, else {_ui_log_file()})",
    )  # fmt: skip
    parser.add_argument("--plugins", type=Path, action="append", default=None, metavar="DIR", help=f"folder of plugin files; repeatable (default: {default_plugin_dir()})")
    parser.add_argument("--no-plugin-entry-points", action="store_true", help="do not load plugins from installed packages' entry points")
    parser.add_argument("--plugin-option", type=_plugin_option, action="append", default=[], metavar="NAME.KEY=VALUE", help="an option for plugin NAME; repeatable")
    parser.add_argument("--keep-samples", type=_positive_days, default=None, metavar="DAYS", help="days of raw samples and stored log lines to keep (default: 2)")
    parser.add_argument("--keep-windows", type=_positive_days, default=None, metavar="DAYS", help="days of window feature vectors to keep (default: 30)")
    parser.add_argument("--keep-events", type=_positive_days, default=None, metavar="DAYS", help="days of events, labels and annotations to keep (default: 365)")
    parser.add_argument("--rules", type=Path, default=None, metavar="DIR", help=f"folder of YAML rule files (default: {default_rules_dir()})")
    parser.add_argument(
        "--notify", action="append", default=[], metavar="[TAG,TAG=]URL",
        help="Apprise URL to notify, e.g. json://127.0.0.1:8080/hook; repeatable; TAGs pick severities "
        "(minor, major, critical) or rule tags; TUI_MONITOR_NOTIFY_URLS adds more, separated by spaces",
    )  # fmt: skip
    parser.add_argument("--retention-interval", type=_positive_seconds, default=None, metavar="SECONDS", help="seconds between retention prunes (default: 600)")
    parser.add_argument(
        "--db-reset-corrupt", action="store_true",
        help="if the feature store file is corrupt, rename it (kept, never deleted) to FILE.corrupt-<UTC time> and start a fresh one",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    events = sub.add_parser("events", help="list stored anomaly events")
    events.add_argument("--db", type=Path, default=None, metavar="PATH", dest="events_db", help="feature store file (default: the engine's default)")
    events.add_argument("--since", type=parse_duration, default=parse_duration("1h"), metavar="TIME", help="how far back, e.g. 30m, 1h, 7d (default: 1h)")
    events.add_argument("--json", action="store_true", help="print one JSON object per line")
    _add_subcommands(sub)
    add_rules_commands(sub, parse_duration)
    notifications = sub.add_parser("notifications", help="list stored notification attempts and their outcomes")
    notifications.add_argument("--db", type=Path, default=None, metavar="PATH", dest="notifications_db", help="feature store file (default: the engine's default)")
    notifications.add_argument("--since", type=parse_duration, default=parse_duration("1d"), metavar="TIME", help="how far back (default: 1d)")
    notifications.add_argument("--json", action="store_true", help="print one JSON object per line")

    replay = sub.add_parser("replay", help="run the detectors over stored windows or a timestamp,value CSV and write scores")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, default=None, metavar="PATH", dest="replay_db", help="feature store whose stored windows to replay")
    source.add_argument("--csv", type=Path, default=None, help="CSV file with a 'timestamp,value' header, in time order")
    replay.add_argument("--stream", action="append", default=[], help="stream to replay from --db; repeatable (default: all)")
    replay.add_argument("--out", type=Path, default=None, help="CSV file to write scores to (default: standard output)")
    replay.add_argument("--threshold", type=float, default=None, dest="replay_threshold", help="calibrated score threshold (default: 0.995)")
    return parser


def _ui_log_file() -> Path:
    return Path(platformdirs.user_log_dir("tui-monitor")) / "tui-monitor.log"


def _load_configured(args: argparse.Namespace) -> Settings:
    """Return the defaults with the config file's values, checked; no options applied yet."""
    settings = Settings()
    config_path = find_config(args.config)
    if config_path is not None:
        values = load_config(config_path)
        check_notify_urls(config_path, values.get("notify_urls", []))
        apply_config(settings, values)
    return settings


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = _load_configured(args)

    # Options override the config file; list options add to its lists.
    overrides = {
        "db_path": args.db,
        "window_s": args.window,
        "host_interval_s": args.interval,
        "endpoint_interval_s": args.url_interval,
        "endpoint_timeout_s": args.url_timeout,
        "warmup_windows": args.warmup,
        "threshold": args.threshold,
        "rules_dir": args.rules,
        "duration_s": args.duration,
        "log_file": args.log_file,
        "samples_retention_days": args.keep_samples,
        "windows_retention_days": args.keep_windows,
        "events_retention_days": args.keep_events,
        "retention_interval_s": args.retention_interval,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    # A flag can only switch its setting one way; without it the file decides.
    settings.is_headless = settings.is_headless or args.headless
    settings.is_verbose = settings.is_verbose or args.verbose
    settings.can_reset_corrupt_db = settings.can_reset_corrupt_db or args.db_reset_corrupt
    settings.is_entry_point_plugins = settings.is_entry_point_plugins and not args.no_plugin_entry_points

    settings.log_paths = [*settings.log_paths, *args.log]
    settings.endpoints = [*settings.endpoints, *(parse_endpoint(text) for text in args.url)]
    settings.processes = [*settings.processes, *(parse_process(text) for text in args.proc)]
    settings.scrapes = [*settings.scrapes, *(parse_scrape(text) for text in args.scrape)]
    settings.plugin_dirs = [*settings.plugin_dirs, *(args.plugins or [])] or [default_plugin_dir()]
    settings.notify_urls = [*settings.notify_urls, *args.notify]
    if args.interval is None:
        settings.host_interval_s = min(settings.host_interval_s, settings.window_s)
    for name, key, value in args.plugin_option:
        settings.plugin_options.setdefault(name, {})[key] = value
    settings.validate()
    targets_from(settings.notify_urls)  # an invalid notify URL fails here, before the engine starts
    return settings


def _configured(args: argparse.Namespace) -> dict[str, Any]:
    """Return the config file's checked values (Settings field names), or {} without a file."""
    config_path = find_config(args.config)
    return load_config(config_path) if config_path is not None else {}


def _db_path(args: argparse.Namespace, command_db: Path | None) -> Path:
    """Return the store a subcommand reads: its own --db, the global --db, the config file's, the default."""
    return command_db or args.db or _configured(args).get("db_path") or default_db_path()


def _print_events(args: argparse.Namespace) -> int:
    db_path = _db_path(args, args.events_db)
    store = FeatureStore(db_path, readonly=True)
    try:
        events = store.events_since(time.time() - args.since)
    finally:
        store.close()
    if args.json:
        for event in events:
            print(json.dumps(event.to_json()))
        return 0
    size = format_bytes(database_size_bytes(Path(db_path)))
    if not events:
        print(f"no events in {db_path} since {datetime.fromtimestamp(time.time() - args.since):%Y-%m-%d %H:%M:%S}")
        print(f"database size: {size}")
        return 0
    print(f"{'started':19}  {'stream':24} {'score':>6}  {'severity':8} {'state':8} top features")
    for event in events:
        started = datetime.fromtimestamp(event.window_start).strftime("%Y-%m-%d %H:%M:%S")
        names = ", ".join(f["name"] for f in event.top_features[:3])
        print(f"{started}  {event.stream:24} {event.score:6.3f}  {event.severity:8} {event.state:8} {names}")
    print(f"{len(events)} events; database {db_path}: {size}")
    return 0


def _write_report(args: argparse.Namespace) -> int:
    from tui_monitor.reports import render_report

    db_path = _db_path(args, args.report_db)
    fmt = args.format
    if fmt is None:
        is_html = args.output is not None and args.output.suffix.lower() in (".html", ".htm")
        fmt = "html" if is_html else "md"
    text = render_report(db_path, since_s=args.since, fmt=fmt)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write report to {str(args.output)!r}: {exc.strerror}; choose another -o FILE") from exc
    print(f"report written to {args.output}")
    return 0


def _annotate(args: argparse.Namespace) -> int:
    db_path = _db_path(args, args.annotate_db)
    if not Path(db_path).exists():
        raise ConfigError(f"database {str(db_path)!r} not found: run tui-monitor first, or pass the engine's file with --db PATH")
    store = FeatureStore(db_path)
    try:
        annotation = add_annotation(store.db.conn, args.text, user=args.user, source="cli")
    finally:
        store.close()
    print(f"annotation {annotation.id} recorded at {datetime.fromtimestamp(annotation.ts):%Y-%m-%d %H:%M:%S} by {annotation.user}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from tui_monitor.feedback import list_versions, promote, rollback

    db_path = _db_path(args, getattr(args, "models_action_db", None) or args.models_db)
    if not Path(db_path).exists():
        raise ConfigError(f"database {str(db_path)!r} not found: run tui-monitor first, or pass the engine's file with --db PATH")
    command = getattr(args, "models_command", None)
    store = FeatureStore(db_path, readonly=command is None)
    try:
        if command == "promote":
            version = promote(store.db.conn, args.model_id)
            print(f"{version.kind} model {version.id} of {version.stream} promoted; a running engine uses it after its next restart")
            return 0
        if command == "rollback":
            version = rollback(store.db.conn, args.stream, args.kind)
            print(f"{version.kind} model of {version.stream} rolled back to {version.id}; a running engine uses it after its next restart")
            return 0
        if "models" not in store.db.table_names():
            print(f"no models in {db_path}")
            return 0
        versions = list_versions(store.db.conn)
    finally:
        store.close()
    if not versions:
        print(f"no models in {db_path}")
        return 0
    print(f"{'id':>4}  {'stream':20} {'kind':8} {'status':12} {'trigger':9} {'trained':16} {'windows':>7} {'prec':>5} {'recall':>6} {'AP':>5}  reason")
    for v in versions:
        m = v.metrics.get("candidate", {})
        cells = [("-" if m.get(key) is None else f"{m[key]:.2f}") for key in ("precision", "recall", "average_precision")]
        trained = datetime.fromtimestamp(v.created_at).strftime("%Y-%m-%d %H:%M")
        print(f"{v.id:>4}  {v.stream:20} {v.kind:8} {v.status:12} {v.trigger:9} {trained:16} {v.n_windows:>7} {cells[0]:>5} {cells[1]:>6} {cells[2]:>5}  {v.reason}")
    return 0


def _attach(args: argparse.Namespace) -> int:
    configured = _configured(args)
    db_path = args.attach_db or args.db or configured.get("db_path") or default_db_path()
    if not Path(db_path).exists():
        raise ConfigError(f"database {str(db_path)!r} not found: start the engine first, or pass its file with --db PATH")
    log_file = Path(platformdirs.user_log_dir("tui-monitor")) / "tui-monitor-attach.log"
    is_verbose = args.verbose or configured.get("is_verbose", False)
    configure_logging(level=logging.DEBUG if is_verbose else logging.INFO, log_file=log_file)
    store = FeatureStore(db_path)
    try:
        from tui_monitor.ui.attach import AttachApp

        AttachApp(store, log_file=log_file).run()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


_SUBCOMMANDS = {"events": _print_events, "report": _write_report, "annotate": _annotate, "attach": _attach, "models": _models}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tui-monitor``; return the exit status (2 for bad options or an unusable store)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in _SUBCOMMANDS:
            return _SUBCOMMANDS[args.command](args)
        if args.command == "rules":
            rules_dir = args.rules or _configured(args).get("rules_dir") or default_rules_dir()
            return run_rules_command(args, rules_dir, _db_path(args, getattr(args, "rules_db", None)))
        if args.command == "notifications":
            return print_notifications(_db_path(args, args.notifications_db), args.since, as_json=args.json)
        if args.command == "replay":
            from tui_monitor.replay import run_replay

            return run_replay(args)
        settings = _settings_from(args)
    except ConfigError as exc:
        # The message names the option and the fix; the full usage would push it off the screen.
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        print("run 'tui-monitor --help' for every option", file=sys.stderr)
        return 2
    except TuiMonitorError as exc:
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        return 2

    is_headless = settings.is_headless or not sys.stdout.isatty()
    level = logging.DEBUG if settings.is_verbose else logging.INFO
    log_file = settings.log_file if is_headless else settings.log_file or _ui_log_file()
    configure_logging(level=level, log_file=log_file)
    if settings.config_path is not None:
        logger.info("config loaded from %s", settings.config_path)

    try:
        store = FeatureStore(settings.db_path, reset_corrupt=settings.can_reset_corrupt_db)
    except TuiMonitorError as exc:
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        return 2
    if store.set_aside_path is not None:
        print(
            f"tui-monitor: database {str(settings.db_path)!r} was corrupt: kept as {str(store.set_aside_path)!r} "
            "(salvage rows with: sqlite3 FILE .recover); started a fresh database",
            file=sys.stderr,
        )

    try:
        if is_headless:
            from tui_monitor.headless import run_headless

            asyncio.run(run_headless(settings, store, duration_s=settings.duration_s))
        else:
            from tui_monitor.ui import MonitorApp

            MonitorApp(settings, store, duration_s=settings.duration_s, log_file=log_file).run()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0
