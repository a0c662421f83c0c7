"""The ``tui-monitor notifications`` command: the stored notification attempts."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

from tui_monitor.store import FeatureStore, notifications_since

__all__ = ["print_notifications"]


def print_notifications(db_path: Path, since_s: float, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the notification attempts of the last ``since_s`` seconds, newest first; return 0."""
    out = out or sys.stdout
    store = FeatureStore(db_path, readonly=True)
    try:
        rows = notifications_since(store, time.time() - since_s)
    finally:
        store.close()
    if as_json:
        for row in rows:
            print(json.dumps(row), file=out)
        return 0
    if not rows:
        print(f"no notifications in {db_path} in the last {_describe_seconds(since_s)}", file=out)
        return 0
    print(f"{'time':19}  {'kind':8} {'outcome':9} {'try':>3}  {'target':40} title", file=out)
    for row in rows:
        when = datetime.fromtimestamp(row["ts"]).strftime("%Y-%m-%d %H:%M:%S")
        outcome = row["outcome"] if row["is_final"] or row["outcome"] == "sent" else f"{row['outcome']}*"
        line = f"{when}  {row['kind']:8} {outcome:9} {row['attempt']:>3}  {row['target'][:40]:40} {row['title']}"
        if row["detail"]:
            line += f"  ({row['detail'][:80]})"
        print(line, file=out)
    print("* a retry followed this attempt", file=out)
    return 0


def _describe_seconds(seconds: float) -> str:
    """Write a duration in its largest whole unit.

    >>> _describe_seconds(86400), _describe_seconds(5400), _describe_seconds(90)
    ('1 d', '90 min', '90 s')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
