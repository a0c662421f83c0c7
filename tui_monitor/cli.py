"""The ``tui-monitor`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import platformdirs

from tui_monitor import __version__
from tui_monitor.errors import ConfigError, TuiMonitorError
from tui_monitor.logsetup import configure_logging
from tui_monitor.settings import Settings, default_db_path, parse_endpoint
from tui_monitor.plugins import default_plugin_dir
from tui_monitor.retention import database_size_bytes, format_bytes
from tui_monitor.store import FeatureStore, add_annotation

__all__ = ["build_parser", "main", "parse_duration"]

logger = logging.getLogger(__name__)

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``30s``, ``15m``, ``1h``, ``7d`` or ``2w`` into seconds.

    >>> parse_duration("1h"), parse_duration("90")
    (3600.0, 90.0)
    """
    match = _DURATION_RE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected a number with an optional unit s, m, h, d or w, e.g. 15m or 1h"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: too large; expected e.g. 15m or 7d")
    return seconds


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
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid number of days {text!r}: expected a value above 0")
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
    parser.add_argument("--db", type=Path, default=None, dest=dest, help="feature store file (default: the engine's default)")


def _add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="summarise a period of the store in Markdown or HTML")
    _add_db_option(report, "report_db")
    report.add_argument("--since", type=parse_duration, default=parse_duration("1d"), metavar="TIME", help="period to cover, e.g. 1d, 7d, 30d (default: 1d)")
    report.add_argument("--format", choices=("md", "html"), default="md", help="md (text charts) or html (inline SVG charts); default: md")
    report.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write the report to FILE (default: stdout)")

    annotate = sub.add_parser("annotate", help="record a marker, e.g. a deployment, that charts and reports show")
    _add_db_option(annotate, "annotate_db")
    annotate.add_argument("text", help='what happened, e.g. "deployed v1.4"')
    annotate.add_argument("--user", default=None, help="who made it (default: the login name)")

    attach = sub.add_parser("attach", help="open the UI on the store of a running headless engine (no engine of its own)")
    _add_db_option(attach, "attach_db")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``tui-monitor`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="tui-monitor",
        description="Watch this machine, its logs and endpoints; learn what is normal and show what is not.",
    )
    parser.add_argument("--version", action="version", version=f"tui-monitor {__version__}")
    parser.add_argument("--db", type=Path, default=None, help=f"feature store file (default: {default_db_path()})")
    parser.add_argument(
        "--log", action="append", default=[], metavar="PATH",
        help="log file to follow; repeatable; globs allowed (quote them); a missing file is picked up when it appears",
    )  # fmt: skip
    parser.add_argument(
        "--url", action="append", default=[], metavar="[NAME=]URL",
        help="HTTP endpoint to check with GET; repeatable; NAME names the stream (default: host and port)",
    )  # fmt: skip
    parser.add_argument("--window", type=_positive_seconds, default=10.0, metavar="SECONDS", help="window length in seconds (default: 10)")
    parser.add_argument("--interval", type=_positive_seconds, default=None, metavar="SECONDS", help="host poll interval in seconds (default: 1, or the window if shorter)")
    parser.add_argument("--url-interval", type=_positive_seconds, default=5.0, metavar="SECONDS", help="endpoint check interval in seconds (default: 5)")
    parser.add_argument("--url-timeout", type=_positive_seconds, default=5.0, metavar="SECONDS", help="endpoint check timeout in seconds (default: 5)")
    parser.add_argument("--warmup", type=int, default=30, metavar="WINDOWS", help="windows each detector learns before it may alert (default: 30)")
    parser.add_argument("--threshold", type=float, default=0.98, help="calibrated score (0..1) at which a window counts as anomalous (default: 0.98)")
    parser.add_argument("--headless", action="store_true", help="run without the terminal UI; print one JSON line per anomaly on stdout")
    parser.add_argument("--duration", type=parse_duration, default=None, metavar="TIME", help="stop after this time, e.g. 60, 10m, 1h (default: run until stopped)")
    parser.add_argument("--log-file", type=Path, default=None, metavar="PATH", help="with --headless: log to PATH, rotated at 5 MB with 3 old files kept (default: stderr)")
    parser.add_argument("--plugins", type=Path, action="append", default=None, metavar="DIR", help=f"folder of plugin files; repeatable (default: {default_plugin_dir()})")
    parser.add_argument("--no-plugin-entry-points", action="store_true", help="do not load plugins from installed packages' entry points")
    parser.add_argument("--plugin-option", type=_plugin_option, action="append", default=[], metavar="NAME.KEY=VALUE", help="an option for plugin NAME; repeatable")
    parser.add_argument("--keep-samples", type=_positive_days, default=2.0, metavar="DAYS", help="days of raw samples to keep (default: 2)")
    parser.add_argument("--keep-windows", type=_positive_days, default=30.0, metavar="DAYS", help="days of window feature vectors to keep (default: 30)")
    parser.add_argument("--keep-events", type=_positive_days, default=365.0, metavar="DAYS", help="days of events, labels and annotations to keep (default: 365)")
    parser.add_argument("--retention-interval", type=_positive_seconds, default=600.0, metavar="SECONDS", help="seconds between retention prunes (default: 600)")
    parser.add_argument(
        "--db-reset-corrupt", action="store_true",
        help="if the feature store file is corrupt, rename it (kept, never deleted) to FILE.corrupt-<UTC time> and start a fresh one",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    events = sub.add_parser("events", help="list stored anomaly events")
    events.add_argument("--db", type=Path, default=None, dest="events_db", help="feature store file (default: the engine's default)")
    events.add_argument("--since", type=parse_duration, default=parse_duration("1h"), metavar="TIME", help="how far back, e.g. 30m, 1h, 7d (default: 1h)")
    events.add_argument("--json", action="store_true", help="print one JSON object per line")
    _add_subcommands(sub)
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(
        db_path=args.db or default_db_path(),
        log_paths=list(args.log),
        endpoints=[parse_endpoint(text) for text in args.url],
        window_s=args.window,
        host_interval_s=args.interval if args.interval is not None else min(1.0, args.window),
        endpoint_interval_s=args.url_interval,
        endpoint_timeout_s=args.url_timeout,
        warmup_windows=args.warmup,
        threshold=args.threshold,
        samples_retention_days=args.keep_samples,
        windows_retention_days=args.keep_windows,
        events_retention_days=args.keep_events,
        retention_interval_s=args.retention_interval,
        plugin_dirs=args.plugins if args.plugins is not None else [default_plugin_dir()],
        is_entry_point_plugins=not args.no_plugin_entry_points,
    )
    for name, key, value in args.plugin_option:
        settings.plugin_options.setdefault(name, {})[key] = value
    settings.validate()
    return settings


def _print_events(args: argparse.Namespace) -> int:
    db_path = args.events_db or args.db or default_db_path()
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

    db_path = args.report_db or args.db or default_db_path()
    text = render_report(db_path, since_s=args.since, fmt=args.format)
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
    db_path = args.annotate_db or args.db or default_db_path()
    if not Path(db_path).exists():
        raise ConfigError(f"database {str(db_path)!r} not found: run tui-monitor first, or pass the engine's file with --db PATH")
    store = FeatureStore(db_path)
    try:
        annotation = add_annotation(store.db.conn, args.text, user=args.user, source="cli")
    finally:
        store.close()
    print(f"annotation {annotation.id} recorded at {datetime.fromtimestamp(annotation.ts):%Y-%m-%d %H:%M:%S} by {annotation.user}")
    return 0


def _attach(args: argparse.Namespace) -> int:
    db_path = args.attach_db or args.db or default_db_path()
    if not Path(db_path).exists():
        raise ConfigError(f"database {str(db_path)!r} not found: start the engine first, or pass its file with --db PATH")
    log_file = Path(platformdirs.user_log_dir("tui-monitor")) / "tui-monitor-attach.log"
    configure_logging(level=logging.DEBUG if args.verbose else logging.INFO, log_file=log_file)
    store = FeatureStore(db_path)
    try:
        from tui_monitor.ui.attach import AttachApp

        AttachApp(store, log_file=log_file).run()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


_SUBCOMMANDS = {"events": _print_events, "report": _write_report, "annotate": _annotate, "attach": _attach}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tui-monitor``; return the exit status (2 for bad options or an unusable store)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in _SUBCOMMANDS:
            return _SUBCOMMANDS[args.command](args)
        settings = _settings_from(args)
    except ConfigError as exc:
        parser.print_usage(sys.stderr)
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        return 2
    except TuiMonitorError as exc:
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        return 2

    is_headless = args.headless or not sys.stdout.isatty()
    level = logging.DEBUG if args.verbose else logging.INFO
    log_file = args.log_file if is_headless else Path(platformdirs.user_log_dir("tui-monitor")) / "tui-monitor.log"
    configure_logging(level=level, log_file=log_file)

    try:
        store = FeatureStore(settings.db_path, reset_corrupt=args.db_reset_corrupt)
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

            asyncio.run(run_headless(settings, store, duration_s=args.duration))
        else:
            from tui_monitor.ui import MonitorApp

            MonitorApp(settings, store, duration_s=args.duration, log_file=log_file).run()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0
