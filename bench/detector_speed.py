"""How long scoring one window takes for many streams, with and without a batch model.

Each stream gets the engine's default detector stack and a feature vector
like a host stream's (``--features`` gauges). After ``--warmup`` windows,
the time to process one window of every stream is measured ``--windows``
times. With ``--batch``, every stream also has a fitted IsolationForest.

Usage:
    python bench/detector_speed.py [--streams 20] [--features 20] [--windows 200] [--batch]

The last line of output is the summary.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_monitor.detectors import StreamDetector  # noqa: E402
from tui_monitor.detectors.batch import IsolationForestModel  # noqa: E402
from tui_monitor.settings import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=400, help="windows learned before timing")
    parser.add_argument("--windows", type=int, default=200, help="timed windows")
    parser.add_argument("--window-s", type=float, default=10.0, help="window length to compare with")
    parser.add_argument("--batch", action="store_true", help="give every stream a fitted IsolationForest")
    args = parser.parse_args(argv)

    rng = random.Random(0)
    config = Settings().detector_config()
    names = [f"f{i}" for i in range(args.features)]
    detectors = [StreamDetector(f"s{k}", config=config) for k in range(args.streams)]

    def window() -> dict[str, float]:
        return {name: 50 + rng.gauss(0, 5) for name in names}

    t = 1_700_000_000.0
    for i in range(args.warmup):
        for detector in detectors:
            detector.process(window(), ts=t + i * args.window_s)
    if args.batch:
        rows = [window() for _ in range(2000)]
        for detector in detectors:
            detector.set_batch_model(IsolationForestModel.fit(rows))

    per_window_ms = []
    for i in range(args.windows):
        batch = [window() for _ in detectors]
        ts = t + (args.warmup + i) * args.window_s
        started = time.perf_counter()
        for detector, x in zip(detectors, batch, strict=True):
            detector.process(x, ts=ts)
        per_window_ms.append((time.perf_counter() - started) * 1000)

    median = statistics.median(per_window_ms)
    p99 = sorted(per_window_ms)[int(0.99 * (len(per_window_ms) - 1))]
    share = median / (args.window_s * 1000) * 100
    print(
        f"{args.streams} streams x {args.features} features{' + IsolationForest' if args.batch else ''}: "
        f"median {median:.1f} ms, p99 {p99:.1f} ms per window of all streams "
        f"({share:.2f} % of a {args.window_s:g} s window)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
