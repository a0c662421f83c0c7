"""Measure explanation latency per anomaly event.

Each event runs the worker's whole path: read the normal history from a
real SQLite store, run the explainer, compute usual ranges. The windows are
seeded, with one planted anomaly per event. The tree explainer explains an
IsolationForest; the model-agnostic explainers explain river's
HalfSpaceTrees, pickled as the engine snapshots it. The first event of each method is reported apart: it includes
``import shap``, building the explainer and, for Permutation, numba compiling.

Usage:
    python bench/explain.py [--features 40] [--events 20] [--methods tree,kernel,permutation]

The last line of output is the summary.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_monitor.detectors import HalfSpaceTreesModel  # noqa: E402
from tui_monitor.explain import ExplanationRequest, compute_explanation  # noqa: E402
from tui_monitor.store import FeatureStore, WindowRecord  # noqa: E402


def build_store(path: Path, names: list[str], rows: np.ndarray, window_s: float) -> None:
    store = FeatureStore(path)
    windows = [
        WindowRecord("host", i * window_s, (i + 1) * window_s, dict(zip(names, row, strict=True)), is_warmup=False)
        for i, row in enumerate(rows)
    ]
    store.write_window_batch([], windows)
    store.close()


def run(args: argparse.Namespace) -> dict[str, tuple[float, float, float, int]]:
    rng = np.random.default_rng(args.seed)
    names = [f"host.metric_{i:02d}.mean" for i in range(args.features)]
    rows = rng.normal(50.0, 5.0, size=(args.history, args.features))
    window_s = 10.0
    results: dict[str, tuple[float, float, float, int]] = {}

    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.db"
        build_store(db_path, names, rows, window_s)
        forest = IsolationForest(n_estimators=args.trees, random_state=args.seed).fit(rows)
        online = HalfSpaceTreesModel(window_size=30, seed=args.seed)
        for row in rows:
            online.learn_one(dict(zip(names, row, strict=True)))
        snapshot = pickle.dumps(online)

        for method in args.methods:
            timings_ms = []
            hits = 0
            for event in range(args.events):
                k = event % args.features
                x = np.full(args.features, 50.0)
                x[k] += 40.0
                request = ExplanationRequest(
                    event_id=event + 1,
                    stream="host",
                    window_start=args.history * window_s,
                    features=dict(zip(names, x, strict=True)),
                    db_path=db_path,
                    online_model=None if method == "tree" else snapshot,
                    forest=forest if method == "tree" else None,
                    forest_features=tuple(names) if method == "tree" else (),
                    method="kernel" if method == "tree" else method,
                    background_size=args.background,
                    nsamples=args.nsamples,
                )
                started = time.perf_counter()
                explanation = compute_explanation(request)
                timings_ms.append((time.perf_counter() - started) * 1000.0)
                hits += explanation.attributions[0].name == names[k]
            rest = sorted(timings_ms[1:]) or timings_ms
            p95 = rest[min(len(rest) - 1, int(0.95 * len(rest)))]
            results[method] = (timings_ms[0], statistics.median(rest), p95, hits)
            print(
                f"{method:12} first {timings_ms[0]:8.1f} ms   then median {statistics.median(rest):7.1f} ms, "
                f"p95 {p95:7.1f} ms   planted feature ranked first in {hits}/{args.events} events",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=40, help="features per window (default: 40)")
    parser.add_argument("--events", type=int, default=20, help="events explained per method (default: 20)")
    parser.add_argument("--history", type=int, default=360, help="normal windows in the store (default: 360)")
    parser.add_argument("--background", type=int, default=20, help="model-agnostic background rows (default: 20)")
    parser.add_argument("--nsamples", type=int, default=200, help="Kernel SHAP coalition samples (default: 200)")
    parser.add_argument("--trees", type=int, default=100, help="IsolationForest trees (default: 100)")
    parser.add_argument(
        "--methods", type=lambda text: text.split(","), default=["tree", "kernel", "permutation"],
        help="comma-separated: tree, kernel, permutation (default: all three)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args()

    print(f"{args.features} features, {args.history} normal windows, background {args.background}, {args.events} events")
    results = run(args)
    summary = "; ".join(
        f"{method} first {first:.0f} ms, median {median:.1f} ms, p95 {p95:.1f} ms"
        for method, (first, median, p95, _) in results.items()
    )
    print(f"explain latency per event at {args.features} features: {summary}")


if __name__ == "__main__":
    main()
