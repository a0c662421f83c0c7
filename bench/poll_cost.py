"""Measure what one poll costs: the host source, N watched processes, an S-series scrape.

Run from the repository root:

    python bench/poll_cost.py [--repeat 200] [--processes 10] [--series 500] [--score-features 40,500,1500]

Watched processes are real sleeping subprocesses started (and ended) by this
script; the scrape is served by a real HTTP server on 127.0.0.1. The
scoring figures time one ``StreamDetector.process`` call per window of random
features, which is what a scrape's window costs the engine later. Figures are
medians in milliseconds of wall time. The last line is the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from tui_monitor.sources.host import HostSource  # noqa: E402
from tui_monitor.sources.process import ProcessSource, ProcessSpec  # noqa: E402
from tui_monitor.sources.prometheus import ScrapeConverter, ScrapeSource, ScrapeSpec  # noqa: E402


def median_ms(run: Callable[[], object], repeat: int) -> float:
    """Return the median wall time of ``run`` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def bench_host(repeat: int) -> dict[str, float]:
    plain = HostSource(1.0, lambda o: None, lambda s: None, filesystems=False, sensors=False)
    full = HostSource(1.0, lambda o: None, lambda s: None, per_disk=True, per_interface=True)
    plain.poll()
    full.poll()
    return {"host_base_ms": median_ms(plain.poll, repeat), "host_all_options_ms": median_ms(full.poll, repeat)}


def bench_processes(count: int, repeat: int) -> dict[str, float]:
    children = []
    specs = []
    for i in range(count):
        marker = f"tuimon-bench-{uuid.uuid4().hex[:10]}"
        children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker]))
        specs.append(ProcessSpec(f"p{i}", match_cmdline=marker))
    try:
        source = ProcessSource(specs, lambda o: None, lambda s: None, rescan_s=3600)
        time.sleep(0.3)  # let the interpreters start so their command lines are set
        started = time.perf_counter()
        source.poll()
        first_ms = (time.perf_counter() - started) * 1000.0
        steady_ms = median_ms(source.poll, repeat)
        up = sum(w.pids != [] for w in source.watched)
    finally:
        for child in children:
            child.kill()
            child.wait()
    return {
        "processes_watched": float(up),
        "process_table_size": float(len(psutil.pids())),
        "processes_first_poll_with_scan_ms": first_ms,
        "processes_steady_poll_ms": steady_ms,
    }


def metrics_page(series: int, generation: int) -> str:
    """A page with ``series`` label sets: 80 % counters, 16 % gauges, 4 % histograms of 10 buckets."""
    counters, gauges = int(series * 0.8), int(series * 0.16)
    histograms = series - counters - gauges
    lines = ["# TYPE requests_total counter"]
    lines += [f'requests_total{{route="/r{i}",code="200"}} {1000 * generation + i}' for i in range(counters)]
    lines.append("# TYPE pool_in_use gauge")
    lines += [f'pool_in_use{{pool="p{i}"}} {i % 7}' for i in range(gauges)]
    lines.append("# TYPE latency_seconds histogram")
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for i in range(histograms):
        for j, bound in enumerate(bounds):
            lines.append(f'latency_seconds_bucket{{route="/h{i}",le="{bound}"}} {(j + 1) * 10 * generation}')
        lines.append(f'latency_seconds_count{{route="/h{i}"}} {100 * generation}')
        lines.append(f'latency_seconds_sum{{route="/h{i}"}} {3.5 * generation}')
    return "\n".join(lines) + "\n"


def bench_scrape(series: int, repeat: int) -> dict[str, float]:
    pages = [metrics_page(series, generation) for generation in range(1, repeat + 2)]
    converter = ScrapeConverter("prom.bench", max_series=series)
    converter.convert(pages[0], now=0.0)
    generation = iter(range(1, repeat + 1))
    convert_ms = median_ms(lambda: converter.convert(pages[next(generation)], now=float(time.time())), repeat)

    bodies = iter([page.encode() for page in pages])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            # Each request gets the next page, so counters and histograms grow.
            body = next(bodies)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = ScrapeSpec("bench", f"http://127.0.0.1:{server.server_address[1]}/metrics", max_series=series)
        scrape_ms, features = asyncio.run(_scrape_many(spec, max(10, repeat // 4)))
    finally:
        server.shutdown()
        server.server_close()
    return {
        "scrape_page_kib": len(pages[-1]) / 1024,
        "scrape_convert_ms": convert_ms,
        "scrape_fetch_and_convert_ms": scrape_ms,
        "scrape_features": float(features),
    }


async def _scrape_many(spec: ScrapeSpec, repeat: int) -> tuple[float, int]:
    source = ScrapeSource(spec, lambda o: None, lambda s: None, timeout_s=5.0)
    times = []
    features = 0
    async with source.make_client() as client:
        await source.scrape(client)
        for _ in range(repeat):
            started = time.perf_counter()
            obs = await source.scrape(client)
            times.append((time.perf_counter() - started) * 1000.0)
            features = len(obs.gauges)
    return statistics.median(times), features


def bench_scoring(feature_counts: list[int], windows: int = 100) -> dict[str, float]:
    from tui_monitor.detectors import StreamDetector

    rng = random.Random(1)
    results = {}
    for count in feature_counts:
        detector = StreamDetector("prom.bench", warmup_windows=30)
        names = [f"f{i}" for i in range(count)]
        times = []
        for _ in range(windows):
            features = {name: rng.random() for name in names}
            started = time.perf_counter()
            detector.process(features)
            times.append((time.perf_counter() - started) * 1000.0)
        # The second half: the history the baseline keeps has filled up.
        results[f"score_window_{count}_features_ms"] = statistics.median(times[windows // 2 :])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="polls per measurement (default: 200)")
    parser.add_argument("--processes", type=int, default=10, help="watched processes (default: 10)")
    parser.add_argument("--series", type=int, default=500, help="series on the scraped page (default: 500)")
    parser.add_argument(
        "--score-features", default="40,500,1500", metavar="N,N,...",
        help="feature counts of the windows whose scoring is timed (default: 40,500,1500)",
    )  # fmt: skip
    args = parser.parse_args()
    feature_counts = [int(n) for n in args.score_features.split(",") if n]

    results: dict[str, float] = {}
    results.update(bench_host(args.repeat))
    results.update(bench_processes(args.processes, args.repeat))
    results.update(bench_scrape(args.series, args.repeat))
    results.update(bench_scoring(feature_counts))
    for name, value in results.items():
        print(f"{name:38} {value:10.3f}")
    print(
        f"summary: host {results['host_base_ms']:.3f} ms (all options {results['host_all_options_ms']:.3f} ms), "
        f"{args.processes} processes {results['processes_steady_poll_ms']:.3f} ms "
        f"(first poll with scan {results['processes_first_poll_with_scan_ms']:.1f} ms), "
        f"{args.series}-series scrape {results['scrape_fetch_and_convert_ms']:.1f} ms "
        f"(convert {results['scrape_convert_ms']:.1f} ms), scoring "
        + ", ".join(f"{n} features {results[f'score_window_{n}_features_ms']:.1f} ms" for n in feature_counts)
    )


if __name__ == "__main__":
    main()
