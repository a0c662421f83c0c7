"""Measure the cost of rules on the hot paths: evaluating an event change, and dropping log lines.

Usage:
    python bench/rules_bench.py [--data DIR] [--rules N] [--windows N] [--events N]

Evaluation runs ``--events`` event changes through ``--rules`` rules (mixed
matchers, severity changes, gates) and ``--windows`` daily maintenance windows
in Europe/Sofia. Line dropping filters every ``*_2k.log`` file under
``--data`` (loghub-2k) through five ``drop_lines`` patterns, repeated to about
one million lines. The last line of output is the summary.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from tui_monitor.rules import RuleEvaluator, parse_rule_file
from tui_monitor.store import EventRecord

STREAMS = ["host", "log.app", "log.db", "http.api", "http.web", "proc.nginx"]
FEATURES = ["cpu.total_pct", "mem.used_pct", "disk.write_bytes", "level_error", "latency_ms", "template.12"]


def _rules_text(n_rules: int, n_windows: int) -> str:
    lines = ["rules:"]
    for i in range(n_rules):
        stream = random.choice(["host", "log.*", "http.*", "proc.*"])
        feature = random.choice(["cpu.*", "disk.*", "*error*", "latency*"])
        action = random.choice(["suppress: true", "severity: critical", "raise: 1", "tags: [oncall]", "persistence: {windows: 3, of: 5}", "dedup: 30m"])
        lines.append(f"  - {{name: r{i}, match: {{stream: '{stream}', feature: '{feature}', score: {{min: 0.99}}}}, {action}}}")
    lines.append("maintenance:")
    for i in range(n_windows):
        hour = i % 24
        lines.append(f"  - {{name: w{i}, timezone: Europe/Sofia, daily: {{start: '{hour:02d}:00', end: '{hour:02d}:20'}}, match: {{stream: 'log.db'}}}}")
    return "\n".join(lines) + "\n"


def bench_evaluate(n_rules: int, n_windows: int, n_events: int) -> float:
    """Return the median microseconds per evaluated event change."""
    ruleset = parse_rule_file(Path("bench.yaml"), text=_rules_text(n_rules, n_windows))
    assert not ruleset.errors, ruleset.errors
    evaluator = RuleEvaluator(ruleset)
    events = [
        EventRecord(
            random.choice(STREAMS), 1_780_000_000.0 + i * 10, 1_780_000_010.0 + i * 10, random.uniform(0.98, 1.0), 0.9, "major",
            top_features=[{"name": name, "value": 1.0, "median": 0.0, "z": 5.0} for name in random.sample(FEATURES, 3)],
        )  # fmt: skip
        for i in range(n_events)
    ]
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for event in events:
            evaluator.evaluate(event, "opened", event.window_end)
            evaluator.evaluate(event, "resolved", event.window_end + 10)
        runs.append((time.perf_counter() - started) / (2 * len(events)) * 1e6)
    return statistics.median(runs)


def bench_drop_lines(data: Path) -> tuple[float, int, float]:
    """Return (lines per second, lines read, share dropped) for five drop patterns."""
    ruleset = parse_rule_file(
        Path("drop.yaml"),
        text=(
            "drop_lines:\n"
            "  - {pattern: 'workerEnv\\.init\\(\\) ok'}\n"
            "  - {pattern: 'Receiving block .* src: /10\\.'}\n"
            "  - {stream: 'log.access', pattern: 'GET /health'}\n"
            "  - {pattern: 'DEBUG .*heartbeat'}\n"
            "  - {pattern: '(?i)connection reset by peer'}\n"
        ),
    )
    lines: list[str] = []
    for path in sorted(data.glob("*/*_2k.log")):
        lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    lines = lines * max(1, 1_000_000 // max(1, len(lines)))
    started = time.perf_counter()
    kept = 0
    for offset in range(0, len(lines), 1000):
        kept += len(ruleset.filter_lines("log.app", lines[offset : offset + 1000]))
    elapsed = time.perf_counter() - started
    return len(lines) / elapsed, len(lines), 1 - kept / len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/loghub-2k"), help="loghub-2k folder")
    parser.add_argument("--rules", type=int, default=50, help="number of rules (default: 50)")
    parser.add_argument("--windows", type=int, default=10, help="number of maintenance windows (default: 10)")
    parser.add_argument("--events", type=int, default=2000, help="number of events (default: 2000)")
    args = parser.parse_args()
    random.seed(7)

    per_event_us = bench_evaluate(args.rules, args.windows, args.events)
    print(f"evaluate: {per_event_us:.1f} us per event change ({args.rules} rules, {args.windows} windows)")
    rate, count, dropped = bench_drop_lines(args.data)
    print(f"drop_lines: {rate / 1e6:.2f} M lines/s over {count} lines, {dropped:.1%} dropped")
    print(f"summary: evaluate {per_event_us:.1f} us/change; drop_lines {rate / 1e6:.2f} M lines/s")


if __name__ == "__main__":
    main()
