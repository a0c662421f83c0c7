"""Measure the template miner on the loghub-2k data sets: accuracy and speed.

Every system is mined with ONE configuration: the default ``MinerSettings``
and the default masks, with no per-system regexes. Two header splits are
compared:

- generic: ``strip_header``, the same code for every system, which is what
  tui-monitor does with plain-text logs;
- per-system: the ``Content`` column of the ground truth, which is what the
  published benchmarks get from each data set's own log-format regex.

Speed is measured three ways: the miner alone on header-stripped messages
(masking included), the generic header split alone, and the whole
``LogPipeline`` on raw lines as the engine runs it (``tag``: format
detection, parsing, multi-line joining, mining and window counting). The
miner and the pipeline both skip messages and lines of a shape seen before
(see ``shape_key``), so their speed depends on how often shapes repeat:
2,000 lines per system repeat less than a day of the same log.

Grouping accuracy (GA) and parsing accuracy (PA) are computed against the
loghub-2.0 corrected ground truth (14 systems), or with ``--truth
corrected-icse22`` against the ICSE'22 corrections, which add Android and
Windows. The last line of output is
a summary of the headline figures.

Usage:
    python bench/loghub.py [--data DIR] [--truth VARIANT] [--systems Apache,HDFS] [--repeat N] [--ablation]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from drain3.drain import Drain

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_monitor.parsing.accuracy import grouping_accuracy, parsing_accuracy  # noqa: E402
from tui_monitor.parsing.header import strip_header  # noqa: E402
from tui_monitor.parsing.masks import mask_message  # noqa: E402
from tui_monitor.parsing.pipeline import LogPipeline  # noqa: E402
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


def mine_with_drain3(messages: list[str], settings: MinerSettings) -> list[int]:
    """Mine with Drain3's own Drain class and our masks: the unmodified baseline."""
    drain = Drain(sim_th=settings.sim_th, depth=settings.depth, param_str="<*>", parametrize_numeric_tokens=True)
    return [drain.add_log_message(mask_message(message))[0].cluster_id for message in messages]


def ablation(data: Path, systems: list[str], truth_variant: str) -> None:
    """Print the average GA (generic header split) with parts of the miner turned off."""
    variants: dict[str, list[float]] = {"drain3": [], "+masked positions, word rule": [], "+sibling merge (default)": []}
    for system in systems:
        lines, _, truth = load_system(data, system, truth_variant)
        messages = [strip_header(line) for line in lines]
        variants["drain3"].append(grouping_accuracy(truth, mine_with_drain3(messages, MinerSettings())))
        ids, _, _ = mine(messages, MinerSettings(min_word_values=0))
        variants["+masked positions, word rule"].append(grouping_accuracy(truth, ids))
        ids, _, _ = mine(messages, MinerSettings())
        variants["+sibling merge (default)"].append(grouping_accuracy(truth, ids))
    for name, values in variants.items():
        print(f"ablation: {name:<30} average GA {statistics.fmean(values):.3f}")


def run_pipeline(lines: list[str]) -> float:
    """Tag raw lines with a whole LogPipeline in 1,000-line reads, as the engine does; return seconds."""
    pipeline = LogPipeline("log.bench")
    started = time.perf_counter()
    for at in range(0, len(lines), 1000):
        pipeline.tag(lines[at : at + 1000])
    pipeline.window_features()
    return time.perf_counter() - started


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
    parser.add_argument("--ablation", action="store_true", help="also print GA with parts of the miner turned off")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per system; the median counts (default 3)")
    args = parser.parse_args(argv)

    root = args.data / args.truth
    if not root.is_dir():
        raise SystemExit(f"{str(root)!r} not found: pass the loghub-2k folder with --data DIR")
    systems = [s for s in args.systems.split(",") if s] or sorted(p.name for p in root.iterdir() if p.is_dir())
    settings = MinerSettings()

    print(
        f"{'system':<12} {'GA gen':>7} {'PA gen':>7} {'GA sys':>7} {'PA sys':>7}"
        f" {'lines/s':>9} {'split/s':>9} {'pipe/s':>9}"
    )
    totals: dict[str, list[float]] = {"ga_gen": [], "pa_gen": [], "ga_sys": [], "pa_sys": [], "rate": []}
    all_lines = 0
    all_seconds = 0.0
    split_seconds = 0.0
    pipeline_seconds = 0.0
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
        pipe_s = statistics.median(run_pipeline(lines) for _ in range(args.repeat))
        pipeline_seconds += pipe_s

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
            f" {row['rate']:9.0f} {len(lines) / split_s:9.0f} {len(lines) / pipe_s:9.0f}"
        )

    if args.ablation:
        ablation(args.data, systems, args.truth)
    means = {key: statistics.fmean(values) for key, values in totals.items()}
    print(
        f"{'average':<12} {means['ga_gen']:7.3f} {means['pa_gen']:7.3f} {means['ga_sys']:7.3f} {means['pa_sys']:7.3f}"
    )
    print(
        f"summary: {args.truth}, {len(systems)} systems, GA generic {means['ga_gen']:.3f}, GA per-system {means['ga_sys']:.3f}, "
        f"PA generic {means['pa_gen']:.3f}, PA per-system {means['pa_sys']:.3f}, "
        f"miner {all_lines / all_seconds:,.0f} lines/s, header split {all_lines / split_seconds:,.0f} lines/s, "
        f"whole pipeline {all_lines / pipeline_seconds:,.0f} lines/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
