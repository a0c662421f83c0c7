"""End-to-end log ingest speed: tail, parse, templates, window features, store.

Generates a large mixed-format log: real lines from the loghub-2k corpus,
JSON lines, logfmt, combined access log, Python tracebacks, CRLF endings and
a few invalid UTF-8 bytes. Then runs the real engine on it with a stored
read position at offset 0, so the whole file is read through the same code
path as a restart: every line goes through the log pipeline (format,
multi-line joining, template mining, window features) and is stored in
``log_lines`` with its template id. Reports lines per second of wall time
until every line has been stored and counted in a window, lines per CPU
second (the fair figure on a shared machine), and the resident memory
sampled over the run.

    python bench/ingest.py                   # 200 MB
    python bench/ingest.py --size-mb 1024    # 1 GB
    python bench/ingest.py --profile 30      # where the time goes: top 30 functions by own time

The last line of output is the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import resource
import sys
import tempfile
import time
from itertools import repeat
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_monitor.engine import Engine  # noqa: E402
from tui_monitor.sources.follow import FileFollower  # noqa: E402
from tui_monitor.sources.logfile import _count_levels  # noqa: E402
from tui_monitor.settings import Settings  # noqa: E402
from tui_monitor.sources.positions import FINGERPRINT_BYTES, fingerprint  # noqa: E402
from tui_monitor.store import FeatureStore, LogCheckpoint  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/loghub-2k")
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]


def corpus_lines(data: Path) -> list[bytes]:
    """Return the raw lines of every ``*_2k.log`` file under ``data`` (empty when missing)."""
    lines: list[bytes] = []
    for path in sorted(data.glob("*/*_2k.log")):
        lines.extend(line for line in path.read_bytes().splitlines() if line)
    return lines


def synthetic_line(rng: random.Random, i: int) -> bytes:
    """Return one line in a format the corpus lacks: JSON, logfmt or combined access log."""
    level = rng.choice(LEVELS)
    kind = i % 3
    if kind == 0:
        record = {"ts": 1_700_000_000 + i, "level": level.lower(), "msg": "request handled", "user": i % 977, "ms": rng.random() * 50}
        return json.dumps(record).encode()
    if kind == 1:
        return f'ts=2024-05-01T12:00:{i % 60:02d}Z level={level.lower()} msg="cache miss" key=item:{i % 5003} took={rng.randint(1, 900)}ms'.encode()
    status = rng.choice([200, 200, 200, 304, 404, 500])
    return (
        f'127.0.0.1 - - [01/May/2024:12:00:{i % 60:02d} +0000] "GET /api/items/{i % 8191} HTTP/1.1" '
        f'{status} {rng.randint(100, 9000)} "-" "curl/8.5.0"'
    ).encode()


TRACEBACK = (
    b"2024-05-01 12:00:00,123 ERROR worker: job failed\n"
    b"Traceback (most recent call last):\n"
    b'  File "/srv/app/jobs.py", line 42, in run\n'
    b"    result = handler(payload)\n"
    b"ValueError: invalid literal for int() with base 10: 'x'\n"
)


def generate(path: Path, size_bytes: int, data: Path, seed: int) -> int:
    """Write a mixed-format log of about ``size_bytes`` bytes; return its number of lines."""
    rng = random.Random(seed)
    corpus = corpus_lines(data)
    lines = 0
    written = 0
    i = 0
    with open(path, "wb") as out:
        while written < size_bytes:
            batch: list[bytes] = []
            for _ in range(10_000):
                i += 1
                roll = rng.random()
                if roll < 0.001:
                    batch.append(TRACEBACK)
                    lines += TRACEBACK.count(b"\n")
                    continue
                if corpus and roll < 0.55:
                    line = rng.choice(corpus)
                else:
                    line = synthetic_line(rng, i)
                if roll > 0.999:
                    line += b" \xff\xfe broken bytes"
                batch.append(line + (b"\r\n" if i % 50 == 0 else b"\n"))
                lines += 1
            chunk = b"".join(batch)
            out.write(chunk)
            written += len(chunk)
    return lines


def seed_position(store: FeatureStore, path: Path) -> None:
    """Store a read position at offset 0, as if a previous run had stopped at the start."""
    info = path.stat()
    with open(path, "rb") as f:
        head = f.read(FINGERPRINT_BYTES)
    row = (str(path), info.st_dev, info.st_ino, 0, fingerprint(head), len(head))
    store.save_log_checkpoint(LogCheckpoint(positions=[row]))


async def ingest(path: Path, db: Path, expected_lines: int, window_s: float) -> dict[str, float]:
    """Run the engine until every line is committed; return the measurements."""
    store = FeatureStore(db)
    seed_position(store, path)
    settings = Settings(db_path=db, log_paths=[str(path)], window_s=window_s, host_interval_s=min(1.0, window_s))
    engine = Engine(settings, store)
    process = psutil.Process()
    rss: list[int] = []

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    task = asyncio.create_task(engine.run())
    read_s = None
    progress = (0, time.monotonic())
    while True:
        await asyncio.sleep(0.25)
        rss.append(process.memory_info().rss)
        if engine.ledger.lines_recorded != progress[0]:
            progress = (engine.ledger.lines_recorded, time.monotonic())
        elif read_s is None and time.monotonic() - progress[1] > 60:
            engine.stop()
            await task
            raise RuntimeError(f"no progress for 60 s at {progress[0]:,} of {expected_lines:,} lines; sources: {engine.sources}")
        if read_s is None and engine.ledger.lines_recorded >= expected_lines:
            read_s = time.perf_counter() - started
        if read_s is not None and engine.ledger.pending_entries == 0:
            break
    committed_s = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    engine.stop()
    await task

    committed = store.db.execute(
        "SELECT count(*) FROM log_lines WHERE id <= (SELECT last_line_id FROM log_checkpoints WHERE id = 1)"
    ).fetchone()[0]
    store.close()
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    quarter = max(1, len(rss) // 4)
    return {
        "read_s": read_s or committed_s,
        "committed_s": committed_s,
        "committed_lines": committed,
        "cpu_s": cpu_s,
        "rss_first_quarter_mib": max(rss[:quarter]) / 2**20,
        "rss_last_quarter_mib": max(rss[-quarter:]) / 2**20,
        "rss_peak_mib": max(rss) / 2**20,
        "db_mib": db.stat().st_size / 2**20,
    }


def time_stages(path: Path, db: Path, lines: int) -> dict[str, float]:
    """Time each stage alone on ``path``: tail, level counting, ``log_lines`` insert (lines/s of wall time)."""
    follower = FileFollower(str(path), from_end=False)
    started = time.perf_counter()
    batches: list[list[str]] = []
    while True:
        result = follower.read_lines()
        batches.append(result.lines)
        if not result.has_more:
            break
    follower.close()
    rates = {"tail": lines / (time.perf_counter() - started)}

    started = time.perf_counter()
    for batch in batches:
        _count_levels("log.bench", batch, 0, 0.0)
    rates["levels"] = lines / (time.perf_counter() - started)

    store = FeatureStore(db)
    started = time.perf_counter()
    for batch in batches:
        store.insert_log_lines(zip(repeat("log.bench"), repeat(0.0), batch))
    rates["insert"] = lines / (time.perf_counter() - started)
    store.close()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=200.0, help="size of the generated log in MB (default: 200)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"loghub-2k folder for real lines (default: {DEFAULT_DATA})")
    parser.add_argument("--window", type=float, default=10.0, help="window length in seconds (default: 10)")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the log and the database (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generator (default: 7)")
    parser.add_argument("--stages", action="store_true", help="also time tail, level counting and insert alone (keeps all lines in memory)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="run under cProfile and print the N functions with the most own time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        log, db = Path(folder) / "mixed.log", Path(folder) / "bench.db"
        started = time.perf_counter()
        lines = generate(log, int(args.size_mb * 1e6), args.data, args.seed)
        size_mb = log.stat().st_size / 1e6
        print(f"generated {size_mb:.0f} MB, {lines:,} lines in {time.perf_counter() - started:.1f} s")
        if args.stages:
            rates = time_stages(log, Path(folder) / "stages.db", lines)
            print("stages alone: " + ", ".join(f"{name} {rate:,.0f} lines/s" for name, rate in rates.items()))

        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        result = asyncio.run(ingest(log, db, lines, args.window))
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        if result["committed_lines"] != lines:
            print(f"error: {result['committed_lines']:,} lines committed, expected {lines:,}", file=sys.stderr)
            return 1
        rate = lines / result["read_s"]
        print(f"read and stored: {result['read_s']:.1f} s ({rate:,.0f} lines/s, {size_mb / result['read_s']:.0f} MB/s)")
        print(f"committed by window close: {result['committed_s']:.1f} s; CPU {result['cpu_s']:.1f} s "
              f"({lines / result['cpu_s']:,.0f} lines per CPU second)")
        print(f"RSS max: first quarter {result['rss_first_quarter_mib']:.0f} MiB, last quarter "
              f"{result['rss_last_quarter_mib']:.0f} MiB, peak {result['rss_peak_mib']:.0f} MiB; database {result['db_mib']:.0f} MiB")
        print(
            f"summary: {size_mb:.0f} MB {lines:,} lines, {rate:,.0f} lines/s, "
            f"{lines / result['cpu_s']:,.0f} lines/CPU-s, RSS peak {result['rss_peak_mib']:.0f} MiB "
            f"(first/last quarter {result['rss_first_quarter_mib']:.0f}/{result['rss_last_quarter_mib']:.0f}), no loss"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
