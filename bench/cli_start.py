"""Measure how long ``tui-monitor`` commands take to start and how much memory they use.

Run from the repository root, optionally against a second checkout:

    python bench/cli_start.py [--runs 15] [--baseline /path/to/other/checkout]

Each command runs as a real subprocess (``python -m tui_monitor ...``) on a
seeded feature store in a temporary folder. With ``--baseline``, runs of the
two checkouts alternate, so a machine that slows down mid-run slows both
alike. Figures are medians of wall time (ms), CPU time of the child (user
plus system, ms) and its peak RSS (MiB, from ``wait4``). Ratios compare CPU
time, which drifts less than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.seed import seed_store  # noqa: E402


def commands(folder: Path) -> dict[str, list[str]]:
    """Return the commands to time, by label, reading the store and rules in ``folder``."""
    db = str(folder / "seed.db")
    return {
        "--help": ["--help"],
        "events": ["events", "--db", db, "--since", "30d"],
        "report": ["report", "--db", db, "--since", "30d"],
        "rules check": ["rules", "check", str(REPO_ROOT / "rules")],
        "notifications": ["notifications", "--db", db],
        "models": ["models", "--db", db],
    }


def run_once(checkout: Path, args: list[str]) -> tuple[float, float, float]:
    """Run ``tui-monitor ARGS`` from ``checkout``; return wall ms, CPU ms and peak RSS MiB."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "tui_monitor", *args],
        cwd=checkout,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall_ms = (time.perf_counter() - started) * 1000.0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{checkout}: tui-monitor {' '.join(args)} exited {child.returncode}")
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000.0
    return wall_ms, cpu_ms, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command per checkout (default: 15)")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with, e.g. the main branch")
    options = parser.parse_args()

    checkouts = {"this": REPO_ROOT}
    if options.baseline is not None:
        checkouts = {"baseline": options.baseline.resolve(), **checkouts}
    with tempfile.TemporaryDirectory() as folder:
        seed_store(Path(folder) / "seed.db").close()
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for label, args in commands(Path(folder)).items():
            for _ in range(options.runs):
                for name, checkout in checkouts.items():
                    results.setdefault((label, name), []).append(run_once(checkout, args))

    print(f"{'command':14} {'checkout':9} {'wall ms':>8} {'CPU ms':>7} {'RSS MiB':>8}")
    for (label, name), runs in results.items():
        wall, cpu, rss = (statistics.median(column) for column in zip(*runs, strict=True))
        line = f"{label:14} {name:9} {wall:8.0f} {cpu:7.0f} {rss:8.1f}"
        if name == "this" and options.baseline is not None:
            baseline_cpu = statistics.median(run[1] for run in results[(label, "baseline")])
            line += f"   CPU {baseline_cpu / cpu:.1f}x less"
        print(line)


if __name__ == "__main__":
    main()
