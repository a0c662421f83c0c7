"""Replay stored windows or a ``timestamp,value`` CSV through the detectors.

Replay runs the same detector stack as the engine, one window at a time in
the data's own time order, so its scores are what the engine would have
output live (causal: a window is scored before it is learned). It answers
"what would tui-monitor have flagged in this data?" and drives the NAB
benchmark.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tui_monitor.detectors import DetectorConfig, StreamDetector
from tui_monitor.errors import ConfigError
from tui_monitor.evaluation.corpus import load_series
from tui_monitor.store import FeatureStore

__all__ = ["ReplayRow", "replay_csv", "replay_store", "run_replay", "score_stream", "write_rows"]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1)
COLUMNS = ("stream", "timestamp", "score", "alert_score", "raw_score", "is_hot", "is_anomalous", "incident", "kind")


@dataclass
class ReplayRow:
    """The detector's verdict on one replayed window (scores in 0..1, higher is more anomalous)."""

    stream: str
    timestamp: str
    score: float
    alert_score: float
    raw_score: float
    is_hot: bool
    is_anomalous: bool
    incident: str
    kind: str

    def as_csv(self) -> list[str]:
        return [
            self.stream,
            self.timestamp,
            f"{self.score:.6f}",
            f"{self.alert_score:.6f}",
            f"{self.raw_score:.6g}",
            str(int(self.is_hot)),
            str(int(self.is_anomalous)),
            self.incident,
            self.kind,
        ]


def score_stream(
    stream: str,
    windows: Iterable[tuple[str, float, dict[str, float]]],
    config: DetectorConfig,
) -> Iterator[ReplayRow]:
    """Score windows of one stream in order with a fresh detector.

    Args:
        stream: the stream's name.
        windows: (label, wall-clock seconds, features) per window, oldest
            first; the label is written as the row's timestamp.
        config: the detector configuration.
    """
    detector = StreamDetector(stream, config=config)
    for label, wall_ts, features in windows:
        d = detector.process(features, ts=wall_ts)
        yield ReplayRow(stream, label, d.score, d.alert_score, d.raw_score, d.is_hot, d.is_anomalous, d.incident or "", d.kind)


def replay_csv(path: Path, config: DetectorConfig, stream: str | None = None) -> Iterator[ReplayRow]:
    """Replay a ``timestamp,value`` CSV in file order; naive timestamps are read as the local wall clock.

    Raises:
        ConfigError: the file cannot be read.
    """
    series = load_series(path)
    name = stream or path.stem
    backwards = sum(1 for a, b in zip(series.timestamps, series.timestamps[1:]) if b < a)
    if backwards:
        # Rows are scored in file order either way: the order the data arrived in.
        logger.warning("%s: %d timestamps go backwards; scoring rows in file order", path, backwards)
    windows = (
        (ts.isoformat(sep=" "), _wall_seconds(ts), {"value": value})
        for ts, value in zip(series.timestamps, series.values, strict=True)
    )
    return score_stream(name, windows, config)


def _wall_seconds(ts: datetime) -> float:
    """Return seconds since 1970 on the wall clock the timestamp was written in.

    >>> _wall_seconds(datetime(1970, 1, 2, 6, 0))
    108000.0
    """
    return (ts.replace(tzinfo=None) - _EPOCH).total_seconds()


def replay_store(db_path: Path, config: DetectorConfig, streams: list[str] | None = None) -> Iterator[ReplayRow]:
    """Replay the stored windows of every stream (or of ``streams``) from a feature store, stream by stream."""
    from tui_monitor.engine import wall_clock

    store = FeatureStore(db_path, readonly=True)
    try:
        names = streams or store.window_streams()
        for name in names:
            records = store.windows_since(name, 0.0)
            if not records:
                logger.warning("no stored windows for stream %r in %s", name, db_path)
                continue
            windows = [
                (datetime.fromtimestamp(r.start, UTC).isoformat(sep=" "), wall_clock(r.start), r.features) for r in records
            ]
            yield from score_stream(name, windows, config)
    finally:
        store.close()


def write_rows(rows: Iterable[ReplayRow], out: TextIO | None = None) -> int:
    """Write rows as CSV with a header; return the number of rows."""
    writer = csv.writer(out or sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(row.as_csv())
        count += 1
    return count


def run_replay(args: argparse.Namespace) -> int:
    """Run ``tui-monitor replay`` from parsed arguments; return the exit status.

    Raises:
        ConfigError: bad options or an unreadable input.
    """
    from tui_monitor.settings import Settings

    settings = Settings()
    if args.replay_threshold is not None:
        settings.threshold = args.replay_threshold
    config = settings.detector_config()
    if args.csv is not None:
        if not args.csv.is_file():
            raise ConfigError(f"--csv {str(args.csv)!r} is not a file; pass a CSV with a 'timestamp,value' header")
        rows = replay_csv(args.csv, config)
    else:
        rows = replay_store(args.replay_db, config, args.stream or None)
    if args.out is None:
        try:
            count = write_rows(rows)
        except BrokenPipeError:
            # The reader (e.g. head) left early; that is not an error.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            return 0
    else:
        with args.out.open("w", newline="") as handle:
            count = write_rows(rows, handle)
    logger.info("replayed %d windows", count)
    print(f"tui-monitor: replayed {count} windows" + (f" into {args.out}" if args.out else ""), file=sys.stderr)
    return 0
