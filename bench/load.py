"""Load the monitor with many busy log files and measure loss, memory and key-press latency.

This process runs the real Textual app (``MonitorApp`` under Textual's
``run_test`` pilot, with the engine on the same event loop) while writer
subprocesses append to ``--files`` log files at ``--lines-per-s`` in total.
Every line is exactly 100 bytes, so the lines written are the files' sizes
divided by 100 at any moment.

Measured:

- loss: lines written against the lines counted in the stored windows, after
  the writers stop and the engine has drained the files;
- backlog: lines written but not yet counted, sampled every second (the
  engine reads at most 1 MiB per file per pass, so a burst waits on disk);
- memory: this process's RSS every second (app, engine and store), and the
  median of the first and of the last minute;
- machine load: the 1-minute load average every second, because other work
  on a shared machine slows the app and the writers alike;
- responsiveness: every ``--keypress-every`` seconds, ``?`` is pressed and
  the time until the help screen is the mounted screen is recorded; then
  ``escape`` closes it. ``--idle-presses`` presses before the writers start
  give the same figure without load.

``--tracemalloc`` traces Python allocations from the writers' start and
prints the source lines whose memory grew most between the end of the
first minute and the end of the writing, to find what RSS growth is made
of. Tracing slows the run, so its other figures are not comparable.

Where RSS grows, the same two moments split it by memory mapping (heap,
anonymous mappings such as malloc's per-thread arenas, mapped files) from
``/proc/self/smaps``. At the end, glibc's ``malloc_trim`` returns free heap
pages, and the RSS before and after separates freed-but-kept memory from
memory still in use. ``--object-counts`` adds the object types, and the
Textual widget types, whose numbers grew.

``--series`` starts a Prometheus text-format endpoint on 127.0.0.1 with that
many counter series, which the engine scrapes every second.

Example:
    python bench/load.py --seconds 300
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import ctypes.util
import gc
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tui_monitor.engine import ObservationMade, Update  # noqa: E402
from tui_monitor.settings import Settings  # noqa: E402
from tui_monitor.sources.prometheus import ScrapeSpec  # noqa: E402
from tui_monitor.store import FeatureStore  # noqa: E402
from tui_monitor.ui import MonitorApp  # noqa: E402
from tui_monitor.ui.help import HelpScreen  # noqa: E402

LINE_BYTES = 100

# Appends fixed-size lines to its files at a total rate, in 20 ms ticks, for a fixed time.
WRITER = """
import os, sys, time
paths, rate, seconds = sys.argv[3:], float(sys.argv[1]), float(sys.argv[2])
fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
tick = 0.02
n = 0
start = time.monotonic()
due = 0.0
while time.monotonic() - start < seconds:
    due += rate * tick
    chunk = []
    while n < int(due):
        n += 1
        level = "ERROR" if n % 50 == 0 else "WARN" if n % 20 == 0 else "INFO"
        text = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {level} app: request {n} served"
        chunk.append(text.ljust(99)[:99] + "\\n")
    for i, fd in enumerate(fds):
        part = "".join(chunk[i::len(fds)])
        if part:
            os.write(fd, part.encode())
    time.sleep(max(0.0, start + (due / rate) - time.monotonic()))
"""


class _Metrics(http.server.BaseHTTPRequestHandler):
    series = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        lines = [f'bench_requests_total{{route="r{i}"}} {int(time.time()) % 1000 + i}' for i in range(self.series)]
        body = ("# TYPE bench_requests_total counter\n" + "\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class LoadRun:
    """The writers, the counters and the samples of one run."""

    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = folder
        self.paths = [folder / f"f{i:02d}.log" for i in range(args.files)]
        for path in self.paths:
            path.touch()
        self.counted = 0
        self.rss_samples: list[tuple[float, int]] = []
        self.load_samples: list[float] = []
        self.backlog_samples: list[int] = []
        self.keypress_ms: list[float] = []
        self.missed_presses = 0
        self.writers: list[subprocess.Popen[bytes]] = []

    def on_update(self, update: Update) -> None:
        if isinstance(update, ObservationMade) and update.observation.stream.startswith("log."):
            self.counted += int(update.observation.counts.get("lines", 0))

    def written(self) -> int:
        return sum(path.stat().st_size for path in self.paths) // LINE_BYTES

    def start_writers(self) -> None:
        count = min(self.args.writers, len(self.paths))
        rate = self.args.lines_per_s / count
        for index in range(count):
            mine = [str(p) for p in self.paths[index::count]]
            command = [sys.executable, "-c", WRITER, str(rate), str(self.args.seconds), *mine]
            self.writers.append(subprocess.Popen(command))

    def stop_writers(self) -> None:
        for writer in self.writers:
            if writer.poll() is None:
                writer.kill()
            writer.wait()

    async def sample_forever(self) -> None:
        process = psutil.Process()
        while True:
            self.rss_samples.append((time.monotonic(), process.memory_info().rss))
            self.load_samples.append(os.getloadavg()[0])
            self.backlog_samples.append(self.written() - self.counted)
            await asyncio.sleep(1.0)

    async def press_help(self, app: MonitorApp, pilot: object, timeout_s: float = 30.0) -> None:
        """Press ``?``, time it until the help screen is mounted, then close it; count a press not shown in ``timeout_s``."""
        started = time.perf_counter()
        await pilot.press("question_mark")  # type: ignore[attr-defined]
        while not (isinstance(app.screen, HelpScreen) and app.screen.is_mounted):
            if time.perf_counter() - started > timeout_s:
                self.missed_presses += 1
                return
            await asyncio.sleep(0.001)
        self.keypress_ms.append((time.perf_counter() - started) * 1000)
        await pilot.press("escape")  # type: ignore[attr-defined]
        closing = time.perf_counter()
        while isinstance(app.screen, HelpScreen) and time.perf_counter() - closing < timeout_s:
            await asyncio.sleep(0.001)


def stored_lines(db: Path) -> int:
    store = FeatureStore(db, readonly=True)
    try:
        total = 0
        for (features,) in store.db.conn.execute("SELECT features FROM windows WHERE stream LIKE 'log.%'"):
            values = json.loads(features)
            total += int(sum(value for name, value in values.items() if name.endswith(".lines")))
        return total
    finally:
        store.close()


async def run(args: argparse.Namespace, folder: Path) -> dict[str, float]:
    load = LoadRun(folder, args)
    settings = Settings(
        db_path=folder / "load.db",
        log_paths=[str(p) for p in load.paths],
        window_s=args.window,
        host_interval_s=min(1.0, args.window),
        plugin_dirs=[],
        is_entry_point_plugins=False,
    )
    server = None
    if args.series:
        _Metrics.series = args.series
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        settings.scrapes = [ScrapeSpec("bench", url, interval_s=1.0, max_series=args.series)]

    store = FeatureStore(settings.db_path)
    app = MonitorApp(settings, store)
    app.engine.subscribe(load.on_update)
    drained_s = float("nan")
    rss_before_trim = rss_after_trim = 0
    idle_ms: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while sum(1 for name, s in app.engine.sources.items() if name.startswith("log.") and s.status == "running") < len(load.paths):
                await asyncio.sleep(0.1)
            # The same key press with no load, for the ratio.
            for _ in range(args.idle_presses):
                await load.press_help(app, pilot)
                await asyncio.sleep(0.5)
            idle_ms = sorted(load.keypress_ms)
            load.keypress_ms.clear()
            sampler = asyncio.create_task(load.sample_forever())
            if args.tracemalloc:
                tracemalloc.start(1)
            snapshot_at_one_minute: tracemalloc.Snapshot | None = None
            mappings_at_one_minute: dict[str, int] = {}
            native_at_one_minute: dict[str, int] = {}
            objects_at_one_minute: collections.Counter[str] = collections.Counter()
            next_count = float("inf")
            load.start_writers()
            started = time.monotonic()
            next_press = started + args.keypress_every
            while any(writer.poll() is None for writer in load.writers):
                if time.monotonic() >= next_press:
                    await load.press_help(app, pilot)
                    next_press += args.keypress_every
                if not mappings_at_one_minute and time.monotonic() - started >= 60.0:
                    mappings_at_one_minute = rss_by_mapping()
                    native_at_one_minute = native_memory()
                    if args.object_counts:
                        objects_at_one_minute = object_counts()
                        next_count = time.monotonic() + 300.0
                if objects_at_one_minute and time.monotonic() >= next_count:
                    print(f"at {time.monotonic() - started:.0f} s:", flush=True)
                    print_object_growth(objects_at_one_minute, object_counts())
                    next_count += 300.0
                    if args.tracemalloc:
                        snapshot_at_one_minute = tracemalloc.take_snapshot()
                await asyncio.sleep(0.05)
            load.stop_writers()
            if snapshot_at_one_minute is not None:
                print_growth(snapshot_at_one_minute, tracemalloc.take_snapshot())
                tracemalloc.stop()
            if mappings_at_one_minute:
                print_mapping_growth(mappings_at_one_minute, rss_by_mapping())
                native_at_end = native_memory()
                if objects_at_one_minute:
                    print_object_growth(objects_at_one_minute, object_counts())
                for name, value in native_at_end.items():
                    earlier = native_at_one_minute.get(name, 0)
                    unit, scale = ("", 1.0) if name == "threads" else (" MB", 1e6)
                    print(f"  {name}: {earlier / scale:.1f}{unit} after the first minute, {value / scale:.1f}{unit} at the end", flush=True)
            writing_s = time.monotonic() - started

            # Drain: everything written is counted, then one more window closes and is stored.
            drain_started = time.monotonic()
            while load.counted < load.written() and time.monotonic() - drain_started < 120:
                await asyncio.sleep(0.1)
            drained_s = time.monotonic() - drain_started
            await asyncio.sleep(args.window + 1.0)
            sampler.cancel()
            rss_before_trim, rss_after_trim = trim_heap()
            await pilot.press("q")
    finally:
        load.stop_writers()
        store.close()
        if server is not None:
            server.shutdown()

    if load.rss_samples:
        first_at = load.rss_samples[0][0]
        by_minute = {int((at - first_at) // 60): rss for at, rss in load.rss_samples}
        print("rss by minute (MB): " + " ".join(f"{rss / 1e6:.0f}" for _, rss in sorted(by_minute.items())))
    written = load.written()
    stored = stored_lines(settings.db_path)
    reader = FeatureStore(settings.db_path, readonly=True)
    prom_windows = reader.windows_since("prom.bench", 0.0)
    reader.close()
    # Each scraped counter series becomes a rate with a mean, a max and a last value.
    scraped_series = max((sum(1 for name in w.features if name.endswith(".last")) for w in prom_windows), default=0)
    rss = [value for _, value in load.rss_samples]
    third = max(1, len(rss) // 3)
    first_minute, last_minute = _first_and_last_minute(load.rss_samples)
    keys = sorted(load.keypress_ms)
    return {
        "seconds": writing_s,
        "lines_written": written,
        "lines_stored": stored,
        "stored_ratio": stored / written if written else 0.0,
        "rate_achieved": written / writing_s if writing_s else 0.0,
        "max_backlog_lines": max(load.backlog_samples, default=0),
        "scraped_series": scraped_series,
        "drain_s": drained_s,
        "rss_first_third_mb": statistics.median(rss[:third]) / 1e6 if rss else 0.0,
        "rss_last_third_mb": statistics.median(rss[-third:]) / 1e6 if rss else 0.0,
        "rss_first_minute_mb": first_minute / 1e6,
        "rss_last_minute_mb": last_minute / 1e6,
        "rss_peak_mb": max(rss) / 1e6 if rss else 0.0,
        "rss_before_malloc_trim_mb": rss_before_trim / 1e6,
        "rss_after_malloc_trim_mb": rss_after_trim / 1e6,
        "load_avg_start": load.load_samples[0] if load.load_samples else float("nan"),
        "load_avg_median": statistics.median(load.load_samples) if load.load_samples else float("nan"),
        "load_avg_max": max(load.load_samples, default=float("nan")),
        "keypresses": len(keys),
        "keypresses_not_shown": load.missed_presses,
        "key_median_ms": statistics.median(keys) if keys else float("nan"),
        "key_p95_ms": keys[min(len(keys) - 1, int(0.95 * len(keys)))] if keys else float("nan"),
        "key_max_ms": keys[-1] if keys else float("nan"),
        "key_idle_median_ms": statistics.median(idle_ms) if idle_ms else float("nan"),
    }


def print_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int = 20) -> None:
    """Print the source lines whose traced memory grew most from ``before`` to ``after``."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"traced Python memory grew by {total / 1e6:.1f} MB from the first minute to the end", flush=True)
    for stat in stats[:top]:
        frame = stat.traceback[0]
        print(f"{stat.size_diff / 1e6:+7.2f} MB {stat.count_diff:+8d} blocks  {frame.filename}:{frame.lineno}", flush=True)


def rss_by_mapping() -> dict[str, int]:
    """Return this process's resident bytes per kind of mapping, from ``/proc/self/smaps`` (empty elsewhere).

    Kinds: ``[heap]``, ``anonymous`` (malloc's thread arenas, large blocks,
    numpy buffers), ``[stack]`` and the like, shared libraries together, and
    other mapped files by name (a SQLite ``-shm`` file, for example).
    """
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        return {}
    totals: dict[str, int] = {}
    kind = "anonymous"
    for line in smaps.read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            path = fields[5] if len(fields) > 5 else ""
            if not path:
                kind = "anonymous"
            elif path.startswith("["):
                kind = path
            elif ".so" in Path(path).name:
                kind = "shared libraries"
            else:
                kind = Path(path).name
        elif fields and fields[0] == "Rss:":
            totals[kind] = totals.get(kind, 0) + int(fields[1]) * 1024
    return totals


def native_memory() -> dict[str, int]:
    """Return memory figures that RSS mappings do not tell apart, in bytes (a figure is left out where unavailable).

    ``pymalloc arenas`` and ``pymalloc blocks in use`` come from
    ``sys._debugmallocstats`` (1 MiB per arena in the CPython 3.11 measured here),
    ``sqlite heap`` from the SQLite library's ``sqlite3_memory_used``, and
    ``threads`` is a count.
    """
    figures = {"threads": threading.active_count()}
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
        capture.seek(0)
        for line in capture.read().decode(errors="replace").splitlines():
            name, _, value = line.partition("=")
            if "# arenas allocated current" in name:
                figures["pymalloc arenas"] = int(value.replace(",", "")) << 20
            elif "# bytes in allocated blocks" in name:
                figures["pymalloc blocks in use"] = int(value.replace(",", ""))
    library = ctypes.util.find_library("sqlite3")
    if library is not None:
        try:
            memory_used = ctypes.CDLL(library).sqlite3_memory_used
            memory_used.restype = ctypes.c_int64
            figures["sqlite heap"] = int(memory_used())
        except (OSError, AttributeError):
            pass
    return figures


def object_counts() -> collections.Counter[str]:
    """Count the objects the garbage collector tracks, by type name (takes about a second, on the event loop).

    Textual widgets and screens are counted again under ``node:<type>``, so
    widgets that pile up show even when their many small parts outnumber them.
    """
    from textual.dom import DOMNode

    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] += 1
        if issubclass(type(obj), DOMNode):  # isinstance() reads __class__, which some stand-in objects raise on
            counts[f"node:{name}"] += 1
    return counts


def print_object_growth(before: collections.Counter[str], after: collections.Counter[str], top: int = 12) -> None:
    """Print the types whose number of tracked objects grew most."""
    growth = after.copy()
    growth.subtract(before)
    print("tracked objects by type, change from the first minute to the end:", flush=True)
    for name, change in growth.most_common(top):
        print(f"  {change:+9d}  {name} (now {after[name]})", flush=True)
    nodes = [(name, change) for name, change in growth.most_common() if name.startswith("node:") and change]
    print("Textual widgets and screens by type, change:", ", ".join(f"{name[5:]} {change:+d}" for name, change in nodes[:top]) or "none", flush=True)


def print_mapping_growth(before: dict[str, int], after: dict[str, int]) -> None:
    """Print how resident memory changed per kind of mapping, largest change first."""
    kinds = sorted(set(before) | set(after), key=lambda k: -abs(after.get(k, 0) - before.get(k, 0)))
    print("RSS change by mapping from the first minute to the end:", flush=True)
    for kind in kinds[:8]:
        print(f"  {(after.get(kind, 0) - before.get(kind, 0)) / 1e6:+7.1f} MB  {kind} (now {after.get(kind, 0) / 1e6:.1f} MB)", flush=True)


def trim_heap() -> tuple[int, int]:
    """Call glibc's ``malloc_trim(0)``; return this process's RSS in bytes before and after (equal without glibc)."""
    process = psutil.Process()
    before = process.memory_info().rss
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        return before, before
    return before, process.memory_info().rss


def _first_and_last_minute(samples: list[tuple[float, int]]) -> tuple[float, float]:
    """Return the median RSS of the first and of the last 60 s of samples (0 when there are none)."""
    if not samples:
        return 0.0, 0.0
    first_at, last_at = samples[0][0], samples[-1][0]
    first = [rss for at, rss in samples if at - first_at < 60.0]
    last = [rss for at, rss in samples if last_at - at < 60.0]
    return float(statistics.median(first)), float(statistics.median(last))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the writers write, in seconds (default: 300)")
    parser.add_argument("--files", type=int, default=20, help="log files written (default: 20)")
    parser.add_argument("--lines-per-s", type=float, default=5000.0, help="lines per second over all files (default: 5000)")
    parser.add_argument("--writers", type=int, default=4, help="writer processes sharing the files (default: 4)")
    parser.add_argument("--window", type=float, default=10.0, help="window in seconds (default: 10)")
    parser.add_argument("--keypress-every", type=float, default=5.0, help="seconds between timed '?' presses (default: 5)")
    parser.add_argument("--idle-presses", type=int, default=5, help="timed '?' presses before the writers start, for comparison (default: 5)")
    parser.add_argument("--tracemalloc", action="store_true", help="print what Python memory grew after the first minute (slows the run)")
    parser.add_argument("--object-counts", action="store_true", help="print which object types grew in number after the first minute")
    parser.add_argument("--series", type=int, default=200, help="Prometheus series served on 127.0.0.1 (default: 200; 0 for none)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tui-monitor-load-") as tmp:
        figures = asyncio.run(run(args, Path(tmp)))
    for name, value in figures.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    print(
        "summary: "
        f"lines_written={figures['lines_written']} lines_stored={figures['lines_stored']} "
        f"stored_ratio={figures['stored_ratio']:.4f} rate={figures['rate_achieved']:.0f}/s "
        f"max_backlog_lines={figures['max_backlog_lines']} scraped_series={figures['scraped_series']} rss_peak_mb={figures['rss_peak_mb']:.0f} "
        f"rss_growth_mb={figures['rss_last_third_mb'] - figures['rss_first_third_mb']:.1f} "
        f"rss_first_minute_mb={figures['rss_first_minute_mb']:.0f} rss_last_minute_mb={figures['rss_last_minute_mb']:.0f} "
        f"key_median_ms={figures['key_median_ms']:.0f} key_p95_ms={figures['key_p95_ms']:.0f} "
        f"key_max_ms={figures['key_max_ms']:.0f} keypresses={figures['keypresses']} "
        f"key_idle_median_ms={figures['key_idle_median_ms']:.0f} "
        f"load_avg_start={figures['load_avg_start']:.2f} load_avg_median={figures['load_avg_median']:.2f} "
        f"load_avg_max={figures['load_avg_max']:.2f} "
        f"rss_before_malloc_trim_mb={figures['rss_before_malloc_trim_mb']:.0f} "
        f"rss_after_malloc_trim_mb={figures['rss_after_malloc_trim_mb']:.0f} keypresses_not_shown={figures['keypresses_not_shown']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
