"""The ``tui-monitor`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
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
from tui_monitor.store import FeatureStore

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
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected e.g. 10 or 0.5") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: expected a value above 0")
    return value


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
    parser.add_argument("--interval", type=_positive_seconds, default=1.0, metavar="SECONDS", help="host poll interval in seconds (default: 1)")
    parser.add_argument("--url-interval", type=_positive_seconds, default=5.0, metavar="SECONDS", help="endpoint check interval in seconds (default: 5)")
    parser.add_argument("--url-timeout", type=_positive_seconds, default=5.0, metavar="SECONDS", help="endpoint check timeout in seconds (default: 5)")
    parser.add_argument("--warmup", type=int, default=30, metavar="WINDOWS", help="windows each detector learns before it may alert (default: 30)")
    parser.add_argument("--threshold", type=float, default=0.995, help="calibrated score (0..1) at which a window counts as anomalous (default: 0.995)")
    parser.add_argument("--headless", action="store_true", help="run without the terminal UI; print one JSON line per anomaly on stdout")
    parser.add_argument("--duration", type=parse_duration, default=None, metavar="TIME", help="stop after this time, e.g. 60, 10m, 1h (default: run until stopped)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    events = sub.add_parser("events", help="list stored anomaly events")
    events.add_argument("--db", type=Path, default=None, dest="events_db", help="feature store file (default: the engine's default)")
    events.add_argument("--since", type=parse_duration, default=parse_duration("1h"), metavar="TIME", help="how far back, e.g. 30m, 1h, 7d (default: 1h)")
    events.add_argument("--json", action="store_true", help="print one JSON object per line")

    replay = sub.add_parser("replay", help="run the detectors over stored windows or a timestamp,value CSV and write scores")
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, default=None, dest="replay_db", help="feature store whose stored windows to replay")
    source.add_argument("--csv", type=Path, default=None, help="CSV file with a 'timestamp,value' header, in time order")
    replay.add_argument("--stream", action="append", default=[], help="stream to replay from --db; repeatable (default: all)")
    replay.add_argument("--out", type=Path, default=None, help="CSV file to write scores to (default: standard output)")
    replay.add_argument("--threshold", type=float, default=None, dest="replay_threshold", help="calibrated score threshold (default: 0.995)")
    return parser


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(
        db_path=args.db or default_db_path(),
        log_paths=list(args.log),
        endpoints=[parse_endpoint(text) for text in args.url],
        window_s=args.window,
        host_interval_s=min(args.interval, args.window),
        endpoint_interval_s=args.url_interval,
        endpoint_timeout_s=args.url_timeout,
        warmup_windows=args.warmup,
        threshold=args.threshold,
    )
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
    if not events:
        print(f"no events in {db_path} since {datetime.fromtimestamp(time.time() - args.since):%Y-%m-%d %H:%M:%S}")
        return 0
    print(f"{'started':19}  {'stream':24} {'score':>6}  {'severity':8} {'state':8} top features")
    for event in events:
        started = datetime.fromtimestamp(event.window_start).strftime("%Y-%m-%d %H:%M:%S")
        names = ", ".join(f["name"] for f in event.top_features[:3])
        print(f"{started}  {event.stream:24} {event.score:6.3f}  {event.severity:8} {event.state:8} {names}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tui-monitor``; return the exit status (2 for bad options or an unusable store)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "events":
            return _print_events(args)
        if args.command == "replay":
            from tui_monitor.replay import run_replay

            return run_replay(args)
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
    log_file = None if is_headless else Path(platformdirs.user_log_dir("tui-monitor")) / "tui-monitor.log"
    configure_logging(level=level, log_file=log_file)

    try:
        store = FeatureStore(settings.db_path)
    except TuiMonitorError as exc:
        print(f"tui-monitor: error: {exc}", file=sys.stderr)
        return 2

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
