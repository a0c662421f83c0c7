"""Run the headless engine for a long time and check that memory and the database stay bounded.

Starts ``python -m tui_monitor --headless`` from this checkout with one log
file written at ``--lines-per-s``. Retention is short (fractions of a day),
so pruning happens many times within the run. Every ``--sample-every``
seconds the script records the engine's RSS, the database size (file plus
WAL) and the rows in ``samples`` and ``windows``.

Rows are bounded by retention: at most (retention + prune interval) worth of
rows can exist, e.g. ``samples`` at one host sample per ``--interval``.
The run reports the largest row counts seen against that bound, and the RSS
and file size in the first and last thirds of the run. SQLite reuses freed
pages rather than shrinking the file, so the file size levels off.

Example:
    python bench/longrun.py --minutes 30
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.overhead import WRITER  # noqa: E402
from tui_monitor.retention import database_size_bytes  # noqa: E402

_DAY_S = 86400.0


def _row_counts(db: Path) -> tuple[int, int]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return 0, 0
    try:
        samples = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
        return int(samples), int(windows)
    except sqlite3.Error:
        return 0, 0
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="run time in minutes (default: 30)")
    parser.add_argument("--window", type=float, default=10.0, help="window in seconds (default: 10)")
    parser.add_argument("--interval", type=float, default=1.0, help="host poll interval in seconds (default: 1)")
    parser.add_argument("--lines-per-s", type=float, default=50.0, help="log lines written per second (default: 50)")
    parser.add_argument("--keep-samples", type=float, default=0.002, help="days of raw samples kept (default: 0.002, about 3 minutes)")
    parser.add_argument("--keep-windows", type=float, default=0.004, help="days of windows kept (default: 0.004, about 6 minutes)")
    parser.add_argument("--retention-interval", type=float, default=60.0, help="seconds between prunes (default: 60)")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between measurements (default: 10)")
    args = parser.parse_args()

    run_s = args.minutes * 60.0
    streams = 2  # the host and the one log file
    samples_bound = (args.keep_samples * _DAY_S + args.retention_interval + args.window) / args.interval
    windows_bound = (args.keep_windows * _DAY_S + args.retention_interval + args.window) / args.window * streams
    # Retention needs one horizon plus one prune interval before the rows can level off.
    settled_s = max(args.keep_samples, args.keep_windows) * _DAY_S + args.retention_interval

    with tempfile.TemporaryDirectory(prefix="tui-monitor-longrun-") as tmp:
        folder = Path(tmp)
        db = folder / "longrun.db"
        log = folder / "app.log"
        log.touch()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(args.lines_per_s)])
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        command = [
            sys.executable, "-m", "tui_monitor", "--headless", "--db", str(db), "--log", str(log),
            "--window", str(args.window), "--interval", str(args.interval), "--duration", str(run_s + 30),
            "--keep-samples", str(args.keep_samples), "--keep-windows", str(args.keep_windows),
            "--retention-interval", str(args.retention_interval), "--log-file", str(folder / "engine.log"),
            "--plugins", str(folder / "no-plugins"), "--no-plugin-entry-points",
        ]  # fmt: skip
        engine = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process = psutil.Process(engine.pid)
        rows: list[tuple[float, int, int, int, int]] = []
        started = time.monotonic()
        try:
            while time.monotonic() - started < run_s:
                time.sleep(args.sample_every)
                if engine.poll() is not None:
                    raise RuntimeError(f"the engine exited early with status {engine.returncode}")
                elapsed = time.monotonic() - started
                samples, windows = _row_counts(db)
                rows.append((elapsed, process.memory_info().rss, database_size_bytes(db), samples, windows))
                print(
                    f"{elapsed:7.0f} s  rss {rows[-1][1] / 1e6:6.1f} MB  db {rows[-1][2] / 1e6:6.2f} MB  "
                    f"samples {samples:6d}  windows {windows:6d}",
                    flush=True,
                )
        finally:
            engine.terminate()
            engine.wait(timeout=30)
            writer.kill()
            writer.wait()
        pruned = (folder / "engine.log").read_text(encoding="utf-8").count("retention: pruned")

    third = max(1, len(rows) // 3)
    rss_first = statistics.median(r[1] for r in rows[:third]) / 1e6
    rss_last = statistics.median(r[1] for r in rows[-third:]) / 1e6
    settled = [r for r in rows if r[0] >= settled_s] or rows[-1:]
    max_samples = max(r[3] for r in settled)
    max_windows = max(r[4] for r in settled)
    db_first_settled = settled[0][2] / 1e6
    db_last = rows[-1][2] / 1e6
    print(f"row bounds from retention: samples {samples_bound:.0f}, windows {windows_bound:.0f}; settled after {settled_s:.0f} s")
    print(
        f"summary: minutes={args.minutes:g} prunes={pruned} rss_first_mb={rss_first:.0f} rss_last_mb={rss_last:.0f} "
        f"rss_peak_mb={max(r[1] for r in rows) / 1e6:.0f} db_settled_mb={db_first_settled:.2f} db_last_mb={db_last:.2f} "
        f"max_samples={max_samples} (bound {samples_bound:.0f}) max_windows={max_windows} (bound {windows_bound:.0f}) "
        f"bounded={max_samples <= samples_bound and max_windows <= windows_bound}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
