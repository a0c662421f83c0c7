"""Measure retention pruning: rows deleted per second and the longest batch (event-loop stall).

Builds a store with ``--rows`` one-second host samples (a 20-float JSON row
each, like the engine writes), half of them past the cutoff, and prunes them
in batches of ``--batch`` rows. The last line is the summary.

    python bench/bench_retention.py --rows 400000 --batch 5000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tui_monitor.retention import database_size_bytes, format_bytes, prune_table_batch
from tui_monitor.store import FeatureStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000, help="samples to create (default: 400000)")
    parser.add_argument("--batch", type=int, default=5000, help="rows deleted per transaction (default: 5000)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = FeatureStore(Path(folder) / "bench.db")
        conn = store.db.conn
        now = time.time()
        data = json.dumps({f"metric_{i}": 12.345 + i for i in range(20)})
        with conn:
            conn.executemany(
                "INSERT INTO samples (ts, stream, data) VALUES (?, 'host', ?)",
                ((now - args.rows + i, data) for i in range(args.rows)),
            )
        size_before = database_size_bytes(store.path)
        cutoff = now - args.rows / 2

        durations_ms = []
        deleted = 0
        started = time.perf_counter()
        while True:
            batch_started = time.perf_counter()
            count = prune_table_batch(conn, "samples", "ts", cutoff, args.batch)
            durations_ms.append(1000 * (time.perf_counter() - batch_started))
            deleted += count
            if count < args.batch:
                break
        elapsed = time.perf_counter() - started
        remaining = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        integrity = store.integrity_check()
        store.close()

    print(f"database before pruning: {format_bytes(size_before)}, {args.rows} samples; {remaining} left; integrity {integrity}")
    print(
        f"rows={args.rows} batch={args.batch} deleted={deleted} rows_per_s={deleted / elapsed:,.0f} "
        f"batch_ms_median={statistics.median(durations_ms):.1f} batch_ms_max={max(durations_ms):.1f}"
    )


if __name__ == "__main__":
    main()
