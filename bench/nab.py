"""NAB benchmark: stream every series through the default detector stack and score it.

Each series is replayed row by row in its own time order through the same
detector stack the engine builds with default settings (one feature,
``value``, plus the time-of-day context), and the per-row ``alert_score``
(0..1, higher is more anomalous) is written to ``--out``. The NAB score is
then computed with ``tui_monitor.evaluation`` (a threshold sweep per cost
profile), per category and overall, beside the published numenta and
windowedGaussian detectors scored on the same files.

Usage:
    python bench/nab.py [--data DIR] [--labels FILE] [--out DIR] [--jobs N]

The last line of output is the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_monitor.evaluation import (  # noqa: E402
    PROFILES,
    SeriesTable,
    build_table,
    load_labels,
    load_series,
    normalized,
    read_reference_scores,
    score_at,
    sweep,
    window_rows,
)
from tui_monitor.replay import replay_csv  # noqa: E402
from tui_monitor.settings import Settings  # noqa: E402

_NAB = Path("/work/shared/data/nab")
_REFERENCES = ("numenta", "windowedGaussian")


def _score_file(args: tuple[Path, str, Path | None]) -> tuple[str, list[float], float]:
    data, name, out = args
    config = Settings().detector_config()
    started = time.perf_counter()
    scores = [row.alert_score for row in replay_csv(data / name, config, stream=name)]
    elapsed = time.perf_counter() - started
    if out is not None:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        series = load_series(data / name)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for ts, value, score in zip(series.timestamps, series.values, scores, strict=True):
                writer.writerow([ts.isoformat(sep=" "), value, f"{score:.6f}"])
    return name, scores, elapsed


def _report(title: str, tables: dict[str, SeriesTable], windows_per_category: dict[str, int]) -> dict[str, float]:
    overall = {}
    print(f"\n{title}")
    print(f"  {'category':24} {'windows':>7} " + " ".join(f"{p:>20}" for p in PROFILES))
    results = {p: sweep(list(tables.values()), PROFILES[p]) for p in PROFILES}
    for category in sorted(windows_per_category):
        cells = []
        for p, result in results.items():
            raw = sum(v for name, v in result.per_series.items() if name.split("/")[0] == category)
            n = windows_per_category[category]
            cells.append(f"{normalized(raw, n, PROFILES[p]):20.1f}" if n else f"{'raw ' + format(raw, '.2f'):>20}")
        print(f"  {category:24} {windows_per_category[category]:7d} " + " ".join(cells))
    cells = []
    for p, result in results.items():
        overall[p] = result.score
        cells.append(f"{result.score:13.1f} @{result.threshold:.4f}")
    print(f"  {'overall':24} {sum(windows_per_category.values()):7d} " + " ".join(f"{c:>20}" for c in cells))
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=_NAB / "data", help="folder of <category>/<name>.csv series")
    parser.add_argument("--labels", type=Path, default=_NAB / "labels" / "combined_windows.json", help="label windows JSON")
    parser.add_argument("--out", type=Path, default=Path("/tmp/tui-monitor-nab"), help="folder for per-row score CSVs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    parser.add_argument("--no-reference", action="store_true", help="skip scoring the published reference detectors")
    args = parser.parse_args(argv)

    labels = load_labels(args.labels)
    names = sorted(labels)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        scored = list(pool.map(_score_file, [(args.data, name, args.out) for name in names]))
    wall_s = time.perf_counter() - started

    tables = {}
    windows_per_category: dict[str, int] = defaultdict(int)
    rows = 0
    for name, scores, _ in scored:
        series = load_series(args.data / name, name)
        windows = window_rows(series, labels[name])
        tables[name] = build_table(name, scores, windows)
        windows_per_category[name.split("/")[0]] += tables[name].n_windows
        rows += len(scores)
    detector_s = sum(elapsed for _, _, elapsed in scored)
    ours = _report("tui-monitor default stack (NAB, 42-series subset), best threshold per profile", tables, windows_per_category)

    reference_root = args.labels.parent.parent / "reference_results"
    thresholds_path = args.labels.parent.parent / "config" / "thresholds.json"
    if not args.no_reference and reference_root.is_dir():
        stored = json.loads(thresholds_path.read_text())
        for detector in _REFERENCES:
            ref_tables = {}
            for name in names:
                category, file_name = name.split("/")
                path = reference_root / detector / category / f"{detector}_{file_name}.gz"
                ref_tables[name] = build_table(name, read_reference_scores(path), window_rows(load_series(args.data / name, name), labels[name]))
            _report(f"{detector} published per-row scores, same files, best threshold", ref_tables, windows_per_category)
            at_stored = []
            for p in PROFILES:
                raw = sum(score_at(t, stored[detector][p]["threshold"], PROFILES[p]) for t in ref_tables.values())
                at_stored.append(f"{p} {normalized(raw, sum(windows_per_category.values()), PROFILES[p]):.1f}")
            print(f"  at the published thresholds: {', '.join(at_stored)}")

    print(
        f"\nNAB 42-series subset: standard {ours['standard']:.1f}, reward_low_FP_rate {ours['reward_low_FP_rate']:.1f}, "
        f"reward_low_FN_rate {ours['reward_low_FN_rate']:.1f}; {len(names)} series, {rows} rows, "
        f"{detector_s / rows * 1e6:.0f} us per row, {wall_s:.0f} s wall with {args.jobs} jobs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
