"""Read a NAB-style corpus: series as ``timestamp,value`` CSV files and labelled windows.

Timestamps are naive ``YYYY-MM-DD HH:MM:SS`` strings (label windows add a
``.ffffff`` suffix); both are parsed as datetimes before matching, and
every window edge must be one row's timestamp.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tui_monitor.errors import ConfigError

__all__ = ["Series", "load_labels", "load_series", "parse_timestamp", "read_reference_scores", "window_rows"]


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (NAB's layout) or Unix seconds.

    Unix seconds become a naive local time, like the naive ISO timestamps.

    >>> parse_timestamp("2014-02-14 14:30:00.000000") == parse_timestamp("2014-02-14 14:30:00")
    True
    >>> parse_timestamp("1392388200") == datetime.fromtimestamp(1392388200)
    True

    Raises:
        ValueError: the text is neither; the message names the accepted forms.
    """
    text = text.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromtimestamp(float(text))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"invalid timestamp {text!r}: expected ISO 8601 such as 2024-05-01 12:00:00, or Unix seconds"
        ) from None


@dataclass
class Series:
    """One univariate series: naive timestamps and values, in file order."""

    name: str
    timestamps: list[datetime]
    values: list[float]


def load_series(path: Path, name: str | None = None) -> Series:
    """Read a ``timestamp,value`` CSV (a header row is required).

    Raises:
        ConfigError: the file lacks the two columns or contains an unparsable row.
    """
    timestamps: list[datetime] = []
    values: list[float] = []
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            raise ConfigError(f"{str(path)!r}: expected a header 'timestamp,value', found {header!r}")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                timestamps.append(parse_timestamp(row[0]))
                values.append(float(row[1]) if row[1].strip() else math.nan)
            except (ValueError, IndexError) as exc:
                raise ConfigError(f"{str(path)!r} line {line}: cannot read row {row!r}: {exc}") from exc
    return Series(name or path.name, timestamps, values)


def load_labels(path: Path) -> dict[str, list[tuple[datetime, datetime]]]:
    """Read ``combined_windows.json``: series name to a list of (start, end) windows."""
    raw = json.loads(path.read_text())
    return {name: [(parse_timestamp(a), parse_timestamp(b)) for a, b in windows] for name, windows in raw.items()}


def window_rows(series: Series, windows: list[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
    """Turn timestamp windows into inclusive row ranges of ``series``.

    Raises:
        ConfigError: a window edge is not the timestamp of any row.
    """
    index = {ts: i for i, ts in enumerate(series.timestamps)}
    rows = []
    for start, end in windows:
        if start not in index or end not in index:
            raise ConfigError(
                f"window {start} .. {end} of {series.name!r} does not start and end on row timestamps; "
                "check that the labels belong to this data folder"
            )
        rows.append((index[start], index[end]))
    return rows


def read_reference_scores(path: Path) -> list[float]:
    """Read the ``anomaly_score`` column of a published per-row result file (.csv or .csv.gz)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", newline="") as handle:
            return [float(row["anomaly_score"]) for row in csv.DictReader(handle)]
    with path.open(newline="") as handle:
        return [float(row["anomaly_score"]) for row in csv.DictReader(handle)]
