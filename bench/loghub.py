"""Measure the template miner on the loghub-2k data sets: accuracy and speed.

Every system is mined with ONE configuration: the default ``MinerSettings``
and the default masks, with no per-system regexes. Two header splits are
compared:

- generic: ``strip_header``, the same code for every system, which is what
  tui-monitor does with plain-text logs;
- per-system: the ``Content`` column of the ground truth, which is what the
  published benchmarks get from each data set's own log-format regex.

Grouping accuracy (GA) and parsing accuracy (PA) are computed against the
loghub-2.0 corrected ground truth (14 systems), or with ``--truth
corrected-icse22`` against the ICSE'22 corrections, which add Android and
Windows. The last line of output is
a summary of the headline figures.

Usage:
    python bench/loghub.py [--data DIR] [--truth VARIANT] [--systems Apache,HDFS] [--repeat N]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_monitor.parsing.accuracy import grouping_accuracy, parsing_accuracy  # noqa: E402
from tui_monitor.parsing.header import strip_header  # noqa: E402
from tui_monitor.parsing.templates import MinerSettings, TemplateMiner  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/loghub-2k")


def load_system(data: Path, system: str, truth: str = "loghub-2.0") -> tuple[list[str], list[str], list[str]]:
    """Return the raw lines, the per-system message split and the true templates."""
    raw = (data / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace")
    lines = [line.rstrip("\r") for line in raw.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    truth_file = data / truth / system / f"{system}_2k.log_structured_corrected.csv"
    with truth_file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != len(lines):
        raise SystemExit(f"{system}: {len(lines)} log lines but {len(rows)} ground-truth rows in {truth_file}")
    return lines, [row["Content"] for row in rows], [row["EventTemplate"] for row in rows]


def mine(messages: list[str], settings: MinerSettings) -> tuple[list[int], list[str], float]:
    """Mine ``messages`` in order; return cluster ids, final templates and seconds spent."""
    miner = TemplateMiner(settings)
    started = time.perf_counter()
    ids = [miner.add(message).template_id for message in messages]
    elapsed = time.perf_counter() - started
    # Score the final partition, as the published benchmarks do: templates
    # merged after a line was mined count as one.
    ids = [miner.resolve(i) for i in ids]
    return ids, [miner.template(i) or "" for i in ids], elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="loghub-2k folder (default %(default)s)")
    parser.add_argument("--systems", default="", help="comma-separated systems (default: every loghub-2.0 system)")
    parser.add_argument(
        "--truth",
        choices=["loghub-2.0", "corrected-icse22"],
        default="loghub-2.0",
        help="ground-truth variant (default %(default)s; corrected-icse22 adds Android and Windows)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per system; the median counts (default 3)")
    args = parser.parse_args(argv)

    root = args.data / args.truth
    if not root.is_dir():
        raise SystemExit(f"{str(root)!r} not found: pass the loghub-2k folder with --data DIR")
    systems = [s for s in args.systems.split(",") if s] or sorted(p.name for p in root.iterdir() if p.is_dir())
    settings = MinerSettings()

    print(f"{'system':<12} {'GA gen':>7} {'PA gen':>7} {'GA sys':>7} {'PA sys':>7} {'lines/s':>9} {'split/s':>9}")
    totals: dict[str, list[float]] = {"ga_gen": [], "pa_gen": [], "ga_sys": [], "pa_sys": [], "rate": []}
    all_lines = 0
    all_seconds = 0.0
    split_seconds = 0.0
    for system in systems:
        lines, contents, truth = load_system(args.data, system, args.truth)
        started = time.perf_counter()
        generic = [strip_header(line) for line in lines]
        split_s = time.perf_counter() - started
        split_seconds += split_s

        ids_gen, templates_gen, _ = mine(generic, settings)
        ids_sys, templates_sys, _ = mine(contents, settings)
        timings = [mine(generic, settings)[2] for _ in range(args.repeat)]
        seconds = statistics.median(timings)
        all_lines += len(lines)
        all_seconds += seconds

        row = {
            "ga_gen": grouping_accuracy(truth, ids_gen),
            "pa_gen": parsing_accuracy(truth, templates_gen),
            "ga_sys": grouping_accuracy(truth, ids_sys),
            "pa_sys": parsing_accuracy(truth, templates_sys),
            "rate": len(lines) / seconds,
        }
        for key, value in row.items():
            totals[key].append(value)
        print(
            f"{system:<12} {row['ga_gen']:7.3f} {row['pa_gen']:7.3f} {row['ga_sys']:7.3f} {row['pa_sys']:7.3f}"
            f" {row['rate']:9.0f} {len(lines) / split_s:9.0f}"
        )

    means = {key: statistics.fmean(values) for key, values in totals.items()}
    print(
        f"{'average':<12} {means['ga_gen']:7.3f} {means['pa_gen']:7.3f} {means['ga_sys']:7.3f} {means['pa_sys']:7.3f}"
    )
    print(
        f"summary: {args.truth}, {len(systems)} systems, GA generic {means['ga_gen']:.3f}, GA per-system {means['ga_sys']:.3f}, "
        f"PA generic {means['pa_gen']:.3f}, PA per-system {means['pa_sys']:.3f}, "
        f"miner {all_lines / all_seconds:,.0f} lines/s, header split {all_lines / split_seconds:,.0f} lines/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
