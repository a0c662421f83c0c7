"""Measure the feedback layer: per-window cost on the event loop, retraining time and model loading.

Builds a store with ``--windows`` one-second windows of one stream with
``--features`` features, promotes an IsolationForest (and a gradient-boosting
model once labels exist), then times what the engine does per window
(drift detection, scoring with the promoted models, writing the scores) and
the retraining work a worker thread does. The last line is the summary.

    python bench/bench_feedback.py --windows 8640 --features 20
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from tui_monitor.engine import Engine
from tui_monitor.features import ClosedWindow
from tui_monitor.feedback import FALSE_POSITIVE, TRUE_ANOMALY, load_model
from tui_monitor.settings import Settings
from tui_monitor.store import FeatureStore


def windows(t0: float, start: int, count: int, n_features: int, rng: random.Random) -> list[ClosedWindow]:
    out = []
    for index in range(start, start + count):
        # Every 500 windows an outage moves every feature; 250 windows later a harmless job moves one.
        outage = 40.0 if index % 500 in (100, 101, 102) else 0.0
        job = 15.0 if index % 500 in (350, 351, 352) else 0.0
        features = {f"bench.f{j}": rng.gauss(10.0 + j, 1.0) + outage + (job if j == 0 else 0.0) for j in range(n_features)}
        out.append(ClosedWindow("bench", t0 + index, t0 + index + 1, features, []))
    return out


def time_windows(engine: Engine, closed: list[ClosedWindow]) -> list[float]:
    """Process windows one at a time, as the engine does live; return each one's seconds."""
    times = []
    for window in closed:
        started = time.perf_counter()
        engine.process_windows([window])
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=8640, help="windows stored before training (default: 8640, a day of 10 s windows)")
    parser.add_argument("--features", type=int, default=20, help="features per window (default: 20)")
    parser.add_argument("--timed", type=int, default=500, help="windows timed after training (default: 500)")
    args = parser.parse_args()
    rng = random.Random(1)

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db_path=Path(folder) / "bench.db", window_s=1.0, warmup_windows=30, supervised_min_labels=3)
        engine = Engine(settings, FeatureStore(settings.db_path))
        t0 = time.time() + 5
        events = []
        engine.subscribe(lambda u: events.append(u.event) if type(u).__name__ == "EventChanged" and u.change == "opened" else None)
        started = time.perf_counter()
        engine.process_windows(windows(t0, 0, args.windows, args.features, rng))
        ingest_s = time.perf_counter() - started
        for event in events:
            is_outage = (event.window_start - t0) % 500 < 250
            engine.feedback.label(event, TRUE_ANOMALY if is_outage else FALSE_POSITIVE)
        baseline = time_windows(engine, windows(t0, args.windows, args.timed, args.features, rng))

        started = time.perf_counter()
        versions = engine.feedback.retrain_now("bench")
        retrain_s = time.perf_counter() - started
        kinds = ",".join(f"{v.kind}:{v.status}" for v in versions)

        per_window = time_windows(engine, windows(t0, args.windows + args.timed, args.timed, args.features, rng))
        load_times = []
        for version in versions:
            started = time.perf_counter()
            load_model(engine.store.db.conn, version.id)
            load_times.append(time.perf_counter() - started)
        engine.store.close()

    median_ms = statistics.median(per_window) * 1000
    base_ms = statistics.median(baseline) * 1000
    p99_ms = sorted(per_window)[int(0.99 * len(per_window))] * 1000
    print(f"ingest without learned models: {args.windows / ingest_s:,.0f} windows/s ({len(events)} events, labelled)")
    print(f"retrain ({kinds}) on {args.windows} windows x {args.features} features: {retrain_s:.2f} s")
    print(f"per window without learned models: median {base_ms:.2f} ms")
    print(f"per window with learned models: median {median_ms:.2f} ms, p99 {p99_ms:.2f} ms")
    print(f"model load (skops): {', '.join(f'{t * 1000:.0f} ms' for t in load_times)}")
    print(
        f"summary: windows={args.windows} features={args.features} retrain_s={retrain_s:.2f} "
        f"window_ms_before={base_ms:.2f} window_ms_median={median_ms:.2f} window_ms_p99={p99_ms:.2f} load_ms_max={max(load_times) * 1000:.0f}"
    )


if __name__ == "__main__":
    main()
